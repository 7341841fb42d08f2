"""The plan: what a pack compiles to, and the only thing a back-end reads.

Every node is immutable data: steps with their clause, facts with their checked filter,
checks with their checked condition, score items, bands, roll-ups, measures, procedures. Each
condition is kept as a checked expression (``Expr``: text, tree, names, type), never as code,
so the Python back-end (``engine``) generates Python from it and a SQL back-end generates SQL
from the same tree. Slots number the values one evaluation of a ruleset yields, in a fixed
order (facts, evidence lists, exclusions, criteria, score items and categories, total, vetoes),
so that every back-end can hand the renderer the same values tuple.
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from yibao_credit.compile.expressions import Expr
from yibao_credit.compile.intervals import IntInterval, RealInterval
from yibao_credit.errors import Location
from yibao_credit.pack.schema import Effective, HistoryFact, Parameter, Text, Window
from yibao_credit.records.contract import AttributeSpec, EventKind
from yibao_credit.time.calendar import WorkingCalendar, YearArrangement, default_calendar
from yibao_credit.time.windows import window_bounds

STATUS_CHOICES = frozenset({"graded", "excluded"})

ScoreNumber = float | str
"""A weight, cap or band edge of a score grading: a number, or the name of the dated parameter
that gives it (a numeric parameter, checked by the compiler). Back-ends read the name as they
read a parameter in an expression: its value in force on the run's date, or the evaluation
group's own value."""


@dataclass(frozen=True, eq=False)
class StepSpec:
    """The fixed part of a trace step: what it is, where it comes from, what it reads.

    Compared and hashed by identity: each step of a compiled pack is one object.
    """

    id: str
    kind: str  # window, fact, exclusion, criterion, grade, rollup
    title: Text
    clause: str | None
    provisional: Text | None = None
    """Why the rule or value is provisional, in both languages (``Text.get``)."""
    note: Text | None = None
    """The pack's reading of the text, in both languages."""
    expr: str | None = None
    reads: tuple[str, ...] = ()
    fixed_inputs: tuple[tuple[str, Any], ...] = ()
    """Inputs that are the same for every subject (an event fact's window, op and filter)."""
    clause_kind: str = "article"
    """``subject`` when the clause cites a document by subject rather than by clause number
    (``ClauseRef.kind``); the trace marks such a citation."""


@dataclass(frozen=True)
class CompiledReview:
    """Review stages: which event kind carries assessed values, and the stages in order."""

    kind: str
    attribute: str
    stages: tuple[str, ...]
    key: tuple[str, ...]
    step: StepSpec


@dataclass(frozen=True)
class ValidityRules:
    """The pack's validity periods by event kind, and what a repair can neutralise."""

    periods: Mapping[str, tuple[str, StepSpec]]
    repairable: frozenset[str]
    repair_step: StepSpec | None

    def __bool__(self) -> bool:
        return bool(self.periods) or self.repair_step is not None


@dataclass(frozen=True)
class CompiledFact:
    """A fact: an aggregate over the subject's windowed events, or a computed value."""

    name: str
    op: str  # count | exists | sum | max | min | compute
    window: str | None
    slot: int
    evidence_slot: int | None
    step: StepSpec
    of: str | None = None
    """The attribute summed, or of which the max or min is taken."""
    where: Expr | None = None
    """The event filter as written (checked); None: every event of the window."""
    kinds: frozenset[str] | None = None
    """The event kinds the filter admits (``kind == 'x'`` taken out of it); None: any kind."""
    residual: ast.expr | None = None
    """What is left of the filter once the kind test is taken out; None: nothing."""
    expr: Expr | None = None
    """A compute fact's expression."""


@dataclass(frozen=True)
class CompiledCheck:
    """An exclusion, a criterion or a veto: a condition with its slot in the values tuple."""

    id: str
    slot: int
    step: StepSpec
    expr: Expr


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
    """A group rule run after members are graded: how many members count caps the head."""

    id: str
    head: str
    step: StepSpec
    members: Expr
    """Over the subject: is it a member of the group its ``head`` field names?"""
    counts: Expr
    """Over (subject, grade, status, exclusion): does this member count?"""
    caps: tuple[CompiledCap, ...]

    @property
    def members_expr(self) -> str:
        return self.members.text

    @property
    def counts_expr(self) -> str:
        return self.counts.text


