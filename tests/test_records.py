"""Reading subjects and events: what fits the data contract loads, what does not is located.

design.md, "Data contract": input files are JSON Lines or CSV (by extension); unknown columns
are kept as attributes; missing required fields are errors; dates are ISO ``YYYY-MM-DD``; ids
are unique within a file. Principle 4: "A record that does not fit is an error naming the file
and line; no record is ever dropped silently." Fixtures are written into ``tmp_path``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

import yibao_credit as yc
from yibao_credit.records.contract import MAX_PROBLEMS

ZHENJIANG = Path(__file__).resolve().parents[1] / "policies" / "zhenjiang.yaml"
AS_OF = dt.date(2024, 12, 31)

SUBJECTS_CSV = """\
id,type,category,name,beds,inpatient,chain_id,designated_on,licence_no
H1,institution,hospital,镇江市第一医院,500,true,,2020-01-01,L-001
P1,institution,pharmacy,连锁一店,,false,C1,2021-06-30,
C1,institution,pharmacy_chain,连锁总部,,,,2019-03-01,L-003
"""

EVENTS_CSV = """\
id,subject_id,kind,date,verified,reason,amount,case_no
E1,H1,complaint,2024-03-01,true,,,
E2,H1,complaint,2024-04-01,false,,,
E3,P1,agreement_terminated,2024-05-01,,voluntary,,A-17
E4,H1,violation,2024-06-01,,,1200.5,
"""


def _subject_rows() -> list[dict[str, Any]]:
    return [
        {
            "id": "H1",
            "type": "institution",
            "category": "hospital",
            "name": "镇江市第一医院",
            "beds": 500,
            "inpatient": True,
            "designated_on": "2020-01-01",
            "licence_no": "L-001",
        },
        {
            "id": "P1",
            "type": "institution",
            "category": "pharmacy",
            "name": "连锁一店",
            "inpatient": False,
            "chain_id": "C1",
            "designated_on": "2021-06-30",
        },
        {
            "id": "C1",
            "type": "institution",
            "category": "pharmacy_chain",
            "name": "连锁总部",
            "designated_on": "2019-03-01",
            "licence_no": "L-003",
        },
    ]


def _event_rows() -> list[dict[str, Any]]:
    return [
        {
            "id": "E1",
            "subject_id": "H1",
            "kind": "complaint",
            "date": "2024-03-01",
            "verified": True,
        },
        {
            "id": "E2",
            "subject_id": "H1",
            "kind": "complaint",
            "date": "2024-04-01",
            "verified": False,
        },
        {
            "id": "E3",
            "subject_id": "P1",
            "kind": "agreement_terminated",
            "date": "2024-05-01",
            "reason": "voluntary",
            "case_no": "A-17",
        },
        {
            "id": "E4",
            "subject_id": "H1",
            "kind": "violation",
            "date": "2024-06-01",
            "amount": 1200.5,
        },
    ]


def jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def record_problems(
    tmp_path: Path, subjects: tuple[str, str], events: tuple[str, str] | None = None
) -> list[yc.Problem]:
    s = write(tmp_path, *subjects)
    e = write(tmp_path, *events) if events else None
    with pytest.raises(yc.RecordError) as info:
        yc.load_records(s, e)
    return info.value.problems


def the_problem(problems: list[yc.Problem]) -> yc.Problem:
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


GOOD_SUBJECTS_JSONL = ("subjects.jsonl", jsonl(_subject_rows()))
GOOD_EVENTS_JSONL = ("events.jsonl", jsonl(_event_rows()))


# -- good files ------------------------------------------------------------------------------


def test_csv_files_load_with_types_absences_and_extra_columns(tmp_path: Path) -> None:
    records = yc.load_records(
        write(tmp_path, "subjects.csv", SUBJECTS_CSV), write(tmp_path, "events.csv", EVENTS_CSV)
    )
    h1, p1, c1 = records.subjects
    assert (h1.id, h1.beds, h1.inpatient, h1.designated_on) == (
        "H1",
        500,
        True,
        dt.date(2020, 1, 1),
    )
    # Empty cells mean absent, not the empty string.
    assert h1.chain_id is None
    assert p1.beds is None
    assert c1.inpatient is None
    assert p1.inpatient is False
    assert p1.chain_id == "C1"
    # Columns the contract does not name are kept as attributes.
    assert h1.attr("licence_no") == "L-001"
    assert p1.attr("licence_no") is None
    assert h1.attr("no_such_column") is None
    e1, e2, e3, e4 = records.events
    assert (e1.verified, e2.verified, e3.verified) == (True, False, None)
    assert e1.date == dt.date(2024, 3, 1)
    assert e3.reason == "voluntary"
    assert e3.attr("case_no") == "A-17"
    assert e1.attr("case_no") is None
    assert e4.amount == 1200.5
    # Each record remembers its line (the header is line 1).
    assert records.where("subject", "C1").line == 4
    assert records.where("event", "E4").line == 5


def test_jsonl_files_load_the_same_records_as_csv(tmp_path: Path) -> None:
    from_csv = yc.load_records(
        write(tmp_path, "subjects.csv", SUBJECTS_CSV), write(tmp_path, "events.csv", EVENTS_CSV)
    )
    from_jsonl = yc.load_records(
        write(tmp_path, *GOOD_SUBJECTS_JSONL), write(tmp_path, *GOOD_EVENTS_JSONL)
    )
    assert [s.model_dump() for s in from_jsonl.subjects] == [
        s.model_dump() for s in from_csv.subjects
    ]
    assert [e.model_dump() for e in from_jsonl.events] == [e.model_dump() for e in from_csv.events]
    assert from_jsonl.where("subject", "C1").line == 3


def test_blank_jsonl_lines_are_skipped_but_counted(tmp_path: Path) -> None:
    rows = _subject_rows()
    text = jsonl(rows[:1]) + "\n" + jsonl(rows[1:])
    records = yc.load_records(write(tmp_path, "subjects.jsonl", text))
    assert [s.id for s in records.subjects] == ["H1", "P1", "C1"]
    assert records.where("subject", "P1").line == 3


# -- required fields, dates, ids, JSON -------------------------------------------------------

_REQUIRED = [
    ("subjects", "id"),
    ("subjects", "type"),
    ("events", "id"),
    ("events", "subject_id"),
    ("events", "kind"),
    ("events", "date"),
]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize(("which", "field"), _REQUIRED)
def test_missing_required_field(tmp_path: Path, fmt: str, which: str, field: str) -> None:
    subjects = _subject_rows()
    events = _event_rows()
    rows = subjects if which == "subjects" else events
    del rows[1][field]
    if fmt == "jsonl":
        s = write(tmp_path, "subjects.jsonl", jsonl(subjects))
        e = write(tmp_path, "events.jsonl", jsonl(events))
        line = 2
    else:
        s = write(tmp_path, "subjects.csv", SUBJECTS_CSV)
        e = write(tmp_path, "events.csv", EVENTS_CSV)
        target = s if which == "subjects" else e
        lines = target.read_text(encoding="utf-8").splitlines()
        header = lines[0].split(",")
        cells = lines[2].split(",")
        cells[header.index(field)] = ""
        lines[2] = ",".join(cells)
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
        line = 3
    with pytest.raises(yc.RecordError) as info:
        yc.load_records(s, e)
    p = the_problem(info.value.problems)
    assert p.location.file == str(s if which == "subjects" else e)
    assert p.location.line == line
    assert p.location.path == field
    assert "required field is missing" in p.message
    assert p.code == f"record.{which[:-1]}"


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_impossible_date_names_line_and_field(tmp_path: Path, fmt: str) -> None:
    """2024 is a leap year, but February never has 30 days."""
    events = _event_rows()
    events[2]["date"] = "2024-02-30"
    if fmt == "jsonl":
        ev = ("events.jsonl", jsonl(events))
    else:
        ev = (
            "events.csv",
            EVENTS_CSV.replace(
                "E3,P1,agreement_terminated,2024-05-01", "E3,P1,agreement_terminated,2024-02-30"
            ),
        )
    p = the_problem(record_problems(tmp_path, GOOD_SUBJECTS_JSONL, ev))
    assert p.location.file == str(tmp_path / ev[0])
    assert p.location.line == (3 if fmt == "jsonl" else 4)
    assert p.location.path == "date"
    assert "2024-02-30" in p.message


def test_leap_day_is_a_valid_date(tmp_path: Path) -> None:
    events = _event_rows()
    events[0]["date"] = "2024-02-29"
    records = yc.load_records(
        write(tmp_path, *GOOD_SUBJECTS_JSONL), write(tmp_path, "events.jsonl", jsonl(events))
    )
    assert records.events[0].date == dt.date(2024, 2, 29)


@pytest.mark.parametrize("value", ["0", "1704067200", "2024-01-01T00:00:00"])
def test_date_that_is_not_iso_yyyy_mm_dd_is_rejected(tmp_path: Path, value: str) -> None:
    ev = ("events.csv", EVENTS_CSV.replace("2024-05-01", value))
    p = the_problem(record_problems(tmp_path, GOOD_SUBJECTS_JSONL, ev))
    assert (p.location.line, p.location.path) == (4, "date")


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_duplicate_id_names_both_lines(tmp_path: Path, fmt: str) -> None:
    rows = _subject_rows()
    rows[2]["id"] = "H1"
    if fmt == "jsonl":
        subjects = ("subjects.jsonl", jsonl(rows))
        second, first = 3, 1
    else:
        subjects = ("subjects.csv", SUBJECTS_CSV.replace("\nC1,", "\nH1,"))
        second, first = 4, 2
    p = the_problem(record_problems(tmp_path, subjects))
    assert p.code == "record.subject.duplicate-id"
    assert p.location.file == str(tmp_path / subjects[0])
    assert p.location.line == second
    assert p.location.path == "id"
    assert "'H1'" in p.message
    assert f"first on line {first}" in p.message


def test_invalid_json_line(tmp_path: Path) -> None:
    rows = _subject_rows()
    text = jsonl(rows[:1]) + '{"id": "P1", "type": \n' + jsonl(rows[2:])
    p = the_problem(record_problems(tmp_path, ("subjects.jsonl", text)))
    assert p.code == "record.subject.json"
    assert p.location.line == 2
    assert "JSON" in p.message


def test_json_line_that_is_not_an_object(tmp_path: Path) -> None:
    text = jsonl(_subject_rows()) + '["H9", "institution"]\n'
    p = the_problem(record_problems(tmp_path, ("subjects.jsonl", text)))
    assert p.code == "record.subject.json"
    assert p.location.line == 4
    assert "JSON object" in p.message


def test_csv_row_with_more_cells_than_columns(tmp_path: Path) -> None:
    text = "id,type\nH1,institution\nH2,institution,extra\n"
    p = the_problem(record_problems(tmp_path, ("subjects.csv", text)))
    assert p.location.line == 3
    assert "more cells than header columns" in p.message


@pytest.mark.parametrize("name", ["subjects.txt", "subjects.json", "subjects"])
def test_unknown_file_extension(tmp_path: Path, name: str) -> None:
    p = the_problem(record_problems(tmp_path, (name, jsonl(_subject_rows()))))
    assert p.code == "record.format"
    assert p.location.file == str(tmp_path / name)
    assert ".jsonl" in p.message
    assert ".csv" in p.message


def test_boolean_that_is_not_true_or_false(tmp_path: Path) -> None:
    ev = ("events.csv", EVENTS_CSV.replace("2024-03-01,true", "2024-03-01,maybe"))
    p = the_problem(record_problems(tmp_path, GOOD_SUBJECTS_JSONL, ev))
    assert (p.location.line, p.location.path) == (2, "verified")
    assert "'maybe'" in p.message


# -- references between records -------------------------------------------------------------


def test_event_for_an_unknown_subject(tmp_path: Path) -> None:
    events = _event_rows()
    events[3]["subject_id"] = "H9"
    ev = ("events.jsonl", jsonl(events))
    p = the_problem(record_problems(tmp_path, GOOD_SUBJECTS_JSONL, ev))
    assert p.code == "record.event.unknown-subject"
    assert p.location.file == str(tmp_path / "events.jsonl")
    assert (p.location.line, p.location.path) == (4, "subject_id")
    assert "'H9'" in p.message


def test_chain_id_naming_no_subject(tmp_path: Path) -> None:
    """A chain store names its headquarters in chain_id; the headquarters must be a subject."""
    rows = _subject_rows()
    rows[1]["chain_id"] = "C9"
    p = the_problem(record_problems(tmp_path, ("subjects.jsonl", jsonl(rows))))
    assert p.code == "record.subject.unknown-chain"
    assert (p.location.line, p.location.path) == (2, "chain_id")
    assert "'C9'" in p.message


# -- checks against a pack -------------------------------------------------------------------


@pytest.fixture(scope="module")
def zhenjiang() -> yc.Policy:
    return yc.load_policy(ZHENJIANG)


def evaluate_problems(
    policy: yc.Policy, tmp_path: Path, subjects: list[dict[str, Any]], events: list[dict[str, Any]]
) -> list[yc.Problem]:
    records = yc.load_records(
        write(tmp_path, "subjects.jsonl", jsonl(subjects)),
        write(tmp_path, "events.jsonl", jsonl(events)),
    )
    with pytest.raises(yc.RecordError) as info:
        policy.evaluate(records, as_of=AS_OF)
    return info.value.problems


def test_good_records_evaluate_under_zhenjiang(tmp_path: Path, zhenjiang: yc.Policy) -> None:
    """Sanity for the checks below: the good fixture is accepted and graded."""
    records = yc.load_records(
        write(tmp_path, *GOOD_SUBJECTS_JSONL), write(tmp_path, *GOOD_EVENTS_JSONL)
    )
    run = zhenjiang.evaluate(records, as_of=AS_OF)
    assert run.get("P1").exclusion == "voluntary_termination"
    # One violation within the year: 镇医保〔2024〕82号 三(一)2(1) → ★★.
    assert run.get("H1").grade == "★★"


def test_unknown_event_kind_under_a_pack(tmp_path: Path, zhenjiang: yc.Policy) -> None:
    events = _event_rows()
    events[1]["kind"] = "complaints"
    p = the_problem(evaluate_problems(zhenjiang, tmp_path, _subject_rows(), events))
    assert p.code == "record.event.unknown-kind"
    assert p.location.file == str(tmp_path / "events.jsonl")
    assert (p.location.line, p.location.path) == (2, "kind")
    assert "'complaints'" in p.message
    assert "statutory_exclusion" in p.message  # the pack's own kind is listed too


def test_required_attribute_missing_for_its_kind(tmp_path: Path, zhenjiang: yc.Policy) -> None:
    """agreement_terminated needs a reason: 三(一)5(2) and 5(3) tell the reasons apart."""
    events = _event_rows()
    del events[2]["reason"]
    p = the_problem(evaluate_problems(zhenjiang, tmp_path, _subject_rows(), events))
    assert p.code == "record.event.missing-attribute"
    assert (p.location.line, p.location.path) == (3, "reason")
    assert "'reason'" in p.message


def test_attribute_value_outside_its_choices(tmp_path: Path, zhenjiang: yc.Policy) -> None:
    events = _event_rows()
    events[2]["reason"] = "volontary"
    p = the_problem(evaluate_problems(zhenjiang, tmp_path, _subject_rows(), events))
    assert p.code == "record.event.attribute-choice"
    assert (p.location.line, p.location.path) == (3, "reason")
    assert "'volontary'" in p.message
    assert "voluntary" in p.message


def test_pack_declared_required_attribute(tmp_path: Path, zhenjiang: yc.Policy) -> None:
    """The Zhenjiang pack's statutory_exclusion kind requires its legal basis (三(一)5(5))."""
    events = [
        *_event_rows(),
        {"id": "E5", "subject_id": "C1", "kind": "statutory_exclusion", "date": "2024-07-01"},
    ]
    p = the_problem(evaluate_problems(zhenjiang, tmp_path, _subject_rows(), events))
    assert p.code == "record.event.missing-attribute"
    assert (p.location.line, p.location.path) == (5, "basis")


