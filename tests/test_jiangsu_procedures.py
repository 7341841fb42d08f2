"""The dated steps of 苏医保办发〔2023〕26号 as pack procedures, and the procedures on fixed days.

The 办法 names four days of the year and two procedure steps without a length:
- 二(二) 省局每年4月底前形成年度评价指标体系 (30 April) and 各设区市5月底前…形成评价评分标准,并主动
  向定点医疗机构公开 (31 May): read as days of the evaluated year itself (``years_after: 0``),
  since a year's table must be known before that year is evaluated;
- 三(一) 每年2月初启动 (no day printed: provisionally 10 February, the end of 上旬) and
  原则上3月底前确认评价结果、对外公示 (31 March), both in the year after the evaluated year;
- 三(二)2 接受定点医疗机构申诉反馈 (the appeal after the result is fed back; provisionally 5
  working days) and 三(二)3 the city's 复核复审 that answers it (provisionally 10 working days).

A procedure on a fixed day is written ``by: MM-DD`` with the window it is counted from
(docs/pack-format.md §11). The YAML cases in policies/jiangsu_perf/jiangsu_perf_2023.tests.yaml
pin the boundaries on both engines (the window's last day, the deadline day itself); these
tests pin the pack's encoding, the days for each evaluated year and the load errors.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

import yibao_credit as yc
from yibao_credit.policy import load_policies

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "policies" / "jiangsu_perf"
V2023_PATH = FOLDER / "jiangsu_perf_2023.yaml"
DOC = "苏医保办发〔2023〕26号"
D = dt.date

_SET = load_policies(FOLDER)

DATED = {
    # id: (MM-DD, years after the evaluated year, clause, record due by the day)
    "indicator_system": ("04-30", 0, "二(二)", None),
    "scoring_standard": ("05-31", 0, "二(二)", None),
    "start": ("02-10", 1, "三(一)", None),
    "confirmation": ("03-31", 1, "三(一)", "notification"),
}


def institution(sid: str = "X") -> dict[str, Any]:
    return {
        "id": sid,
        "type": "institution",
        "category": "clinic",
        "inpatient": False,
        "designated_on": "2010-01-01",
    }


def lifecycle(
    as_of: D, procedures: list[dict[str, Any]], on: D | None = None, engine: str = "python"
) -> dict[str, Any]:
    policy = _SET.for_as_of(as_of)
    run = policy.evaluate(
        [institution()], [], as_of=as_of, procedures=procedures, on=on, engine=engine
    )
    r = run.get("X")
    assert r is not None
    life: dict[str, Any] = yc.result_to_dict(r)["lifecycle"]
    return life


def test_clause_3_2_2_appeal_and_3_2_3_decision_are_counted_procedures() -> None:
    """三(二)2 申诉 after the result is fed back, answered after the city's 复核复审 (三(二)3):
    the two procedures counted in working days, each provisional (the 办法 prints no
    length), with their clauses."""
    for policy in _SET.versions:
        procs = policy.plan.procedures
        appeal, decision = procs["notification"], procs["objection"]
        assert (appeal.id, appeal.days, appeal.unit) == ("appeal", 5, "working_days")
        assert (decision.id, decision.days, decision.unit) == (
            "appeal_decision",
            10,
            "working_days",
        )
        assert appeal.step.clause == f"{DOC} 三(二)2"
        assert decision.step.clause == f"{DOC} 三(二)3"
        assert appeal.step.provisional and decision.step.provisional


def test_clauses_2_2_and_3_1_days_of_the_year_are_dated_procedures() -> None:
    """二(二) 4月底, 5月底 and 三(一) 2月初, 3月底 as procedures on fixed days, with their
    clauses; only 2月初 is provisional (no day is printed); 3月底 bounds the notification."""
    for policy in _SET.versions:
        got = {
            p.id: (
                f"{p.month:02d}-{p.day:02d}",
                p.years_after,
                p.step.clause.removeprefix(f"{DOC} ") if p.step.clause else None,
                p.step_due,
            )
            for p in policy.plan.dated_procedures
        }
        assert got == DATED
        assert all(p.window == "evaluation_year" for p in policy.plan.dated_procedures)
        provisional = {p.id for p in policy.plan.dated_procedures if p.step.provisional}
        assert provisional == {"start"}


@pytest.mark.parametrize(
    ("as_of", "days"),
    [
        (D(2024, 3, 31), ("2023-04-30", "2023-05-31", "2024-02-10", "2024-03-31")),
        (D(2025, 1, 1), ("2024-04-30", "2024-05-31", "2025-02-10", "2025-03-31")),
        (D(2025, 12, 31), ("2024-04-30", "2024-05-31", "2025-02-10", "2025-03-31")),
    ],
)
def test_clauses_2_2_and_3_1_days_follow_the_evaluated_year(
    as_of: D, days: tuple[str, ...]
) -> None:
    """三(一) 评价年度为上一年度: evaluating as of any day of 2025 evaluates 2024, so its table
    was due by 2024-04-30 and 2024-05-31 (二(二)), the work starts by 2025-02-10 and the
    results are confirmed and shown by 2025-03-31 (三(一))."""
    deadlines = lifecycle(as_of, [])["deadlines"]
    assert tuple(deadlines[k] for k in DATED) == days


@pytest.mark.parametrize("engine", ["python", "duckdb"])
@pytest.mark.parametrize(
    ("notified", "on", "in_time"),
    [
        ("2025-03-31", D(2025, 4, 1), True),  # the deadline day itself
        ("2025-03-28", None, True),
        ("2025-04-01", D(2025, 4, 1), False),  # the day after
        (None, D(2025, 3, 31), None),  # not yet shown, the deadline not passed
        (None, D(2025, 4, 1), False),  # not shown by the deadline
        (None, None, None),  # no day to judge on: not yet known
    ],
)
def test_clause_3_1_confirmation_by_the_end_of_march(
    notified: str | None, on: D | None, in_time: bool | None, engine: str
) -> None:
    """三(一) 原则上3月底前确认评价结果、对外公示: the notification of the result is due by
    2025-03-31 for the year 2024 (the day itself counts: 前 of 月底 reads as by its end). A
    late one, or none once --on is past the day, is reported as not in time; it changes no
    stage (原则上: a target, not a bar)."""
    procedures = (
        [{"id": "n", "subject_id": "X", "step": "notification", "date": notified}]
        if notified
        else []
    )
    life = lifecycle(D(2025, 3, 31), procedures, on, engine)
    assert life["in_time"] == {"confirmation": in_time}
    assert life["stage"] == ("pre_evaluation" if notified is None else "notified")


def test_dated_deadlines_are_never_moved_to_a_working_day() -> None:
    """2024-03-31 (三(一) for the year 2023) is a Sunday; the day is printed, not a period
    counted from a trigger (《民法典》第201条、第203条), so it stays 2024-03-31."""
    assert D(2024, 3, 31).weekday() == 6
    assert lifecycle(D(2024, 3, 31), [])["deadlines"]["confirmation"] == "2024-03-31"


def test_dated_steps_are_in_the_trace_with_how_the_day_was_found() -> None:
    policy = _SET.for_as_of(D(2025, 3, 31))
    run = policy.evaluate(
        [institution()],
        [],
        as_of=D(2025, 3, 31),
        procedures=[{"id": "n", "subject_id": "X", "step": "notification", "date": "2025-03-20"}],
        on=D(2025, 4, 1),
    )
    r = run.get("X")
    assert r is not None
    steps = {s["step"]: s for s in yc.result_to_dict(r, "en")["trace"]}
    start = steps["procedure.start"]
    assert start["outcome"] == "2025-02-10"
    assert start["inputs"] == {
        "by": "02-10",
        "window": "evaluation_year",
        "period_end": "2024-12-31",
        "years_after": 1,
    }
    assert start["clause"] == f"{DOC} 三(一)" and start["provisional"]
    check = steps["lifecycle.confirmation"]
    assert check["outcome"] is True and check["evidence"] == ["n"]
    assert check["inputs"] == {"record": "notification", "dated": "2025-03-20", "due": "2025-03-31"}
    text = yc.render_text(r, "en")
    assert (
        "results confirmed and made public: 2025-03-31  (by=03-31, period_end=2024-12-31)" in text
    )


def test_without_procedure_records_no_lifecycle_and_no_dated_steps() -> None:
    policy = _SET.for_as_of(D(2025, 3, 31))
    r = policy.evaluate([institution()], [], as_of=D(2025, 3, 31)).get("X")
    assert r is not None and r.lifecycle is None
    assert not [s for s in yc.result_to_dict(r)["trace"] if s["step"].startswith("procedure.")]


# --- load errors of procedures on fixed days ----------------------------------------------------

_EXTRA = """\
extends: {base}
procedures:
  - id: extra
    title: {{zh: 测试}}
{body}    clause: 三(一)
"""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '    by: "03-31"\n    window: evaluation_year\n    trigger: notification\n',
            "'trigger' does not apply to a procedure on a fixed day ('by')",
        ),
        ('    by: "03-31"\n', "names the window whose end year the day is counted from"),
        ('    by: "03-31"\n    window: year\n', "no window 'year' (the pack's windows: "),
        ('    by: "02-29"\n    window: evaluation_year\n', "'02-29' is not a day of every year"),
        ('    by: "13-01"\n    window: evaluation_year\n', "'13-01' is not a day of every year"),
        (
            "    trigger: notification\n    days: 5\n    unit: days\n    step: notification\n",
            "'step' does not apply to a procedure counted from a trigger",
        ),
        ("    trigger: notification\n    days: 5\n", "a procedure needs 'unit'"),
        ("    title2: x\n", "unknown key"),
    ],
)
def test_a_dated_procedure_is_one_form_or_the_other(
    tmp_path: Path, body: str, message: str
) -> None:
    """A procedure is either counted from a trigger (trigger, days, unit) or on a fixed day
    (by, window): a mix, a missing key, an unknown window or a day some years lack is a load
    error naming the key."""
    path = tmp_path / "p.yaml"
    path.write_text(_EXTRA.format(base=V2023_PATH, body=body), "utf-8")
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(path)
    assert any(message in p.message for p in info.value.problems), info.value.problems
    assert all(p.location.file == str(path) for p in info.value.problems)


def test_a_by_day_must_be_written_mm_dd(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        _EXTRA.format(base=V2023_PATH, body='    by: "3-31"\n    window: evaluation_year\n'),
        "utf-8",
    )
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(path)
    (p,) = info.value.problems
    assert p.code.startswith("pack.schema") and "procedures" in (p.location.path or "")
