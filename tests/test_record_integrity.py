"""Bad records, as a careless or hostile data system writes them: issue 13, the rows of record
reading. Each is refused with the error the data contract's types call for, naming the file,
line and field, by both readers alike: the Python reader (``records.readers`` and the pack's
``records.checks``) and the DuckDB one (``sql.tables.load_tables``), which must give exactly
the Python reader's errors.

design.md, "Data contract": subjects have ``id``, ``type``, ``beds`` (a whole number),
``inpatient`` (true/false), ``chain_id`` (the chain headquarters, itself a subject); events
``id``, ``subject_id``, … and number attributes (``amount``, ``value``); "Ids are unique within
a file"; "Input files are JSON Lines or CSV (UTF-8, header row)". Principle 4: "A record that
does not fit is an error naming the file and line; no record is ever dropped silently."
Files are written into ``tmp_path``; a real in-process DuckDB, no mocks.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

import yibao_credit as yc
from yibao_credit.compile.plan import Plan
from yibao_credit.errors import RecordError
from yibao_credit.records.checks import check_event_kinds, check_subject_attributes
from yibao_credit.records.contract import Records
from yibao_credit.records.deposits import read_deposits
from yibao_credit.records.history import read_history
from yibao_credit.records.procedures import read_procedures
from yibao_credit.records.readers import CSV_FIELD_LIMIT, load_records, records_from_python
from yibao_credit.sql.session import evaluate_files
from yibao_credit.sql.tables import RecordTables, load_tables

ROOT = Path(__file__).resolve().parents[1]
ZHENJIANG = ROOT / "policies" / "zhenjiang.yaml"

Where = tuple[str, str, int | None, str | None]
"""A problem as (code, message, line, field); the file is checked separately."""


@pytest.fixture(scope="module")
def plan() -> Plan:
    return yc.load_policy(ZHENJIANG).plan


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def jsonl(*rows: dict[str, Any] | str) -> str:
    return "".join(
        (r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows
    )


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def python_reader(plan: Plan, subjects: Path, events: Path | None, **kw: Any) -> Records:
    """What the Python engine reads: the reader, then the pack's checks (engine.prepare)."""
    records = load_records(subjects, events, **kw)
    check_event_kinds(records, plan.event_kinds)
    check_subject_attributes(records, plan.subject_attributes)
    return records


def refused(
    plan: Plan,
    con: duckdb.DuckDBPyConnection,
    subjects: Path,
    events: Path | None = None,
    **kw: Any,
) -> list[Where]:
    """Both readers refuse the files with the same problems; each names the file it is in."""
    with pytest.raises(RecordError) as python:
        python_reader(plan, subjects, events, **kw)
    with pytest.raises(RecordError) as duck:
        load_tables(con, plan, subjects, events, **kw)
    assert [str(p) for p in duck.value.problems] == [str(p) for p in python.value.problems]
    assert duck.value.problems == python.value.problems
    files = {str(subjects), str(events)}
    assert all(p.location.file in files for p in python.value.problems)
    return [(p.code, p.message, p.location.line, p.location.path) for p in python.value.problems]


def accepted(
    plan: Plan,
    con: duckdb.DuckDBPyConnection,
    subjects: Path,
    events: Path | None = None,
    **kw: Any,
) -> tuple[Records, RecordTables]:
    """Both readers read the files, to the same subjects and events."""
    records = python_reader(plan, subjects, events, **kw)
    tables = load_tables(con, plan, subjects, events, **kw)
    ids = con.execute("SELECT id, _line FROM subjects").fetchall()
    assert ids == [(s.id, records.lines[("subject", s.id)]) for s in records.subjects]
    ids = con.execute("SELECT id, _line FROM events").fetchall()
    assert ids == [(e.id, records.lines[("event", e.id)]) for e in records.events]
    return records, tables


H1 = {
    "id": "H1",
    "type": "institution",
    "category": "hospital",
    "name": "镇江市示例第一医院",
    "beds": 500,
    "inpatient": True,
    "designated_on": "2015-03-01",
}


def subject(**fields: Any) -> dict[str, Any]:
    return {**H1, **fields}


# -- row: beds: true, beds: -5, beds: "12", id: "" -----------------------------------------