def test_pack_required_subject_field_missing(tmp_path: Path, zhenjiang: yc.Policy) -> None:
    """The Zhenjiang ruleset needs designated_on: 三(一)5(1) counts the agreement's first year."""
    subjects = _subject_rows()
    del subjects[2]["designated_on"]
    p = the_problem(evaluate_problems(zhenjiang, tmp_path, subjects, _event_rows()))
    assert p.code == "record.subject.required"
    assert p.location.file == str(tmp_path / "subjects.jsonl")
    assert (p.location.line, p.location.path) == (3, "designated_on")
    assert "'designated_on'" in p.message


# -- many problems ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_problems_are_capped_at_fifty(tmp_path: Path, fmt: str) -> None:
    """A broken file reports enough to act on, and stops: every problem is still located."""
    assert MAX_PROBLEMS == 50
    if fmt == "jsonl":
        text = "".join(json.dumps({"id": f"H{i}"}) + "\n" for i in range(120))
        first_line = 1
    else:
        text = "id,type\n" + "".join(f"H{i},\n" for i in range(120))
        first_line = 2
    problems = record_problems(tmp_path, (f"subjects.{fmt}", text))
    assert len(problems) == MAX_PROBLEMS
    assert [p.location.line for p in problems] == list(range(first_line, first_line + 50))
    assert all(p.location.path == "type" for p in problems)


