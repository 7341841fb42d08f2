"""History facts: what rules read of a subject's earlier results.

The cycle before a result is the one whose ``as_of`` lies exactly one cycle back (a year back
from 2024-12-31 is 2023-12-31). A cycle with no result is *missing*: it is shown as missing in
the trace and never assumed to have had any grade.
"""

from __future__ import annotations

import calendar
import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yibao_credit.pack.schema import HistoryFact
from yibao_credit.records.history import HistoryRecords
from yibao_credit.time.periods import parse_period, shift_period


@dataclass(frozen=True, slots=True)
class Cycle:
    """What history says of one earlier cycle: its as_of and what was found."""

    as_of: dt.date
    status: str  # graded, excluded or missing
    grade: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "status": self.status, "grade": self.grade}


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


def history_fact(
    fact: HistoryFact,
    history: HistoryRecords | None,
    subject_id: str,
    as_of: dt.date,
    cycle: str,
    rank: Mapping[str, int],
) -> tuple[Any, tuple[Cycle, ...]]:
    """A history fact's value and the cycles it looked at (for the trace)."""
    if fact.op in ("previous", "previous_rank"):
        c = look_back(history, subject_id, as_of, cycle, fact.back)
        if fact.op == "previous":
            return c.grade, (c,)
        return (rank.get(c.grade) if c.grade is not None else None), (c,)
    grades = set(fact.grades or ())
    if fact.op == "held":
        seen: list[Cycle] = []
        for back in range(1, MAX_CYCLES + 1):
            c = look_back(history, subject_id, as_of, cycle, back)
            seen.append(c)
            if c.grade not in grades:
                return back - 1, tuple(seen)
        return MAX_CYCLES, tuple(seen)
    assert fact.within is not None
    cycles = tuple(
        look_back(history, subject_id, as_of, cycle, back) for back in range(1, fact.within + 1)
    )
    return sum(1 for c in cycles if c.grade in grades), cycles
