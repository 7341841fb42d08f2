"""The records of a run as DuckDB tables ``subjects`` and ``events``, with an explicit schema.

The SQL engine must accept exactly what the Python engine accepts, with the same messages. So
DuckDB reads a file only when SQL can see that every record is plainly valid: each value of
the type it must have (a JSON string for a text field, a JSON integer for ``beds``, ``true`` /
``false``, a ``YYYY-MM-DD`` calendar date), nothing the Python reader would coerce, skip or
number differently. Whenever SQL finds anything else (a bad value, a duplicate id, an event of
an unknown kind, a blank line, a multi-line CSV cell, a key given twice in a JSON object, a
chain store named as a headquarters…), the file goes through the Python reader
(``records.readers`` and ``records.checks``): it raises the located ``RecordError`` the Python
engine raises, or, when its lax reading accepts the value after all, the tables are built from
the records it read (``tables_from_records``). A file in another encoding than UTF-8 (the
``encoding`` given) is read by DuckDB through a UTF-8 copy in a temporary folder.

``subjects``: the contract fields, then one column per subject attribute the pack declares,
then ``_line``. ``events``: the fields every event has, the core attribute columns, one column
per further attribute any event kind of the pack declares, then ``_line``. ``_line`` is the
physical line of the record in its file (for records given in memory, ``Records.lines``).
Values are those after the pack's checks: defaults filled per kind, CSV text converted.

What the Python engine accepts but no typed column can hold unchanged is refused with
``eval.sql-unsupported`` (never stored as something else): an attribute two kinds type
differently, an integer beyond BIGINT, a value on an event of a kind that does not declare
that attribute and is not of its column's type (CSV text in a number column, say).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from yibao_credit.bulk import paused_gc
from yibao_credit.compile.plan import Plan
from yibao_credit.errors import EvaluationError, Location, Problem, RecordError
from yibao_credit.records.checks import check_event_kinds, check_subject_attributes
from yibao_credit.records.contract import (
    EVENT_FIELDS,
    SUBJECT_FIELDS,
    AttributeSpec,
    Event,
    EventKind,
    Records,
    Subject,
)
from yibao_credit.records.readers import CSV_FIELD_LIMIT, load_records, text_encoding

__all__ = ["RecordTables", "load_tables", "tables_from_records"]

SQL_TYPES: dict[str, str] = {
    "str": "VARCHAR",
    "int": "BIGINT",
    "number": "DOUBLE",
    "bool": "BOOLEAN",
    "date": "DATE",
}
"""Attribute type → DuckDB column type."""

EVENT_ATTRIBUTES: dict[str, str] = {
    "verified": "bool",
    "severity": "str",
    "amount": "number",
    "nonperformance": "bool",
    "reason": "str",
    "points": "number",
    "repairs": "str",
    "indicator": "str",
    "value": "number",
    "period": "str",
}
"""The core attribute fields of ``Event`` (typed by the contract for every event)."""

TABLES = {"subject": "subjects", "event": "events"}

_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
"""What ``str.strip()`` removes from a CSV cell (``_clean_csv_row``), for DuckDB's ``trim``:
every character ``str.isspace`` holds for (tests/test_sql_tables.py checks the list)."""

_MAX_DEPTH = 100
"""Nesting the fast path lets through: well under the Python JSON parser's recursion limit."""

_BLANK = re.compile(rb"\s*")
_TRAILING_COMMA = re.compile(rb",\s*[}\]]")
_SPACE_BEFORE_QUOTE = re.compile(rb'(?:^|,)[ \t\x0b\x0c]+"', re.MULTILINE)
_INT = r"-?[0-9]{1,18}"
_NUMBER = r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?"
_NUMBER_START = ", ".join(f"'{c}'" for c in "-0123456789")


@dataclass
class RecordTables:
    """The records of a run as DuckDB tables ``subjects`` and ``events`` in ``con``."""

    con: duckdb.DuckDBPyConnection
    files: dict[str, str]
    """``"subject"`` / ``"event"`` → the file (or label) as given, like ``Records.files``."""
    subject_count: int
    event_count: int

    def where(self, what: str, record_id: str, path: str | None = None) -> Location:
        """Where a record came from, as ``Records.where`` says it: for messages only."""
        line = None
        table = TABLES.get(what)
        if table is not None:
            row = self.con.execute(
                f"SELECT _line FROM {table} WHERE id = ? LIMIT 1", [record_id]
            ).fetchone()
            line = None if row is None else row[0]
        return Location(self.files.get(what), line, None, path)


