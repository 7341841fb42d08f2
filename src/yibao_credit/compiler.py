"""Compile a validated pack into fast, checked evaluation functions — once, at load time.

Every name in every expression is resolved against a typed scope, every reference (window,
fact, grade label, parameter, event kind) is checked, and problems are collected with their
line in the pack. Each ruleset is then turned into one generated Python function that computes
all of its facts, exclusions and criteria for a subject in a single call, reading events from a
per-subject index by kind. The generated source is kept (``CompiledRuleset.source``) so a
reviewer can read exactly what runs.
"""

from __future__ import annotations

import ast
import datetime as dt
import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from .calendar import YearArrangement
from .errors import Location, PackError, Problem
from .expressions import (
    FUNCTION_IMPLS,
    PERIOD_RE_TEXT,
    Expr,
    TypeInfo,
    kind_constraint,
    node_to_python,
    not_none_names,
    parse_expr,
    parse_period,
    peek_kinds,
)
from .intervals import IntInterval, RealInterval, int_overlaps, real_coverage
from .pack_schema import (
    ClauseRef,
    CriteriaGrading,
    HistoryFact,
    PackModel,
    Provenance,
    Rollup,
    Ruleset,
    ScoreGrading,
    Text,
    Window,
)
from .records import (
    CORE_EVENT_KINDS,
    EVENT_FIELDS,
    SUBJECT_FIELDS,
    AttributeSpec,
    Event,
    EventKind,
    Subject,
)
from .sourcemap import PathKey, YamlDocument

STATUS_CHOICES = frozenset({"graded", "excluded"})


@dataclass(frozen=True, eq=False)
class StepSpec:
    """The fixed part of a trace step: what it is, where it comes from, what it reads.

    Compared and hashed by identity: each step of a compiled pack is one object.
    """

    id: str
    kind: str  # window, fact, exclusion, criterion, grade, rollup
    title: Text
    clause: str | None
    provisional: str | None = None
    note: str | None = None
    expr: str | None = None
    reads: tuple[str, ...] = ()
    fixed_inputs: tuple[tuple[str, Any], ...] = ()
    """Inputs that are the same for every subject (an event fact's window, op and filter)."""


@dataclass(frozen=True)
class CompiledFact:
    name: str
    op: str
    window: str | None
    slot: int
    evidence_slot: int | None
    step: StepSpec


@dataclass(frozen=True)
class CompiledCheck:
    """An exclusion or a criterion: a condition with its slot in the values tuple."""

    id: str
    slot: int
    step: StepSpec


@dataclass(frozen=True)
class CompiledRule:
    grade: str
    mode: str  # any | all
    criteria: tuple[CompiledCheck, ...]
    step: StepSpec


@dataclass(frozen=True)
class CompiledCap:
    interval: IntInterval
    cap: str
    step: StepSpec


@dataclass(frozen=True)
class CompiledRollup:
    id: str
    head: str
    step: StepSpec
    members: Callable[[dt.date, Mapping[str, Any]], Callable[[Subject], bool]]
    counts: Callable[
        [dt.date, Mapping[str, Any]], Callable[[Subject, str | None, str, str | None], bool]
    ]
    caps: tuple[CompiledCap, ...]
    members_expr: str
    counts_expr: str


@dataclass(frozen=True)
class CompiledMeasure:
    id: str
    title: Text
    params: Mapping[str, Any]
    step: StepSpec
    when: Callable[[dt.date, Mapping[str, Any]], Callable[..., bool]] | None = None
    """A condition over (subject, grade, rank, history values); None: the grade suffices."""


@dataclass(frozen=True)
class CompiledProcedure:
    id: str
    trigger: str
    days: int
    unit: str
    step: StepSpec
    """The deadline (outcome: its date)."""
    outcome_step: StepSpec
    """What happened in time: ``lifecycle.objection`` (was it in time) after a notification
    window, ``lifecycle.decision`` (upheld or corrected) after a review window."""


@dataclass(frozen=True)
class CompiledItem:
    id: str
    category: str
    slot: int
    step: StepSpec
    per: str | None
    points: float | None
    cap: float | None
    reads: tuple[str, ...]
    monitoring: bool = False


@dataclass(frozen=True)
class CompiledCategory:
    id: str
    slot: int
    step: StepSpec
    base: float
    cap: float | None
    min: float | None
    max: float | None
    weight: float
    items: tuple[CompiledItem, ...]


@dataclass(frozen=True)
class CompiledBand:
    interval: RealInterval
    grade: str
    step: StepSpec


@dataclass(frozen=True)
class CompiledScore:
    """A score grading: items, categories, the total, vetoes and bands, with their slots."""

    categories: tuple[CompiledCategory, ...]
    total_slot: int
    step: StepSpec
    base: float
    floor: float | None
    ceiling: float | None
    precision: int
    vetoes: tuple[CompiledCheck, ...]
    veto_grades: tuple[str, ...]
    bands: tuple[CompiledBand, ...]


@dataclass(frozen=True)
class CompiledGroup:
    id: str
    title: Text
    params: Mapping[str, Any]
    step: StepSpec
    when: Callable[[dt.date, Mapping[str, Any]], Callable[[Subject], bool]]


@dataclass(frozen=True)
class CompiledAllocation:
    weight: Callable[[dt.date, Mapping[str, Any]], Callable[..., float]]
    excluded: str
    step: StepSpec


@dataclass(frozen=True)
class CompiledHistoryFact:
    name: str
    fact: HistoryFact
    step: StepSpec


@dataclass(eq=False)
class CompiledRuleset:
    """One subject type's rules, ready to run."""

    id: str
    title: Text
    type: str
    categories: frozenset[str] | None
    required: tuple[str, ...]
    windows: tuple[str, ...]
    facts: tuple[CompiledFact, ...]
    exclusions: tuple[CompiledCheck, ...]
    rules: tuple[CompiledRule, ...]
    default: StepSpec
    default_grade: str
    grades: tuple[str, ...]
    grade_titles: Mapping[str, Text]
    rollups: tuple[CompiledRollup, ...]
    measures: Mapping[str, tuple[CompiledMeasure, ...]]
    kinds_read: frozenset[str] | None
    """Event kinds any rule reads; None when some rule reads events of every kind."""
    source: str
    make: Callable[..., Callable[[Subject, list[Event], Mapping[str, Any]], tuple[Any, ...]]]
    param_names: tuple[str, ...]
    slots: int = 0
    rank: Mapping[str, int] = field(default_factory=dict)
    fact_slots: Mapping[str, int] = field(default_factory=dict)
    window_steps: Mapping[str, StepSpec] = field(default_factory=dict)
    evidence_slots: Mapping[str, int] = field(default_factory=dict)
    subject_reads: tuple[str, ...] = ()
    """Subject fields any rule of the ruleset reads."""
    history_cycle: str | None = None
    history: tuple[CompiledHistoryFact, ...] = ()
    score: CompiledScore | None = None
    groups: tuple[CompiledGroup, ...] = ()
    allocation: CompiledAllocation | None = None
    condition: Callable[[Subject], bool] | None = None
    """The ruleset's ``applies_to.when``, ready to call (parameters do not enter it)."""
    has_provisional: bool = False
    """Whether any rule of the ruleset (or of the pack's procedures) is provisional."""

    def applies(self, subject: Subject) -> bool:
        if subject.type != self.type:
            return False
        if self.categories is not None and subject.category not in self.categories:
            return False
        return self.condition is None or bool(self.condition(subject))


