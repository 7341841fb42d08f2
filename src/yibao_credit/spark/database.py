"""``sql.run``'s database on Spark: the program's statements cached as temporary views, the
runner's DuckDB-dialect queries translated by sqlglot.

Every table a run makes gets a prefix of its own (``_yc_<run>_``), so two runs in one Spark
session, or a user's own view called ``subjects``, never meet; the views are dropped and
released when the run ends. Each statement's table is computed once and kept
(``localCheckpoint``): the runner reads ``_assigned``, ``_live`` and ``_r_<ruleset>`` several
times, and a view Spark recomputed each time would join the events again. A checkpoint, not
``CACHE TABLE``: a checkpointed table is a plain scan to the queries that read it, where a
cached view keeps its whole plan, which Spark analyses again — and compares with every cached
plan — at each query that reads it (seconds per query for the ``_r_`` tables' wide plans).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import sqlglot
from pyspark.sql import DataFrame, SparkSession
from sqlglot import exp

from yibao_credit.errors import Location
from yibao_credit.sql.compile import SqlProgram
from yibao_credit.sql.database import Columns
from yibao_credit.sql.dialect import for_spark

ARROW_TYPES: dict[str, pa.DataType] = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
}


def literal(value: Any) -> exp.Expr:
    """A Python value as a Spark SQL literal."""
    if value is None:
        return exp.null()
    if isinstance(value, bool):
        return exp.true() if value else exp.false()
    if isinstance(value, int | float):
        return exp.Literal.number(repr(value))
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, list | tuple):
        return exp.Array(expressions=[literal(v) for v in value])
    raise TypeError(f"no SQL literal for {type(value).__name__}")


class SparkDatabase:
    """One run's tables in a Spark session."""

    BATCH = 10_000

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self.prefix = f"_yc_{uuid.uuid4().hex[:8]}_"
        self.made: list[str] = []
        self.kept: dict[str, DataFrame] = {}

    # -- names -------------------------------------------------------------------------------
    def name(self, table: str) -> str:
        return self.prefix + table

    def _own(self, tree: exp.Expr) -> exp.Expr:
        """The run's own names for the tables a query reads (none is qualified by a
        database: every table of the program is the run's)."""
        for table in tree.find_all(exp.Table):
            if not table.args.get("db"):
                table.set("this", exp.to_identifier(self.name(table.name)))
        return tree

    def translate(self, sql: str, params: Sequence[Any] = ()) -> str:
        """A query written for DuckDB with ``?`` values, as Spark SQL over the run's tables."""
        tree = sqlglot.parse_one(sql, read="duckdb")
        values = iter(params)
        for placeholder in list(tree.find_all(exp.Placeholder, bfs=False)):
            placeholder.replace(literal(next(values)))
        return self._own(tree).sql(dialect="spark")

    # -- Database ----------------------------------------------------------------------------
    def run(self, program: SqlProgram, index: int) -> None:
        statement = program.statements[index]
        query = self._own(for_spark(statement.query)).sql(dialect="spark")
        self._cache(statement.table, query)

    def _cache(self, table: str, query: str) -> None:
        self.register(table, self.spark.sql(query))

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.spark.sql(self.translate(sql, params)).collect()]

    def cursor(
        self, sql: str, params: Sequence[Any] = ()
    ) -> tuple[list[str], Iterator[list[tuple[Any, ...]]]]:
        frame = self.spark.sql(self.translate(sql, params))
        return list(frame.columns), _batches(frame, self.BATCH)

    def create(self, table: str, columns: Columns) -> None:
        arrays = {
            name: pa.array(list(values), type=ARROW_TYPES[kind])
            for name, (kind, values) in columns.items()
        }
        self.register(table, self.spark.createDataFrame(pa.table(arrays)))

    # -- records and clean-up ------------------------------------------------------------------
    def register(self, table: str, frame: DataFrame) -> None:
        """A DataFrame computed now and kept as one of the run's tables."""
        kept = frame.localCheckpoint(eager=True)
        kept.createOrReplaceTempView(self.name(table))
        self.kept[table] = kept
        self.made.append(table)

    def frame(self, table: str) -> DataFrame:
        return self.spark.table(self.name(table))

    def drop(self, table: str) -> None:
        self.spark.catalog.dropTempView(self.name(table))
        kept = self.kept.pop(table, None)
        if kept is not None:
            kept.unpersist()

    def close(self) -> None:
        for table in reversed(self.made):
            self.drop(table)
        self.made.clear()


def _batches(frame: DataFrame, size: int) -> Iterator[list[tuple[Any, ...]]]:
    """Rows through Arrow: a column at a time into Python values (lists, dates), far faster
    than Spark's row objects."""
    table = frame.toArrow()
    for batch in table.to_batches(max_chunksize=size):
        columns = [c.to_pylist() for c in batch.columns]
        yield list(zip(*columns, strict=True))


class SparkTables:
    """Where the run's records came from (``sql.database.TablesLike``)."""

    def __init__(
        self,
        db: SparkDatabase,
        files: dict[str, str],
        subject_count: int,
        event_count: int,
    ) -> None:
        self.db = db
        self.files = files
        self.subject_count = subject_count
        self.event_count = event_count

    def where(self, what: str, record_id: str, path: str | None = None) -> Location:
        table = {"subject": "subjects", "event": "events"}.get(what)
        line = None
        if table is not None:
            found = self.db.rows(f"SELECT _line FROM {table} WHERE id = ? LIMIT 1", [record_id])
            line = found[0][0] if found else None
        return Location(self.files.get(what), line, None, path)