# -- the schema -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Schema:
    """Both tables' columns (name, attribute type) and the pack's specs they are checked by."""

    subject: tuple[tuple[str, str], ...]
    event: tuple[tuple[str, str], ...]
    kinds: Mapping[str, EventKind]
    subject_specs: Mapping[str, AttributeSpec]


def _unsupported(message: str, where: Location | None = None) -> EvaluationError:
    return EvaluationError(Problem("eval.sql-unsupported", message, where or Location()))


def _schema(plan: Plan) -> _Schema:
    """The columns of both tables. An attribute two kinds type differently (other than int
    and number, which share a DOUBLE) has no one column type, so the SQL engine refuses it;
    the review's stage and key attributes, read from every event declared or not, are text."""
    subject = [*SUBJECT_FIELDS.items()]
    subject += [(name, spec.type) for name, spec in plan.subject_attributes.items()]
    base: dict[str, str] = {**EVENT_FIELDS, **EVENT_ATTRIBUTES}
    owners: dict[str, list[tuple[str, str]]] = {}
    for kind in plan.event_kinds.values():
        for name, spec in kind.attributes.items():
            owners.setdefault(name, []).append((kind.name, spec.type))
    event = list(base.items())
    for name, declared in owners.items():
        found = {t for _, t in declared} | ({base[name]} if name in base else set())
        if len(found) > 1 and not found <= {"int", "number"}:
            listed = ", ".join(f"{t} for {k}" for k, t in declared)
            if name in base:
                listed += f", {base[name]} as an event field"
            raise _unsupported(
                f"event attribute {name!r} has a different type for each event kind "
                f"({listed}): the DuckDB engine keeps one column per attribute"
            )
        column = found.pop() if len(found) == 1 else "number"
        if name not in base:  # a field of every event keeps its type (int and number: DOUBLE)
            event.append((name, column))
    if plan.review is not None:  # the review reads its stage and key from every event
        names = {n for n, _ in event}
        for name in (plan.review.attribute, *plan.review.key):
            if name not in names:
                event.append((name, "str"))
                names.add(name)
    for table, columns in (("subjects", subject), ("events", event)):
        seen: dict[str, str] = {}
        for name, _type in columns:
            if name.lower() == "_line" or name.lower().startswith("_yc_"):
                raise _unsupported(
                    f"{table} keep the line of each record in column '_line' and work in "
                    f"columns named '_yc_…': rename the attribute {name!r}"
                )
            other = seen.setdefault(name.lower(), name)
            if other != name:
                raise _unsupported(
                    f"{table} columns {other!r} and {name!r} are one name to DuckDB, which "
                    f"does not tell upper from lower case: rename the attribute"
                )
    return _Schema(tuple(subject), tuple(event), plan.event_kinds, plan.subject_attributes)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _fits(value: Any, kind: str) -> bool:
    """Whether a Python value can stand in a column of this attribute type unchanged."""
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "int":
        return isinstance(value, int) and -(2**63) <= value < 2**63
    if kind == "number":
        if isinstance(value, int):
            return abs(value) < 2**1023
        return isinstance(value, float)
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def _value_literal(value: Any, kind: str) -> str | None:
    """A default as an SQL literal of its column type; None when it has none (the SQL path
    then leaves the file to the Python reader, which keeps the value as the pack gives it)."""
    if not _fits(value, kind):
        return None
    if kind == "str":
        return _literal(value)
    if kind == "bool":
        return "TRUE" if value else "FALSE"
    if kind == "int":
        return str(value)
    if kind == "number":
        number = float(value)
        return f"CAST({number!r} AS DOUBLE)" if math.isfinite(number) else None
    return f"DATE '{value.isoformat()}'"


# -- DuckDB settings and tables -------------------------------------------------------------


