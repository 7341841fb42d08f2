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
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
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

_EDGE_BYTES = tuple(sorted({c.encode()[:1] for c in _WHITESPACE if c not in "\n\r"}))
"""The first bytes of the white space characters but line breaks (one byte each, and the lead
bytes of the others): a CSV file without any has no cell ``str.strip()`` would change."""

_MAX_DEPTH = 100
"""Nesting the fast path lets through: well under the Python JSON parser's recursion limit."""

_CHUNK = 1 << 25
"""Bytes the guards of a staged file read at a time (``_scan_jsonl``, ``_scan_csv``): a file
of ten million lines is never held whole in memory."""

_SPACE = b" \t\n\r\x0b\x0c"
"""What ``rb"\\s"`` matches (and ``bytes.strip()`` strips): white space to the guards."""

_RUN = b" \t\x0b\x0c"
"""The white space ``_SPACE_BEFORE_QUOTE`` sees before a quote."""

_TRAILING_COMMA = re.compile(rb",\s*+[}\]]")
"""A comma before the end of an object or array (possessive: a third faster, same matches)."""
_SPACE_BEFORE_QUOTE = re.compile(rb'(?:^|,)[ \t\x0b\x0c]+"', re.MULTILINE)
_WORDS = (b"NaN", b"Infinity")
"""JSON Python's reader refuses but DuckDB's takes, looked for anywhere in a file (after
their capital, which ``memchr`` finds at once or rules out: most files hold neither)."""
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
    colons: int = -1
    """The ':' of a JSON Lines file (-1 for other sources), as its guards counted them."""

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


def _chunks(
    path: Path, *, bom: bool = False, stop: threading.Event | None = None
) -> Iterator[bytearray]:
    """The file's bytes, ``_CHUNK`` at a time (after a UTF-8 byte-order mark when ``bom``),
    in one buffer read into again (so a chunk is valid until the next is asked for);
    ``_Fallback`` when the file cannot be read, or once ``stop`` is set."""
    try:
        with path.open("rb") as handle:
            # no bigger than the file: a buffer is zeroed when made (20 ms for 32 MiB), and
            # most files a test or a small run stages are a few kilobytes
            buffer = bytearray(max(1, min(_CHUNK, os.fstat(handle.fileno()).st_size)))
            if not bom or handle.read(3) != b"\xef\xbb\xbf":
                handle.seek(0)
            while size := handle.readinto(buffer):
                if stop is not None and stop.is_set():
                    raise _Fallback
                yield buffer if size == len(buffer) else buffer[:size]
    except OSError:
        raise _Fallback from None


def _blank(path: Path) -> bool:
    """Whether the file holds only white space (``\\s``), read up to its first other byte:
    what ``_scan_jsonl`` says of it, known before the rest of the file is read."""
    try:
        with path.open("rb") as handle:
            while piece := handle.read(1 << 16):
                if piece.lstrip(_SPACE):
                    return False
    except OSError:
        raise _Fallback from None
    return True


def _first_solid(chunk: bytearray, space: bytes) -> bytes:
    """The first byte of ``chunk`` not in ``space`` (``b""`` when none is): its head looked
    at first, the whole chunk only when the head is all white space."""
    head = chunk[:64].lstrip(space)
    if not head and len(chunk) > 64:
        head = chunk.lstrip(space)
    return bytes(head[:1])


def _last_solid(chunk: bytearray, space: bytes) -> bytes:
    """The last byte of ``chunk`` not in ``space`` (``b""`` when none is)."""
    end = chunk[-64:].rstrip(space)
    if not end and len(chunk) > 64:
        end = chunk.rstrip(space)
    return bytes(end[-1:])


@dataclass
class _Scan:
    """What the guards found in a whole file, read a chunk at a time (``_CHUNK``); patterns
    across two chunks are found as in one piece: a word by the chunk's last bytes kept, a
    trailing comma or a space before a quote by the last byte that is not white space."""

    lines: int = 0
    """Lines as the Python reader numbers them (a last line without a line break counts)."""
    blank: bool = True
    """Only white space (``\\s``): no record at all."""
    refused: bool = False
    """Something DuckDB would read otherwise than the Python reader (see the scanners)."""
    braces: int = 0
    """'{' in the file."""
    colons: int = 0
    """':' in the file."""
    head: bytes = b""
    """The first line without its line break (CSV: after a byte-order mark)."""
    spaced: bool = False
    """Whether a CSV file has a byte of ``_EDGE_BYTES``: its cells are then trimmed."""


