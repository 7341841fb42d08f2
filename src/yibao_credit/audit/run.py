"""Run an audit pack over claims files in DuckDB: read and check the claims, load the
institutions and the knowledge tables, run the program (``audit.plan``), collect the hits.

The database is reached through ``AuditDatabase``, four calls, so that the same program runs
in a Spark session (``spark.audit``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import duckdb

from yibao_credit.audit.compile import AuditPack, CompiledRule, knowledge_table
from yibao_credit.audit.hits import Hit, make_hit
from yibao_credit.audit.knowledge import SQL_TYPES
from yibao_credit.audit.plan import HIT_COLUMNS, AuditProgram, hits_table, program
from yibao_credit.errors import Location, Problem, RecordError
from yibao_credit.records.readers import UTF8, read_subjects
from yibao_credit.sql.claims import ClaimTables, load_claims
from yibao_credit.sql.database import Columns, DuckDatabase

INSTITUTION_COLUMNS = ("id", "category", "level", "region")


class AuditDatabase(Protocol):
    """What an audit asks of a database."""

    def view(self, name: str, query: str) -> None:
        """A view over the run's tables, from a query in DuckDB's dialect."""

    def table(self, name: str, query: str) -> None:
        """A table computed now, from a query in DuckDB's dialect."""

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of a query in DuckDB's dialect."""

    def create(self, table: str, columns: Columns) -> None:
        """A table from values held in Python."""


class DuckAudit:
    """An audit's database: an in-process DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._db = DuckDatabase(con)

    def view(self, name: str, query: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMPORARY VIEW {name} AS {query}")

    def table(self, name: str, query: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMPORARY TABLE {name} AS {query}")

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._db.rows(sql, params)

    def create(self, table: str, columns: Columns) -> None:
        self._db.create(table, columns)


@dataclass
class AuditResult:
    """What an audit found, and what it read."""

    pack: AuditPack
    period_from: dt.date
    period_to: dt.date
    hits: list[Hit]
    counts: dict[str, int] = field(default_factory=dict)
    """Rows read per table (insured, claims, claim_lines, stock, institutions)."""
    warnings: list[Problem] = field(default_factory=list)
    audited: dict[str, int] = field(default_factory=dict)
    """Claims and lines of the period (settled from ``period_from`` to ``period_to``)."""
    subject_ids: frozenset[str] | None = None
    """The ids of the subjects file, when one was given (whom events may name)."""


def select_rules(pack: AuditPack, only: Collection[str] | None) -> tuple[CompiledRule, ...]:
    """The pack's rules, or those named (an unknown name is an error naming the known)."""
    if not only:
        return pack.rules
    known = {r.rule.id for r in pack.rules}
    unknown = [r for r in only if r not in known]
    if unknown:
        raise RecordError(
            Problem(
                "audit.rule.unknown",
                f"no rule {', '.join(map(repr, unknown))} in audit pack {pack.id!r}; its rules: "
                f"{', '.join(sorted(known))}",
            )
        )
    return tuple(r for r in pack.rules if r.rule.id in set(only))


def check_needs(rules: Sequence[CompiledRule], has_subjects: bool, has_stock: bool) -> None:
    """Refuse to run a rule whose input is missing, rather than let it find nothing."""
    problems = []
    for r in rules:
        if "subjects" in r.needs and not has_subjects:
            problems.append(
                Problem(
                    "audit.subjects-required",
                    f"rule {r.rule.id} ({r.logic.name}) reads the institutions' category or "
                    "level: give the subjects file (--subjects), or leave the rule out (--rule)",
                )
            )
        if "stock" in r.needs and not has_stock:
            problems.append(
                Problem(
                    "audit.stock-required",
                    f"rule {r.rule.id} ({r.logic.name}) reads stock movements (药品进销存): "
                    "give the stock file (--stock), or leave the rule out (--rule)",
                )
            )
    if problems:
        raise RecordError(problems)


def _institution_columns(subjects: Sequence[Mapping[str, Any]]) -> Columns:
    return {name: ("VARCHAR", [s.get(name) for s in subjects]) for name in INSTITUTION_COLUMNS}


def prepare(
    db: AuditDatabase,
    pack: AuditPack,
    institutions: Sequence[Mapping[str, Any]],
) -> None:
    """The run's small tables: institutions, levels, knowledge points."""
    db.create("_a_institutions", _institution_columns(institutions))
    levels = pack.model.levels or {}
    db.create(
        "_a_levels",
        {"level": ("VARCHAR", list(levels)), "rank": ("BIGINT", list(levels.values()))},
    )
    for k in pack.knowledge.values():
        db.create(
            knowledge_table(k.name),
            {
                col: (SQL_TYPES[kind], k.column(col))
                for col, kind in zip(k.columns, k.types, strict=True)
            },
        )