class StepFailed(Exception):
    """Raised by generated code: which step failed, so the error can name its clause.

    Index -1 is the pass over the events; ``event`` is then the event being filtered.
    """

    def __init__(self, index: int, event: Event | None = None) -> None:
        super().__init__(index)
        self.index = index
        self.event = event


def _sx(subject: Subject, name: str) -> Any:
    extra = subject.__pydantic_extra__
    return extra.get(name) if extra else None


def _x(event: Event, name: str) -> Any:
    extra = event.__pydantic_extra__
    return extra.get(name) if extra else None


def _cap(value: float, cap: float) -> float:
    """At most ``cap`` points either way (扣分/加分上限)."""
    return cap if value > cap else -cap if value < -cap else value


def _clamp(value: float, low: float | None, high: float | None) -> float:
    if low is not None and value < low:
        return low
    if high is not None and value > high:
        return high
    return value


def _round(value: float, places: int) -> float:
    """Round half up to ``places`` decimals, so a band edge is decided as a person would."""
    quantum = Decimal(1).scaleb(-places)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


RUNTIME: dict[str, Any] = {
    "__builtins__": {
        "len": len,
        "bool": bool,
        "sum": sum,
        "max": max,
        "min": min,
        "Exception": Exception,
    },
    "_sx": _sx,
    "_x": _x,
    "_StepFailed": StepFailed,
    "_cap": _cap,
    "_clamp": _clamp,
    "_round": _round,
    **FUNCTION_IMPLS,
}


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


