"""Records read into DuckDB tables (``yibao_credit.sql.tables``) accept exactly what the Python
reader accepts, with the same values and the same located errors.

design.md, "Data contract" and principle 7 ("One plan, several engines … the Python engine is
the reference model the others are tested against"): the ``subjects`` and ``events`` tables
hold what ``records.readers.load_records`` followed by the pack's checks
(``check_event_kinds``, ``check_subject_attributes``, as ``engine.prepare`` runs them) gives, or
``load_tables`` raises the very ``RecordError`` that path raises. Inputs come from
tests/test_records.py and tests/test_hardening.py, and from random mutations of valid files.
A real in-process DuckDB, no mocks; files are written into ``tmp_path``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_hardening import ATTRIBUTES, WINDOWS, mutate
from test_records import EVENTS_CSV, SUBJECTS_CSV, _event_rows, _subject_rows, jsonl

import yibao_credit as yc
from yibao_credit.compile.plan import Plan
from yibao_credit.errors import EvaluationError, RecordError
from yibao_credit.policy import load_policies
from yibao_credit.records.checks import check_event_kinds, check_subject_attributes
from yibao_credit.records.contract import Event, Records
from yibao_credit.records.readers import load_records, records_from_python
from yibao_credit.sql import tables
from yibao_credit.sql.tables import EVENT_ATTRIBUTES, load_tables, tables_from_records

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

# A pack with typed subject attributes and two kinds of its own: every attribute type, a
# required one, defaults, choices, an attribute typed int for one kind and number for the
# other (one DOUBLE column), and an int declared for the core number field ``points``.
TYPED = """\
subject_attributes:
  staff: {type: int, required: true, title: {zh: 医保专职人员数}}
  ownership: {type: str, choices: [public, private], default: public, title: {zh: 举办主体}}
  rating: {type: number, title: {zh: 评分}}
  audited: {type: bool, default: false, title: {zh: 已审计}}
  since: {type: date, title: {zh: 起始}}
event_kinds:
  inspection:
    title: {zh: 检查}
    clause: 一(1)
    attributes:
      score: {type: number, required: true}
      count: {type: int}
      passed: {type: bool, default: false}
      checked_on: {type: date}
      grade: {type: str, choices: [good, bad], default: good}
  audit:
    title: {zh: 审计}
    clause: 一(1)
    attributes:
      count: {type: number}
      points: {type: int}
windows:
"""


@cache
def plan_of(name: str) -> Plan:
    """The bundled packs by name, and the made-up ``typed`` and ``attributes`` packs."""
    if name == "jiangsu":
        return load_policies(ROOT / "policies" / "jiangsu_perf").versions[-1].plan
    if name in ("typed", "attributes", "conflict", "bad default"):
        return yc.load_policy(_pack_file(name)).plan
    return yc.load_policy(ROOT / "policies" / f"{name}.yaml").plan


_PACK_DIR: list[Path] = []


def _pack_file(name: str) -> Path:
    texts = {
        "typed": mutate((WINDOWS, TYPED)),
        "attributes": mutate((WINDOWS, ATTRIBUTES)),
        "bad default": mutate(
            (
                WINDOWS,
                "event_kinds:\n"
                "  visit: {title: {zh: 访}, clause: 一(1), attributes: "
                "{verified: {type: bool, default: 'no'}}}\n"
                "windows:\n",
            )
        ),
        "conflict": mutate(
            (
                WINDOWS,
                "event_kinds:\n"
                "  a_kind: {title: {zh: 甲}, clause: 一(1), attributes: {x: {type: str}}}\n"
                "  b_kind: {title: {zh: 乙}, clause: 一(1), attributes: {x: {type: date}}}\n"
                "windows:\n",
            )
        ),
    }
    path = _PACK_DIR[0] / f"{name}.yaml"
    path.write_text(texts[name], encoding="utf-8")
    return path


@pytest.fixture(scope="module", autouse=True)
def _packs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    _PACK_DIR.append(tmp_path_factory.mktemp("packs"))
    yield
    _PACK_DIR.clear()
    plan_of.cache_clear()
    _TYPES.clear()
    for con in _SHARED:
        con.close()
    _SHARED.clear()


# -- the two paths --------------------------------------------------------------------------

_SHARED: list[duckdb.DuckDBPyConnection] = []


def shared() -> duckdb.DuckDBPyConnection:
    """One connection for the whole module: each load replaces the tables of the one
    before (a connection costs more to open than small files to read)."""
    if not _SHARED:
        _SHARED.append(duckdb.connect())
    return _SHARED[0]


def python_path(plan: Plan, subjects: Path, events: Path | None) -> Records:
    """What the Python engine works on: the reader, then the pack's checks."""
    records = load_records(subjects, events)
    check_event_kinds(records, plan.event_kinds)
    check_subject_attributes(records, plan.subject_attributes)
    return records


@contextmanager
def counting_fallbacks() -> Iterator[list[int]]:
    """How often ``load_tables`` handed a file to the Python reader (a spy, not a mock: the
    reader runs as it is)."""
    calls: list[int] = []
    real = load_records

    def spy(*args: Any, **kw: Any) -> Records:
        calls.append(1)
        return real(*args, **kw)

    setattr(tables, "load_records", spy)  # noqa: B010 (the name load_tables calls)
    try:
        yield calls
    finally:
        setattr(tables, "load_records", real)  # noqa: B010


def outcome(call: Callable[[], Any]) -> Any:
    """The result, or the exception raised (the SQL path must raise what the Python reader
    raises)."""
    try:
        return call()
    except Exception as exc:
        return exc


def problems(exc: Exception) -> Any:
    if isinstance(exc, RecordError | EvaluationError):
        return [(p.code, p.message, p.location) for p in exc.problems]
    return (type(exc), str(exc))


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "VARCHAR": (str,),
    "BIGINT": (int,),
    "DOUBLE": (float,),
    "BOOLEAN": (bool,),
    "DATE": (dt.date,),
    "INTEGER": (int,),
}


def table_rows(con: duckdb.DuckDBPyConnection, table: str) -> list[dict[str, Any]]:
    described = con.execute(f"DESCRIBE {table}").fetchall()
    names = [d[0] for d in described]
    out = []
    for row in con.execute(f"SELECT * FROM {table}").fetchall():
        cells = dict(zip(names, row, strict=True))
        for (name, kind, *_), value in zip(described, row, strict=True):
            assert value is None or isinstance(value, _PY_TYPES[kind]), (name, kind, value)
        out.append(cells)
    return out


def column_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return {d[0]: d[1] for d in con.execute(f"DESCRIBE {table}").fetchall()}


def expected_rows(records: Records, what: str, types: dict[str, str]) -> list[dict[str, Any]]:
    """The records as the table must hold them: every column read with ``attr``."""
    out = []
    for r in records.subjects if what == "subject" else records.events:
        row: dict[str, Any] = {}
        for name, kind in types.items():
            value = records.lines.get((what, r.id)) if name == "_line" else r.attr(name)
            if value is not None and kind == "DOUBLE":
                value = float(value)
            row[name] = value
        out.append(row)
    return out