class _Lines:
    """Line breaks across chunks: lines counted, and whether every CR begins a CRLF."""

    def __init__(self) -> None:
        self.newlines = 0
        self.cr = 0
        self.crlf = 0
        self.last = b""

    def feed(self, chunk: bytearray) -> None:
        self.newlines += chunk.count(b"\n")
        if b"\r" in chunk:
            self.cr += chunk.count(b"\r")
            self.crlf += chunk.count(b"\r\n")
        if self.last == b"\r" and chunk[:1] == b"\n":
            self.crlf += 1
        self.last = bytes(chunk[-1:])

    @property
    def lines(self) -> int:
        return self.newlines + (0 if self.last == b"\n" else 1)

    @property
    def lone_cr(self) -> bool:
        return self.cr != self.crlf


def _scan_jsonl(path: Path, stop: threading.Event | None = None) -> _Scan:
    """The JSON Lines guards: refused are NaN and Infinity (anywhere), trailing commas, VT or
    FF (DuckDB takes them beside a document as white space), a lone CR, deep nesting. The
    scan stops at the first refusal once the file is known not to be blank (a blank file has
    no records, whatever white space it holds)."""
    scan = _Scan()
    breaks = _Lines()
    brackets = 0
    tail = b""  # the last bytes read, for a word across two chunks
    comma = False  # whether the last byte read that is not white space is ','
    keep = max(len(w) for w in _WORDS) - 1
    for chunk in _chunks(path, stop=stop):
        if scan.blank and _first_solid(chunk, _SPACE):
            scan.blank = False
        edge = tail + chunk[:keep]
        tail = (tail + chunk[-keep:])[-keep:]
        if not scan.refused and (
            b"\x0b" in chunk
            or b"\x0c" in chunk
            or any(w in edge or (w[:1] in chunk and w in chunk) for w in _WORDS)
            or _TRAILING_COMMA.search(chunk)
            or (comma and _first_solid(chunk, _SPACE) in (b"}", b"]"))
        ):
            scan.refused = True
        if scan.refused:
            if not scan.blank:
                return scan
            continue
        solid = _last_solid(chunk, _SPACE)
        if solid:
            comma = solid == b","
        breaks.feed(chunk)
        scan.braces += chunk.count(b"{")
        if b"[" in chunk:
            brackets += chunk.count(b"[")
        scan.colons += chunk.count(b":")
    scan.lines = breaks.lines
    if breaks.lone_cr or scan.braces + brackets - scan.lines >= _MAX_DEPTH:
        scan.refused = True
    return scan


class _Background:
    """A file's guards scanned in a thread while DuckDB reads the same file (``with``): DuckDB
    works without the GIL, so the scan and DuckDB share the cores instead of taking turns
    (10 million JSON lines on two cores: some 3 s of 17 s saved). Leaving the block stops the
    scan and waits for it; ``result`` waits for its end and raises what it raised."""

    def __init__(self, scan: Callable[[Path, threading.Event], _Scan], path: Path) -> None:
        self._stop = threading.Event()
        self._scan: _Scan | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(scan, path), name="yibao-scan", daemon=True
        )

    def _run(self, scan: Callable[[Path, threading.Event], _Scan], path: Path) -> None:
        try:
            self._scan = scan(path, self._stop)
        except BaseException as exc:  # raised again by result(), in the caller's thread
            self._error = exc

    def __enter__(self) -> _Background:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def result(self) -> _Scan:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._scan is not None
        return self._scan


def _scan_csv(path: Path) -> _Scan:
    """The CSV guards, after a byte-order mark: refused are an empty file, NUL or 0x01 (the
    null string DuckDB is given), a lone CR, and white space before a quote at the start of a
    cell (Python's ``csv`` reads the quote as text). ``head`` is the header line."""
    scan = _Scan()
    breaks = _Lines()
    head: list[bytes] = []
    headed = False  # the header's line break was read
    anchor = b""  # the last byte read not in _RUN (b"": the start of the file)
    run = False  # whether bytes of _RUN follow it
    size = 0
    for chunk in _chunks(path, bom=True):
        size += len(chunk)
        breaks.feed(chunk)
        if not headed:
            end = chunk.find(b"\n")
            head.append(bytes(chunk if end < 0 else chunk[:end]))
            headed = end >= 0
        if b'"' in chunk and _SPACE_BEFORE_QUOTE.search(anchor + (b" " if run else b"") + chunk):
            scan.refused = True
        if b"\x00" in chunk or b"\x01" in chunk or scan.refused:
            scan.refused = True
            return scan
        if not scan.spaced:
            scan.spaced = any(b in chunk for b in _EDGE_BYTES)
        solid = _last_solid(chunk, _RUN)
        if solid:
            anchor = solid
        run = chunk[-1] in _RUN  # an anchor, or a run since the last one
    scan.lines = breaks.lines
    scan.head = b"".join(head).removesuffix(b"\r")
    scan.blank = size == 0
    scan.refused = size == 0 or breaks.lone_cr
    return scan