@dataclass(frozen=True)
class CompiledMeasure:
    id: str
    title: Text
    params: Mapping[str, Any]
    step: StepSpec
    when: Expr | None = None
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
class CompiledDatedProcedure:
    """A deadline on a fixed calendar day (``by: MM-DD``): that day in the year
    ``years_after`` years after the year in which ``window`` ends on as_of."""

    id: str
    month: int
    day: int
    window: str
    years_after: int
    step_due: str | None
    """The procedure record due by that day (``notification``…), or None: a date only."""
    step: StepSpec
    """The deadline (outcome: its date)."""
    outcome_step: StepSpec | None
    """With ``step_due``: whether that record came by the day (``lifecycle.<id>``)."""


@dataclass(frozen=True)
class CompiledItem:
    id: str
    category: str
    slot: int
    step: StepSpec
    per: str | None
    points: float | None
    cap: ScoreNumber | None
    reads: tuple[str, ...]
    """What the points read (facts, parameters, fields): the trace shows them as inputs."""
    monitoring: bool = False
    points_expr: Expr | None = None
    """Points given by an expression (``points: linear(...)``) instead of a number."""
    when: Expr | None = None
    """The item scores only when this holds."""


@dataclass(frozen=True)
class CompiledCategory:
    id: str
    slot: int
    step: StepSpec
    base: float
    cap: ScoreNumber | None
    min: float | None
    max: float | None
    weight: ScoreNumber
    items: tuple[CompiledItem, ...]


@dataclass(frozen=True)
class CompiledBand:
    """A grade's score interval; an edge is a number or the name of a parameter."""

    grade: str
    step: StepSpec
    low: ScoreNumber
    low_inclusive: bool
    high: ScoreNumber
    high_inclusive: bool
    row: int
    """The band's row in the pack (1-based), for messages."""

    @property
    def named_edges(self) -> tuple[tuple[str, str], ...]:
        """``("low", name)``, ``("high", name)`` for each edge a parameter gives."""
        return tuple(
            (side, e) for side, e in (("low", self.low), ("high", self.high)) if isinstance(e, str)
        )

    @property
    def parameters(self) -> tuple[str, ...]:
        """The parameters that give an edge (low first)."""
        return tuple(name for _, name in self.named_edges)

    def interval(self, value: Callable[[str], Any] | None = None) -> RealInterval:
        """The interval, each parameter edge at ``value(name)`` (its value on a run)."""

        def edge(e: ScoreNumber) -> float:
            if isinstance(e, str):
                assert value is not None, f"band edge {e!r} is a parameter: give its value"
                return float(value(e))
            return e

        return RealInterval(
            edge(self.low), self.low_inclusive, edge(self.high), self.high_inclusive, self.row
        )


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
    """An evaluation group: a subject condition, and the parameter values it sets."""

    id: str
    title: Text
    params: Mapping[str, Any]
    step: StepSpec
    when: Expr


@dataclass(frozen=True)
class CompiledAllocation:
    weight: Expr
    """Over (subject, deposit, score, grade, status); evaluated with exact decimals."""
    excluded: str
    step: StepSpec
    requires_final: StepSpec | None = None
    """Set when the pool may be shared only among final results (its clause and note)."""


@dataclass(frozen=True)
class CompiledHistoryFact:
    name: str
    fact: HistoryFact
    step: StepSpec


@dataclass(frozen=True, eq=False)
class CompiledHistoryLapse:
    """When an earlier result lapses (``history.lapse``): the grades that can, the event facts
    whose events it rests on (their filters and windows, bounded as of the earlier as_of), and
    its provenance. Hashed by identity (the engine keeps the facts' filters per lapse)."""

    grades: frozenset[str]
    facts: tuple[CompiledFact, ...]
    clause: str | None
    provisional: Text | None = None


@dataclass(frozen=True)
class CompiledAnalysis:
    """The key indicators (重点指标) the analysis of results looks at first: names of the
    ruleset's facts, score items or score categories, checked; with the clause and reading
    behind the choice (``step``: its clause, note and provisional text)."""

    key_indicators: tuple[str, ...]
    step: StepSpec


