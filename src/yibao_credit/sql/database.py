"""Where a run's SQL executes: the few things ``sql.run`` asks of a database.

The program's statements are sqlglot trees, printed for the database that runs them; the
runner's own queries (checks, warnings, fetching the results) are written once, in DuckDB's
dialect, with ``?`` for values, and a database other than DuckDB translates them (Spark:
``spark.database``). Nothing here runs Python inside a query.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

import duckdb

from yibao_credit.errors import Location
from yibao_credit.sql.compile import SqlProgram

Columns = Mapping[str, tuple[str, Sequence[Any]]]
"""A small table given column by column: name → (DuckDB type, values)."""


class Database(Protocol):
    """A session the runner's SQL runs in."""

    def run(self, program: SqlProgram, index: int) -> None:
        """Execute statement ``index`` of the program: fill its table."""

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Every row of a query written in DuckDB's dialect, ``?`` bound to ``params``."""

    def cursor(
        self, sql: str, params: Sequence[Any] = ()
    ) -> tuple[list[str], Iterator[list[tuple[Any, ...]]]]:
        """The column names of a query and its rows in batches, for results too many to hold
        twice."""

    def create(self, table: str, columns: Columns) -> None:
        """A temporary table from values held in Python (history readings, an id list)."""


class TablesLike(Protocol):
    """The records of a run as the database holds them: ``subjects`` and ``events``."""

    @property
    def files(self) -> Mapping[str, str]: ...

    @property
    def subject_count(self) -> int: ...

    @property
    def event_count(self) -> int: ...

    def where(self, what: str, record_id: str, path: str | None = None) -> Location: ...


class DuckDatabase:
    """An in-process DuckDB connection."""

    BATCH = 10_000

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def run(self, program: SqlProgram, index: int) -> None:
        self.con.execute(program.text(index))

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, list(params)).fetchall()

    def cursor(
        self, sql: str, params: Sequence[Any] = ()
    ) -> tuple[list[str], Iterator[list[tuple[Any, ...]]]]:
        cursor = self.con.execute(sql, list(params))
        names = [d[0] for d in cursor.description]

        def batches() -> Iterator[list[tuple[Any, ...]]]:
            while rows := cursor.fetchmany(self.BATCH):
                yield rows

        return names, batches()

    def create(self, table: str, columns: Columns) -> None:
        select = ", ".join(
            f'CAST(unnest(${i + 1}) AS {kind}) AS "{name}"'
            for i, (name, (kind, _v)) in enumerate(columns.items())
        )
        self.con.execute(
            f"CREATE OR REPLACE TEMPORARY TABLE {table} AS SELECT {select}",
            [list(values) for _k, values in columns.values()],
        )
