"""Earlier cycles' results, read from the output of an earlier ``evaluate`` (JSON Lines or
CSV: ``subject_id``, ``status``, ``grade``, ``as_of`` and the policy id), checked row by row."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from yibao_credit.errors import Location, Problem, RecordError
from yibao_credit.records.contract import MAX_PROBLEMS, IsoDate
from yibao_credit.records.readers import (
    UTF8,
    StopReading,
    csv_field_limit,
    csv_rows,
    decoding_problem,
    duplicate_key,
    duplicate_key_problem,
    record_file,
)


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


class _Repeated(Exception):
    """A JSON object names a key twice."""


def _once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict, each key once (the last value would silently win)."""
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _Repeated
    return out


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
            if isinstance(raw, str):
                try:
                    data = json.loads(raw, object_pairs_hook=_once)
                except _Repeated:
                    repeated = duplicate_key(raw) or "?"
                    self.problems.append(
                        duplicate_key_problem(repeated, loc.file or "", line, "record.history")
                    )
                    return
            else:
                data = raw
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
    path: str | Path,
    policy_id: str | None = None,
    grades: Iterable[str] | None = None,
    *,
    encoding: str = UTF8,
) -> HistoryRecords:
    """Read a file of earlier results (.jsonl or .csv, as evaluate writes them); results of
    another pack, unknown grades, duplicates and malformed rows are errors with their line.
    ``encoding``: the file's text encoding (UTF-8 by default, as for ``read_subjects``)."""
    p = Path(path)
    collect = _Collector(str(p), policy_id, frozenset(grades) if grades is not None else None)
    with record_file(p, "record.history.file", encoding) as (suffix, handle), csv_field_limit():
        try:
            if suffix == ".csv":
                rows: Iterable[tuple[int, Any]] = csv_rows(
                    handle, str(p), "record.history", empty_ok=True
                )
            else:
                rows = ((i + 1, line) for i, line in enumerate(handle) if line.strip())
            for line, raw in rows:
                if len(collect.problems) >= MAX_PROBLEMS:
                    break
                collect.add(line, raw)
        except StopReading as stop:
            collect.problems.append(stop.problem)
        except UnicodeDecodeError:  # the file as a whole, as for the other records files
            collect.problems[:] = [decoding_problem(p, encoding)]
    return collect.done()


def history_from_python(
    results: Iterable[Mapping[str, Any]],
    policy_id: str | None = None,
    grades: Iterable[str] | None = None,
    source: str = "<python>",
) -> HistoryRecords:
    """Earlier results given as dicts (e.g. ``result_to_dict`` of last year's run), checked
    as a file would be; the position (1-based) stands in for the line, and ``source`` names
    where they came from (``request`` for the service) in located problems."""
    collect = _Collector(
        f"{source}[history]", policy_id, frozenset(grades) if grades is not None else None
    )
    for index, raw in enumerate(results, 1):
        collect.add(index, dict(raw))
    return collect.done()
