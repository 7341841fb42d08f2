"""The Shenzhen pack (policies/shenzhen.yaml) through the public Python API and the CLI.

Sources: the 深圳市医保局 article of 2023-12-22 (seed 004_c438ed20982a4823.txt; cited as
printed: 一、二、三 with 一是/二是/三是, so 二(一) is 二、一是) and 医保发〔2024〕23号 as
summarised in /work/shared/seeds/README.md (practitioners' points: 9 in a natural year suspend
the 医保支付资格, 12 terminate it, reset on 1 January).

The article prints no point value, band, ratio or group boundary: those are provisional in the
pack and the numbers asserted here follow from them (base 100; per violation −10 clinic and
pharmacy, −6 other hospital, −4 三级 or 500 beds or more; per breach −5 / −3 / −2; per fraud −20;
bonus up to 5 / 8 / 10; bands A+ [102, 110], A [90, 102), B [70, 90), C [0, 70)). What the tests
pin as *published* is the structure: four institution grades, groups by type, level and beds,
deductions and bonus points, the measures of 三 per grade, the practitioners' thresholds 9 and
12 within a natural year, and 失信参保人. Unless a test says otherwise the evaluation is as of
2024-12-31: the evaluation year is 2024-01-01 .. 2024-12-31.

二(二) pre-evaluation, feedback and appeals and 二(三) the district and city review are pack
procedures and review stages: the article prints the steps but no period, so the feedback period
(10 working days after the notification) and the decision period (15 working days after the
feedback) are provisional, and so are the order of the two review levels (district, then city)
and what each may change. The review stages read `credit_info` records (collected → district →
city, the latest stage's value standing); the deadlines are worked out by hand on the 国务院办公厅
calendar in the comments.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import yibao_credit as yc
from yibao_credit.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
PACK_PATH = ROOT / "policies" / "shenzhen.yaml"
EXAMPLES = ROOT / "examples" / "shenzhen"
ART = "深圳市医保局 2023-12-22 信用评价工作报道"
NHSA = "医保发〔2024〕23号"
AS_OF = dt.date(2024, 12, 31)
MID = "2024-06-15"
RANK = {"A+": 0, "A": 1, "B": 2, "C": 3}
"""Institution grades, best first (二(三) lists A+级、A级、B级、C级)."""

PACK = yc.load_policy(PACK_PATH)


# -- record builders and trace access --------------------------------------------------------


def inst(sid: str, category: str = "clinic", **attrs: Any) -> dict[str, Any]:
    """A designated institution (定点医药机构) as the data contract gives it."""
    return {"id": sid, "type": "institution", "category": category, **attrs}


def doctor(sid: str, category: str = "physician") -> dict[str, Any]:
    """A 医保医师 or 医保药师 (医保从业人员)."""
    return {"id": sid, "type": "practitioner", "category": category}


def insured(sid: str) -> dict[str, Any]:
    return {"id": sid, "type": "insured"}


def ev(eid: str, sid: str, kind: str, date: str = MID, **attrs: Any) -> dict[str, Any]:
    return {"id": eid, "subject_id": sid, "kind": kind, "date": date, **attrs}


def evaluate(
    subjects: list[dict[str, Any]],
    events: list[dict[str, Any]] | None = None,
    as_of: dt.date = AS_OF,
) -> yc.Run:
    run: yc.Run = PACK.evaluate(subjects, events or [], as_of=as_of)
    return run


def one(
    subject: dict[str, Any], events: list[dict[str, Any]] | None = None, as_of: dt.date = AS_OF
) -> yc.Result:
    r = evaluate([subject], events, as_of).get(subject["id"])
    assert r is not None
    return r


def contract(r: yc.Result) -> dict[str, Any]:
    """``result_to_dict`` through a JSON round trip: what another system receives."""
    out: dict[str, Any] = json.loads(json.dumps(yc.result_to_dict(r), ensure_ascii=False))
    return out


def step(r: yc.Result, name: str) -> dict[str, Any]:
    found = [s for s in contract(r)["trace"] if s["step"] == name]
    assert len(found) == 1, f"{name!r} occurs {len(found)} times in the trace"
    return found[0]


def decided_by(r: yc.Result) -> str:
    return [s["step"] for s in contract(r)["trace"] if s.get("decisive")][-1]


def measures(r: yc.Result) -> list[str]:
    return [m["id"] for m in contract(r)["measures"]]


def violations(sid: str, n: int, kind: str = "violation") -> list[dict[str, Any]]:
    """``n`` events of a kind within the 2024 evaluation year."""
    return [ev(f"{sid}-{kind}-{i}", sid, kind, f"2024-{i + 1:02d}-10") for i in range(n)]


def reward(sid: str, points: float, date: str = MID, eid: str | None = None) -> dict[str, Any]:
    return ev(eid or f"{sid}-w-{points}-{date}", sid, "reward", date, points=points)


def points(sid: str, values: list[tuple[str, int]]) -> list[dict[str, Any]]:
    return [ev(f"{sid}-p{i}", sid, "points", d, points=p) for i, (d, p) in enumerate(values)]


# -- the pack and its sources -----------------------------------------------------------------


def test_pack_names_both_sources_and_says_what_is_provisional() -> None:
    """The article (dated 2023-12-22) and 医保发〔2024〕23号 are the pack's sources; the
    description separates what is published from what is provisional."""
    meta = PACK.model.pack
    numbers = {s.id: s.number for s in meta.sources}
    assert numbers == {"sz_article": ART, "nhsa_2024_23": NHSA}
    assert meta.sources[0].date == dt.date(2023, 12, 22)
    assert meta.sources[0].seed == "004_c438ed20982a4823.txt"
    assert meta.description is not None
    assert "Published" in meta.description and "Provisional" in meta.description


def test_every_published_clause_is_cited_in_the_example_results() -> None:
    """Each section of the article the pack encodes, and 医保发〔2024〕23号, shows up as a clause
    of some trace step or measure when the example data set is evaluated."""
    records = yc.load_records(EXAMPLES / "subjects.jsonl", EXAMPLES / "events.jsonl")
    run = PACK.evaluate(records, as_of=AS_OF)
    cited: set[str] = set()
    for r in run:
        d = contract(r)
        cited |= {s["clause"] for s in d["trace"] if s["clause"]}
        cited |= {m["clause"] for m in d["measures"] if m["clause"]}
    for clause in ["首段", "一(三)", "二(一)", "二(二)", "二(三)", "三(一)", "三(二)", "三(三)"]:
        assert f"{ART} {clause}" in cited, clause
    nhsa = {c for c in cited if c.startswith(NHSA)}
    assert any("9分暂停" in c for c in nhsa)
    assert any("12分终止" in c for c in nhsa)
    assert any("自然年度" in c for c in nhsa)
    assert all(c.startswith((ART, NHSA)) for c in cited)


# -- 二(一)/二(三) institution scores and bands --------------------------------------------------


@pytest.mark.parametrize(
    ("events", "score", "grade"),
    [
        ([reward("C", 2)], 102, "A+"),
        ([reward("C", 1)], 101, "A"),
        ([], 100, "A"),
        (violations("C", 1), 90, "A"),
        (violations("C", 1) + violations("C", 1, "agreement_breach") + [reward("C", 4)], 89, "B"),
        (violations("C", 3), 70, "B"),
        ([*violations("C", 3), reward("C", 1), *violations("C", 1, "agreement_breach")], 66, "C"),
        (violations("C", 3) + violations("C", 1, "agreement_breach"), 65, "C"),
    ],
    ids=["102-A+", "101-A", "100-A", "90-A", "89-B", "70-B", "66-C", "65-C"],
)
def test_band_edges_for_a_clinic(events: list[dict[str, Any]], score: float, grade: str) -> None:
    """二(三) A+/A/B/C from the score (bands provisional): each band's lower edge belongs to it
    — exactly 102 is A+, exactly 90 is A, exactly 70 is B — and one point less does not."""
    r = one(inst("C"), events)
    assert (r.status, r.score, r.grade) == ("graded", score, grade)
    assert decided_by(r) == f"grade.{grade}"
    band = step(r, f"grade.{grade}")
    assert band["clause"] is None and "provisional" in band


def test_deductions_cite_2_1_and_the_score_cites_2_3() -> None:
    """二(一) 违法违约扣分信息: a violation and a breach each deduct, cited to 二(一); the score is
    二(三) 按客观标准完成评价."""
    r = one(inst("C"), violations("C", 1) + violations("C", 1, "agreement_breach"))
    assert step(r, "item.deductions.violations")["outcome"] == -10
    assert step(r, "item.deductions.breaches")["outcome"] == -5
    assert step(r, "item.deductions.violations")["evidence"] == ["C-violation-0"]
    assert step(r, "item.deductions.violations")["clause"] == f"{ART} 二(一)"
    assert step(r, "score")["outcome"] == 85
    assert step(r, "score")["clause"] == f"{ART} 二(三)"
    assert r.grade == "B"


def test_bonus_points_for_reporting_fraud_raise_the_score_up_to_the_cap() -> None:
    """二(一) 举报欺诈骗保等加分信息: reward points add to the score (B → A here), up to the
    group's cap (5 for a clinic)."""
    base = violations("C", 1) + violations("C", 1, "agreement_breach")
    without = one(inst("C"), base)
    with_bonus = one(inst("C"), [*base, reward("C", 5)])
    capped = one(inst("C"), [*base, reward("C", 5), reward("C", 10, "2024-08-01")])
    assert (without.score, without.grade) == (85, "B")
    assert (with_bonus.score, with_bonus.grade) == (90, "A")
    assert (capped.score, capped.grade) == (90, "A")
    assert step(capped, "fact.rewards")["outcome"] == 15
    assert step(capped, "item.bonus.rewards")["outcome"] == 5
    assert step(capped, "item.bonus.rewards")["clause"] == f"{ART} 二(一)"


