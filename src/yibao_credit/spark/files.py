"""Records files for a Spark run, read by the CLI's own readers.

A file is read as the DuckDB engine reads it (``sql.tables.load_tables``: DuckDB when every
record is plainly valid, else the Python reader), with every located error that reading
raises; the checked tables then go to Spark through Arrow, with each record's line, so a
message about a record names its file and line whichever engine ran.
"""

from __future__ import annotations

from pathlib import Path

from yibao_credit.compile.plan import Plan
from yibao_credit.spark.database import SparkDatabase, SparkTables
from yibao_credit.sql.session import connect
from yibao_credit.sql.tables import load_tables


def load_files(
    db: SparkDatabase,
    plan: Plan,
    subjects: str | Path,
    events: str | Path | None,
    *,
    encoding: str = "utf-8",
) -> tuple[SparkTables, frozenset[str]]:
    """The files as the run's ``subjects`` and ``events``; and the ids in the subjects file."""
    with connect() as con:
        tables = load_tables(con, plan, subjects, events, encoding=encoding)
        ids = frozenset(r[0] for r in con.execute("SELECT id FROM subjects").fetchall())
        for table in ("subjects", "events"):
            arrow = con.sql(f"SELECT * FROM {table}").to_arrow_table()
            db.register(table, db.spark.createDataFrame(arrow))
        return SparkTables(db, tables.files, tables.subject_count, tables.event_count), ids
