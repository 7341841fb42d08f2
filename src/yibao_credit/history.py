"""Earlier cycles' results, and the history facts rules read from them.

History comes in as a file of earlier results in the output format (JSON Lines or CSV, as
``evaluate`` writes them): ``subject_id``, ``status``, ``grade``, ``as_of`` and the policy id.
The cycle before a result is the one whose ``as_of`` lies exactly one cycle back (a year back
from 2024-12-31 is 2023-12-31). A cycle with no result is *missing*: it is shown as missing in
the trace and never assumed to have had any grade.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from .errors import Location, Problem, RecordError
from .expressions import parse_period, shift_period
from .pack_schema import HistoryFact
from .records import MAX_PROBLEMS, IsoDate, record_file


class PastResult(BaseModel):
    """One earlier result; other keys of the output format (trace, measures…) are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    subject_id: str
    status: Literal["graded", "excluded"]
    grade: str | None = None
    as_of: IsoDate
    policy_id: str | None = None

    @model_validator(mode="after")
    def _grade_iff_graded(self) -> PastResult:
        if self.status == "graded" and not self.grade:
            raise ValueError("a graded result needs its grade")
        if self.status == "excluded" and self.grade:
            raise ValueError("an excluded result has no grade")
        return self


@dataclass
class HistoryRecords:
    """Earlier results by (subject id, as_of), with the place each came from."""

    results: dict[tuple[str, dt.date], PastResult] = field(default_factory=dict)
    lines: dict[tuple[str, dt.date], int] = field(default_factory=dict)
    file: str | None = None

    def get(self, subject_id: str, as_of: dt.date) -> PastResult | None:
        return self.results.get((subject_id, as_of))

    def subject_ids(self) -> frozenset[str]:
        """The subjects with at least one earlier result."""
        return frozenset(sid for sid, _ in self.results)


def _row(raw: dict[str, Any]) -> dict[str, Any]:
    """Accept both output formats: JSON's nested ``policy`` and CSV's ``policy_id``."""
    policy = raw.get("policy")
    if isinstance(policy, dict) and "policy_id" not in raw:
        raw = {**raw, "policy_id": policy.get("id")}
    return {k: (None if v == "" else v) for k, v in raw.items()}


class _Collector:
    """Adds rows to HistoryRecords with the same checks whatever the source."""

    def __init__(self, name: str, policy_id: str | None, grades: frozenset[str] | None) -> None:
        self.out = HistoryRecords(file=name)
        self.problems: list[Problem] = []
        self.policy_id = policy_id
        self.grades = grades

    def add(self, line: int, raw: Any) -> None:
        loc = Location(self.out.file, line)
        try:
            data = json.loads(raw) if isinstance(raw, str) else raw
            if not isinstance(data, dict):
                raise ValueError("each line must be a JSON object")
            record = PastResult.model_validate(_row(data))
        except ValidationError as exc:
            message = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'result'}: "
                f"{e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors(include_url=False)
            )
            self.problems.append(Problem("record.history", message, loc))
            return
        except ValueError as exc:
            self.problems.append(Problem("record.history", str(exc).splitlines()[0], loc))
            return
        if self.policy_id is not None and record.policy_id not in (None, self.policy_id):
            self.problems.append(
                Problem(
                    "record.history.other-policy",
                    f"a result of pack {record.policy_id!r}, not {self.policy_id!r}",
                    Location(self.out.file, line, None, "policy"),
                )
            )
            return
        if self.grades is not None and record.grade is not None and record.grade not in self.grades:
            self.problems.append(
                Problem(
                    "record.history.unknown-grade",
                    f"{record.grade!r} is not a grade of this pack "
                    f"({', '.join(sorted(self.grades))})",
                    Location(self.out.file, line, None, "grade"),
                )
            )
            return
        key = (record.subject_id, record.as_of)
        if key in self.out.results:
            self.problems.append(
                Problem(
                    "record.history.duplicate",
                    f"a second result for {record.subject_id!r} as of {record.as_of} "
                    f"(first on line {self.out.lines[key]})",
                    loc,
                )
            )
            return
        self.out.results[key] = record
        self.out.lines[key] = line

    def done(self) -> HistoryRecords:
        if self.problems:
            raise RecordError(self.problems[:MAX_PROBLEMS])
        return self.out


def read_history(
    path: str | Path, policy_id: str | None = None, grades: Iterable[str] | None = None
) -> HistoryRecords:
    """Read a file of earlier results (.jsonl or .csv, as evaluate writes them); results of
    another pack, unknown grades, duplicates and malformed rows are errors with their line."""
    p = Path(path)
    collect = _Collector(str(p), policy_id, frozenset(grades) if grades is not None else None)
    with record_file(p, "record.history.file") as (suffix, handle):
        if suffix == ".csv":
            reader = csv.DictReader(handle)
            rows: Iterable[tuple[int, Any]] = ((reader.line_num, row) for row in reader)
        else:
            rows = ((i + 1, line) for i, line in enumerate(handle) if line.strip())
        for line, raw in rows:
            if len(collect.problems) >= MAX_PROBLEMS:
                break
            collect.add(line, raw)
    return collect.done()


def history_from_python(
    results: Iterable[Mapping[str, Any]],
    policy_id: str | None = None,
    grades: Iterable[str] | None = None,
) -> HistoryRecords:
    """Earlier results given as dicts (e.g. ``result_to_dict`` of last year's run), checked
    as a file would be; the position (1-based) stands in for the line."""
    collect = _Collector(
        "<python>[history]", policy_id, frozenset(grades) if grades is not None else None
    )
    for index, raw in enumerate(results, 1):
        collect.add(index, dict(raw))
    return collect.done()


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