def test_the_evaluation_year_is_the_calendar_year() -> None:
    """首段 2021年度、2022年度: an event of 2023-12-31 is in the 2023 cycle; one of 2024-01-01 and
    one of 2024-12-31 are in the 2024 cycle (evaluated as of 2024-12-31)."""
    events = [
        ev("v0", "C", "violation", "2023-12-31"),
        ev("v1", "C", "violation", "2024-01-01"),
        ev("w1", "C", "reward", "2024-12-31", points=3),
    ]
    r = one(inst("C"), events)
    window = step(r, "window.evaluation_year")
    assert window["outcome"] == {"from": "2024-01-01", "to": "2024-12-31"}
    assert window["clause"] == f"{ART} 首段"
    assert step(r, "fact.violations")["evidence"] == ["v1"]
    assert (r.score, r.grade) == (93, "A")


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_2_2_evaluating_2024_as_of_2025_evaluates_2024_not_part_of_2025(engine: str) -> None:
    """Issue 14 item 3 (首段, 二(二), 三(三)): the 2024 results are made after the year — the
    pre-evaluation, feedback and appeals, the two-level review — so a run as of 2025-03-01
    evaluates 2024. A clinic with two 2024 violations is B 80 and keeps its settlement
    reduction; read to date it would have been A 100 (no 2025 events) and lost it."""
    events = [ev("v1", "C", "violation", "2024-04-10"), ev("v2", "C", "violation", "2024-09-10")]
    run = PACK.evaluate([inst("C")], events, as_of=dt.date(2025, 3, 1), engine=engine)
    r = run.get("C")
    assert r is not None and run.warnings == []
    assert (r.score, r.grade) == (80, "B")
    assert contract(r)["period"] == {"from": "2024-01-01", "to": "2024-12-31"}
    assert "settlement_reduction_b" in measures(r)
    assert step(r, "fact.violations")["evidence"] == ["v1", "v2"]


# -- 二(一) veto (provisional) -------------------------------------------------------------------


def test_fraud_veto_overrides_a_score_in_band_a() -> None:
    """A fraud forces C whatever the score (provisional veto under 二(一)): a large hospital with
    a fraud (−20) and 10 bonus points scores 90, band A, and is C."""
    subject = inst("H", "hospital", level="三级", beds=2000)
    r = one(subject, [ev("f1", "H", "fraud", amount=50000.0), reward("H", 10)])
    assert r.score == 90
    assert r.grade == "C"
    assert decided_by(r) == "veto.fraud"
    veto = step(r, "veto.fraud")
    assert veto["outcome"] is True
    assert veto["clause"] == f"{ART} 二(一)" and "provisional" in veto
    assert not [s for s in contract(r)["trace"] if s["step"].startswith("grade.")]
    assert "settlement_reduction_c" in measures(r)


def test_fraud_outside_the_evaluation_year_forces_nothing() -> None:
    r = one(inst("H", "hospital", level="三级", beds=2000), [ev("f0", "H", "fraud", "2023-08-01")])
    assert (r.score, r.grade) == (100, "A")
    assert step(r, "veto.fraud")["outcome"] is False