class PackCompiler:
    """Checks a validated PackModel against itself and produces compiled rulesets."""

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
        self._history: set[str] = set()
        self.param_types: dict[str, TypeInfo] = {}
        for name, param in model.parameters.items():
            kind = "str" if param.type == "period" else param.type
            self.param_types[name] = TypeInfo(kind)
        self.subject_fields: dict[str, str] = dict(SUBJECT_FIELDS)
        for name, attr in model.subject_attributes.items():
            if name in SUBJECT_FIELDS:
                self.error(("subject_attributes", name), f"{name!r} is a contract field already")
            self.subject_fields[name] = attr.type
        self._check_params()
        self._check_windows()

    # -- problems --------------------------------------------------------------------------
    def error(self, path: PathKey, message: str, code: str = "pack.invalid") -> None:
        self.problems.append(Problem(code, message, self.doc.locate(path)))

    def loc(self, path: PathKey) -> Location:
        return self.doc.locate(path)

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
        note: str | None = None,
    ) -> StepSpec:
        return StepSpec(
            id=id,
            kind=kind,
            title=title,
            clause=self.cite(prov.clause if prov else clause, path),
            provisional=prov.provisional if prov else None,
            note=(prov.note if prov else None) or note,
            expr=expr.text if expr else None,
            reads=expr.names if expr else (),
        )

    # -- parameters and windows ------------------------------------------------------------
    def _check_params(self) -> None:
        for name, param in self.model.parameters.items():
            for since, entry in param.values.items():
                path: PathKey = ("parameters", name, "values", since, "value")
                if not _value_fits(param.type, entry.value):
                    self.error(path, f"value {entry.value!r} is not a {param.type}")

    def _check_windows(self) -> None:
        for name, window in self.model.windows.items():
            if window.type == "rolling" and window.length is not None:
                if not _is_period(window.length):
                    param = self.model.parameters.get(window.length)
                    if param is None or param.type != "period":
                        self.error(
                            ("windows", name, "length"),
                            f"{window.length!r} is neither a period (1y, 6m, 30d) "
                            "nor a parameter of type period",
                        )
            if window.type == "since" and window.field is not None:
                if self.subject_fields.get(window.field) != "date":
                    self.error(
                        ("windows", name, "field"),
                        f"{window.field!r} is not a date field of the subject",
                    )

    # -- scopes ----------------------------------------------------------------------------
    def event_scope(self, kinds: frozenset[str] | None) -> dict[str, TypeInfo]:
        scope: dict[str, TypeInfo] = {n: TypeInfo(t) for n, t in EVENT_FIELDS.items()}
        scope["kind"] = TypeInfo("str", choices=frozenset(self.kinds))
        chosen = [self.kinds[k] for k in sorted(kinds)] if kinds else list(self.kinds.values())
        attrs: dict[str, list[AttributeSpec]] = {}
        for kind in chosen:
            for name, spec in kind.attributes.items():
                attrs.setdefault(name, []).append(spec)
        for name, specs in attrs.items():
            types = {s.type for s in specs}
            if len(types) > 1 and not types <= {"int", "number"}:
                owners = ", ".join(
                    f"{spec.type} for {k.name}"
                    for k in chosen
                    for a, spec in k.attributes.items()
                    if a == name
                )
                scope[name] = TypeInfo(
                    "conflict",
                    element=f"{name!r} has a different type for each event kind ({owners}): "
                    f"narrow the filter with kind == '...' first",
                )
                continue
            present = (
                kinds is not None
                and len(specs) == len(chosen)
                and all(s.required or s.default is not None for s in specs)
            )
            choices: set[str] | None = set()
            for s in specs:
                if s.choices is None or choices is None:
                    choices = None
                else:
                    choices |= set(s.choices)
            scope[name] = TypeInfo(
                types.pop() if len(types) == 1 else "number",
                optional=not present,
                choices=frozenset(choices) if choices else None,
            )
        scope.update(self.param_types)
        scope["as_of"] = TypeInfo("date")
        return scope

    def subject_scope(
        self, required: Iterable[str], categories: Iterable[str] | None = None
    ) -> dict[str, TypeInfo]:
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

    def _categories(self) -> set[str]:
        """Every category some ruleset grades: the values a rule may compare ``category`` to."""
        cats = {"hospital", "clinic", "pharmacy", "pharmacy_chain"}
        for rs in self.model.rulesets.values():
            cats |= set(rs.applies_to.categories or ())
        return cats

    # -- rulesets --------------------------------------------------------------------------
    def compile(self) -> dict[str, CompiledRuleset]:
        out: dict[str, CompiledRuleset] = {}
        for rid, ruleset in self.model.rulesets.items():
            compiled = self._ruleset(rid, ruleset, ("rulesets", rid))
            if compiled is not None:
                out[rid] = compiled
        self._check_overlapping_rulesets()
        if self.problems:
            raise PackError(self.problems)
        return out

    def procedures(self) -> dict[str, CompiledProcedure]:
        """The pack's procedures by trigger; at most one deadline per trigger."""
        out: dict[str, CompiledProcedure] = {}
        for i, p in enumerate(self.model.procedures):
            path: PathKey = ("procedures", i)
            if p.trigger in out:
                self.error(
                    (*path, "trigger"),
                    f"a second procedure triggered by {p.trigger!r} ({out[p.trigger].id!r} "
                    "is the first)",
                )
                continue
            out[p.trigger] = CompiledProcedure(
                p.id,
                p.trigger,
                p.days,
                p.unit,
                self.step(f"procedure.{p.id}", "procedure", p.title, p, path),
                self.step(*_OUTCOME_STEPS[p.trigger], p, path),
            )
        if self.problems:
            raise PackError(self.problems)
        return out

    def validity(self) -> tuple[dict[str, tuple[str, StepSpec]], frozenset[str], StepSpec | None]:
        """Validity periods by kind, and the kinds a repair can neutralise."""
        periods: dict[str, tuple[str, StepSpec]] = {}
        for kind, rule in self.model.validity.items():
            path: PathKey = ("validity", kind)
            if kind not in self.kinds:
                self.error(path, f"unknown event kind {kind!r}")
                continue
            try:
                parse_period(rule.period)
            except ValueError as exc:
                self.error((*path, "period"), str(exc))
                continue
            title = Text(zh=f"{self.kinds[kind].title_zh}有效期", en=f"validity of {kind} events")
            periods[kind] = (
                rule.period,
                self.step(f"validity.{kind}", "validity", title, rule, path),
            )
        repairable: frozenset[str] = frozenset()
        repair_step = None
        if self.model.repair is not None:
            for kind in self.model.repair.kinds:
                if kind not in self.kinds:
                    self.error(("repair", "kinds"), f"unknown event kind {kind!r}")
            repairable = frozenset(self.model.repair.kinds)
            repair_step = self.step(
                "repair",
                "repair",
                Text(zh="信用修复", en="credit repair"),
                self.model.repair,
                ("repair",),
            )
        if self.problems:
            raise PackError(self.problems)
        return periods, repairable, repair_step

    def review(self) -> Any:
        """The pack's review stages, checked against the event kind they read."""
        from .review import CompiledReview

        rv = self.model.review
        if rv is None:
            return None
        kind = self.kinds.get(rv.kind)
        if kind is None:
            self.error(("review", "kind"), f"unknown event kind {rv.kind!r}")
        else:
            for name in rv.key:
                if name not in kind.attributes and name not in EVENT_FIELDS:
                    self.error(
                        ("review", "key"), f"{name!r} is not an attribute of {rv.kind!r} events"
                    )
        if len(set(rv.stages)) != len(rv.stages):
            self.error(("review", "stages"), "stage names must be unique")
        if self.problems:
            raise PackError(self.problems)
        return CompiledReview(
            rv.kind,
            rv.attribute,
            tuple(rv.stages),
            tuple(rv.key),
            self.step("review", "review", Text(zh="审核", en="review"), rv, ("review",)),
        )

    def calendar(self) -> list[YearArrangement]:
        """Holiday arrangements the pack supplies, checked like the installed ones."""
        out: list[YearArrangement] = []
        for i, year in enumerate(self.model.calendar):
            try:
                out.append(
                    YearArrangement(
                        year=year.year,
                        notice=year.notice,
                        days_off=year.days_off,
                        workdays=year.workdays,
                    )
                )
            except ValidationError as exc:
                for err in exc.errors(include_url=False):
                    self.error(("calendar", i, *err["loc"]), err["msg"])
        if self.problems:
            raise PackError(self.problems)
        return out

    def _check_overlapping_rulesets(self) -> None:
        seen: dict[tuple[str, str | None], str] = {}
        for rid, rs in self.model.rulesets.items():
            if rs.applies_to.when is not None:
                continue  # conditions are checked per subject: one ruleset each, or an error
            cats: list[str | None] = list(rs.applies_to.categories or []) or [None]
            for cat in cats:
                for (t, c), other in seen.items():
                    if t == rs.applies_to.type and (c is None or cat is None or c == cat):
                        self.error(
                            ("rulesets", rid, "applies_to"),
                            f"ruleset {rid!r} overlaps ruleset {other!r}: a subject "
                            "must be graded by exactly one ruleset",
                        )
                seen[(rs.applies_to.type, cat)] = rid

    def _ruleset(self, rid: str, rs: Ruleset, path: PathKey) -> CompiledRuleset | None:
        before = len(self.problems)
        for name in rs.required:
            if name not in self.subject_fields:
                self.error((*path, "required"), f"{name!r} is not a subject field")
        scope = self.subject_scope(rs.required, self._categories())
        history_types, history = self._history_facts(rs, path)
        scope.update(history_types)
        for fname in rs.facts:
            if fname in scope:
                self.error(
                    (*path, "facts", fname),
                    f"fact {fname!r} has the name of a subject field or parameter",
                )
        windows_used: list[str] = []
        slot = itertools.count()
        # Facts: resolve types in dependency order.
        fact_exprs: dict[str, tuple[Expr | None, frozenset[str] | None, ast.expr | None]] = {}
        fact_types: dict[str, TypeInfo] = {}
        order = self._fact_order(rs, path)
        for fname in order:
            fact = rs.facts[fname]
            fpath = (*path, "facts", fname)
            # Until its definition checks out, a fact has the type its operation gives, so a
            # broken filter is reported once, not again at every rule that reads the fact.
            fact_types[fname] = _placeholder_type(fact.op)
            if fact.op == "compute":
                assert fact.expr is not None
                fscope = {**scope, **fact_types}
                e = self.try_expr(
                    fact.expr,
                    fscope,
                    (*fpath, "expr"),
                    expect=None,
                    scope_name=f"fact {fname}",
                )
                if e is None:
                    continue
                fact_types[fname] = e.type
                fact_exprs[fname] = (e, None, None)
                continue
            window = fact.window
            assert window is not None
            if window not in self.model.windows:
                self.error(
                    (*fpath, "window"),
                    f"unknown window {window!r}; the pack defines: "
                    f"{', '.join(self.model.windows) or 'none'}",
                )
            elif self.model.windows[window].type == "since":
                wfield = self.model.windows[window].field
                if wfield not in rs.required and wfield not in ("id", "type"):
                    self.error(
                        (*fpath, "window"),
                        f"window {window!r} starts at {wfield!r}: list it under "
                        f"{'.'.join(str(p) for p in path)}.required",
                    )
            if window not in windows_used:
                windows_used.append(window)
            kinds = peek_kinds(fact.where) if fact.where else None
            if kinds is not None:
                unknown = sorted(kinds - set(self.kinds))
                if unknown:
                    self.error(
                        (*fpath, "where"),
                        f"unknown event kind {unknown[0]!r}; known: "
                        f"{', '.join(sorted(self.kinds))}",
                    )
                    continue
            escope = self.event_scope(kinds)
            expr: Expr | None = None
            residual: ast.expr | None = None
            if fact.where:
                expr = self.try_expr(
                    fact.where,
                    escope,
                    (*fpath, "where"),
                    scope_name=f"the filter of fact {fname}",
                )
                if expr is None:
                    continue
                kinds, residual = kind_constraint(expr)
            if fact.of is not None:
                info = escope.get(fact.of)
                if info is None or fact.of in ("kind", "id", "subject_id"):
                    self.error((*fpath, "of"), f"{fact.of!r} is not an attribute of these events")
                    continue
                if fact.op == "sum" and info.type not in ("int", "number"):
                    self.error((*fpath, "of"), f"cannot sum {fact.of!r}: it is {info.type}")
                    continue
                guarded = not_none_names(expr.tree.body) if expr is not None else frozenset()
                if info.optional and fact.of not in guarded:
                    self.error(
                        (*fpath, "of"),
                        f"{fact.of!r} may be missing on these events; add "
                        f"'and {fact.of} is not None' to the filter, or make the attribute "
                        "required for the kind",
                    )
                    continue
                ftype = TypeInfo(
                    "number" if fact.op == "sum" else info.type,
                    optional=fact.op in ("max", "min"),
                )
            else:
                ftype = TypeInfo("int" if fact.op == "count" else "bool")
            fact_types[fname] = ftype
            fact_exprs[fname] = (expr, kinds, residual)
        full_scope = {**scope, **fact_types}
        # Slots: fact values, then evidence lists, then exclusions, then criteria.
        facts: list[CompiledFact] = []
        for fname in order:
            if fname not in fact_exprs:
                continue
            fact = rs.facts[fname]
            fe = fact_exprs[fname][0]
            spec = self.step(f"fact.{fname}", "fact", fact.title, fact, (*path, "facts", fname), fe)
            if fact.op != "compute":
                fixed: tuple[tuple[str, Any], ...] = (("window", fact.window), ("op", fact.op))
                if fact.of:
                    fixed += (("of", fact.of),)
                if fe is not None:
                    fixed += (("where", fe.text),)
                spec = replace(spec, fixed_inputs=fixed, reads=())
            facts.append(CompiledFact(fname, fact.op, fact.window, next(slot), None, spec))
        facts = [
            CompiledFact(
                f.name, f.op, f.window, f.slot, next(slot) if f.op != "compute" else None, f.step
            )
            for f in facts
        ]
        exclusions: list[CompiledCheck] = []
        exclusion_exprs: list[Expr] = []
        seen_ids: set[str] = set()
        for i, ex in enumerate(rs.exclusions):
            epath = (*path, "exclusions", i)
            if ex.id in seen_ids:
                self.error((*epath, "id"), f"duplicate exclusion id {ex.id!r}")
            seen_ids.add(ex.id)
            e = self.try_expr(
                ex.when, full_scope, (*epath, "when"), scope_name=f"exclusion {ex.id}"
            )
            if e is None:
                continue
            exclusions.append(
                CompiledCheck(
                    ex.id,
                    next(slot),
                    self.step(f"exclusion.{ex.id}", "exclusion", ex.title, ex, epath, e),
                )
            )
            exclusion_exprs.append(e)
        score: CompiledScore | None = None
        score_exprs: list[tuple[int, Expr | None, Expr | None]] = []
        veto_exprs: list[Expr] = []
        if isinstance(rs.grading, CriteriaGrading):
            grades, rules, criterion_exprs, default = self._grading(
                rs.grading, full_scope, (*path, "grading"), slot
            )
            default_grade: str = rs.grading.default.grade
        else:
            grades = [g.label for g in rs.grading.grades]
            rules, criterion_exprs = [], []
            score, score_exprs, veto_exprs = self._score(
                rs.grading, full_scope, (*path, "grading"), slot, fact_types
            )
            default = (
                score.step
                if score
                else self.step(
                    "score", "score", Text(zh="得分", en="score"), rs.grading, (*path, "grading")
                )
            )
            default_grade = grades[-1]
        groups = self._groups(rs, path)
        allocation = None
        if rs.allocation is not None:
            ascope = {
                **self.subject_scope(rs.required, self._categories()),
                "deposit": TypeInfo("int"),
                "score": TypeInfo("number", optional=True),
                "grade": TypeInfo("str", optional=True, choices=frozenset(grades)),
                "status": TypeInfo("str", choices=STATUS_CHOICES),
            }
            apath = (*path, "allocation")
            weight = self.try_expr(
                rs.allocation.weight,
                ascope,
                (*apath, "weight"),
                expect=None,
                scope_name="the allocation weight",
            )
            if weight is not None:
                if weight.type.type not in ("int", "number") or weight.type.optional:
                    self.error(
                        (*apath, "weight"),
                        "the weight must be a number, but this is "
                        f"{weight.type.describe()} (guard score with 'score is not None')",
                    )
                else:
                    direct = {n: n for n in ("deposit", "score", "grade", "status")}
                    allocation = CompiledAllocation(
                        self._lambda(weight, ["s", "deposit", "score", "grade", "status"], direct),
                        rs.allocation.excluded,
                        self.step(
                            "allocation",
                            "allocation",
                            Text(zh="质量保证金分配", en="quality-deposit allocation"),
                            rs.allocation,
                            apath,
                            weight,
                        ),
                    )
        condition = None
        if rs.applies_to.when is not None:
            test = self.try_expr(
                rs.applies_to.when,
                self.subject_scope((), self._categories()),
                (*path, "applies_to", "when"),
                scope_name=f"ruleset {rid} applies_to",
            )
            if test is not None:
                if any(n in self.param_types for n in test.names):
                    self.error(
                        (*path, "applies_to", "when"),
                        "which ruleset grades a subject cannot depend on parameters",
                    )
                else:
                    condition = self._lambda(test, ["s"], {})(None, {})
        rollups = tuple(
            r
            for r in (
                self._rollup(ro, rs, (*path, "rollups", i), grades, [x.id for x in exclusions])
                for i, ro in enumerate(rs.rollups)
            )
            if r is not None
        )
        measures: dict[str, list[CompiledMeasure]] = {g: [] for g in grades}
        mscope = {
            **self.subject_scope(rs.required, self._categories()),
            **history_types,
            "grade": TypeInfo("str", choices=frozenset(grades)),
            "rank": TypeInfo("int"),
        }
        for i, m in enumerate(rs.measures):
            mpath = (*path, "measures", i)
            when = None
            if m.when is not None:
                cond = self.try_expr(m.when, mscope, (*mpath, "when"), scope_name=f"measure {m.id}")
                if cond is None:
                    continue
                when = self._lambda(
                    cond, ["s", "grade", "rank", "H"], {"grade": "grade", "rank": "rank"}
                )
                mstep = self.step(f"measure.{m.id}", "measure", m.title, m, mpath, cond)
            else:
                mstep = self.step(f"measure.{m.id}", "measure", m.title, m, mpath)
            for g in m.grades:
                if g not in measures:
                    self.error(
                        (*mpath, "grades"), f"unknown grade {g!r}; grades are {', '.join(grades)}"
                    )
                    continue
                measures[g].append(CompiledMeasure(m.id, m.title, dict(m.params), mstep, when))
        if len(self.problems) > before:
            return None
        # Which kinds are read at all (for reporting events no rule uses).
        kinds_read: set[str] | None = set()
        for fname, (_e, kinds, _r) in fact_exprs.items():
            if rs.facts[fname].op == "compute":
                continue
            if kinds is None or kinds_read is None:
                kinds_read = None
                break
            kinds_read |= kinds
        slots = next(slot)
        source, param_names = self._generate(
            rid,
            rs,
            facts,
            fact_exprs,
            exclusions,
            exclusion_exprs,
            rules,
            criterion_exprs,
            windows_used,
            full_scope,
            score,
            score_exprs,
            veto_exprs,
        )
        namespace: dict[str, Any] = dict(RUNTIME)
        code = compile(source, f"<pack {self.model.pack.id} ruleset {rid}>", "exec")
        exec(code, namespace)  # generated from whitelisted, type-checked expressions only
        return CompiledRuleset(
            id=rid,
            title=rs.title,
            type=rs.applies_to.type,
            categories=frozenset(rs.applies_to.categories) if rs.applies_to.categories else None,
            required=tuple(rs.required),
            windows=tuple(windows_used),
            facts=tuple(facts),
            exclusions=tuple(exclusions),
            rules=tuple(rules),
            default=default,
            default_grade=default_grade,
            grades=tuple(grades),
            grade_titles={g.label: g.title for g in rs.grading.grades},
            rollups=rollups,
            measures={g: tuple(ms) for g, ms in measures.items()},
            kinds_read=frozenset(kinds_read) if kinds_read is not None else None,
            source=source,
            make=namespace["_make"],
            param_names=param_names,
            slots=slots,
            rank={g: i for i, g in enumerate(grades)},
            fact_slots={f.name: f.slot for f in facts},
            subject_reads=self._subject_reads,
            history_cycle=rs.history.cycle if rs.history else None,
            history=history,
            score=score,
            groups=groups,
            allocation=allocation,
            condition=condition,
            has_provisional=_any_provisional(rs)
            or any(p.provisional for p in self.model.procedures)
            or any(w.provisional for w in self.model.windows.values()),
            window_steps={
                w: self.step(
                    f"window.{w}",
                    "window",
                    self.model.windows[w].title,
                    self.model.windows[w],
                    ("windows", w),
                )
                for w in windows_used
            },
            evidence_slots={f.name: f.evidence_slot for f in facts if f.evidence_slot is not None},
        )

    def _history_facts(
        self, rs: Ruleset, path: PathKey
    ) -> tuple[dict[str, TypeInfo], tuple[CompiledHistoryFact, ...]]:
        """Types and steps of the ruleset's history facts (empty without a history section)."""
        self._history = set()
        if rs.history is None:
            return {}, ()
        hpath = (*path, "history")
        try:
            parse_period(rs.history.cycle)
        except ValueError as exc:
            self.error((*hpath, "cycle"), str(exc))
        grades = frozenset(g.label for g in rs.grading.grades)
        types: dict[str, TypeInfo] = {}
        out: list[CompiledHistoryFact] = []
        for name, fact in rs.history.facts.items():
            fpath = (*hpath, "facts", name)
            for g in fact.grades or ():
                if g not in grades:
                    self.error(
                        (*fpath, "grades"),
                        f"unknown grade {g!r}; grades are {', '.join(sorted(grades))}",
                    )
            if name in rs.facts or name in self.subject_fields or name in self.param_types:
                self.error(
                    fpath,
                    f"history fact {name!r} has the name of another fact, a "
                    "subject field or a parameter",
                )
            types[name] = {
                "previous": TypeInfo("str", optional=True, choices=grades),
                "previous_rank": TypeInfo("int", optional=True),
            }.get(fact.op, TypeInfo("int"))
            out.append(
                CompiledHistoryFact(
                    name, fact, self.step(f"history.{name}", "history", fact.title, fact, fpath)
                )
            )
        self._history = set(types)
        return types, tuple(out)

    def _fact_order(self, rs: Ruleset, path: PathKey) -> list[str]:
        """Facts in dependency order (compute facts after what they read); cycles are errors."""
        deps: dict[str, set[str]] = {}
        for name, fact in rs.facts.items():
            deps[name] = set()
            if fact.op == "compute" and fact.expr:
                try:
                    tree = ast.parse(fact.expr.strip(), mode="eval")
                except SyntaxError:
                    continue
                deps[name] = {
                    n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in rs.facts
                }
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(n: str, trail: list[str]) -> None:
            if state.get(n) == 2:
                return
            if state.get(n) == 1:
                cycle = " → ".join([*trail[trail.index(n) :], n])
                self.error((*path, "facts", n), f"facts depend on each other in a cycle: {cycle}")
                return
            state[n] = 1
            for d in sorted(deps[n]):
                visit(d, [*trail, n])
            state[n] = 2
            order.append(n)

        for name in rs.facts:
            visit(name, [])
        return order

    def _grading(
        self,
        grading: CriteriaGrading,
        scope: Mapping[str, TypeInfo],
        path: PathKey,
        slot: Iterable[int],
    ) -> tuple[list[str], list[CompiledRule], list[Expr], StepSpec]:
        counter = iter(slot)
        grades = [g.label for g in grading.grades]
        if len(set(grades)) != len(grades):
            self.error((*path, "grades"), "grade labels must be unique")
        rules: list[CompiledRule] = []
        exprs: list[Expr] = []
        seen: set[str] = set()
        for i, rule in enumerate(grading.rules):
            rpath = (*path, "rules", i)
            if rule.grade not in grades:
                self.error(
                    (*rpath, "grade"),
                    f"unknown grade {rule.grade!r}; grades are {', '.join(grades)}",
                )
            mode = "any" if rule.any is not None else "all"
            checks: list[CompiledCheck] = []
            for j, crit in enumerate(rule.criteria):
                cpath = (*rpath, mode, j)
                if crit.id in seen:
                    self.error((*cpath, "id"), f"duplicate criterion id {crit.id!r}")
                seen.add(crit.id)
                e = self.try_expr(
                    crit.when,
                    scope,
                    (*cpath, "when"),
                    scope_name=f"criterion {crit.id}",
                )
                if e is None:
                    continue
                checks.append(
                    CompiledCheck(
                        crit.id,
                        next(counter),
                        self.step(f"criterion.{crit.id}", "criterion", crit.title, crit, cpath, e),
                    )
                )
                exprs.append(e)
            title = next(
                (g.title for g in grading.grades if g.label == rule.grade), Text(zh=rule.grade)
            )
            rules.append(
                CompiledRule(
                    rule.grade,
                    mode,
                    tuple(checks),
                    self.step(f"grade.{rule.grade}", "grade", title, rule, rpath),
                )
            )
        default = grading.default
        if default.grade not in grades:
            self.error(
                (*path, "default", "grade"),
                f"unknown grade {default.grade!r}; grades are {', '.join(grades)}",
            )
        title = next(
            (g.title for g in grading.grades if g.label == default.grade), Text(zh=default.grade)
        )
        default_step = self.step("grade.default", "grade", title, default, (*path, "default"))
        return grades, rules, exprs, default_step

    def _score(
        self,
        grading: ScoreGrading,
        scope: Mapping[str, TypeInfo],
        path: PathKey,
        slot: Iterable[int],
        fact_types: Mapping[str, TypeInfo],
    ) -> tuple[CompiledScore | None, list[tuple[int, Expr | None, Expr | None]], list[Expr]]:
        """Check a score grading: items, categories and weights, vetoes, and bands that cover
        the whole score range exactly once."""
        counter = iter(slot)
        before = len(self.problems)
        grades = [g.label for g in grading.grades]
        exprs: list[tuple[int, Expr | None, Expr | None]] = []
        categories: list[CompiledCategory] = []
        seen: set[str] = set()
        for ci, cat in enumerate(grading.categories):
            cpath = (*path, "categories", ci)
            if cat.id in seen:
                self.error((*cpath, "id"), f"duplicate category id {cat.id!r}")
            seen.add(cat.id)
            items: list[CompiledItem] = []
            for ii, item in enumerate(cat.items):
                ipath = (*cpath, "items", ii)
                points_expr = when_expr = None
                try:
                    if isinstance(item.points, str):
                        points_expr = self.parse_expr(
                            item.points,
                            scope,
                            (*ipath, "points"),
                            expect=None,
                            scope_name=f"item {item.id}",
                        )
                        if (
                            points_expr.type.type not in ("int", "number")
                            or points_expr.type.optional
                        ):
                            self.error(
                                (*ipath, "points"),
                                "points must be a number, but this "
                                f"is {points_expr.type.describe()}",
                            )
                    if item.when is not None:
                        when_expr = self.parse_expr(
                            item.when, scope, (*ipath, "when"), scope_name=f"item {item.id}"
                        )
                except PackError as exc:
                    self.problems.extend(exc.problems)
                    continue
                if item.per is not None:
                    ftype = fact_types.get(item.per)
                    if ftype is None or ftype.type not in ("int", "number") or ftype.optional:
                        self.error(
                            (*ipath, "per"),
                            f"{item.per!r} is not a count or sum fact "
                            "of this ruleset (points are per unit of it)",
                        )
                        continue
                reads = tuple(
                    dict.fromkeys(
                        ([item.per] if item.per else [])
                        + list(when_expr.names if when_expr else ())
                        + list(points_expr.names if points_expr else ())
                    )
                )
                shown = when_expr or points_expr
                step = self.step(f"item.{cat.id}.{item.id}", "item", item.title, item, ipath, shown)
                step = replace(step, reads=reads)
                compiled = CompiledItem(
                    item.id,
                    cat.id,
                    next(counter),
                    step,
                    item.per,
                    item.points if not isinstance(item.points, str) else None,
                    item.cap,
                    reads,
                    item.monitoring,
                )
                items.append(compiled)
                exprs.append((compiled.slot, points_expr, when_expr))
            categories.append(
                CompiledCategory(
                    cat.id,
                    next(counter),
                    self.step(f"category.{cat.id}", "category", cat.title, cat, cpath),
                    cat.base,
                    cat.cap,
                    cat.min,
                    cat.max,
                    1.0 if cat.weight is None else cat.weight,
                    tuple(items),
                )
            )
        if grading.points_total is not None:
            missing = [c.id for c in grading.categories if c.max is None]
            if missing:
                self.error(
                    (*path, "points_total"),
                    f"points_total needs every category's max; {', '.join(missing)} has none",
                )
            elif abs(sum(c.max or 0 for c in grading.categories) - grading.points_total) > 1e-9:
                total = sum(c.max or 0 for c in grading.categories)
                self.error(
                    (*path, "points_total"),
                    f"the categories' max add up to {total:g}, not {grading.points_total:g}",
                )
        if grading.weights_total is not None:
            total = sum(c.weight for c in categories)
            if abs(total - grading.weights_total) > 1e-9:
                self.error(
                    (*path, "weights_total"),
                    f"the categories' weights add up to {total:g}, not {grading.weights_total:g}",
                )
        total_slot = next(counter)
        vetoes: list[CompiledCheck] = []
        veto_exprs: list[Expr] = []
        for vi, veto in enumerate(grading.vetoes):
            vpath = (*path, "vetoes", vi)
            if veto.grade not in grades:
                self.error(
                    (*vpath, "grade"),
                    f"unknown grade {veto.grade!r}; grades are {', '.join(grades)}",
                )
            e = self.try_expr(veto.when, scope, (*vpath, "when"), scope_name=f"veto {veto.id}")
            if e is None:
                continue
            vetoes.append(
                CompiledCheck(
                    veto.id,
                    next(counter),
                    self.step(f"veto.{veto.id}", "veto", veto.title, veto, vpath, e),
                )
            )
            veto_exprs.append(e)
        bands: list[CompiledBand] = []
        for bi, band in enumerate(grading.bands):
            bpath = (*path, "bands", bi)
            if band.grade not in grades:
                self.error(
                    (*bpath, "grade"),
                    f"unknown grade {band.grade!r}; grades are {', '.join(grades)}",
                )
            try:
                interval = RealInterval.parse(band.range, bi + 1)
            except ValueError as exc:
                self.error((*bpath, "range"), str(exc))
                continue
            title = next(
                (g.title for g in grading.grades if g.label == band.grade), Text(zh=band.grade)
            )
            bands.append(
                CompiledBand(
                    interval,
                    band.grade,
                    self.step(f"grade.{band.grade}", "grade", title, band, bpath),
                )
            )
        if bands and len(bands) == len(grading.bands):
            low = -math.inf if grading.floor is None else grading.floor
            high = math.inf if grading.ceiling is None else grading.ceiling
            for row, message in real_coverage([b.interval for b in bands], low, high):
                self.error((*path, "bands", row - 1, "range"), f"score bands: {message}")
        if len(self.problems) > before:
            return None, [], []
        score = CompiledScore(
            tuple(categories),
            total_slot,
            self.step("score", "score", Text(zh="总分", en="total score"), grading, path),
            grading.base,
            grading.floor,
            grading.ceiling,
            grading.precision,
            tuple(vetoes),
            tuple(v.grade for v in grading.vetoes),
            tuple(bands),
        )
        return score, exprs, veto_exprs

    def _groups(self, rs: Ruleset, path: PathKey) -> tuple[CompiledGroup, ...]:
        """Evaluation groups: first match wins; each may set its own parameter values."""
        out: list[CompiledGroup] = []
        scope = self.subject_scope(rs.required, self._categories())
        for gi, group in enumerate(rs.groups):
            gpath = (*path, "groups", gi)
            for name, value in group.params.items():
                param = self.model.parameters.get(name)
                if param is None:
                    self.error(
                        (*gpath, "params", name),
                        f"{name!r} is not a parameter of "
                        "the pack; a group can only set the value of one",
                    )
                elif not _value_fits(param.type, value):
                    self.error((*gpath, "params", name), f"{value!r} is not a {param.type}")
            e = self.try_expr(group.when, scope, (*gpath, "when"), scope_name=f"group {group.id}")
            if e is None:
                continue
            out.append(
                CompiledGroup(
                    group.id,
                    group.title,
                    dict(group.params),
                    self.step(f"group.{group.id}", "group", group.title, group, gpath, e),
                    self._lambda(e, ["s"], {}),
                )
            )
        return tuple(out)

    def _generate_score(
        self,
        score: CompiledScore,
        exprs: Sequence[tuple[int, Expr | None, Expr | None]],
        veto_exprs: Sequence[Expr],
        rename: Callable[[str], str],
        guarded: Callable[[list[str]], None],
        body: list[str],
        values: dict[int, str],
        scope: Mapping[str, TypeInfo],
        subject_names: set[str],
        fact_exprs: Mapping[str, Any],
    ) -> None:
        """Items, category scores, the total and vetoes as straight-line code."""
        by_slot = {slot: (p, w) for slot, p, w in exprs}

        def note_reads(e: Expr | None) -> None:
            for n in e.names if e is not None else ():
                if (
                    n in scope
                    and n not in fact_exprs
                    and n != "as_of"
                    and n not in self.param_types
                    and n not in self._history
                ):
                    subject_names.add(n)

        weighted: list[str] = []
        for cat in score.categories:
            for item in cat.items:
                points_expr, when_expr = by_slot[item.slot]
                note_reads(points_expr)
                note_reads(when_expr)
                if points_expr is not None:
                    code = f"({points_expr.to_python(rename)})"
                else:
                    code = repr(item.points)
                if item.per is not None:
                    code = f"{code} * f_{item.per}"
                if when_expr is not None:
                    code = f"({code} if ({when_expr.to_python(rename)}) else 0)"
                if item.cap is not None:
                    code = f"_cap({code}, {item.cap!r})"
                guarded([f"c{item.slot} = {code}"])
                values[item.slot] = f"c{item.slot}"
            total = " + ".join(f"c{i.slot}" for i in cat.items)
            if cat.cap is not None:
                total = f"_cap({total}, {cat.cap!r})"
            code = f"{cat.base!r} + {total}"
            if cat.min is not None or cat.max is not None:
                code = f"_clamp({code}, {cat.min!r}, {cat.max!r})"
            guarded([f"c{cat.slot} = {code}"])
            values[cat.slot] = f"c{cat.slot}"
            weighted.append(
                f"c{cat.slot}" if cat.weight == 1.0 else f"{cat.weight!r} * c{cat.slot}"
            )
        total = f"{score.base!r} + " + " + ".join(weighted)
        guarded(
            [
                f"c{score.total_slot} = _round(_clamp({total}, {score.floor!r}, "
                f"{score.ceiling!r}), {score.precision})"
            ]
        )
        values[score.total_slot] = f"c{score.total_slot}"
        for veto, e in zip(score.vetoes, veto_exprs, strict=True):
            note_reads(e)
            guarded([f"c{veto.slot} = ({e.to_python(rename)})"])
            values[veto.slot] = f"c{veto.slot}"

    def _rollup(
        self,
        ro: Rollup,
        rs: Ruleset,
        path: PathKey,
        grades: list[str],
        exclusion_ids: list[str],
    ) -> CompiledRollup | None:
        before = len(self.problems)
        if self.subject_fields.get(ro.head) != "str":
            self.error((*path, "head"), f"{ro.head!r} is not a text field of the subject")
        sscope = self.subject_scope(rs.required, self._categories())
        try:
            members = self.parse_expr(
                ro.members,
                sscope,
                (*path, "members"),
                scope_name=f"roll-up {ro.id} members",
            )
        except PackError as exc:
            self.problems.extend(exc.problems)
            members = None
        rscope = {
            **sscope,
            "grade": TypeInfo("str", optional=True, choices=frozenset(grades)),
            "status": TypeInfo("str", choices=STATUS_CHOICES),
            "exclusion": TypeInfo("str", optional=True, choices=frozenset(exclusion_ids) or None),
        }
        try:
            counts = self.parse_expr(
                ro.counts, rscope, (*path, "counts"), scope_name=f"roll-up {ro.id} counts"
            )
        except PackError as exc:
            self.problems.extend(exc.problems)
            counts = None
        caps: list[CompiledCap] = []
        intervals = []
        for i, band in enumerate(ro.caps):
            if band.cap not in grades:
                self.error(
                    (*path, "caps", i, "cap"),
                    f"unknown grade {band.cap!r}; grades are {', '.join(grades)}",
                )
            interval = IntInterval(band.min, band.max, i + 1)
            intervals.append(interval)
            caps.append(
                CompiledCap(
                    interval,
                    band.cap,
                    self.step(
                        f"rollup.{ro.id}.{i + 1}", "rollup", ro.title, band, (*path, "caps", i)
                    ),
                )
            )
        for message in int_overlaps(intervals):
            self.error((*path, "caps"), f"roll-up caps: {message}")
        if members is None or counts is None or len(self.problems) > before:
            return None
        return CompiledRollup(
            id=ro.id,
            head=ro.head,
            step=self.step(f"rollup.{ro.id}", "rollup", ro.title, ro, path),
            members=self._lambda(members, ["s"], {}),
            counts=self._lambda(
                counts,
                ["s", "grade", "status", "exclusion"],
                {"grade": "grade", "status": "status", "exclusion": "exclusion"},
            ),
            caps=tuple(caps),
            members_expr=members.text,
            counts_expr=counts.text,
        )

    # -- code generation -------------------------------------------------------------------
    def _subject_rename(self, facts: Iterable[str], params: set[str]) -> Callable[[str], str]:
        fact_names = set(facts)

        def rename(name: str) -> str:
            if name in fact_names:
                return f"f_{name}"
            if name in self._history:
                return f"h_{name}"
            if name == "as_of":
                return "AS_OF"
            if name in self.param_types:
                params.add(name)
                return f"p_{name}"
            return f"s_{name}"

        return rename

    def _event_rename(self, params: set[str]) -> Callable[[str], str]:
        def rename(name: str) -> str:
            if name == "as_of":
                return "AS_OF"
            if name in self.param_types:
                params.add(name)
                return f"p_{name}"
            if name in Event.model_fields:
                return f"e.{name}"
            return f"_x(e, {name!r})"

        return rename

    def _lambda(self, expr: Expr, args: list[str], direct: Mapping[str, str]) -> Callable[..., Any]:
        params: set[str] = set()
        base = self._subject_rename((), params)

        def rename(name: str) -> str:
            return direct[name] if name in direct else base(name)

        body = expr.to_python(rename)
        lines = ["def _make(AS_OF, P):"]
        lines += [f"    p_{p} = P[{p!r}]" for p in sorted(params)]
        lines.append(f"    def _f({', '.join(args)}):")
        for name in expr.names:
            if name in self._history:
                lines.append(f"        h_{name} = H[{name!r}]")
            elif name not in direct and name != "as_of" and name not in self.param_types:
                lines.append(f"        s_{name} = {_subject_access(name)}")
        lines.append(f"        return {body}")
        lines.append("    return _f")
        namespace: dict[str, Any] = dict(RUNTIME)
        exec(compile("\n".join(lines), "<roll-up>", "exec"), namespace)
        made: Callable[..., Any] = namespace["_make"]
        return made

    def _generate(
        self,
        rid: str,
        rs: Ruleset,
        facts: list[CompiledFact],
        fact_exprs: Mapping[str, tuple[Expr | None, frozenset[str] | None, ast.expr | None]],
        exclusions: list[CompiledCheck],
        exclusion_exprs: list[Expr],
        rules: list[CompiledRule],
        criterion_exprs: list[Expr],
        windows: list[str],
        scope: Mapping[str, TypeInfo],
        score: CompiledScore | None = None,
        score_exprs: Sequence[tuple[int, Expr | None, Expr | None]] = (),
        veto_exprs: Sequence[Expr] = (),
    ) -> tuple[str, tuple[str, ...]]:
        """Python source for one ruleset: a single pass over the subject's events (in date
        order) collects every fact's evidence, then facts, exclusions, criteria and the
        first-match decision follow as straight-line code. Generated only from checked
        expressions; kept in ``CompiledRuleset.source`` for review.
        """
        params: set[str] = set()
        srename = self._subject_rename([f.name for f in facts], params)
        erename = self._event_rename(params)
        subject_names: set[str] = set(rs.required)
        values: dict[int, str] = {}
        step_index = 0
        body: list[str] = []
        ind = " " * 8

        def guarded(lines: list[str]) -> None:
            nonlocal step_index
            body.append(ind + "try:")
            body.extend(ind + "    " + ln for ln in lines)
            body.append(ind + "except Exception as _exc:")
            body.append(ind + f"    raise _StepFailed({step_index}) from _exc")
            step_index += 1

        for wi, wname in enumerate(windows):
            window: Window = self.model.windows[wname]
            if window.type == "since":
                assert window.field is not None
                subject_names.add(window.field)
                body.append(ind + f"w{wi}lo = s_{window.field}")

        # One pass over the events: facts grouped by kind, then by window.
        event_facts = [f for f in facts if f.op != "compute"]
        by_kind: dict[str | None, dict[int, list[tuple[CompiledFact, ast.expr | None]]]] = {}
        for f in event_facts:
            _expr, kinds, residual = fact_exprs[f.name]
            wi = windows.index(f.window or "")
            for kind in sorted(kinds) if kinds is not None else [None]:
                by_kind.setdefault(kind, {}).setdefault(wi, []).append((f, residual))
        if event_facts:
            # Evidence starts as the shared empty tuple; a list is made on the first match.
            body.append(ind + " = ".join(f"ev_{f.name}" for f in event_facts) + " = ()")
            body.append(ind + "e = None")
            body.append(ind + "try:")
            body.append(ind + "    for e in events:")
            inner = ind + " " * 8

            def emit(
                groups: dict[int, list[tuple[CompiledFact, ast.expr | None]]], pad: str
            ) -> None:
                for wi, members in groups.items():
                    body.append(pad + f"if w{wi}lo <= _d <= w{wi}hi:")
                    for f, residual in members:
                        inner_pad = pad + "    "
                        if residual is not None:
                            cond = node_to_python(residual, erename)
                            body.append(inner_pad + f"if {cond}:")
                            inner_pad += "    "
                        body.append(inner_pad + f"if ev_{f.name}:")
                        body.append(inner_pad + f"    ev_{f.name}.append(e)")
                        body.append(inner_pad + "else:")
                        body.append(inner_pad + f"    ev_{f.name} = [e]")

            body.append(inner + "_d = e.date")
            if None in by_kind:
                emit(by_kind[None], inner)
            kinded = [k for k in by_kind if k is not None]
            if kinded:
                body.append(inner + "_k = e.kind")
                for i, kind in enumerate(kinded):
                    body.append(inner + f"{'if' if i == 0 else 'elif'} _k == {kind!r}:")
                    emit(by_kind[kind], inner + "    ")
            body.append(ind + "except Exception as _exc:")
            body.append(ind + "    raise _StepFailed(-1, e) from _exc")

        for f in facts:
            expr, _kinds, _residual = fact_exprs[f.name]
            values[f.slot] = f"f_{f.name}"
            if f.op == "compute":
                assert expr is not None
                for n in expr.names:
                    if (
                        n not in fact_exprs
                        and n != "as_of"
                        and n not in self.param_types
                        and n not in self._history
                    ):
                        subject_names.add(n)
                guarded([f"f_{f.name} = ({expr.to_python(srename)})"])
                continue
            ev = f"ev_{f.name}"
            assert f.evidence_slot is not None
            values[f.evidence_slot] = ev
            of = rs.facts[f.name].of
            of_access = erename(of) if of else ""
            if f.op == "count":
                guarded([f"f_{f.name} = len({ev})"])
            elif f.op == "exists":
                guarded([f"f_{f.name} = bool({ev})"])
            elif f.op == "sum":
                guarded([f"f_{f.name} = sum({of_access} for e in {ev})"])
            else:
                guarded([f"f_{f.name} = {f.op}(({of_access} for e in {ev}), default=None)"])

        checks = [
            *zip(exclusions, exclusion_exprs, strict=True),
            *zip([c for r in rules for c in r.criteria], criterion_exprs, strict=True),
        ]
        for check, expr in checks:
            for n in expr.names:
                if (
                    scope.get(n) is not None
                    and n not in fact_exprs
                    and n != "as_of"
                    and n not in self.param_types
                    and n not in self._history
                ):
                    subject_names.add(n)
            guarded([f"c{check.slot} = ({expr.to_python(srename)})"])
            values[check.slot] = f"c{check.slot}"

        if score is not None:
            self._generate_score(
                score,
                score_exprs,
                veto_exprs,
                srename,
                guarded,
                body,
                values,
                scope,
                subject_names,
                fact_exprs,
            )

        # The decision: first exclusion that holds, else the first grade rule that matches.
        for i, check in enumerate(exclusions):
            body.append(ind + f"{'if' if i == 0 else 'elif'} c{check.slot}:")
            body.append(ind + f"    _x = {i}")
        if exclusions:
            body.append(ind + "else:")
            body.append(ind + "    _x = -1")
        else:
            body.append(ind + "_x = -1")
        body.append(ind + "_r = None")
        body.append(ind + "if _x < 0:")
        for i, rule in enumerate(rules):
            joiner = " or " if rule.mode == "any" else " and "
            cond = joiner.join(f"c{c.slot}" for c in rule.criteria)
            body.append(ind + f"    {'if' if i == 0 else 'elif'} {cond}:")
            body.append(ind + f"        _r = {i}")
        if score is None:
            body.append(ind + "    else:")
            body.append(ind + "        _r = -1")
            body.append(ind + "_s = _v = None")
        else:
            body.append(ind + "    _s = c" + str(score.total_slot))
            for i, veto in enumerate(score.vetoes):
                body.append(ind + f"    {'if' if i == 0 else 'elif'} c{veto.slot}:")
                body.append(ind + f"        _v = {i}")
            body.append(ind + ("    else:" if score.vetoes else "    if True:"))
            body.append(ind + "        _v = -1")
            for i, band in enumerate(score.bands):
                iv = band.interval
                low = (
                    ""
                    if iv.low == float("-inf")
                    else f"{iv.low!r} {'<=' if iv.low_inclusive else '<'} "
                )
                high = (
                    ""
                    if iv.high == float("inf")
                    else f" {'<=' if iv.high_inclusive else '<'} {iv.high!r}"
                )
                cond = f"{low}_s{high}" if (low or high) else "True"
                body.append(ind + f"    {'if' if i == 0 else 'elif'} {cond}:")
                body.append(ind + f"        _r = {i}")
            body.append(ind + "else:")
            body.append(ind + "    _s = _v = None")

        head = ["def _make(AS_OF, W, P):"]
        for wi, wname in enumerate(windows):
            if self.model.windows[wname].type == "since":
                head.append(f"    w{wi}hi = W[{wi}][1]")
            else:
                head.append(f"    w{wi}lo, w{wi}hi = W[{wi}]")
        for p in sorted(params):
            head.append(f"    p_{p} = P[{p!r}]")
        head.append("    def _subject(s, events, H):")
        for h in sorted(self._history):
            head.append(f"        h_{h} = H[{h!r}]")
        for n in sorted(subject_names):
            head.append(f"        s_{n} = {_subject_access(n)}")
        ordered = [values[i] for i in sorted(values)]
        tail = [
            f"        return ({', '.join([*ordered, '_x', '_r', '_s', '_v'])},)",
            "    return _subject",
            "",
        ]
        self._subject_reads = tuple(sorted(subject_names))
        return "\n".join(head + body + tail), tuple(sorted(params))


