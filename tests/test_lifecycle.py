"""A result's life after evaluation: notification, objection, decision (镇医保〔2024〕82号 三(三)).

三(三)2: an institution may object "自收到评测结果告知之日起10个工作日内"; 三(三)3: the bureau
investigates and decides within 15 working days. Both periods start on the day after the
trigger (《民法典》第201条) and count working days on the official calendar published by
国务院办公厅 each year (weekdays that are not days off, plus the make-up working days 调休上班).
A period counted in calendar days whose last day is a day off ends on the next working day
(《民法典》第203条). A year whose arrangement is not published is refused, never guessed; a pack
may supply a year in its ``calendar:`` section.

Every deadline below is worked out by hand from the notices, day by day, in the comments:
- 2023: 国办发明电〔2022〕16号 — 春节 1月21日至27日, 1月28日(六)、29日(日)上班; 中秋国庆
  9月29日至10月6日, 10月7日(六)、8日(日)上班.
- 2024: 国办发明电〔2023〕7号 — 春节 2月10日至17日, 2月4日(日)、18日(日)上班 (2月9日 除夕 is a
  working day); 中秋 9月15日至17日, 9月14日(六)上班; 国庆 10月1日至7日,
  9月29日(日)、10月12日(六)上班.
- 2025: 国办发明电〔2024〕12号 — 春节 1月28日至2月4日, 1月26日(日)、2月8日(六)上班; 国庆中秋
  10月1日至8日, 9月28日(日)、10月11日(六)上班.
- 2026: 国务院办公厅关于2026年部分节假日安排的通知 (2025-11-04) — 春节 2月15日至23日,
  2月14日(六)、2月28日(六)上班; 中秋 9月25日至27日; 国庆 10月1日至7日, 9月20日(日)、
  10月10日(六)上班.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from zj_helpers import (
    MEASURES,
    ONE,
    PACK_PATH,
    THREE,
    TWO,
    contract,
    decisive,
    ev,
    inst,
    load,
    measure_ids,
    result,
    step,
    trace,
)

import yibao_credit as yc
from yibao_credit.cli.main import main
from yibao_credit.records.procedures import read_procedures
from yibao_credit.render.results import JsonlWriter, dumps, result_to_dict

PACK = load()
D = dt.date
AS_OF = D(2024, 12, 31)
EXAMPLES = PACK_PATH.parents[1] / "examples" / "zhenjiang"


def notified(sid: str, on: D | str, pid: str = "n1") -> dict[str, Any]:
    return {"id": pid, "subject_id": sid, "step": "notification", "date": str(on)}


def objected(sid: str, on: D | str, pid: str = "o1") -> dict[str, Any]:
    return {"id": pid, "subject_id": sid, "step": "objection", "date": str(on)}


def decided(
    sid: str, on: D | str, outcome: str, grade: str | None = None, pid: str = "d1"
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": pid,
        "subject_id": sid,
        "step": "decision",
        "date": str(on),
        "outcome": outcome,
    }
    if grade is not None:
        out["grade"] = grade
    return out


def life_of(
    procedures: list[dict[str, Any]],
    events: list[dict[str, Any]] | None = None,
    *,
    as_of: D = AS_OF,
    on: D | None = None,
    history: list[dict[str, Any]] | None = None,
    pack: yc.Policy = PACK,
) -> yc.Result:
    run = pack.evaluate(
        [inst("A")], events or [], as_of=as_of, procedures=procedures, on=on, history=history
    )
    return result(run, "A")


def lifecycle(r: yc.Result) -> dict[str, Any]:
    found: dict[str, Any] = contract(r)["lifecycle"]
    return found


def steps_named(r: yc.Result, prefix: str) -> list[dict[str, Any]]:
    return [s for s in trace(r) if s["step"].startswith(prefix)]


def write_lines(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    columns = ["id", "subject_id", "step", "date", "outcome", "grade"]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, columns, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({c: r.get(c, "") for c in columns})
    return path


# -- deadlines around Spring Festival and National Day, 2023–2026 ------------------------------

OBJECTION_WINDOWS = [
    # 2023 春节 (国办发明电〔2022〕16号): notified Thu 01-19; 01-20 Fri =1; 01-21..27 off;
    # 01-28 Sat =2 and 01-29 Sun =3 (调休上班); 01-30..02-03 =4..8; 02-06 =9; 02-07 Tue =10.
    pytest.param(D(2023, 1, 19), D(2023, 2, 7), [D(2023, 1, 28), D(2023, 1, 29)], id="2023-spring"),
    # 2023 中秋国庆: notified Wed 09-27; 09-28 =1; 09-29..10-06 off; 10-07 Sat =2, 10-08 Sun =3;
    # 10-09..13 =4..8; 10-16 =9; 10-17 Tue =10.
    pytest.param(D(2023, 9, 27), D(2023, 10, 17), [D(2023, 10, 7), D(2023, 10, 8)], id="2023-oct"),
    # 2024 春节 (国办发明电〔2023〕7号): notified Thu 02-01; 02-02 =1; 02-04 Sun =2; 02-05..09 =3..7
    # (02-09 除夕 is a working day); 02-10..17 off; 02-18 Sun =8; 02-19 =9; 02-20 Tue =10.
    pytest.param(D(2024, 2, 1), D(2024, 2, 20), [D(2024, 2, 4), D(2024, 2, 18)], id="2024-spring"),
    # 2024 国庆: notified Wed 09-25; 09-26 =1, 09-27 =2; 09-29 Sun =3; 09-30 =4; 10-01..07 off;
    # 10-08..11 =5..8; 10-12 Sat =9; 10-14 Mon =10.
    pytest.param(D(2024, 9, 25), D(2024, 10, 14), [D(2024, 9, 29), D(2024, 10, 12)], id="2024-oct"),
    # 2025 春节 (国办发明电〔2024〕12号): notified Wed 01-22; 01-23 =1, 01-24 =2; 01-26 Sun =3;
    # 01-27 =4; 01-28..02-04 off; 02-05..07 =5..7; 02-08 Sat =8; 02-10 =9; 02-11 Tue =10.
    pytest.param(D(2025, 1, 22), D(2025, 2, 11), [D(2025, 1, 26), D(2025, 2, 8)], id="2025-spring"),
    # 2025 国庆中秋: notified Fri 09-26; 09-28 Sun =1; 09-29 =2, 09-30 =3; 10-01..08 off;
    # 10-09 =4, 10-10 =5; 10-11 Sat =6; 10-13..16 =7..10.
    pytest.param(D(2025, 9, 26), D(2025, 10, 16), [D(2025, 9, 28), D(2025, 10, 11)], id="2025-oct"),
    # 2026 春节 (notice of 2025-11-04): notified Tue 02-10; 02-11..13 =1..3; 02-14 Sat =4;
    # 02-15..23 off; 02-24..27 =5..8; 02-28 Sat =9; 03-02 Mon =10.
    pytest.param(D(2026, 2, 10), D(2026, 3, 2), [D(2026, 2, 14), D(2026, 2, 28)], id="2026-spring"),
    # 2026 中秋 + 国庆: notified Thu 09-24; 09-25..27 off (中秋); 09-28..30 =1..3; 10-01..07 off;
    # 10-08 =4, 10-09 =5; 10-10 Sat =6; 10-12..15 =7..10.
    pytest.param(D(2026, 9, 24), D(2026, 10, 15), [D(2026, 10, 10)], id="2026-oct"),
]

REVIEW_WINDOWS = [
    # 2023 春节: objection Thu 01-19; 01-20 =1; 01-28 =2, 01-29 =3 (Sat/Sun worked);
    # 01-30..02-03 =4..8; 02-06..10 =9..13; 02-13 =14; 02-14 Tue =15.
    pytest.param(
        D(2023, 1, 19), D(2023, 2, 14), [D(2023, 1, 28), D(2023, 1, 29)], id="2023-spring"
    ),
    # 2023 国庆: objection Wed 09-20; 09-21, 22 =1, 2; 09-25..28 =3..6; 10-07 =7, 10-08 =8;
    # 10-09..13 =9..13; 10-16 =14; 10-17 =15.
    pytest.param(D(2023, 9, 20), D(2023, 10, 17), [D(2023, 10, 7), D(2023, 10, 8)], id="2023-oct"),
    # 2024 春节: objection Mon 02-05; 02-06..09 =1..4; 02-10..17 off; 02-18 Sun =5;
    # 02-19..23 =6..10; 02-26..29 =11..14; 03-01 Fri =15.
    pytest.param(D(2024, 2, 5), D(2024, 3, 1), [D(2024, 2, 18)], id="2024-spring"),
    # 2024 国庆: objection Fri 09-27; 09-29 Sun =1; 09-30 =2; 10-08..11 =3..6; 10-12 Sat =7;
    # 10-14..18 =8..12; 10-21..23 =13..15.
    pytest.param(D(2024, 9, 27), D(2024, 10, 23), [D(2024, 9, 29), D(2024, 10, 12)], id="2024-oct"),
    # 2025 春节: objection Fri 01-24; 01-26 Sun =1; 01-27 =2; 02-05..07 =3..5; 02-08 Sat =6;
    # 02-10..14 =7..11; 02-17..20 =12..15.
    pytest.param(D(2025, 1, 24), D(2025, 2, 20), [D(2025, 1, 26), D(2025, 2, 8)], id="2025-spring"),
    # 2025 国庆: objection Mon 09-29; 09-30 =1; 10-09, 10 =2, 3; 10-11 Sat =4; 10-13..17 =5..9;
    # 10-20..24 =10..14; 10-27 Mon =15.
    pytest.param(D(2025, 9, 29), D(2025, 10, 27), [D(2025, 10, 11)], id="2025-oct"),
    # 2026 春节: objection Thu 02-12; 02-13 =1; 02-14 Sat =2; 02-24..27 =3..6; 02-28 Sat =7;
    # 03-02..06 =8..12; 03-09..11 =13..15.
    pytest.param(
        D(2026, 2, 12), D(2026, 3, 11), [D(2026, 2, 14), D(2026, 2, 28)], id="2026-spring"
    ),
    # 2026 国庆: objection Fri 09-18; 09-20 Sun =1; 09-21..24 =2..5; 09-25..27 off (中秋);
    # 09-28..30 =6..8; 10-08, 09 =9, 10; 10-10 Sat =11; 10-12..15 =12..15.
    pytest.param(D(2026, 9, 18), D(2026, 10, 15), [D(2026, 9, 20), D(2026, 10, 10)], id="2026-oct"),
]


def check_make_up_days(trigger: D, due: D, make_up: list[D], n: int) -> None:
    """The hand-listed 调休 Saturdays/Sundays lie inside the period and were counted."""
    counted = dict(PACK.calendar.explain_add(trigger, n))
    for day in make_up:
        assert day.weekday() >= 5 and trigger < day <= due, day
        assert counted[day].startswith("make-up working day"), (day, counted[day])


@pytest.mark.parametrize(("notified_on", "due", "make_up"), OBJECTION_WINDOWS)
def test_objection_window_is_10_working_days(notified_on: D, due: D, make_up: list[D]) -> None:
    """三(三)2 自收到评测结果告知之日起10个工作日内, counted from the day after notification
    (《民法典》第201条) on the 国务院办公厅 calendar, make-up working days included."""
    r = life_of([notified("A", notified_on)], as_of=notified_on - dt.timedelta(days=1))
    life = lifecycle(r)
    assert life["deadlines"] == {"objection": due.isoformat()}
    assert life["stage"] == "notified"
    deadline = step(r, "procedure.objection")
    assert deadline["outcome"] == due.isoformat()
    assert deadline["clause"] == "镇医保〔2024〕82号 三(三)2"
    assert deadline["inputs"]["from"] == notified_on.isoformat()
    assert (deadline["inputs"]["days"], deadline["inputs"]["unit"]) == (10, "working_days")
    assert deadline["inputs"]["calendar"].startswith("holidays ")
    check_make_up_days(notified_on, due, make_up, 10)


@pytest.mark.parametrize(("objected_on", "due", "make_up"), REVIEW_WINDOWS)
def test_review_window_is_15_working_days(objected_on: D, due: D, make_up: list[D]) -> None:
    """三(三)3: the decision on an objection within 15 working days of receiving it (here the
    objection comes the same day as the notification, which is in time)."""
    r = life_of(
        [notified("A", objected_on), objected("A", objected_on)],
        as_of=objected_on - dt.timedelta(days=1),
    )
    life = lifecycle(r)
    assert life["stage"] == "under_review"
    assert life["objection_in_time"] is True
    assert life["deadlines"]["review"] == due.isoformat()
    review = step(r, "procedure.review")
    assert review["outcome"] == due.isoformat()
    assert review["clause"] == "镇医保〔2024〕82号 三(三)3"
    assert (review["inputs"]["trigger"], review["inputs"]["days"]) == ("objection", 15)
    check_make_up_days(objected_on, due, make_up, 15)


# -- 三(三)2: in time or late --------------------------------------------------------------------

NOTIFIED = D(2025, 1, 22)
WINDOW_CLOSES = D(2025, 2, 11)
"""10 working days after 2025-01-22 across 春节 2025 (see OBJECTION_WINDOWS)."""


def test_an_objection_on_the_last_day_is_in_time() -> None:
    """三(三)2 10个工作日内 includes the tenth working day (以内 includes the bound)."""
    r = life_of([notified("A", NOTIFIED), objected("A", WINDOW_CLOSES)])
    life = lifecycle(r)
    assert life["objection_in_time"] is True
    assert life["stage"] == "under_review"
    # 三(三)3 review: 15 working days after 02-11 (02-12..14, 17..21, 24..28, 03-03, 03-04)
    assert life["deadlines"] == {"objection": "2025-02-11", "review": "2025-03-04"}
    in_time = step(r, "lifecycle.objection")
    assert in_time["outcome"] is True
    assert in_time["inputs"] == {"received": "2025-02-11", "due": "2025-02-11"}
    assert in_time["evidence"] == ["o1"]
    assert r.grade == THREE


def test_an_objection_the_day_after_is_late_and_not_reviewed() -> None:
    """三(三)2: one day after the window the objection is out of time: the result is final,
    no review deadline runs and the grade stands."""
    r = life_of([notified("A", NOTIFIED), objected("A", WINDOW_CLOSES + dt.timedelta(days=1))])
    life = lifecycle(r)
    assert life["objection_in_time"] is False
    assert life["stage"] == "final"
    assert life["deadlines"] == {"objection": "2025-02-11"}
    assert steps_named(r, "procedure.review") == []
    assert step(r, "lifecycle.objection")["outcome"] is False
    assert r.grade == THREE
    assert [s["step"] for s in decisive(r)] == [f"grade.{THREE}"]


def test_no_objection_leaves_the_window_open_until_it_closes() -> None:
    """Without an objection the result is ``notified`` while the window is open (through its
    last day) and ``final`` on any later day (``on``)."""
    procedures = [notified("A", NOTIFIED)]
    assert lifecycle(life_of(procedures))["stage"] == "notified"
    assert lifecycle(life_of(procedures, on=NOTIFIED))["stage"] == "notified"
    assert lifecycle(life_of(procedures, on=WINDOW_CLOSES))["stage"] == "notified"
    after = life_of(procedures, on=WINDOW_CLOSES + dt.timedelta(days=1))
    assert lifecycle(after)["stage"] == "final"
    assert lifecycle(after)["objection_in_time"] is None
    assert after.grade == THREE


def test_an_objection_in_time_without_a_decision_is_under_review() -> None:
    r = life_of([notified("A", NOTIFIED), objected("A", D(2025, 1, 24))], on=D(2025, 2, 1))
    life = lifecycle(r)
    assert life["stage"] == "under_review"
    assert life["decision"] is None and life["decision_in_time"] is None
    assert life["deadlines"]["review"] == "2025-02-20"
    assert steps_named(r, "lifecycle.decision") == []


def test_subjects_without_procedure_records_are_pre_evaluation() -> None:
    """Given procedure records, every result has a stage: one not yet notified is
    pre_evaluation (Shenzhen 二(二) pre-evaluation before feedback), with no deadline."""
    run = PACK.evaluate(
        [inst("A"), inst("B")], [], as_of=AS_OF, procedures=[notified("A", NOTIFIED)]
    )
    assert result(run, "A").lifecycle is not None
    life = yc.result_to_dict(result(run, "B"))["lifecycle"]
    assert life["stage"] == "pre_evaluation"
    assert life["deadlines"] == {}


# -- 三(三)3: decisions --------------------------------------------------------------------------

ONE_VIOLATION = [ev("v1", "A", "violation", "2024-06-15")]
"""三(一)2(1): one violation within the year → ★★."""
OBJECTION = [notified("A", NOTIFIED), objected("A", D(2025, 1, 24))]


def test_an_upheld_decision_keeps_the_grade() -> None:
    r = life_of([*OBJECTION, decided("A", "2025-02-10", "upheld")], ONE_VIOLATION)
    assert (r.status, r.grade) == ("graded", TWO)
    life = lifecycle(r)
    assert (life["stage"], life["decision"], life["decision_in_time"]) == ("final", "upheld", True)
    assert life["evaluated"] == {"status": "graded", "grade": TWO, "exclusion": None}
    decision = step(r, "lifecycle.decision")
    assert decision["outcome"] == "upheld"
    assert "decisive" not in decision
    assert [s["step"] for s in decisive(r)] == [f"grade.{TWO}"]
    assert measure_ids(r) == MEASURES[TWO]


def test_a_corrected_decision_changes_the_grade_and_the_trace_keeps_both() -> None:
    """三(三)3 作出是否更正的决定: a correction gives the final grade; the evaluated grade stays
    in the trace (not decisive) and in the lifecycle, the decision is the decisive step."""
    r = life_of([*OBJECTION, decided("A", "2025-02-10", "corrected", THREE)], ONE_VIOLATION)
    assert (r.status, r.grade, r.own_grade) == ("graded", THREE, TWO)
    d = yc.result_to_dict(r)
    assert d["grade"] == THREE
    assert d["lifecycle"]["evaluated"] == {"status": "graded", "grade": TWO, "exclusion": None}
    assert d["lifecycle"]["decision"] == "corrected"
    grade_step = step(r, f"grade.{TWO}")
    assert grade_step["outcome"] == TWO
    assert "decisive" not in grade_step
    decision = step(r, "lifecycle.decision")
    assert decision["decisive"] is True
    assert decision["outcome"] == "corrected"
    assert decision["evidence"] == ["d1"]
    assert decision["clause"] == "镇医保〔2024〕82号 三(三)3"
    assert decision["inputs"]["grade_before"] == TWO
    assert decision["inputs"]["grade_after"] == THREE
    assert decision["inputs"]["in_time"] is True
    assert [s["step"] for s in decisive(r)] == ["lifecycle.decision"]


def test_measures_follow_the_corrected_grade() -> None:
    """三(二): the measures are those of the final grade, ★★★ after a correction from ★★, ★
    after one from ★★★."""
    up = life_of([*OBJECTION, decided("A", "2025-02-10", "corrected", THREE)], ONE_VIOLATION)
    assert measure_ids(up) == MEASURES[THREE]
    down = life_of([*OBJECTION, decided("A", "2025-02-10", "corrected", ONE)])
    assert down.grade == ONE
    assert measure_ids(down) == MEASURES[ONE]


def test_the_conditional_measure_is_decided_on_the_corrected_grade() -> None:
    """三(二)1(4): ★★★ after correction, and ★★★ the cycle before → the exemption follows."""
    history = [{"subject_id": "A", "status": "graded", "grade": THREE, "as_of": "2023-12-31"}]
    r = life_of(
        [*OBJECTION, decided("A", "2025-02-10", "corrected", THREE)],
        ONE_VIOLATION,
        history=history,
    )
    assert measure_ids(r) == ["routine_inspection_exemption", *MEASURES[THREE]]
    assert step(r, "measure.routine_inspection_exemption")["outcome"] is True


def test_a_late_decision_still_decides_but_says_it_was_late() -> None:
    """三(三)3 15个工作日内: a decision after the review deadline is recorded as late."""
    r = life_of([*OBJECTION, decided("A", "2025-02-21", "upheld")])
    life = lifecycle(r)
    assert life["deadlines"]["review"] == "2025-02-20"
    assert life["decision_in_time"] is False
    assert step(r, "lifecycle.decision")["inputs"]["in_time"] is False


LICENCE_SUSPENDED = [ev("s1", "A", "license_suspended", "2024-05-01")]
"""三(一)5(4): excluded (暂停执业许可 within the year)."""


def test_a_correction_turns_an_excluded_result_into_a_graded_one() -> None:
    """A decision may find the exclusion wrong: the corrected result is graded, and the
    lifecycle keeps the evaluated status and exclusion."""
    r = life_of([*OBJECTION, decided("A", "2025-02-10", "corrected", TWO)], LICENCE_SUSPENDED)
    assert (r.status, r.grade, r.exclusion) == ("graded", TWO, None)
    assert r.lifecycle is not None
    assert r.lifecycle.to_dict()["evaluated"] == {
        "status": "excluded",
        "grade": None,
        "exclusion": "licence",
    }
    assert [m.id for m in r.measures] == MEASURES[TWO]
    full = yc.build_trace(r)
    by_name = {s["step"]: s for s in full}
    assert by_name["exclusion.licence"]["outcome"] is True
    assert "decisive" not in by_name["exclusion.licence"]
    assert by_name["lifecycle.decision"]["decisive"] is True
    assert [s["step"] for s in full if s.get("decisive")] == ["lifecycle.decision"]


def test_a_corrected_exclusion_renders_in_every_format() -> None:
    r = life_of([*OBJECTION, decided("A", "2025-02-10", "corrected", TWO)], LICENCE_SUSPENDED)
    d = yc.result_to_dict(r)
    assert d["lifecycle"]["evaluated"]["exclusion"] == "licence"
    steps = yc.build_trace(r, detail="decisive")
    assert "exclusion.licence" in [s["step"] for s in steps]
    assert [s["step"] for s in steps if s.get("decisive")] == ["lifecycle.decision"]


def test_a_decision_on_a_late_objection_is_shown_or_refused() -> None:
    procedures = [
        notified("A", NOTIFIED),
        objected("A", WINDOW_CLOSES + dt.timedelta(days=1)),
        decided("A", "2025-02-20", "corrected", ONE),
    ]
    try:
        r = life_of(procedures)
    except yc.RecordError:
        return
    assert r.grade == THREE or any(s["step"] == "lifecycle.decision" for s in decisive(r))


def test_records_after_on_are_not_yet_known() -> None:
    r = life_of(
        [*OBJECTION, decided("A", "2025-02-10", "corrected", ONE)], on=NOTIFIED - dt.timedelta(1)
    )
    assert r.grade == THREE
    assert r.lifecycle is not None and r.lifecycle.stage != "final"


# -- bad procedure records ---------------------------------------------------------------------


def notified_objected(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [notified("A", NOTIFIED), objected("A", "2025-01-24"), *extra]


BAD = [
    pytest.param(
        notified_objected(
            {"id": "d1", "subject_id": "A", "step": "decision", "date": "2025-02-10"}
        ),
        "record.procedure",
        3,
        "outcome",
        id="decision-without-outcome",
    ),
    pytest.param(
        notified_objected({**decided("A", "2025-02-10", "corrected")}),
        "record.procedure",
        3,
        "grade",
        id="corrected-without-grade",
    ),
    pytest.param(
        [notified("A", NOTIFIED), notified("A", "2025-01-23", "n2")],
        "record.procedure.repeated",
        2,
        "second notification",
        id="second-notification",
    ),
    pytest.param(
        [notified("A", NOTIFIED), objected("A", "2025-01-21")],
        "record.procedure.order",
        2,
        "before its notification",
        id="objection-before-notification",
    ),
    pytest.param(
        [objected("A", "2025-01-24")],
        "record.procedure.missing-step",
        1,
        "no notification",
        id="objection-without-notification",
    ),
    pytest.param(
        [notified("A", NOTIFIED), decided("A", "2025-02-10", "upheld")],
        "record.procedure.missing-step",
        2,
        "no objection",
        id="decision-without-objection",
    ),
    pytest.param(
        notified_objected(decided("A", "2025-02-10", "corrected", "A+")),
        "record.procedure.unknown-grade",
        3,
        "'A+'",
        id="corrected-grade-not-in-ruleset",
    ),
    pytest.param(
        [notified("A", NOTIFIED), notified("NOBODY", NOTIFIED, "n9")],
        "record.procedure.unknown-subject",
        2,
        "NOBODY",
        id="unknown-subject",
    ),
]


def evaluate_file(path: Path) -> yc.Run:
    procedures = read_procedures(path)
    records = yc.records_from_python([inst("A")], [])
    return yc.evaluate(PACK, records, AS_OF, procedures=procedures)


@pytest.mark.parametrize(("rows", "code", "line", "words"), BAD)
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_bad_procedure_records_are_errors_with_file_and_line(
    tmp_path: Path, rows: list[dict[str, Any]], code: str, line: int, words: str, fmt: str
) -> None:
    """Principle 4: a procedure record that cannot be true is an error naming file and line
    (CSV lines count the header)."""
    if fmt == "jsonl":
        path = write_lines(tmp_path / "procedures.jsonl", rows)
    else:
        path = write_csv(tmp_path / "procedures.csv", rows)
        line += 1
    with pytest.raises(yc.RecordError) as info:
        evaluate_file(path)
    (problem,) = info.value.problems
    assert problem.code == code
    assert (problem.location.file, problem.location.line) == (str(path), line)
    assert words in problem.message


def test_bad_procedure_records_from_python_are_errors() -> None:
    with pytest.raises(yc.RecordError) as info:
        life_of(notified_objected(decided("A", "2025-02-10", "corrected")))
    assert info.value.problems[0].code == "record.procedure"
    with pytest.raises(yc.RecordError) as info:
        life_of([notified("A", NOTIFIED), notified("A", "2025-01-23", "n2")])
    assert info.value.problems[0].code == "record.procedure.repeated"


def test_cli_reports_a_bad_procedure_file_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_lines(
        tmp_path / "p.jsonl", [notified("ZJH001", NOTIFIED), objected("ZJH001", "2025-01-21")]
    )
    capsys.readouterr()
    code = main(
        [
            "evaluate",
            str(PACK_PATH),
            "--subjects",
            str(EXAMPLES / "subjects.jsonl"),
            "--as-of",
            "2024-12-31",
            "--procedures",
            str(path),
        ]
    )
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert f"{path}:2:" in err and "[record.procedure.order]" in err


# -- the calendar: years not carried, years a pack supplies ------------------------------------


def test_a_deadline_in_a_year_not_carried_is_refused_naming_the_subject() -> None:
    """design.md: "If the calendar for a year is not yet published, say so; never guess." The
    2027 arrangement is not in the installed calendar (published November/December 2026)."""
    with pytest.raises(yc.CalendarError) as info:
        life_of([notified("A", "2027-12-20")], as_of=D(2027, 11, 30))
    (problem,) = info.value.problems
    assert problem.code == "calendar.year-not-published"
    assert "'A'" in problem.message
    assert "2027" in problem.message


TEST_2027 = """
calendar:
  - year: 2027
    notice: TEST ONLY — made-up 2027 arrangement (tests), not a 国务院办公厅 notice
    provisional: made up for a test; no 2027 notice had been published when it was written
    days_off: [2027-10-01, 2027-10-04, 2027-10-05, 2027-10-06, 2027-10-07]
    workdays: [2027-10-09]