def test_problems_across_both_files_are_capped_at_fifty(tmp_path: Path) -> None:
    subjects = "".join(json.dumps({"id": f"H{i}"}) + "\n" for i in range(40))
    events = "".join(json.dumps({"id": f"E{i}", "subject_id": "H0"}) + "\n" for i in range(40))
    problems = record_problems(tmp_path, ("s.jsonl", subjects), ("e.jsonl", events))
    assert len(problems) == MAX_PROBLEMS
    assert problems[0].location.file == str(tmp_path / "s.jsonl")
    assert problems[-1].location.file == str(tmp_path / "e.jsonl")


def test_unknown_kinds_under_a_pack_are_capped(tmp_path: Path, zhenjiang: yc.Policy) -> None:
    events = [
        {"id": f"E{i}", "subject_id": "H1", "kind": "nonsense", "date": "2024-01-01"}
        for i in range(80)
    ]
    problems = evaluate_problems(zhenjiang, tmp_path, _subject_rows(), events)
    assert len(problems) == MAX_PROBLEMS
    assert {p.code for p in problems} == {"record.event.unknown-kind"}


# -- records from Python ---------------------------------------------------------------------


def python_problems(
    subjects: list[dict[str, Any]], events: list[dict[str, Any]]
) -> list[yc.Problem]:
    with pytest.raises(yc.RecordError) as info:
        yc.records_from_python(subjects, events)
    return info.value.problems


