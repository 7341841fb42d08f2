"""Evaluate records against a compiled policy: group once, run every subject, then roll up.

Data flows one way: records are checked against the pack's event kinds and subject
requirements, events are grouped by subject and kind once, each subject goes through its
ruleset's compiled function, group roll-ups run after all members are graded, and measures
follow from the final grade. Nothing is dropped silently: subjects no ruleset grades, events
dated after ``as_of`` and events of kinds no rule reads are reported as warnings.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from operator import attrgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .bulk import paused_gc
from .compiled import CompiledCap, CompiledMeasure, CompiledRollup, CompiledRuleset, StepFailed
from .errors import CalendarError, EvaluationError, Location, Problem, RecordError
from .history import Cycle, HistoryRecords, history_fact
from .lifecycle import Lifecycle, ProcedureRecords, calendar_problem, lifecycle_of
from .parameters import InForce, value_on
from .records import (
    MAX_PROBLEMS,
    Event,
    Records,
    Subject,
    check_event_kinds,
    check_subject_attributes,
)
from .review import Change, raise_problems, stage_lists
from .validity import SetAside, set_aside
from .windows import Bounds, window_bounds

if TYPE_CHECKING:
    from .pack import Policy

EMPTY: Mapping[str, Any] = MappingProxyType({})
EVENT_ORDER = attrgetter("date", "id")
"""Events are ordered by date, then id: evidence lists are the same whatever the input order."""


@dataclass(frozen=True)
class RunContext:
    """What is fixed for a whole run: the pack, the date, windows and parameters in force."""

    policy: Policy
    as_of: dt.date
    bounds: Mapping[str, Bounds]
    params: Mapping[str, InForce]
    history: HistoryRecords | None = None
    procedures: ProcedureRecords | None = None
    on: dt.date | None = None
    """The day the lifecycle is judged on (is an objection window closed?)."""
    provisional_params: frozenset[str] = frozenset()
    """Parameters whose value in force on as_of is provisional."""


@dataclass(frozen=True, slots=True)
class RollupOutcome:
    rollup: CompiledRollup
    counted: tuple[str, ...]
    band: CompiledCap | None
    before: str | None
    after: str | None
    applied: bool
    reason: str


@dataclass(slots=True)
class Result:
    """One subject's evaluation; the trace is built from it only when rendered."""

    subject: Subject
    ruleset: CompiledRuleset
    context: RunContext
    values: tuple[Any, ...]
    status: str
    exclusion: str | None
    rule: int | None  # index of the grade rule that matched; -1 for the default
    own_grade: str | None
    grade: str | None
    rollups: tuple[RollupOutcome, ...] = ()
    history: Mapping[str, Any] | None = None
    history_cycles: Mapping[str, tuple[Cycle, ...]] | None = None
    measures: tuple[CompiledMeasure, ...] = ()
    measure_checks: tuple[tuple[CompiledMeasure, bool], ...] = ()
    """Measures with a condition, and whether it held."""
    lifecycle: Lifecycle | None = None
    stages: tuple[tuple[str, Any, Any], ...] = ()
    """With review stages: (stage, score, grade) as each stage's values would give."""
    review_changes: tuple[Change, ...] = ()
    set_aside: tuple[SetAside, ...] = ()
    """Events that no longer count: expired, or neutralised by a repair."""
    score: float | None = None
    veto: int | None = None
    """For score grading: the index of the veto that forced the grade, -1 when none did."""
    group: str | None = None

    @property
    def subject_id(self) -> str:
        return self.subject.id


@dataclass
class Run:
    """All results of one evaluation, sorted by subject id, and what was reported."""

    context: RunContext
    results: list[Result]
    warnings: list[Problem]
    _index: dict[str, Result] = field(default_factory=dict, repr=False)

    def __iter__(self) -> Iterator[Result]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def get(self, subject_id: str) -> Result | None:
        if len(self._index) != len(self.results):
            self._index = {r.subject.id: r for r in self.results}
        return self._index.get(subject_id)


def resolve(policy: Policy, as_of: dt.date) -> RunContext:
    """Parameters in force and window bounds on ``as_of``."""
    params = {
        name: value_on(name, p, as_of, policy.file) for name, p in policy.model.parameters.items()
    }
    bounds: dict[str, Bounds] = {}
    for name, window in policy.model.windows.items():
        length = window.length
        if length is not None and length in params:
            length = str(params[length].value)
        bounds[name] = window_bounds(window, as_of, length)
    provisional = frozenset(n for n, p in params.items() if p.entry.provisional)
    return RunContext(policy, as_of, bounds, params, provisional_params=provisional)


