"""The outlook of a result if nothing new happens: when each counted event stops counting,
the grade the subject would hold on that day, the first day the grade improves, and the day
an exclusion ends.

An event counts in a fact through the fact's window; it stops counting on the first day the
window, bounded as ``time.windows`` bounds it as of that day, no longer reaches back to the
event's date (a rolling ``1y`` window as of D starts the day after D minus one year, so an
event of 2024-03-15 counts as of 2025-03-14 and leaves on 2025-03-15; one of 2024-02-29 counts
as of 2025-02-28 and leaves on 2025-03-01, 《民法典》第202条), or on the day after its validity
period ends (``engine.validity``: 届满 counts its last day, so an event of 2023-03-15 with a
one-year validity counts as of 2024-03-15 and leaves on 2024-03-16). A calendar-year window
moves only when the year it evaluates changes (with ``cycle: completed``, on 31 December of
the next year); ``since`` and ``all`` windows never drop an event, so only a validity period
can.

"Nothing new happens": no event dated after the result's as_of (those in the records were
not yet known on it and are left out), the same pack version, and the earlier results the
history facts read held as they were read (an outlook does not move the history cycles). The
grade on a day is that of a fresh evaluation of the subject with those records on that day as
``as_of`` on this back-end, the reference model (a chain headquarters with its members, so
that its roll-up is applied); the lifecycle of objections and decisions is not part of it.
Events of every kind are followed, not only adverse ones: a reward leaving its window can
lower a grade, and the outlook says so.

An exclusion ends on the first day after as_of on which its condition no longer holds,
found by evaluating on days further and further ahead and then halving the interval: exact
for a condition that, once false, stays false as time passes (``不满1年`` read from the
agreement date, an event leaving a window), which is what an exclusion that ends is. An
exclusion whose condition reads no date, no event fact and no parameter never ends.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from yibao_credit.compile.plan import CompiledCheck, CompiledRuleset, Plan
from yibao_credit.engine.context import EMPTY, EVENT_ORDER, RunContext, resolve
from yibao_credit.engine.parameters import value_on
from yibao_credit.engine.program import PythonProgram, program_for
from yibao_credit.engine.results import Result, Run
from yibao_credit.engine.review import stage_lists
from yibao_credit.engine.rollups import roll_up
from yibao_credit.engine.run import history_of, result_of
from yibao_credit.engine.validity import set_aside
from yibao_credit.errors import EvaluationError, Problem
from yibao_credit.pack.schema import Window
from yibao_credit.records.contract import Event, Records, Subject
from yibao_credit.time.periods import shift_period
from yibao_credit.time.windows import window_bounds

HORIZON = "100y"
"""How far ahead an end is looked for: beyond it, an event or exclusion is said never to
end (a ``since`` window, a revoked licence)."""


@dataclass(frozen=True, slots=True)
class Standing:
    """What a subject would hold on a day: status, grade, score, the exclusion that held."""

    status: str | None
    """``graded`` or ``excluded``; None when no ruleset or group of the pack took it then."""
    grade: str | None = None
    score: float | None = None
    exclusion: str | None = None


@dataclass(frozen=True, slots=True)
class Departure:
    """An event that stops counting in a window on ``leaves_on`` (``by`` the window moving
    past it, or its ``validity`` period ending), and the standing on that day."""

    event: str
    kind: str
    date: dt.date
    leaves_on: dt.date
    by: str
    window: str | None
    """The window it leaves (for ``by: window``); None when its validity ends."""
    clause: str | None
    then: Standing

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "kind": self.kind,
            "date": self.date.isoformat(),
            "leaves_on": self.leaves_on.isoformat(),
            "by": self.by,
            "window": self.window,
            "clause": self.clause,
            "grade_then": self.then.grade,
            "score_then": _number(self.then.score),
            "status_then": self.then.status,
            "exclusion_then": self.then.exclusion,
        }


@dataclass(frozen=True, slots=True)
class Stay:
    """An event that counts in a window it never leaves (``since``, ``all``) and that no
    validity period ends."""

    event: str
    kind: str
    window: str

    def to_dict(self) -> dict[str, Any]:
        return {"event": self.event, "kind": self.kind, "window": self.window}


@dataclass(frozen=True)
class Outlook:
    """One result's outlook if nothing new happens (see the module's docstring)."""

    subject_id: str
    as_of: dt.date
    now: Standing
    departures: tuple[Departure, ...] = ()
    """Each counted event's departure from each window, by day, then event id."""
    stays: tuple[Stay, ...] = ()
    improvement: tuple[dt.date, str] | None = None
    """The first departure day on which the grade is better than now, and that grade."""
    exclusion: str | None = None
    """The exclusion that holds now (an excluded result)."""
    exclusion_ends_on: dt.date | None = None
    """The first day it no longer holds; None: not within ``HORIZON`` (or not excluded)."""
    after_exclusion: Standing | None = None
    """The standing on ``exclusion_ends_on``."""

    def to_dict(self) -> dict[str, Any]:
        """The ``next_improvement`` object of a JSON result (docs/cli.md)."""
        on, grade = self.improvement if self.improvement else (None, None)
        after = self.after_exclusion
        return {
            "on": on.isoformat() if on else None,
            "grade": grade,
            "events": [d.to_dict() for d in self.departures],
            "stays": [s.to_dict() for s in self.stays],
            "exclusion_ends_on": (
                self.exclusion_ends_on.isoformat() if self.exclusion_ends_on else None
            ),
            "after_exclusion": None
            if after is None
            else {
                "grade": after.grade,
                "score": _number(after.score),
                "status": after.status,
                "exclusion": after.exclusion,
            },
        }