def test_records_from_python_accepts_dicts_and_models() -> None:
    rows = _subject_rows()
    records = yc.records_from_python([yc.Subject(**rows[0]), *rows[1:]], _event_rows())
    assert [s.id for s in records.subjects] == ["H1", "P1", "C1"]
    assert records.subjects[0].attr("licence_no") == "L-001"
    assert records.where("event", "E3").line == 3


@pytest.mark.parametrize(("which", "field"), _REQUIRED)
def test_records_from_python_missing_field_uses_the_position(which: str, field: str) -> None:
    subjects, events = _subject_rows(), _event_rows()
    del (subjects if which == "subjects" else events)[1][field]
    p = the_problem(python_problems(subjects, events))
    assert p.location.file == f"<python>[{which}]"
    assert (p.location.line, p.location.path) == (2, field)
    assert "required field is missing" in p.message


def test_records_from_python_bad_date_duplicate_and_unknown_subject() -> None:
    events = _event_rows()
    events[0]["date"] = "2024-02-30"
    events[3]["id"] = "E2"
    problems = python_problems(_subject_rows(), events)
    assert [(p.location.line, p.location.path) for p in problems] == [(1, "date"), (4, "id")]
    assert "first at 2" in problems[1].message
    events = _event_rows()
    events[1]["subject_id"] = "H9"
    p = the_problem(python_problems(_subject_rows(), events))
    assert (p.code, p.location.line, p.location.path) == (
        "record.event.unknown-subject",
        2,
        "subject_id",
    )
    subjects = _subject_rows()
    subjects[1]["chain_id"] = "C9"
    p = the_problem(python_problems(subjects, []))
    assert (p.code, p.location.line) == ("record.subject.unknown-chain", 2)


def test_records_from_python_under_a_pack(zhenjiang: yc.Policy) -> None:
    """pack.evaluate on dicts runs the same kind and requirement checks as on files."""
    events = _event_rows()
    events[3]["kind"] = "violaton"
    with pytest.raises(yc.RecordError) as info:
        zhenjiang.evaluate(_subject_rows(), events, as_of=AS_OF)
    p = the_problem(info.value.problems)
    assert (p.code, p.location.file, p.location.line, p.location.path) == (
        "record.event.unknown-kind",
        "<python>[events]",
        4,
        "kind",
    )
    subjects = _subject_rows()
    del subjects[0]["designated_on"]
    with pytest.raises(yc.RecordError) as info:
        zhenjiang.evaluate(subjects, _event_rows(), as_of=AS_OF)
    p = the_problem(info.value.problems)
    assert (p.code, p.location.file, p.location.line, p.location.path) == (
        "record.subject.required",
        "<python>[subjects]",
        1,
        "designated_on",
    )


def test_records_from_python_caps_problems() -> None:
    problems = python_problems([{"id": f"H{i}"} for i in range(120)], [])
    assert len(problems) == MAX_PROBLEMS
