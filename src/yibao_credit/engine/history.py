"""History facts: what rules read of a subject's earlier results.

The cycle before a result is the one whose ``as_of`` lies exactly one cycle back (a year back
from 2024-12-31 is 2023-12-31). A cycle with no result is *missing*: it is shown as missing in
the trace and never assumed to have had any grade.

An earlier result may also have *lapsed* (``history.lapse``; 济医保字〔2023〕19号 三(五)
"不良行为信息有效期届满…后,原信用主体评价结果自动失效"): the events it counted in the lapse's
facts have all expired under the pack's ``validity`` or been repaired since. A lapsed cycle has
no grade for any history fact, as an excluded one has none, and the trace shows it as
``lapsed`` with the events that made it lapse. Both engines take their readings from here.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from yibao_credit.compile.plan import (
    CompiledFact,
    CompiledHistoryFact,
    CompiledHistoryLapse,
    Plan,
    ValidityRules,
)
from yibao_credit.engine.pyexpr import node_to_python
from yibao_credit.engine.runtime import RUNTIME
from yibao_credit.pack.schema import HistoryFact, Text, Window
from yibao_credit.records.contract import Event, EventLike
from yibao_credit.records.history import HistoryRecords
from yibao_credit.time.periods import parse_period, shift_period
from yibao_credit.time.windows import window_bounds


@dataclass(frozen=True, slots=True)
class LapsedEvent:
    """An event an earlier result counted that no longer counts: expired after
    ``counted_until``, or repaired by ``repaired_by`` on ``repaired_on``."""

    id: str
    kind: str
    date: dt.date
    counted_until: dt.date | None = None
    repaired_by: str | None = None
    repaired_on: dt.date | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "kind": self.kind, "date": self.date.isoformat()}
        if self.repaired_by is not None:
            assert self.repaired_on is not None
            out["repaired_by"] = self.repaired_by
            out["repaired_on"] = self.repaired_on.isoformat()
        else:
            assert self.counted_until is not None
            out["counted_until"] = self.counted_until.isoformat()
        return out


@dataclass(frozen=True, slots=True)
class Lapse:
    """Why an earlier result lapsed: its grade, the events it counted (each now expired or
    repaired), and the provenance of the pack's ``history.lapse``."""

    grade: str
    events: tuple[LapsedEvent, ...]
    clause: str | None
    provisional: Text | None = None


@dataclass(frozen=True, slots=True)
class Cycle:
    """What history says of one earlier cycle: its as_of and what was found."""

    as_of: dt.date
    status: str  # graded, excluded, missing or lapsed
    grade: str | None
    """The grade history facts read: None when excluded, missing or lapsed."""
    lapse: Lapse | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "as_of": self.as_of.isoformat(),
            "status": self.status,
            "grade": self.grade,
        }
        if self.lapse is not None:
            out["lapsed_grade"] = self.lapse.grade
            out["clause"] = self.lapse.clause
            if self.lapse.provisional:  # both languages: the renderer picks one
                out["provisional"] = self.lapse.provisional
            out["events"] = [e.to_dict() for e in self.lapse.events]
        return out


class PastEvent(EventLike, Protocol):
    """What a lapse reads of an event: what a trace shows of it, and the event it repairs
    (an ``Event``, with free attributes for a fact's filter, as each engine has it)."""

    @property
    def repairs(self) -> str | None: ...


MAX_CYCLES = 50


"""How far back a ``held`` run is followed at most."""


@functools.lru_cache(maxsize=4096)
def cycle_as_of(as_of: dt.date, cycle: str, back: int) -> dt.date:
    """The as_of of the cycle ``back`` cycles before (computed from as_of, never stepwise, so
    a month-end never drifts)."""
    n, unit = parse_period(cycle)
    return shift_period(as_of, f"{n * back}{unit}", -1)


def look_back(
    history: HistoryRecords | None, subject_id: str, as_of: dt.date, cycle: str, back: int
) -> Cycle:
    day = cycle_as_of(as_of, cycle, back)
    found = history.get(subject_id, day) if history is not None else None
    if (
        found is None
        and history is not None
        and (day.month, day.day) == (2, 28)
        and calendar.isleap(day.year)
    ):
        # The year after 29 February ends on 28 February (《民法典》第202条): a result as of
        # the 29th is the one a year before a result as of the 28th.
        leap_day = day.replace(day=29)
        found = history.get(subject_id, leap_day)
        if found is not None:
            day = leap_day
    if found is None:
        return Cycle(day, "missing", None)
    return Cycle(day, found.status, found.grade if found.status == "graded" else None)