def _number(value: float | None) -> float | int | None:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def outlook(result: Result, records: Records, run: Run | None = None) -> Outlook:
    """The outlook of one result; ``records``: the records it was evaluated from (read by the
    Python reader, whichever back-end ran), ``run``: its run, for the earlier results its
    chain members' history facts read."""
    return Outlooks(records, run).of(result)


class Outlooks:
    """Outlooks of many results of one run over the same records: records indexed once."""

    def __init__(self, records: Records, run: Run | None = None) -> None:
        self.records = records
        self.run = run
        self._subjects = {s.id: s for s in records.subjects}
        self._events: dict[str, list[Event]] = defaultdict(list)
        for e in records.events:
            self._events[e.subject_id].append(e)
        for evs in self._events.values():
            evs.sort(key=EVENT_ORDER)
        self._by_id = {e.id: e for e in records.events}
        self._members: dict[str, dict[Any, list[Subject]]] = {}
        self._days: dict[tuple[int, dt.date], _Day] = {}
        self._leaves: dict[tuple[int, str, dt.date, dt.date], dt.date | None] = {}
        """(plan, window, event date, as_of) → the day an event of that date leaves."""

    def day(self, plan: Plan, day: dt.date) -> _Day:
        """What is fixed for an evaluation on ``day`` (the same for every subject)."""
        key = (id(plan), day)
        found = self._days.get(key)
        if found is None:
            if len(self._days) >= DAYS_KEPT:
                self._days.clear()
            found = self._days[key] = _Day.of(plan, day)
        return found

    def of(self, result: Result) -> Outlook:
        rs = result.ruleset
        context = result.context
        as_of = context.as_of
        now = Standing(result.status, result.grade, result.score, result.exclusion)
        departures, stays = self._leaving(result)
        needs = bool(departures) or result.status == "excluded"
        if not needs:
            return Outlook(result.subject.id, as_of, now, (), stays)
        at = _At(self, result)
        found: list[Departure] = []
        for d, event, by, window, clause in departures:
            found.append(
                Departure(event.id, event.kind, event.date, d, by, window, clause, at(d).then)
            )
        improvement = None
        if result.status == "graded" and result.grade is not None:
            current = rs.rank.get(result.grade)
            for dep in found:
                g = dep.then.grade
                if (
                    dep.then.status == "graded"
                    and g is not None
                    and current is not None
                    and rs.rank.get(g, current) < current
                ):
                    improvement = (dep.leaves_on, g)
                    break
        ends_on = after = None
        check = next((c for c in rs.exclusions if c.id == result.exclusion), None)
        if check is not None and _can_end(rs, check, context.plan):
            ends_on = _first_day(as_of, lambda day: not at(day).holds(check))
            if ends_on is not None:
                after = at(ends_on).then
        return Outlook(
            result.subject.id,
            as_of,
            now,
            tuple(found),
            stays,
            improvement,
            result.exclusion,
            ends_on,
            after,
        )

    # -- when each counted event stops counting --------------------------------------------
    def _leaving(
        self, result: Result
    ) -> tuple[list[tuple[dt.date, Event, str, str | None, str | None]], tuple[Stay, ...]]:
        """Each counted event's departures (day, event, by, window, clause), by day and
        event id, and the events that stay."""
        rs = result.ruleset
        plan = result.context.plan
        as_of = result.context.as_of
        windows_of: dict[str, set[str]] = defaultdict(set)
        for f in rs.facts:
            if f.evidence_slot is None or f.window is None:
                continue
            for ref in result.values[f.evidence_slot]:
                windows_of[ref.id].add(f.window)
        out: list[tuple[dt.date, Event, str, str | None, str | None]] = []
        stays: list[Stay] = []
        for eid in sorted(windows_of):
            event = self._by_id.get(eid)
            if event is None:
                raise EvaluationError(
                    Problem(
                        "eval.outlook-records",
                        f"subject {result.subject.id!r}: event {eid!r} counted in its result "
                        "is not in the records given for the outlook (give the same records "
                        "the result was evaluated from)",
                        self.records.where("subject", result.subject.id),
                    )
                )
            rule = plan.validity.periods.get(event.kind)
            expires = shift_period(event.date, rule[0]) + dt.timedelta(days=1) if rule else None
            seen: set[tuple[dt.date, str, str | None]] = set()
            for wname in sorted(windows_of[eid]):
                window = plan.windows[wname]
                key_w = (id(plan), wname, event.date, as_of)
                if key_w not in self._leaves:
                    self._leaves[key_w] = _leaves_window(plan, window, event.date, as_of)
                leaves = self._leaves[key_w]
                if leaves is None and expires is None:
                    stays.append(Stay(eid, event.kind, wname))
                    continue
                if expires is not None and (leaves is None or expires <= leaves):
                    key: tuple[dt.date, str, str | None] = (expires, "validity", None)
                    clause = rule[1].clause if rule else None
                else:
                    assert leaves is not None
                    key = (leaves, "window", wname)
                    clause = rs.window_steps[wname].clause
                if key not in seen:
                    seen.add(key)
                    out.append((key[0], event, key[1], key[2], clause))
        out.sort(key=lambda d: (d[0], d[1].id, d[2], d[3] or ""))
        return out, tuple(stays)

    # -- the records of a fresh evaluation -------------------------------------------------
    def subject(self, sid: str) -> Subject:
        s = self._subjects.get(sid)
        if s is None:
            raise EvaluationError(
                Problem(
                    "eval.outlook-records",
                    f"subject {sid!r} is not in the records given for the outlook (give the "
                    "same records the result was evaluated from)",
                )
            )
        return s

    def events(self, sid: str, as_of: dt.date) -> list[Event]:
        """The subject's events known on as_of, in (date, id) order."""
        return [e for e in self._events.get(sid, ()) if e.date <= as_of]

    def members(self, rs: CompiledRuleset, head: str) -> list[Subject]:
        """The subjects whose roll-up head field names ``head``, for each roll-up of ``rs``."""
        out: dict[str, Subject] = {}
        for rollup in rs.rollups:
            index = self._members.get(rollup.head)
            if index is None:
                index = self._members[rollup.head] = defaultdict(list)
                for s in self.records.subjects:
                    value = s.attr(rollup.head)
                    if value is not None:
                        index[value].append(s)
            for s in index.get(head, ()):
                out.setdefault(s.id, s)
        return [out[k] for k in sorted(out)]