@dataclass(frozen=True, eq=False)
class CompiledRuleset:
    """One subject type's rules. Hashed by identity: renderers key caches on it."""

    id: str
    title: Text
    type: str
    categories: frozenset[str] | None
    required: tuple[str, ...]
    windows: tuple[str, ...]
    """The windows the facts read, in the order they are first read."""
    period: str | None
    """The window whose bounds are the period each result evaluates (``period`` in it)."""
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
    slots: int = 0
    rank: Mapping[str, int] = field(default_factory=dict)
    fact_slots: Mapping[str, int] = field(default_factory=dict)
    window_steps: Mapping[str, StepSpec] = field(default_factory=dict)
    evidence_slots: Mapping[str, int] = field(default_factory=dict)
    history_cycle: str | None = None
    history: tuple[CompiledHistoryFact, ...] = ()
    history_lapse: CompiledHistoryLapse | None = None
    score: CompiledScore | None = None
    groups: tuple[CompiledGroup, ...] = ()
    allocation: CompiledAllocation | None = None
    condition: Expr | None = None
    """The ruleset's ``applies_to.when`` over the subject (parameters do not enter it)."""
    has_provisional: bool = False
    """Whether any rule of the ruleset (or of the pack's procedures) is provisional."""
    applies_to_at: Location = field(default_factory=lambda: Location(None))
    """Where ``applies_to`` is written: an overlap found at run time is reported there."""
    analysis: CompiledAnalysis | None = None
    """The pack's key indicators for the analysis of results (``analysis:``), if it names any."""

    def matches_type(self, subject_type: str, category: str | None) -> bool:
        """Type and category: what ``applies_to`` says apart from its condition."""
        if subject_type != self.type:
            return False
        return self.categories is None or category in self.categories


@dataclass(frozen=True)
class ParamOverride:
    """A parameter's value set for a run instead of the pack's (``--set``): the value, and
    the parameter as the pack declares it, so that a trace can show what it replaced."""

    value: Any
    pack: Parameter


@dataclass(frozen=True, eq=False)
class Plan:
    """A whole pack, compiled: everything an evaluation back-end needs, nothing it computes.

    Hashed by identity; the Python back-end keeps its generated code per plan.
    """

    id: str
    version: str
    sha256: str
    """The pack file's SHA-256 (for a pack that extends another: of the whole chain)."""
    file: str
    effective: Effective
    effective_at: Location
    version_by: str | None
    windows: Mapping[str, Window]
    parameters: Mapping[str, Parameter]
    rulesets: Mapping[str, CompiledRuleset]
    event_kinds: Mapping[str, EventKind]
    subject_attributes: Mapping[str, AttributeSpec]
    procedures: Mapping[str, CompiledProcedure]
    validity: ValidityRules
    review: CompiledReview | None
    arrangements: tuple[YearArrangement, ...] = ()
    dated_procedures: tuple[CompiledDatedProcedure, ...] = ()
    """Deadlines on fixed calendar days (``by: MM-DD``), in the pack's order."""
    overrides: Mapping[str, ParamOverride] = field(default_factory=dict)
    """Parameters given another value for a run (``--set``, ``Policy.with_overrides``), by
    name; empty for the pack as published. ``parameters`` already holds the values set."""

    @cached_property
    def calendar(self) -> WorkingCalendar:
        """The official working-day calendar, with the years the pack supplies (built on
        first use: most runs count no working days)."""
        return WorkingCalendar(self.arrangements) if self.arrangements else default_calendar()

    @property
    def grade_labels(self) -> frozenset[str]:
        """Every grade label of every ruleset (what an earlier result may hold)."""
        return frozenset(g for rs in self.rulesets.values() for g in rs.grades)

    def selection_date(self, as_of: dt.date) -> dt.date:
        """The date that picks this pack among its versions: as_of, or the start of the
        window ``version_by`` names (the evaluated year)."""
        if self.version_by is None:
            return as_of
        return window_bounds(self.windows[self.version_by], as_of).start or as_of

    def in_force(self, day: dt.date) -> bool:
        eff = self.effective
        return eff.from_ <= day and (eff.to is None or day <= eff.to)
