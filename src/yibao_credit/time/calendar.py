"""The official Chinese working-day calendar, for deadlines counted in working days.

Rules say "自…之日起 N 个工作日". Under 《民法典》第201条 such a period starts on the day after
the trigger day, so the deadline is the Nth working day *after* the trigger day; the trigger
day itself never counts, even when it is a working day.

A working day is a Monday to Friday that is not a statutory holiday or a moved day off, or a
Saturday/Sunday that the year's arrangement turns into a make-up working day (调休上班). The
arrangement is published by 国务院办公厅 once a year, in November or December for the next
year, so the calendar can only be known for years whose notice has been published.

The calendar comes from the ``holidays`` package (``holidays.China``), which holds the
official arrangement of each year it knows in ``ChinaStaticHolidays.special_public_holidays``:
per year, tuples ``(to_month, to_day, from_month, from_day[, from_year])`` that move a working
day *from* a weekend date *to* a weekday. The weekday becomes a holiday named
"休息日（由 YYYY-MM-DD 调休）" and the weekend date lands in ``weekend_workdays``. For any other
year the package still computes the lunar festivals and weekend observances, but it has no
make-up working days, so its answer would be a plausible guess. This module therefore treats a
year as *carried* only when the package holds substitution data for it, refuses every other
year with :class:`~yibao_credit.errors.CalendarError`, and lets a policy pack supply a missing
(or corrected) year as a :class:`YearArrangement`.

Everything is precomputed per year when a calendar is built (sets of days off, make-up working
days and a sorted array of working days), so a deadline computation is a few set lookups and
binary searches; no ``holidays`` object is built or consulted per call.
"""

from __future__ import annotations

import bisect
import datetime as dt
import importlib.metadata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import holidays
from pydantic import BaseModel, ConfigDict, Field, model_validator

from yibao_credit.errors import CalendarError, Location, Problem

__all__ = [
    "WorkingCalendar",
    "YearArrangement",
    "default_calendar",
]


_SATURDAY = 5


_LANGUAGE = "zh_CN"  # holiday names as the notices print them (春节, 国庆节, 休息日（由…调休）)


_NOT_PUBLISHED = "calendar.year-not-published"


class YearArrangement(BaseModel):
    """One year's official holiday arrangement, as a policy pack supplies it.

    Needed for a year the ``holidays`` package does not carry yet (the notice for year Y comes
    out in November/December of Y-1, possibly after the installed package was released), or to
    correct a carried year: a supplied arrangement *replaces* the package's data for its year.

    ``days_off`` lists every day off of the year: statutory holidays and the weekdays that
    became days off by 调休 (weekend days may be listed too; they are off anyway).
    ``workdays`` lists the make-up working days, which must fall on a Saturday or Sunday.
    A weekday not in ``days_off`` is a working day; a weekend day is a working day only if it
    is in ``workdays``. All dates must lie inside ``year``: a December day that the next
    year's notice changes is supplied by overriding that December's own year.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    year: int = Field(ge=dt.MINYEAR, le=dt.MAXYEAR)
    notice: str = Field(min_length=1)
    days_off: list[dt.date] = Field(min_length=1)
    workdays: list[dt.date] = []

    @model_validator(mode="after")
    def _check_dates(self) -> YearArrangement:
        """Reject dates outside the year, weekday make-up days and days both off and on."""
        outside = sorted(
            {d for d in [*self.days_off, *self.workdays] if d.year != self.year},
        )
        if outside:
            listed = ", ".join(d.isoformat() for d in outside)
            raise ValueError(f"dates outside {self.year}: {listed}")
        weekdays = sorted(d for d in set(self.workdays) if d.weekday() < _SATURDAY)
        if weekdays:
            listed = ", ".join(d.isoformat() for d in weekdays)
            raise ValueError(
                f"make-up working days must fall on a Saturday or Sunday, "
                f"but these are weekdays: {listed}"
            )
        both = sorted(set(self.days_off) & set(self.workdays))
        if both:
            listed = ", ".join(d.isoformat() for d in both)
            raise ValueError(f"dates both in days_off and workdays: {listed}")
        return self


@dataclass(frozen=True, slots=True)
class _Year:
    """A year's arrangement, precomputed for fast lookups."""

    source: str
    off: Mapping[dt.date, str]  # day off -> name (holiday or moved day off)
    workdays: frozenset[dt.date]  # weekend days that are working days
    working: tuple[int, ...]  # ordinals of all working days of the year, ascending