# -- 二(一) evaluation groups by type, level and beds --------------------------------------------


@pytest.mark.parametrize(
    ("subject", "group", "score"),
    [
        (inst("X", "hospital", level="三级", beds=100), "large_hospital", 96),
        (inst("X", "hospital", level="三级"), "large_hospital", 96),
        (inst("X", "hospital", level="二级", beds=500), "large_hospital", 96),
        (inst("X", "hospital", level="未定级", beds=500), "large_hospital", 96),
        (inst("X", "hospital", level="二级", beds=499), "other_hospital", 94),
        (inst("X", "hospital", level="一级", beds=80), "other_hospital", 94),
        (inst("X", "hospital"), "other_hospital", 94),
        (inst("X", "clinic", beds=600), "clinic", 90),
        (inst("X", "pharmacy"), "pharmacy", 90),
        (inst("X", "pharmacy_chain"), "pharmacy", 90),
    ],
    ids=[
        "三级-100beds",
        "三级-no-beds",
        "二级-500beds",
        "未定级-500beds",
        "二级-499beds",
        "一级-80beds",
        "hospital-no-level-no-beds",
        "clinic-600beds",
        "pharmacy",
        "chain-headquarters",
    ],
)
def test_groups_by_type_level_and_beds(subject: dict[str, Any], group: str, score: float) -> None:
    """二(一) 按机构类型、级别和床位情况分级分类评价: 三级 or 500 beds or more (以上 includes 500)
    is a large hospital; 499 beds is not; a clinic is a clinic whatever its beds. One violation
    deducts the group's own value (−4 / −6 / −10)."""
    r = one(subject, violations("X", 1))
    assert r.group == group
    g = step(r, f"group.{group}")
    assert g["outcome"] == group and g["clause"] == f"{ART} 二(一)"
    assert r.score == score


def test_group_specific_parameters_change_the_grade_of_the_same_record() -> None:
    """二(一): the same record (two violations, one breach) is A in a large hospital (−10 → 90),
    B in another hospital (−15 → 85) and B in a clinic (−25 → 75)."""
    subjects = [
        inst("L", "hospital", level="三级", beds=1200),
        inst("O", "hospital", level="二级", beds=300),
        inst("C", "clinic"),
    ]
    events = [
        e
        for sid in ("L", "O", "C")
        for e in violations(sid, 2) + violations(sid, 1, "agreement_breach")
    ]
    run = evaluate(subjects, events)
    got = {r.subject_id: (r.group, r.score, r.grade) for r in run}
    assert got == {
        "L": ("large_hospital", 90, "A"),
        "O": ("other_hospital", 85, "B"),
        "C": ("clinic", 75, "B"),
    }


# -- 三 measures per grade -----------------------------------------------------------------------

INSTITUTION_MEASURES = {
    "A+": ["publish_results", "fewer_routine_inspections"],
    "A": ["publish_results"],
    "B": [
        "publish_results",
        "interview_person_in_charge",
        "more_inspections",
        "joint_special_inspection",
        "settlement_reduction_b",
    ],
    "C": [
        "publish_results",
        "interview_person_in_charge",
        "more_inspections",
        "joint_special_inspection",
        "settlement_reduction_c",
    ],
}


@pytest.mark.parametrize(
    ("events", "grade"),
    [
        ([reward("C", 5)], "A+"),
        ([], "A"),
        (violations("C", 2), "B"),
        (violations("C", 4), "C"),
    ],
    ids=["A+", "A", "B", "C"],
)
def test_measures_per_grade(events: list[dict[str, Any]], grade: str) -> None:
    """三(一) every result is published; 三(二) A+ fewer routine inspections, B and C an
    interview of the person in charge, more inspections and a joint inspection with the health
    and market regulators; 三(三) B and C lower prepayment and deposit repayment."""
    r = one(inst("C"), events)
    assert r.grade == grade
    assert measures(r) == INSTITUTION_MEASURES[grade]
    clauses = {m["id"]: m["clause"] for m in contract(r)["measures"]}
    expected = {
        "publish_results": "三(一)",
        "fewer_routine_inspections": "三(二)",
        "interview_person_in_charge": "三(二)",
        "more_inspections": "三(二)",
        "joint_special_inspection": "三(二)",
        "settlement_reduction_b": "三(三)",
        "settlement_reduction_c": "三(三)",
    }
    assert clauses == {m: f"{ART} {expected[m]}" for m in INSTITUTION_MEASURES[grade]}


def test_settlement_ratios_differ_for_b_and_c_and_are_provisional() -> None:
    """三(三) 按不同比例: B and C at different ratios (C the larger, a reading); the article
    prints none, so both are provisional."""
    b = one(inst("C"), violations("C", 2))
    c = one(inst("C"), violations("C", 4))
    mb = next(m for m in contract(b)["measures"] if m["id"] == "settlement_reduction_b")
    mc = next(m for m in contract(c)["measures"] if m["id"] == "settlement_reduction_c")
    for key in ("prepayment_reduction", "quality_deposit_reduction"):
        assert 0 < mb["params"][key] < mc["params"][key] < 1
    assert "provisional" in mb and "provisional" in mc
    assert "provisional" not in next(
        m for m in contract(b)["measures"] if m["id"] == "interview_person_in_charge"
    )


# -- 一(三) credit repair ------------------------------------------------------------------------


def test_repair_neutralises_a_violation_from_its_own_date() -> None:
    """一(三) 信用修复: a granted repair dated 2024-10-01 removes the violation it names as of that
    day (two violations → one: B 80 → A 90), not the day before. The year evaluated is the
    last one ended (首段, 二(二)), so the two days are evaluated as of the next year's: as of
    2025-10-01 and 2025-09-30 the year is still 2024, the repair counting from its own date."""
    events = [*violations("C", 2), ev("r1", "C", "repair", "2025-10-01", repairs="C-violation-1")]
    before = one(inst("C"), events, dt.date(2025, 9, 30))
    on_day = one(inst("C"), events, dt.date(2025, 10, 1))
    assert (before.score, before.grade) == (80, "B")
    assert (on_day.score, on_day.grade) == (90, "A")
    for r in (before, on_day):
        assert contract(r)["period"] == {"from": "2024-01-01", "to": "2024-12-31"}
    repair = step(on_day, "repair")
    assert repair["evidence"] == ["C-violation-1"]
    assert repair["clause"] == f"{ART} 一(三)"