_OUTCOME_STEPS = {
    "notification": (
        "lifecycle.objection",
        "lifecycle",
        Text(zh="异议申请是否在期限内", en="objection in time"),
    ),
    "objection": (
        "lifecycle.decision",
        "lifecycle",
        Text(zh="异议处理决定", en="decision on the objection"),
    ),
}


def _any_provisional(node: Any) -> bool:
    """Whether a part of a pack (a ruleset, say) holds any provisional rule or value."""
    if isinstance(node, Provenance) and node.provisional:
        return True
    if isinstance(node, BaseModel):
        return any(_any_provisional(getattr(node, f)) for f in type(node).model_fields)
    if isinstance(node, dict):
        return any(_any_provisional(v) for v in node.values())
    if isinstance(node, list):
        return any(_any_provisional(v) for v in node)
    return False


def _placeholder_type(op: str) -> TypeInfo:
    """The type a fact's operation gives; unknown for a compute fact until it is checked."""
    return {
        "count": TypeInfo("int"),
        "exists": TypeInfo("bool"),
        "sum": TypeInfo("number"),
        "max": TypeInfo("number", optional=True),
        "min": TypeInfo("number", optional=True),
    }.get(op, TypeInfo("unknown"))


def _subject_access(name: str) -> str:
    return f"s.{name}" if name in Subject.model_fields else f"_sx(s, {name!r})"


def _is_period(text: str) -> bool:
    import re

    return re.fullmatch(PERIOD_RE_TEXT, text.strip()) is not None


def _value_fits(kind: str, value: Any) -> bool:
    if kind == "period":
        return isinstance(value, str) and _is_period(value)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "date":
        return isinstance(value, dt.date)
    return isinstance(value, str)