def test_issue13_contract_types_of_subject_fields_in_jsonl(
    tmp_path: Path, plan: Plan, con: duckdb.DuckDBPyConnection
) -> None:
    """issue 13, data contract: ``beds`` is a whole number ≥ 0 (a JSON integer, not true, not
    "12"), ``inpatient`` true/false, ids are never empty; each refused with its field."""
    s = write(
        tmp_path,
        "subjects.jsonl",
        jsonl(
            subject(id="A", beds=True),
            subject(id="B", beds=-5),
            subject(id="C", beds="12"),
            subject(id=""),
            subject(id="D", inpatient=1),
            subject(id="E", beds=12.0),
            subject(id="F", chain_id=""),
        ),
    )
    assert refused(plan, con, s) == [
        ("record.subject", "Input should be a valid integer (got True)", 1, "beds"),
        ("record.subject", "Input should be greater than or equal to 0 (got -5)", 2, "beds"),
        ("record.subject", "Input should be a valid integer (got '12')", 3, "beds"),
        ("record.subject", "String should have at least 1 character (got '')", 4, "id"),
        ("record.subject", "Input should be a valid boolean (got 1)", 5, "inpatient"),
        ("record.subject", "Input should be a valid integer (got 12.0)", 6, "beds"),
        ("record.subject", "String should have at least 1 character (got '')", 7, "chain_id"),
    ]


def test_issue13_csv_cells_are_text_converted_by_the_contract_types(
    tmp_path: Path, plan: Plan, con: duckdb.DuckDBPyConnection
) -> None:
    """issue 13, data contract: in CSV every cell is text, so "12" is 12 beds; "-5" and
    "true" are not a number of beds."""
    header = "id,type,category,beds,inpatient,designated_on\n"
    good = write(tmp_path, "good.csv", header + "H1,institution,hospital,12,true,2015-03-01\n")
    records, _ = accepted(plan, con, good)
    assert (records.subjects[0].beds, records.subjects[0].inpatient) == (12, True)
    assert con.execute("SELECT beds, inpatient FROM subjects").fetchall() == [(12, True)]
    bad = write(
        tmp_path,
        "bad.csv",
        header
        + "A,institution,hospital,-5,,2015-03-01\n"
        + "B,institution,hospital,true,,2015-03-01\n",
    )
    assert refused(plan, con, bad) == [
        ("record.subject", "Input should be greater than or equal to 0 (got '-5')", 2, "beds"),
        (
            "record.subject",
            "Input should be a valid integer, unable to parse string as an integer (got 'true')",
            3,
            "beds",
        ),
    ]


def test_issue13_empty_event_ids_are_refused(
    tmp_path: Path, plan: Plan, con: duckdb.DuckDBPyConnection
) -> None:
    """issue 13, data contract: an event's ``id`` and ``subject_id`` are never empty."""
    s = write(tmp_path, "subjects.jsonl", jsonl(H1))
    e = write(
        tmp_path,
        "events.jsonl",
        jsonl(
            {"id": "", "subject_id": "H1", "kind": "complaint", "date": "2024-03-01"},
            {"id": "E2", "subject_id": "", "kind": "complaint", "date": "2024-03-01"},
        ),
    )
    assert refused(plan, con, s, e) == [
        ("record.event", "String should have at least 1 character (got '')", 1, "id"),
        ("record.event", "String should have at least 1 character (got '')", 2, "subject_id"),
    ]


def test_issue13_records_from_python_take_the_types_as_json_does() -> None:
    """issue 13: from Python as from a JSON line, ``beds=True`` is not one bed."""
    with pytest.raises(RecordError) as info:
        records_from_python([subject(beds=True), subject(id="H2", beds="12")])
    assert [(p.location.line, p.location.path, p.message) for p in info.value.problems] == [
        (1, "beds", "Input should be a valid integer (got True)"),
        (2, "beds", "Input should be a valid integer (got '12')"),
    ]


# -- row: a duplicate key in a JSON line --------------------------------------------------