def _duckdb_path(path: Path) -> str:
    """The file for DuckDB: absolute (no ``~``, no search path), never a glob pattern."""
    name = os.path.abspath(path)
    if any(c in name for c in "*?[]{}") or "://" in name:
        raise _Fallback
    return _literal(name)


@dataclass(frozen=True)
class _Reader:
    """A file as DuckDB's reader gives it, passed by the guards but not staged: ``select``
    gives one row per record in file order, with the text cells (as ``_Source`` describes
    them) and ``_yc_wide`` but no ``_line``, the record of row ``i`` (from 0) being on line
    ``i + first``. ``rows``: the records the file holds by the guards' count (a blank line
    DuckDB skipped makes fewer rows); ``colons``, ``braces``: the file's ':' and '{' (JSON
    Lines); ``extras``: keys beyond the columns, read as flags ``_yc_other<i>`` (JSON Lines)."""

    select: str
    json: bool
    cells: frozenset[str]
    rows: int
    first: int
    kind: str = "CAST(NULL AS VARCHAR)"
    colons: int = -1
    braces: int = 0
    extras: int = 0
    pending: bool = False
    """The file is not blank, but its guards have not scanned it yet: ``rows``, ``colons``
    and ``braces`` are not known (``_settle``)."""


def _settle(reader: _Reader, scan: _Scan) -> _Reader:
    """A pending JSON Lines reader with what its guards found; ``_Fallback`` when they refuse
    the file."""
    if scan.refused:
        raise _Fallback
    return replace(reader, rows=scan.lines, colons=scan.colons, braces=scan.braces, pending=False)


def _open_jsonl(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    what: str,
    columns: Sequence[str],
    *,
    guards: bool = True,
) -> _Reader:
    """A JSON Lines file, one row per line; falls back on anything DuckDB's JSON reader would
    take that the Python reader's would not (NaN, trailing commas, VT or FF, deep nesting),
    or on a line the Python reader would count differently (a lone CR). No rows when the file
    is blank. Without ``guards``, the file is not scanned (but for being blank): the reader
    is ``pending``, for a caller that scans the file while DuckDB reads it."""
    scan = _scan_jsonl(path) if guards else _Scan(lines=-1, blank=_blank(path), colons=-1)
    if scan.blank:  # blank lines only: the Python reader skips them all
        return _Reader("", True, frozenset(), 0, 1)
    if scan.refused:
        raise _Fallback
    extras = _other_keys(con, path, columns)
    cols = ", ".join(f"{_literal(c)}: 'JSON'" for c in [*columns, *extras])
    cells = ", ".join(f"CAST({_ident(c)} AS VARCHAR) AS {_ident(c)}" for c in columns)
    source = _Source("", True, frozenset(columns), 0)
    if what == "event":  # read by most checks: worked out once
        cells += f", {source.string('kind')} AS _yc_kind"
    # the other keys only counted, but read: DuckDB refuses one given twice
    cells += "".join(f", {_ident(c)} IS NOT NULL AS _yc_other{i}" for i, c in enumerate(extras))
    select = (
        f"SELECT {cells}, FALSE AS _yc_wide FROM read_json({_duckdb_path(path)}, "
        f"format = 'newline_delimited', records = 'true', columns = {{{cols}}})"
    )
    return _Reader(
        select,
        True,
        frozenset(columns),
        scan.lines,
        1,
        "_yc_kind",
        scan.colons,
        scan.braces,
        len(extras),
        pending=not guards,
    )


def _stage_jsonl(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    what: str,
    columns: Sequence[str],
    reader: _Reader | None = None,
) -> _Source:
    """A JSON Lines file staged as the table ``_yc_raw_<what>`` (``reader``: the file as
    ``_open_jsonl`` opened it, when it was already)."""
    if reader is None:
        reader = _open_jsonl(con, path, what, columns)
    elif reader.pending:
        reader = _settle(reader, _scan_jsonl(path))
    if not reader.rows:
        return _Source("", True, frozenset(), 0)
    table = f"_yc_raw_{what}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {reader.select}")
    present = " + ".join(
        [
            *(f"count({_ident(c)})" for c in columns),
            *(f"count_if(_yc_other{i})" for i in range(reader.extras)),
        ]
    )
    row = con.execute(f"SELECT count(*), {present} FROM {table}").fetchone()
    rows, keys = (int(row[0]), int(row[1])) if row else (0, 0)
    if rows != reader.rows:  # a blank line was skipped: positions are no longer lines
        raise _Fallback
    # Each key of an object is one ':' outside the texts: as many ':' as values read (not
    # null) and no other key can be in the file, nor a key given twice (DuckDB refuses one
    # it reads twice).
    if reader.colons != keys:
        _check_keys(con, path, reader.braces, rows)
    query = f"(SELECT *, CAST(rowid + 1 AS INTEGER) AS _line FROM {table})"
    return _Source(query, True, reader.cells, rows, reader.kind, reader.colons)


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