def assert_rows_equal(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    assert [r["id"] for r in got] == [r["id"] for r in want]
    for g, w in zip(got, want, strict=True):
        for name in w:
            a, b = g[name], w[name]
            if isinstance(b, float) and isinstance(a, float) and math.isnan(b):
                assert math.isnan(a), (g["id"], name)
            else:
                assert a == b and type(a) is type(b), (g["id"], name, a, b)


def assert_same(
    plan: Plan, subjects: Path, events: Path | None = None, *, fast: bool | None = None
) -> Any:
    """``load_tables`` and the Python path agree: the same error, or the same rows. ``fast``:
    whether DuckDB must have read the files itself (True) or handed them over (False)."""
    want = outcome(lambda: python_path(plan, subjects, events))
    con = shared()
    with counting_fallbacks() as calls:
        got = outcome(lambda: load_tables(con, plan, subjects, events))
    if fast is not None:
        assert (not calls) is fast, "fast path" if fast else "fallback"
    if isinstance(want, Exception):
        assert isinstance(got, type(want)), got
        assert problems(got) == problems(want)
        return want
    assert isinstance(got, tables.RecordTables), got
    for what, table in (("subject", "subjects"), ("event", "events")):
        types = column_types(con, table)
        assert_rows_equal(table_rows(con, table), expected_rows(want, what, types))
    assert got.files == want.files
    assert (got.subject_count, got.event_count) == (len(want.subjects), len(want.events))
    return got


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# -- the schema -----------------------------------------------------------------------------

SUBJECT_SCHEMA = {
    "id": "VARCHAR",
    "type": "VARCHAR",
    "category": "VARCHAR",
    "name": "VARCHAR",
    "region": "VARCHAR",
    "level": "VARCHAR",
    "beds": "BIGINT",
    "inpatient": "BOOLEAN",
    "chain_id": "VARCHAR",
    "designated_on": "DATE",
}
EVENT_SCHEMA = {
    "id": "VARCHAR",
    "subject_id": "VARCHAR",
    "kind": "VARCHAR",
    "date": "DATE",
    "verified": "BOOLEAN",
    "severity": "VARCHAR",
    "amount": "DOUBLE",
    "nonperformance": "BOOLEAN",
    "reason": "VARCHAR",
    "points": "DOUBLE",
    "repairs": "VARCHAR",
    "indicator": "VARCHAR",
    "value": "DOUBLE",
    "period": "VARCHAR",
}


def test_core_event_attributes_are_the_contract_fields() -> None:
    assert set(EVENT_ATTRIBUTES) == set(Event.model_fields) - {"id", "subject_id", "kind", "date"}


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_tables_are_typed_even_when_empty(tmp_path: Path, fmt: str) -> None:
    """No row, no inference: the declared types, subject attributes after the contract's
    fields, the pack's event attributes after the core ones (int and number: DOUBLE)."""
    text = "" if fmt == "jsonl" else "id,type\n"
    con = shared()
    t = load_tables(con, plan_of("typed"), write(tmp_path, f"s.{fmt}", text))
    assert (t.subject_count, t.event_count) == (0, 0)
    assert column_types(con, "subjects") == {
        **SUBJECT_SCHEMA,
        "staff": "BIGINT",
        "ownership": "VARCHAR",
        "rating": "DOUBLE",
        "audited": "BOOLEAN",
        "since": "DATE",
        "_line": "INTEGER",
    }
    assert column_types(con, "events") == {
        **EVENT_SCHEMA,
        "score": "DOUBLE",
        "count": "DOUBLE",
        "passed": "BOOLEAN",
        "checked_on": "DATE",
        "grade": "VARCHAR",
        "_line": "INTEGER",
    }
    t = load_tables(con, plan_of("typed"), write(tmp_path, f"s.{fmt}", text), t.files["subject"])
    assert column_types(con, "events")["_line"] == "INTEGER"
    assert con.execute("SELECT count(*) FROM events").fetchone() == (0,)


def test_the_review_reads_its_stage_from_a_column() -> None:
    con = shared()
    load_tables(con, plan_of("jiangsu"), EXAMPLES / "jiangsu" / "subjects.jsonl")
    assert column_types(con, "events")["stage"] == "VARCHAR"


def test_an_attribute_typed_differently_by_two_kinds_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError) as info:
        load_tables(shared(), plan_of("conflict"), write(tmp_path, "s.jsonl", ""))
    [p] = info.value.problems
    assert p.code == "eval.sql-unsupported"
    assert "'x'" in p.message
    assert "str for a_kind" in p.message
    assert "date for b_kind" in p.message


# -- the bundled examples -------------------------------------------------------------------

EXAMPLE_CASES = [
    ("zhenjiang", "zhenjiang", "jsonl"),
    ("zhenjiang", "zhenjiang", "csv"),
    ("shenzhen", "shenzhen", "jsonl"),
    ("jinan", "jinan", "jsonl"),
    ("jiangsu", "jiangsu", "jsonl"),
    ("suqian_perf_2024", "jiangsu", "jsonl"),
]


@pytest.mark.parametrize(("pack", "example", "fmt"), EXAMPLE_CASES)
def test_bundled_examples_read_as_the_python_reader_reads_them(
    pack: str, example: str, fmt: str
) -> None:
    folder = EXAMPLES / example
    got = assert_same(
        plan_of(pack), folder / f"subjects.{fmt}", folder / f"events.{fmt}", fast=True
    )
    assert got.subject_count > 0
    assert got.event_count > 0