def _check_required(records: Records, assigned: list[tuple[Subject, CompiledRuleset]]) -> None:
    problems: list[Problem] = []
    for subject, rs in assigned:
        for name in rs.required:
            if subject.attr(name) is None:
                problems.append(
                    Problem(
                        "record.subject.required",
                        f"ruleset {rs.id!r} needs {name!r} for every {rs.type}",
                        records.where("subject", subject.id, name),
                    )
                )
                if len(problems) >= MAX_PROBLEMS:
                    raise RecordError(problems)
    if problems:
        raise RecordError(problems)


@dataclass
class Prepared:
    """Records checked and grouped for one run: everything except the rules themselves."""

    context: RunContext
    records: Records
    assigned: list[tuple[Subject, CompiledRuleset, str | None]]
    """Each subject in scope, its ruleset and its evaluation group (None without groups)."""
    grouped: dict[str, list[Event]]
    """subject id → its events up to as_of, in (date, id) order."""
    warnings: list[Problem]
    set_aside: dict[str, tuple[SetAside, ...]] = field(default_factory=dict)
    """subject id → events that no longer count (expired or repaired)."""


def prepare(
    policy: Policy,
    records: Records,
    as_of: dt.date,
    history: HistoryRecords | None = None,
    procedures: ProcedureRecords | None = None,
    on: dt.date | None = None,
) -> Prepared:
    """Check records against the pack, assign rulesets, group events by subject."""
    with paused_gc():
        return _prepare(policy, records, as_of, history, procedures, on)


def _prepare(
    policy: Policy,
    records: Records,
    as_of: dt.date,
    history: HistoryRecords | None,
    procedures: ProcedureRecords | None,
    on: dt.date | None,
) -> Prepared:
    check_event_kinds(records, policy.event_kinds)
    check_subject_attributes(records, policy.subject_attributes)
    context = replace(resolve(policy, as_of), history=history, procedures=procedures, on=on)
    warnings: list[Problem] = []
    if history is None and any(rs.history for rs in policy.rulesets.values()):
        warnings.append(
            Problem(
                "eval.no-history",
                "no earlier results were given (--history): every earlier cycle counts as "
                "missing, so history facts hold no grade and no streak",
            )
        )
    if history is not None:
        labels = policy.grade_labels
        unknown = [
            (key, r)
            for key, r in history.results.items()
            if r.grade is not None and r.grade not in labels
        ]
        if unknown:
            key, r = unknown[0]
            raise RecordError(
                Problem(
                    "record.history.unknown-grade",
                    f"{r.grade!r} is not a grade of this pack ({', '.join(sorted(labels))}); "
                    f"{len(unknown)} such result(s)",
                    Location(history.file, history.lines.get(key), None, "grade"),
                )
            )
    if procedures is not None:
        known = {s.id for s in records.subjects}
        for sid, steps in sorted(procedures.by_subject.items()):
            if sid not in known:
                record = next(iter(steps.values()))
                raise RecordError(
                    Problem(
                        "record.procedure.unknown-subject",
                        f"subject_id {sid!r} names no subject in the subjects file",
                        procedures.where(record, "subject_id"),
                    )
                )
    effective = policy.model.pack.effective
    # A pack versioned by its evaluated period is in force for that period, not on as_of.
    day = policy.selection_date(as_of)
    if day < effective.from_ or (effective.to is not None and day > effective.to):
        until = effective.to.isoformat() if effective.to else "open"
        what = (
            f"as_of {as_of.isoformat()}"
            if day == as_of
            else f"the evaluated period of as_of {as_of.isoformat()} (from {day.isoformat()})"
        )
        warnings.append(
            Problem(
                "eval.pack-not-in-force",
                f"{what} is outside the pack's effective period "
                f"({effective.from_.isoformat()} .. {until})",
                policy.doc.locate(("pack", "effective")),
            )
        )

    assigned: list[tuple[Subject, CompiledRuleset]] = []
    out_of_scope: list[Subject] = []
    for subject in sorted(records.subjects, key=lambda s: s.id):
        rs = policy.ruleset_for(subject)
        if rs is None:
            out_of_scope.append(subject)
        else:
            assigned.append((subject, rs))
    if out_of_scope:
        kinds = Counter(f"{s.type}/{s.category}" for s in out_of_scope)
        first = out_of_scope[0]
        warnings.append(
            Problem(
                "eval.out-of-scope",
                f"{len(out_of_scope)} subject(s) are graded by no ruleset of this pack and have "
                f"no result ({', '.join(f'{k}: {n}' for k, n in sorted(kinds.items()))}); "
                f"first: {first.id!r}",
                records.where("subject", first.id),
            )
        )
    _check_required(records, assigned)
    grouped_subjects = _assign_groups(assigned, context, warnings, records)

    grouped, late = _group(records.events, as_of)
    aside = set_aside(grouped, as_of, policy.validity, records) if policy.validity else {}
    if late:
        late.sort(key=EVENT_ORDER)
        warnings.append(
            Problem(
                "eval.after-as-of",
                f"{len(late)} event(s) dated after as_of {as_of.isoformat()} were not yet known "
                f"on that date and are not counted; first: {late[0].id!r} ({late[0].date})",
                records.where("event", late[0].id),
            )
        )
    _warn_unread_kinds(
        assigned, grouped, warnings, {"repair"} if policy.validity.repair_step else set()
    )
    return Prepared(context, records, grouped_subjects, grouped, warnings, aside)