@pytest.mark.parametrize(
    ("subject", "target"),
    [
        (inst("C"), ev("f1", "C", "fraud")),
        (doctor("C"), ev("f1", "C", "points", points=6)),
    ],
    ids=["fraud", "practitioner-points"],
)
def test_repair_scope_excludes_fraud_and_practitioner_points(
    subject: dict[str, Any], target: dict[str, Any]
) -> None:
    """一(三) speaks of 违规定点医药机构: the pack (provisionally) repairs violations and breaches
    only; a repair naming a fraud or a practitioner's points is an input error, never a no-op."""
    with pytest.raises(yc.RecordError) as info:
        evaluate([subject], [target, ev("r1", "C", "repair", "2024-10-01", repairs="f1")])
    assert [p.code for p in info.value.problems] == ["record.event.repair-target"]


# -- practitioners: 二(三) A+/A/B and 医保发〔2024〕23号 -----------------------------------------


def test_practitioner_points_8_to_9_suspend_payment_eligibility() -> None:
    """医保发〔2024〕23号: reaching 9 points in a natural year suspends the 医保支付资格 (达到
    includes 9). 8 points is A; one more point within the year makes it B with the suspension."""
    eight = points("D", [("2024-02-01", 5), ("2024-07-01", 3)])
    r8 = one(doctor("D"), eight)
    r9 = one(doctor("D"), [*eight, ev("D-p9", "D", "points", "2024-11-01", points=1)])
    assert (r8.grade, step(r8, "fact.points_this_year")["outcome"]) == ("A", 8)
    assert "payment_eligibility" not in measures(r8)
    assert (r9.grade, step(r9, "fact.points_this_year")["outcome"]) == ("B", 9)
    suspension = step(r9, "criterion.payment_suspension")
    assert suspension["outcome"] is True
    assert suspension["clause"].startswith(NHSA) and "9分暂停" in suspension["clause"]
    assert "provisional" not in suspension
    assert step(r9, "criterion.payment_termination")["outcome"] is False
    assert measures(r9) == ["publish_results", "payment_eligibility"]


def test_practitioner_points_11_to_12_terminate_payment_eligibility() -> None:
    """医保发〔2024〕23号: 11 points is still a suspension; reaching 12 within the year terminates
    the 医保支付资格 (the two criteria are exclusive)."""
    eleven = points("D", [("2024-01-15", 6), ("2024-05-01", 5)])
    r11 = one(doctor("D"), eleven)
    r12 = one(doctor("D"), [*eleven, ev("D-p12", "D", "points", "2024-12-31", points=1)])
    assert step(r11, "criterion.payment_suspension")["outcome"] is True
    assert step(r11, "criterion.payment_termination")["outcome"] is False
    termination = step(r12, "criterion.payment_termination")
    assert termination["outcome"] is True and "12分终止" in termination["clause"]
    assert step(r12, "criterion.payment_suspension")["outcome"] is False
    assert (r11.grade, r12.grade) == ("B", "B")
    assert step(r12, "grade.B")["inputs"]["matched"] == ["payment_termination"]
    assert step(r11, "grade.B")["inputs"]["matched"] == ["payment_suspension"]
    measure = next(m for m in contract(r12)["measures"] if m["id"] == "payment_eligibility")
    assert measure["params"]["suspend_at_points"] == 9
    assert measure["params"]["terminate_at_points"] == 12
    assert measure["params"]["suspension_months"] == [1, 6]


def test_practitioner_points_reset_on_1_january() -> None:
    """医保发〔2024〕23号 自然年度内累计: points dated 2024-12-31 count in the 2024 year and not in
    2025, whose points start from zero. The year evaluated is the last one ended (二(三): the
    practitioners' grades are results of the yearly evaluation): as of 2025-01-01 it is still
    2024, with its 12 points; the 2025 year, evaluated as of 2025-12-31, has only D-new."""
    events = points("D", [("2024-03-01", 6), ("2024-12-31", 6)])
    events.append(ev("D-new", "D", "points", "2025-01-01", points=2))
    last_day = one(doctor("D"), events, dt.date(2024, 12, 31))
    next_day = one(doctor("D"), events, dt.date(2025, 1, 1))
    new_year = one(doctor("D"), events, dt.date(2025, 12, 31))
    assert (last_day.grade, step(last_day, "fact.points_this_year")["outcome"]) == ("B", 12)
    assert (next_day.grade, step(next_day, "fact.points_this_year")["outcome"]) == ("B", 12)
    assert step(next_day, "window.natural_year")["outcome"] == {
        "from": "2024-01-01",
        "to": "2024-12-31",
    }
    assert (new_year.grade, step(new_year, "fact.points_this_year")["outcome"]) == ("A", 2)
    assert step(new_year, "fact.points_this_year")["evidence"] == ["D-new"]
    assert step(new_year, "window.natural_year")["outcome"] == {
        "from": "2025-01-01",
        "to": "2025-12-31",
    }


def test_practitioner_without_points_is_a_plus_and_the_mapping_is_provisional() -> None:
    """二(三) 医保从业人员 A+/A/B: the grades are published, how points map to them is not; the
    23号 thresholds are cited, not provisional."""
    r = one(doctor("D", "pharmacist"))
    assert r.grade == "A+" and decided_by(r) == "grade.default"
    assert "provisional" in step(r, "grade.default")
    assert r.ruleset.grades == ("A+", "A", "B")
    thresholds = {n: PACK.model.parameters[n] for n in ("suspension_points", "termination_points")}
    for name, param in thresholds.items():
        [entry] = param.values.values()
        assert entry.provisional is None and entry.clause is not None, name
    assert [e.value for p in thresholds.values() for e in p.values.values()] == [9, 12]


# -- insured persons: 二(二)/二(三) 失信参保人 ---------------------------------------------------


def test_insured_with_fraud_is_shixin_and_notified_by_sms() -> None:
    """二(二) 向失信参保人发送政务短信, 二(三) 失信参保人: a fraud in the evaluation year makes an
    insured person 失信 (the criterion is provisional); others are 守信."""
    events = [ev("f1", "I1", "fraud", "2024-04-01"), ev("f0", "I3", "fraud", "2023-11-01")]
    run = evaluate([insured("I1"), insured("I2"), insured("I3")], events)
    got = {r.subject_id: r.grade for r in run}
    assert got == {"I1": "失信", "I2": "守信", "I3": "守信"}
    r1 = run.get("I1")
    assert r1 is not None
    assert measures(r1) == ["sms_notice", "public_credit_report"]
    sms = contract(r1)["measures"][0]
    assert sms["clause"] == f"{ART} 二(二)" and sms["params"]["channel"] == "政务短信"
    assert "provisional" in step(r1, "criterion.fraud")
    r2 = run.get("I2")
    assert r2 is not None and measures(r2) == []


