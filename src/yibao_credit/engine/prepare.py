"""Prepare a run: check the records against the plan, give each subject its ruleset and
evaluation group, group events by subject in (date, id) order, set aside expired and repaired
events. Nothing is dropped silently: subjects no ruleset grades, events dated after
``as_of`` and events of kinds no rule reads are reported as warnings.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field, replace

from yibao_credit.bulk import paused_gc
from yibao_credit.compile.plan import CompiledRuleset, Plan
from yibao_credit.engine.context import EVENT_ORDER, RunContext, resolve
from yibao_credit.engine.history import MAX_CYCLES, cycle_as_of
from yibao_credit.engine.program import PythonProgram, program_for
from yibao_credit.engine.validity import SetAside, set_aside
from yibao_credit.errors import Location, Problem, RecordError
from yibao_credit.records.checks import check_event_kinds, check_subject_attributes
from yibao_credit.records.contract import MAX_PROBLEMS, Event, Records, Subject
from yibao_credit.records.history import HistoryRecords
from yibao_credit.records.procedures import ProcedureRecords


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
    program: PythonProgram | None = None
    """The Python program of the plan (None: ``program_for(context.plan)`` on use)."""


def prepare(
    plan: Plan,
    records: Records,
    as_of: dt.date,
    history: HistoryRecords | None = None,
    procedures: ProcedureRecords | None = None,
    on: dt.date | None = None,
) -> Prepared:
    """Check records against the pack, assign rulesets, group events by subject."""
    with paused_gc():
        return _prepare(plan, records, as_of, history, procedures, on)


def _prepare(
    plan: Plan,
    records: Records,
    as_of: dt.date,
    history: HistoryRecords | None,
    procedures: ProcedureRecords | None,
    on: dt.date | None,
) -> Prepared:
    program = program_for(plan)
    check_event_kinds(records, plan.event_kinds)
    check_subject_attributes(records, plan.subject_attributes)
    context = replace(resolve(plan, as_of), history=history, procedures=procedures, on=on)
    warnings: list[Problem] = []
    check_history(plan, history, as_of, warnings)
    if procedures is not None:
        check_procedures({s.id for s in records.subjects}, procedures)
    warn_empty(records.files, len(records.subjects), len(records.events), warnings)
    warn_not_in_force(plan, as_of, warnings)
    assigned = _assign_rulesets(program, records, warnings)
    warn_unfinished(plan, context, {rs.id for _, rs in assigned}, warnings)
    _check_required(records, assigned)
    grouped_subjects = _assign_groups(assigned, context, warnings, records, program)
    grouped, late = _group(records.events, as_of)
    aside = set_aside(grouped, as_of, plan.validity, records) if plan.validity else {}
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
        assigned, grouped, warnings, {"repair"} if plan.validity.repair_step else set()
    )
    return Prepared(context, records, grouped_subjects, grouped, warnings, aside, program)


def check_history(
    plan: Plan, history: HistoryRecords | None, as_of: dt.date, warnings: list[Problem]
) -> None:
    """Without earlier results every cycle is missing (said once); with them, every grade
    they hold must be one of the pack's, and a result dated on no cycle's end is said."""
    if history is None:
        if any(rs.history for rs in plan.rulesets.values()):
            warnings.append(
                Problem(
                    "eval.no-history",
                    "no earlier results were given (--history): every earlier cycle counts as "
                    "missing, so history facts hold no grade and no streak",
                )
            )
        return
    labels = plan.grade_labels
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
    _warn_off_cycle(plan, history, as_of, warnings)


def _warn_off_cycle(
    plan: Plan, history: HistoryRecords, as_of: dt.date, warnings: list[Problem]
) -> None:
    """An earlier result is read only as of a cycle's end: as_of stepped back whole cycles
    (``engine.history.cycle_as_of``; 29 February standing for a 28 February). A result dated
    a day off (2023-12-30 for a 2023-12-31 cycle) is never read, and the cycle it was meant
    for counts as missing: said, not left to change a streak without a word."""
    cycles = {rs.history_cycle for rs in plan.rulesets.values() if rs.history and rs.history_cycle}
    if not cycles or not history.results:
        return
    ends: set[dt.date] = set()
    for cycle in cycles:
        for back in range(1, MAX_CYCLES + 1):
            day = cycle_as_of(as_of, cycle, back)
            ends.add(day)
            if (day.month, day.day) == (2, 28) and calendar.isleap(day.year):
                ends.add(day.replace(day=29))
    off = sorted((history.lines.get(key, 0), key) for key in history.results if key[1] not in ends)
    if not off:
        return
    line, (sid, day) = off[0]
    nearest = min(ends, key=lambda e: (abs((e - day).days), e))
    shown = ", ".join(e.isoformat() for e in sorted(ends, reverse=True)[:3])
    warnings.append(
        Problem(
            "eval.history-off-cycle",
            f"{len(off)} earlier result(s) are dated on no cycle's end and are not read (cycles "
            f"of this run end on {shown}, …); first: subject {sid!r} as of {day.isoformat()}, "
            f"{abs((nearest - day).days)} day(s) from the cycle ending {nearest.isoformat()}",
            Location(history.file, line or None, None, "as_of"),
        )
    )


def check_procedures(known: Set[str], procedures: ProcedureRecords) -> None:
    """Every procedure record names a subject of the run."""
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


LISTED = 20
"""How many ids a warning about many subjects lists by name."""


def id_list(ids: Sequence[str], limit: int = LISTED) -> str:
    """Ids for a message: the first ``limit`` quoted, then how many more."""
    shown = ", ".join(repr(i) for i in ids[:limit])
    return shown if len(ids) <= limit else f"{shown} and {len(ids) - limit} more"


def out_of_scope_problem(
    subjects: Sequence[tuple[str, str, str | None]], where: Location
) -> Problem:
    """The warning for subjects (id, type, category; in id order) no ruleset grades: each is
    named, since a typo in ``type`` or ``category`` is the usual cause."""
    kinds = Counter(f"{t}/{c}" for _, t, c in subjects)
    return Problem(
        "eval.out-of-scope",
        f"{len(subjects)} subject(s) are graded by no ruleset of this pack and have "
        f"no result ({', '.join(f'{k}: {n}' for k, n in sorted(kinds.items()))}): "
        f"{id_list([i for i, _, _ in subjects])}",
        where,
    )


def warn_empty(
    files: Mapping[str, str], subjects: int, events: int, warnings: list[Problem]
) -> None:
    """An empty subjects file, or an events file given but holding no events, is most often a
    failed export: said, rather than every subject graded as having no adverse event."""
    if subjects == 0:
        warnings.append(
            Problem(
                "record.subject.empty",
                "no subjects: there is nothing to evaluate",
                Location(files.get("subject")),
            )
        )
    event_file = files.get("event")
    if events == 0 and event_file is not None and not event_file.startswith("<"):
        warnings.append(
            Problem(
                "record.event.empty",
                "the events file holds no events: every subject is evaluated as having none",
                Location(event_file),
            )
        )


def warn_unfinished(
    plan: Plan, context: RunContext, used: Set[str], warnings: list[Problem]
) -> None:
    """A result published after its year is run as of a day of the next one; a calendar-year
    period that has not ended on as_of is most often that year evaluated by mistake for part
    of the next. Said once per window, for the rulesets that grade some subject; a window
    marked ``cycle: completed`` or ``cycle: to_date`` says which is meant, and is not warned."""
    seen: set[str] = set()
    for rs in plan.rulesets.values():
        name = rs.period
        if rs.id not in used or name is None or name in seen:
            continue
        seen.add(name)
        window = plan.windows[name]
        bounds = context.bounds[name]
        year_end = dt.date(bounds.end.year, 12, 31)
        if window.type != "calendar_year" or window.cycle is not None or bounds.end >= year_end:
            continue
        start = bounds.start.isoformat() if bounds.start else "…"
        warnings.append(
            Problem(
                "eval.unfinished-period",
                f"as_of {context.as_of.isoformat()} falls inside the year "
                f"{start} .. {year_end.isoformat()} of window {name!r} (the period of ruleset "
                f"{rs.id!r}), which has not ended: results evaluate {start} .. "
                f"{bounds.end.isoformat()} only. To evaluate {bounds.end.year - 1}, run as of "
                f"{bounds.end.year - 1}-12-31 or give the window 'cycle: completed'; "
                "'cycle: to_date' says the running year is meant",
                Location(plan.file, None, None, f"windows.{name}"),
            )
        )


def warn_not_in_force(plan: Plan, as_of: dt.date, warnings: list[Problem]) -> None:
    # A pack versioned by its evaluated period is in force for that period, not on as_of.
    day = plan.selection_date(as_of)
    if plan.in_force(day):
        return
    effective = plan.effective
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
            plan.effective_at,
        )
    )


def _assign_rulesets(
    program: PythonProgram, records: Records, warnings: list[Problem]
) -> list[tuple[Subject, CompiledRuleset]]:
    """Each subject's ruleset, in subject id order; subjects no ruleset grades are reported."""
    assigned: list[tuple[Subject, CompiledRuleset]] = []
    out_of_scope: list[Subject] = []
    for subject in sorted(records.subjects, key=lambda s: s.id):
        rs = program.ruleset_for(subject)
        if rs is None:
            out_of_scope.append(subject)
        else:
            assigned.append((subject, rs))
    if out_of_scope:
        warnings.append(
            out_of_scope_problem(
                [(x.id, x.type, x.category) for x in out_of_scope],
                records.where("subject", out_of_scope[0].id),
            )
        )
    return assigned


def _assign_groups(
    assigned: list[tuple[Subject, CompiledRuleset]],
    context: RunContext,
    warnings: list[Problem],
    records: Records,
    program: PythonProgram,
) -> list[tuple[Subject, CompiledRuleset, str | None]]:
    """Each subject's evaluation group: the first of its ruleset's groups that it matches.

    A subject of a ruleset with groups that matches none of them cannot be graded: it is
    reported, never graded with parameters that were not meant for it.
    """
    params = {name: p.value for name, p in context.params.items()}
    tests = {
        rs.id: [
            (g.id, program.rulesets[rs.id].groups[g.id](context.as_of, params)) for g in rs.groups
        ]
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