def test_where_names_the_file_and_line_as_records_do() -> None:
    plan = plan_of("zhenjiang")
    for fmt in ("jsonl", "csv"):
        s, e = EXAMPLES / "zhenjiang" / f"subjects.{fmt}", EXAMPLES / "zhenjiang" / f"events.{fmt}"
        records = python_path(plan, s, e)
        t = load_tables(shared(), plan, s, e)
        for what, rows in (("subject", records.subjects), ("event", records.events)):
            for r in (rows[0], rows[len(rows) // 2], rows[-1]):
                assert t.where(what, r.id, "id") == records.where(what, r.id, "id")
                assert t.where(what, r.id) == records.where(what, r.id)
        assert t.where("event", "no-such-id") == records.where("event", "no-such-id")
        assert t.where("history", "x", "grade") == records.where("history", "x", "grade")


def test_events_file_left_out(tmp_path: Path) -> None:
    got = assert_same(plan_of("zhenjiang"), EXAMPLES / "zhenjiang" / "subjects.jsonl", fast=True)
    assert got.event_count == 0
    assert "event" not in got.files


# -- the errors of the Python reader, raised the same ---------------------------------------

_REQUIRED = [
    ("subjects", "id"),
    ("subjects", "type"),
    ("events", "id"),
    ("events", "subject_id"),
    ("events", "kind"),
    ("events", "date"),
]


def _files(
    tmp_path: Path,
    fmt: str,
    subjects: list[dict[str, Any]] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> tuple[Path, Path]:
    if fmt == "jsonl":
        return (
            write(tmp_path, "subjects.jsonl", jsonl(subjects or _subject_rows())),
            write(tmp_path, "events.jsonl", jsonl(events or _event_rows())),
        )
    return write(tmp_path, "subjects.csv", SUBJECTS_CSV), write(tmp_path, "events.csv", EVENTS_CSV)


def _blank_csv_cell(path: Path, line: int, field: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    cells = lines[line - 1].split(",")
    cells[header.index(field)] = ""
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize(("which", "field"), _REQUIRED)
def test_missing_required_field(tmp_path: Path, fmt: str, which: str, field: str) -> None:
    subjects, events = _subject_rows(), _event_rows()
    del (subjects if which == "subjects" else events)[1][field]
    s, e = _files(tmp_path, fmt, subjects, events)
    if fmt == "csv":
        _blank_csv_cell(s if which == "subjects" else e, 3, field)
    assert isinstance(assert_same(plan_of("zhenjiang"), s, e, fast=False), RecordError)


def _replace(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


SUBJECT_LINES = jsonl(_subject_rows())
EVENT_LINES = jsonl(_event_rows())
STATUTORY = '{"id": "E5", "subject_id": "C1", "kind": "statutory_exclusion", "date": "2024-07-01"'

# (name, subjects file, events file or None): each is an error of the Python reader, or of the
# pack's checks (the Zhenjiang pack).
ERROR_CASES: list[tuple[str, tuple[str, str | bytes], tuple[str, str | bytes] | None]] = [
    (
        "impossible date (jsonl)",
        ("s.jsonl", SUBJECT_LINES),
        ("e.jsonl", _replace(EVENT_LINES, "2024-05-01", "2024-02-30")),
    ),
    (
        "impossible date (csv)",
        ("s.jsonl", SUBJECT_LINES),
        ("e.csv", _replace(EVENTS_CSV, "2024-05-01", "2024-02-30")),
    ),
    *(
        (
            f"not ISO {value}",
            ("s.jsonl", SUBJECT_LINES),
            ("e.csv", _replace(EVENTS_CSV, "2024-05-01", value)),
        )
        for value in ("0", "1704067200", "2024-01-01T00:00:00", "2024-1-01", "0000-01-01")
    ),
    (
        "date in 5 digits",
        ("s.jsonl", _replace(SUBJECT_LINES, "2019-03-01", "12019-03-01")),
        None,
    ),
    (
        "duplicate id (jsonl)",
        ("s.jsonl", _replace(SUBJECT_LINES, '{"id": "C1"', '{"id": "H1"')),
        None,
    ),
    ("duplicate id (csv)", ("s.csv", _replace(SUBJECTS_CSV, "\nC1,", "\nH1,")), None),
    (
        "duplicate event id",
        ("s.jsonl", SUBJECT_LINES),
        ("e.jsonl", _replace(EVENT_LINES, '"E3"', '"E1"')),
    ),
    (
        "invalid JSON",
        ("s.jsonl", jsonl(_subject_rows()[:1]) + '{"id": "P1", "type": \n'),
        None,
    ),
    ("not an object", ("s.jsonl", SUBJECT_LINES + '["H9", "institution"]\n'), None),
    ("null line", ("s.jsonl", SUBJECT_LINES + "null\n"), None),
    ("a number line", ("s.jsonl", SUBJECT_LINES + "3\n"), None),
    ("trailing comma", ("s.jsonl", SUBJECT_LINES + '{"id": "H9", "type": "x",}\n'), None),
    (
        "trailing comma inside",
        ("s.jsonl", SUBJECT_LINES + '{"id": "H9", "type": "x", "l": [1,]}\n'),
        None,
    ),
    (
        "vertical tab after a line",
        ("s.jsonl", SUBJECT_LINES + '{"id": "H9", "type": "x"}\x0b\n'),
        None,
    ),
    (
        "form feed before a line",
        ("s.jsonl", SUBJECT_LINES + '\x0c{"id": "H9", "type": "x"}\n'),
        None,
    ),
    ("comment", ("s.jsonl", SUBJECT_LINES + '{"id": "H9", "type": "x"} // no\n'), None),
    ("two objects", ("s.jsonl", SUBJECT_LINES + '{"id": "H9", "type": "x"} {"id": "H8"}\n'), None),
    (
        "too deep",
        (
            "s.jsonl",
            SUBJECT_LINES + '{"id": "H9", "type": "x", "d": ' + "[" * 300 + "]" * 300 + "}\n",
        ),
        None,
    ),
    ("lone surrogate", ("s.jsonl", SUBJECT_LINES + '{"id": "\\ud800", "type": "x"}\n'), None),
    ("raw tab in a string", ("s.jsonl", SUBJECT_LINES + '{"id": "a\tb", "type": "x"}\n'), None),
    ("id a number", ("s.jsonl", SUBJECT_LINES + '{"id": 9, "type": "x"}\n'), None),
    ("id null", ("s.jsonl", SUBJECT_LINES + '{"id": null, "type": "x"}\n'), None),
    ("ID in capitals", ("s.jsonl", SUBJECT_LINES + '{"ID": "H9", "type": "x"}\n'), None),
    ("beds 12.5", ("s.jsonl", SUBJECT_LINES + '{"id": "H9", "type": "x", "beds": 12.5}\n'), None),
    ("beds huge", ("s.jsonl", SUBJECT_LINES + '{"id": "H9", "type": "x", "beds": 1e400}\n'), None),
    (
        "inpatient 2",
        ("s.jsonl", SUBJECT_LINES + '{"id": "H9", "type": "x", "inpatient": 2}\n'),
        None,
    ),
    (
        "name a list",
        ("s.jsonl", SUBJECT_LINES + '{"id": "H9", "type": "x", "name": ["a"]}\n'),
        None,
    ),
    ("more cells than columns", ("s.csv", "id,type\nH1,institution\nH2,institution,extra\n"), None),
    ("one empty cell too many", ("s.csv", "id,type\nH1,institution\nH2,institution,\n"), None),
    ("unknown extension", ("s.txt", SUBJECT_LINES), None),
    ("no extension", ("subjects", SUBJECT_LINES), None),
    ("empty CSV", ("s.csv", ""), None),
    ("CSV BOM only", ("s.csv", b"\xef\xbb\xbf"), None),
    (
        "boolean maybe",
        ("s.jsonl", SUBJECT_LINES),
        ("e.csv", _replace(EVENTS_CSV, "2024-03-01,true", "2024-03-01,maybe")),
    ),
    (
        "unknown subject",
        ("s.jsonl", SUBJECT_LINES),
        (
            "e.jsonl",
            _replace(
                EVENT_LINES,
                '"subject_id": "H1", "kind": "violation"',
                '"subject_id": "H9", "kind": "violation"',
            ),
        ),
    ),
    (
        "unknown chain",
        ("s.jsonl", _replace(SUBJECT_LINES, '"chain_id": "C1"', '"chain_id": "C9"')),
        None,
    ),
    (
        "own chain",
        ("s.jsonl", _replace(SUBJECT_LINES, '"chain_id": "C1"', '"chain_id": "P1"')),
        None,
    ),
    (
        "unknown kind",
        ("s.jsonl", SUBJECT_LINES),
        (
            "e.jsonl",
            _replace(
                EVENT_LINES,
                '"E2", "subject_id": "H1", "kind": "complaint"',
                '"E2", "subject_id": "H1", "kind": "complaints"',
            ),
        ),
    ),
    (
        "missing reason",
        ("s.jsonl", SUBJECT_LINES),
        ("e.jsonl", _replace(EVENT_LINES, ', "reason": "voluntary"', "")),
    ),
    (
        "reason outside its choices",
        ("s.jsonl", SUBJECT_LINES),
        ("e.jsonl", _replace(EVENT_LINES, '"voluntary"', '"volontary"')),
    ),
    (
        "reason a number",
        ("s.jsonl", SUBJECT_LINES),
        ("e.jsonl", _replace(EVENT_LINES, '"voluntary"', "7")),
    ),
    (
        "pack kind without its required basis",
        ("s.jsonl", SUBJECT_LINES),
        (
            "e.jsonl",
            EVENT_LINES + STATUTORY + "}\n",
        ),
    ),
    (
        "basis a number",
        ("s.jsonl", SUBJECT_LINES),
        (
            "e.jsonl",
            EVENT_LINES + STATUTORY + ', "basis": 5}\n',
        ),
    ),
    (
        "verified a string for a complaint",
        ("s.jsonl", SUBJECT_LINES),
        (
            "e.jsonl",
            _replace(
                EVENT_LINES,
                '"date": "2024-03-01", "verified": true',
                '"date": "2024-03-01", "verified": "maybe"',
            ),
        ),
    ),
    (
        "fifty problems (jsonl)",
        ("s.jsonl", "".join(json.dumps({"id": f"H{i}"}) + "\n" for i in range(120))),
        None,
    ),
    (
        "fifty problems (csv)",
        ("s.csv", "id,type\n" + "".join(f"H{i},\n" for i in range(120))),
        None,
    ),
    (
        "fifty problems over both files",
        ("s.jsonl", "".join(json.dumps({"id": f"H{i}"}) + "\n" for i in range(40))),
        (
            "e.jsonl",
            "".join(json.dumps({"id": f"E{i}", "subject_id": "H0"}) + "\n" for i in range(40)),
        ),
    ),
    (
        "fifty unknown kinds",
        ("s.jsonl", SUBJECT_LINES),
        (
            "e.jsonl",
            "".join(
                json.dumps(
                    {"id": f"E{i}", "subject_id": "H1", "kind": "nonsense", "date": "2024-01-01"}
                )
                + "\n"
                for i in range(80)
            ),
        ),
    ),
    (
        "invalid UTF-8 (jsonl)",
        ("s.jsonl", SUBJECT_LINES.encode() + b'{"id": "\xff", "type": "x"}\n'),
        None,
    ),
    ("invalid UTF-8 (csv)", ("s.csv", SUBJECTS_CSV.encode() + b"H9,\xff\n"), None),
    ("a CSV cell of Unicode spaces only", ("s.csv", SUBJECTS_CSV + "H9,\u3000\n"), None),
    ("CSV line of spaces", ("s.csv", SUBJECTS_CSV + "  \n"), None),
    ("CSV line of commas", ("s.csv", SUBJECTS_CSV + ",,,\n"), None),
    ("CSV unterminated quote", ("s.csv", SUBJECTS_CSV + '"H9,institution\n'), None),
    # the contract's types, read strictly from JSON; keys once; chains; encodings (issue 13)
    (
        "beds as a JSON string",
        ("s.jsonl", _replace(SUBJECT_LINES, '"beds": 500', '"beds": "500"')),
        None,
    ),
    ("beds 500.0", ("s.jsonl", _replace(SUBJECT_LINES, '"beds": 500', '"beds": 500.0')), None),
    (
        "amount a JSON string",
        ("s.jsonl", SUBJECT_LINES),
        ("e.jsonl", _replace(EVENT_LINES, "1200.5", '"1200.5"')),
    ),
    (
        "verified yes",
        ("s.jsonl", SUBJECT_LINES),
        ("e.jsonl", _replace(EVENT_LINES, '"verified": true', '"verified": "yes"')),
    ),
    ("beds true", ("s.jsonl", SUBJECT_LINES + '{"id": "H9", "type": "x", "beds": true}\n'), None),
    ("beds -5", ("s.jsonl", _replace(SUBJECT_LINES, '"beds": 500', '"beds": -5')), None),
    ("CSV beds -5", ("s.csv", _replace(SUBJECTS_CSV, ",500,", ",-5,")), None),
    (
        "inpatient yes",
        ("s.jsonl", _replace(SUBJECT_LINES, '"inpatient": true', '"inpatient": "yes"')),
        None,
    ),
    (
        "inpatient 1",
        ("s.jsonl", _replace(SUBJECT_LINES, '"inpatient": true', '"inpatient": 1')),
        None,
    ),
    ("empty id", ("s.jsonl", SUBJECT_LINES + '{"id": "", "type": "x"}\n'), None),
    (
        "empty chain_id",
        ("s.jsonl", _replace(SUBJECT_LINES, '"chain_id": "C1"', '"chain_id": ""')),
        None,
    ),
    (
        "empty subject_id",
        ("s.jsonl", SUBJECT_LINES),
        ("e.jsonl", _replace(EVENT_LINES, '"subject_id": "P1"', '"subject_id": ""')),
    ),
    *(
        (
            f"amount {value}",
            ("s.jsonl", SUBJECT_LINES),
            ("e.jsonl", _replace(EVENT_LINES, "1200.5", value)),
        )
        for value in ("NaN", "Infinity", "-Infinity", "1e999")
    ),
    (
        "CSV amount inf",
        ("s.jsonl", SUBJECT_LINES),
        ("e.csv", _replace(EVENTS_CSV, "1200.5", "inf")),
    ),
    (
        "a key twice",
        ("s.jsonl", SUBJECT_LINES + '{"id": "H9", "type": "x", "type": "y"}\n'),
        None,
    ),
    (
        "an extra key twice",
        ("s.jsonl", SUBJECT_LINES + '{"id": "H9", "type": "x", "x2": 1, "x2": 2}\n'),
        None,
    ),
    (
        "a key twice, once escaped",
        ("s.jsonl", SUBJECT_LINES + '{"id": "H9", "type": "x", "n": 1, "\\u006e": 2}\n'),
        None,
    ),
    (
        "a nested key twice",
        ("s.jsonl", SUBJECT_LINES + '{"id": "H9", "type": "x", "n": {"a": 1, "a": 2}}\n'),
        None,
    ),
    ("CSV column twice", ("s.csv", "id,type,name,name\nH1,institution,a,b\n"), None),
    (
        "a chain naming a chain store",
        ("s.jsonl", SUBJECT_LINES + '{"id": "P9", "type": "institution", "chain_id": "P1"}\n'),
        None,
    ),
    (
        "a chain cycle",
        (
            "s.jsonl",
            _replace(SUBJECT_LINES, '"name": "连锁总部"', '"name": "连锁总部", "chain_id": "P1"'),
        ),
        None,
    ),
    ("GBK without the encoding", ("s.csv", SUBJECTS_CSV.encode("gbk")), None),
    ("UTF-16 without the encoding", ("s.jsonl", SUBJECT_LINES.encode("utf-16")), None),
    ("a CSV cell too long", ("s.csv", SUBJECTS_CSV + 'H9,"' + "x" * (1 << 24) + "\n"), None),
]


@pytest.mark.parametrize(
    ("name", "subjects", "events"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES]
)
def test_errors_are_those_of_the_python_reader(
    tmp_path: Path,
    name: str,
    subjects: tuple[str, str | bytes],
    events: tuple[str, str | bytes] | None,
) -> None:
    s = write(tmp_path, *subjects)
    e = write(tmp_path, *events) if events else None
    got = assert_same(plan_of("zhenjiang"), s, e)
    assert isinstance(got, RecordError), name


def test_a_file_that_cannot_be_read(tmp_path: Path) -> None:
    got = assert_same(plan_of("zhenjiang"), tmp_path / "missing.jsonl")
    assert isinstance(got, RecordError)
    assert got.problems[0].code == "record.file"


# -- accepted, as the Python reader accepts it ----------------------------------------------

ACCEPTED_CASES: list[tuple[str, tuple[str, str | bytes], tuple[str, str | bytes] | None, bool]] = [
    # (name, subjects, events, read by DuckDB itself)
    (
        "name a number is refused",
        ("s.jsonl", _replace(SUBJECT_LINES, '"name": "连锁总部"', '"name": 7')),
        None,
        False,
    ),
    (
        "escapes in strings",
        ("s.jsonl", _replace(SUBJECT_LINES, '"连锁总部"', '"\\u8fde\\u9501 \\"HQ\\"\\\\ \\n\\t/"')),
        None,
        True,
    ),
    (
        "an escaped key",
        ("s.jsonl", _replace(SUBJECT_LINES, '"name": "连锁总部"', '"n\\u0061me": "连锁总部"')),
        None,
        True,
    ),
    (
        "an escaped date",
        ("s.jsonl", _replace(SUBJECT_LINES, '"2019-03-01"', '"2019\\u002d03-01"')),
        None,
        True,
    ),
    ("empty strings", ("s.jsonl", _replace(SUBJECT_LINES, '"连锁总部"', '""')), None, True),
    (
        "null fields",
        ("s.jsonl", _replace(SUBJECT_LINES, '"name": "连锁总部"', '"name": null, "beds": null')),
        None,
        True,
    ),
    (
        "extra keys of any kind",
        (
            "s.jsonl",
            _replace(
                SUBJECT_LINES,
                '"licence_no": "L-003"',
                '"licence_no": [1, {"a": null}], "x": 1e400, "y": {"z": [true]}, "x2": 1',
            ),
        ),
        None,
        False,  # a nested object: the Python reader looks for a key given twice inside it
    ),
    (
        "extra keys of any kind, not nested",
        (
            "s.jsonl",
            _replace(
                SUBJECT_LINES,
                '"licence_no": "L-003"',
                '"licence_no": [1, null, "a:b"], "x": 1e400, "y": null, "x2": "a:null"',
            ),
        ),
        None,
        True,
    ),
    (
        "blank lines",
        (
            "s.jsonl",
            "\n" + jsonl(_subject_rows()[:1]) + "\n  \t\n" + jsonl(_subject_rows()[1:]) + "\n\n",
        ),
        None,
        False,
    ),
    ("a blank file", ("s.jsonl", "\n \n\t\n"), None, True),
    ("an empty file", ("s.jsonl", ""), None, True),
    ("CRLF (jsonl)", ("s.jsonl", SUBJECT_LINES.replace("\n", "\r\n")), None, True),
    (
        "CRLF (csv)",
        ("s.csv", SUBJECTS_CSV.replace("\n", "\r\n")),
        ("e.csv", EVENTS_CSV.replace("\n", "\r\n")),
        True,
    ),
    ("a lone CR", ("s.jsonl", SUBJECT_LINES.replace("\n", "\r", 1)), None, False),
    ("no newline at the end (jsonl)", ("s.jsonl", SUBJECT_LINES.rstrip("\n")), None, True),
    ("no newline at the end (csv)", ("s.csv", SUBJECTS_CSV.rstrip("\n")), None, True),
    ("BOM (jsonl)", ("s.jsonl", "\ufeff" + SUBJECT_LINES), None, True),
    ("BOM (csv)", ("s.csv", "\ufeff" + SUBJECTS_CSV), ("e.csv", "\ufeff" + EVENTS_CSV), True),
    ("CSV header only", ("s.csv", "id,type,beds\n"), None, True),
    ("CSV header without a newline", ("s.csv", "id,type"), None, True),
    (
        "CSV quoted cells",
        ("s.csv", _replace(SUBJECTS_CSV, "镇江市第一医院", '"镇江,""第一""医院"')),
        None,
        True,
    ),
    (
        "CSV comma and space in quotes",
        ("s.csv", _replace(SUBJECTS_CSV, "镇江市第一医院", '"镇江, 第一"')),
        None,
        True,
    ),
    (
        "CSV comma, space, quote in quotes",
        ("s.csv", _replace(SUBJECTS_CSV, "镇江市第一医院", '"镇江, ""第一"""')),
        None,
        False,
    ),
    (
        "CSV quoted empty cell",
        (
            "s.csv",
            _replace(
                SUBJECTS_CSV,
                "H1,institution,hospital,镇江市第一医院,500",
                'H1,institution,hospital,"",500',
            ),
        ),
        None,
        True,
    ),
    (
        "CSV cell over two lines",
        ("s.csv", _replace(SUBJECTS_CSV, "镇江市第一医院", '"镇江市\n第一医院"')),
        None,
        False,
    ),
    (
        "CSV space before a quote",
        ("s.csv", _replace(SUBJECTS_CSV, "镇江市第一医院", ' "镇江市第一医院"')),
        None,
        False,
    ),
    (
        "CSV quote after a quoted cell",
        ("s.csv", _replace(SUBJECTS_CSV, "镇江市第一医院", '"镇江"市')),
        None,
        False,
    ),
    (
        "CSV quote inside a cell",
        ("s.csv", _replace(SUBJECTS_CSV, "镇江市第一医院", '镇江"市"')),
        None,
        True,
    ),
    (
        "CSV spaces around cells",
        (
            "s.csv",
            _replace(
                SUBJECTS_CSV, "H1,institution,hospital", " H1 ,\u3000institution\xa0,\thospital\t"
            ),
        ),
        None,
        True,
    ),
    ("CSV fewer cells", ("s.csv", SUBJECTS_CSV + "H9,institution\n"), None, True),
    ("CSV blank line", ("s.csv", SUBJECTS_CSV + "\nH9,institution\n"), None, False),
    (
        "CSV columns without a name",
        ("s.csv", "id,type,,\nH1,institution,,\nH2,institution,a,\n"),
        None,
        True,
    ),
    ("CSV header with spaces is refused", ("s.csv", " id,type\nH1,institution\n"), None, False),
    (
        "CSV lax numbers",
        ("s.jsonl", SUBJECT_LINES),
        ("e.csv", _replace(EVENTS_CSV, "1200.5", "1.2005e3")),
        True,
    ),
    ("CSV beds 0500", ("s.csv", _replace(SUBJECTS_CSV, ",500,", ",0500,")), None, True),
    ("CSV beds 500.0", ("s.csv", _replace(SUBJECTS_CSV, ",500,", ",500.0,")), None, False),
    (
        "CSV inpatient True",
        ("s.csv", _replace(SUBJECTS_CSV, ",500,true,", ",500,True,")),
        None,
        False,
    ),
    (
        "CSV inpatient yes",
        ("s.csv", _replace(SUBJECTS_CSV, ",500,true,", ",500,yes,")),
        None,
        False,
    ),
    (
        "CSV amount .5",
        ("s.jsonl", SUBJECT_LINES),
        ("e.csv", _replace(EVENTS_CSV, "1200.5", ".5")),
        False,
    ),
    (
        "JSON amount as an integer",
        ("s.jsonl", SUBJECT_LINES),
        ("e.jsonl", _replace(EVENT_LINES, "1200.5", "1200")),
        True,
    ),
    (
        "JSON amount in exponent form",
        ("s.jsonl", SUBJECT_LINES),
        ("e.jsonl", _replace(EVENT_LINES, "1200.5", "-1.2005E+3")),
        True,
    ),
    (
        "JSON amount huge",
        ("s.jsonl", SUBJECT_LINES),
        ("e.jsonl", _replace(EVENT_LINES, "1200.5", "123456789012345678901234567890")),
        True,
    ),
    (
        "default verified",
        ("s.jsonl", SUBJECT_LINES),
        ("e.jsonl", _replace(EVENT_LINES, ', "verified": true', "")),
        True,
    ),
    (
        "NaN in an extra key",
        ("s.jsonl", SUBJECT_LINES + '{"id": "H9", "type": "x", "n": NaN}\n'),
        None,
        False,
    ),
    (
        "Infinity in an extra key",
        ("s.jsonl", SUBJECT_LINES + '{"id": "H9", "type": "x", "n": -Infinity}\n'),
        None,
        False,
    ),
    ("a NUL in CSV", ("s.csv", SUBJECTS_CSV + "H9,\x00\n"), None, False),
    (
        "Id beside id",
        ("s.jsonl", SUBJECT_LINES + '{"Id": "H8", "id": "H9", "type": "x"}\n'),
        None,
        True,
    ),
    (
        "colons and null in texts",
        ("s.jsonl", _replace(SUBJECT_LINES, '"连锁总部"', '"连锁: null 总部"')),
        None,
        True,
    ),
    (
        "null values",
        ("s.jsonl", _replace(SUBJECT_LINES, '"name": "连锁总部"', '"name": null')),
        None,
        True,
    ),
    (
        "a brace in a text",
        ("s.jsonl", _replace(SUBJECT_LINES, '"连锁总部"', '"{总部}"')),
        None,
        True,
    ),
    (
        "a brace and a null",
        ("s.jsonl", _replace(SUBJECT_LINES, '"连锁总部"', '"{总部}", "x": null')),
        None,
        False,  # the keys of a line with '{' in a text are left to the Python reader
    ),
    ("a glob character in the name", ("s[1].jsonl", SUBJECT_LINES), None, False),
    ("upper-case extension", ("s.JSONL", SUBJECT_LINES), None, True),
]


@pytest.mark.parametrize(
    ("name", "subjects", "events", "fast"), ACCEPTED_CASES, ids=[c[0] for c in ACCEPTED_CASES]
)
def test_accepted_as_the_python_reader_accepts(
    tmp_path: Path,
    name: str,
    subjects: tuple[str, str | bytes],
    events: tuple[str, str | bytes] | None,
    fast: bool,
) -> None:
    s = write(tmp_path, *subjects)
    e = write(tmp_path, *events) if events else None
    got = assert_same(plan_of("zhenjiang"), s, e, fast=fast)
    if "refused" not in name:
        assert isinstance(got, tables.RecordTables), got


# -- subject attributes and the pack's own kinds --------------------------------------------

TYPED_SUBJECTS: list[dict[str, Any]] = [
    {
        "id": "H1",
        "type": "institution",
        "category": "hospital",
        "designated_on": "2015-06-01",
        "staff": 3,
        "ownership": "private",
        "rating": 4.5,
        "audited": True,
        "since": "2020-02-29",
    },
    {
        "id": "H2",
        "type": "institution",
        "category": "hospital",
        "designated_on": "2015-06-01",
        "staff": 0,
    },
]
TYPED_EVENTS: list[dict[str, Any]] = [
    {
        "id": "E1",
        "subject_id": "H1",
        "kind": "inspection",
        "date": "2024-01-02",
        "score": 90,
        "count": 3,
        "passed": True,
        "checked_on": "2024-01-01",
        "grade": "bad",
    },
    {"id": "E2", "subject_id": "H2", "kind": "inspection", "date": "2024-01-03", "score": 7.25},
    {
        "id": "E3",
        "subject_id": "H2",
        "kind": "audit",
        "date": "2024-01-04",
        "count": 2.5,
        "points": 4,
    },
    {
        "id": "E4",
        "subject_id": "H1",
        "kind": "violation",
        "date": "2024-01-05",
        "amount": 1.5,
        "grade": "any text",
        "count": 4,
    },
    {"id": "E5", "subject_id": "H1", "kind": "complaint", "date": "2024-01-06"},
]


def typed_csv(rows: list[dict[str, Any]]) -> str:
    names: list[str] = []
    for r in rows:
        names += [k for k in r if k not in names]
    lines = [",".join(names)]
    for r in rows:
        lines.append(",".join(_csv_text(r.get(n)) for n in names))
    return "\n".join(lines) + "\n"


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_typed_attributes_defaults_and_kinds(tmp_path: Path, fmt: str) -> None:
    if fmt == "jsonl":
        s = write(tmp_path, "s.jsonl", jsonl(TYPED_SUBJECTS))
        e = write(tmp_path, "e.jsonl", jsonl(TYPED_EVENTS))
    else:
        s = write(tmp_path, "s.csv", typed_csv(TYPED_SUBJECTS))
        e = write(tmp_path, "e.csv", typed_csv(TYPED_EVENTS[:4] + TYPED_EVENTS[5:]))
    if fmt == "csv":  # CSV text on an event of a kind that does not declare it: no column type
        got = outcome(lambda: load_tables(shared(), plan_of("typed"), s, e))
        assert isinstance(got, EvaluationError)
        assert got.problems[0].code == "eval.sql-unsupported"
        assert "'count'" in got.problems[0].message
        assert got.problems[0].location.line == 5
        rows = [r for r in TYPED_EVENTS if r["kind"] != "violation"]
        e = write(tmp_path, "e.csv", typed_csv(rows))
    con = shared()
    assert_same(plan_of("typed"), s, e, fast=True)
    load_tables(con, plan_of("typed"), s, e)
    assert con.execute(
        "SELECT staff, ownership, audited, since FROM subjects ORDER BY id"
    ).fetchall() == [
        (3, "private", True, dt.date(2020, 2, 29)),
        (0, "public", False, None),
    ]
    assert con.execute(
        "SELECT id, score, count, passed, grade, points FROM events ORDER BY id"
    ).fetchall()[:3] == [
        ("E1", 90.0, 3.0, True, "bad", None),
        ("E2", 7.25, None, False, "good", None),
        ("E3", None, 2.5, None, None, 4.0),
    ]


TYPED_ERRORS = [
    ("staff missing", 1, "staff", None),
    ("staff text", 1, "staff", "three"),
    ("staff a JSON string", 1, "staff", "3"),
    ("staff 3.0", 1, "staff", 3.0),
    ("ownership outside its choices", 0, "ownership", "privat"),
    ("ownership a number", 0, "ownership", 5),
    ("rating text", 0, "rating", "high"),
    ("rating a string number", 0, "rating", "4.5"),
    ("audited yes", 0, "audited", "yes"),
    ("since impossible", 0, "since", "2021-02-29"),
    ("since a timestamp", 0, "since", "2021-02-01T00:00:00"),
    ("since a number", 0, "since", 20210201),
]


@pytest.mark.parametrize(
    ("name", "index", "field", "value"), TYPED_ERRORS, ids=[t[0] for t in TYPED_ERRORS]
)
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_subject_attribute_problems(
    tmp_path: Path, fmt: str, name: str, index: int, field: str, value: Any
) -> None:
    rows = [dict(r) for r in TYPED_SUBJECTS]
    if value is None:
        rows[index].pop(field, None)
    else:
        rows[index][field] = value
    text = jsonl(rows) if fmt == "jsonl" else typed_csv(rows)
    assert_same(plan_of("typed"), write(tmp_path, f"s.{fmt}", text))


EVENT_ERRORS = [
    ("score missing", 1, "score", None),
    ("score text", 1, "score", "high"),
    ("score a string number", 1, "score", "7.5"),
    ("count 3.5", 0, "count", 3.5),
    ("count 3.0", 0, "count", 3.0),
    ("count a string", 0, "count", "3"),
    ("passed yes", 0, "passed", "yes"),
    ("grade outside its choices", 0, "grade", "ok"),
    ("checked_on impossible", 0, "checked_on", "2023-02-29"),
    ("points 4.5 for an audit", 2, "points", 4.5),
    ("points 4.0 for an audit", 2, "points", 4.0),
    ("a foreign date", 3, "checked_on", "2024-01-01"),
    ("a foreign number", 3, "score", 7),
    ("a foreign bool as text", 3, "passed", "true"),
    ("a foreign list", 3, "grade", ["x"]),
]


@pytest.mark.parametrize(
    ("name", "index", "field", "value"), EVENT_ERRORS, ids=[t[0] for t in EVENT_ERRORS]
)
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_event_attribute_problems(
    tmp_path: Path, fmt: str, name: str, index: int, field: str, value: Any
) -> None:
    """Each as the Python path has it: an error, or accepted after lax conversion; a value
    no column type can keep (on an event of a kind that does not declare it) is refused by
    the SQL engine in so many words."""
    rows = [dict(r) for r in TYPED_EVENTS if r["kind"] != "violation" or fmt == "jsonl"]
    if index == 3 and fmt == "csv":
        rows.insert(3, dict(TYPED_EVENTS[3], count=None))
    if value is None:
        rows[index].pop(field, None)
    else:
        rows[index][field] = value
    s = write(
        tmp_path, f"s.{fmt}", jsonl(TYPED_SUBJECTS) if fmt == "jsonl" else typed_csv(TYPED_SUBJECTS)
    )
    e = write(tmp_path, f"e.{fmt}", jsonl(rows) if fmt == "jsonl" else typed_csv(rows))
    want = outcome(lambda: python_path(plan_of("typed"), s, e))
    got = outcome(lambda: load_tables(shared(), plan_of("typed"), s, e))
    if isinstance(got, EvaluationError):
        assert not isinstance(want, Exception)
        assert not_representable(want, plan_of("typed"))
        assert got.problems[0].code == "eval.sql-unsupported"
        return
    assert_same(plan_of("typed"), s, e)


def not_representable(records: Records, plan: Plan) -> list[tuple[str, str]]:
    """Values the Python reader keeps (an out-of-range integer, or a value on an event of a kind
    that does not declare it) that no column of that type can hold unchanged: told apart here
    independently of the module."""
    fits = {
        "VARCHAR": lambda v: isinstance(v, str),
        "DOUBLE": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "BIGINT": lambda v: (
            isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63
        ),
        "BOOLEAN": lambda v: isinstance(v, bool),
        "DATE": lambda v: isinstance(v, dt.date),
    }
    out = []
    for table, rows in (("subjects", records.subjects), ("events", records.events)):
        types = table_types(plan, table)
        for r in rows:
            for name, kind in types.items():
                value = None if name == "_line" else r.attr(name)
                if value is not None and not fits[kind](value):
                    out.append((r.id, name))
    return out


_TYPES: dict[tuple[int, str], dict[str, str]] = {}


def table_types(plan: Plan, table: str) -> dict[str, str]:
    if (id(plan), table) not in _TYPES:
        empty = _PACK_DIR[0] / "empty.jsonl"
        empty.write_text("", encoding="utf-8")
        con = duckdb.connect()
        load_tables(con, plan, empty)
        for name in ("subjects", "events"):
            _TYPES[id(plan), name] = column_types(con, name)
    return _TYPES[id(plan), table]


def test_csv_subject_attribute_text_is_converted(tmp_path: Path) -> None:
    """tests/test_hardening.py: a CSV "03" for an int attribute is the number 3."""
    path = write(
        tmp_path,
        "subjects.csv",
        "id,type,category,designated_on,staff,ownership\n"
        "H1,institution,hospital,2015-06-01,3,public\n"
        "H2,institution,hospital,2015-06-01,03,\n"
        "H3,institution,hospital,2015-06-01,,privat\n",
    )
    assert isinstance(assert_same(plan_of("attributes"), path), RecordError)
    path = write(
        tmp_path, "subjects.csv", path.read_text(encoding="utf-8").replace(",,privat", ",4,private")
    )
    con = shared()
    assert_same(plan_of("attributes"), path, fast=True)
    load_tables(con, plan_of("attributes"), path)
    assert con.execute("SELECT id, staff, ownership FROM subjects").fetchall() == [
        ("H1", 3, "public"),
        ("H2", 3, "public"),
        ("H3", 4, "private"),
    ]


def test_a_connection_without_insertion_order_still_numbers_lines() -> None:
    con = duckdb.connect(config={"preserve_insertion_order": False})
    plan = plan_of("zhenjiang")
    s, e = EXAMPLES / "zhenjiang" / "subjects.jsonl", EXAMPLES / "zhenjiang" / "events.jsonl"
    records = python_path(plan, s, e)
    t = load_tables(con, plan, s, e)
    for r in records.events:
        assert t.where("event", r.id) == records.where("event", r.id)
    assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchone() == (False,)


# -- records already in memory --------------------------------------------------------------


def test_records_from_python_as_tables() -> None:
    plan = plan_of("zhenjiang")
    records = records_from_python(_subject_rows(), _event_rows())
    con = shared()
    t = tables_from_records(con, plan, records)
    assert t.files == {"subject": "<python>[subjects]", "event": "<python>[events]"}
    assert t.where("event", "E3", "reason") == yc.Location("<python>[events]", 3, None, "reason")
    for what, table in (("subject", "subjects"), ("event", "events")):
        types = column_types(con, table)
        assert_rows_equal(table_rows(con, table), expected_rows(records, what, types))
    assert con.execute("SELECT verified FROM events WHERE id = 'E3'").fetchone() == (None,)
    assert con.execute("SELECT verified FROM events WHERE id = 'E1'").fetchone() == (True,)


def test_records_from_python_get_the_pack_checks() -> None:
    events = _event_rows()
    events[3]["kind"] = "violaton"
    records = records_from_python(_subject_rows(), events)
    with pytest.raises(RecordError) as info:
        tables_from_records(shared(), plan_of("zhenjiang"), records)
    [p] = info.value.problems
    assert (p.code, p.location) == (
        "record.event.unknown-kind",
        yc.Location("<python>[events]", 4, None, "kind"),
    )


def test_records_from_python_keep_exact_values() -> None:
    subjects = [
        {
            "id": "H1",
            "type": "x",
            "name": "a\x00b\ud7ff",
            "beds": 2**62,
            "designated_on": "0001-01-01",
        },
        {"id": "H2", "type": "x", "beds": 2**63 - 1},
    ]
    floats = [0.1 + 0.2, 1e-310, 1.7976931348623157e308, -0.0, 5e-324, 123456789.123456789]
    events = [
        {"id": f"E{i}", "subject_id": "H1", "kind": "violation", "date": "9999-12-31", "amount": x}
        for i, x in enumerate(floats)
    ]
    records = records_from_python(subjects, events)
    con = shared()
    tables_from_records(con, plan_of("zhenjiang"), records)
    for what, table in (("subject", "subjects"), ("event", "events")):
        assert_rows_equal(
            table_rows(con, table), expected_rows(records, what, column_types(con, table))
        )


def test_records_from_python_with_a_value_no_column_can_hold() -> None:
    records = records_from_python([{"id": "H1", "type": "x", "beds": 2**70}], [])
    with pytest.raises(EvaluationError) as info:
        tables_from_records(shared(), plan_of("zhenjiang"), records)
    [p] = info.value.problems
    assert p.code == "eval.sql-unsupported"
    assert p.location == yc.Location("<python>[subjects]", 1, None, "beds")


# -- random mutations of valid files --------------------------------------------------------

VALUES: list[Any] = [
    *(12, -3, 0, 12.0, 12.5, 1e3, 2**64, True, False, None, [1], {"a": 1}),
    *("12", "03", "true", "yes", "", " x ", "2024-02-30", "2024-01-01", "2024-1-1", "１２"),
    *("good", "bad", "public", "voluntary"),
]
"""Values a JSON field is set to."""
TEXTS = [
    *("12", "03", "-0", "1.5", "1e3", ".5", "yes", "True", "true", "false", "", " ", "\u3000x"),
    *("2024-02-29", "2023-02-29", "a,b", '"q"', 'x"y', "public", "good", "inspection", "H1"),
]
"""Texts a CSV cell is set to."""
BYTES = [",", '"', "{", "}", ":", " ", "\n", "\r", "x", "\\", "\t", "\u3000", "[", "]", "0", "-"]


def _valid_events() -> list[dict[str, Any]]:
    out = [dict(r) for r in TYPED_EVENTS if r["kind"] != "violation"]
    out.append(
        {
            "id": "E6",
            "subject_id": "H2",
            "kind": "agreement_terminated",
            "date": "2024-03-01",
            "reason": "other",
        }
    )
    out.append(
        {"id": "E7", "subject_id": "H1", "kind": "reward", "date": "2024-03-02", "points": 2}
    )
    return out


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str, str]:
    fmt = draw(st.sampled_from(["jsonl", "csv"]))
    rows = {"s": [dict(r) for r in TYPED_SUBJECTS], "e": _valid_events()}
    texts: dict[str, str] = {}
    for key in ("s", "e"):
        if fmt == "jsonl":
            for _ in range(draw(st.integers(0, 2))):
                row = draw(st.sampled_from(rows[key]))
                field = draw(st.sampled_from(sorted(row)))
                if draw(st.booleans()):
                    del row[field]
                else:
                    row[field] = draw(st.sampled_from(VALUES))
            lines = [json.dumps(r, ensure_ascii=draw(st.booleans())) for r in rows[key]]
        else:
            lines = typed_csv(rows[key]).splitlines()
            for _ in range(draw(st.integers(0, 2))):
                i = draw(st.integers(1, len(lines) - 1))
                cells = lines[i].split(",")
                cells[draw(st.integers(0, len(cells) - 1))] = draw(st.sampled_from(TEXTS))
                lines[i] = ",".join(cells)
        for _ in range(draw(st.integers(0, 2))):
            op = draw(st.sampled_from(["duplicate", "corrupt", "blank", "swap"]))
            i = draw(st.integers(0, len(lines) - 1))
            if op == "duplicate":
                lines.insert(draw(st.integers(0, len(lines))), lines[i])
            elif op == "corrupt" and lines[i]:
                j = draw(st.integers(0, len(lines[i]) - 1))
                lines[i] = lines[i][:j] + draw(st.sampled_from(BYTES)) + lines[i][j + 1 :]
            elif op == "blank":
                lines.insert(i, draw(st.sampled_from(["", " ", "\t"])))
            elif op == "swap":
                a, b = (
                    draw(st.sampled_from(["inspection", "audit", "complaint", "H1", "good"])),
                    draw(
                        st.sampled_from(
                            ["audit", "violation", "inspections", "H3", "bad", "reward"]
                        )
                    ),
                )
                lines[i] = lines[i].replace(a, b, 1)
        texts[key] = "\n".join(lines) + ("\n" if draw(st.booleans()) else "")
    return fmt, texts["s"], texts["e"]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=mutated())
def test_mutated_files_are_read_as_the_python_reader_reads_them(
    tmp_path: Path, case: tuple[str, str, str]
) -> None:
    fmt, subjects, events = case
    s = write(tmp_path, f"s.{fmt}", subjects)
    e = write(tmp_path, f"e.{fmt}", events)
    plan = plan_of("typed")
    want = outcome(lambda: python_path(plan, s, e))
    got = outcome(lambda: load_tables(shared(), plan, s, e))
    if isinstance(got, EvaluationError):  # a value no column type can keep: refused, located
        assert not isinstance(want, Exception), problems(want)
        assert not_representable(want, plan), problems(got)
        assert got.problems[0].code == "eval.sql-unsupported"
        return
    assert_same(plan, s, e)


def test_valid_random_files_take_the_fast_path(tmp_path: Path) -> None:
    """Random valid values (floats of every size, text with escapes) are read by DuckDB and
    equal the Python reader's, to the last bit."""
    rng = random.Random(7)
    subjects = [
        {
            "id": f"S{i}",
            "type": "institution",
            "staff": rng.randrange(-(10**17), 10**17),
            "rating": rng.choice(
                [rng.random() * 10 ** rng.randrange(-300, 300), rng.randrange(10**20)]
            ),
            "name": "".join(
                rng.choice('ab"\\/\n\t镇江 é\u2028😀') for _ in range(rng.randrange(6))
            ),
        }
        for i in range(300)
    ]
    for fmt in ("jsonl", "csv"):
        text = (
            jsonl(subjects)
            if fmt == "jsonl"
            else typed_csv([{k: v for k, v in r.items() if k != "name"} for r in subjects])
        )
        assert_same(plan_of("typed"), write(tmp_path, f"s.{fmt}", text), fast=True)


# -- random values, written as other systems write them -------------------------------------

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=6)
"""Any text: control characters, line and paragraph separators, Unicode spaces…"""
PLAIN = st.text(st.sampled_from('ab 镇江,"\\/:{}[]é😀\u3000-.0'), max_size=6)
"""Text as names and codes are written: quotes, commas, braces and spaces, but on one line."""
VALID: dict[str, st.SearchStrategy[Any]] = {
    "str": PLAIN,
    "ownership": st.sampled_from(["public", "private"]),
    "grade": st.sampled_from(["good", "bad"]),
    "reason": st.sampled_from(["voluntary", "renewal_failed", "other"]),
    "int": st.integers(-(10**17), 10**17),
    "number": st.one_of(
        st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**80), 2**80)
    ),
    "bool": st.booleans(),
    "date": st.dates().map(dt.date.isoformat),
}
"""Values of each type, as a system exchanging records writes them."""
NEAR: dict[str, st.SearchStrategy[Any]] = {
    "str": st.one_of(TEXT, st.integers(0, 9), st.none(), st.sampled_from(["", " x", [1]])),
    "choice": st.one_of(st.sampled_from(["Public", "", "goodd", "other "]), TEXT),
    "int": st.one_of(
        st.integers(-(2**70), 2**70),
        st.integers(-100, 100).map(float),
        st.sampled_from(["12", "007", "1e3", " 5", True, None, 10**18, -(2**63), 2**63]),
    ),
    "number": st.one_of(st.floats(), st.sampled_from(["1.5", ".5", "1_000", False, None, 1e300])),
    "bool": st.sampled_from(["true", "True", 1, 0, "yes", "f", None]),
    "date": st.one_of(
        st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z"),
        st.sampled_from(["2023-02-29", "0000-01-01", "2024-01-01T00:00:00", "20240101", 20240101]),
    ),
}
"""Values a lax reading may or may not accept."""