@contextmanager
def _insertion_order(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Rows keep the order of the file (so a row's position is its line) while reading."""
    row = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    kept = bool(row[0]) if row else True
    if not kept:
        con.execute("SET preserve_insertion_order = true")
    try:
        yield
    finally:
        if not kept:
            con.execute("SET preserve_insertion_order = false")


def _create(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[tuple[str, str]]) -> None:
    """An empty table with the declared types: the schema is never inferred from data."""
    cols = ", ".join(f"{_ident(n)} {SQL_TYPES[t]}" for n, t in columns)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} ({cols}, _line INTEGER)")


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0


def _drop(con: duckdb.DuckDBPyConnection, *tables: str) -> None:
    for table in tables:
        con.execute(f"DROP TABLE IF EXISTS temp.main.{table}")


# -- the fast path: files read and checked by DuckDB ----------------------------------------


class _Fallback(Exception):
    """SQL cannot vouch for this input: the Python reader decides."""


@dataclass(frozen=True)
class _Source:
    """One file staged in DuckDB: ``query`` gives one row per record, in file order, with
    its text cells (named as the columns), ``_line`` and ``_yc_wide`` (more cells than the
    CSV header names, or a cell longer than the Python reader reads, ``CSV_FIELD_LIMIT``).

    ``json``: each cell is a JSON value's text (NULL when absent or null); otherwise each is
    a CSV cell stripped as ``_clean_csv_row`` strips it (NULL when empty)."""

    query: str
    json: bool
    cells: frozenset[str]
    rows: int
    kind: str = "CAST(NULL AS VARCHAR)"
    """The SQL of an event's kind as text."""

    def cell(self, name: str) -> str:
        return _ident(name) if name in self.cells else "CAST(NULL AS VARCHAR)"

    def string(self, name: str) -> str:
        """The cell as text (a JSON string's value)."""
        c = self.cell(name)
        if not self.json:
            return c
        return (
            f"(CASE WHEN contains({c}, '\\') THEN json_extract_string({c}, '$') ELSE {c}[2:-2] END)"
        )

    def typed(self, name: str, kind: str) -> str:
        """Whether a present cell plainly holds a value of this type (no lax coercion)."""
        c = self.cell(name)
        if kind == "str":
            return f"left({c}, 1) = '\"'" if self.json else "TRUE"
        if kind == "bool":
            return f"{c} IN ('true', 'false')"
        if kind == "int":
            return f"regexp_full_match({c}, '{_INT}')"
        if kind == "number":
            finite = f"isfinite(TRY_CAST({c} AS DOUBLE))"
            if self.json:  # DuckDB's JSON parser let through only JSON numbers (and NaN)
                return f"(left({c}, 1) IN ({_NUMBER_START}) AND {finite})"
            return f"(regexp_full_match({c}, '{_NUMBER}') AND {finite})"
        # 10 characters YYYY-MM-DD, a day, written back so by DuckDB; no year 0 (1 BC to it)
        if self.json:  # the JSON string "YYYY-MM-DD", written without escapes
            day = f"strftime(TRY_CAST({c}[2:-2] AS DATE), '\"%Y-%m-%d\"')"
            return f"(strlen({c}) = 12 AND {day} = {c} AND NOT starts_with({c}, '\"0000'))"
        day = f"strftime(TRY_CAST({c} AS DATE), '%Y-%m-%d')"
        return f"(strlen({c}) = 10 AND {day} = {c} AND NOT starts_with({c}, '0000'))"

    def raw_fits(self, name: str, kind: str) -> str:
        """Whether an undeclared value, as the Python reader keeps it (JSON typed, CSV text),
        fits a column of this type unchanged."""
        if kind == "date" or (not self.json and kind != "str"):
            return "FALSE"
        return self.typed(name, kind)

    def value(self, name: str, kind: str) -> str:
        if kind == "str":
            return self.string(name)
        if kind == "date":
            c = self.cell(name)
            return f"TRY_CAST({c}[2:-2] AS DATE)" if self.json else f"TRY_CAST({c} AS DATE)"
        return f"TRY_CAST({self.cell(name)} AS {SQL_TYPES[kind]})"


def _present(src: _Source, name: str) -> str:
    return f"{src.cell(name)} IS NOT NULL"


_IDS = frozenset({"id", "subject_id", "chain_id", "repairs"})
"""Contract fields holding an id: never empty (a CSV cell that is empty is absent)."""


def _contract_checks(src: _Source, name: str, kind: str) -> str:
    """What must not hold of a present contract field's cell (as SQL): its type, and the
    contract's bounds (an id is not empty, ``beds`` is not negative)."""
    c = src.cell(name)
    bad = f"NOT ({src.typed(name, kind)})"
    if name in _IDS and src.json:
        bad += f" OR {c} = '\"\"'"
    if name == "beds":
        bad += f" OR starts_with({c}, '-')"
    return f"({_present(src, name)} AND ({bad}))"


def _spec_checks(
    src: _Source, name: str, spec: AttributeSpec
) -> tuple[list[str], str | None] | None:
    """What must not hold of a declared attribute's cell (as SQL), and its default as a
    literal; None when the default cannot be written in its type."""
    present = _present(src, name)
    bad: list[str] = []
    default = None
    if spec.required:
        bad.append(f"NOT ({present})")
    elif spec.default is not None:
        default = _value_literal(spec.default, spec.type)
        if default is None:
            return None
    typed = src.typed(name, spec.type)
    if spec.choices is not None:
        if spec.type != "str":
            bad.append(present)  # the Python check compares the converted value with text
        else:
            allowed = ", ".join(_literal(c) for c in spec.choices)
            typed = f"({typed} AND {src.string(name)} IN ({allowed}))"
    bad.append(f"({present} AND NOT ({typed}))")
    return bad, default


def _subject_select(src: _Source, schema: _Schema) -> str | None:
    """The typed subjects and a ``_bad`` flag; None when SQL cannot write a default."""
    bad = ["_yc_wide", f"NOT ({_present(src, 'id')})", f"NOT ({_present(src, 'type')})"]
    values = []
    for name, kind in SUBJECT_FIELDS.items():
        bad.append(_contract_checks(src, name, kind))
        values.append(f"CAST({src.value(name, kind)} AS {SQL_TYPES[kind]}) AS {_ident(name)}")
    for name, spec in schema.subject_specs.items():
        checks = _spec_checks(src, name, spec)
        if checks is None:
            return None
        more, default = checks
        bad += more
        value = src.value(name, spec.type)
        if default is not None:
            value = f"coalesce({value}, {default})"
        values.append(f"CAST({value} AS {SQL_TYPES[spec.type]}) AS {_ident(name)}")
    flag = " OR ".join(bad)
    return f"SELECT {', '.join(values)}, _line, coalesce({flag}, TRUE) AS _bad FROM {src.query}"


def _event_select(src: _Source, schema: _Schema) -> str | None:
    """The typed events and a ``_bad`` flag; None when SQL cannot write a default."""
    kind_col = src.kind
    known = ", ".join(_literal(k) for k in schema.kinds)
    bad = ["_yc_wide", *(f"NOT ({_present(src, n)})" for n in EVENT_FIELDS)]
    bad.append(f"{kind_col} NOT IN ({known})")
    base = {**EVENT_FIELDS, **EVENT_ATTRIBUTES}
    declared: dict[str, list[tuple[str, AttributeSpec]]] = {}
    for kind in schema.kinds.values():
        for name, spec in kind.attributes.items():
            declared.setdefault(name, []).append((kind.name, spec))
    values = []
    for name, column in schema.event:
        value = kind_col if name == "kind" else src.value(name, column)
        if name in base:
            bad.append(_contract_checks(src, name, base[name]))
        owners = declared.get(name, [])
        defaults = []
        for kind_name, spec in owners:
            checks = _spec_checks(src, name, spec)
            if checks is None:
                return None
            more, default = checks
            bad.append(f"({kind_col} = {_literal(kind_name)} AND ({' OR '.join(more)}))")
            if default is not None:
                defaults.append(f"WHEN {_literal(kind_name)} THEN {default}")
        if name not in base:  # on other kinds' events, the value as read must fit
            mine = ", ".join(_literal(k) for k, _ in owners)
            others = f"{kind_col} NOT IN ({mine}) AND " if owners else ""
            bad.append(f"({others}{_present(src, name)} AND NOT ({src.raw_fits(name, column)}))")
        if defaults:
            value = f"coalesce({value}, CASE {kind_col} {' '.join(defaults)} END)"
        values.append(f"CAST({value} AS {SQL_TYPES[column]}) AS {_ident(name)}")
    flag = " OR ".join(bad)
    return f"SELECT {', '.join(values)}, _line, coalesce({flag}, TRUE) AS _bad FROM {src.query}"


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        raise _Fallback from None


def _duckdb_path(path: Path) -> str:
    """The file for DuckDB: absolute (no ``~``, no search path), never a glob pattern."""
    name = os.path.abspath(path)
    if any(c in name for c in "*?[]{}") or "://" in name:
        raise _Fallback
    return _literal(name)


def _line_count(data: bytes) -> int:
    return data.count(b"\n") + (0 if data.endswith(b"\n") else 1)


def _stage_jsonl(
    con: duckdb.DuckDBPyConnection, path: Path, what: str, columns: Sequence[str]
) -> _Source:
    """A JSON Lines file, one row per line; falls back on anything DuckDB's JSON reader would
    take that the Python reader's would not (NaN, trailing commas, VT or FF, deep nesting),
    or on a line the Python reader would count differently (a blank line, a lone CR)."""
    data = _read_bytes(path)
    table = f"_yc_raw_{what}"
    if _BLANK.fullmatch(data):  # blank lines only: the Python reader skips them all
        return _Source("", True, frozenset(), 0)
    lines = _line_count(data)
    if (
        (b"\r" in data and data.count(b"\r") != data.count(b"\r\n"))
        or b"\x0b" in data  # DuckDB takes VT and FF beside a document as white space
        or b"\x0c" in data
        or b"NaN" in data
        or b"Infinity" in data
        or _TRAILING_COMMA.search(data)
        or data.count(b"{") + (data.count(b"[") if b"[" in data else 0) - lines >= _MAX_DEPTH
    ):
        raise _Fallback
    extras = _other_keys(con, path, columns)
    cols = ", ".join(f"{_literal(c)}: 'JSON'" for c in [*columns, *extras])
    cells = ", ".join(f"CAST({_ident(c)} AS VARCHAR) AS {_ident(c)}" for c in columns)
    source = _Source("", True, frozenset(columns), 0)
    if what == "event":  # read by most checks: worked out once
        cells += f", {source.string('kind')} AS _yc_kind"
    # the other keys only counted, but read: DuckDB refuses one given twice
    cells += "".join(f", {_ident(c)} IS NOT NULL AS _yc_other{i}" for i, c in enumerate(extras))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {cells} FROM read_json("
        f"{_duckdb_path(path)}, format = 'newline_delimited', records = 'true', "
        f"columns = {{{cols}}})"
    )
    present = " + ".join(
        [
            *(f"count({_ident(c)})" for c in columns),
            *(f"count_if(_yc_other{i})" for i in range(len(extras))),
        ]
    )
    row = con.execute(f"SELECT count(*), {present} FROM {table}").fetchone()
    rows, keys = (int(row[0]), int(row[1])) if row else (0, 0)
    if rows != lines:  # a blank line was skipped: positions are no longer lines
        raise _Fallback
    # Each key of an object is one ':' outside the texts: as many ':' as values read (not
    # null) and no other key can be in the file, nor a key given twice (DuckDB refuses one
    # it reads twice).
    if data.count(b":") != keys:
        _check_keys(con, path, data, rows)
    query = f"(SELECT *, CAST(rowid + 1 AS INTEGER) AS _line, FALSE AS _yc_wide FROM {table})"
    return _Source(query, True, frozenset(columns), rows, "_yc_kind")


_SAMPLE = 1000
"""Lines of a JSON Lines file whose keys are read as further columns (``_other_keys``)."""


def _other_keys(con: duckdb.DuckDBPyConnection, path: Path, columns: Sequence[str]) -> list[str]:
    """Keys other than the columns in the first lines of the file (a file's extra attributes
    are usually on every line): read too, they are checked for repeats as the columns are.
    Left out: a key DuckDB would take for a column (it does not tell upper from lower case)."""
    found = con.execute(
        f"SELECT DISTINCT unnest(json_keys(json)) FROM (SELECT json FROM read_json_objects("
        f"{_duckdb_path(path)}, format = 'newline_delimited') LIMIT {_SAMPLE})"
    ).fetchall()
    taken = {c.lower() for c in columns}
    out: list[str] = []
    for (key,) in sorted(found):
        if isinstance(key, str) and key.lower() not in taken and len(out) < 100:
            taken.add(key.lower())
            out.append(key)
    return out


def _check_keys(con: duckdb.DuckDBPyConnection, path: Path, data: bytes, rows: int) -> None:
    """Raise ``_Fallback`` unless every object of the file names each key once.

    DuckDB refuses a key given twice among the columns it reads, but not among the others;
    ``_stage_jsonl`` has found keys it does not read (or ``null`` values, or ':' in texts).
    The keys of each line are listed, each distinct list checked once for a repeat: one more
    pass over the file, for files with keys beyond the columns. A nested object (more '{'
    than lines, or a '{' in a text) is left to the Python reader."""
    if data.count(b"{") != rows:
        raise _Fallback
    repeats = _count(
        con,
        "SELECT count(*) FROM (SELECT any_value(k) AS k FROM (SELECT json_keys(json) AS k "
        f"FROM read_json_objects({_duckdb_path(path)}, format = 'newline_delimited')) "
        "GROUP BY to_json(k)) WHERE len(k) <> len(list_distinct(k))",
    )
    if repeats:
        raise _Fallback


def _stage_csv(
    con: duckdb.DuckDBPyConnection, path: Path, what: str, columns: Sequence[str]
) -> _Source:
    """A CSV file, one row per line after the header; falls back on anything Python's
    ``csv`` module would read differently (cells spanning lines, spaces before a quote, a
    quoted header, blank lines, a lone CR…)."""
    data = _read_bytes(path)
    table = f"_yc_raw_{what}"
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data or b"\x00" in data or b"\x01" in data:
        raise _Fallback
    if b"\r" in data and data.count(b"\r") != data.count(b"\r\n"):
        raise _Fallback
    header_bytes = data.split(b"\n", 1)[0].removesuffix(b"\r")
    if not header_bytes or b'"' in header_bytes:
        raise _Fallback
    try:
        header = header_bytes.decode("utf-8").split(",")
    except UnicodeDecodeError:
        raise _Fallback from None
    if b'"' in data and _SPACE_BEFORE_QUOTE.search(data):
        raise _Fallback
    named = [name for name in header if name]
    if len(set(named)) != len(named):  # a column named twice: the Python reader refuses it
        raise _Fallback
    position = {name: i for i, name in enumerate(header)}
    wanted = [c for c in columns if c in position]
    lines = _line_count(data)
    if lines == 1:
        return _Source("", False, frozenset(wanted), 0)
    n = len(header)
    cols = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n + 1))
    ws = _literal(_WHITESPACE)
    cells = "".join(
        f"CASE WHEN c{position[c]} = '' THEN NULL WHEN contains({ws}, left(c{position[c]}, 1)) "
        f"OR contains({ws}, right(c{position[c]}, 1)) THEN nullif(trim(c{position[c]}, {ws}), '') "
        f"ELSE c{position[c]} END AS {_ident(c)}, "
        for c in wanted
    )
    longest = ", ".join(f"coalesce(strlen(c{i}), 0)" for i in range(n))
    wide = f"(c{n} IS NOT NULL OR greatest({longest}) > {CSV_FIELD_LIMIT})"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {cells}{wide} AS _yc_wide "
        f"FROM read_csv({_duckdb_path(path)}, header = false, skip = 1, columns = {{{cols}}}, "
        "delim = ',', quote = '\"', escape = '\"', nullstr = chr(1), auto_detect = false, "
        "null_padding = true, strict_mode = true)"
    )
    rows = _count(con, f"SELECT count(*) FROM {table}")
    if rows != lines - 1:  # a blank line skipped, or a quoted cell over several lines
        raise _Fallback
    query = f"(SELECT *, CAST(rowid + 2 AS INTEGER) AS _line FROM {table})"
    kind = _ident("kind") if "kind" in position else "CAST(NULL AS VARCHAR)"
    return _Source(query, False, frozenset(wanted), rows, kind)