def _build_year(
    year: int, source: str, off: Mapping[dt.date, str], workdays: Iterable[dt.date]
) -> _Year:
    """Freeze one year's data and list its working days once, for bisecting later."""
    make_up = frozenset(d for d in workdays if d.year == year)
    day = dt.date(year, 1, 1)
    working: list[int] = []
    while day.year == year:
        if (day in make_up) if day.weekday() >= _SATURDAY else (day not in off):
            working.append(day.toordinal())
        if day == dt.date.max:
            break
        day += dt.timedelta(days=1)
    return _Year(
        source=source,
        off=MappingProxyType({d: n for d, n in off.items() if d.year == year}),
        workdays=make_up,
        working=tuple(working),
    )


def _from_arrangement(arrangement: YearArrangement) -> _Year:
    """Turn a pack-supplied arrangement into precomputed year data."""
    name = f"day off per {arrangement.notice}"
    return _build_year(
        arrangement.year,
        arrangement.notice,
        dict.fromkeys(arrangement.days_off, name),
        arrangement.workdays,
    )


def _substituted_years(entity: Any) -> frozenset[int]:
    """Years for which the package holds official 调休 data (substitution tuples).

    ``special_public_holidays`` maps a year to tuples; a 4- or 5-tuple is a substitution
    (a day off moved from a weekend date, which becomes a make-up working day). Only those
    years carry an official arrangement; the rest are computed festivals without 调休.
    """
    table = getattr(entity, "special_public_holidays", None)
    if not isinstance(table, dict):
        return frozenset()
    years: set[int] = set()
    for year, entries in table.items():
        items = entries if entries and isinstance(entries[0], tuple) else (entries,)
        if any(len(item) >= 4 for item in items):
            years.add(int(year))
    return frozenset(years)


@lru_cache(maxsize=1)
def _package_years() -> Mapping[int, _Year]:
    """Precompute every year the installed ``holidays`` package carries (built once)."""
    years = sorted(_substituted_years(holidays.country_holidays("CN", language=_LANGUAGE)))
    if not years:
        return MappingProxyType({})
    cn = holidays.country_holidays("CN", years=years, language=_LANGUAGE)
    source = f"holidays {importlib.metadata.version('holidays')}"
    off: dict[int, dict[dt.date, str]] = {}
    for day, name in cn.items():
        off.setdefault(day.year, {})[day] = str(name)
    workdays = frozenset(cn.weekend_workdays)
    return MappingProxyType(
        {y: _build_year(y, source, off.get(y, {}), workdays) for y in years},
    )


def _spans(years: Iterable[int]) -> str:
    """Render years as compact ranges ("2001–2026, 2028") for messages."""
    ordered = sorted(years)
    if not ordered:
        return "none"
    parts: list[str] = []
    first = last = ordered[0]
    for y in ordered[1:]:
        if y == last + 1:
            last = y
            continue
        parts.append(str(first) if first == last else f"{first}–{last}")
        first = last = y
    parts.append(str(first) if first == last else f"{first}–{last}")
    return ", ".join(parts)


