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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .compiler import CompiledCap, CompiledRollup, CompiledRuleset, StepFailed, _event_key
from .errors import EvaluationError, Location, Problem, RecordError
from .parameters import InForce, value_on
from .records import MAX_PROBLEMS, Event, Records, Subject, check_event_kinds
from .windows import Bounds, window_bounds

if TYPE_CHECKING:
    from .pack import Policy

EMPTY: tuple[Event, ...] = ()


@dataclass(frozen=True)
class RunContext:
    """What is fixed for a whole run: the pack, the date, windows and parameters in force."""

    policy: Policy
    as_of: dt.date
    bounds: Mapping[str, Bounds]
    params: Mapping[str, InForce]


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
    rollups: list[RollupOutcome] = field(default_factory=list)

    @property
    def subject_id(self) -> str:
        return self.subject.id


@dataclass
class Run:
    """All results of one evaluation, sorted by subject id, and what was reported."""

    context: RunContext
    results: list[Result]
    warnings: list[Problem]

    def __iter__(self) -> Iterator[Result]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def get(self, subject_id: str) -> Result | None:
        for r in self.results:
            if r.subject.id == subject_id:
                return r
        return None


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
    return RunContext(policy, as_of, bounds, params)


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


def evaluate(policy: Policy, records: Records, as_of: dt.date) -> Run:
    """Evaluate every subject in ``records`` as of ``as_of``."""
    check_event_kinds(records, policy.event_kinds)
    context = resolve(policy, as_of)
    warnings: list[Problem] = []

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
                f"{len(out_of_scope)} subject(s) are graded by no ruleset of this pack and have no "
                f"result ({', '.join(f'{k}: {n}' for k, n in sorted(kinds.items()))}); first: "
                f"{first.id!r}",
                records.where("subject", first.id),
            )
        )
    _check_required(records, assigned)

    grouped, late = _group(records.events, as_of)
    if late:
        late.sort(key=_event_key)
        warnings.append(
            Problem(
                "eval.after-as-of",
                f"{len(late)} event(s) dated after as_of {as_of.isoformat()} were not yet known on "
                f"that date and are not counted; first: {late[0].id!r} ({late[0].date})",
                records.where("event", late[0].id),
            )
        )
    _warn_unread_kinds(records, assigned, grouped, warnings)

    functions = {
        rs.id: rs.make(
            as_of,
            [_window_pair(context.bounds[w]) for w in rs.windows],
            {p: context.params[p].value for p in rs.param_names},
        )
        for rs in policy.rulesets.values()
    }
    results: list[Result] = []
    empty: dict[str, list[Event]] = {}
    no_events: list[Event] = []
    for subject, rs in assigned:
        by_kind, all_events = grouped.get(subject.id, (empty, no_events))
        try:
            values = functions[rs.id](subject, by_kind, all_events)
        except StepFailed as exc:
            raise _step_error(records, subject, rs, exc) from exc
        results.append(_decide(subject, rs, context, values))
    _roll_up(policy, results, warnings, context)
    return Run(context, results, warnings)


def _window_pair(bounds: Bounds) -> tuple[dt.date, dt.date]:
    return (bounds.start or dt.date.min, bounds.end)


def _group(
    events: list[Event], as_of: dt.date
) -> tuple[dict[str, tuple[dict[str, list[Event]], list[Event]]], list[Event]]:
    """Index events by subject and kind, each list in (date, id) order; set aside late ones."""
    by_subject: dict[str, list[Event]] = defaultdict(list)
    late: list[Event] = []
    for e in events:
        if e.date > as_of:
            late.append(e)
        else:
            by_subject[e.subject_id].append(e)
    grouped: dict[str, tuple[dict[str, list[Event]], list[Event]]] = {}
    for sid, evs in by_subject.items():
        if len(evs) > 1:
            evs.sort(key=_event_key)
        by_kind: dict[str, list[Event]] = {}
        for e in evs:
            lst = by_kind.get(e.kind)
            if lst is None:
                by_kind[e.kind] = [e]
            else:
                lst.append(e)
        grouped[sid] = (by_kind, evs)
    return grouped, late


def _warn_unread_kinds(
    records: Records,
    assigned: list[tuple[Subject, CompiledRuleset]],
    grouped: Mapping[str, tuple[dict[str, list[Event]], list[Event]]],
    warnings: list[Problem],
) -> None:
    """Events that exist but that no rule of the subject's ruleset reads are reported."""
    unread: Counter[str] = Counter()
    for subject, rs in assigned:
        if rs.kinds_read is None:
            continue
        entry = grouped.get(subject.id)
        if entry is None:
            continue
        for kind, evs in entry[0].items():
            if kind not in rs.kinds_read:
                unread[kind] += len(evs)
    if unread:
        listed = ", ".join(f"{k}: {n}" for k, n in sorted(unread.items()))
        warnings.append(
            Problem(
                "eval.unread-kind",
                f"events of kinds no rule of this pack reads (kept, but they change no result): "
                f"{listed}",
                Location(None),
            )
        )


def _decide(
    subject: Subject, rs: CompiledRuleset, context: RunContext, values: tuple[Any, ...]
) -> Result:
    for check in rs.exclusions:
        if values[check.slot]:
            return Result(subject, rs, context, values, "excluded", check.id, None, None, None)
    for index, rule in enumerate(rs.rules):
        outcomes = [values[c.slot] for c in rule.criteria]
        if any(outcomes) if rule.mode == "any" else all(outcomes):
            return Result(
                subject, rs, context, values, "graded", None, index, rule.grade, rule.grade
            )
    return Result(
        subject, rs, context, values, "graded", None, -1, rs.default_grade, rs.default_grade
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
                if head is None or not members_of(s):
                    continue
                heads.add(head)
                if counts(s, r.grade, r.status, r.exclusion):
                    counted[head].append(s.id)
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
                head_result.rollups.append(outcome)


def _step_error(
    records: Records, subject: Subject, rs: CompiledRuleset, exc: StepFailed
) -> EvaluationError:
    # The generated function guards facts, then exclusions, then criteria, in this order.
    ordered = (
        [f.step for f in rs.facts]
        + [c.step for c in rs.exclusions]
        + [c.step for r in rs.rules for c in r.criteria]
    )
    step = ordered[exc.index] if exc.index < len(ordered) else None
    cause = exc.__cause__
    what = f"{type(cause).__name__}: {cause}" if cause else "failed"
    where = records.where("subject", subject.id)
    label = f"{step.id} ({step.clause})" if step and step.clause else (step.id if step else "?")
    return EvaluationError(
        Problem(
            "eval.step-failed",
            f"subject {subject.id!r}: step {label} failed: {what}"
            + (f"; expression: {step.expr}" if step and step.expr else ""),
            Location(where.file, where.line, None, None),
        )
    )