def field_value(kind: str, clean: bool) -> st.SearchStrategy[Any]:
    if clean:
        return VALID[kind]
    return st.one_of(NEAR["choice"] if kind in ("ownership", "grade", "reason") else NEAR[kind])


SUBJECT_TYPES = {
    "type": "str",
    "category": "str",
    "name": "str",
    "beds": "int",
    "inpatient": "bool",
    "designated_on": "date",
    "staff": "int",
    "ownership": "ownership",
    "rating": "number",
    "audited": "bool",
    "since": "date",
}
EVENT_TYPES = {
    "inspection": {
        "score": "number",
        "count": "int",
        "passed": "bool",
        "checked_on": "date",
        "grade": "grade",
    },
    "audit": {"count": "number", "points": "int"},
    "complaint": {"verified": "bool"},
    "violation": {"amount": "number", "severity": "str"},
    "reward": {"points": "number"},
    "agreement_terminated": {"reason": "reason"},
}


@st.composite
def random_records(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Records whose fields are absent or of their type, and in half the examples also some
    of a near type (a lax reading may accept those, or not)."""
    clean = draw(st.booleans())
    subjects = []
    for i in range(draw(st.integers(1, 4))):
        row: dict[str, Any] = {"id": f"S{i}", "type": "institution", "staff": i}
        for name, kind in SUBJECT_TYPES.items():
            if draw(st.integers(0, 2)) == 0:
                row[name] = draw(field_value(kind, clean or draw(st.integers(0, 4)) > 0))
        subjects.append(row)
    events = []
    for i in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(sorted(EVENT_TYPES)))
        row = {"id": f"E{i}", "subject_id": "S0", "kind": kind, "date": "2024-01-01"}
        row |= {"score": 1.5, "reason": "other", "points": 1}
        for name, t in EVENT_TYPES[kind].items():
            if draw(st.integers(0, 2)) == 0:
                row[name] = draw(field_value(t, clean or draw(st.integers(0, 4)) > 0))
        if not clean and draw(st.integers(0, 9)) == 0:
            row[draw(st.sampled_from(["date", "id", "subject_id"]))] = draw(NEAR["date"])
        events.append(row)
    return subjects, events


def csv_text(rows: list[dict[str, Any]], upper: bool) -> str:
    """The rows as a CSV writer writes them (quoting where needed)."""
    names: list[str] = []
    for r in rows:
        names += [k for k in r if k not in names]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for r in rows:
        cells = []
        for n in names:
            v = r.get(n)
            if isinstance(v, bool):
                v = str(v) if upper else str(v).lower()
            cells.append("" if v is None else str(v))
        writer.writerow(cells)
    return out.getvalue()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=random_records(), fmt=st.sampled_from(["jsonl", "csv"]), flag=st.booleans())
def test_random_values_are_read_as_the_python_reader_reads_them(
    tmp_path: Path,
    data: tuple[list[dict[str, Any]], list[dict[str, Any]]],
    fmt: str,
    flag: bool,
) -> None:
    subjects, events = data
    if fmt == "jsonl":
        s_text, e_text = (
            "".join(json.dumps(r, ensure_ascii=flag) + "\n" for r in rows)
            for rows in (subjects, events)
        )
    else:
        s_text, e_text = csv_text(subjects, flag), csv_text(events, flag)
    s = write(tmp_path, f"s.{fmt}", s_text)
    e = write(tmp_path, f"e.{fmt}", e_text)
    plan = plan_of("typed")
    want = outcome(lambda: python_path(plan, s, e))
    got = outcome(lambda: load_tables(shared(), plan, s, e))
    if isinstance(got, EvaluationError):
        assert not isinstance(want, Exception), problems(want)
        assert not_representable(want, plan), problems(got)
        return
    assert_same(plan, s, e)


def test_records_from_python_with_text_duckdb_cannot_hold() -> None:
    records = records_from_python([{"id": "H1", "type": "x", "name": "\ud800"}], [])
    with pytest.raises(EvaluationError) as info:
        tables_from_records(shared(), plan_of("zhenjiang"), records)
    assert info.value.problems[0].code == "eval.sql-unsupported"


_PIECES = [
    b" ", b"\t", b"\n", b"\r", b"\r\n", b"\x0b", b"\x0c", b"\x00", b"\x01", b",", b":", b"{",
    b"}", b"[", b"]", b'"', b"a", b"N", b"Na", b"NaN", b"Inf", b"inity", b"Infinity",
    b"\xef\xbb\xbf", b"\xc2\xa0", b" " * 70, b"\n" * 70, b'x,y\n',
]  # fmt: skip


def _decisions(scan: tables._Scan) -> tuple[Any, ...]:
    """What the stagers act on: counts only matter of a file the guards let through."""
    if scan.blank or scan.refused:
        return (scan.blank, scan.refused)
    return (scan.lines, scan.braces, scan.colons, scan.head, scan.spaced)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pieces=st.one_of(
        st.lists(st.sampled_from(_PIECES), max_size=60),
        st.lists(st.sampled_from([b" ", b"\n", b",", b"}", b"]", b"{", b":", b"a", b" " * 70])),
        st.lists(st.sampled_from([b" ", b"\t", b",", b'"', b"a", b"\n", b" " * 70])),
    ),
    size=st.integers(min_value=1, max_value=80),
)
def test_guards_read_in_chunks_find_what_one_read_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pieces: list[bytes], size: int
) -> None:
    """The guards read a file a chunk at a time (``_CHUNK``), never whole: a pattern cut by a
    chunk's end (a trailing comma after a long run of white space, NaN, a CR LF, white space
    before a quote) is found as in one read of the whole file."""
    path = tmp_path / "f.txt"
    path.write_bytes(b"".join(pieces))
    whole = (_decisions(tables._scan_jsonl(path)), _decisions(tables._scan_csv(path)))
    with monkeypatch.context() as patched:
        patched.setattr(tables, "_CHUNK", size)
        chunked = (_decisions(tables._scan_jsonl(path)), _decisions(tables._scan_csv(path)))
    assert chunked == whole


def test_the_white_space_trimmed_from_csv_cells_is_pythons() -> None:
    assert "".join(c for c in map(chr, range(0x110000)) if c.isspace()) == tables._WHITESPACE


def test_tables_of_the_connection_itself_are_left_alone(tmp_path: Path) -> None:
    """The tables are temporary: a database's own ``subjects`` is neither read nor dropped,
    also when a file goes through the Python reader."""
    con = duckdb.connect()
    con.execute("CREATE TABLE subjects (mine INTEGER)")
    s = write(tmp_path, "s.jsonl", "\n" + SUBJECT_LINES)  # a blank line: the Python reader
    t = load_tables(con, plan_of("zhenjiang"), s)
    assert t.where("subject", "P1") == yc.Location(str(s), 3, None, None)
    assert con.execute("SELECT count(*) FROM memory.main.subjects").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM subjects").fetchone() == (3,)


def test_a_default_of_the_wrong_type_is_refused_when_used(tmp_path: Path) -> None:
    """The Python reader fills a pack default in as the pack writes it (here the text "no" for
    a bool): no BOOLEAN can hold it, so a run on DuckDB is refused where a record uses it."""
    plan = plan_of("bad default")
    events = EVENT_LINES + '{"id": "E9", "subject_id": "H1", "kind": "visit", "date": "2024-01-01"'
    s = write(tmp_path, "s.jsonl", SUBJECT_LINES)
    e = write(tmp_path, "e.jsonl", events + ', "verified": false}\n')
    assert_same(plan, s, e, fast=False)  # SQL cannot write the default: the Python reader
    e = write(tmp_path, "e.jsonl", events + "}\n")
    assert python_path(plan, s, e).events[-1].verified == "no"
    with pytest.raises(EvaluationError) as info:
        load_tables(shared(), plan, s, e)
    [p] = info.value.problems
    assert p.code == "eval.sql-unsupported"
    assert p.location == yc.Location(str(e), 5, None, "verified")
