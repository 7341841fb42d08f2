"""History rules: earlier cycles' results as input (镇医保〔2024〕82号 三(二)1(4)).

三(二)1(4): "被评为★★★级并保持连续二次以上,免于……日常监管检查". The pack
(policies/zhenjiang.yaml, ``history`` and measure ``routine_inspection_exemption``) reads it
as: ★★★ in this cycle and in at least the cycle just before (``excellent_before >= 1``, a
``held`` history fact over one-year cycles, provisional until 镇江市医疗保障局 confirms the
cycle). A cycle with no result on file, or with an exclusion, breaks the run: it is never
assumed (design.md, principle 4; src/yibao_credit/history.py).

Earlier results come in the output format (JSON Lines or CSV as ``evaluate`` writes them);
errors name the file and line. The cycle before a result as of D is the one as of D minus one
cycle, computed from D (《民法典》第202条: a year back from 2024-02-29 is 2023-02-28).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from zj_helpers import (
    AS_OF,
    MEASURES,
    ONE,
    PACK_PATH,
    THREE,
    TWO,
    codes,
    contract,
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
from yibao_credit.engine.history import cycle_as_of
from yibao_credit.records.history import read_history

PACK = load()
EXAMPLES = PACK_PATH.parents[1] / "examples" / "zhenjiang"
EXEMPTION = "routine_inspection_exemption"
HELD = "history.excellent_before"
PREVIOUS = "history.previous_grade"
MEASURE_STEP = f"measure.{EXEMPTION}"


def past(
    sid: str, as_of: str, grade: str | None = THREE, exclusion: str | None = None
) -> dict[str, Any]:
    """One earlier result as result_to_dict gives it (the keys history reads)."""
    status = "excluded" if exclusion else "graded"
    return {
        "subject_id": sid,
        "status": status,
        "grade": None if exclusion else grade,
        "exclusion": exclusion,
        "as_of": as_of,
        "policy": {"id": "zhenjiang"},
    }


def run_with(
    history: list[dict[str, Any]] | None,
    events: list[dict[str, Any]] | None = None,
    as_of: dt.date = AS_OF,
    sid: str = "A",
) -> yc.Run:
    run: yc.Run = PACK.evaluate([inst(sid)], events or [], as_of=as_of, history=history)
    return run


def cycles(r: yc.Result, name: str = HELD) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = step(r, name)["inputs"]["cycles"]
    return found


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- 三(二)1(4): ★★★ twice in a row ------------------------------------------------------------


def test_excellent_now_and_the_cycle_before_exempts_from_routine_inspection() -> None:
    """三(二)1(4) 被评为★★★级并保持连续二次以上: ★★★ as of 2024-12-31 and 2023-12-31."""
    r = result(run_with([past("A", "2023-12-31")]), "A")
    assert r.grade == THREE
    assert r.history is not None and r.history["excellent_before"] == 1
    assert measure_ids(r) == [EXEMPTION, *MEASURES[THREE]]
    exemption = contract(r)["measures"][0]
    assert exemption["clause"] == "镇医保〔2024〕82号 三(二)1(4)"
    assert exemption["params"]["routine_inspection"] == "exempt"
    assert step(r, MEASURE_STEP)["outcome"] is True
    assert step(r, MEASURE_STEP)["inputs"] == {"excellent_before": 1}
    held = step(r, HELD)
    assert held["outcome"] == 1
    assert held["clause"] == "镇医保〔2024〕82号 三(二)1(4)"
    assert "provisional" in held  # the one-year cycle awaits the bureau's confirmation
    assert held["inputs"]["cycle"] == "1y"


def test_no_result_for_last_year_is_missing_never_assumed() -> None:
    """三(二)1(4): ★★★ now but no result on file as of 2023-12-31 → no exemption; the trace's
    history step lists that cycle as missing (a missing cycle is never assumed ★★★)."""
    other = past("Z", "2023-12-31")  # history was given, just not for A
    run = run_with([other])
    r = result(run, "A")
    assert r.grade == THREE
    assert EXEMPTION not in measure_ids(r)
    assert measure_ids(r) == MEASURES[THREE]
    assert step(r, HELD)["outcome"] == 0
    assert cycles(r) == [{"as_of": "2023-12-31", "status": "missing", "grade": None}]
    assert step(r, MEASURE_STEP)["outcome"] is False
    assert "eval.no-history" not in codes(run)


def test_missing_cycle_is_shown_in_the_readable_trace() -> None:
    r = result(run_with([]), "A")
    assert "2023-12-31=missing" in yc.render_text(r, "en")
    assert "2023-12-31=missing" in yc.render_text(r, "zh")


def test_a_gap_year_breaks_the_run() -> None:
    """三(二)1(4) 连续: ★★★ as of 2022-12-31 and now, nothing as of 2023-12-31 → held 0."""
    r = result(run_with([past("A", "2022-12-31")]), "A")
    assert r.grade == THREE
    assert step(r, HELD)["outcome"] == 0
    assert cycles(r) == [{"as_of": "2023-12-31", "status": "missing", "grade": None}]
    assert EXEMPTION not in measure_ids(r)


def test_an_excluded_year_breaks_the_run() -> None:
    """三(二)1(4) with 三(一)5: an excluded cycle (不参与评测) has no grade, so it is not
    ★★★ and the run stops there, whatever came before it."""
    history = [
        past("A", "2023-12-31", exclusion="licence"),
        past("A", "2022-12-31"),
        past("A", "2021-12-31"),
    ]
    r = result(run_with(history), "A")
    assert step(r, HELD)["outcome"] == 0
    assert cycles(r) == [{"as_of": "2023-12-31", "status": "excluded", "grade": None}]
    assert EXEMPTION not in measure_ids(r)


def test_an_excluded_year_further_back_ends_the_count_there() -> None:
    history = [
        past("A", "2023-12-31"),
        past("A", "2022-12-31", exclusion="agreement_under_1y"),
        past("A", "2021-12-31"),
    ]
    r = result(run_with(history), "A")
    assert step(r, HELD)["outcome"] == 1
    assert [c["status"] for c in cycles(r)] == ["graded", "excluded"]
    assert EXEMPTION in measure_ids(r)


def test_three_in_a_row_holds_two_earlier_cycles() -> None:
    """★★★ as of 2022-12-31, 2023-12-31 and now: two earlier cycles held; the count walks
    back until the first cycle that is not ★★★ (here 2021-12-31, missing)."""
    r = result(run_with([past("A", "2022-12-31"), past("A", "2023-12-31")]), "A")
    assert step(r, HELD)["outcome"] == 2
    assert cycles(r) == [
        {"as_of": "2023-12-31", "status": "graded", "grade": THREE},
        {"as_of": "2022-12-31", "status": "graded", "grade": THREE},
        {"as_of": "2021-12-31", "status": "missing", "grade": None},
    ]
    assert EXEMPTION in measure_ids(r)


def test_two_star_last_year_is_not_a_run() -> None:
    r = result(run_with([past("A", "2023-12-31", TWO)]), "A")
    assert r.grade == THREE
    assert step(r, HELD)["outcome"] == 0
    assert EXEMPTION not in measure_ids(r)


def test_two_star_now_with_excellent_history_gets_no_exemption() -> None:
    """三(二)1(4) is a ★★★ measure: ★★ now (三(一)2(1), one violation) with ★★★ the cycle
    before still counts the earlier cycle, but the exemption does not follow; ★★ gets the
    measures of 三(二)2 only."""
    events = [ev("v1", "A", "violation", "2024-06-15")]
    r = result(run_with([past("A", "2023-12-31"), past("A", "2022-12-31")], events), "A")
    assert r.grade == TWO
    assert r.history is not None and r.history["excellent_before"] == 2
    assert measure_ids(r) == MEASURES[TWO]
    assert not any(s["step"] == MEASURE_STEP for s in trace(r))


def test_one_star_now_with_excellent_history_gets_no_exemption() -> None:
    events = [ev("f1", "A", "fraud", "2024-06-15")]
    r = result(run_with([past("A", "2023-12-31")], events), "A")
    assert r.grade == ONE
    assert measure_ids(r) == MEASURES[ONE]


@pytest.mark.parametrize(
    ("history", "value", "status"),
    [
        ([past("A", "2023-12-31", TWO)], TWO, "graded"),
        ([past("A", "2023-12-31", ONE)], ONE, "graded"),
        ([past("A", "2023-12-31", exclusion="statutory")], None, "excluded"),
        ([past("A", "2022-12-31", THREE)], None, "missing"),
    ],
)
def test_previous_grade(history: list[dict[str, Any]], value: str | None, status: str) -> None:
    """``previous_grade`` (op previous, 三(二)1(4)): the grade one cycle back, None when that
    cycle was excluded or has no result (the cycle two years back is not looked at)."""
    r = result(run_with(history), "A")
    assert r.history is not None and r.history["previous_grade"] == value
    assert step(r, PREVIOUS)["outcome"] == value
    assert cycles(r, PREVIOUS) == [{"as_of": "2023-12-31", "status": status, "grade": value}]


def test_previous_rank_and_count_ops(tmp_path: Path) -> None:
    """The other history ops on a copy of the pack: ``previous_rank`` (0 is the best grade),
    ``previous`` with ``back: 2``, and ``count`` of ★★★ within the last three cycles."""
    text = PACK_PATH.read_text(encoding="utf-8")
    anchor = "    history:\n      cycle: 1y\n      facts:\n"
    assert text.count(anchor) == 1
    extra = (
        "        rank_before:\n"
        "          title: {zh: 上一周期等级序号, en: rank one cycle back}\n"
        "          op: previous_rank\n"
        "          provisional: test\n"
        "        two_back:\n"
        "          title: {zh: 两个周期前的等级, en: grade two cycles back}\n"
        "          op: previous\n"
        "          back: 2\n"
        "          provisional: test\n"
        "        excellent_in_three:\n"
        "          title: {zh: 近三个周期★★★次数, en: ★★★ in the last three cycles}\n"
        "          op: count\n"
        "          grades: [★★★]\n"
        "          within: 3\n"
        "          provisional: test\n"
    )
    pack = yc.load_policy(write(tmp_path / "zj.yaml", text.replace(anchor, anchor + extra)))
    history = [past("A", "2023-12-31"), past("A", "2022-12-31", ONE), past("A", "2021-12-31")]
    r = result(pack.evaluate([inst("A")], [], as_of=AS_OF, history=history), "A")
    assert r.history is not None
    assert r.history["rank_before"] == 0
    assert r.history["two_back"] == ONE
    assert r.history["excellent_in_three"] == 2
    assert r.history["excellent_before"] == 1
    assert [c["as_of"] for c in cycles(r, "history.excellent_in_three")] == [
        "2023-12-31",
        "2022-12-31",
        "2021-12-31",
    ]
    # ★★ one cycle back: rank 1 (★★★ 0 < ★★ 1 < ★ 2)
    r = result(
        pack.evaluate([inst("A")], [], as_of=AS_OF, history=[past("A", "2023-12-31", TWO)]), "A"
    )
    assert r.history is not None and r.history["rank_before"] == 1
    assert r.history["two_back"] is None


# -- history files: the output format fed back -----------------------------------------------


def examples_2023() -> yc.Run:
    records = yc.load_records(EXAMPLES / "subjects.jsonl", EXAMPLES / "events.jsonl")
    run: yc.Run = PACK.evaluate(records, as_of=dt.date(2023, 12, 31))
    return run


EXEMPT_2024 = {"ZJC001", "ZJC008", "ZJH001", "ZJP001", "ZJP005", "ZJP103", "ZJP205", "ZJP305"}
"""★★★ as of 2023-12-31 and as of 2024-12-31 in examples/zhenjiang (README, "Intended
outcome"). Not exempt although ★★★ in 2024: ZJH003 (★★ in 2023, violation ZJE0002 of
2023-12-31), ZJH010 (excluded in 2023: agreement of 2023-12-31 under 1 year), ZJH013
(excluded in 2023: licence suspended 2023-12-31)."""


def evaluate_2024(
    capsys: pytest.CaptureFixture[str], history: Path
) -> tuple[dict[str, dict[str, Any]], str]:
    code, out, err = cli(
        capsys,
        "evaluate",
        PACK_PATH,
        "--subjects",
        EXAMPLES / "subjects.jsonl",
        "--events",
        EXAMPLES / "events.jsonl",
        "--as-of",
        "2024-12-31",
        "--history",
        history,
    )
    assert code == 0, err
    results = {d["subject_id"]: d for d in map(json.loads, out.splitlines())}
    return results, err


def check_exemptions(results: dict[str, dict[str, Any]]) -> None:
    exempt = {sid for sid, d in results.items() if EXEMPTION in [m["id"] for m in d["measures"]]}
    assert exempt == EXEMPT_2024
    for sid in ("ZJH003", "ZJH010", "ZJH013"):
        assert results[sid]["grade"] == THREE
        held = next(s for s in results[sid]["trace"] if s["step"] == HELD)
        assert held["outcome"] == 0
    statuses = {
        sid: next(s for s in results[sid]["trace"] if s["step"] == HELD)["inputs"]["cycles"][0]
        for sid in ("ZJH003", "ZJH010", "ZJH001")
    }
    assert statuses["ZJH003"] == {"as_of": "2023-12-31", "status": "graded", "grade": TWO}
    assert statuses["ZJH010"] == {"as_of": "2023-12-31", "status": "excluded", "grade": None}
    assert statuses["ZJH001"] == {"as_of": "2023-12-31", "status": "graded", "grade": THREE}


def test_a_jsonl_output_file_is_read_back_as_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Last year's ``evaluate`` output (JSON Lines, as written) is this year's --history."""
    history = write(tmp_path / "2023.jsonl", yc.render(examples_2023(), "jsonl"))
    results, err = evaluate_2024(capsys, history)
    check_exemptions(results)
    assert "eval.no-history" not in err


