"""The outlook if nothing new happens (issue 15 item 5) and explain's cut points (item 10).

Each counted event's departure is checked against the published rule it rests on, at the
boundary: the prediction ``leaves_on`` is confirmed by evaluating afresh on the day before (the
event still counts, the grade is as now) and on ``leaves_on`` itself (it no longer counts, the
grade is ``grade_then``).

- 镇医保〔2024〕82号 三(一)2(1) "1年之内,有违法违规记录且不超过一次的" → ★★; 三(一)1(1) "1年之内,
  未发现违法违规情形的" → ★★★. "1年之内" as of D is the year ending on D, from the day after D
  minus one year (《民法典》第1259条 以内 includes the bound; 第202条 for 29 February): an event
  of 2024-03-15 counts as of 2025-03-14 and no longer as of 2025-03-15.
- 镇医保〔2024〕82号 三(一)5(1) "签订医保服务协议不满1年的" do not take part: the first year ends
  on the corresponding day (《民法典》第201条, 第202条).
- 济医保字〔2023〕19号 三(五) "不良行为信息有效期届满……后,原信用主体评价结果自动失效": an event
  counts up to and including the last day of its validity (届满, 第1259条).
- 深圳市医保局 2023-12-22 report, 首段 (2021年度、2022年度 cycles): a calendar year evaluated
  after it has ended (``cycle: completed``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import yibao_credit as yc
from yibao_credit.cli.main import main
from yibao_credit.engine.outlook import Outlook, outlook, outlooks_of
from yibao_credit.engine.results import Result, Run
from yibao_credit.engine.run import evaluate
from yibao_credit.policy import Policy, load_policy
from yibao_credit.records.contract import Records
from yibao_credit.records.readers import records_from_python
from yibao_credit.render.results import result_to_dict
from yibao_credit.render.trace import render_text

ROOT = Path(__file__).resolve().parents[1]
ZJ = "镇医保〔2024〕82号"
JN = "济医保字〔2023〕19号"
AS_OF = dt.date(2024, 12, 31)
OLD = "2015-06-01"
THREE, TWO, ONE = "★★★", "★★", "★"
DAY = dt.timedelta(days=1)

_ZJ = load_policy(ROOT / "policies" / "zhenjiang.yaml")
_JN = load_policy(ROOT / "policies" / "jinan.yaml")
_SZ = load_policy(ROOT / "policies" / "shenzhen.yaml")


def inst(
    sid: str = "X", category: str = "hospital", designated_on: str = OLD, **attrs: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": sid,
        "type": "institution",
        "category": category,
        "designated_on": designated_on,
    }
    out.update(attrs)
    return out


def ev(
    eid: str, kind: str, date: dt.date | str, subject: str = "X", **attrs: Any
) -> dict[str, Any]:
    day = date.isoformat() if isinstance(date, dt.date) else date
    return {"id": eid, "subject_id": subject, "kind": kind, "date": day, **attrs}


def run_of(
    pack: Policy, subjects: list[dict[str, Any]], events: list[dict[str, Any]], as_of: dt.date
) -> tuple[Run, Records]:
    records = records_from_python(subjects, events)
    return evaluate(pack.plan, records, as_of), records


def result_of(
    pack: Policy,
    events: list[dict[str, Any]],
    as_of: dt.date = AS_OF,
    subjects: list[dict[str, Any]] | None = None,
    sid: str = "X",
) -> Result:
    run, _ = run_of(pack, subjects or [inst()], events, as_of)
    r = run.get(sid)
    assert r is not None
    return r


def outlook_of(
    pack: Policy,
    events: list[dict[str, Any]],
    as_of: dt.date = AS_OF,
    subjects: list[dict[str, Any]] | None = None,
    sid: str = "X",
) -> tuple[Result, Outlook]:
    run, records = run_of(pack, subjects or [inst()], events, as_of)
    r = run.get(sid)
    assert r is not None
    return r, outlook(r, records, run)


def counted(r: Result) -> set[str]:
    """The ids of every event some event fact of the result counts."""
    return {
        e.id
        for f in r.ruleset.facts
        if f.evidence_slot is not None
        for e in r.values[f.evidence_slot]
    }


# -- 镇医保〔2024〕82号: the one-year lookback ---------------------------------------------------


def test_one_violation_leaves_the_1y_window_on_its_anniversary_zj_3_1_2_1() -> None:
    """三(一)2(1): one violation within 1年之内 → ★★; 三(一)1(1): none → ★★★. The violation of
    2024-03-15 still counts as of 2025-03-14 (★★) and no longer as of 2025-03-15 (★★★)."""
    events = [ev("v1", "violation", "2024-03-15")]
    r, o = outlook_of(_ZJ, events)
    assert r.grade == TWO
    assert [(d.event, d.leaves_on, d.by, d.window) for d in o.departures] == [
        ("v1", dt.date(2025, 3, 15), "window", "lookback_1y")
    ]
    dep = o.departures[0]
    assert dep.then.grade == THREE and dep.clause == f"{ZJ} 三(一)1(1)"
    assert o.improvement == (dt.date(2025, 3, 15), THREE)
    before = result_of(_ZJ, events, dep.leaves_on - DAY)
    on = result_of(_ZJ, events, dep.leaves_on)
    assert (before.grade, "v1" in counted(before)) == (TWO, True)
    assert (on.grade, "v1" in counted(on)) == (THREE, False)


def test_a_29_february_violation_leaves_on_1_march_zj_3_1_2_1_civil_code_202() -> None:
    """《民法典》第202条: as of 2025-02-28 the year back lands on 2024-02-28, so 1年之内 starts
    2024-02-29 and the violation of that day still counts; as of 2025-03-01 it does not."""
    events = [ev("v1", "violation", "2024-02-29")]
    _, o = outlook_of(_ZJ, events)
    assert [d.leaves_on for d in o.departures] == [dt.date(2025, 3, 1)]
    assert result_of(_ZJ, events, dt.date(2025, 2, 28)).grade == TWO
    assert result_of(_ZJ, events, dt.date(2025, 3, 1)).grade == THREE


def test_first_departure_does_not_improve_the_second_does_zj_3_1_1() -> None:
    """三(一)1(1)-(2): ★★★ needs no violation *and* no complaint (verified or not) within 1年之内.
    The violation leaves first (2025-03-01): the unverified complaint still keeps ★★; the
    complaint leaves on 2025-06-01 and the grade becomes ★★★ — the next improvement."""
    events = [
        ev("v1", "violation", "2024-03-01"),
        ev("c1", "complaint", "2024-06-01", verified=False),
    ]
    r, o = outlook_of(_ZJ, events)
    assert r.grade == TWO
    assert [(d.event, d.leaves_on, d.then.grade) for d in o.departures] == [
        ("v1", dt.date(2025, 3, 1), TWO),
        ("c1", dt.date(2025, 6, 1), THREE),
    ]
    assert o.improvement == (dt.date(2025, 6, 1), THREE)
    for dep in o.departures:
        assert result_of(_ZJ, events, dep.leaves_on - DAY).grade == TWO
        assert result_of(_ZJ, events, dep.leaves_on).grade == dep.then.grade


def test_two_violations_one_star_improves_step_by_step_zj_3_1_3_1() -> None:
    """三(一)3(1) 二次及以上 → ★; when the first leaves, 三(一)2(1) 不超过一次 → ★★ (an improvement,
    the next one); when the second leaves → ★★★."""
    events = [ev("v1", "violation", "2024-03-12"), ev("v2", "violation", "2024-09-20")]
    r, o = outlook_of(_ZJ, events)
    assert r.grade == ONE
    assert [(d.leaves_on, d.then.grade) for d in o.departures] == [
        (dt.date(2025, 3, 12), TWO),
        (dt.date(2025, 9, 20), THREE),
    ]
    assert o.improvement == (dt.date(2025, 3, 12), TWO)


def test_events_after_as_of_are_not_part_of_the_outlook() -> None:
    """Nothing new happens: an event dated after as_of (not yet known on it) does not
    count on the later days either."""
    events = [ev("v1", "violation", "2024-03-15"), ev("v2", "violation", "2025-01-10")]
    _, o = outlook_of(_ZJ, events)
    assert [(d.event, d.then.grade) for d in o.departures] == [("v1", THREE)]


def test_since_window_events_never_leave_zj_3_1_5_2() -> None:
    """三(一)5(2) 主动解除服务协议: the termination counts for the whole current agreement
    (window ``since`` designated_on): it never leaves, and the exclusion never ends."""
    events = [ev("t1", "agreement_terminated", "2024-05-01", reason="voluntary")]
    r, o = outlook_of(_ZJ, events)
    assert r.exclusion == "voluntary_termination"
    assert o.departures == ()
    assert [(s.event, s.window) for s in o.stays] == [("t1", "current_agreement")]
    assert o.exclusion_ends_on is None and o.improvement is None
    # the same termination, years later, still excludes
    assert result_of(_ZJ, events, dt.date(2034, 12, 31)).exclusion == "voluntary_termination"


def test_licence_revoked_in_the_agreement_never_leaves_licence_suspended_does_zj_3_1_5_4() -> None:
    """三(一)5(4) 暂停或吊销执业许可: a revocation counts for the current agreement (never leaves);
    a suspension counts within 1年之内 (the pack's reading) and its exclusion ends when it
    leaves."""
    revoked = [ev("r1", "license_revoked", "2024-05-01")]
    _, o = outlook_of(_ZJ, revoked)
    assert o.departures == () and o.exclusion_ends_on is None
    suspended = [ev("s1", "license_suspended", "2024-04-02")]
    r, o = outlook_of(_ZJ, suspended)
    assert r.exclusion == "licence"
    assert o.exclusion_ends_on == dt.date(2025, 4, 2)
    assert o.after_exclusion is not None and o.after_exclusion.grade == THREE
    assert result_of(_ZJ, suspended, dt.date(2025, 4, 1)).exclusion == "licence"
    assert result_of(_ZJ, suspended, dt.date(2025, 4, 2)).grade == THREE


@pytest.mark.parametrize(
    ("designated_on", "ends_on"),
    [
        ("2024-03-01", dt.date(2025, 3, 1)),
        ("2024-02-29", dt.date(2025, 2, 28)),  # 《民法典》第202条: no 29 February in 2025
        ("2024-12-31", dt.date(2025, 12, 31)),
    ],
)
def test_agreement_under_1y_exclusion_ends_on_the_exact_day_zj_3_1_5_1(
    designated_on: str, ends_on: dt.date
) -> None:
    """三(一)5(1) 签订医保服务协议不满1年: the first year ends on the corresponding day of the
    next year (or that month's last day): excluded the day before, evaluated on that day."""
    subjects = [inst(designated_on=designated_on)]
    r, o = outlook_of(_ZJ, [], subjects=subjects)
    assert r.exclusion == "agreement_under_1y"
    assert o.exclusion == "agreement_under_1y" and o.exclusion_ends_on == ends_on
    assert o.after_exclusion is not None and o.after_exclusion.grade == THREE
    assert result_of(_ZJ, [], ends_on - DAY, subjects).exclusion == "agreement_under_1y"
    assert result_of(_ZJ, [], ends_on, subjects).status == "graded"


def test_exclusion_end_with_counted_events_gives_the_grade_then_zj_3_1_5_1() -> None:
    """A store designated 2024-03-01 with two violations (三(一)3(1)): excluded until 2025-03-01,
    then ★ while both violations count; the departures say when it becomes ★★ and ★★★."""
    subjects = [inst(designated_on="2024-03-01")]
    events = [ev("v1", "violation", "2024-07-03"), ev("v2", "violation", "2024-11-12")]
    r, o = outlook_of(_ZJ, events, subjects=subjects)
    assert r.status == "excluded"
    assert o.exclusion_ends_on == dt.date(2025, 3, 1)
    assert o.after_exclusion is not None and o.after_exclusion.grade == ONE
    assert [(d.leaves_on, d.then.grade) for d in o.departures] == [
        (dt.date(2025, 7, 3), TWO),
        (dt.date(2025, 11, 12), THREE),
    ]
    assert o.improvement is None  # an excluded result has no grade to improve on


def test_nothing_counted_nothing_to_wait_for() -> None:
    r, o = outlook_of(_ZJ, [])
    assert r.grade == THREE
    assert o.to_dict() == {
        "on": None,
        "grade": None,
        "events": [],
        "stays": [],
        "exclusion_ends_on": None,
        "after_exclusion": None,
    }


def test_chain_headquarters_outlook_applies_its_roll_up_zj_3_1_4() -> None:
    """三(一)4 有三家被评为★级的,该定点零售药店直接评定为★★级: the headquarters' grade on a
    later day is its own grade capped by its stores' grades that day, so the stores are
    evaluated too."""
    subjects = [inst("L", "pharmacy_chain")] + [
        inst(f"L-S{i}", "pharmacy", chain_id="L") for i in (1, 2, 3)
    ]
    events = [ev(f"f{i}", "fraud", f"2024-0{i}-10", subject=f"L-S{i}") for i in (1, 2, 3)] + [
        ev("v1", "violation", "2024-08-01", subject="L")
    ]
    r, o = outlook_of(_ZJ, events, subjects=subjects, sid="L")
    assert (r.own_grade, r.grade) == (TWO, TWO)
    # The headquarters' own violation leaves on 2025-08-01; by then every store's fraud has
    # left too, so no cap applies and the headquarters is ★★★.
    assert [(d.leaves_on, d.then.grade) for d in o.departures] == [(dt.date(2025, 8, 1), THREE)]
    fresh = result_of(_ZJ, events, dt.date(2025, 8, 1), subjects, "L")
    assert fresh.grade == THREE


# -- 济医保字〔2023〕19号 三(五): validity --------------------------------------------------------


def test_event_expires_under_validity_the_day_after_its_last_day_jn_3_5() -> None:
    """三(五) 不良行为信息有效期届满…自动失效 (validity 1y, provisional): a violation of 2023-03-15
    counts as of 2024-03-15 (届满 includes the last day) and leaves on 2024-03-16."""
    as_of = dt.date(2023, 12, 31)
    events = [ev("c", "commitment", "2020-01-01"), ev("v1", "violation", "2023-03-15")]
    subjects = [inst(designated_on="2015-01-01")]
    r, o = outlook_of(_JN, events, as_of, subjects)
    dep = [d for d in o.departures if d.event == "v1"]
    assert [(d.leaves_on, d.by, d.window, d.clause) for d in dep] == [
        (dt.date(2024, 3, 16), "validity", None, f"{JN} 三(五)")
    ]
    assert [(s.event, s.window) for s in o.stays] == [("c", "current_agreement")]
    before = result_of(_JN, events, dt.date(2024, 3, 15), subjects)
    on = result_of(_JN, events, dt.date(2024, 3, 16), subjects)
    assert "v1" in counted(before) and "v1" not in counted(on)
    assert r.score is not None and before.score == r.score
    assert on.score == dep[0].then.score and on.grade == dep[0].then.grade
    assert on.score is not None and on.score > r.score


def test_validity_longer_than_the_cycle_keeps_the_veto_until_it_ends_jn_3_5() -> None:
    """Fraud's validity (3y, provisional) outlasts the 1-year cycle: the veto (D, provisional)
    holds until 2027-05-16, and the grade improves that day."""
    events = [ev("c", "commitment", "2020-01-01"), ev("f1", "fraud", "2024-05-15")]
    subjects = [inst(designated_on="2015-01-01")]
    r, o = outlook_of(_JN, events, AS_OF, subjects)
    assert r.grade == "D"
    assert [(d.event, d.leaves_on, d.by) for d in o.departures] == [
        ("f1", dt.date(2027, 5, 16), "validity")
    ]
    assert o.improvement == (dt.date(2027, 5, 16), "A")
    assert result_of(_JN, events, dt.date(2027, 5, 15), subjects).grade == "D"
    assert result_of(_JN, events, dt.date(2027, 5, 16), subjects).grade == "A"


def test_a_reward_leaving_its_window_is_listed_with_the_lower_score_jn_3_2() -> None:
    """三(二) 守信信息 count within the cycle: a reward leaving it lowers the score; the outlook
    follows every counted event, not only adverse ones, and it is no improvement."""
    events = [
        ev("c", "commitment", "2020-01-01"),
        ev("w1", "reward", "2024-06-01", points=30),
    ]
    subjects = [inst(designated_on="2015-01-01")]
    r, o = outlook_of(_JN, events, AS_OF, subjects)
    (dep,) = o.departures
    assert (dep.event, dep.leaves_on, dep.window) == ("w1", dt.date(2025, 6, 1), "cycle")
    assert r.score is not None and dep.then.score is not None and dep.then.score < r.score
    assert o.improvement is None


# -- 深圳: a completed calendar year -------------------------------------------------------------


def test_calendar_year_completed_moves_only_when_the_evaluated_year_changes_sz() -> None:
    """首段 (年度 cycles), ``cycle: completed``: as of any day of 2025 up to 2025-12-30 the year
    evaluated is 2024; an event of 2024 leaves on 2025-12-31."""
    subjects = [inst(category="clinic", designated_on="2015-01-01")]
    events = [ev(f"v{i}", "violation", f"2024-0{i}-01") for i in (5, 6, 7)]
    for as_of in (AS_OF, dt.date(2025, 6, 30)):
        r, o = outlook_of(_SZ, events, as_of, subjects)
        assert r.grade == "B"
        assert {d.leaves_on for d in o.departures} == {dt.date(2025, 12, 31)}
        assert o.improvement == (dt.date(2025, 12, 31), "A")
    assert result_of(_SZ, events, dt.date(2025, 12, 30), subjects).grade == "B"
    assert result_of(_SZ, events, dt.date(2025, 12, 31), subjects).grade == "A"


# -- explain ---------------------------------------------------------------------------------


def test_explain_shows_departures_next_improvement_and_exclusion_end_zh_and_en() -> None:
    events = [ev("v1", "violation", "2024-03-15")]
    r, o = outlook_of(_ZJ, events)
    zh = render_text(r, "zh", notes=False, detail="decisive", outlook=o)
    assert "展望(如无新情况):" in zh
    assert (
        f"  - 2025-03-15 v1 (violation, 2024-03-15) 离开窗口“1年之内” → ★★★  [{ZJ} 三(一)1(1)]"
    ) in zh
    assert "  下次改善: 2025-03-15 → ★★★" in zh
    en = render_text(r, "en", notes=False, detail="decisive", outlook=o)
    assert 'leaves the window "within 1 year" → ★★★' in en
    assert "  next improvement: 2025-03-15 → ★★★" in en
    # without an outlook (the API's default) the text is as before
    assert "展望" not in render_text(r, "zh", notes=False)

    subjects = [inst(designated_on="2024-03-01")]
    r, o = outlook_of(_ZJ, [], subjects=subjects)
    zh = render_text(r, "zh", notes=False, detail="decisive", outlook=o)
    step = next(line for line in zh.splitlines() if "签订医保服务协议不满1年" in line)
    assert step.endswith("— 于 2025-03-01 结束")
    assert "  - 排除情形 agreement_under_1y 于 2025-03-01 结束 → ★★★" in zh
    en = render_text(r, "en", notes=False, detail="decisive", outlook=o)
    assert "— ends on 2025-03-01" in en
    assert "  - exclusion agreement_under_1y ends on 2025-03-01 → ★★★" in en


def test_explain_item_and_category_caps_show_raw_and_kept_points_jn_3_2() -> None:
    """三(二) 守信信息 (reward cap 40, provisional): 50 points → 40; 失信信息 (category cap 100):
    base 100, frauds −120 capped at −100 (item) and violations −20: raw −20 → 0."""
    events = [
        ev("c", "commitment", "2020-01-01"),
        ev("w1", "reward", "2024-06-01", points=50),
        ev("v1", "violation", "2024-03-15"),
        ev("v2", "violation", "2024-05-15"),
        *(ev(f"f{i}", "fraud", f"2024-05-1{i}") for i in (5, 6, 7)),
    ]
    r = result_of(_JN, events, AS_OF, [inst(designated_on="2015-01-01")])
    zh = render_text(r, "zh", notes=False)
    assert "评分项 守信加分: 50 → 40 (上限 40)" in zh
    assert "评分项 恶意欺诈骗保: -120 → -100 (上限 100)" in zh
    assert "评分类别 失信信息: -20 → 0 (上限 100)" in zh
    assert "评分项 违法违规记录: -20  (" in zh  # under its cap: no arrow
    en = render_text(r, "en", notes=False)
    assert "reward points: 50 → 40 (cap 40)" in en
    # the JSON trace is as before: the raw points are not stored
    step = next(s for s in result_to_dict(r)["trace"] if s["step"] == "item.trust.rewards")
    assert step["outcome"] == 40


TOTAL_PACK = """\
pack:
  id: outlook_total
  name: {zh: 总分上下限测试}
  jurisdiction: {name: 测试市}
  version: "1"
  effective: {from: 2024-01-01}
  sources:
    - {id: s, number: 测试〔2024〕1号, title: 测试, issuer: 测试局}
windows:
  year: {title: {zh: 近一年}, type: rolling, length: 1y, clause: 一}
rulesets:
  inst:
    title: {zh: 机构}
    applies_to: {type: institution}
    facts:
      rewards:
        title: {zh: 加分}
        op: sum
        of: points
        where: "kind == 'reward'"
        window: year
        clause: 二
      violations:
        {title: {zh: 违规}, op: count, where: "kind == 'violation'", window: year, clause: 二}
    grading:
      type: score
      base: 100
      floor: 0
      ceiling: 100
      clause: 三
      grades:
        - {label: A, title: {zh: 好}}
        - {label: B, title: {zh: 差}}
      categories:
        - id: all
          title: {zh: 全部}
          clause: 三(1)
          items:
            - {id: rewards, title: {zh: 加分}, points: rewards, clause: 三(1)}
            - {id: violations, title: {zh: 违规}, points: -30, per: violations, clause: 三(1)}
      bands:
        - {grade: A, range: "[90, 100]", clause: 三(2)}
        - {grade: B, range: "[0, 90)", clause: 三(2)}
"""


def test_explain_total_ceiling_and_floor_cut_show_raw_total(tmp_path: Path) -> None:
    """The total held within the grading's floor and ceiling: 100 + 6 = 106 → 100; 100 − 120 =
    −20 → 0."""
    path = tmp_path / "outlook_total.yaml"
    path.write_text(TOTAL_PACK, encoding="utf-8")
    pack = load_policy(path)
    subjects = [{"id": "H", "type": "institution"}, {"id": "L", "type": "institution"}]
    events = [
        ev("w1", "reward", "2024-06-01", subject="H", points=6),
        *(ev(f"v{i}", "violation", f"2024-06-0{i}", subject="L") for i in (1, 2, 3, 4)),
    ]
    run, _ = run_of(pack, subjects, events, AS_OF)
    high, low = run.get("H"), run.get("L")
    assert high is not None and low is not None
    assert "总分 总分: 106 → 100 (上限 100)" in render_text(high, "zh", notes=False)
    assert ": 106 → 100 (ceiling 100)" in render_text(high, "en", notes=False)
    assert "总分 总分: -20 → 0 (下限 0)" in render_text(low, "zh", notes=False)


# -- the command line --------------------------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, _err = capsys.readouterr()
    return code, out


EXAMPLES = {
    "zhenjiang": ("examples/zhenjiang", "2024-12-31", ()),
    "jinan": (
        "examples/jinan",
        "2024-12-31",
        ("--history", "tests/golden/inputs/jinan-2023.jsonl"),
    ),
    "shenzhen": ("examples/shenzhen", "2024-12-31", ()),
}


@pytest.mark.parametrize("pack", sorted(EXAMPLES))
def test_next_improvement_is_the_same_on_both_engines(
    pack: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--next-improvement``: the post-pass runs on the Python engine for both; the bytes are
    equal, and without the flag no result has the key."""
    monkeypatch.chdir(ROOT)
    folder, as_of, extra = EXAMPLES[pack]
    args = [
        "evaluate",
        f"policies/{pack}.yaml",
        "--subjects",
        f"{folder}/subjects.jsonl",
        "--events",
        f"{folder}/events.jsonl",
        "--as-of",
        as_of,
        "--quiet",
        *extra,
    ]
    outs = {}
    for engine in ("duckdb", "python"):
        code, outs[engine] = _cli(capsys, *args, "--next-improvement", "--engine", engine)
        assert code == 0
    assert outs["duckdb"] == outs["python"]
    rows = [json.loads(line) for line in outs["python"].splitlines()]
    assert rows and all("next_improvement" in r for r in rows)
    assert any(r["next_improvement"]["events"] for r in rows)
    code, plain = _cli(capsys, *args)
    assert code == 0 and '"next_improvement"' not in plain
    # the rest of each result is as without the flag
    stripped = []
    for line in outs["duckdb"].splitlines():
        row = json.loads(line)
        del row["next_improvement"]
        stripped.append(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
    assert "\n".join(stripped) + "\n" == plain


def test_next_improvement_key_in_json_csv_and_table(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """ZJH004 (two violations, 三(一)3(1) → ★): the first leaves on 2025-03-12 (→ ★★)."""
    monkeypatch.chdir(ROOT)
    base = [
        "evaluate",
        "policies/zhenjiang.yaml",
        "--subjects",
        "examples/zhenjiang/subjects.jsonl",
        "--events",
        "examples/zhenjiang/events.jsonl",
        "--as-of",
        "2024-12-31",
        "--next-improvement",
        "--engine",
        "python",
    ]
    _, out = _cli(capsys, *base, "--trace", "none")
    row = next(json.loads(x) for x in out.splitlines() if '"ZJH004"' in x)
    ni = row["next_improvement"]
    assert (ni["on"], ni["grade"]) == ("2025-03-12", TWO)
    assert [(e["event"], e["leaves_on"], e["grade_then"]) for e in ni["events"]] == [
        ("ZJE0003", "2025-03-12", TWO),
        ("ZJE0004", "2025-09-20", THREE),
    ]
    assert list(row)[-1] == "next_improvement"  # after the contract's keys, before any trace
    excluded = next(json.loads(x) for x in out.splitlines() if '"ZJH011"' in x)
    assert excluded["next_improvement"]["exclusion_ends_on"] == "2025-01-01"
    _, csv_out = _cli(capsys, *base, "--format", "csv")
    header, *lines = csv_out.splitlines()
    assert header.endswith(",next_improvement_on,next_improvement_grade,exclusion_ends_on")
    assert next(x for x in lines if x.startswith("ZJH004,")).endswith(",2025-03-12,★★,")
    assert next(x for x in lines if x.startswith("ZJH011,")).endswith(",,,2025-01-01")
    _, table = _cli(capsys, *base, "--format", "table", "--lang", "en")
    assert table.splitlines()[0].rstrip().endswith("next improvement")
    assert (
        next(x for x in table.splitlines() if x.startswith("ZJH004"))
        .rstrip()
        .endswith("2025-03-12 ★★")
    )


def test_explain_always_shows_the_outlook(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    code, out = _cli(
        capsys,
        "explain",
        "policies/zhenjiang.yaml",
        "--subjects",
        "examples/zhenjiang/subjects.jsonl",
        "--events",
        "examples/zhenjiang/events.jsonl",
        "--as-of",
        "2024-12-31",
        "--subject",
        "ZJH001",
        "--subject",
        "ZJH004",
        "--trace",
        "decisive",
        "--no-notes",
        "--lang",
        "en",
    )
    assert code == 0
    first, second = out.strip().split("\n\n")
    assert first.splitlines()[-2:] == [
        "outlook (if nothing new happens):",
        "  no counted event leaves a window or expires: the result holds as it is",
    ]
    assert second.splitlines()[-1] == "  next improvement: 2025-03-12 → ★★"


# -- properties ------------------------------------------------------------------------------

ZJ_KINDS = ["violation", "complaint", "price_interview", "agreement_breach", "license_suspended"]
JN_KINDS = ["violation", "complaint", "price_interview", "agreement_breach", "fraud", "reward"]


@st.composite
def worlds(draw: st.DrawFn, kinds: list[str]) -> tuple[list[dict[str, Any]], dt.date]:
    as_of = draw(st.dates(dt.date(2024, 1, 1), dt.date(2025, 12, 31)))
    n = draw(st.integers(0, 5))
    events = []
    for i in range(n):
        kind = draw(st.sampled_from(kinds))
        back = draw(st.integers(0, 800))
        attrs: dict[str, Any] = {}
        if kind == "complaint":
            attrs["verified"] = draw(st.booleans())
        if kind == "reward":
            attrs["points"] = draw(st.integers(1, 30))
        events.append(ev(f"e{i}", kind, as_of - dt.timedelta(days=back), **attrs))
    return events, as_of


def _check_predictions(pack: Policy, subjects: list[dict[str, Any]], world: Any) -> None:
    events, as_of = world
    run, records = run_of(pack, subjects, events, as_of)
    for r in run:
        o = outlook(r, records, run)
        for d in o.departures:
            fresh = result_of(pack, events, d.leaves_on, subjects, r.subject.id)
            assert (fresh.status, fresh.grade, fresh.score, fresh.exclusion) == (
                d.then.status,
                d.then.grade,
                d.then.score,
                d.then.exclusion,
            )
            assert d.event not in counted(fresh) or d.by == "window"
            before = result_of(pack, events, d.leaves_on - DAY, subjects, r.subject.id)
            assert d.event in counted(before)
        if o.exclusion_ends_on is not None:
            fresh = result_of(pack, events, o.exclusion_ends_on, subjects, r.subject.id)
            assert fresh.exclusion != o.exclusion
            before = result_of(pack, events, o.exclusion_ends_on - DAY, subjects, r.subject.id)
            assert before.exclusion == o.exclusion


PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(world=worlds(ZJ_KINDS), designated=st.dates(dt.date(2023, 1, 1), dt.date(2025, 6, 30)))
def test_property_zj_predicted_grade_equals_a_fresh_evaluation(
    world: Any, designated: dt.date
) -> None:
    """镇医保〔2024〕82号 三(一): for random events and agreement dates, the grade predicted for
    each departure day (and the exclusion's end) is what a fresh evaluation on that day gives,
    and the event counted the day before."""
    _check_predictions(_ZJ, [inst(designated_on=designated.isoformat())], world)


@PROPERTY
@given(world=worlds(JN_KINDS))
def test_property_jn_validity_predictions_equal_a_fresh_evaluation(world: Any) -> None:
    """济医保字〔2023〕19号 三(五) validity and 三(三) cycle: the same property on a score pack."""
    _check_predictions(_JN, [inst(designated_on="2015-01-01")], world)


@PROPERTY
@given(world=worlds(["violation", "agreement_breach", "reward"]))
def test_property_sz_completed_year_predictions_equal_a_fresh_evaluation(world: Any) -> None:
    """深圳 首段 年度 cycles (``cycle: completed``): the same property over a calendar year
    evaluated after it ends, so events of the running year enter later and events leave at
    once on 31 December."""
    _check_predictions(_SZ, [inst(category="clinic", designated_on="2015-01-01")], world)


@PROPERTY
@given(world=worlds(ZJ_KINDS))
def test_property_leaves_on_is_the_first_day_without_the_event(world: Any) -> None:
    """A window departure: counted on ``leaves_on − 1``, not counted in that window's facts on
    ``leaves_on``; the departures come in day order."""
    events, as_of = world
    run, records = run_of(_ZJ, [inst()], events, as_of)
    r = run.get("X")
    assert r is not None
    o = outlook(r, records, run)
    days = [d.leaves_on for d in o.departures]
    assert days == sorted(days) and all(d > as_of for d in days)
    for d in o.departures:
        on = result_of(_ZJ, events, d.leaves_on)
        in_window = {
            e.id
            for f in on.ruleset.facts
            if f.window == d.window and f.evidence_slot is not None
            for e in on.values[f.evidence_slot]
        }
        assert d.event not in in_window


def test_outlooks_of_many_results_match_one_by_one() -> None:
    subjects = [inst("A"), inst("B", designated_on="2024-06-01")]
    events = [ev("v1", "violation", "2024-03-15", subject="A")]
    run, records = run_of(_ZJ, subjects, events, AS_OF)
    many = outlooks_of(run, records, run)
    for r in run:
        assert many[r.subject.id].to_dict() == outlook(r, records, run).to_dict()


def test_public_api_default_render_is_unchanged_by_the_new_parameter() -> None:
    r = result_of(_ZJ, [ev("v1", "violation", "2024-03-15")])
    assert yc.render_text(r) == render_text(r, "zh", True, "full", None)