def _check_keys(con: duckdb.DuckDBPyConnection, path: Path, braces: int, rows: int) -> None:
    """Raise ``_Fallback`` unless every object of the file names each key once.

    DuckDB refuses a key given twice among the columns it reads, but not among the others;
    ``_stage_jsonl`` has found keys it does not read (or ``null`` values, or ':' in texts).
    The keys of each line are listed, each distinct list checked once for a repeat: one more
    pass over the file, for files with keys beyond the columns. A nested object (more '{'
    than lines, or a '{' in a text: ``braces``, the file's '{') is left to the Python reader."""
    if braces != rows:
        raise _Fallback
    repeats = _count(
        con,
        "SELECT count(*) FROM (SELECT any_value(k) AS k FROM (SELECT json_keys(json) AS k "
        f"FROM read_json_objects({_duckdb_path(path)}, format = 'newline_delimited')) "
        "GROUP BY to_json(k)) WHERE len(k) <> len(list_distinct(k))",
    )
    if repeats:
        raise _Fallback


def _open_csv(
    con: duckdb.DuckDBPyConnection, path: Path, what: str, columns: Sequence[str]
) -> _Reader:
    """A CSV file, one row per line after the header; falls back on anything Python's
    ``csv`` module would read differently (spaces before a quote, a quoted header, a lone
    CR…; cells spanning lines and blank lines show as fewer rows than ``rows``)."""
    scan = _scan_csv(path)
    if scan.refused:
        raise _Fallback
    header_bytes = scan.head
    if not header_bytes or b'"' in header_bytes:
        raise _Fallback
    try:
        header = header_bytes.decode("utf-8").split(",")
    except UnicodeDecodeError:
        raise _Fallback from None
    named = [name for name in header if name]
    if len(set(named)) != len(named):  # a column named twice: the Python reader refuses it
        raise _Fallback
    position = {name: i for i, name in enumerate(header)}
    wanted = [c for c in columns if c in position]
    kind = _ident("kind") if "kind" in position else "CAST(NULL AS VARCHAR)"
    if scan.lines == 1:
        return _Reader("", False, frozenset(wanted), 0, 2, kind)
    n = len(header)
    cols = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(n + 1))
    ws = _literal(_WHITESPACE)

    def clean(c: str) -> str:
        if not scan.spaced:  # no white space to trim (most files: codes, dates, amounts)
            return f"nullif({c}, '')"
        return (
            f"CASE WHEN {c} = '' THEN NULL WHEN contains({ws}, left({c}, 1)) "
            f"OR contains({ws}, right({c}, 1)) THEN nullif(trim({c}, {ws}), '') ELSE {c} END"
        )

    cells = "".join(f"{clean(f'c{position[c]}')} AS {_ident(c)}, " for c in wanted)
    longest = ", ".join(f"coalesce(strlen(c{i}), 0)" for i in range(n))
    wide = f"(c{n} IS NOT NULL OR greatest({longest}) > {CSV_FIELD_LIMIT})"
    select = (
        f"SELECT {cells}{wide} AS _yc_wide "
        f"FROM read_csv({_duckdb_path(path)}, header = false, skip = 1, columns = {{{cols}}}, "
        "delim = ',', quote = '\"', escape = '\"', nullstr = chr(1), auto_detect = false, "
        "null_padding = true, strict_mode = true)"
    )
    return _Reader(select, False, frozenset(wanted), scan.lines - 1, 2, kind)


def _stage_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    what: str,
    columns: Sequence[str],
    reader: _Reader | None = None,
) -> _Source:
    """A CSV file staged as the table ``_yc_raw_<what>`` (``reader``: the file as
    ``_open_csv`` opened it, when it was already)."""
    if reader is None:
        reader = _open_csv(con, path, what, columns)
    if not reader.rows:
        return _Source("", False, reader.cells, 0)
    table = f"_yc_raw_{what}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS {reader.select}")
    rows = _count(con, f"SELECT count(*) FROM {table}")
    if rows != reader.rows:  # a blank line skipped, or a quoted cell over several lines
        raise _Fallback
    query = f"(SELECT *, CAST(rowid + 2 AS INTEGER) AS _line FROM {table})"
    return _Source(query, False, reader.cells, rows, reader.kind)


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