def run(prepared: Prepared) -> Run:
    """Run every assigned subject through its ruleset, then the roll-ups."""
    with paused_gc():
        return _run(prepared)


def _run(prepared: Prepared) -> Run:
    context = prepared.context
    policy = context.policy
    functions: dict[tuple[str, str | None], Any] = {}
    for rs in policy.rulesets.values():
        windows = [_window_pair(context.bounds[w]) for w in rs.windows]
        params = {p: context.params[p].value for p in rs.param_names}
        functions[(rs.id, None)] = rs.make(context.as_of, windows, params)
        for g in rs.groups:
            functions[(rs.id, g.id)] = rs.make(context.as_of, windows, {**params, **g.params})
    results: list[Result] = []
    no_events: list[Event] = []
    grouped = prepared.grouped
    warnings = list(prepared.warnings)
    append = results.append
    review = policy.review
    review_problems: list[Problem] = []
    with_history = context.history.subject_ids() if context.history is not None else frozenset()
    no_history: dict[str, tuple[dict[str, Any], dict[str, tuple[Cycle, ...]]]] = {}
    for subject, rs, group in prepared.assigned:
        h_values: Mapping[str, Any] = EMPTY
        h_cycles: Mapping[str, tuple[Cycle, ...]] = EMPTY
        if rs.history:
            if subject.id in with_history:
                h_values, h_cycles = _history_of(subject, rs, context)
            else:
                # Every cycle is missing for a subject with no earlier result: the same
                # (immutable) readings for all of them, computed once per ruleset.
                cached = no_history.get(rs.id)
                if cached is None:
                    cached = no_history[rs.id] = _history_of(subject, rs, context)
                h_values, h_cycles = cached
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
        x, r, score, veto = values[-4:]
        if x >= 0:
            result = Result(
                subject, rs, context, values, "excluded", rs.exclusions[x].id, None, None, None
            )
        elif rs.score is None:
            grade = rs.rules[r].grade if r >= 0 else rs.default_grade
            result = Result(subject, rs, context, values, "graded", None, r, grade, grade)
        else:
            grade = rs.score.veto_grades[veto] if veto >= 0 else rs.score.bands[r].grade
            result = Result(subject, rs, context, values, "graded", None, r, grade, grade)
            result.score, result.veto = score, veto
        if h_values:
            result.history, result.history_cycles = h_values, h_cycles
        result.group = group
        if review is not None:
            result.stages, result.review_changes = stages, changes
        if prepared.set_aside:
            result.set_aside = prepared.set_aside.get(subject.id, ())
        append(result)
    raise_problems(review_problems)
    _roll_up(policy, results, warnings, context)
    if context.procedures is not None:
        _apply_lifecycle(results, context, warnings)
    _measures(results, context)
    return Run(context, results, warnings)


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
    policy: Policy,
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
    return run(prepare(policy, records, as_of, history, procedures, on))