class WorkingCalendar:
    """Working days on the official calendar, for the years whose arrangement is known.

    Years come from the installed ``holidays`` package and from ``arrangements`` supplied by a
    policy pack. A supplied arrangement for a year the package already carries overrides the
    package for that whole year. Any question touching another year raises
    :class:`CalendarError` (code ``calendar.year-not-published``): the calendar never guesses.
    Instances are immutable; all data is precomputed in the constructor.
    """

    __slots__ = ("_years",)

    def __init__(self, arrangements: Iterable[YearArrangement] = ()) -> None:
        years: dict[int, _Year] = dict(_package_years())
        supplied: set[int] = set()
        for arrangement in arrangements:
            if arrangement.year in supplied:
                raise ValueError(
                    f"two arrangements supplied for {arrangement.year}; give one per year"
                )
            supplied.add(arrangement.year)
            years[arrangement.year] = _from_arrangement(arrangement)
        self._years: Mapping[int, _Year] = MappingProxyType(years)

    def __repr__(self) -> str:
        return f"WorkingCalendar(years={_spans(self._years)})"

    def carried_years(self) -> frozenset[int]:
        """Years with an official arrangement (package or supplied): the usable years."""
        return frozenset(self._years)

    def source(self, year: int) -> str:
        """Where a year's arrangement comes from, for provenance in traces and reports."""
        return self._year(year).source

    def is_working_day(self, d: dt.date) -> bool:
        """Whether ``d`` is a working day; raises CalendarError for a year not carried."""
        data = self._year(d.year)
        if d.weekday() >= _SATURDAY:
            return d in data.workdays
        return d not in data.off

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The Nth working day after ``start`` (the 民法典第201条 deadline of N working days).

        ``start`` itself never counts. Only the years of the days after ``start`` up to the
        result are consulted, and each must be carried. ``n`` must be at least 1.
        """
        if n < 1:
            raise ValueError(f"n must be at least 1 working day, got {n}")
        after = start.toordinal()
        remaining = n
        year = self._first_year_after(start)
        while True:
            working = self._year(year).working
            i = bisect.bisect_right(working, after)
            available = len(working) - i
            if remaining <= available:
                return dt.date.fromordinal(working[i + remaining - 1])
            remaining -= available
            year += 1

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Count of working days ``d`` with ``start < d <= end``; negative if ``end < start``.

        The count is a signed difference, so ``between(a, b) + between(b, c) == between(a, c)``
        for any dates, ``between(b, a) == -between(a, b)``, and ``add_working_days(a, n) == b``
        implies ``between(a, b) == n``. An empty range is 0 and consults no year.
        """
        if end < start:
            return -self.working_days_between(end, start)
        if end == start:
            return 0
        lo, hi = start.toordinal(), end.toordinal()
        count = 0
        for year in range(self._first_year_after(start), end.year + 1):
            working = self._year(year).working
            count += bisect.bisect_right(working, hi) - bisect.bisect_right(working, lo)
        return count

    def explain_add(self, start: dt.date, n: int) -> list[tuple[dt.date, str]]:
        """Each day from ``start`` to ``add_working_days(start, n)``, with why it counts or not.

        The first entry is the trigger day ("trigger day, not counted"); then every following
        day up to the deadline: "weekend", "holiday: <name>", "working day k/N", or
        "make-up working day, working day k/N" for a weekend day worked by 调休.
        """
        end = self.add_working_days(start, n)  # validates n and every year consulted
        steps: list[tuple[dt.date, str]] = [(start, "trigger day, not counted")]
        counted = 0
        for ordinal in range(start.toordinal() + 1, end.toordinal() + 1):
            day = dt.date.fromordinal(ordinal)
            data = self._year(day.year)
            if day.weekday() >= _SATURDAY:
                if day in data.workdays:
                    counted += 1
                    steps.append((day, f"make-up working day, working day {counted}/{n}"))
                elif day in data.off:
                    steps.append((day, f"holiday: {data.off[day]}"))
                else:
                    steps.append((day, "weekend"))
            elif day in data.off:
                steps.append((day, f"holiday: {data.off[day]}"))
            else:
                counted += 1
                steps.append((day, f"working day {counted}/{n}"))
        return steps

    def _first_year_after(self, start: dt.date) -> int:
        """The year of the day after ``start`` (without overflowing at date.max)."""
        return start.year + 1 if (start.month, start.day) == (12, 31) else start.year

    def _year(self, year: int) -> _Year:
        """A carried year's data, or CalendarError saying the arrangement is not published."""
        data = self._years.get(year)
        if data is None:
            raise CalendarError(
                Problem(
                    code=_NOT_PUBLISHED,
                    message=(
                        f"no official working-day calendar for {year}: the holiday "
                        f"arrangement (放假调休安排) for {year} is published by 国务院办公厅 "
                        f"each November/December for the following year, and it is not "
                        f"available here (known years: {_spans(self._years)}); a policy pack "
                        f"can supply the {year} arrangement with its notice number"
                    ),
                    location=Location(),
                )
            )
        return data


@lru_cache(maxsize=1)
def default_calendar() -> WorkingCalendar:
    """The package-only calendar, built once per process and shared (it is immutable)."""
    return WorkingCalendar()