def test_a_csv_output_file_is_read_back_as_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CSV output format (policy_id column, empty grade for an exclusion) reads back too."""
    text = yc.render(examples_2023(), "csv")
    assert "policy_id" in text.splitlines()[0]
    results, err = evaluate_2024(capsys, write(tmp_path / "2023.csv", text))
    check_exemptions(results)
    assert "eval.no-history" not in err


def test_history_of_another_pack_is_refused_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Results of another pack are another scheme's grades: refused, naming file and line."""
    lines = yc.render(examples_2023(), "jsonl").splitlines()
    third = json.loads(lines[2])
    third["policy"]["id"] = "jinan"
    lines[2] = json.dumps(third, ensure_ascii=False)
    path = write(tmp_path / "mixed.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(yc.RecordError) as info:
        read_history(path, "zhenjiang")
    (problem,) = info.value.problems
    assert problem.code == "record.history.other-policy"
    assert (problem.location.file, problem.location.line) == (str(path), 3)
    assert "jinan" in problem.message
    code, out, err = cli(
        capsys,
        "evaluate",
        PACK_PATH,
        "--subjects",
        EXAMPLES / "subjects.jsonl",
        "--as-of",
        "2024-12-31",
        "--history",
        path,
    )
    assert code == 1
    assert out == ""
    assert f"{path}:3:" in err and "record.history.other-policy" in err


def test_history_csv_of_another_pack_is_refused_with_its_line(tmp_path: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(yc.render(examples_2023(), "csv"))))
    rows[4]["policy_id"] = "other"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = write(tmp_path / "mixed.csv", buf.getvalue())
    with pytest.raises(yc.RecordError) as info:
        read_history(path, "zhenjiang")
    (problem,) = info.value.problems
    assert problem.code == "record.history.other-policy"
    assert problem.location.line == 6  # header is line 1, rows[4] is line 6


