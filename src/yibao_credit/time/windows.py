"""Windows: which events count for an evaluation as of a date.

Bounds are inclusive dates. "1年之内" as of D is the year ending on D: from the day after D
minus one year, to D (a year back from 29 February lands on 28 February). A calendar-year
window is a whole year (the previous one for "上一年度"), never reaching past ``as_of``. A
``since`` window starts on a date of the subject itself (its agreement, say).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from yibao_credit.time.periods import shift_period


class WindowSpec(Protocol):
    """What bounds a window: the pack's ``windows:`` entry has these (time knows no packs)."""

    @property
    def type(self) -> str: ...
    @property
    def length(self) -> str | None: ...
    @property
    def offset(self) -> int: ...
    @property
    def cycle(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Bounds:
    start: dt.date | None  # None: open (all history, or a subject date filled in per subject)
    end: dt.date

    def describe(self) -> str:
        start = self.start.isoformat() if self.start else "…"
        return f"{start} .. {self.end.isoformat()}"


def window_bounds(window: WindowSpec, as_of: dt.date, length: str | None = None) -> Bounds:
    """The run-wide bounds of a window; ``since`` windows get their start per subject."""
    if window.type == "rolling":
        period = length if length is not None else window.length
        assert period is not None
        start = shift_period(as_of, period, -1) + dt.timedelta(days=1)
        return Bounds(start, as_of)
    if window.type == "calendar_year":
        year = as_of.year + window.offset
        if window.cycle == "completed" and (as_of.month, as_of.day) != (12, 31):
            year -= 1  # the year of as_of has not ended: the last one that has
        return Bounds(dt.date(year, 1, 1), min(dt.date(year, 12, 31), as_of))
    return Bounds(None, as_of)
