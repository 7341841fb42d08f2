"""An audit pack, read and checked: every rule fits its logic type before anything runs.

``load_audit_pack`` reads ``audit.yaml`` (the schema: ``audit.schema``), then checks each rule
against its logic type (``audit.logic``): the span, the scenarios, the parameters (present,
known, typed, within bounds), the knowledge table (declared, with the columns the logic
reads, each of the right type) and what the rule needs from the run (institutions, stock).
Then each knowledge table is read and checked (``audit.knowledge``). Every problem is
located in the pack or in the table, all of them in one ``PackError``.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from yibao_credit.audit import schema as audit_schema
from yibao_credit.audit.knowledge import Knowledge, read_knowledge
from yibao_credit.audit.logic import LOGIC_TYPES, LogicType, ParamSpec, RuleSql
from yibao_credit.audit.schema import AuditPackModel, AuditRule
from yibao_credit.errors import PackError, Problem
from yibao_credit.pack import schema as pack_schema
from yibao_credit.pack.bundled import policies_dir
from yibao_credit.pack.load import ProvisionalValue, provisional_values, schema_problems
from yibao_credit.pack.sourcemap import YamlDocument, read_yaml

PACK_FILE = "audit.yaml"


@dataclass(frozen=True)
class CompiledRule:
    """A rule with its logic type and checked parameters: ready to be written as SQL."""

    rule: AuditRule
    logic: LogicType
    params: dict[str, Any]
    knowledge: Knowledge | None
    order: int

    def sql(self) -> RuleSql:
        table = None if self.knowledge is None else knowledge_table(self.knowledge.name)
        return RuleSql(self.rule, self.params, table)

    @property
    def needs(self) -> frozenset[str]:
        needs = set(self.logic.needs)
        scope = self.rule.scope
        if scope.institution_categories is not None or scope.institution_levels is not None:
            needs.add("subjects")
        return frozenset(needs)


@dataclass(frozen=True)
class AuditPack:
    """A loaded audit pack."""

    model: AuditPackModel
    doc: YamlDocument
    folder: Path
    rules: tuple[CompiledRule, ...]
    knowledge: dict[str, Knowledge]
    sha256: str
    """Of ``audit.yaml`` and every knowledge table, in name order: what the hits cite."""

    @property
    def id(self) -> str:
        return self.model.audit.id

    @property
    def version(self) -> str:
        return self.model.audit.version

    def rule(self, rule_id: str) -> CompiledRule:
        return next(r for r in self.rules if r.rule.id == rule_id)

    def provisional(self) -> list[ProvisionalValue]:
        """Every value, rule or table of the pack no published text sets."""
        return provisional_values(self.model, self.doc)  # type: ignore[arg-type]

    def level_name(self, rank: int) -> str:
        """The level a rank stands for (the first so ranked, in the pack's order)."""
        for name, r in (self.model.levels or {}).items():
            if r == rank:
                return name
        return str(rank)


def knowledge_table(name: str) -> str:
    """The table a knowledge table is in during a run."""
    return f"_k_{name}"


def _vocabulary() -> list[str]:
    names: set[str] = set()
    for module in (audit_schema, pack_schema):
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, BaseModel):
                for fname, f in obj.model_fields.items():
                    names.add(f.alias or fname)
    return sorted(names)


def audit_pack_file(name: str | Path) -> Path | None:
    """The ``audit.yaml`` that ``name`` names — a folder holding one, the file itself, or a
    bundled audit pack's id — or None when ``name`` is not an audit pack."""
    path = Path(name)
    if path.is_dir():
        return path / PACK_FILE if (path / PACK_FILE).is_file() else None
    if path.name == PACK_FILE:
        return path
    root = policies_dir()
    if not path.exists() and root is not None and (root / str(name) / PACK_FILE).is_file():
        return root / str(name) / PACK_FILE
    return None