def _stage(
    con: duckdb.DuckDBPyConnection, path: Path, what: str, columns: Sequence[str]
) -> _Source:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _stage_jsonl(con, path, what, columns)
    if suffix == ".csv":
        return _stage_csv(con, path, what, columns)
    raise _Fallback  # the Python reader names the unknown file type


def _fill(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[tuple[str, str]],
    src: _Source,
    select: str | None,
) -> None:
    """Check the staged rows and, when every one is plainly valid, keep them as the table."""
    if select is None:
        raise _Fallback
    if not src.rows:
        _create(con, table, columns)
        return
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {select}")
    if _count(con, f"SELECT count(*) FROM {table} WHERE _bad"):
        raise _Fallback
    con.execute(f"ALTER TABLE {table} DROP COLUMN _bad")


_STAGED = ("_yc_raw_subject", "_yc_raw_event")


def _transcoded(path: Path, codec: str, folder: str, what: str) -> Path:
    """A UTF-8 copy of a file in another encoding, for DuckDB, which reads only UTF-8:
    streamed into ``folder``, line for line as the Python reader reads the file (line breaks
    kept as written). Text that does not decode, or starts with a byte-order mark the codec
    keeps, is left to the Python reader."""
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        raise _Fallback
    target = Path(folder) / f"{what}{suffix}"
    try:
        with (
            path.open(encoding=codec, newline="") as source,
            target.open("w", encoding="utf-8", newline="") as out,
        ):
            first = True
            while chunk := source.read(1 << 20):
                if first and chunk.startswith("\ufeff"):
                    raise _Fallback
                first = False
                out.write(chunk)
    except (OSError, UnicodeError, LookupError):
        raise _Fallback from None
    return target


