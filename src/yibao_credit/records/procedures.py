"""Procedure records: when a result was notified, when an objection was received, and what
was decided (a file like the events file, or Python dicts), checked row by row."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from yibao_credit.errors import Location, Problem, RecordError
from yibao_credit.records.contract import MAX_PROBLEMS, IsoDate
from yibao_credit.records.readers import UTF8, read_rows, validation_problems

STEPS = ("notification", "objection", "decision")


class ProcedureRecord(BaseModel):
    """One dated step of the procedure for one subject's result."""

    model_config = ConfigDict(extra="forbid")

    id: str
    subject_id: str
    step: Literal["notification", "objection", "decision"]
    date: IsoDate
    outcome: Literal["upheld", "corrected"] | None = None
    grade: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> ProcedureRecord:
        if self.step == "decision" and self.outcome is None:
            raise ValueError("a decision needs 'outcome': upheld or corrected")
        if self.step != "decision" and (self.outcome or self.grade):
            raise ValueError("only a decision has 'outcome' and 'grade'")
        if self.outcome == "corrected" and not self.grade:
            raise ValueError("a corrected decision needs the corrected 'grade'")
        if self.outcome == "upheld" and self.grade:
            raise ValueError("an upheld decision keeps the grade: leave 'grade' out")
        return self


@dataclass
class ProcedureRecords:
    by_subject: dict[str, dict[str, ProcedureRecord]]
    lines: dict[str, int]
    file: str

    def where(self, record: ProcedureRecord, path: str | None = None) -> Location:
        return Location(self.file, self.lines.get(record.id), None, path)


def _index(rows: list[ProcedureRecord], lines: Mapping[str, int], file: str) -> ProcedureRecords:
    out = ProcedureRecords({}, dict(lines), file)
    problems: list[Problem] = []
    for r in sorted(rows, key=lambda r: (r.date, r.id)):
        steps = out.by_subject.setdefault(r.subject_id, {})
        if r.step in steps:
            first = steps[r.step]
            problems.append(
                Problem(
                    "record.procedure.repeated",
                    f"a second {r.step} for subject {r.subject_id!r} ({first.id!r} is the first)",
                    out.where(r, "step"),
                )
            )
            continue
        steps[r.step] = r
    for sid, steps in out.by_subject.items():
        order = [s for s in STEPS if s in steps]
        for earlier, later in itertools.pairwise(order):
            if steps[later].date < steps[earlier].date:
                problems.append(
                    Problem(
                        "record.procedure.order",
                        f"the {later} of {sid!r} is dated before its {earlier}",
                        out.where(steps[later], "date"),
                    )
                )
        for step, needs in (("objection", "notification"), ("decision", "objection")):
            if step in steps and needs not in steps:
                problems.append(
                    Problem(
                        "record.procedure.missing-step",
                        f"{sid!r} has {'an' if step[0] in 'aeiou' else 'a'} {step} but no {needs}",
                        out.where(steps[step], "step"),
                    )
                )
    if problems:
        raise RecordError(problems[:MAX_PROBLEMS])
    return out


def read_procedures(path: str | Path, *, encoding: str = UTF8) -> ProcedureRecords:
    """Read procedure records (.jsonl or .csv); errors name the file, line and field.
    ``encoding``: the file's text encoding (UTF-8 by default, as for ``read_subjects``)."""
    rows, lines, problems = read_rows(Path(path), ProcedureRecord, "procedure", encoding=encoding)
    if problems:
        raise RecordError(problems[:MAX_PROBLEMS])
    return _index(rows, {rid: line for (_, rid), line in lines.items()}, str(path))


def procedures_from_python(
    items: Iterable[Mapping[str, Any] | ProcedureRecord],
    source: str = "<python>",
) -> ProcedureRecords:
    """Procedure records given as dicts, checked as a file's would be; the position (1-based)
    stands in for the line, and ``source`` names where they came from."""
    label = f"{source}[procedures]"
    rows: list[ProcedureRecord] = []
    lines: dict[str, int] = {}
    problems: list[Problem] = []
    for index, item in enumerate(items, 1):
        try:
            record = (
                item if isinstance(item, ProcedureRecord) else ProcedureRecord.model_validate(item)
            )
        except ValidationError as exc:
            problems.extend(
                validation_problems(exc, label, index, "record.procedure")
            )
            continue
        rows.append(record)
        lines[record.id] = index
    if problems:
        raise RecordError(problems)
    return _index(rows, lines, label)