def test_issue13_a_key_given_twice_in_a_json_line_is_refused(
    tmp_path: Path, plan: Plan, con: duckdb.DuckDBPyConnection
) -> None:
    """issue 13: JSON parsers keep the last value of a repeated key silently; the reader
    refuses the line, naming the key (also an extra attribute's, also inside a value)."""
    body = json.dumps(subject())[1:-1]
    s = write(
        tmp_path,
        "subjects.jsonl",
        '{"id": "A", '
        + body.replace('"id": "H1", ', "")
        + ', "id": "B"}\n'
        + jsonl(subject(id="C"))
        + '{"id": "D", "type": "institution", "licence": "L1", "licence": "L2"}\n'
        + '{"id": "E", "type": "institution", "licence": {"no": 1, "no": 2}}\n',
    )
    assert refused(plan, con, s) == [
        ("record.subject.json", "duplicate key 'id': a key appears once in a record", 1, "id"),
        (
            "record.subject.json",
            "duplicate key 'licence': a key appears once in a record",
            3,
            "licence",
        ),
        (
            "record.subject.json",
            "duplicate key 'no': a key appears once in a record",
            4,
            "licence.no",
        ),
    ]
    e = write(
        tmp_path,
        "events.jsonl",
        '{"id": "E1", "subject_id": "C", "kind": "complaint", "date": "2024-03-01", '
        '"verified": true, "verified": false}\n',
    )
    s = write(tmp_path, "subjects.jsonl", jsonl(subject(id="C")))
    assert refused(plan, con, s, e) == [
        (
            "record.event.json",
            "duplicate key 'verified': a key appears once in a record",
            1,
            "verified",
        )
    ]


def test_issue13_keys_once_with_nulls_colons_and_escapes_are_read(
    tmp_path: Path, plan: Plan, con: duckdb.DuckDBPyConnection
) -> None:
    """Not a repeat: the same key in two lines, null values, ':' and escapes in texts."""
    s = write(
        tmp_path,
        "subjects.jsonl",
        jsonl(
            subject(name="镇江: 第一医院", level=None, note="a:null"),
            subject(id="H2", name='"HQ" \\ 10:30', extra={"a": 1}),
        ),
    )
    records, _ = accepted(plan, con, s)
    assert records.subjects[1].attr("extra") == {"a": 1}


# -- row: value / amount NaN, Infinity, 1e999 ---------------------------------------------


def test_issue13_a_number_that_is_not_finite_is_refused(
    tmp_path: Path, plan: Plan, con: duckdb.DuckDBPyConnection
) -> None:
    """issue 13, data contract: ``value`` and ``amount`` are numbers; NaN, Infinity and
    1e999 (which overflows to infinity) are not, in JSON Lines as in CSV."""
    s = write(tmp_path, "subjects.jsonl", jsonl(H1))
    indicator = '{"id": "E%d", "subject_id": "H1", "kind": "indicator", "date": "2024-03-01", '
    e = write(
        tmp_path,
        "events.jsonl",
        indicator % 1
        + '"indicator": "x", "value": NaN}\n'
        + indicator % 2
        + '"indicator": "x", "value": Infinity}\n'
        + indicator % 3
        + '"indicator": "x", "value": 1e999}\n'
        + '{"id": "E4", "subject_id": "H1", "kind": "violation", "date": "2024-03-01", '
        '"amount": -Infinity}\n',
    )
    assert refused(plan, con, s, e) == [
        ("record.event", "Input should be a finite number (got nan)", 1, "value"),
        ("record.event", "Input should be a finite number (got inf)", 2, "value"),
        ("record.event", "Input should be a finite number (got inf)", 3, "value"),
        ("record.event", "Input should be a finite number (got -inf)", 4, "amount"),
    ]
    e = write(
        tmp_path,
        "events.csv",
        "id,subject_id,kind,date,amount\nE1,H1,violation,2024-03-01,nan\n"
        "E2,H1,violation,2024-03-01,1e999\n",
    )
    assert refused(plan, con, s, e) == [
        ("record.event", "Input should be a finite number (got 'nan')", 2, "amount"),
        ("record.event", "Input should be a finite number (got '1e999')", 3, "amount"),
    ]


# -- row: a CSV field over 131,072 characters ---------------------------------------------


def test_issue13_a_long_csv_cell_is_read_and_an_absurd_one_located(
    tmp_path: Path, plan: Plan, con: duckdb.DuckDBPyConnection
) -> None:
    """issue 13: Python's csv stops at 131,072 characters with a traceback. A cell of
    200,000 characters is read; one beyond 16,777,216 (a quote left open, in practice) is
    an error at the line where its record starts."""
    header = "id,type,category,name,designated_on\n"
    long = write(
        tmp_path, "long.csv", header + f"H1,institution,hospital,{'长' * 200_000},2015-03-01\n"
    )
    records, _ = accepted(plan, con, long)
    assert len(records.subjects[0].name or "") == 200_000
    assert CSV_FIELD_LIMIT == 16_777_216
    absurd = write(
        tmp_path,
        "absurd.csv",
        header
        + "H1,institution,hospital,a,2015-03-01\n"
        + 'H2,institution,hospital,"open\n'
        + ("x" * 1_000_000 + "\n") * 17,
    )
    assert refused(plan, con, absurd) == [
        (
            "record.subject.csv",
            "a cell longer than 16,777,216 characters (a quote left open makes the rest of the "
            "file one cell)",
            3,
            None,
        )
    ]