def execute(
    db: AuditDatabase, pack: AuditPack, plan: AuditProgram, rules: Sequence[CompiledRule]
) -> list[Hit]:
    """Run the program; the hits of every rule, sorted."""
    by_id = {r.rule.id: r for r in rules}
    hits: list[tuple[tuple[Any, ...], Hit]] = []
    for step in plan.steps:
        if step.kind == "view":
            db.view(step.name, step.query)
            continue
        db.table(step.name, step.query)
        rule = by_id[step.rule or ""]
        cols = ", ".join(HIT_COLUMNS)
        for row in db.rows(f"SELECT {cols} FROM {hits_table(rule)}"):
            hit = make_hit(pack, rule, dict(zip(HIT_COLUMNS, row, strict=True)))
            hits.append((hit.sort_key(rule.order), hit))
    hits.sort(key=lambda pair: pair[0])
    return [h for _, h in hits]


def level_warnings(db: AuditDatabase, rules: Sequence[CompiledRule]) -> list[Problem]:
    """Lines a level rule could not judge: the institution's level is not known."""
    out = []
    for r in rules:
        if r.logic.name != "level_limited" or r.knowledge is None:
            continue
        row = db.rows(
            f"SELECT COUNT(*), COUNT(DISTINCT l.institution_id) FROM _a_lines l "
            f"JOIN {knowledge_table(r.knowledge.name)} k ON k.item_code = l.item_code "
            f"WHERE {r.sql().scope('l')} AND l.inst_rank IS NULL"
        )[0]
        if row[0]:
            out.append(
                Problem(
                    "audit.level-unknown",
                    f"rule {r.rule.id}: {row[0]} line(s) at {row[1]} institution(s) whose level "
                    "is not one of the pack's levels (or not given) were not judged",
                )
            )
    return out


def read_institutions(path: str | Path | None, encoding: str = UTF8) -> list[dict[str, Any]]:
    """What rules read of the institutions (the subjects file of the data contract)."""
    if path is None:
        return []
    records = read_subjects(path, encoding=encoding)
    return [{name: s.attr(name) for name in INSTITUTION_COLUMNS} for s in records.subjects]


@dataclass
class AuditInputs:
    """What an audit reads, checked and loaded into a DuckDB connection: the rules chosen,
    the institutions and the claims tables."""

    rules: tuple[CompiledRule, ...]
    institutions: list[dict[str, Any]]
    tables: ClaimTables
    given_subjects: bool = False

    def finish(self, result: AuditResult) -> AuditResult:
        """The result, with what was read."""
        result.counts = {**self.tables.counts, "institutions": len(self.institutions)}
        result.warnings[:0] = self.tables.warnings
        if self.given_subjects:
            result.subject_ids = frozenset(s["id"] for s in self.institutions)
        return result


def read_inputs(
    con: duckdb.DuckDBPyConnection,
    pack: AuditPack,
    *,
    claims: str | Path,
    lines: str | Path,
    insured: str | Path,
    period_from: dt.date,
    period_to: dt.date,
    subjects: str | Path | None = None,
    stock: str | Path | None = None,
    rules: Collection[str] | None = None,
    encoding: str = UTF8,
) -> AuditInputs:
    """The period and the rules checked (before any file is read), then the files read and
    checked into ``con`` — whichever database then runs the program."""
    if period_to < period_from:
        raise RecordError(
            Problem(
                "audit.period",
                f"the period ends ({period_to}) before it starts ({period_from})",
                Location(path="--to"),
            )
        )
    chosen = select_rules(pack, rules)
    check_needs(chosen, subjects is not None, stock is not None)
    institutions = read_institutions(subjects, encoding)
    tables = load_claims(
        con,
        claims=claims,
        lines=lines,
        insured=insured,
        stock=stock,
        subjects_ids={s["id"] for s in institutions} if subjects is not None else None,
        encoding=encoding,
    )
    return AuditInputs(chosen, institutions, tables, subjects is not None)


def audit_files(
    pack: AuditPack,
    *,
    period_from: dt.date,
    period_to: dt.date,
    con: duckdb.DuckDBPyConnection | None = None,
    **files: Any,
) -> AuditResult:
    """Audit the claims settled from ``period_from`` to ``period_to`` (both included):
    ``files`` are ``read_inputs``'s (``claims``, ``lines``, ``insured``, ``subjects``,
    ``stock``, ``rules``, ``encoding``)."""
    con = con if con is not None else duckdb.connect()
    got = read_inputs(con, pack, period_from=period_from, period_to=period_to, **files)
    db = DuckAudit(con)
    return got.finish(audit_on(db, pack, got.rules, got.institutions, period_from, period_to))


def audit_on(
    db: AuditDatabase,
    pack: AuditPack,
    rules: tuple[CompiledRule, ...],
    institutions: Sequence[Mapping[str, Any]],
    period_from: dt.date,
    period_to: dt.date,
) -> AuditResult:
    """The audit in a database that holds the checked claims tables (``insured``,
    ``claims``, ``claim_lines``, ``stock``): the same program whatever the database."""
    prepare(db, pack, institutions)
    plan = program(pack, period_from, period_to, rules)
    hits = execute(db, pack, plan, rules)
    audited = db.rows("SELECT (SELECT COUNT(*) FROM _a_claims), (SELECT COUNT(*) FROM _a_lines)")[0]
    return AuditResult(
        pack,
        period_from,
        period_to,
        hits,
        {"institutions": len(institutions)},
        level_warnings(db, rules),
        {"claims": int(audited[0]), "lines": int(audited[1])},
    )
