"""Run a plan's SQL in DuckDB and give the same ``Run`` the Python engine gives.

The program (``sql.compile``) computes, per subject, every slot of the plan's values tuple and
the decision, the roll-ups and the measures; this module executes it, reports what the Python
engine reports (with the same messages: subjects no ruleset grades, events after ``as_of``,
events of kinds no rule reads, repairs that name nothing repairable, missing required fields),
and builds one ``Result`` per subject from the columns, so one renderer serves both engines.

History readings (each subject's earlier results, cycle by cycle) are made by the reference
code (``engine.history``) and joined as a table; the lifecycle of results under
``--procedures`` is applied by the reference code after the SQL.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from yibao_credit.bulk import paused_gc
from yibao_credit.compile.plan import CompiledMeasure, CompiledRuleset, Plan
from yibao_credit.engine.context import RunContext, resolve
from yibao_credit.engine.history import Cycle
from yibao_credit.engine.measures import apply_measures
from yibao_credit.engine.prepare import (
    check_history,
    check_procedures,
    out_of_scope_problem,
    warn_empty,
    warn_not_in_force,
    warn_unfinished,
)
from yibao_credit.engine.procedures import apply_lifecycle
from yibao_credit.engine.program import program_for
from yibao_credit.engine.results import Result, RollupOutcome, Run
from yibao_credit.engine.review import raise_problems, stage_lists
from yibao_credit.engine.run import history_of, result_of
from yibao_credit.engine.validity import SetAside
from yibao_credit.errors import EvaluationError, Location, Problem, RecordError
from yibao_credit.records.contract import MAX_PROBLEMS, Event, Subject
from yibao_credit.records.history import HistoryRecords
from yibao_credit.records.procedures import ProcedureRecords
from yibao_credit.sql.compile import SqlProgram, compile_run, history_col, subject_columns
from yibao_credit.sql.database import Database, DuckDatabase, TablesLike
from yibao_credit.sql.tables import RecordTables

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ReviewedValue:
    """An assessed value (an event of the review kind) as review stages read it."""

    id: str
    kind: str
    date: dt.date
    attrs: Mapping[str, Any]

    def attr(self, name: str) -> Any:
        return self.attrs.get(name)


@dataclass(frozen=True, slots=True)
class EventRef:
    """An event as evidence: what the trace shows of it (its id, kind and date)."""

    id: str
    date: dt.date
    kind: str = ""
    subject_id: str = ""


def evaluate_tables(
    plan: Plan,
    tables: RecordTables,
    as_of: dt.date,
    *,
    history: HistoryRecords | None = None,
    procedures: ProcedureRecords | None = None,
    on: dt.date | None = None,
    evidence: bool = True,
    progress: Progress | None = None,
) -> Run:
    """Evaluate the records in ``tables`` as of ``as_of`` on DuckDB; see ``engine.run``."""
    return evaluate_on(
        DuckDatabase(tables.con),
        plan,
        tables,
        as_of,
        history=history,
        procedures=procedures,
        on=on,
        evidence=evidence,
        progress=progress,
    )


def evaluate_on(
    db: Database,
    plan: Plan,
    tables: TablesLike,
    as_of: dt.date,
    *,
    history: HistoryRecords | None = None,
    procedures: ProcedureRecords | None = None,
    on: dt.date | None = None,
    evidence: bool = True,
    progress: Progress | None = None,
) -> Run:
    """Evaluate the records that ``db`` holds as ``subjects`` and ``events`` (``tables``
    says where they came from): the program runs in ``db``, the results are built here."""
    with paused_gc():
        return _Runner(db, plan, tables, as_of, history, procedures, on, evidence, progress).run()


_PROGRAMS: weakref.WeakKeyDictionary[Plan, dict[Any, SqlProgram]] = weakref.WeakKeyDictionary()


def _program(
    plan: Plan,
    context: RunContext,
    evidence: bool,
    history_defaults: Mapping[str, Mapping[str, Any]],
) -> SqlProgram:
    """The run's program, kept per plan for a few run dates: a service or a test suite runs
    the same pack on the same date many times, and building and printing SQL costs more
    than running it on a small batch."""
    key = (
        context.as_of,
        evidence,
        tuple(sorted((rid, tuple(sorted(d.items()))) for rid, d in history_defaults.items())),
    )
    cache = _PROGRAMS.setdefault(plan, {})
    program = cache.get(key)
    if program is None:
        if len(cache) >= 16:
            cache.clear()
        program = cache[key] = compile_run(plan, context, evidence, history_defaults)
    return program


class _Runner:
    def __init__(
        self,
        db: Database,
        plan: Plan,
        tables: TablesLike,
        as_of: dt.date,
        history: HistoryRecords | None,
        procedures: ProcedureRecords | None,
        on: dt.date | None,
        evidence: bool,
        progress: Progress | None,
    ) -> None:
        self.plan = plan
        self.tables = tables
        self.db = db
        self.as_of = as_of
        self.context: RunContext = replace(
            resolve(plan, as_of), history=history, procedures=procedures, on=on
        )
        self.evidence = evidence
        self.progress = progress or (lambda _stage: None)
        self.warnings: list[Problem] = []
        self._done = 0
        """How many statements of the program have run."""
        self._subject_names = subject_columns(plan)
        self._nobody: dict[str, tuple[Mapping[str, Any], Mapping[str, tuple[Cycle, ...]]]] = {}
        """Per ruleset: the history readings of a subject with no earlier result."""

    # -- the run ----------------------------------------------------------------------------
    def run(self) -> Run:
        plan, context = self.plan, self.context
        check_history(plan, context.history, self.as_of, self.warnings)
        if context.procedures is not None:
            ids = {r[0] for r in self.db.rows("SELECT id FROM subjects")}
            check_procedures(ids, context.procedures)
        tables = self.tables
        warn_empty(tables.files, tables.subject_count, tables.event_count, self.warnings)
        warn_not_in_force(plan, self.as_of, self.warnings)
        readings = self._history_tables()
        program = _program(
            plan, context, self.evidence, {rid: d for rid, (d, _c) in readings.items()}
        )
        self.progress("evaluating")
        self._execute(program, until="_s_")
        self._check_assignment()
        self._execute(program, until="_r_")
        self._check_groups()
        self._check_repairs()
        self._warn_late()
        self._execute(program)
        self._warn_unread()
        self.progress("building results")
        results = self._results(program, readings)
        if plan.review is not None:
            self._review(program, results)
        self._roll_up(program, results)
        by_id = {r.subject.id: r for r in results}
        self._final(program, by_id)
        if context.procedures is not None:
            apply_lifecycle(results, context, self.warnings)
            apply_measures(program_for(plan), results, context)
        else:
            self._measures(program, results, by_id)
        return Run(context, results, self.warnings)

    def _execute(self, program: SqlProgram, until: str | None = None) -> None:
        """Run the statements not yet run, stopping before the first table named ``until…``."""
        for i in range(self._done, len(program.statements)):
            statement = program.statements[i]
            if until is not None and statement.table.startswith(until):
                self._done = i
                return
            self.db.run(program, i)
        self._done = len(program.statements)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.db.rows(sql, params)

    # -- checks and warnings, worded as the Python engine words them --------------------------
    def _check_assignment(self) -> None:
        rulesets = list(self.plan.rulesets.values())
        flags = ", ".join(f"_claims_{i}" for i in range(len(rulesets)))
        two = self._rows(f"SELECT id, {flags} FROM _assigned WHERE _claims > 1 ORDER BY id LIMIT 1")
        if two:
            sid, *claims = two[0]
            found = [rs for rs, c in zip(rulesets, claims, strict=True) if c]
            raise EvaluationError(
                Problem(
                    "eval.two-rulesets",
                    f"subject {sid!r} is graded by rulesets {found[0].id!r} and "
                    f"{found[1].id!r}: their applies_to must not overlap",
                    found[1].applies_to_at,
                )
            )
        out = self._rows(
            "SELECT id, type, category FROM _assigned WHERE _ruleset IS NULL ORDER BY id"
        )
        if out:
            self.warnings.append(out_of_scope_problem(out, self.tables.where("subject", out[0][0])))
        used = {r[0] for r in self._rows("SELECT DISTINCT _ruleset FROM _assigned")}
        warn_unfinished(self.plan, self.context, used, self.warnings)
        self._check_required()

    def _check_required(self) -> None:
        parts = []
        for rs in self.plan.rulesets.values():
            for i, name in enumerate(rs.required):
                parts.append(
                    f"SELECT id, {i} AS k, '{name}' AS field, '{rs.id}' AS rs, '{rs.type}' AS t "
                    f"FROM _assigned WHERE _ruleset = '{rs.id}' AND \"{name}\" IS NULL"
                )
        if not parts:
            return
        rows = self._rows(
            f"SELECT id, field, rs, t FROM ({' UNION ALL '.join(parts)}) "
            f"ORDER BY id, k LIMIT {MAX_PROBLEMS}"
        )
        if rows:
            raise RecordError(
                [
                    Problem(
                        "record.subject.required",
                        f"ruleset {rs!r} needs {name!r} for every {t}",
                        self.tables.where("subject", sid, name),
                    )
                    for sid, name, rs, t in rows
                ]
            )

    def _check_groups(self) -> None:
        ungrouped: list[str] = []
        for rs in self.plan.rulesets.values():
            if rs.groups:
                ungrouped += [
                    r[0] for r in self._rows(f"SELECT id FROM _s_{rs.id} WHERE _group IS NULL")
                ]
        if ungrouped:
            ungrouped.sort()
            self.warnings.append(
                Problem(
                    "eval.no-group",
                    f"{len(ungrouped)} subject(s) match no evaluation group of their ruleset and "
                    f"have no result; first: {ungrouped[0]!r}",
                    self.tables.where("subject", ungrouped[0]),
                )
            )

    def _check_repairs(self) -> None:
        rules = self.plan.validity
        if rules.repair_step is None:
            return
        kinds = ", ".join(f"'{k}'" for k in sorted(rules.repairable)) or "NULL"
        rows = self._rows(
            "SELECT repair_id, repairs, target_kind FROM _repairs "
            f"WHERE target_id IS NULL OR target_kind NOT IN ({kinds}) "
            "ORDER BY subject_id, repair_date, repair_id"
        )
        problems = []
        for rid, repairs, target_kind in rows[:MAX_PROBLEMS]:
            what = (
                "no earlier event of this subject"
                if target_kind is None
                else f"a {target_kind!r} event, which a repair cannot neutralise "
                f"(repairable: {', '.join(sorted(rules.repairable))})"
            )
            problems.append(
                Problem(
                    "record.event.repair-target",
                    f"repair {rid!r} names {repairs!r}: {what}",
                    self.tables.where("event", rid, "repairs"),
                )
            )
        if problems:
            raise RecordError(problems)

    def _warn_late(self) -> None:
        n = self._rows("SELECT count(*) FROM events WHERE date > ?", [self.as_of])[0][0]
        if n:
            first, day = self._rows(
                "SELECT id, date FROM events WHERE date > ? ORDER BY date, id LIMIT 1",
                [self.as_of],
            )[0]
            self.warnings.append(
                Problem(
                    "eval.after-as-of",
                    f"{n} event(s) dated after as_of {self.as_of.isoformat()} were not yet known "
                    f"on that date and are not counted; first: {first!r} ({day})",
                    self.tables.where("event", first),
                )
            )

    def _warn_unread(self) -> None:
        also = {"repair"} if self.plan.validity.repair_step else set()
        parts = []
        for rs in self.plan.rulesets.values():
            if rs.kinds_read is None:
                continue
            read = ", ".join(f"'{k}'" for k in sorted(rs.kinds_read | also)) or "NULL"
            parts.append(
                "SELECT e.kind FROM _live e JOIN _assigned a ON a.id = e.subject_id "
                f"WHERE a._ruleset = '{rs.id}' AND e.kind NOT IN ({read})"
            )
        if not parts:
            return
        rows = self._rows(
            f"SELECT kind, count(*) FROM ({' UNION ALL '.join(parts)}) GROUP BY kind ORDER BY kind"
        )
        if rows:
            listed = ", ".join(f"{k}: {n}" for k, n in rows)
            self.warnings.append(
                Problem(
                    "eval.unread-kind",
                    "events of kinds no rule of this pack reads (kept, but they change no "
                    f"result): {listed}",
                )
            )

    # -- history ---------------------------------------------------------------------------
    def _history_tables(
        self,
    ) -> dict[str, tuple[dict[str, Any], dict[str, tuple[dict[str, Any], Any]]]]:
        """Per ruleset with history facts: the readings of a subject with no earlier result,
        and those of each subject that has one (also loaded as ``_history_<ruleset>``)."""
        out: dict[str, tuple[dict[str, Any], dict[str, tuple[dict[str, Any], Any]]]] = {}
        history = self.context.history
        known = history.subject_ids() if history is not None else frozenset()
        events = self._past_events(known)
        for rs in self.plan.rulesets.values():
            if not rs.history:
                continue
            nobody = Subject.model_construct(id="\0", type=rs.type)
            defaults, cycles = history_of(nobody, rs, self.context)
            self._nobody[rs.id] = (defaults, cycles)
            readings: dict[str, tuple[dict[str, Any], Any]] = {}
            for sid in sorted(known):
                readings[sid] = history_of(
                    Subject.model_construct(id=sid, type=rs.type),
                    rs,
                    self.context,
                    events.get(sid, ()) if rs.history_lapse is not None else (),
                )
            columns = {"subject_id": ("VARCHAR", sorted(readings))}
            for h in rs.history:
                kind = "VARCHAR" if h.fact.op == "previous" else "BIGINT"
                columns[history_col(h.name)] = (
                    kind,
                    [readings[sid][0][h.name] for sid in sorted(readings)],
                )
            self.db.create(f"_history_{rs.id}", columns)
            out[rs.id] = (dict(defaults), readings)
        return out

    def _past_events(self, known: frozenset[str]) -> dict[str, list[Event]]:
        """The events up to as_of of subjects with earlier results (counted or set aside,
        repairs included), for a ruleset's ``history.lapse``: judged by ``engine.history`` on
        the same ``Event`` objects the Python engine has."""
        if not known or not any(rs.history_lapse for rs in self.plan.rulesets.values()):
            return {}
        self.db.create("_yc_known", {"subject_id": ("VARCHAR", sorted(known))})
        names, batches = self.db.cursor(
            "SELECT * EXCLUDE (_line) FROM events WHERE date <= ? "
            "AND subject_id IN (SELECT subject_id FROM _yc_known) ORDER BY subject_id, date, id",
            [self.as_of],
        )
        out: dict[str, list[Event]] = {}
        for rows in batches:
            for row in rows:
                fields = {n: v for n, v in zip(names, row, strict=True) if v is not None}
                event = Event.model_construct(**fields)
                out.setdefault(event.subject_id, []).append(event)
        return out

    # -- results ---------------------------------------------------------------------------
    def _results(
        self,
        program: SqlProgram,
        readings: Mapping[str, tuple[dict[str, Any], dict[str, tuple[dict[str, Any], Any]]]],
    ) -> list[Result]:
        aside = self._set_aside()
        results: list[Result] = []
        subject_names = self._subject_names
        for rs in self.plan.rulesets.values():
            columns = program.slot_columns[rs.id]
            evidence_at = {i for i, c in enumerate(columns) if c.startswith("_ev_")}
            # The plan puts every evidence slot right after the fact values (place_facts).
            assert evidence_at == set(
                range(min(evidence_at, default=0), len(evidence_at) + min(evidence_at, default=0))
            )
            select = ", ".join(
                [*(f'"{n}"' for n in subject_names), "_group"]
                + [
                    f'"{c}"' + (f', "{c}_d"' if i in evidence_at else "")
                    for i, c in enumerate(columns)
                ]
                + ["_x", "_r", "_s", "_v"]
            )
            _names, batches = self.db.cursor(f"SELECT {select} FROM _r_{rs.id}")
            defaults, by_subject = readings.get(rs.id, ({}, {}))
            n_subject = len(subject_names)
            for rows in batches:
                for row in rows:
                    results.append(
                        self._result(
                            rs, row, n_subject, columns, evidence_at, aside, defaults, by_subject
                        )
                    )
        results.sort(key=lambda r: r.subject.id)
        return results

    def _result(
        self,
        rs: CompiledRuleset,
        row: tuple[Any, ...],
        n_subject: int,
        columns: Sequence[str],
        evidence_at: set[int],
        aside: Mapping[str, tuple[SetAside, ...]],
        defaults: Mapping[str, Any],
        by_subject: Mapping[str, tuple[dict[str, Any], Any]],
    ) -> Result:
        names = self._subject_names
        fields = {n: v for n, v in zip(names, row[:n_subject], strict=True) if v is not None}
        subject = Subject.model_construct(**fields)
        group = row[n_subject]
        # Slots: fact values, then each event fact's evidence (ids and dates, two columns),
        # then the rest (compile/plan.py), then the four decision values.
        base = n_subject + 1
        first = min(evidence_at) if evidence_at else len(columns)
        start = base + first
        end = start + 2 * len(evidence_at)
        evidence = [
            [EventRef(e, d) for e, d in zip(row[j], row[j + 1], strict=True)] if row[j] else ()
            for j in range(start, end, 2)
        ]
        values = (*row[base:start], *evidence, *row[end:])
        result = result_of(subject, rs, self.context, values)
        if rs.history:
            h_values, h_cycles = by_subject.get(subject.id) or self._nobody[rs.id]
            result.history, result.history_cycles = h_values, h_cycles
        result.group = group
        result.set_aside = aside.get(subject.id, ())
        return result

    def _set_aside(self) -> dict[str, tuple[SetAside, ...]]:
        rules = self.plan.validity
        if not rules:
            return {}
        out: dict[str, list[SetAside]] = {}
        rows = self._rows(
            "SELECT subject_id, id, kind, date, expired_on, repair_id, repair_date FROM _aside "
            "ORDER BY subject_id, date, id"
        )
        for sid, eid, kind, day, expired_on, rid, rday in rows:
            event = EventRef(eid, day, kind, sid)
            if rid is not None:
                assert rules.repair_step is not None
                repair = EventRef(rid, rday, "repair", sid)
                item = SetAside(event, rules.repair_step, repaired_by=repair)
            else:
                item = SetAside(event, rules.periods[kind][1], expired_on=expired_on)
            out.setdefault(sid, []).append(item)
        return {k: tuple(v) for k, v in out.items()}

    # -- review stages ---------------------------------------------------------------------
    def _review(self, program: SqlProgram, results: list[Result]) -> None:
        """Each result's stages (score and grade as each stage's values give them) and the
        values review changed that some stage's facts read; stage problems raised as the
        Python engine raises them."""
        review = self.plan.review
        assert review is not None
        n = len(review.stages)
        keys = ", ".join(f'"{k}"' for k in review.key)
        rows = self._rows(
            f'SELECT subject_id, id, kind, date, "{review.attribute}", {keys}, "value" '
            f"FROM _live WHERE kind = ? ORDER BY subject_id, date, id",
            [review.kind],
        )
        by_subject: dict[str, list[ReviewedValue]] = {}
        for sid, eid, kind, day, stage, *rest in rows:
            attrs = dict(zip(review.key, rest[:-1], strict=True))
            attrs[review.attribute] = stage
            attrs["value"] = rest[-1]
            by_subject.setdefault(sid, []).append(ReviewedValue(eid, kind, day, attrs))
        problems: list[Problem] = []
        staged: dict[str, list[tuple[Any, Any]]] = {}
        stage_tables: dict[str, list[str]] = {}
        evidence: dict[str, list[str]] = {}
        for rs in self.plan.rulesets.values():
            tables = [f"_r_{rs.id}__{i}" for i in range(n - 1)] + [f"_r_{rs.id}"]
            stage_tables[rs.id] = tables
            evidence[rs.id] = [c for c in program.slot_columns[rs.id] if c.startswith("_ev_")]
            for table in tables:
                for sid, score, grade in self._rows(f"SELECT id, _s, _grade FROM {table}"):
                    staged.setdefault(sid, []).append((score, grade))
        # In subject order across rulesets, as the Python engine meets them.
        for r in results:
            rs = r.ruleset
            events = by_subject.get(r.subject.id, [])
            _lists, changes = stage_lists(events, review, self.tables, problems)  # type: ignore[arg-type]
            r.stages = tuple(
                (name, score, grade)
                for name, (score, grade) in zip(review.stages, staged[r.subject.id], strict=True)
            )
            if changes:
                used = self._used_ids(stage_tables[rs.id], evidence[rs.id], r.subject.id)
                changes = tuple(c for c in changes if any(eid in used for _, _, eid in c.values))
            r.review_changes = changes
        raise_problems(problems)

    def _used_ids(self, tables: Sequence[str], evidence: Sequence[str], sid: str) -> set[str]:
        used: set[str] = set()
        if not evidence:
            return used
        names = ", ".join(f'"{c}"' for c in evidence)
        for table in tables:
            for row in self._rows(f"SELECT {names} FROM {table} WHERE id = ?", [sid]):
                for ids in row:
                    used.update(ids or ())
        return used

    # -- roll-ups and measures --------------------------------------------------------------
    def _roll_up(self, program: SqlProgram, results: list[Result]) -> None:
        by_id = {r.subject.id: r for r in results}
        for rs, rollup, table in program.rollups:
            rows = self._rows(
                "SELECT head, counted, band, head_ruleset, head_status, before, after "
                f"FROM {table} ORDER BY head"
            )
            for head, counted, band_index, head_rs, status, before, after in rows:
                if head_rs is None:
                    self.warnings.append(
                        Problem(
                            "eval.rollup-head-missing",
                            f"roll-up {rollup.id!r}: head {head!r} has members but no result "
                            "(not graded by this pack)",
                            Location(None),
                        )
                    )
                    continue
                if head_rs != rs.id:
                    self.warnings.append(
                        Problem(
                            "eval.rollup-head-elsewhere",
                            f"roll-up {rollup.id!r}: head {head!r} is graded by ruleset "
                            f"{head_rs!r}, not {rs.id!r}; no cap applied",
                        )
                    )
                    continue
                ids = tuple(counted)
                band = rollup.caps[band_index] if band_index is not None else None
                if status != "graded":
                    outcome = RollupOutcome(
                        rollup, ids, band, before, before, False, "head excluded"
                    )
                elif band is None:
                    outcome = RollupOutcome(rollup, ids, None, before, before, False, "no cap")
                else:
                    reason = "capped" if after != before else "already at or below cap"
                    outcome = RollupOutcome(
                        rollup, ids, band, before, after, after != before, reason
                    )
                head_result = by_id[head]
                head_result.grade = outcome.after
                head_result.rollups = (*head_result.rollups, outcome)

    def _final(self, program: SqlProgram, by_id: Mapping[str, Result]) -> None:
        """The grade after every roll-up, as SQL computed it, must be what the outcomes say."""
        rows = self._rows(f"SELECT id, _grade FROM {program.final_grades}")
        for sid, grade in rows:
            result = by_id[sid]
            if result.grade != grade:
                raise AssertionError(
                    f"SQL engine: subject {sid!r}: roll-ups give {result.grade!r} in Python "
                    f"and {grade!r} in SQL"
                )

    def _measures(
        self, program: SqlProgram, results: list[Result], by_id: Mapping[str, Result]
    ) -> None:
        held: dict[tuple[str, int], bool] = {}
        for rid, columns in program.measure_columns.items():
            names = ", ".join(c for _i, c in columns)
            for row in self._rows(f"SELECT id, {names} FROM _m_{rid}"):
                for (i, _c), value in zip(columns, row[1:], strict=True):
                    held[(row[0], i)] = bool(value)
        order: dict[str, dict[int, int]] = {}
        for rs in self.plan.rulesets.values():
            seen: dict[int, int] = {}
            for ms in rs.measures.values():
                for m in ms:
                    if m.when is not None and id(m.step) not in seen:
                        seen[id(m.step)] = len(seen)
            order[rs.id] = seen
        for r in results:
            grade = r.grade
            if grade is None:
                continue
            candidates = r.ruleset.measures.get(grade, ())
            index = order[r.ruleset.id]
            if not any(m.when is not None for m in candidates):
                r.measures = candidates
                continue
            chosen: list[CompiledMeasure] = []
            checks: list[tuple[CompiledMeasure, bool]] = []
            for m in candidates:
                if m.when is None:
                    chosen.append(m)
                    continue
                value = held[(r.subject.id, index[id(m.step)])]
                checks.append((m, value))
                if value:
                    chosen.append(m)
            r.measures, r.measure_checks = tuple(chosen), tuple(checks)