# -- lapse (history.lapse) ---------------------------------------------------------------------
Admits = Callable[[Any], bool]

_FILTERS: dict[int, tuple[CompiledHistoryLapse, tuple[tuple[CompiledFact, Admits], ...]]] = {}
"""Per lapse (by identity; the lapse is kept beside its entry): each fact and its filter."""


def _filters(lapse: CompiledHistoryLapse) -> tuple[tuple[CompiledFact, Admits], ...]:
    """Each fact of the lapse with a test of whether its filter admits an event: its kinds,
    and the rest of its ``where`` as the Python engine's generated code reads it."""
    found = _FILTERS.get(id(lapse))
    if found is not None and found[0] is lapse:
        return found[1]
    out: list[tuple[CompiledFact, Admits]] = []
    for f in lapse.facts:
        rest: Admits | None = None
        if f.residual is not None:
            source = node_to_python(f.residual, _event_name)
            namespace: dict[str, Any] = dict(RUNTIME)
            # a checked expression of the pack, as every generated function is made from
            exec(compile(f"def _f(e):\n    return {source}\n", "<lapse>", "exec"), namespace)
            rest = namespace["_f"]
        out.append((f, _admits(f.kinds, rest)))
    if len(_FILTERS) >= 256:
        _FILTERS.clear()
    _FILTERS[id(lapse)] = (lapse, tuple(out))
    return tuple(out)


def _event_name(name: str) -> str:
    return f"e.{name}" if name in Event.model_fields else f"_x(e, {name!r})"


def _admits(kinds: frozenset[str] | None, rest: Admits | None) -> Admits:
    def admits(e: Any) -> bool:
        if kinds is not None and e.kind not in kinds:
            return False
        return rest is None or bool(rest(e))

    return admits


def lapsed_events(
    lapse: CompiledHistoryLapse,
    windows: Mapping[str, Window],
    validity: ValidityRules,
    events: Iterable[PastEvent],
    earlier: dt.date,
    as_of: dt.date,
) -> tuple[LapsedEvent, ...] | None:
    """The events the result as of ``earlier`` counted, each expired or repaired as of
    ``as_of`` — or None when it counted none (nothing to lapse on: a result is never taken to
    lapse for want of records) or one of them still counts.

    Counted as of ``earlier``: an event dated on or before it that a fact of the lapse admits
    (its filter, and its window bounded as of ``earlier``), not expired by then (its validity
    period, from the day after its date, 《民法典》第201条、第202条, ended on or after
    ``earlier``) and not repaired by a repair dated on or before it. No longer counting as of
    ``as_of``: repaired by a repair dated on or before ``as_of`` (the last one, as the run's own
    ``repair`` step shows), or past the end of its validity period (届满 includes the last day,
    第1259条).
    """
    known = sorted((e for e in events if e.date <= as_of), key=lambda e: (e.date, e.id))
    repairs: dict[str, list[PastEvent]] = {}
    if validity.repair_step is not None:
        by_id = {e.id: e for e in known}
        for e in known:
            if e.kind != "repair" or e.repairs is None:
                continue
            target = by_id.get(e.repairs)
            # A repair naming nothing repairable is an input error the run reports itself.
            if target is not None and target.kind in validity.repairable:
                repairs.setdefault(target.id, []).append(e)
    tests = [
        (window_bounds(windows[f.window or ""], earlier), admits) for f, admits in _filters(lapse)
    ]
    out: list[LapsedEvent] = []
    for e in known:
        if e.date > earlier:
            break
        rule = validity.periods.get(e.kind)
        until = shift_period(e.date, rule[0]) if rule is not None else None
        if until is not None and earlier > until:
            continue  # expired before the earlier result: it did not count there
        fixes = repairs.get(e.id, ())
        if any(r.date <= earlier for r in fixes):
            continue  # repaired before the earlier result
        if not any(
            (b.start is None or b.start <= e.date) and e.date <= b.end and admits(e)
            for b, admits in tests
        ):
            continue  # no fact of the lapse counted it
        if fixes:
            last = fixes[-1]
            out.append(
                LapsedEvent(e.id, e.kind, e.date, repaired_by=last.id, repaired_on=last.date)
            )
        elif until is not None and as_of > until:
            out.append(LapsedEvent(e.id, e.kind, e.date, counted_until=until))
        else:
            return None  # it still counts: the earlier result stands
    return tuple(out) or None


