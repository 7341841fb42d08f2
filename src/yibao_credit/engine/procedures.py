"""The pack's procedures applied to a run: each result's lifecycle stage and deadlines (those
counted from a trigger, and those on fixed calendar days), and a corrected decision on an
objection changing the grade (the trace keeps both)."""

from __future__ import annotations

from yibao_credit.engine.context import RunContext
from yibao_credit.engine.lifecycle import calendar_problem, dated_due, lifecycle_of
from yibao_credit.engine.results import Result
from yibao_credit.errors import CalendarError, Problem, RecordError


def apply_lifecycle(results: list[Result], context: RunContext, warnings: list[Problem]) -> None:
    """Stage, deadlines and decisions per result; a corrected decision changes the grade."""
    procedures = context.procedures
    assert procedures is not None
    plan = context.plan
    later: list[str] = []
    dated = tuple(
        dated_due(proc, context.bounds[proc.window].end) for proc in plan.dated_procedures
    )
    for r in results:
        steps = procedures.by_subject.get(r.subject.id, {})
        if context.on is not None:
            later += [rec.id for rec in steps.values() if rec.date > context.on]
            steps = {k: rec for k, rec in steps.items() if rec.date <= context.on}
        try:
            life = lifecycle_of(
                steps,
                plan.procedures,
                plan.calendar,
                context.on,
                r.grade,
                r.status,
                r.exclusion,
                dated,
            )
        except CalendarError as exc:
            raise CalendarError(calendar_problem(exc, r.subject.id)) from exc
        decision = life.decision
        if decision is not None and decision.outcome == "corrected":
            assert decision.grade is not None
            if decision.grade not in r.ruleset.rank:
                raise RecordError(
                    Problem(
                        "record.procedure.unknown-grade",
                        f"{decision.grade!r} is not a grade of ruleset {r.ruleset.id!r} "
                        f"({', '.join(r.ruleset.grades)})",
                        procedures.where(decision, "grade"),
                    )
                )
            r.grade, r.status, r.exclusion = decision.grade, "graded", None
        r.lifecycle = life
    if later:
        warnings.append(
            Problem(
                "eval.after-on",
                f"{len(later)} procedure record(s) dated after --on {context.on} were not yet "
                f"known on that day and are not applied; first: {sorted(later)[0]!r}",
            )
        )