def test_issue13_a_csv_header_naming_a_column_twice_is_refused(
    tmp_path: Path, plan: Plan, con: duckdb.DuckDBPyConnection
) -> None:
    """The CSV form of a repeated key: the last column would silently win."""
    s = write(tmp_path, "s.csv", "id,type,name,name\nH1,institution,a,b\n")
    assert refused(plan, con, s) == [
        (
            "record.subject.csv",
            "the header names column 'name' twice: each column once",
            1,
            "name",
        )
    ]


# -- row: GBK / GB18030 / UTF-16 files ----------------------------------------------------

ROWS = (
    "id,type,category,name,designated_on\nH1,institution,hospital,镇江市示例第一医院,2015-03-01\n"
)
EVENTS = "id,subject_id,kind,date,verified\nE1,H1,complaint,2024-03-01,true\n"


def test_issue13_a_gbk_file_without_the_encoding_names_file_line_and_option(
    tmp_path: Path, plan: Plan, con: duckdb.DuckDBPyConnection
) -> None:
    """issue 13: a GBK export read as UTF-8 names the file, the line of the first byte that
    is not UTF-8, and the option that reads it."""
    gbk = "id,type,name\nH0,institution,abc\nH1,institution,镇江市示例第一医院\n".encode("gbk")
    s = write(tmp_path, "subjects.csv", gbk)
    assert refused(plan, con, s) == [
        (
            "record.encoding",
            "not UTF-8 text: byte 0xd5 cannot be read as UTF-8; a file exported as GBK or "
            "GB18030 is read with --encoding gb18030 (encoding='gb18030' in Python)",
            3,
            None,
        )
    ]
    u = write(tmp_path, "utf16.jsonl", jsonl(H1).encode("utf-16"))
    assert refused(plan, con, u) == [
        (
            "record.encoding",
            "not UTF-8 text: byte 0xff cannot be read as UTF-8; a file exported as UTF-16 is "
            "read with --encoding utf-16 (encoding='utf-16' in Python)",
            1,
            None,
        )
    ]


@pytest.mark.parametrize("encoding", ["gb18030", "GBK", "utf-16", "utf-8", "utf-8-sig"])
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_issue13_files_in_another_encoding_are_read_with_it(
    tmp_path: Path, plan: Plan, con: duckdb.DuckDBPyConnection, encoding: str, fmt: str
) -> None:
    """issue 13: ``encoding=`` reads GB18030/GBK and UTF-16 files, to the records the UTF-8
    file gives, at the same lines; DuckDB reads a UTF-8 copy in a temporary folder that is
    removed after."""
    if fmt == "csv":
        texts = ROWS, EVENTS
    else:
        texts = (
            jsonl(H1),
            "\n"
            + jsonl({"id": "E1", "subject_id": "H1", "kind": "complaint", "date": "2024-03-01"}),
        )
    s = write(tmp_path, f"s.{fmt}", texts[0].encode(encoding))
    e = write(tmp_path, f"e.{fmt}", texts[1].encode(encoding))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    old = tempfile.tempdir
    tempfile.tempdir = str(scratch)
    try:
        records, tables = accepted(plan, con, s, e, encoding=encoding)
    finally:
        tempfile.tempdir = old
    assert list(scratch.iterdir()) == []
    assert records.subjects[0].name == "镇江市示例第一医院"
    assert con.execute("SELECT name FROM subjects").fetchall() == [("镇江市示例第一医院",)]
    assert tables.files == {"subject": str(s), "event": str(e)}
    assert tables.where("event", "E1") == records.where("event", "E1")


def test_issue13_an_unknown_encoding_is_a_clear_error(
    tmp_path: Path, plan: Plan, con: duckdb.DuckDBPyConnection
) -> None:
    s = write(tmp_path, "s.csv", ROWS)
    message = (
        "unknown encoding 'gbkk': name a text encoding Python knows, such as utf-8, gb18030 "
        "or utf-16"
    )
    assert refused(plan, con, s, encoding="gbkk") == [("record.encoding", message, None, None)]
    assert refused(plan, con, s, encoding="base64")[0][1].startswith("unknown encoding 'base64'")


