"""One DuckDB session per evaluation: in-process, in memory, spilling to a temporary directory
beyond its memory limit, closed when the results are built (they hold no connection)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from yibao_credit.compile.plan import Plan
from yibao_credit.engine.results import Run
from yibao_credit.errors import EvaluationError, Problem
from yibao_credit.records.contract import Records
from yibao_credit.records.history import HistoryRecords
from yibao_credit.records.procedures import ProcedureRecords
from yibao_credit.sql.run import Progress, evaluate_tables
from yibao_credit.sql.tables import load_tables, tables_from_records


@contextmanager
def connect(
    memory_limit: str | None = None, temp_directory: str | Path | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-process DuckDB; ``memory_limit`` such as ``2GB``; beyond it, work spills to
    ``temp_directory`` (DuckDB's default: ``.tmp`` beside the database, here a temporary
    folder of the system)."""
    config: dict[str, str | bool | int | float | list[str]] = {"preserve_insertion_order": True}
    if memory_limit is not None:
        config["memory_limit"] = memory_limit
    if temp_directory is not None:
        config["temp_directory"] = str(temp_directory)
    try:
        con = duckdb.connect(":memory:", config=config)
    except duckdb.Error as exc:
        raise EvaluationError(
            Problem("eval.duckdb-config", f"DuckDB refused the settings: {exc}")
        ) from None
    try:
        yield con
    finally:
        con.close()


def evaluate_files(
    plan: Plan,
    subjects: str | Path,
    events: str | Path | None,
    as_of: dt.date,
    *,
    history: HistoryRecords | None = None,
    procedures: ProcedureRecords | None = None,
    on: dt.date | None = None,
    evidence: bool = True,
    memory_limit: str | None = None,
    temp_directory: str | Path | None = None,
    progress: Progress | None = None,
    encoding: str = "utf-8",
) -> tuple[Run, frozenset[str]]:
    """Read the records files with DuckDB and evaluate them there; the run, and the ids of
    every subject in the subjects file. ``encoding``: the records files' text encoding (UTF-8,
    the data contract's, by default; ``gb18030``, ``utf-16``… as for ``load_records``)."""
    with connect(memory_limit, temp_directory) as con:
        if progress:
            progress("reading records")
        tables = load_tables(con, plan, subjects, events, encoding=encoding)
        ids = frozenset(r[0] for r in con.execute("SELECT id FROM subjects").fetchall())
        run = evaluate_tables(
            plan,
            tables,
            as_of,
            history=history,
            procedures=procedures,
            on=on,
            evidence=evidence,
            progress=progress,
        )
    return run, ids


def evaluate_records(
    plan: Plan,
    records: Records,
    as_of: dt.date,
    *,
    history: HistoryRecords | None = None,
    procedures: ProcedureRecords | None = None,
    on: dt.date | None = None,
    memory_limit: str | None = None,
) -> Run:
    """Records already read (from Python dicts, say) evaluated on DuckDB."""
    with connect(memory_limit) as con:
        tables = tables_from_records(con, plan, records)
        return evaluate_tables(plan, tables, as_of, history=history, procedures=procedures, on=on)