def _fast(
    con: duckdb.DuckDBPyConnection,
    schema: _Schema,
    subjects: Path,
    events: Path | None,
    encoding: str,
) -> tuple[int, int]:
    """Read both files in DuckDB (files in another encoding than UTF-8 through UTF-8 copies in
    a temporary folder, removed after), or raise ``_Fallback`` at the first doubt."""
    try:
        codec = text_encoding(encoding)
    except RecordError:
        raise _Fallback from None  # the Python reader names the unknown encoding
    if codec == "utf-8-sig":
        return _fast_utf8(con, schema, subjects, events)
    with tempfile.TemporaryDirectory(prefix="yibao-") as folder:
        s = _transcoded(subjects, codec, folder, "subjects")
        e = None if events is None else _transcoded(events, codec, folder, "events")
        return _fast_utf8(con, schema, s, e)


def _fast_utf8(
    con: duckdb.DuckDBPyConnection, schema: _Schema, subjects: Path, events: Path | None
) -> tuple[int, int]:
    """Read both UTF-8 files in DuckDB, or raise ``_Fallback`` at the first doubt."""
    s_src = _stage(con, subjects, "subject", [n for n, _ in schema.subject])
    _fill(con, "subjects", schema.subject, s_src, _subject_select(s_src, schema))
    e_rows = 0
    if events is None:
        _create(con, "events", schema.event)
    else:
        e_src = _stage(con, events, "event", [n for n, _ in schema.event])
        _fill(con, "events", schema.event, e_src, _event_select(e_src, schema))
        e_rows = e_src.rows
    _drop(con, *_STAGED)
    problems = _count(
        con,
        "SELECT (SELECT count(*) FROM (SELECT id FROM subjects GROUP BY id HAVING count(*) > 1))"
        " + (SELECT count(*) FROM (SELECT id FROM events GROUP BY id HAVING count(*) > 1))"
        " + (SELECT count(*) FROM subjects s WHERE s.chain_id IS NOT NULL AND (s.chain_id = s.id"
        " OR NOT EXISTS (SELECT 1 FROM subjects h WHERE h.id = s.chain_id)))"
        # a head that is itself a chain store: nested chains, and every chain_id cycle
        " + (SELECT count(*) FROM subjects s JOIN subjects h ON h.id = s.chain_id"
        " WHERE h.chain_id IS NOT NULL)"
        " + (SELECT count(*) FROM events e"
        " WHERE NOT EXISTS (SELECT 1 FROM subjects s WHERE s.id = e.subject_id))",
    )
    if problems:
        raise _Fallback
    return s_src.rows, e_rows