def test_issue13_the_encoding_reaches_every_reader(tmp_path: Path, plan: Plan) -> None:
    """issue 13: history, procedure and deposit files, and ``evaluate_files``, take the same
    ``encoding`` keyword; without it, their GBK files are the same located error."""
    history = write(
        tmp_path,
        "history.csv",
        "subject_id,status,grade,as_of,policy_id,name\nH1,graded,★★★,2023-12-31,zhenjiang,镇江\n".encode(
            "gb18030"
        ),
    )
    assert read_history(history, "zhenjiang", encoding="gb18030").get("H1", dt.date(2023, 12, 31))
    procedures = write(
        tmp_path,
        "procedures.csv",
        "id,subject_id,step,date,note\nN1,H1,notification,2025-01-06,镇江\n".encode("gb18030"),
    )
    assert (
        read_procedures(procedures, encoding="gb18030").by_subject["H1"]["notification"].note
        == "镇江"
    )
    deposits = write(tmp_path, "deposits.csv", "subject_id,deposit\nH1,100\n".encode("utf-16"))
    assert read_deposits(deposits, encoding="utf-16").amounts == {"H1": 100}
    for path, read in ((history, read_history), (procedures, read_procedures)):
        with pytest.raises(RecordError) as info:
            read(path)
        [p] = info.value.problems
        assert (p.code, p.location.file, p.location.line) == ("record.encoding", str(path), 2)
    s = write(tmp_path, "subjects.csv", ROWS.encode("gb18030"))
    e = write(tmp_path, "events.csv", EVENTS.encode("gb18030"))
    run, ids = evaluate_files(plan, s, e, dt.date(2024, 12, 31), encoding="gb18030")
    assert ids == frozenset({"H1"})
    result = run.get("H1")
    assert result is not None
    assert result.subject.name == "镇江市示例第一医院"


# -- row: chain cycles, a chain_id naming a chain store ------------------------------------


def store(sid: str, chain: str | None) -> dict[str, Any]:
    row = {"id": sid, "type": "institution", "category": "pharmacy", "designated_on": "2019-01-01"}
    if chain is not None:
        row["chain_id"] = chain
    return row


def test_issue13_a_chain_cycle_is_refused_once_at_its_first_line(
    tmp_path: Path, plan: Plan, con: duckdb.DuckDBPyConnection
) -> None:
    """issue 13, data contract ("A chain store names its chain headquarters in chain_id; the
    headquarters is a subject too"): chain_id links that go round are no chain; each cycle is
    reported once, where it first appears in the file."""
    s = write(
        tmp_path,
        "subjects.jsonl",
        jsonl(
            store("A", "B"),
            store("B", "A"),
            store("X", "Y"),
            store("Y", "Z"),
            store("Z", "X"),
            store("S", "A"),
        ),
    )
    assert refused(plan, con, s) == [
        (
            "record.subject.chain-cycle",
            "chain_id links go round in a cycle: A → B → A",
            1,
            "chain_id",
        ),
        (
            "record.subject.chain-cycle",
            "chain_id links go round in a cycle: X → Y → Z → X",
            3,
            "chain_id",
        ),
        (
            "record.subject.chain-head",
            "chain_id 'A' names a chain store (its own chain_id is 'B'), not a headquarters: "
            "chains do not nest",
            6,
            "chain_id",
        ),
    ]


def test_issue13_a_chain_id_naming_a_chain_store_is_refused(
    tmp_path: Path, plan: Plan, con: duckdb.DuckDBPyConnection
) -> None:
    """issue 13: the Zhenjiang roll-up (三(一)4) caps a headquarters by its stores; a store
    of a chain heads none. No pack declares which categories may head a group, so a subject
    without a chain_id of its own — whatever its category — may be named as a head."""
    s = write(
        tmp_path,
        "subjects.jsonl",
        jsonl(
            {**store("L1", None), "category": "pharmacy_chain"},
            store("P1", "L1"),
            store("P2", "P1"),
            store("P3", "H1"),
            H1,
        ),
    )
    assert refused(plan, con, s) == [
        (
            "record.subject.chain-head",
            "chain_id 'P1' names a chain store (its own chain_id is 'L1'), not a headquarters: "
            "chains do not nest",
            3,
            "chain_id",
        )
    ]
    ok = write(tmp_path, "ok.jsonl", jsonl(H1, store("P3", "H1")))
    accepted(plan, con, ok)
    with pytest.raises(RecordError) as info:
        records_from_python([store("A", "B"), store("B", "A")])
    assert [p.code for p in info.value.problems] == ["record.subject.chain-cycle"]
