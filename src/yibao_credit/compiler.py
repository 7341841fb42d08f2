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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ValidationError

from .calendar import YearArrangement
from .codegen import generate_ruleset
from .compiled import (
    RUNTIME,
    STATUS_CHOICES,
    CompiledAllocation,
    CompiledCap,
    CompiledCheck,
    CompiledFact,
    CompiledGroup,
    CompiledHistoryFact,
    CompiledMeasure,
    CompiledProcedure,
    CompiledRollup,
    CompiledRule,
    CompiledRuleset,
    CompiledScore,
    StepSpec,
    subject_access,
)
from .errors import Location, PackError, Problem
from .expressions import (
    PERIOD_RE_TEXT,
    Expr,
    TypeInfo,
    kind_constraint,
    not_none_names,
    parse_expr,
    parse_period,
    peek_kinds,
    suggest_name,
)
from .intervals import IntInterval, int_overlaps
from .pack_schema import (
    ClauseRef,
    CriteriaGrading,
    PackModel,
    Provenance,
    Rollup,
    Ruleset,
    Text,
)
from .records import (
    CORE_EVENT_KINDS,
    EVENT_FIELDS,
    SUBJECT_FIELDS,
    AttributeSpec,
    Event,
    EventKind,
)
from .scoring import compile_score
from .sourcemap import PathKey, YamlDocument


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
        by = self.model.pack.version_by
        if by is not None:
            chosen = self.model.windows.get(by)
            if chosen is None:
                self.error(
                    ("pack", "version_by"),
                    f"version_by names no window of this pack: {by!r}"
                    + suggest_name(by, frozenset(self.model.windows)),
                )
            elif chosen.type not in ("calendar_year", "rolling"):
                self.error(
                    ("pack", "version_by"),
                    f"version_by must name a window with a start fixed by as_of (calendar_year "
                    f"or rolling); {by!r} is a window of type {chosen.type}",
                )
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
            self.step(
                "review",
                "review",
                Text(zh="改动的评价值", en="values changed"),
                rv,
                ("review",),
            ),
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
                    self.error(
                        ("calendar", i, *err["loc"]), err["msg"].removeprefix("Value error, ")
                    )
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
                    f"fact {fname!r} has the name of a subject field, a parameter or a "
                    "history fact",
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
            score, score_exprs, veto_exprs = compile_score(
                self, rs.grading, full_scope, (*path, "grading"), slot, fact_types
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
                        self._lambda(
                            weight, ["s", "deposit", "score", "grade", "status"], direct, True
                        ),
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
        source, param_names, subject_reads = generate_ruleset(
            self,
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
            subject_reads=subject_reads,
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
        members = self.try_expr(
            ro.members, sscope, (*path, "members"), scope_name=f"roll-up {ro.id} members"
        )
        rscope = {
            **sscope,
            "grade": TypeInfo("str", optional=True, choices=frozenset(grades)),
            "status": TypeInfo("str", choices=STATUS_CHOICES),
            "exclusion": TypeInfo("str", optional=True, choices=frozenset(exclusion_ids) or None),
        }
        counts = self.try_expr(
            ro.counts, rscope, (*path, "counts"), scope_name=f"roll-up {ro.id} counts"
        )
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

    def _lambda(
        self, expr: Expr, args: list[str], direct: Mapping[str, str], exact: bool = False
    ) -> Callable[..., Any]:
        params: set[str] = set()
        base = self._subject_rename((), params)

        def rename(name: str) -> str:
            return direct[name] if name in direct else base(name)

        body = expr.to_python(rename, exact)
        lines = ["def _make(AS_OF, P):"]
        lines += [f"    p_{p} = P[{p!r}]" for p in sorted(params)]
        lines.append(f"    def _f({', '.join(args)}):")
        for name in expr.names:
            if name in self._history:
                lines.append(f"        h_{name} = H[{name!r}]")
            elif name not in direct and name != "as_of" and name not in self.param_types:
                lines.append(f"        s_{name} = {subject_access(name)}")
        lines.append(f"        return {body}")
        lines.append("    return _f")
        namespace: dict[str, Any] = dict(RUNTIME)
        exec(compile("\n".join(lines), "<roll-up>", "exec"), namespace)
        made: Callable[..., Any] = namespace["_make"]
        return made


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
