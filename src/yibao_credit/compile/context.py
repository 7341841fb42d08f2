"""What every per-concept compiler shares: the pack, its problems, locations and scopes.

Problems are collected, not raised, so one load reports every broken line of the pack; each
concept's compiler records its problems here and the pipeline raises them together.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from pydantic import BaseModel

from yibao_credit.compile.expressions import Expr, TypeInfo, parse_expr
from yibao_credit.compile.plan import StepSpec
from yibao_credit.errors import Location, PackError, Problem
from yibao_credit.pack.schema import ClauseRef, PackModel, Provenance, Text, reading
from yibao_credit.pack.sourcemap import PathKey, YamlDocument
from yibao_credit.records.contract import (
    CORE_EVENT_KINDS,
    EVENT_FIELDS,
    SUBJECT_FIELDS,
    AttributeSpec,
    EventKind,
)
from yibao_credit.time.periods import PERIOD_RE_TEXT


def declared_kinds(model: PackModel) -> dict[str, EventKind]:
    """The core event kinds plus those the pack declares, with their typed attributes."""
    kinds = dict(CORE_EVENT_KINDS)
    for name, decl in model.event_kinds.items():
        if name in CORE_EVENT_KINDS:
            continue
        kinds[name] = EventKind(
            name,
            {
                a: AttributeSpec(
                    d.type, d.required, d.default, tuple(d.choices) if d.choices else None
                )
                for a, d in decl.attributes.items()
            },
            decl.title.zh,
            decl.title.en or decl.title.zh,
        )
    return kinds


def subject_attribute_specs(model: PackModel) -> dict[str, AttributeSpec]:
    """The subject attributes the pack declares, typed as the record checks read them."""
    return {
        name: AttributeSpec(d.type, d.required, d.default, tuple(d.choices) if d.choices else None)
        for name, d in model.subject_attributes.items()
    }


class CompileContext:
    """The pack being compiled, the problems found so far, and the scopes expressions see."""

    def __init__(self, model: PackModel, doc: YamlDocument) -> None:
        self.model = model
        self.doc = doc
        self.problems: list[Problem] = []
        self.sources = {s.id: s for s in model.pack.sources}
        self.primary = model.pack.sources[0]
        self.kinds: dict[str, EventKind] = declared_kinds(model)
        for name in model.event_kinds:
            if name in CORE_EVENT_KINDS:
                self.error(("event_kinds", name), f"{name!r} is a core event kind already")
        self.param_types: dict[str, TypeInfo] = {
            name: TypeInfo("str" if param.type == "period" else param.type)
            for name, param in model.parameters.items()
        }
        self.subject_fields: dict[str, str] = dict(SUBJECT_FIELDS)
        for name, attr in model.subject_attributes.items():
            if name in SUBJECT_FIELDS:
                self.error(("subject_attributes", name), f"{name!r} is a contract field already")
            self.subject_fields[name] = attr.type

    # -- problems --------------------------------------------------------------------------
    def error(self, path: PathKey, message: str, code: str = "pack.invalid") -> None:
        self.problems.append(Problem(code, message, self.doc.locate(path)))

    def loc(self, path: PathKey) -> Location:
        return self.doc.locate(path)

    def raise_problems(self) -> None:
        if self.problems:
            raise PackError(self.problems)

    def try_expr(
        self, text: str, scope: Mapping[str, TypeInfo], path: PathKey, **kw: Any
    ) -> Expr | None:
        """Check an expression; on failure record its problems and give None, so that one
        pass reports every broken expression of the pack."""
        try:
            return self.parse_expr(text, scope, path, **kw)
        except PackError as exc:
            self.problems.extend(exc.problems)
            return None

    def parse_expr(
        self, text: str, scope: Mapping[str, TypeInfo], path: PathKey, **kw: Any
    ) -> Expr:
        """Check an expression of the pack, with errors located at its line and column."""
        return parse_expr(text, scope, self.loc(path), position=self.doc.text_position(path), **kw)

    # -- provenance ------------------------------------------------------------------------
    def cite(self, clause: str | ClauseRef | None, path: PathKey) -> str | None:
        if clause is None:
            return None
        if isinstance(clause, ClauseRef):
            source = self.sources.get(clause.source)
            if source is None:
                known = ", ".join(self.sources)
                self.error(
                    (*path, "clause", "source"),
                    f"unknown source {clause.source!r}; the pack lists: {known}",
                )
                return clause.ref
            return f"{source.number} {clause.ref}"
        return f"{self.primary.number} {clause}"

    def step(
        self,
        id: str,
        kind: str,
        title: Text,
        prov: Provenance | None,
        path: PathKey,
        expr: Expr | None = None,
        clause: str | ClauseRef | None = None,
        note: str | Text | None = None,
    ) -> StepSpec:
        cited = prov.clause if prov else clause
        return StepSpec(
            id=id,
            kind=kind,
            title=title,
            clause=self.cite(cited, path),
            provisional=reading(prov.provisional) if prov else None,
            note=reading((prov.note if prov else None) or note),
            expr=expr.text if expr else None,
            reads=expr.names if expr else (),
            clause_kind=cited.kind if isinstance(cited, ClauseRef) else "article",
        )

    # -- scopes ----------------------------------------------------------------------------
    def event_scope(self, kinds: frozenset[str] | None) -> dict[str, TypeInfo]:
        """Names an event filter may read: the event's fields, the attributes of the kinds
        it admits, parameters and ``as_of``."""
        scope: dict[str, TypeInfo] = {n: TypeInfo(t) for n, t in EVENT_FIELDS.items()}
        scope["kind"] = TypeInfo("str", choices=frozenset(self.kinds))
        chosen = [self.kinds[k] for k in sorted(kinds)] if kinds else list(self.kinds.values())
        attrs: dict[str, list[AttributeSpec]] = {}
        for kind in chosen:
            for name, spec in kind.attributes.items():
                attrs.setdefault(name, []).append(spec)
        for name, specs in attrs.items():
            scope[name] = _attribute_type(name, specs, chosen, kinds is not None)
        scope.update(self.param_types)
        scope["as_of"] = TypeInfo("date")
        return scope

    def subject_scope(
        self, required: Iterable[str], categories: Iterable[str] | None = None
    ) -> dict[str, TypeInfo]:
        """Names a subject condition may read: its fields, parameters and ``as_of``."""
        req = set(required) | {"id", "type"}
        scope = {n: TypeInfo(t, optional=n not in req) for n, t in self.subject_fields.items()}
        if categories is not None:
            scope["category"] = replace(scope["category"], choices=frozenset(categories))
        for name, decl in self.model.subject_attributes.items():
            if decl.choices:
                scope[name] = replace(scope[name], choices=frozenset(decl.choices))
            if decl.required or decl.default is not None:
                scope[name] = replace(scope[name], optional=False)
        scope.update(self.param_types)
        scope["as_of"] = TypeInfo("date")
        return scope

    def categories(self) -> set[str]:
        """Every category some ruleset grades: the values a rule may compare ``category`` to."""
        cats = {"hospital", "clinic", "pharmacy", "pharmacy_chain"}
        for rs in self.model.rulesets.values():
            cats |= set(rs.applies_to.categories or ())
        return cats

    def unknown_grade(self, path: PathKey, grade: str, grades: Iterable[str]) -> None:
        self.error(path, f"unknown grade {grade!r}; grades are {', '.join(grades)}")


def _attribute_type(
    name: str, specs: list[AttributeSpec], chosen: list[EventKind], narrowed: bool
) -> TypeInfo:
    """One attribute's type across the event kinds a filter admits."""
    types = {s.type for s in specs}
    if len(types) > 1 and not types <= {"int", "number"}:
        owners = ", ".join(
            f"{spec.type} for {k.name}"
            for k in chosen
            for a, spec in k.attributes.items()
            if a == name
        )
        return TypeInfo(
            "conflict",
            element=f"{name!r} has a different type for each event kind ({owners}): "
            f"narrow the filter with kind == '...' first",
        )
    present = (
        narrowed
        and len(specs) == len(chosen)
        and all(s.required or s.default is not None for s in specs)
    )
    choices: set[str] | None = set()
    for s in specs:
        if s.choices is None or choices is None:
            choices = None
        else:
            choices |= set(s.choices)
    return TypeInfo(
        types.pop() if len(types) == 1 else "number",
        optional=not present,
        choices=frozenset(choices) if choices else None,
    )


def any_provisional(node: Any) -> bool:
    """Whether a part of a pack (a ruleset, say) holds any provisional rule or value."""
    if isinstance(node, Provenance) and node.provisional:
        return True
    if isinstance(node, BaseModel):
        return any(any_provisional(getattr(node, f)) for f in type(node).model_fields)
    if isinstance(node, dict):
        return any(any_provisional(v) for v in node.values())
    if isinstance(node, list):
        return any(any_provisional(v) for v in node)
    return False


def is_period(text: str) -> bool:
    return re.fullmatch(PERIOD_RE_TEXT, text.strip()) is not None


def value_fits(kind: str, value: Any) -> bool:
    """Whether a parameter value is of the parameter's declared type."""
    if kind == "period":
        return isinstance(value, str) and is_period(value)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "date":
        return isinstance(value, dt.date)
    return isinstance(value, str)
