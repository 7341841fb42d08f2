"""An audit pack's program on Spark: the same SQL as in DuckDB, translated by sqlglot.

The claims files are read and checked as the DuckDB audit reads them (``sql.claims``: one
located ``RecordError`` for any problem), then handed to Spark through Arrow; every view and
table of the program (``audit.plan``) is the DuckDB text translated for Spark, ordered
aggregates made explicit (``sql.dialect.for_spark``). No Python runs inside a query, so the
program runs on a cluster without Python on the executors. The views and tables are the
run's own (``spark.database``'s prefix) and are dropped when the run ends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import sqlglot
from pyspark.sql import SparkSession
from sqlglot import exp

from yibao_credit.audit.compile import AuditPack
from yibao_credit.audit.run import AuditResult, audit_on, read_inputs
from yibao_credit.spark.database import ARROW_TYPES, SparkDatabase
from yibao_credit.sql.database import Columns
from yibao_credit.sql.dialect import for_spark
from yibao_credit.sql.session import connect

CLAIM_TABLES = ("insured", "claims", "claim_lines", "stock")

_TYPES: dict[str, pa.DataType] = {**ARROW_TYPES, "DECIMAL(18,4)": pa.decimal128(18, 4)}


class SparkAudit:
    """An audit's database (``audit.run.AuditDatabase``) in a Spark session."""

    def __init__(self, db: SparkDatabase) -> None:
        self.db = db

    def _spark_sql(self, query: str) -> str:
        """The query for Spark, over the run's own tables (a ``WITH`` name stays as it is)."""
        tree = for_spark(sqlglot.parse_one(query, read="duckdb"))
        local = {cte.alias for cte in tree.find_all(exp.CTE)}
        for table in tree.find_all(exp.Table):
            if not table.args.get("db") and table.name not in local:
                table.set("this", exp.to_identifier(self.db.name(table.name)))
        return tree.sql(dialect="spark")

    def view(self, name: str, query: str) -> None:
        self.db.spark.sql(self._spark_sql(query)).createOrReplaceTempView(self.db.name(name))
        self.db.made.append(name)

    def table(self, name: str, query: str) -> None:
        self.db.register(name, self.db.spark.sql(self._spark_sql(query)))

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.db.rows(sql, params)

    def create(self, table: str, columns: Columns) -> None:
        arrays = {
            name: pa.array(list(values), type=_TYPES[kind])
            for name, (kind, values) in columns.items()
        }
        self.db.register(table, self.db.spark.createDataFrame(pa.table(arrays)))


def audit_files_on_spark(
    spark: SparkSession,
    pack: AuditPack,
    *,
    period_from: dt.date,
    period_to: dt.date,
    **files: Any,
) -> AuditResult:
    """``audit.run.audit_files``, with the program run by Spark: the files are read and
    checked by DuckDB (the same located errors), then handed over through Arrow."""
    db = SparkDatabase(spark)
    try:
        with connect() as con:
            got = read_inputs(con, pack, period_from=period_from, period_to=period_to, **files)
            con.execute("SELECT 1").fetchall()  # the loader's last result, finished
            for table in CLAIM_TABLES:
                arrow = con.sql(f"SELECT * FROM {table}").to_arrow_table()
                db.register(table, spark.createDataFrame(arrow))
        audit = SparkAudit(db)
        result = audit_on(audit, pack, got.rules, got.institutions, period_from, period_to)
    finally:
        db.close()
    return got.finish(result)