def _leaves_window(plan: Plan, window: Window, day: dt.date, as_of: dt.date) -> dt.date | None:
    """The first day after as_of on which ``window`` no longer reaches back to ``day``."""
    if window.type in ("since", "all"):
        return None

    def length_on(on: dt.date) -> str | None:
        length = window.length
        if length is not None and length in plan.parameters:
            return str(value_on(length, plan.parameters[length], on, plan.file).value)
        return length

    def outside(on: dt.date) -> bool:
        start = window_bounds(window, on, length_on(on)).start
        return start is not None and start > day

    return _first_day(as_of, outside)


def _first_day(after: dt.date, holds: Callable[[dt.date], bool]) -> dt.date | None:
    """The first day after ``after`` on which ``holds`` (false, then true for good as the day
    moves on), within ``HORIZON``; None if it never does. Days double ahead, then halve."""
    limit = shift_period(after, HORIZON)
    low = after  # holds is false here (or this is the start)
    step = 1
    while True:
        probe = min(after + dt.timedelta(days=step), limit)
        if holds(probe):
            high = probe
            break
        if probe >= limit:
            return None
        low = probe
        step *= 2
    while (high - low).days > 1:
        mid = low + dt.timedelta(days=(high - low).days // 2)
        if holds(mid):
            high = mid
        else:
            low = mid
    return high


def _can_end(rs: CompiledRuleset, check: CompiledCheck, plan: Plan) -> bool:
    """Whether an exclusion's condition can change with time alone: it reads as_of, a dated
    parameter or an event fact, itself or through the compute facts it reads."""
    facts = {f.name: f for f in rs.facts}
    todo = list(check.expr.names)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name == "as_of" or name in plan.parameters:
            return True
        f = facts.get(name)
        if f is None:
            continue
        if f.op != "compute":
            return True
        todo.extend(f.step.reads)
    return False


@dataclass
class _Evaluation:
    """A fresh evaluation of a subject on one day: its values tuple and standing."""

    ruleset: str | None
    values: tuple[Any, ...]
    then: Standing

    def holds(self, check: CompiledCheck) -> bool:
        """Whether the exclusion ``check`` still holds (a subject the ruleset no longer takes
        is not excluded by it)."""
        return self.ruleset is not None and bool(self.values and self.values[check.slot])


@dataclass
class _At:
    """Fresh evaluations of one result's subject, by day (each day evaluated once)."""

    outlooks: Outlooks
    result: Result
    cache: dict[dt.date, _Evaluation] = field(default_factory=dict)

    def __call__(self, day: dt.date) -> _Evaluation:
        found = self.cache.get(day)
        if found is None:
            found = self.cache[day] = self._evaluate(day)
        return found

    def _evaluate(self, day: dt.date) -> _Evaluation:
        """The subject (with its chain's members) through the plan on ``day``, as ``prepare``
        and ``run`` take it — its ruleset and group, its events in (date, id) order, validity
        and repair applied on that day, review stages, roll-ups — without checking the
        records again: they were checked when the result was evaluated."""
        result, source = self.result, self.outlooks
        context = result.context
        plan = context.plan
        as_of = context.as_of
        sid = result.subject.id
        on = source.day(plan, day)
        program = on.program
        review = plan.review
        problems: list[Problem] = []
        results: list[Result] = []
        mine: tuple[Any, ...] = ()
        members = source.members(result.ruleset, sid)
        for subject in [source.subject(sid), *members]:
            rs = program.ruleset_for(subject)
            if rs is None:
                continue
            group = None
            if rs.groups:
                group = next((g for g, test in on.groups[rs.id] if test(subject)), None)
                if group is None:
                    continue  # no group takes it that day: no result (eval.no-group)
            known = source.events(subject.id, as_of)
            evs = known
            if plan.validity:
                grouped = {subject.id: list(known)}
                set_aside(grouped, day, plan.validity, source.records)
                evs = grouped[subject.id]
            if review is not None:
                evs = stage_lists(evs, review, source.records, problems)[0][-1]
            held = self._history(subject, rs, context, known)
            values = on.functions[(rs.id, group)](subject, evs, held)
            r = result_of(subject, rs, on.context, values)
            r.group = group
            results.append(r)
            if subject.id == sid:
                mine = values
        if members:  # only a head's grade is capped, by its members'
            roll_up(program, results, [], on.context)
        for r in results:
            if r.subject.id == sid:
                standing = Standing(r.status, r.grade, r.score, r.exclusion)
                return _Evaluation(r.ruleset.id, mine, standing)
        return _Evaluation(None, (), Standing(None))

    def _history(
        self, subject: Subject, rs: CompiledRuleset, context: RunContext, events: list[Event]
    ) -> Mapping[str, Any]:
        """The history readings as the result's run read them (held, not read again)."""
        if not rs.history:
            return EMPTY
        if subject.id == self.result.subject.id and self.result.history:
            return self.result.history
        run = self.outlooks.run
        earlier = run.get(subject.id) if run is not None else None
        if earlier is not None and earlier.history:
            return earlier.history
        return history_of(subject, rs, context, events)[0]


@dataclass(frozen=True)
class _Day:
    """A day's run context, each ruleset's function with that day's windows and parameters
    bound (per group) and each group's test."""

    plan: Plan
    program: PythonProgram
    context: RunContext
    functions: Mapping[tuple[str, str | None], Callable[..., tuple[Any, ...]]]
    groups: Mapping[str, list[tuple[str, Callable[[Subject], Any]]]]

    @staticmethod
    def of(plan: Plan, day: dt.date) -> _Day:
        program = program_for(plan)
        context = resolve(plan, day)
        params = {name: p.value for name, p in context.params.items()}
        groups = {
            rs.id: [(g.id, program.rulesets[rs.id].groups[g.id](day, params)) for g in rs.groups]
            for rs in plan.rulesets.values()
            if rs.groups
        }
        return _Day(plan, program, context, _functions(context, program), groups)


DAYS_KEPT = 4096
"""How many days' contexts an ``Outlooks`` keeps (a province's departures fall on a few
hundred distinct days; the search for an exclusion's end adds a few dozen)."""


def _functions(
    context: RunContext, program: PythonProgram
) -> dict[tuple[str, str | None], Callable[..., tuple[Any, ...]]]:
    """Each ruleset's function with the day's windows and parameters bound, per group."""
    out: dict[tuple[str, str | None], Callable[..., tuple[Any, ...]]] = {}
    for prog in program.rulesets.values():
        rs = prog.rules
        windows = [
            (context.bounds[w].start or dt.date.min, context.bounds[w].end) for w in rs.windows
        ]
        params = {p: context.params[p].value for p in prog.param_names}
        out[(rs.id, None)] = prog.make(context.as_of, windows, params)
        for g in rs.groups:
            out[(rs.id, g.id)] = prog.make(context.as_of, windows, {**params, **g.params})
    return out


def outlooks_of(
    results: Iterable[Result], records: Records, run: Run | None = None
) -> dict[str, Outlook]:
    """The outlook of each result, by subject id."""
    source = Outlooks(records, run)
    return {r.subject.id: source.of(r) for r in results}