def test_history_csv_lines_count_a_quoted_field_over_two_lines(tmp_path: Path) -> None:
    """A CSV cell may hold a line break inside quotes (a measure title, a name): the line
    reported is the row's last physical line in the file, as for subjects and events."""
    rows = list(csv.DictReader(io.StringIO(yc.render(examples_2023(), "csv"))))
    rows[0]["measures"] = "first line\nsecond line"
    rows[4]["policy_id"] = "other"
    buf = io.StringIO()
    writer = csv.DictWriter(buf, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = write(tmp_path / "mixed.csv", buf.getvalue())
    with pytest.raises(yc.RecordError) as info:
        read_history(path, "zhenjiang")
    (problem,) = info.value.problems
    assert problem.location.line == 7  # rows[0] spans lines 2-3, so rows[4] is line 7
    lines = path.read_text(encoding="utf-8").splitlines()
    assert "other" in lines[6]


def test_a_duplicate_subject_and_date_is_an_error_naming_the_first_line(tmp_path: Path) -> None:
    """Two results for one subject as of one day cannot both be true: an error on the second,
    naming the line of the first (never silently one of them)."""
    rows = [past("A", "2023-12-31"), past("B", "2023-12-31"), past("A", "2023-12-31", ONE)]
    path = write(
        tmp_path / "dup.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    )
    with pytest.raises(yc.RecordError) as info:
        read_history(path, "zhenjiang")
    (problem,) = info.value.problems
    assert problem.code == "record.history.duplicate"
    assert (problem.location.file, problem.location.line) == (str(path), 3)
    assert "first on line 1" in problem.message


def test_the_same_subject_in_different_cycles_is_no_duplicate(tmp_path: Path) -> None:
    rows = [past("A", "2023-12-31"), past("A", "2022-12-31")]
    path = write(
        tmp_path / "ok.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    )
    records = read_history(path, "zhenjiang")
    assert len(records.results) == 2


def test_a_malformed_history_line_names_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bad.jsonl",
        json.dumps(past("A", "2023-12-31"), ensure_ascii=False) + "\n"
        '{"subject_id": "B", "status": "graded", "as_of": "2023-13-31"}\n',
    )
    with pytest.raises(yc.RecordError) as info:
        read_history(path, "zhenjiang")
    (problem,) = info.value.problems
    assert problem.code == "record.history"
    assert problem.location.line == 2


def test_no_history_given_is_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    """A pack with history rules and no earlier results: every earlier cycle is missing, and
    the run says so (eval.no-history) rather than silently withholding 三(二)1(4)."""
    run = run_with(None)
    assert "eval.no-history" in codes(run)
    r = result(run, "A")
    assert r.grade == THREE
    assert cycles(r) == [{"as_of": "2023-12-31", "status": "missing", "grade": None}]
    assert EXEMPTION not in measure_ids(r)
    code, _out, err = cli(
        capsys,
        "evaluate",
        PACK_PATH,
        "--subjects",
        EXAMPLES / "subjects.jsonl",
        "--as-of",
        "2024-12-31",
    )
    assert code == 0
    assert "[eval.no-history]" in err


def test_an_empty_history_is_given_history() -> None:
    assert "eval.no-history" not in codes(run_with([]))


# -- cycle arithmetic (《民法典》第202条) --------------------------------------------------------


def test_one_year_back_from_29_february_is_28_february() -> None:
    """《民法典》第202条: a period of years ends on the corresponding day, or the month's last
    day when there is none: one year back from 2024-02-29 is 2023-02-28."""
    leap = dt.date(2024, 2, 29)
    assert cycle_as_of(leap, "1y", 1) == dt.date(2023, 2, 28)
    assert cycle_as_of(leap, "1y", 2) == dt.date(2022, 2, 28)
    # computed from as_of, never step by step: four years back is 29 February again
    assert cycle_as_of(leap, "1y", 4) == dt.date(2020, 2, 29)
    assert cycle_as_of(dt.date(2024, 12, 31), "1y", 1) == dt.date(2023, 12, 31)


def test_evaluation_on_29_february_finds_the_result_of_28_february() -> None:
    as_of = dt.date(2024, 2, 29)
    r = result(run_with([past("A", "2023-02-28")], as_of=as_of), "A")
    assert r.grade == THREE
    assert step(r, HELD)["outcome"] == 1
    assert cycles(r)[0] == {"as_of": "2023-02-28", "status": "graded", "grade": THREE}
    assert EXEMPTION in measure_ids(r)
    r = result(run_with([past("A", "2023-03-01")], as_of=as_of), "A")
    assert step(r, HELD)["outcome"] == 0
    assert cycles(r)[0]["status"] == "missing"


def test_a_result_of_29_february_is_the_cycle_before_28_february_next_year() -> None:
    r = result(run_with([past("A", "2024-02-29")], as_of=dt.date(2025, 2, 28)), "A")
    assert step(r, HELD)["outcome"] == 1


# -- history given from Python ------------------------------------------------------------------


def test_history_from_python_dicts_is_result_to_dict_of_last_year() -> None:
    events = [ev("v", "B", "violation", "2023-05-01")]
    last = PACK.evaluate([inst("A"), inst("B")], events, as_of=dt.date(2023, 12, 31))
    history = [yc.result_to_dict(r) for r in last]
    run = PACK.evaluate([inst("A"), inst("B")], [], as_of=AS_OF, history=history)
    assert EXEMPTION in measure_ids(result(run, "A"))
    assert EXEMPTION not in measure_ids(result(run, "B"))
    assert result(run, "B").history == {"excellent_before": 0, "previous_grade": TWO}


def test_a_duplicate_in_python_history_is_an_error() -> None:
    with pytest.raises(yc.RecordError):
        run_with([past("A", "2023-12-31"), past("A", "2023-12-31", ONE)])


@pytest.mark.parametrize(
    "row",
    [
        {"status": "Graded", "grade": THREE},
        {"status": "graded", "grade": "A+"},
        {"status": "graded", "grade": None},
    ],
)
def test_a_history_record_that_is_no_result_is_an_error(
    tmp_path: Path, row: dict[str, Any]
) -> None:
    path = write(
        tmp_path / "h.jsonl",
        json.dumps({"subject_id": "A", "as_of": "2023-12-31", **row}, ensure_ascii=False) + "\n",
    )
    with pytest.raises(yc.RecordError):
        history = read_history(path, "zhenjiang")
        yc.evaluate(PACK, yc.records_from_python([inst("A")], []), AS_OF, history=history)


# -- history.lapse: an earlier result that no longer counts (济医保字〔2023〕19号 三(五)) ----------

LAPSE = (
    "      lapse:\n"
    "        grades: [★★★, ★★]\n"
    "        facts: [violations]\n"
    "        provisional: test\n"
)
HISTORY_END = (
    "          provisional:\n"
    "            zh: 评测周期为一年,与excellent_before相同。\n"
    "            en: The one-year evaluation cycle, as for excellent_before.\n"
)


def lapse_pack(tmp_path: Path, validity: str | None, repair: bool = False) -> Path:
    """A copy of the Zhenjiang pack with a history lapse on its violations (the mechanism of
    Jinan 三(五), on another pack), and optionally a validity period for violations and their
    repair."""
    text = PACK_PATH.read_text(encoding="utf-8")
    assert text.count(HISTORY_END) == 1 and text.count("\nrulesets:\n") == 1
    text = text.replace(HISTORY_END, HISTORY_END + LAPSE)
    if validity is not None:
        text = text.replace(
            "\nrulesets:\n",
            f"\nvalidity:\n  violation: {{period: {validity}, provisional: test}}\n\nrulesets:\n",
        )
    if repair:
        text = text.replace(
            "\nrulesets:\n", "\nrepair:\n  kinds: [violation]\n  provisional: test\n\nrulesets:\n"
        )
    return write(tmp_path / "zj-lapse.yaml", text)


def test_a_lapse_on_kinds_that_never_stop_counting_is_a_load_error(tmp_path: Path) -> None:
    """A lapse on facts whose events have no validity period and cannot be repaired could never
    happen: refused at load time, at ``history.lapse.facts``."""
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(lapse_pack(tmp_path, None))
    (problem,) = info.value.problems
    assert "no earlier result could ever lapse" in problem.message
    assert problem.location.path == "rulesets.institution.history.lapse.facts"
    assert problem.location.line is not None


def test_a_lapsed_cycle_has_no_grade_for_any_history_fact(tmp_path: Path) -> None:
    """The lapse mechanism (Jinan 三(五)) on another pack: violations valid for 6 months. A's
    ★★★ as of 2023-12-31 counted v1 (2023-09-01, valid until 2024-03-01): by 2024-12-31 it has
    lapsed, so it breaks the ``held`` run (excellent_before 0, the ★★★ of 2022 not reached) and
    ``previous`` reads no grade. B's ★★ counted v2 (2023-12-31, valid until 2024-06-30): also
    lapsed. C's ★★ counted nothing (v3 of 2023-03-01 had expired on 2023-09-01): it stands.
    Both engines give the same results."""
    pack = yc.load_policy(lapse_pack(tmp_path, "6m"))
    subjects = [inst("A"), inst("B"), inst("C")]
    events = [
        ev("v1", "A", "violation", "2023-09-01"),
        ev("v2", "B", "violation", "2023-12-31"),
        ev("v3", "C", "violation", "2023-03-01"),
    ]
    history = [
        past("A", "2023-12-31"),
        past("A", "2022-12-31"),
        past("B", "2023-12-31", TWO),
        past("C", "2023-12-31", TWO),
    ]
    runs = [
        pack.evaluate(subjects, events, as_of=AS_OF, history=history, engine=engine)
        for engine in ("python", "duckdb")
    ]
    assert [yc.result_to_dict(r) for r in runs[1]] == [yc.result_to_dict(r) for r in runs[0]]
    a, b, c = (result(runs[0], sid) for sid in "ABC")
    assert a.history == {"excellent_before": 0, "previous_grade": None}
    assert cycles(a) == [
        {
            "as_of": "2023-12-31",
            "status": "lapsed",
            "grade": None,
            "lapsed_grade": THREE,
            "clause": None,
            "provisional": "test",
            "events": [
                {
                    "id": "v1",
                    "kind": "violation",
                    "date": "2023-09-01",
                    "counted_until": "2024-03-01",
                }
            ],
        }
    ]
    assert EXEMPTION not in measure_ids(a)
    assert b.history == {"excellent_before": 0, "previous_grade": None}
    assert cycles(b, PREVIOUS)[0]["status"] == "lapsed"
    assert cycles(b, PREVIOUS)[0]["events"][0]["counted_until"] == "2024-06-30"
    assert c.history == {"excellent_before": 0, "previous_grade": TWO}
    assert cycles(c, PREVIOUS) == [{"as_of": "2023-12-31", "status": "graded", "grade": TWO}]


def test_a_lapse_counts_the_facts_window_as_of_the_earlier_date(tmp_path: Path) -> None:
    """The events an earlier result counted are those of the lapse's facts in their window
    bounded as of that result's date (1年之内 as of 2023-12-31: 2023-01-01 .. 2023-12-31). With
    violations valid 3 years and repairable: v0 of 2022-12-31, still in force, lies outside that
    window, so only v1 (2023-01-01) kept the ★★ of 2023-12-31 — once v1 is repaired (on
    2024-05-01) the ★★ lapses; unrepaired, it stands. Both engines agree."""
    pack = yc.load_policy(lapse_pack(tmp_path, "3y", repair=True))
    events = [ev("v0", "A", "violation", "2022-12-31"), ev("v1", "A", "violation", "2023-01-01")]
    history = [past("A", "2023-12-31", TWO)]
    repair = ev("r1", "A", "repair", "2024-05-01", repairs="v1")
    found = {}
    for name, evs in (("stands", events), ("lapsed", [*events, repair])):
        runs = [
            pack.evaluate([inst("A")], evs, as_of=AS_OF, history=history, engine=engine)
            for engine in ("python", "duckdb")
        ]
        assert [yc.result_to_dict(r) for r in runs[1]] == [yc.result_to_dict(r) for r in runs[0]]
        found[name] = cycles(result(runs[0], "A"), PREVIOUS)[0]
    assert found["stands"] == {"as_of": "2023-12-31", "status": "graded", "grade": TWO}
    assert found["lapsed"]["status"] == "lapsed"
    assert found["lapsed"]["events"] == [
        {
            "id": "v1",
            "kind": "violation",
            "date": "2023-01-01",
            "repaired_by": "r1",
            "repaired_on": "2024-05-01",
        }
    ]
