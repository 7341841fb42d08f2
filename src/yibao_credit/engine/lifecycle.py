"""A result's life after evaluation: notification, objection, decision, final.

Procedure records (a file like the events file) say when a result was notified, when an
objection was received and what was decided. The pack's procedures give the deadlines — Zhenjiang
三(三): an objection within 10 working days of notification, a decision within 15 working days
of the objection — counted on the official calendar from the day after the trigger
(《民法典》第201条). A decision that corrects the grade changes the result; the trace keeps the
evaluated grade and the corrected one.

Stages: ``pre_evaluation`` (not yet notified) → ``notified`` (objection window open) →
``under_review`` (an objection received in time, no decision yet) → ``final`` (window closed
with no objection as of ``on``, a late objection, or a decision).

A pack may also set deadlines on fixed calendar days (``by: MM-DD``, Jiangsu 三(一) 3月底前
确认评价结果、对外公示): the day in the year the evaluated period ends, or a later one. They are
the same for every result of a run; one that names a record ``step`` says whether that record
came by the day. They never change the stage.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from yibao_credit.compile.plan import (
    CompiledDatedProcedure,
    CompiledProcedure,
)
from yibao_credit.errors import CalendarError, Problem
from yibao_credit.records.procedures import ProcedureRecord
from yibao_credit.time.calendar import WorkingCalendar


@dataclass(frozen=True)
class Deadline:
    procedure: CompiledProcedure
    trigger_date: dt.date
    due: dt.date
    moved_from: dt.date | None = None
    """For a period in days whose last day is a holiday: the day it would have ended."""


@dataclass(frozen=True)
class DatedDeadline:
    """A deadline on a fixed day, and for one that names a record step whether it came by
    then: True, False (late, or not there once ``on`` is past the day), None (not yet)."""

    procedure: CompiledDatedProcedure
    due: dt.date
    period_end: dt.date
    """The end of the window the day is counted from (the evaluated period)."""
    record: ProcedureRecord | None = None
    in_time: bool | None = None


@dataclass(frozen=True)
class Lifecycle:
    """Where a result stands, the deadlines that apply, and the grade before any correction."""

    stage: str
    notification: ProcedureRecord | None
    objection: ProcedureRecord | None
    decision: ProcedureRecord | None
    deadlines: tuple[Deadline, ...]
    objection_in_time: bool | None
    decision_in_time: bool | None
    evaluated_grade: str | None
    evaluated_status: str
    evaluated_exclusion: str | None = None
    dated: tuple[DatedDeadline, ...] = ()

    @property
    def is_final(self) -> bool:
        return self.stage == "final"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "stage": self.stage,
            "notified_on": _iso(self.notification),
            "objection_on": _iso(self.objection),
            "objection_in_time": self.objection_in_time,
            "decision_on": _iso(self.decision),
            "decision": self.decision.outcome if self.decision else None,
            "decision_in_time": self.decision_in_time,
            "deadlines": {
                **{d.procedure.id: d.due.isoformat() for d in self.deadlines},
                **{d.procedure.id: d.due.isoformat() for d in self.dated},
            },
            "evaluated": {
                "status": self.evaluated_status,
                "grade": self.evaluated_grade,
                "exclusion": self.evaluated_exclusion,
            },
        }
        checked = {d.procedure.id: d.in_time for d in self.dated if d.procedure.step_due}
        if checked:
            out["in_time"] = checked
        return out


def _iso(record: ProcedureRecord | None) -> str | None:
    return record.date.isoformat() if record is not None else None


def due_date(proc: CompiledProcedure, trigger: dt.date, calendar: WorkingCalendar) -> Deadline:
    """The last day of a procedure's period (the trigger day itself never counts)."""
    if proc.unit == "working_days":
        return Deadline(proc, trigger, calendar.add_working_days(trigger, proc.days))
    end = trigger + dt.timedelta(days=proc.days)
    if calendar.is_working_day(end):
        return Deadline(proc, trigger, end)
    # 《民法典》第203条: a period ending on a holiday ends on the day after the holiday.
    moved = end
    while not calendar.is_working_day(moved):
        moved += dt.timedelta(days=1)
    return Deadline(proc, trigger, moved, moved_from=end)


def dated_due(proc: CompiledDatedProcedure, period_end: dt.date) -> DatedDeadline:
    """The fixed day of a procedure for a period ending on ``period_end``: never moved to a
    working day (the text names the day; it is not a period counted by 《民法典》第201条)."""
    due = dt.date(period_end.year + proc.years_after, proc.month, proc.day)
    return DatedDeadline(proc, due, period_end)


def _dated_check(
    d: DatedDeadline, steps: Mapping[str, ProcedureRecord], on: dt.date | None
) -> DatedDeadline:
    step = d.procedure.step_due
    if step is None:
        return d
    record = steps.get(step)
    if record is not None:
        return replace(d, record=record, in_time=record.date <= d.due)
    if on is not None and on > d.due:
        return replace(d, in_time=False)
    return d


def lifecycle_of(
    steps: Mapping[str, ProcedureRecord],
    procedures: Mapping[str, CompiledProcedure],
    calendar: WorkingCalendar,
    on: dt.date | None,
    grade: str | None,
    status: str,
    exclusion: str | None = None,
    dated: Sequence[DatedDeadline] = (),
) -> Lifecycle:
    """Work out the stage and deadlines of one result from its procedure records."""
    notification = steps.get("notification")
    objection = steps.get("objection")
    decision = steps.get("decision")
    deadlines: list[Deadline] = []
    objection_in_time = decision_in_time = None
    window = procedures.get("notification")
    review = procedures.get("objection")
    if notification is not None and window is not None:
        d = due_date(window, notification.date, calendar)
        deadlines.append(d)
        if objection is not None:
            objection_in_time = objection.date <= d.due
    if objection is not None and review is not None and objection_in_time is not False:
        d = due_date(review, objection.date, calendar)
        deadlines.append(d)
        if decision is not None:
            decision_in_time = decision.date <= d.due
    if notification is None:
        stage = "pre_evaluation"
    elif decision is not None or objection_in_time is False:
        stage = "final"
    elif objection is not None:
        stage = "under_review"
    elif deadlines and on is not None and on > deadlines[0].due:
        stage = "final"
    else:
        stage = "notified"
    return Lifecycle(
        stage,
        notification,
        objection,
        decision,
        tuple(deadlines),
        objection_in_time,
        decision_in_time,
        grade,
        status,
        exclusion,
        tuple(_dated_check(d, steps, on) for d in dated),
    )


def calendar_problem(exc: CalendarError, subject_id: str) -> Problem:
    first = exc.problems[0]
    return Problem(first.code, f"subject {subject_id!r}: {first.message}", first.location)