def _used_changes(
    changes: tuple[Change, ...], staged: list[Any], rs: CompiledRuleset
) -> tuple[Change, ...]:
    """The review changes to values some fact of some stage read: a change to a value the
    evaluation never uses (another period's, say) changes nothing and is not reported."""
    used = {e.id for v in staged for slot in rs.evidence_slots.values() for e in v[slot]}
    return tuple(c for c in changes if any(eid in used for _, _, eid in c.values))


def _history_of(
    subject: Subject, rs: CompiledRuleset, context: RunContext
) -> tuple[dict[str, Any], dict[str, tuple[Cycle, ...]]]:
    assert rs.history_cycle is not None
    values: dict[str, Any] = {}
    cycles: dict[str, tuple[Cycle, ...]] = {}
    for h in rs.history:
        values[h.name], cycles[h.name] = history_fact(
            h.fact, context.history, subject.id, context.as_of, rs.history_cycle, rs.rank
        )
    return values, cycles


def _apply_lifecycle(results: list[Result], context: RunContext, warnings: list[Problem]) -> None:
    """Stage, deadlines and decisions per result; a corrected decision changes the grade."""
    procedures = context.procedures
    assert procedures is not None
    policy = context.policy
    later: list[str] = []
    for r in results:
        steps = procedures.by_subject.get(r.subject.id, {})
        if context.on is not None:
            later += [rec.id for rec in steps.values() if rec.date > context.on]
            steps = {k: rec for k, rec in steps.items() if rec.date <= context.on}
        try:
            life = lifecycle_of(
                steps,
                policy.procedures,
                policy.calendar,
                context.on,
                r.grade,
                r.status,
                r.exclusion,
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


def _measures(results: list[Result], context: RunContext) -> None:
    """The measures each final grade brings, with conditional ones decided per subject."""
    params = {name: p.value for name, p in context.params.items()}
    # Per ruleset and grade, once: the measures, and the conditional ones with their functions.
    plans: dict[tuple[int, str], tuple[tuple[CompiledMeasure, ...], list[Any], int]] = {}
    for r in results:
        grade = r.grade
        if grade is None:
            continue
        rs = r.ruleset
        plan = plans.get((id(rs), grade))
        if plan is None:
            candidates = rs.measures.get(grade, ())
            conditions = [
                (m, m.when(context.as_of, params) if m.when is not None else None)
                for m in candidates
            ]
            plan = plans[(id(rs), grade)] = (
                candidates,
                conditions if any(fn is not None for _, fn in conditions) else [],
                rs.rank[grade],
            )
        candidates, conditions, rank = plan
        if not conditions:
            r.measures = candidates
            continue
        chosen: list[CompiledMeasure] = []
        checks: list[tuple[CompiledMeasure, bool]] = []
        history = r.history or EMPTY
        for m, fn in conditions:
            if fn is None:
                chosen.append(m)
                continue
            try:
                held = bool(fn(r.subject, grade, rank, history))
            except Exception as exc:
                raise EvaluationError(
                    Problem(
                        "eval.step-failed",
                        f"subject {r.subject.id!r}: the condition of measure {m.id!r} failed: "
                        f"{type(exc).__name__}: {exc}",
                    )
                ) from exc
            checks.append((m, held))
            if held:
                chosen.append(m)
        r.measures, r.measure_checks = tuple(chosen), tuple(checks)


def _window_pair(bounds: Bounds) -> tuple[dt.date, dt.date]:
    return (bounds.start or dt.date.min, bounds.end)


def _assign_groups(
    assigned: list[tuple[Subject, CompiledRuleset]],
    context: RunContext,
    warnings: list[Problem],
    records: Records,
) -> list[tuple[Subject, CompiledRuleset, str | None]]:
    """Each subject's evaluation group: the first of its ruleset's groups that it matches.

    A subject of a ruleset with groups that matches none of them cannot be graded: it is
    reported, never graded with parameters that were not meant for it.
    """
    params = {name: p.value for name, p in context.params.items()}
    tests = {
        rs.id: [(g.id, g.when(context.as_of, params)) for g in rs.groups]
        for _, rs in assigned
        if rs.groups
    }
    out: list[tuple[Subject, CompiledRuleset, str | None]] = []
    ungrouped: list[Subject] = []
    for subject, rs in assigned:
        if not rs.groups:
            out.append((subject, rs, None))
            continue
        group = next((gid for gid, test in tests[rs.id] if test(subject)), None)
        if group is None:
            ungrouped.append(subject)
        else:
            out.append((subject, rs, group))
    if ungrouped:
        warnings.append(
            Problem(
                "eval.no-group",
                f"{len(ungrouped)} subject(s) match no evaluation group of their ruleset and "
                f"have no result; first: {ungrouped[0].id!r}",
                records.where("subject", ungrouped[0].id),
            )
        )
    return out


def _group(events: list[Event], as_of: dt.date) -> tuple[dict[str, list[Event]], list[Event]]:
    """Each subject's events in (date, id) order; events after as_of set aside."""
    by_subject: dict[str, list[Event]] = defaultdict(list)
    late: list[Event] = []
    for e in events:
        if e.date > as_of:
            late.append(e)
        else:
            by_subject[e.subject_id].append(e)
    for evs in by_subject.values():
        if len(evs) > 1:
            evs.sort(key=EVENT_ORDER)
    return dict(by_subject), late


def _warn_unread_kinds(
    assigned: list[tuple[Subject, CompiledRuleset]],
    grouped: Mapping[str, list[Event]],
    warnings: list[Problem],
    also_read: set[str],
) -> None:
    """Events that exist but that no rule of the subject's ruleset reads are reported."""
    unread: Counter[str] = Counter()
    for subject, rs in assigned:
        read = rs.kinds_read | also_read if rs.kinds_read is not None else None
        evs = grouped.get(subject.id)
        if read is None or not evs:
            continue
        unread.update(e.kind for e in evs if e.kind not in read)
    if unread:
        listed = ", ".join(f"{k}: {n}" for k, n in sorted(unread.items()))
        warnings.append(
            Problem(
                "eval.unread-kind",
                f"events of kinds no rule of this pack reads (kept, but they change no result): "
                f"{listed}",
            )
        )


def _roll_up(
    policy: Policy, results: list[Result], warnings: list[Problem], context: RunContext
) -> None:
    """Apply each ruleset's roll-ups once all members are graded; a cap never improves."""
    by_id = {r.subject.id: r for r in results}
    for rs in policy.rulesets.values():
        for rollup in rs.rollups:
            params = {name: p.value for name, p in context.params.items()}
            members_of = rollup.members(context.as_of, params)
            counts = rollup.counts(context.as_of, params)
            counted: dict[str, list[str]] = defaultdict(list)
            heads: set[str] = set()
            for r in results:
                s = r.subject
                head = s.attr(rollup.head)
                try:
                    if head is None or not members_of(s):
                        continue
                    heads.add(head)
                    if counts(s, r.grade, r.status, r.exclusion):
                        counted[head].append(s.id)
                except Exception as exc:
                    raise EvaluationError(
                        Problem(
                            "eval.step-failed",
                            f"subject {s.id!r}: roll-up {rollup.id!r} failed on this member: "
                            f"{type(exc).__name__}: {exc}",
                        )
                    ) from exc
            for head_id in sorted(heads):
                head_result = by_id.get(head_id)
                if head_result is None:
                    warnings.append(
                        Problem(
                            "eval.rollup-head-missing",
                            f"roll-up {rollup.id!r}: head {head_id!r} has members but no result "
                            "(not graded by this pack)",
                            Location(None),
                        )
                    )
                    continue
                if head_result.ruleset is not rs:
                    warnings.append(
                        Problem(
                            "eval.rollup-head-elsewhere",
                            f"roll-up {rollup.id!r}: head {head_id!r} is graded by ruleset "
                            f"{head_result.ruleset.id!r}, not {rs.id!r}; no cap applied",
                        )
                    )
                    continue
                ids = tuple(counted.get(head_id, ()))
                band = next((b for b in rollup.caps if b.interval.contains(len(ids))), None)
                before = head_result.grade
                if head_result.status != "graded":
                    outcome = RollupOutcome(
                        rollup, ids, band, before, before, False, "head excluded"
                    )
                elif band is None:
                    outcome = RollupOutcome(rollup, ids, None, before, before, False, "no cap")
                else:
                    assert before is not None
                    worse = before if rs.rank[before] >= rs.rank[band.cap] else band.cap
                    reason = "capped" if worse != before else "already at or below cap"
                    outcome = RollupOutcome(
                        rollup, ids, band, before, worse, worse != before, reason
                    )
                    head_result.grade = worse
                head_result.rollups = (*head_result.rollups, outcome)


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