def load_tables(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    subjects: str | Path,
    events: str | Path | None = None,
    *,
    encoding: str = "utf-8",
) -> RecordTables:
    """Read the records files into the temporary tables ``subjects`` and ``events`` of
    ``con``: by DuckDB when every record is plainly valid, else through the Python reader, so
    that exactly what the Python engine accepts is accepted and its errors are raised as they
    are. ``encoding``: the files' text encoding, as for ``records.readers.load_records``."""
    schema = _schema(plan)
    files = {"subject": str(subjects)}
    if events is not None:
        files["event"] = str(events)
    with _insertion_order(con):
        try:
            counts = _fast(
                con, schema, Path(subjects), None if events is None else Path(events), encoding
            )
        except (_Fallback, duckdb.Error):
            _drop(con, *_STAGED, *TABLES.values())
        else:
            return RecordTables(con, files, *counts)
    records = load_records(subjects, events, encoding=encoding)
    return tables_from_records(con, plan, records)


# -- records already in memory --------------------------------------------------------------


def _json_default(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{value!r} is not a record value")


def _write_rows(
    path: Path,
    records: Records,
    what: str,
    rows: Sequence[Subject | Event],
    columns: Sequence[tuple[str, str]],
    kinds: Mapping[str, EventKind],
) -> None:
    """The rows as one JSON array DuckDB reads back exactly (floats by ``repr``, dates ISO):
    the contract's fields as the model holds them (typed by the reader and the pack's checks),
    the declared attributes each checked to fit its column. One ``dumps`` for all rows: the
    encoder's set-up costs more than a row."""
    fields = Subject.model_fields if what == "subject" else Event.model_fields
    types = dict(columns)
    # a contract field holds its type, but for an unbounded int, or a pack default that does
    # not fit (a kind may declare a core attribute with a default of its own)
    unfit = {
        name
        for kind in kinds.values()
        for name, spec in kind.attributes.items()
        if spec.default is not None and name in types and not _fits(spec.default, types[name])
    }
    extras = [(n, t) for n, t in columns if n not in fields]
    suspect = [n for n, t in columns if n in fields and (t == "int" or n in unfit)]
    lines = records.lines

    def refuse(record: Subject | Event, name: str, value: Any) -> EvaluationError:
        return _unsupported(
            f"{what} {record.id!r}: {name!r} holds {value!r}, which the DuckDB engine "
            f"cannot keep in its {SQL_TYPES[types[name]]} column",
            records.where(what, record.id, name),
        )

    out: list[dict[str, Any]] = []
    for r in rows:
        row = {k: v for k, v in r.__dict__.items() if v is not None}
        for name in suspect:
            value = row.get(name)
            if value is not None and not _fits(value, types[name]):
                raise refuse(r, name, value)
        extra = r.__pydantic_extra__
        if extra:
            for name, kind in extras:
                value = extra.get(name)
                if value is not None:
                    if not _fits(value, kind):
                        raise refuse(r, name, value)
                    row[name] = value
        row["_line"] = lines.get((what, r.id))
        out.append(row)
    text = json.dumps(out, ensure_ascii=False, check_circular=False, default=_json_default)
    try:
        path.write_text(text, encoding="utf-8")
    except UnicodeEncodeError as exc:  # a lone surrogate: text Python holds, DuckDB cannot
        raise _unsupported(f"the {what}s given hold text that is not Unicode: {exc}") from None


def _insert_rows(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[tuple[str, str]],
    path: Path,
) -> None:
    types = ", ".join(f"{_literal(n)}: '{SQL_TYPES[t]}'" for n, t in columns)
    names = ", ".join(_ident(n) for n, _ in columns)
    try:
        con.execute(
            f"INSERT INTO {table} SELECT {names}, _line FROM read_json({_literal(str(path))}, "
            f"format = 'array', records = 'true', "
            f"columns = {{{types}, '_line': 'INTEGER'}})"
        )
    except duckdb.Error as exc:
        raise _unsupported(f"DuckDB cannot read the {table} given: {exc}") from None


def tables_from_records(
    con: duckdb.DuckDBPyConnection, plan: Plan, records: Records
) -> RecordTables:
    """Records already read (from Python dicts, say) as the two tables. The pack's checks are
    applied here, as the Python engine applies them before a run: their errors are raised,
    and the records get the same defaults and converted values."""
    schema = _schema(plan)
    check_event_kinds(records, plan.event_kinds)
    check_subject_attributes(records, plan.subject_attributes)
    with (
        tempfile.TemporaryDirectory(prefix="yibao-") as folder,
        _insertion_order(con),
        paused_gc(),
    ):
        for what, table, rows, columns in (
            ("subject", "subjects", records.subjects, schema.subject),
            ("event", "events", records.events, schema.event),
        ):
            _create(con, table, columns)
            if rows:
                path = Path(folder) / f"{table}.json"
                kinds = plan.event_kinds if what == "event" else {}
                _write_rows(path, records, what, rows, columns, kinds)
                _insert_rows(con, table, columns, path)
    return RecordTables(con, dict(records.files), len(records.subjects), len(records.events))


def record_schema(plan: Plan) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """The columns of ``subjects`` and of ``events`` for this plan, as (name, attribute type),
    for another database that holds the same tables (``spark.records``)."""
    schema = _schema(plan)
    return schema.subject, schema.event