class _Lookups:
    """One subject's earlier cycles, each looked up (and its lapse judged) once."""

    def __init__(
        self,
        history: HistoryRecords | None,
        subject_id: str,
        as_of: dt.date,
        cycle: str,
        lapse: CompiledHistoryLapse | None,
        plan: Plan | None,
        events: Sequence[PastEvent],
    ) -> None:
        self.args = (history, subject_id, as_of, cycle)
        self.lapse = lapse
        self.plan = plan
        self.events = events
        self.seen: dict[int, Cycle] = {}

    def __call__(self, back: int) -> Cycle:
        found = self.seen.get(back)
        if found is None:
            found = self.seen[back] = self._lapsed(look_back(*self.args, back))
        return found

    def _lapsed(self, c: Cycle) -> Cycle:
        lapse = self.lapse
        if lapse is None or c.grade is None or c.grade not in lapse.grades or not self.events:
            return c
        assert self.plan is not None
        as_of = self.args[2]
        why = lapsed_events(
            lapse, self.plan.windows, self.plan.validity, self.events, c.as_of, as_of
        )
        if why is None:
            return c
        return Cycle(c.as_of, "lapsed", None, Lapse(c.grade, why, lapse.clause, lapse.provisional))


def history_fact(
    fact: HistoryFact,
    history: HistoryRecords | None,
    subject_id: str,
    as_of: dt.date,
    cycle: str,
    rank: Mapping[str, int],
    look: Callable[[int], Cycle] | None = None,
) -> tuple[Any, tuple[Cycle, ...]]:
    """A history fact's value and the cycles it looked at (for the trace). ``look``: the cycle
    ``back`` cycles before (default: as the history records have it, nothing lapsed)."""
    if look is None:

        def look(back: int) -> Cycle:
            return look_back(history, subject_id, as_of, cycle, back)

    if fact.op in ("previous", "previous_rank"):
        c = look(fact.back)
        if fact.op == "previous":
            return c.grade, (c,)
        return (rank.get(c.grade) if c.grade is not None else None), (c,)
    grades = set(fact.grades or ())
    if fact.op == "held":
        seen: list[Cycle] = []
        for back in range(1, MAX_CYCLES + 1):
            c = look(back)
            seen.append(c)
            if c.grade not in grades:
                return back - 1, tuple(seen)
        return MAX_CYCLES, tuple(seen)
    assert fact.within is not None
    cycles = tuple(look(back) for back in range(1, fact.within + 1))
    return sum(1 for c in cycles if c.grade in grades), cycles


def history_readings(
    facts: Sequence[CompiledHistoryFact],
    history: HistoryRecords | None,
    subject_id: str,
    as_of: dt.date,
    cycle: str,
    rank: Mapping[str, int],
    lapse: CompiledHistoryLapse | None = None,
    plan: Plan | None = None,
    events: Sequence[PastEvent] = (),
) -> tuple[dict[str, Any], dict[str, tuple[Cycle, ...]]]:
    """Every history fact of a ruleset for one subject, and the cycles each looked at.

    ``lapse`` (the ruleset's ``history.lapse``), ``plan`` (its windows and validity rules) and
    ``events`` (the subject's events up to as_of, counted or set aside, repairs included) judge
    whether an earlier result has lapsed; without events no result lapses."""
    look = _Lookups(history, subject_id, as_of, cycle, lapse, plan, events)
    values: dict[str, Any] = {}
    cycles: dict[str, tuple[Cycle, ...]] = {}
    for h in facts:
        values[h.name], cycles[h.name] = history_fact(
            h.fact, history, subject_id, as_of, cycle, rank, look
        )
    return values, cycles