def resolve_audit_pack(name: str | Path) -> Path:
    """A folder, its ``audit.yaml``, or the id of a bundled audit pack (``huzhou_audit``)."""
    path = Path(name)
    if path.is_dir():
        return path / PACK_FILE
    if path.exists():
        return path
    root = policies_dir()
    if root is not None and (root / str(name) / PACK_FILE).is_file():
        return root / str(name) / PACK_FILE
    known = sorted(p.parent.name for p in root.glob(f"*/{PACK_FILE}")) if root else []
    close = difflib.get_close_matches(str(name), known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise PackError(
        Problem(
            "audit.pack.unknown",
            f"{str(name)!r} is neither an audit pack folder, its {PACK_FILE}, nor a bundled "
            f"audit pack{hint}; bundled: {', '.join(known) or 'none'}",
        )
    )


def _typed(value: Any, spec: ParamSpec) -> tuple[Any, str | None]:
    if spec.type == "bool":
        return (value, None) if isinstance(value, bool) else (None, "is true or false")
    if spec.type == "enum":
        if value not in spec.choices:
            return None, f"is one of {', '.join(spec.choices)}, not {value!r}"
        return value, None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None, f"is a {'whole ' if spec.type == 'int' else ''}number, not {value!r}"
    if spec.type == "int":
        if not isinstance(value, int):
            return None, f"is a whole number, not {value!r}"
        typed: Any = value
    else:
        try:
            typed = Decimal(str(value))
        except ArithmeticError:
            return None, f"is a number, not {value!r}"
        if not typed.is_finite() or int(typed.as_tuple().exponent) < -4:
            return None, f"is a number with at most four decimals, not {value!r}"
    if spec.min is not None and typed < spec.min:
        return None, f"must be at least {spec.min}, got {value}"
    return typed, None


def _gloss(name: str, spec: ParamSpec) -> str:
    """What a parameter means, after its name, unless the name says it already."""
    return "" if spec.en == name else f" ({spec.en})"


def _rule_problems(
    rule: AuditRule, i: int, model: AuditPackModel, doc: YamlDocument
) -> tuple[LogicType | None, dict[str, Any], list[Problem]]:
    at = ("rules", i)
    problems: list[Problem] = []
    logic = LOGIC_TYPES.get(rule.logic)
    if logic is None:
        close = difflib.get_close_matches(rule.logic, list(LOGIC_TYPES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        message = f"unknown logic type {rule.logic!r}{hint}; known: {', '.join(LOGIC_TYPES)}"
        return None, {}, [Problem("audit.rule.logic", message, doc.locate((*at, "logic")))]
    if rule.span not in logic.spans:
        problems.append(
            Problem(
                "audit.rule.span",
                f"a {logic.name} rule takes the span {' or '.join(logic.spans)}, not {rule.span!r}",
                doc.locate((*at, "span")),
            )
        )
    if rule.span == "stay" and rule.scope.settings != ["inpatient"]:
        problems.append(
            Problem(
                "audit.rule.settings",
                "the span stay (当次住院) is for inpatient claims: settings: [inpatient]",
                doc.locate((*at, "scope", "settings")),
            )
        )
    for j, setting in enumerate(rule.scope.settings):
        if setting not in logic.settings:
            problems.append(
                Problem(
                    "audit.rule.settings",
                    f"a {logic.name} rule applies to {', '.join(logic.settings)} claims, "
                    f"not {setting}",
                    doc.locate((*at, "scope", "settings", j)),
                )
            )
    levels = rule.scope.institution_levels
    if levels is not None:
        for j, level in enumerate(levels):
            if model.levels is not None and level not in model.levels:
                problems.append(
                    Problem(
                        "audit.rule.level",
                        f"level {level!r} is not among the pack's levels "
                        f"({', '.join(model.levels)})",
                        doc.locate((*at, "scope", "institution_levels", j)),
                    )
                )
    if logic.name == "level_limited" and not model.levels:
        problems.append(
            Problem(
                "audit.levels-missing",
                "a level_limited rule needs the pack's levels: (each subject level and its rank)",
                doc.locate((*at, "logic")),
            )
        )
    params: dict[str, Any] = {}
    for name, spec in logic.parameters.items():
        if name not in rule.parameters:
            problems.append(
                Problem(
                    "audit.rule.parameter-missing",
                    f"a {logic.name} rule needs the parameter {name!r}"
                    f"{_gloss(name, spec)}, with its clause or provisional",
                    doc.locate((*at, "parameters") if rule.parameters else at),
                )
            )
            continue
        value, why = _typed(rule.parameters[name].value, spec)
        if why is not None:
            problems.append(
                Problem(
                    "audit.rule.parameter",
                    f"{name}{_gloss(name, spec)} {why}",
                    doc.locate((*at, "parameters", name, "value")),
                )
            )
        params[name] = value
    for name in rule.parameters:
        if name not in logic.parameters:
            close = difflib.get_close_matches(name, list(logic.parameters), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            takes = ", ".join(logic.parameters) or "none"
            problems.append(
                Problem(
                    "audit.rule.parameter-unknown",
                    f"a {logic.name} rule takes no parameter {name!r}{hint}; it takes: {takes}",
                    doc.locate((*at, "parameters", name), key=True),
                )
            )
    problems += _knowledge_problems(rule, logic, model, doc, at)
    return logic, params, problems


def _knowledge_problems(
    rule: AuditRule,
    logic: LogicType,
    model: AuditPackModel,
    doc: YamlDocument,
    at: tuple[str | int, ...],
) -> list[Problem]:
    if rule.knowledge is None:
        if logic.table == "required":
            cols = ", ".join(f"{c} ({t})" for c, t in logic.columns.items())
            return [
                Problem(
                    "audit.rule.knowledge-missing",
                    f"a {logic.name} rule reads a knowledge table with the columns {cols}: "
                    "name it in knowledge:",
                    doc.locate(at),
                )
            ]
        return []
    where = doc.locate((*at, "knowledge"))
    if logic.table == "none":
        return [
            Problem(
                "audit.rule.knowledge-unused",
                f"a {logic.name} rule reads no knowledge table",
                where,
            )
        ]
    table = model.knowledge.get(rule.knowledge)
    if table is None:
        close = difflib.get_close_matches(rule.knowledge, list(model.knowledge), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return [
            Problem(
                "audit.rule.knowledge-unknown",
                f"no knowledge table {rule.knowledge!r}{hint}; the pack declares: "
                f"{', '.join(model.knowledge) or 'none'}",
                where,
            )
        ]
    problems = []
    for col, kind in logic.columns.items():
        spec = table.columns.get(col)
        if spec is None:
            problems.append(
                Problem(
                    "audit.rule.knowledge-columns",
                    f"a {logic.name} rule reads the column {col!r} ({kind}), which knowledge "
                    f"table {rule.knowledge!r} does not declare",
                    where,
                )
            )
        elif spec.type != kind and not (kind == "enum" and spec.type == "enum"):
            problems.append(
                Problem(
                    "audit.rule.knowledge-columns",
                    f"a {logic.name} rule reads {col!r} as {kind}; knowledge table "
                    f"{rule.knowledge!r} declares it {spec.type}",
                    where,
                )
            )
    if logic.name == "sex_limited" and "sex" in table.columns:
        choices = table.columns["sex"].choices or []
        if not set(choices) <= {"M", "F"} or not choices:
            problems.append(
                Problem(
                    "audit.rule.knowledge-columns",
                    "the sex column of a sex_limited table has the choices M, F (the claims "
                    "contract's values)",
                    where,
                )
            )
    return problems


def _table_problems(name: str, doc: YamlDocument, model: AuditPackModel) -> list[Problem]:
    table = model.knowledge[name]
    problems = []
    for j, key in enumerate(table.key):
        if key not in table.columns:
            problems.append(
                Problem(
                    "audit.knowledge.key",
                    f"key column {key!r} is not among the table's columns",
                    doc.locate(("knowledge", name, "key", j)),
                )
            )
    for col, spec in table.columns.items():
        if (spec.type == "enum") != (spec.choices is not None):
            problems.append(
                Problem(
                    "audit.knowledge.choices",
                    "an enum column needs choices; only an enum column takes them",
                    doc.locate(("knowledge", name, "columns", col)),
                )
            )
    return problems


def load_audit_pack(path: str | Path) -> AuditPack:
    """The audit pack at ``path`` (a folder, its audit.yaml, or a bundled id), checked."""
    file = resolve_audit_pack(path)
    doc, raw = read_yaml(file)
    if not isinstance(doc.data, dict):
        raise PackError(
            Problem("pack.schema", "an audit pack is a mapping (audit:, rules:, …)", doc.locate(()))
        )
    try:
        model = AuditPackModel.model_validate(doc.data)
    except ValidationError as exc:
        raise PackError(schema_problems(exc, doc, _vocabulary())) from None
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    compiled: list[tuple[AuditRule, LogicType, dict[str, Any], int]] = []
    for i, rule in enumerate(model.rules):
        if rule.id in seen:
            problems.append(
                Problem(
                    "audit.rule.duplicate-id",
                    f"rule id {rule.id!r} is used twice (first as rule {seen[rule.id] + 1})",
                    doc.locate(("rules", i, "id")),
                )
            )
        seen.setdefault(rule.id, i)
        logic, params, found = _rule_problems(rule, i, model, doc)
        problems += found
        if logic is not None:
            compiled.append((rule, logic, params, i))
    knowledge: dict[str, Knowledge] = {}
    for name, table in model.knowledge.items():
        found = _table_problems(name, doc, model)
        if not found:
            read, found = read_knowledge(
                name, table, file.parent, doc.locate(("knowledge", name, "file"))
            )
            if read is not None:
                knowledge[name] = read
        problems += found
    if problems:
        raise PackError(problems)
    digest = hashlib.sha256(raw)
    for name in sorted(knowledge):
        digest.update(b"\0" + name.encode() + b"\0" + knowledge[name].raw)
    rules = tuple(
        CompiledRule(rule, logic, params, knowledge.get(rule.knowledge or ""), i)
        for rule, logic, params, i in compiled
    )
    return AuditPack(model, doc, file.parent, rules, knowledge, digest.hexdigest())