# -- provisional values ------------------------------------------------------------------------


def test_every_institution_result_depends_on_provisional_values() -> None:
    """No institution grade rests on published numbers alone: the count is > 0 for each."""
    subjects = [
        inst("C"),
        inst("P", "pharmacy"),
        inst("H", "hospital", level="三级", beds=900),
        inst("O", "hospital", level="一级", beds=50),
    ]
    run = evaluate(subjects, [*violations("C", 1), reward("P", 3), ev("f", "H", "fraud")])
    for r in run:
        assert contract(r)["provisional"] > 0, r.subject_id


def test_validate_provisional_lists_the_provisional_values(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Principle 2: ``yibao-credit validate --provisional`` lists each provisional value with its
    line; the published 9- and 12-point thresholds are not among them."""
    assert main(["validate", str(PACK_PATH), "--provisional"]) == 0
    out = capsys.readouterr().out.splitlines()
    m = re.search(r"(\d+) provisional value\(s\)", out[0])
    assert m is not None
    listed = out[1:]
    assert int(m[1]) == len(listed) == len(PACK.provisional()) > 0
    paths = [line.split(": ")[1] for line in listed]
    for expected in [
        "parameters.violation_points.values.2024-01-01",
        "parameters.reward_cap.values.2024-01-01",
        "repair",
        "rulesets.institution.groups[0]",
        "rulesets.institution.grading",
        "rulesets.institution.grading.vetoes[0]",
        "rulesets.institution.grading.bands[1]",
        "rulesets.institution.measures[5]",
        "rulesets.institution.measures[6]",
        "rulesets.practitioner.grading.rules[0]",
        "rulesets.insured.grading.rules[0]",
        "procedures[0]",
        "procedures[1]",
        "review",
    ]:
        assert expected in paths, expected
    assert not any("suspension_points" in p or "termination_points" in p for p in paths)
    for line, value in zip(listed, PACK.provisional(), strict=True):
        assert line.startswith(f"  {PACK_PATH}:{value.line}: {value.path}: provisional: ")


# -- property: a deduction never helps ---------------------------------------------------------

SUBJECTS = [
    inst("L", "hospital", level="三级", beds=1500),
    inst("O", "hospital", level="二级", beds=300),
    inst("C", "clinic"),
    inst("P", "pharmacy"),
]
DAYS = st.integers(min_value=0, max_value=500).map(
    lambda d: (dt.date(2024, 12, 31) - dt.timedelta(days=d)).isoformat()
)
EVENT = st.tuples(
    st.sampled_from([s["id"] for s in SUBJECTS]),
    st.sampled_from(["violation", "agreement_breach", "fraud", "reward", "reward"]),
    DAYS,
    st.integers(min_value=1, max_value=6),
)
DEDUCTION = st.tuples(
    st.sampled_from([s["id"] for s in SUBJECTS]),
    st.sampled_from(["violation", "agreement_breach", "fraud"]),
    DAYS,
)


def _events(drawn: list[tuple[str, str, str, int]]) -> list[dict[str, Any]]:
    out = []
    for i, (sid, kind, date, pts) in enumerate(drawn):
        extra = {"points": pts} if kind == "reward" else {}
        out.append(ev(f"e{i}", sid, kind, date, **extra))
    return out


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=st.lists(EVENT, max_size=14), added=DEDUCTION)
def test_adding_a_deduction_never_raises_a_score_or_improves_a_grade(
    world: list[tuple[str, str, str, int]], added: tuple[str, str, str]
) -> None:
    """二(一) 违法违约扣分: one more violation, breach or fraud never raises any institution's
    score and never gives it a better grade (the fraud veto only makes it worse)."""
    events = _events(world)
    before = {r.subject_id: r for r in evaluate(SUBJECTS, events)}
    sid, kind, date = added
    after = {r.subject_id: r for r in evaluate(SUBJECTS, [*events, ev("new", sid, kind, date)])}
    for s in SUBJECTS:
        b, a = before[s["id"]], after[s["id"]]
        assert b.score is not None and a.score is not None
        assert a.score <= b.score
        assert b.grade is not None and a.grade is not None
        assert RANK[a.grade] >= RANK[b.grade]
        if s["id"] != sid:
            assert (a.score, a.grade) == (b.score, b.grade)


# -- the example data set ------------------------------------------------------------------------

EXPECTED_EXAMPLE: dict[str, tuple[str, float | None, str | None]] = {
    "SZH001": ("A+", 104, "large_hospital"),
    "SZH002": ("C", 72, "large_hospital"),
    "SZH003": ("B", 88, "large_hospital"),
    "SZH004": ("A", 97, "other_hospital"),
    "SZH005": ("A", 94, "other_hospital"),
    "SZC001": ("A+", 102, "clinic"),
    "SZC002": ("B", 70, "clinic"),
    "SZC003": ("C", 65, "clinic"),
    "SZP001": ("A", 90, "pharmacy"),
    "SZP002": ("A+", 105, "pharmacy"),
    "SZP003": ("A", 95, "pharmacy"),
    "SZP004": ("B", 80, "pharmacy"),
    "SZD001": ("A+", None, None),
    "SZD002": ("A", None, None),
    "SZD003": ("B", None, None),
    "SZD004": ("B", None, None),
    "SZD005": ("A", None, None),
    "SZD006": ("A", None, None),
    "SZI001": ("失信", None, None),
    "SZI002": ("守信", None, None),
    "SZI003": ("守信", None, None),
}
"""examples/shenzhen/README.md, "Expected outcomes as of 2024-12-31"."""


def test_example_data_set_gives_the_readme_outcomes() -> None:
    records = yc.load_records(EXAMPLES / "subjects.jsonl", EXAMPLES / "events.jsonl")
    run = PACK.evaluate(records, as_of=AS_OF)
    assert run.warnings == []
    got = {r.subject_id: (r.grade, r.score, r.group) for r in run}
    assert got == EXPECTED_EXAMPLE
    szh002 = run.get("SZH002")
    assert szh002 is not None and decided_by(szh002) == "veto.fraud"
    termination = run.get("SZD004")
    assert termination is not None
    assert step(termination, "criterion.payment_termination")["outcome"] is True
    # 首段, 二(二): the results of 2024 are made in 2025 — as of any day of 2025 before its
    # last, the year evaluated is still 2024 and every result is the same.
    later = PACK.evaluate(records, as_of=dt.date(2025, 3, 1))
    assert later.warnings == []
    assert {r.subject_id: (r.grade, r.score, r.group) for r in later} == EXPECTED_EXAMPLE
    # 医保发〔2024〕23号 reset on 1 January: the 2025 year counts none of the 2024 points.
    reset = {r.subject_id: r.grade for r in PACK.evaluate(records, as_of=dt.date(2025, 12, 31))}
    assert {sid: g for sid, g in reset.items() if sid.startswith("SZD")} == dict.fromkeys(
        ["SZD001", "SZD002", "SZD003", "SZD004", "SZD005", "SZD006"], "A+"
    )


# -- 二(二) pre-evaluation, feedback and appeals; 二(三) the district and city review ------------
#
# Deadlines, worked out by hand (国办发明电〔2024〕12号: 劳动节 5月1日至5日放假, 4月27日(日)上班;
# 端午节 5月31日至6月2日). Notified Fri 2025-04-25: 04-26 Sat not counted; 04-27 Sun (调休上班) =1;
# 04-28..30 =2..4; 05-01..05 off; 05-06..09 =5..8; 05-10, 11 weekend; 05-12 =9; 05-13 Tue =10.
# Feedback on 05-13: 05-14..16 =1..3; 05-19..23 =4..8; 05-26..30 =9..13; 05-31..06-02 off;
# 06-03 =14; 06-04 Wed =15. Feedback on 05-06: 05-07..09 =1..3; 05-12..16 =4..8; 05-19..23
# =9..13; 05-26 =14; 05-27 Tue =15.

ENGINES = ["python", "duckdb"]
NOTIFIED_ON = "2025-04-25"
FEEDBACK_CLOSES = "2025-05-13"
"""The 10th working day after 2025-04-25 (the provisional feedback period of 二(二))."""
DECISION_DUE = "2025-06-04"
"""The 15th working day after feedback received on 2025-05-13 (provisional, 二(二))."""


def info(
    sid: str, key: str, stage: str, indicator: str, value: float, date: str = MID
) -> dict[str, Any]:
    """One piece of credit information (二(一)) as one review stage has it (二(三))."""
    return ev(
        f"{sid}-{key}-{stage}-{indicator}",
        sid,
        "credit_info",
        date,
        stage=stage,
        info=key,
        indicator=indicator,
        value=value,
    )


def proc(sid: str, step_name: str, date: str, **extra: Any) -> dict[str, Any]:
    return {"id": f"{sid}-{step_name}", "subject_id": sid, "step": step_name, "date": date, **extra}


def staged(
    subject: dict[str, Any],
    events: list[dict[str, Any]] | None = None,
    procedures: list[dict[str, Any]] | None = None,
    on: dt.date | None = None,
    engine: str = "python",
) -> yc.Result:
    run = PACK.evaluate(
        [subject], events or [], as_of=AS_OF, procedures=procedures, on=on, engine=engine
    )
    r = run.get(subject["id"])
    assert r is not None
    return r


def life(r: yc.Result) -> dict[str, Any]:
    found: dict[str, Any] = contract(r)["lifecycle"]
    return found


def stages(r: yc.Result) -> list[tuple[str, Any, Any]]:
    return [(s["stage"], s["score"], s["grade"]) for s in step(r, "review")["inputs"]["stages"]]


TWO_VIOLATIONS = [
    info("C", "X1", "collected", "violation", 1, "2024-03-12"),
    info("C", "X2", "collected", "violation", 1, "2024-08-20"),
]
"""As collected (二(一)): two violations of a clinic → 80, B (the pre-evaluation result)."""


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("received", "in_time", "stage"),
    [(FEEDBACK_CLOSES, True, "under_review"), ("2025-05-14", False, "final")],
    ids=["10th-working-day", "the-day-after"],
)
def test_2_2_feedback_on_the_pre_evaluation_is_due_within_10_working_days(
    received: str, in_time: bool, stage: str, engine: str
) -> None:
    """二(二) 在期限内收到反馈申诉意见: feedback on the 10th working day after the notification
    is in time (期限内 includes its last day), the day after is late and the result stands. The
    period starts the day after the notification (《民法典》第201条), counts the make-up working
    day 2025-04-27 and skips 劳动节. Its length and unit are provisional: the article prints
    none."""
    events = violations("C", 2)
    r = staged(
        inst("C"),
        events,
        [proc("C", "notification", NOTIFIED_ON), proc("C", "objection", received)],
        on=dt.date(2025, 5, 20),
        engine=engine,
    )
    lc = life(r)
    assert (lc["objection_in_time"], lc["stage"]) == (in_time, stage)
    assert lc["deadlines"]["feedback"] == FEEDBACK_CLOSES
    assert ("appeal_review" in lc["deadlines"]) is in_time
    assert (r.grade, r.score) == ("B", 80)
    deadline = step(r, "procedure.feedback")
    assert deadline["outcome"] == FEEDBACK_CLOSES
    assert deadline["clause"] == f"{ART} 二(二)" and "provisional" in deadline
    assert (deadline["inputs"]["days"], deadline["inputs"]["unit"]) == (10, "working_days")
    assert deadline["inputs"]["from"] == NOTIFIED_ON
    assert step(r, "lifecycle.objection")["outcome"] is in_time
    counted = dict(PACK.calendar.explain_add(dt.date(2025, 4, 25), 10))
    assert counted[dt.date(2025, 4, 27)].startswith("make-up working day")
    assert not counted[dt.date(2025, 5, 5)].startswith(("working day", "make-up"))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("decided_on", "in_time"), [(DECISION_DUE, True), ("2025-06-05", False)], ids=["15th", "16th"]
)
def test_2_2_decision_on_the_feedback_is_due_within_15_working_days(
    decided_on: str, in_time: bool, engine: str
) -> None:
    """二(二) 均采纳其合理部分: the decision on feedback received 2025-05-13 is in time on the 15th
    working day after it (2025-06-04, across 端午节) and late the day after (provisional period);
    a late decision still decides, and says it was late."""
    procedures = [
        proc("C", "notification", NOTIFIED_ON),
        proc("C", "objection", FEEDBACK_CLOSES),
        proc("C", "decision", decided_on, outcome="upheld"),
    ]
    r = staged(inst("C"), [], procedures, engine=engine)
    lc = life(r)
    assert lc["deadlines"] == {"feedback": FEEDBACK_CLOSES, "appeal_review": DECISION_DUE}
    assert (lc["stage"], lc["decision"], lc["decision_in_time"]) == ("final", "upheld", in_time)
    review_deadline = step(r, "procedure.appeal_review")
    assert review_deadline["clause"] == f"{ART} 二(二)" and "provisional" in review_deadline
    assert step(r, "lifecycle.decision")["inputs"]["in_time"] is in_time


@pytest.mark.parametrize("engine", ENGINES)
def test_2_2_2_3_an_appeal_adopted_at_the_district_stage_changes_the_result(engine: str) -> None:
    """二(二) 反馈申诉…均采纳其合理部分, 二(三) 信用信息经市区两级医保部门审核: the clinic is
    notified of its pre-evaluation result (collected information: two violations, 80, B) and
    appeals X2 in time; the district does not recognise X2 (value 0) and the city is silent,
    accepting it: 90, A. The grade and the measures follow the reviewed information; the decision is
    recorded as upheld (the reviewed result stands)."""
    events = [*TWO_VIOLATIONS, info("C", "X2", "district", "violation", 0, "2024-08-20")]
    procedures = [
        proc("C", "notification", NOTIFIED_ON),
        proc("C", "objection", "2025-05-06"),
        proc("C", "decision", "2025-05-20", outcome="upheld"),
    ]
    r = staged(inst("C"), events, procedures, engine=engine)
    assert stages(r) == [("collected", 80, "B"), ("district", 90, "A"), ("city", 90, "A")]
    assert (r.status, r.score, r.grade) == ("graded", 90, "A")
    assert decided_by(r) == "grade.A"
    review = step(r, "review")
    assert review["outcome"] == 1
    assert review["clause"] == f"{ART} 二(三)" and "provisional" in review
    assert review["inputs"]["changes"] == [
        {
            "key": {"info": "X2", "indicator": "violation"},
            "stages": {"collected": 1, "district": 0},
            "events": ["C-X2-collected-violation", "C-X2-district-violation"],
        }
    ]
    assert step(r, "fact.reviewed_violations")["evidence"] == ["C-X1-collected-violation"]
    assert step(r, "item.deductions.reviewed_violations")["outcome"] == -10
    assert measures(r) == INSTITUTION_MEASURES["A"]
    lc = life(r)
    assert (lc["objection_in_time"], lc["decision"]) == (True, "upheld")
    assert lc["decision_in_time"] is True
    assert lc["deadlines"] == {"feedback": FEEDBACK_CLOSES, "appeal_review": "2025-05-27"}
    assert lc["evaluated"]["grade"] == "A"


@pytest.mark.parametrize("engine", ENGINES)
def test_2_3_a_district_change_is_overridden_by_the_city(engine: str) -> None:
    """二(三) 市区两级审核: the district withdraws X2 (90, A at its stage), the city restores it
    (value 1). The city is the last stage: its value stands, 80, B, with the B measures."""
    events = [
        *TWO_VIOLATIONS,
        info("C", "X2", "district", "violation", 0, "2024-08-20"),
        info("C", "X2", "city", "violation", 1, "2024-08-20"),
    ]
    r = staged(inst("C"), events, engine=engine)
    assert stages(r) == [("collected", 80, "B"), ("district", 90, "A"), ("city", 80, "B")]
    assert (r.score, r.grade) == (80, "B")
    [change] = step(r, "review")["inputs"]["changes"]
    assert change["stages"] == {"collected": 1, "district": 0, "city": 1}
    assert step(r, "fact.reviewed_violations")["evidence"] == [
        "C-X1-collected-violation",
        "C-X2-city-violation",
    ]
    assert measures(r) == INSTITUTION_MEASURES["B"]


def test_2_3_a_silent_stage_accepts_and_a_later_stage_may_add_information() -> None:
    """二(三): a level silent about a piece of information keeps the value before it (the city
    keeps the district's correction); a level may also add information the collection lacked
    (the city adds a breach: 100 − 10 − 5 = 85)."""
    events = [
        info("C", "X1", "collected", "violation", 1),
        info("C", "X2", "collected", "violation", 1),
        info("C", "X2", "district", "violation", 0),
        info("C", "B1", "city", "agreement_breach", 1),
    ]
    r = one(inst("C"), events)
    assert stages(r) == [("collected", 80, "B"), ("district", 90, "A"), ("city", 85, "B")]
    changes = step(r, "review")["inputs"]["changes"]
    assert [c["stages"] for c in changes] == [{"city": 1}, {"collected": 1, "district": 0}]
    assert step(r, "item.deductions.reviewed_breaches")["outcome"] == -5


def test_2_3_reclassified_information_shows_as_two_changes() -> None:
    """二(三): an other hospital's third violation is found by the district to be an agreement
    breach: 0 for the violation, 1 for the breach (key: info and score item): −18 → −15,
    82 B → 85 B."""
    subject = inst("O", "hospital", level="二级", beds=300)
    events = [
        info("O", "X1", "collected", "violation", 1),
        info("O", "X2", "collected", "violation", 1),
        info("O", "X3", "collected", "violation", 1),
        info("O", "X3", "district", "violation", 0),
        info("O", "X3", "district", "agreement_breach", 1),
    ]
    r = one(subject, events)
    assert stages(r) == [("collected", 82, "B"), ("district", 85, "B"), ("city", 85, "B")]
    keys = [c["key"] for c in step(r, "review")["inputs"]["changes"]]
    assert keys == [
        {"info": "X3", "indicator": "agreement_breach"},
        {"info": "X3", "indicator": "violation"},
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_2_3_reviewed_fraud_forces_c_until_the_city_withdraws_it(engine: str) -> None:
    """二(一)/二(三): fraud information recognised by the review forces C (the provisional veto);
    the city withdrawing it (value 0) lifts the veto at the city stage."""
    kept = [info("H", "F1", "collected", "fraud", 1)]
    subject = inst("H", "hospital", level="三级", beds=900)
    r = staged(subject, kept, engine=engine)
    assert (r.score, r.grade, decided_by(r)) == (80, "C", "veto.fraud")
    assert step(r, "veto.fraud")["evidence"] == ["H-F1-collected-fraud"]
    withdrawn = staged(subject, [*kept, info("H", "F1", "city", "fraud", 0)], engine=engine)
    assert stages(withdrawn) == [("collected", 80, "C"), ("district", 80, "C"), ("city", 100, "A")]
    assert (withdrawn.grade, step(withdrawn, "veto.fraud")["outcome"]) == ("A", False)


def test_2_3_reviewed_bonus_points_share_the_cap_with_reward_events() -> None:
    """二(一) 举报欺诈骗保等加分信息 under review (二(三)): the bonus is the reward events' points
    plus the recognised bonus information, capped for the group (5 for a clinic)."""
    events = [reward("C", 3), info("C", "R1", "collected", "reward", 4)]
    r = one(inst("C"), events)
    assert step(r, "fact.rewards")["outcome"] == 3
    assert step(r, "fact.reviewed_rewards")["outcome"] == 4
    assert step(r, "item.bonus.rewards")["outcome"] == 5
    cut = one(inst("C"), [*events, info("C", "R1", "district", "reward", 1)])
    assert stages(cut) == [("collected", 105, "A+"), ("district", 104, "A+"), ("city", 104, "A+")]


@pytest.mark.parametrize(
    ("events", "code"),
    [
        ([info("C", "X1", "county", "violation", 1)], "record.event.review-stage"),
        (
            [
                info("C", "X1", "district", "violation", 1),
                {**info("C", "X1", "district", "violation", 0), "id": "again"},
            ],
            "record.event.review-duplicate",
        ),
        ([info("C", "X1", "collected", "penalty", 1)], "record.event.attribute-choice"),
        (
            [{k: v for k, v in info("C", "X1", "city", "violation", 1).items() if k != "stage"}],
            "record.event.missing-attribute",
        ),
    ],
    ids=["unknown-stage", "two-values-in-one-stage", "unknown-score-item", "no-stage"],
)
@pytest.mark.parametrize("engine", ENGINES)
def test_2_3_review_records_that_cannot_be_true_are_errors(
    events: list[dict[str, Any]], code: str, engine: str
) -> None:
    """Principle 4: a review record naming no known stage (二(三) 市区两级: collected, district,
    city), two values for one piece of information in one stage, an unknown score item or a
    missing stage is an input error, never dropped."""
    with pytest.raises(yc.RecordError) as info_:
        staged(inst("C"), events, engine=engine)
    assert [p.code for p in info_.value.problems] == [code]


def test_2_2_a_result_not_yet_notified_is_a_pre_evaluation() -> None:
    """二(二) 预评价: with procedure records given, a subject whose result has not been notified
    is at the pre_evaluation stage, with no deadline running; one notified by 政务短信 (a
    失信参保人) has the same feedback period."""
    run = PACK.evaluate(
        [inst("C"), insured("I")],
        [ev("f1", "I", "fraud", "2024-04-01")],
        as_of=AS_OF,
        procedures=[proc("I", "notification", NOTIFIED_ON)],
        on=dt.date(2025, 5, 14),
    )
    c, i = run.get("C"), run.get("I")
    assert c is not None and i is not None
    assert (life(c)["stage"], life(c)["deadlines"]) == ("pre_evaluation", {})
    assert i.grade == "失信" and "sms_notice" in measures(i)
    assert (life(i)["stage"], life(i)["deadlines"]) == ("final", {"feedback": FEEDBACK_CLOSES})


def test_without_review_records_every_stage_agrees_and_no_lifecycle_is_made() -> None:
    """Existing results do not change when no review or procedure record is given: every
    stage of every example subject has the same score and grade as the result, the review step
    changed nothing, and there is no lifecycle."""
    records = yc.load_records(EXAMPLES / "subjects.jsonl", EXAMPLES / "events.jsonl")
    run = PACK.evaluate(records, as_of=AS_OF)
    assert len(run) == len(EXPECTED_EXAMPLE)
    for r in run:
        review = step(r, "review")
        assert review["outcome"] == 0 and review["evidence"] == [], r.subject_id
        assert {(s, g) for _, s, g in stages(r)} == {(r.score, r.grade)}, r.subject_id
        assert "lifecycle" not in contract(r) or contract(r)["lifecycle"] is None


# -- the appeal example (examples/shenzhen/appeal) ---------------------------------------------

APPEAL = EXAMPLES / "appeal"
APPEAL_EXPECTED = {
    # subject: (grade, score, review stages, lifecycle stage)
    "SZA001": ("A", 90, ["80 B", "90 A", "90 A"], "final"),
    "SZA002": ("B", 80, ["80 B", "90 A", "80 B"], "under_review"),
    "SZA003": ("B", 85, ["85 B", "85 B", "85 B"], "final"),
    "SZA004": ("B", 87, ["88 B", "91 A", "87 B"], "final"),
    "SZA005": ("失信", None, ["None 失信", "None 失信", "None 失信"], "final"),
}
"""examples/shenzhen/appeal/README section of examples/shenzhen/README.md, as of 2024-12-31
judged on 2025-05-30."""


@pytest.mark.parametrize("engine", ENGINES)
def test_appeal_example_gives_the_readme_outcomes(
    engine: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """二(二)/二(三) through the CLI: the example's grades, review stages and lifecycle stages are
    those examples/shenzhen/README.md lists, on both engines."""
    out = tmp_path / "results.jsonl"
    code = main(
        [
            "evaluate",
            str(PACK_PATH),
            "--subjects",
            str(APPEAL / "subjects.jsonl"),
            "--events",
            str(APPEAL / "events.jsonl"),
            "--procedures",
            str(APPEAL / "procedures.jsonl"),
            "--on",
            "2025-05-30",
            "--as-of",
            "2024-12-31",
            "--engine",
            engine,
            "--output",
            str(out),
        ]
    )
    assert code == 0, capsys.readouterr().err
    got = {}
    for line in out.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        [review] = [s for s in d["trace"] if s["step"] == "review"]
        shown = [f"{s['score']} {s['grade']}" for s in review["inputs"]["stages"]]
        got[d["subject_id"]] = (d["grade"], d["score"], shown, d["lifecycle"]["stage"])
    assert got == APPEAL_EXPECTED
    assert capsys.readouterr().err == ""


def test_appeal_example_review_report(capsys: pytest.CaptureFixture[str]) -> None:
    """``yibao-credit review`` lists each subject whose review stages changed a value (二(三)),
    as examples/shenzhen/README.md shows it."""
    code = main(
        [
            "review",
            str(PACK_PATH),
            "--subjects",
            str(APPEAL / "subjects.jsonl"),
            "--events",
            str(APPEAL / "events.jsonl"),
            "--as-of",
            "2024-12-31",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    assert out.strip() and out.strip() in readme
