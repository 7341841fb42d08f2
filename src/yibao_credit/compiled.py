"""What a pack compiles to: the steps, facts, checks, scores and rulesets the engine runs,
and the few runtime helpers generated code may call. Data only; the checks that build it live
in ``compiler``, the code generation in ``codegen`` and ``scoring``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from .expressions import FUNCTION_IMPLS
from .intervals import IntInterval, RealInterval
from .pack_schema import HistoryFact, Text
from .records import Event, Subject

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
    memo: dict[str, dict[Any, Any]] = field(default_factory=dict, repr=False)
    """Per-ruleset caches of rendering plans (kept here, not keyed by id(), so they die with
    the ruleset)."""
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
    "_Fraction": Fraction,
    **FUNCTION_IMPLS,
}


def subject_access(name: str) -> str:
    """How generated code reads a subject field: an attribute, or a free attribute."""
    return f"s.{name}" if name in Subject.model_fields else f"_sx(s, {name!r})"