"""
"""A made-up 2027 arrangement: 10-01 (Fri) and 10-04..07 (Mon–Thu) off, Saturday 10-09 worked."""


def test_a_year_supplied_by_the_pack_makes_the_deadline_computable(tmp_path: Path) -> None:
    """A pack's ``calendar:`` section supplies a year the installed calendar lacks. With the
    made-up 2027 arrangement: notified Tue 2027-09-28; 09-29 =1, 09-30 =2; 10-01..07 off (with
    the weekend); 10-08 =3; 10-09 Sat (made-up working day) =4; 10-11..15 =5..9; 10-18 =10."""
    path = tmp_path / "zhenjiang-2027.yaml"
    path.write_text(PACK_PATH.read_text(encoding="utf-8") + TEST_2027, encoding="utf-8")
    pack = yc.load_policy(path)
    r = life_of([notified("A", "2027-09-28")], as_of=D(2027, 8, 31), pack=pack)
    assert lifecycle(r)["deadlines"] == {"objection": "2027-10-18"}
    deadline = step(r, "procedure.objection")
    assert deadline["inputs"]["calendar"].startswith("TEST ONLY")
    # the supplied year does not reach into 2028: still refused, naming that year
    with pytest.raises(yc.CalendarError) as info:
        life_of([notified("A", "2027-12-20")], as_of=D(2027, 11, 30), pack=pack)
    assert "2028" in info.value.problems[0].message
    assert "'A'" in info.value.problems[0].message


def test_a_calendar_day_period_ending_on_a_holiday_moves_to_the_next_working_day(
    tmp_path: Path,
) -> None:
    """《民法典》第203条: a period whose last day is a statutory holiday ends on the day after
    the holiday. A copy of the pack with the objection window as 7 (calendar) days: notified
    2024-09-24, the 7th day is 2024-10-01 (国庆, 国办发明电〔2023〕7号), moved to 10-08; the
    trace keeps the day it would have ended (moved_from)."""
    text = PACK_PATH.read_text(encoding="utf-8")
    old = "    days: 10\n    unit: working_days\n"
    assert text.count(old) == 1
    path = tmp_path / "zhenjiang-days.yaml"
    path.write_text(text.replace(old, "    days: 7\n    unit: days\n"), encoding="utf-8")
    pack = yc.load_policy(path)

    r = life_of([notified("A", "2024-09-24")], as_of=D(2024, 8, 31), pack=pack)
    assert lifecycle(r)["deadlines"] == {"objection": "2024-10-08"}
    deadline = step(r, "procedure.objection")
    assert deadline["outcome"] == "2024-10-08"
    assert deadline["inputs"]["moved_from"] == "2024-10-01"
    assert (deadline["inputs"]["days"], deadline["inputs"]["unit"]) == (7, "days")
    assert "moved_from=2024-10-01" in yc.render_text(r, "en")

    # ending on a working day: not moved, no moved_from
    r = life_of([notified("A", "2024-09-23")], as_of=D(2024, 8, 31), pack=pack)
    assert lifecycle(r)["deadlines"] == {"objection": "2024-09-30"}
    assert "moved_from" not in step(r, "procedure.objection")["inputs"]
    # ending on the make-up Saturday 2024-10-12 (a working day): not moved either
    r = life_of([notified("A", "2024-10-05")], as_of=D(2024, 8, 31), pack=pack)
    assert lifecycle(r)["deadlines"] == {"objection": "2024-10-12"}
    assert "moved_from" not in step(r, "procedure.objection")["inputs"]


# -- the CLI options --procedures and --on -----------------------------------------------------


def test_cli_procedures_and_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(
        tmp_path / "procedures.csv",
        [
            notified("ZJH001", "2025-01-22", "n1"),
            notified("ZJH002", "2025-01-22", "n2"),
            objected("ZJH002", "2025-01-24", "o2"),
            decided("ZJH002", "2025-02-10", "corrected", THREE, "d2"),
        ],
    )
    base = [
        str(PACK_PATH),
        "--subjects",
        str(EXAMPLES / "subjects.jsonl"),
        "--events",
        str(EXAMPLES / "events.jsonl"),
        "--as-of",
        "2024-12-31",
        "--procedures",
        str(path),
        "--on",
        "2025-02-12",
    ]
    capsys.readouterr()
    assert main(["evaluate", *base]) == 0
    results = {d["subject_id"]: d for d in map(json.loads, capsys.readouterr().out.splitlines())}
    assert results["ZJH001"]["lifecycle"]["stage"] == "final"  # window closed 2025-02-11
    assert results["ZJH002"]["grade"] == THREE
    assert results["ZJH002"]["lifecycle"]["evaluated"]["grade"] == TWO
    assert results["ZJH003"]["lifecycle"]["stage"] == "pre_evaluation"  # not notified
    assert main(["explain", *base, "--subject", "ZJH002", "--lang", "en"]) == 0
    text = capsys.readouterr().out
    assert "➤ objection" in text and "corrected" in text


# -- JSON Lines output with lifecycle and history ----------------------------------------------


def mixed_run() -> yc.Run:
    """Subjects in every lifecycle stage, with history and conditional measures."""
    subjects = [inst(s) for s in ("A", "B", "C", "D", "E", "F", "G")]
    events = [
        ev("v1", "B", "violation", "2024-06-15"),
        ev("v2", "C", "violation", "2024-06-15"),
        ev("f1", "D", "fraud", "2024-06-15"),
    ]
    history = [
        {"subject_id": s, "status": "graded", "grade": THREE, "as_of": "2023-12-31"}
        for s in ("A", "B", "C", "E")
    ] + [{"subject_id": "F", "status": "excluded", "grade": None, "as_of": "2023-12-31"}]
    procedures = [
        notified("A", NOTIFIED, "nA"),
        notified("B", NOTIFIED, "nB"),
        objected("B", "2025-01-24", "oB"),
        decided("B", "2025-02-10", "corrected", THREE, "dB"),
        notified("C", NOTIFIED, "nC"),
        objected("C", "2025-01-24", "oC"),
        decided("C", "2025-02-10", "upheld", None, "dC"),
        notified("D", NOTIFIED, "nD"),
        objected("D", "2025-02-12", "oD"),
        notified("E", NOTIFIED, "nE"),
        objected("E", "2025-01-23", "oE"),
    ]
    run: yc.Run = PACK.evaluate(
        subjects, events, as_of=AS_OF, history=history, procedures=procedures, on=D(2025, 3, 1)
    )
    return run


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("detail", ["full", "decisive", "none"])
def test_jsonl_writer_equals_dumps_of_result_to_dict(lang: str, detail: str) -> None:
    """render.JsonlWriter writes byte for byte ``dumps(result_to_dict(r))``, also for results
    with a lifecycle (every stage, a correction) and history facts."""
    run = mixed_run()
    stages = {r.subject_id: r.lifecycle.stage if r.lifecycle else None for r in run}
    assert stages == {
        "A": "final",
        "B": "final",
        "C": "final",
        "D": "final",
        "E": "under_review",
        "F": "pre_evaluation",
        "G": "pre_evaluation",
    }
    writer = JsonlWriter(lang, detail)
    for r in run:
        assert writer.line(r) == dumps(result_to_dict(r, lang, detail)) + "\n", r.subject_id
    expected = "".join(dumps(result_to_dict(r, lang, detail)) + "\n" for r in run)
    assert yc.render(run, "jsonl", lang, detail) == expected
