"""What a run gives: one ``Result`` per subject (values, grade, roll-ups, lifecycle,
measures; its trace is built only when rendered) and the ``Run`` that holds them, sorted by
subject id, with the warnings reported."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from yibao_credit.compile.plan import CompiledCap, CompiledMeasure, CompiledRollup, CompiledRuleset
from yibao_credit.engine.context import RunContext
from yibao_credit.engine.history import Cycle
from yibao_credit.engine.lifecycle import Lifecycle
from yibao_credit.engine.review import Change
from yibao_credit.engine.validity import SetAside
from yibao_credit.errors import Problem
from yibao_credit.records.contract import Subject


@dataclass(frozen=True, slots=True)
class RollupOutcome:
    rollup: CompiledRollup
    counted: tuple[str, ...]
    band: CompiledCap | None
    before: str | None
    after: str | None
    applied: bool
    reason: str


@dataclass(slots=True)
class Result:
    """One subject's evaluation; the trace is built from it only when rendered."""

    subject: Subject
    ruleset: CompiledRuleset
    context: RunContext
    values: tuple[Any, ...]
    status: str
    exclusion: str | None
    rule: int | None  # index of the grade rule that matched; -1 for the default
    own_grade: str | None
    grade: str | None
    rollups: tuple[RollupOutcome, ...] = ()
    history: Mapping[str, Any] | None = None
    history_cycles: Mapping[str, tuple[Cycle, ...]] | None = None
    measures: tuple[CompiledMeasure, ...] = ()
    measure_checks: tuple[tuple[CompiledMeasure, bool], ...] = ()
    """Measures with a condition, and whether it held."""
    lifecycle: Lifecycle | None = None
    stages: tuple[tuple[str, Any, Any], ...] = ()
    """With review stages: (stage, score, grade) as each stage's values would give."""
    review_changes: tuple[Change, ...] = ()
    set_aside: tuple[SetAside, ...] = ()
    """Events that no longer count: expired, or neutralised by a repair."""
    score: float | None = None
    veto: int | None = None
    """For score grading: the index of the veto that forced the grade, -1 when none did."""
    group: str | None = None

    @property
    def subject_id(self) -> str:
        return self.subject.id


@dataclass
class Run:
    """All results of one evaluation, sorted by subject id, and what was reported."""

    context: RunContext
    results: list[Result]
    warnings: list[Problem]
    _index: dict[str, Result] = field(default_factory=dict, repr=False)

    def __iter__(self) -> Iterator[Result]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def get(self, subject_id: str) -> Result | None:
        if len(self._index) != len(self.results):
            self._index = {r.subject.id: r for r in self.results}
        return self._index.get(subject_id)
