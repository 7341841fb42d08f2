"""Run a prepared evaluation on the Python back-end: every subject through its ruleset's
generated function (once per review stage when the pack has stages), then roll-ups, the
lifecycle of each result and the measures its final grade brings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from yibao_credit.bulk import checkpoint, paused_gc
from yibao_credit.compile.plan import CompiledRuleset, Plan
from yibao_credit.engine.context import EMPTY, RunContext
from yibao_credit.engine.history import Cycle, PastEvent, history_readings
from yibao_credit.engine.measures import apply_measures
from yibao_credit.engine.prepare import Prepared, prepare
from yibao_credit.engine.procedures import apply_lifecycle
from yibao_credit.engine.program import PythonProgram, program_for
from yibao_credit.engine.results import Result, Run
from yibao_credit.engine.review import Change, raise_problems, stage_lists
from yibao_credit.engine.rollups import roll_up
from yibao_credit.engine.runtime import StepFailed
from yibao_credit.errors import EvaluationError, Problem
from yibao_credit.records.contract import Event, Records, Subject
from yibao_credit.records.history import HistoryRecords
from yibao_credit.records.procedures import ProcedureRecords
from yibao_credit.time.windows import Bounds


def run(prepared: Prepared) -> Run:
    """Run every assigned subject through its ruleset, then the roll-ups."""
    with paused_gc():
        return _run(prepared)


def _run(prepared: Prepared) -> Run:
    context = prepared.context
    plan = context.plan
    program = prepared.program or program_for(plan)
    functions = _functions(context, program)
    results: list[Result] = []
    no_events: list[Event] = []
    grouped = prepared.grouped
    review = plan.review
    review_problems: list[Problem] = []
    history = _HistoryReadings(context, prepared)
    for subject, rs, group in prepared.assigned:
        checkpoint()
        h_values, h_cycles = history.of(subject, rs)
        fn = functions[(rs.id, group)]
        events = grouped.get(subject.id, no_events)
        stages: tuple[tuple[str, Any, Any], ...] = ()
        changes: tuple[Change, ...] = ()
        try:
            if review is not None:
                lists, changes = stage_lists(events, review, prepared.records, review_problems)
                staged = [fn(subject, evs, h_values) for evs in lists]
                stages = tuple(
                    (name, v[-2], _grade_of(rs, v))
                    for name, v in zip(review.stages, staged, strict=True)
                )
                values = staged[-1]
                if changes:
                    changes = _used_changes(changes, staged, rs)
            else:
                values = fn(subject, events, h_values)
        except StepFailed as exc:
            raise _step_error(prepared.records, subject, rs, exc) from exc
        result = result_of(subject, rs, context, values)
        if h_values:
            result.history, result.history_cycles = h_values, h_cycles
        result.group = group
        if review is not None:
            result.stages, result.review_changes = stages, changes
        if prepared.set_aside:
            result.set_aside = prepared.set_aside.get(subject.id, ())
        results.append(result)
    raise_problems(review_problems)
    warnings = list(prepared.warnings)
    roll_up(program, results, warnings, context)
    if context.procedures is not None:
        apply_lifecycle(results, context, warnings)
    apply_measures(program, results, context)
    return Run(context, results, warnings)


def _functions(context: RunContext, program: PythonProgram) -> dict[tuple[str, str | None], Any]:
    """Each ruleset's function with the run's windows and parameters bound, once per
    evaluation group (a group sets its own parameter values)."""
    functions: dict[tuple[str, str | None], Any] = {}
    for prog in program.rulesets.values():
        rs = prog.rules
        windows = [_window_pair(context.bounds[w]) for w in rs.windows]
        params = {p: context.params[p].value for p in prog.param_names}
        functions[(rs.id, None)] = prog.make(context.as_of, windows, params)
        for g in rs.groups:
            functions[(rs.id, g.id)] = prog.make(context.as_of, windows, {**params, **g.params})
    return functions


class _HistoryReadings:
    """History facts per subject; every cycle is missing for a subject with no earlier
    result, so those get the same (immutable) readings, computed once per ruleset. A subject
    with earlier results is read with its events (counted and set aside), for a lapse."""

    def __init__(self, context: RunContext, prepared: Prepared) -> None:
        self.context = context
        self.prepared = prepared
        history = context.history
        self.known = history.subject_ids() if history is not None else frozenset()
        self.none: dict[str, tuple[dict[str, Any], dict[str, tuple[Cycle, ...]]]] = {}

    def of(
        self, subject: Subject, rs: CompiledRuleset
    ) -> tuple[Mapping[str, Any], Mapping[str, tuple[Cycle, ...]]]:
        if not rs.history:
            return EMPTY, EMPTY
        if subject.id in self.known:
            events: list[PastEvent] = []
            if rs.history_lapse is not None:
                events += self.prepared.grouped.get(subject.id, ())
                aside = self.prepared.set_aside.get(subject.id, ())
                events += (a.event for a in aside if isinstance(a.event, Event))
            return history_of(subject, rs, self.context, events)
        cached = self.none.get(rs.id)
        if cached is None:
            cached = self.none[rs.id] = history_of(subject, rs, self.context)
        return cached


def result_of(
    subject: Subject, rs: CompiledRuleset, context: RunContext, values: tuple[Any, ...]
) -> Result:
    """The result a values tuple gives: excluded, graded by a rule, or by score and band."""
    x, r, score, veto = values[-4:]
    if x >= 0:
        return Result(
            subject, rs, context, values, "excluded", rs.exclusions[x].id, None, None, None
        )
    if rs.score is None:
        grade = rs.rules[r].grade if r >= 0 else rs.default_grade
        return Result(subject, rs, context, values, "graded", None, r, grade, grade)
    grade = rs.score.veto_grades[veto] if veto >= 0 else rs.score.bands[r].grade
    result = Result(subject, rs, context, values, "graded", None, r, grade, grade)
    result.score, result.veto = score, veto
    return result


def _grade_of(rs: CompiledRuleset, values: tuple[Any, ...]) -> str | None:
    """The grade a values tuple of the compiled function gives (before roll-ups)."""
    x, r, _score, veto = values[-4:]
    if x >= 0:
        return None
    if rs.score is not None:
        grade = rs.score.veto_grades[veto] if veto >= 0 else rs.score.bands[r].grade
    else:
        grade = rs.rules[r].grade if r >= 0 else rs.default_grade
    return str(grade)


def evaluate(
    plan: Plan,
    records: Records,
    as_of: dt.date,
    *,
    history: HistoryRecords | None = None,
    procedures: ProcedureRecords | None = None,
    on: dt.date | None = None,
) -> Run:
    """Evaluate every subject in ``records`` as of ``as_of``.

    ``history``: earlier cycles' results, for history facts; ``procedures``: notification,
    objection and decision records, for each result's lifecycle, judged as of ``on``.
    """
    return run(prepare(plan, records, as_of, history, procedures, on))


def _used_changes(
    changes: tuple[Change, ...], staged: list[Any], rs: CompiledRuleset
) -> tuple[Change, ...]:
    """The review changes to values some fact of some stage read: a change to a value the
    evaluation never uses (another period's, say) changes nothing and is not reported."""
    used = {e.id for v in staged for slot in rs.evidence_slots.values() for e in v[slot]}
    return tuple(c for c in changes if any(eid in used for _, _, eid in c.values))


def history_of(
    subject: Subject,
    rs: CompiledRuleset,
    context: RunContext,
    events: Sequence[PastEvent] = (),
) -> tuple[dict[str, Any], dict[str, tuple[Cycle, ...]]]:
    """The ruleset's history readings for a subject (``engine.history``); ``events``: its
    events up to as_of, counted or set aside, for ``history.lapse``."""
    assert rs.history_cycle is not None
    return history_readings(
        rs.history,
        context.history,
        subject.id,
        context.as_of,
        rs.history_cycle,
        rs.rank,
        rs.history_lapse,
        context.plan,
        events,
    )


def _window_pair(bounds: Bounds) -> tuple[dt.date, dt.date]:
    return (bounds.start or dt.date.min, bounds.end)


def _step_error(
    records: Records, subject: Subject, rs: CompiledRuleset, exc: StepFailed
) -> EvaluationError:
    cause = exc.__cause__
    what = f"{type(cause).__name__}: {cause}" if cause else "failed"
    where = records.where("subject", subject.id)
    if exc.index < 0:
        event = exc.event
        facts = [f.name for f in rs.facts if f.op != "compute"]
        if event is not None:
            where = records.where("event", event.id)
        return EvaluationError(
            Problem(
                "eval.step-failed",
                f"subject {subject.id!r}: filtering event "
                f"{event.id if event else '?'!r} for the facts ({', '.join(facts)}) failed: "
                f"{what}",
                where,
            )
        )
    # The generated function guards facts, then exclusions, then criteria, in this order.
    ordered = (
        [f.step for f in rs.facts]
        + [c.step for c in rs.exclusions]
        + [c.step for r in rs.rules for c in r.criteria]
    )
    if rs.score is not None:
        for cat in rs.score.categories:
            ordered += [i.step for i in cat.items] + [cat.step]
        ordered += [rs.score.step] + [v.step for v in rs.score.vetoes]
    step = ordered[exc.index]
    label = f"{step.id} ({step.clause})" if step.clause else step.id
    return EvaluationError(
        Problem(
            "eval.step-failed",
            f"subject {subject.id!r}: step {label} failed: {what}"
            + (f"; expression: {step.expr}" if step.expr else ""),
            where,
        )
    )
