"""苏医保办发〔2023〕26号 (Jiangsu performance evaluation) through the public Python API and CLI.

Packs: policies/jiangsu_perf/ (one pack, ``jiangsu_perf``, in two dated versions: 2023评价版 and
2024, picked by the evaluated year, ``version_by: evaluation_year``) and the city extension
policies/suqian_perf_2024.yaml (``extends:`` the provincial 2024 version with Suqian's own 10
points). The 办法 publishes the structure — two classes of institution (二(二)), the five content
areas of 二(一), 90 provincial points plus 10 for the city (二(二)), monitoring indicators
(二(二)), the previous calendar year as the evaluated year (三(一)), self-assessment → county
review → city confirmation (三(二)1–3) — but not its attachments: every indicator, point value,
threshold and band is provisional. The tests pin the structure and the readings in the packs'
`note:`s, and check the provisional numbers only where a worked example needs them.

Unless a test says otherwise: an institution designated on 2010-01-01, evaluated as of
2025-03-31 (the evaluated year 2024, the 2024 version), with every indicator of its class
self-assessed (stage ``self``) on 2025-02-10 for the period '2024' at full marks, which scores
10 + 10 (policy) + 20 (reform) + 25 (fund) + 10 (standard) + 15 (service) + 10 (city) = 100.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import yibao_credit as yc
from yibao_credit.cli.main import main
from yibao_credit.engine.allocation import allocate
from yibao_credit.pack.schema import ClauseRef, ScoreGrading
from yibao_credit.policy import PolicySet, load_policies
from yibao_credit.records.deposits import read_deposits

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "policies" / "jiangsu_perf"
V2023_PATH = FOLDER / "jiangsu_perf_2023.yaml"
V2024_PATH = FOLDER / "jiangsu_perf_2024.yaml"
SUQIAN_PATH = ROOT / "policies" / "suqian_perf_2024.yaml"
EXAMPLES = ROOT / "examples" / "jiangsu"
DOC = "苏医保办发〔2023〕26号"
AS_OF = dt.date(2025, 3, 31)
OLD = "2010-01-01"
SUBMITTED = "2025-02-10"

FULL_INPATIENT: dict[str, float] = {
    "catalogue_compliance": 100,
    "price_compliance": 100,
    "drg_dip": 100,
    "procurement": 100,
    "nego_drugs": 1,
    "budget_execution": 100,
    "out_of_pocket": 1,
    "coding_maintenance": 100,
    "system_integration": 1,
    "satisfaction": 100,
    "agreement_management": 1,
}
"""Every indicator of the table for institutions with inpatient service (附件1), at full marks."""
FULL_OUTPATIENT = {k: v for k, v in FULL_INPATIENT.items() if k != "drg_dip"}
"""The table without inpatient service (附件2): no DRG/DIP indicator."""
FULL_SUQIAN = {
    "reasonable_cost": 0,
    "agreement_fulfilment": 100,
    "lawful_enrolment": 1,
    "data_quality": 100,
}
"""Suqian's four indicators (二(二) 预留10%), at full marks."""

ITEM_STEP = {
    "catalogue_compliance": "item.policy.catalogue_compliance",
    "price_compliance": "item.policy.price_compliance",
    "drg_dip": "item.reform.drg_dip",
    "procurement": "item.reform.procurement",
    "nego_drugs": "item.reform.nego_drugs",
    "budget_execution": "item.fund.budget_execution",
    "out_of_pocket": "item.fund.out_of_pocket",
    "coding_maintenance": "item.standard.coding_maintenance",
    "system_integration": "item.standard.system_integration",
    "satisfaction": "item.service.satisfaction",
    "agreement_management": "item.service.agreement_management",
    "reasonable_cost": "item.city.reasonable_cost",
    "agreement_fulfilment": "item.city.agreement_fulfilment",
    "lawful_enrolment": "item.city.lawful_enrolment",
    "data_quality": "item.city.data_quality",
}
AREAS = ["policy", "reform", "fund", "standard", "service"]
"""The five content areas of 二(一)1–5, in the document's order."""
AREA_CLAUSES = ["二(一)1", "二(一)2", "二(一)3", "二(一)4", "二(一)5"]
MONITORING = {
    "inpatient": {
        "catalogue_compliance",
        "drg_dip",
        "procurement",
        "budget_execution",
        "coding_maintenance",
    },
    "outpatient": {"catalogue_compliance", "procurement", "budget_execution", "coding_maintenance"},
}
"""The items each pack flags as 全省监测指标 (二(二)); which ones is provisional (附件1/2)."""

_SET = load_policies(FOLDER)
_SUQIAN = yc.load_policy(SUQIAN_PATH)


@pytest.fixture(scope="module")
def versions() -> PolicySet:
    return _SET


@pytest.fixture(scope="module")
def p2024() -> yc.Policy:
    return _SET.for_as_of(AS_OF)


@pytest.fixture(scope="module")
def p2023() -> yc.Policy:
    return _SET.for_as_of(dt.date(2024, 3, 31))


@pytest.fixture(scope="module")
def suqian() -> yc.Policy:
    return _SUQIAN


def inst(
    sid: str = "X", inpatient: bool | None = True, designated_on: str | None = OLD, **attrs: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {"id": sid, "type": "institution", "category": "hospital"}
    if inpatient is not None:
        out["inpatient"] = inpatient
    if designated_on is not None:
        out["designated_on"] = designated_on
    out.update(attrs)
    return out


def ind(
    sid: str,
    indicator: str,
    value: float,
    period: str = "2024",
    stage: str | None = "self",
    date: str = SUBMITTED,
    eid: str | None = None,
) -> dict[str, Any]:
    """An ``indicator`` event: one value of one indicator for one period at one review stage."""
    out: dict[str, Any] = {
        "id": eid or f"{sid}-{indicator}-{period}-{stage}",
        "subject_id": sid,
        "kind": "indicator",
        "date": date,
        "indicator": indicator,
        "value": value,
        "period": period,
    }
    if stage is not None:
        out["stage"] = stage
    return out


def values(sid: str, table: dict[str, float], **kw: Any) -> list[dict[str, Any]]:
    return [ind(sid, name, v, **kw) for name, v in table.items()]


def ev(eid: str, sid: str, kind: str, date: str, **attrs: Any) -> dict[str, Any]:
    return {"id": eid, "subject_id": sid, "kind": kind, "date": date, **attrs}


def one(
    pack: yc.Policy,
    events: list[dict[str, Any]],
    as_of: dt.date = AS_OF,
    **subject: Any,
) -> yc.Result:
    run = pack.evaluate([inst("X", **subject)], events, as_of=as_of)
    r = run.get("X")
    assert r is not None
    return r


def full(
    pack: yc.Policy,
    inpatient: bool = True,
    period: str = "2024",
    changes: Mapping[str, float | None] | None = None,
    **changed: float | None,
) -> yc.Result:
    """Institution X with every indicator of its class at full marks for the evaluated year
    ``period``, except those changed (None: no value at all), evaluated on 31 March after."""
    table: dict[str, float | None] = dict(FULL_INPATIENT if inpatient else FULL_OUTPATIENT)
    if pack.id == "suqian_perf":
        table.update(FULL_SUQIAN)
    table.update(changes or {})
    table.update(changed)
    present = {k: v for k, v in table.items() if v is not None}
    year = int(period) + 1  # evaluated in February–March of the following year (三(一))
    events = values("X", present, period=period, date=f"{year}-02-10")
    return one(pack, events, as_of=dt.date(year, 3, 31), inpatient=inpatient)


def got_result(run: yc.Run, sid: str) -> yc.Result:
    r = run.get(sid)
    assert r is not None, f"no result for {sid}"
    return r


def steps(r: yc.Result) -> dict[str, dict[str, Any]]:
    """The trace by step id, as the JSON contract carries it."""
    trace = json.loads(json.dumps(yc.result_to_dict(r)["trace"], default=str))
    return {s["step"]: s for s in trace}


def item_points(pack: yc.Policy, indicator: str, value: float, inpatient: bool = True) -> Any:
    return steps(full(pack, inpatient, changes={indicator: value}))[ITEM_STEP[indicator]]["outcome"]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


# --- scoring rules: thresholds, linear, pass/fail, deduction per occurrence --------------------


def test_full_marks_in_both_classes_give_100(p2024: yc.Policy, p2023: yc.Policy) -> None:
    """二(二) 百分制量化评价: full marks in every indicator of either class's table is 100."""
    for pack in (p2023, p2024):
        for inpatient in (True, False):
            r = full(pack, inpatient)
            assert (r.status, r.score, r.grade) == ("graded", 100, "优秀")


@pytest.mark.parametrize(
    ("value", "points"),
    [(98, 10), (98.01, 10), (97.99, 6), (95, 6), (94.99, 3), (90, 3), (89.99, 0), (0, 0)],
)
def test_threshold_price_compliance_at_below_and_above_each_edge(
    p2024: yc.Policy, value: float, points: float
) -> None:
    """二(一)1 医疗服务价格 (thresholds, provisional): 98% → 10, 95% → 6, 90% → 3; each edge
    reached (≥) earns its points, just below does not."""
    assert item_points(p2024, "price_compliance", value) == points
    assert item_points(p2024, "price_compliance", value, inpatient=False) == points


@pytest.mark.parametrize(
    ("value", "points"),
    [
        (100, 10),
        (95, 10),
        (94.99, 5),
        (105, 10),
        (105.01, 5),
        (90, 5),
        (89.99, 0),
        (110, 5),
        (110.01, 0),
    ],
)
def test_threshold_band_budget_execution_both_sides(
    p2024: yc.Policy, value: float, points: float
) -> None:
    """二(一)3 总额预算全流程管理 (bands, provisional): 95–105% → 10, 90–110% → 5, both ends
    included; overspending and underspending lose points alike."""
    assert item_points(p2024, "budget_execution", value) == points


@pytest.mark.parametrize(
    ("inpatient", "value", "points"),
    [
        (True, 100, 6),
        (True, 99.99, 3),
        (True, 90, 3),
        (True, 89.99, 0),
        (False, 100, 12),
        (False, 99.99, 6),
        (False, 90, 6),
        (False, 89.99, 0),
    ],
)
def test_threshold_procurement_per_class(
    p2024: yc.Policy, inpatient: bool, value: float, points: float
) -> None:
    """二(一)2 药品耗材招采改革 (thresholds, provisional): each class has its own table (二(二)):
    100% → 6 / 90% → 3 with inpatient service, 100% → 12 / 90% → 6 without."""
    assert item_points(p2024, "procurement", value, inpatient) == points


@pytest.mark.parametrize(
    ("indicator", "value", "points"),
    [
        ("catalogue_compliance", 80, 0),
        ("catalogue_compliance", 90, 5),
        ("catalogue_compliance", 100, 10),
        ("catalogue_compliance", 60, 0),
        ("catalogue_compliance", 101, 10),
        ("drg_dip", 90, 0),
        ("drg_dip", 95, 5),
        ("drg_dip", 100, 10),
        ("drg_dip", 50, 0),
        ("drg_dip", 120, 10),
        ("coding_maintenance", 90, 0),
        ("coding_maintenance", 95, 2.5),
        ("coding_maintenance", 100, 5),
        ("coding_maintenance", 89, 0),
        ("coding_maintenance", 100.5, 5),
        ("satisfaction", 80, 0),
        ("satisfaction", 90, 5),
        ("satisfaction", 100, 10),
        ("satisfaction", 79.99, 0),
        ("satisfaction", 150, 10),
    ],
)
def test_linear_items_at_bounds_midpoint_and_clamped_beyond(
    p2024: yc.Policy, indicator: str, value: float, points: float
) -> None:
    """二(一)1/2/4/5 indicators scored linearly between two bounds (provisional): none at the
    lower bound, all at the upper, half at the midpoint, held at the bounds beyond them."""
    assert item_points(p2024, indicator, value) == pytest.approx(points)


@pytest.mark.parametrize(
    ("indicator", "points"),
    [
        ("nego_drugs", 4),
        ("out_of_pocket", 5),
        ("system_integration", 5),
        ("agreement_management", 5),
    ],
)
def test_pass_fail_items(p2024: yc.Policy, indicator: str, points: float) -> None:
    """二(一)2/3/4/5 pass/fail indicators (1 met / 0 not, provisional): met earns the points,
    not met none, and the item cites the value only when it earned points."""
    met = steps(full(p2024, changes={indicator: 1}))[ITEM_STEP[indicator]]
    unmet = steps(full(p2024, changes={indicator: 0}))[ITEM_STEP[indicator]]
    assert met["outcome"] == points and met["evidence"] == [f"X-{indicator}-2024-self"]
    assert unmet["outcome"] == 0 and unmet["evidence"] == []


def _with_events(pack: yc.Policy, extra: list[dict[str, Any]], inpatient: bool = True) -> yc.Result:
    table = FULL_INPATIENT if inpatient else FULL_OUTPATIENT
    return one(pack, values("X", table) + extra, inpatient=inpatient)


@pytest.mark.parametrize(("n", "points"), [(0, 0), (1, -5), (2, -10), (3, -10)])
def test_deduction_per_violation_up_to_the_cap(p2024: yc.Policy, n: int, points: float) -> None:
    """二(一)3 规范使用医保基金 (provisional): −5 per violation established in the evaluated
    year, at most −10 — two violations reach the cap exactly, a third changes nothing."""
    extra = [ev(f"v{i}", "X", "violation", f"2024-0{i + 1}-15") for i in range(n)]
    r = _with_events(p2024, extra)
    s = steps(r)
    assert s["fact.violations"]["outcome"] == n
    assert s["item.fund.violations"]["outcome"] == points
    assert s["item.fund.violations"]["evidence"] == [f"v{i}" for i in range(n)]
    assert r.score == 100 + points


@pytest.mark.parametrize(("n", "points"), [(1, -1), (4, -4), (5, -5), (6, -5)])
def test_deduction_per_verified_complaint_up_to_the_cap(
    p2024: yc.Policy, n: int, points: float
) -> None:
    """二(一)5 处理与医保相关的投诉举报 (provisional): −1 per verified (查实) complaint, at most
    −5 — five reach the cap exactly; unverified complaints do not count."""
    extra = [ev(f"q{i}", "X", "complaint", f"2024-0{i + 1}-01", verified=True) for i in range(n)]
    extra.append(ev("u1", "X", "complaint", "2024-07-01", verified=False))
    for inpatient in (True, False):
        s = steps(_with_events(p2024, extra, inpatient))
        assert s["fact.complaints"]["outcome"] == n
        assert s["item.service.complaints"]["outcome"] == points


def test_a_category_is_held_at_zero_when_deductions_exceed_its_points(p2024: yc.Policy) -> None:
    """二(二) (pack note): each category is held within [0, its max] — five verified complaints
    (−5) in an area with no other points leave 0, not −5, so no area takes points from
    another."""
    extra = [ev(f"q{i}", "X", "complaint", f"2024-0{i + 1}-01", verified=True) for i in range(5)]
    table = {**FULL_INPATIENT, "satisfaction": 80, "agreement_management": 0}
    r = one(p2024, values("X", table) + extra)
    s = steps(r)
    assert s["item.service.complaints"]["outcome"] == -5
    assert s["category.service"]["outcome"] == 0
    assert r.score == 85


def test_score_is_rounded_half_up_to_two_decimals_before_the_band(p2024: yc.Policy) -> None:
    """二(二) 百分制 (precision 2, provisional bands): 89.995 rounds half up to 90.00, which is
    优秀; 89.95 stays 良好."""
    r = full(p2024, catalogue_compliance=80, satisfaction=99.99)
    assert (r.score, r.grade) == (90, "优秀")
    r = full(p2024, catalogue_compliance=80, satisfaction=99.9)
    assert (r.score, r.grade) == (89.95, "良好")


# --- missing values and monitoring indicators ---------------------------------------------------


def test_missing_indicator_scores_zero_and_is_counted(p2024: yc.Policy) -> None:
    """三(二)1, 五(三) (pack note on missing_indicators): an indicator with no value for the
    evaluated year earns no points — never as if perfect — and the count shows in the trace;
    the institution is still evaluated."""
    r = full(p2024, satisfaction=None)
    s = steps(r)
    assert s["fact.satisfaction"]["outcome"] is None
    assert s["item.service.satisfaction"]["outcome"] == 0
    assert s["fact.missing_indicators"]["outcome"] == 1
    assert (r.status, r.score) == ("graded", 90)
    r = full(p2024, nego_drugs=None)
    assert steps(r)[ITEM_STEP["nego_drugs"]]["outcome"] == 0


@pytest.mark.parametrize(("inpatient", "count"), [(True, 11), (False, 10)])
def test_no_indicator_values_at_all(p2024: yc.Policy, inpatient: bool, count: int) -> None:
    """三(二)1 (pack note): with no values at all every indicator scores 0 and all of them are
    counted missing; what remains is the fund area's base for 规范使用医保基金 (10, 二(一)3) and
    the city default (10, 二(二)): 20, 不合格 — graded, not excluded."""
    r = one(p2024, [], inpatient=inpatient)
    assert (r.status, r.exclusion, r.score, r.grade) == ("graded", None, 20, "不合格")
    assert steps(r)["fact.missing_indicators"]["outcome"] == count


@pytest.mark.parametrize("ruleset", ["inpatient", "outpatient"])
def test_monitoring_indicators_are_flagged_in_the_trace(p2024: yc.Policy, ruleset: str) -> None:
    """二(二) 确定部分指标为全省监测指标: exactly the monitoring items carry
    ``monitoring: true`` in their trace step's inputs."""
    r = full(p2024, inpatient=ruleset == "inpatient")
    assert r.ruleset.id == ruleset
    flagged = {
        sid.rsplit(".", 1)[1]
        for sid, s in steps(r).items()
        if sid.startswith("item.") and s["inputs"].get("monitoring") is True
    }
    assert flagged == MONITORING[ruleset]
    grading = p2024.model.rulesets[ruleset].grading
    assert isinstance(grading, ScoreGrading)
    declared = {i.id for c in grading.categories for i in c.items if i.monitoring}
    assert declared == MONITORING[ruleset]


# --- two classes and the categories -------------------------------------------------------------


def test_each_class_gets_its_own_table(p2024: yc.Policy) -> None:
    """二(二) 将定点医疗机构分为有住院服务和没有住院服务两大类: ``inpatient: true`` gets the
    inpatient table (with DRG/DIP), ``false`` the outpatient one (without); the category
    (hospital or clinic) does not decide the class."""
    subjects = [
        inst("H", inpatient=True),
        inst("C", inpatient=False, category="clinic"),
        inst("HC", inpatient=True, category="clinic"),
        inst("HO", inpatient=False),
    ]
    events = (
        values("H", FULL_INPATIENT)
        + values("C", FULL_OUTPATIENT)
        + values("HC", FULL_INPATIENT)
        + values("HO", FULL_OUTPATIENT)
    )
    run = p2024.evaluate(subjects, events, as_of=AS_OF)
    got = {r.subject.id: r.ruleset.id for r in run}
    assert got == {"H": "inpatient", "HC": "inpatient", "C": "outpatient", "HO": "outpatient"}
    for sid in ("H", "HC"):
        assert "item.reform.drg_dip" in steps(got_result(run, sid))
    for sid in ("C", "HO"):
        assert "item.reform.drg_dip" not in steps(got_result(run, sid))
    assert all(r.score == 100 for r in run)
    assert not run.warnings


def test_an_institution_without_inpatient_flag_is_out_of_scope(p2024: yc.Policy) -> None:
    """二(二): the class is decided by inpatient service; a subject that does not say whether it
    has any is in neither class — no result and an ``eval.out-of-scope`` warning (never
    guessed)."""
    run = p2024.evaluate(
        [inst("A"), inst("N", inpatient=None, category="clinic")],
        values("A", FULL_INPATIENT),
        as_of=AS_OF,
    )
    assert run.get("N") is None and run.get("A") is not None
    codes = [w.code for w in run.warnings]
    assert codes == ["eval.out-of-scope"]
    assert "'N'" in run.warnings[0].message


@pytest.mark.parametrize("path", [V2023_PATH, V2024_PATH, SUQIAN_PATH])
@pytest.mark.parametrize("ruleset", ["inpatient", "outpatient"])
def test_categories_are_the_five_areas_and_the_city(path: Path, ruleset: str) -> None:
    """二(一)1–5 and 二(二): the categories are the five content areas, in order, and the city's
    own indicators; their maxima add up to 100 (points_total), the city's being 10 (预留10%)
    and the province's 90."""
    pack = yc.load_policy(path)
    grading = pack.model.rulesets[ruleset].grading
    assert isinstance(grading, ScoreGrading)
    cats = grading.categories
    assert [c.id for c in cats] == [*AREAS, "city"]
    assert [str(c.clause) for c in cats] == [*AREA_CLAUSES, "二(二)"]
    assert grading.points_total == 100
    assert sum(c.max or 0 for c in cats) == 100
    assert cats[-1].max == 10
    assert sum(c.max or 0 for c in cats[:-1]) == 90
    assert all(c.min == 0 for c in cats)


def test_every_step_cites_the_document(p2024: yc.Policy) -> None:
    """Principle 2: every scoring step of the trace cites a clause of 苏医保办发〔2023〕26号."""
    for s in steps(full(p2024)).values():
        if s["step"].split(".")[0] in ("item", "category", "fact", "exclusion", "window"):
            assert s["clause"].startswith(DOC + " "), s["step"]


# --- the city extension (二(二) 预留10%由各设区市…制定) --------------------------------------


def test_suqian_replaces_the_default_city_points_with_its_four_indicators(
    p2024: yc.Policy, suqian: yc.Policy
) -> None:
    """二(二): Suqian's 合理控制医疗费用, 服务协议履行情况, 单位依法参保情况, 提升医保数据质量
    replace the provincial default (the default item stays at 0: a list merged by id cannot
    lose an item); without their values the city category is 0, not the province's 10."""
    for inpatient in (True, False):
        rs = "inpatient" if inpatient else "outpatient"
        grading = suqian.model.rulesets[rs].grading
        assert isinstance(grading, ScoreGrading)
        city = grading.categories[-1]
        assert [i.id for i in city.items] == ["city_default", *FULL_SUQIAN]
        assert city.items[0].points == 0
        r = full(suqian, inpatient)
        s = steps(r)
        assert s["category.city"]["outcome"] == 10 and r.score == 100
        assert s["item.city.city_default"]["outcome"] == 0
        r = full(suqian, inpatient, changes=dict.fromkeys(FULL_SUQIAN))
        s = steps(r)
        assert s["category.city"]["outcome"] == 0 and r.score == 90
        assert s["fact.missing_city_indicators"]["outcome"] == 4
        assert steps(full(p2024, inpatient))["category.city"]["outcome"] == 10


def test_suqian_leaves_the_provincial_90_points_unchanged(
    p2024: yc.Policy, suqian: yc.Policy
) -> None:
    """二(二) 省局统一制定…指标体系: the city pack adds or overrides only its own part — every
    provincial fact, category, exclusion, measure, window and the review stages are the
    province's 2024 version's, and the five areas score the same for the same records."""
    prov, city = p2024.model.model_dump(), suqian.model.model_dump()
    for key in ("windows", "review", "parameters"):
        assert city[key] == prov[key], key
    assert city["pack"]["effective"] == prov["pack"]["effective"]
    assert city["pack"]["version_by"] == "evaluation_year"
    for rs in ("inpatient", "outpatient"):
        pr, cr = prov["rulesets"][rs], city["rulesets"][rs]
        assert {k: cr["facts"][k] for k in pr["facts"]} == pr["facts"]
        assert set(cr["facts"]) - set(pr["facts"]) == {*FULL_SUQIAN, "missing_city_indicators"}
        for key in ("applies_to", "exclusions", "measures", "allocation"):
            assert cr[key] == pr[key], (rs, key)
        assert cr["grading"]["categories"][:5] == pr["grading"]["categories"][:5]
        assert cr["grading"]["bands"] == pr["grading"]["bands"]
    worse: dict[str, float | None] = {
        "catalogue_compliance": 90,
        "drg_dip": 95,
        "budget_execution": 92,
    }
    a, b = steps(full(p2024, changes=worse)), steps(full(suqian, changes=worse))
    for area in AREAS:
        assert a[f"category.{area}"]["outcome"] == b[f"category.{area}"]["outcome"]


@pytest.mark.parametrize(
    ("indicator", "value", "points"),
    [
        ("reasonable_cost", -2, 3),
        ("reasonable_cost", 0, 3),
        ("reasonable_cost", 5, 1.5),
        ("reasonable_cost", 10, 0),
        ("reasonable_cost", 12, 0),
        ("agreement_fulfilment", 95, 3),
        ("agreement_fulfilment", 95.01, 3),
        ("agreement_fulfilment", 94.99, 1.5),
        ("agreement_fulfilment", 85, 1.5),
        ("agreement_fulfilment", 84.99, 0),
        ("lawful_enrolment", 1, 2),
        ("lawful_enrolment", 0, 0),
        ("data_quality", 89, 0),
        ("data_quality", 90, 0),
        ("data_quality", 95, 1),
        ("data_quality", 100, 2),
        ("data_quality", 101, 2),
    ],
)
def test_suqian_local_indicators_at_their_edges(
    suqian: yc.Policy, indicator: str, value: float, points: float
) -> None:
    """二(二) Suqian's own indicators (provisional 3 + 3 + 2 + 2): 合理控制医疗费用 full at a
    cost growth of 0% or less, none at 10% or more, linear between; 服务协议履行情况 95% → 3,
    85% → 1.5; 单位依法参保情况 pass 2 / fail 0; 提升医保数据质量 linear 90% → 0 … 100% → 2."""
    for inpatient in (True, False):
        assert item_points(suqian, indicator, value, inpatient) == pytest.approx(points)


def test_suqian_result_names_its_own_pack_and_version(suqian: yc.Policy) -> None:
    """二(二) 各设区市…形成评价评分标准: a Suqian result names the city pack, not the province's;
    its hash covers the whole chain (city + 2024 + 2023 files)."""
    d = yc.result_to_dict(full(suqian))
    assert d["policy"]["id"] == "suqian_perf"
    assert d["policy"]["version"] == "2024-宿迁"
    assert d["policy"]["sha256"] not in (_SET.versions[0].sha256, _SET.versions[1].sha256)


_BROKEN_CITY = """\
extends: {base}
pack:
  id: broken_city
  version: "2024-broken"
rulesets:
  inpatient:
    grading:
      points_total: 100
      categories:
        - id: city
          max: 15
"""


@pytest.mark.parametrize("relative", [False, True])
def test_a_city_pack_breaking_the_100_points_is_a_load_error(
    tmp_path: Path, relative: bool
) -> None:
    """二(二) 百分制, 预留10%: a city pack that gives its category 15 points breaks the 100-point
    total: a load error naming the city file and the line of its points_total (the city
    restates it, as suqian_perf_2024.yaml does). ``extends`` resolves relative to the
    extending file, or is absolute."""
    base = os.path.relpath(V2024_PATH, tmp_path) if relative else str(V2024_PATH)
    path = tmp_path / "broken_city.yaml"
    path.write_text(_BROKEN_CITY.format(base=base), "utf-8")
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(path)
    problems = info.value.problems
    assert [p.code for p in problems] == ["pack.invalid"]
    p = problems[0]
    assert "105" in p.message and "100" in p.message
    assert p.location.file == str(path)
    assert p.location.line == 8
    assert p.location.path == "rulesets.inpatient.grading.points_total"


def test_a_city_max_breaking_the_province_total_is_located_in_the_city_file(
    tmp_path: Path,
) -> None:
    """二(二) 预留10%: when the city pack does not restate points_total, the province's total
    still binds, and the error points at the `max` the city wrote (line 10), not at the
    province's file, which the analyst did not edit."""
    path = tmp_path / "broken_city.yaml"
    text = _BROKEN_CITY.format(base=str(V2024_PATH)).replace("      points_total: 100\n", "")
    path.write_text(text, "utf-8")
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(path)
    p = info.value.problems[0]
    assert [q.code for q in info.value.problems] == ["pack.invalid"]
    assert (p.location.file, p.location.line) == (str(path), 10)
    assert p.location.path is not None and p.location.path.endswith(".max")
    assert "105" in p.message and "points_total is set in" in p.message


# --- the evaluated year (三(一)) -----------------------------------------------------------------


@pytest.mark.parametrize("as_of", [dt.date(2025, 1, 1), dt.date(2025, 12, 31)])
def test_evaluated_year_is_the_previous_calendar_year(versions: PolicySet, as_of: dt.date) -> None:
    """三(一) 评价年度为上一年度1月1日至12月31日: as of the first and the last day of 2025 the
    evaluated year is 2024 — values for the period '2024' count, with the 2024 version."""
    pack = versions.for_as_of(as_of)
    assert pack.version == "2024"
    r = one(pack, values("X", FULL_INPATIENT, date=as_of.isoformat()), as_of=as_of)
    s = steps(r)
    assert s["window.evaluation_year"]["outcome"] == {"from": "2024-01-01", "to": "2024-12-31"}
    assert s["fact.missing_indicators"]["outcome"] == 0
    assert r.score == 100


def test_a_value_for_another_period_is_ignored(p2024: yc.Policy) -> None:
    """三(一) (pack note on submissions): which year a value is for is its period, not its
    date — a value for '2023' submitted in 2025 is not a value for 2024."""
    events = [
        *values("X", {k: v for k, v in FULL_INPATIENT.items() if k != "satisfaction"}),
        ind("X", "satisfaction", 100, period="2023"),
        ind("X", "satisfaction", 100, period="2025"),
    ]
    r = one(p2024, events)
    s = steps(r)
    assert s["fact.satisfaction"]["outcome"] is None
    assert s["item.service.satisfaction"]["outcome"] == 0
    assert s["fact.missing_indicators"]["outcome"] == 1


def test_a_value_dated_after_as_of_is_not_counted(p2024: yc.Policy) -> None:
    """三(二) (pack note on submissions): a value dated after as_of was not yet submitted on
    that day — it is not counted and is reported as eval.after-as-of."""
    events = [
        *values("X", {k: v for k, v in FULL_INPATIENT.items() if k != "satisfaction"}),
        ind("X", "satisfaction", 100, date="2025-04-01"),
    ]
    run = p2024.evaluate([inst("X")], events, as_of=AS_OF)
    r = run.get("X")
    assert r is not None
    assert steps(r)["fact.satisfaction"]["outcome"] is None and r.score == 90
    late = [w for w in run.warnings if w.code == "eval.after-as-of"]
    assert len(late) == 1 and "X-satisfaction-2024-self" in late[0].message
    on_the_day = one(p2024, [*events[:-1], ind("X", "satisfaction", 100, date="2025-03-31")])
    assert on_the_day.score == 100


@pytest.mark.parametrize(
    ("date", "counted"),
    [("2023-12-31", False), ("2024-01-01", True), ("2024-12-31", True), ("2025-01-01", False)],
)
def test_violations_count_in_the_evaluated_year_of_their_date(
    p2024: yc.Policy, date: str, counted: bool
) -> None:
    """三(一), 二(一)3 (pack note on violations): a violation counts in the evaluated year of the
    date it was established — 2024-01-01 and 2024-12-31 count for 2024, the days either side
    do not."""
    s = steps(_with_events(p2024, [ev("v1", "X", "violation", date)]))
    assert s["fact.violations"]["outcome"] == (1 if counted else 0)


@pytest.mark.parametrize(
    ("designated_on", "excluded"),
    [
        ("2023-12-31", False),
        ("2024-01-01", False),
        ("2024-12-31", False),
        ("2025-01-01", True),
        ("2025-03-31", True),
        (None, False),
    ],
)
def test_designated_during_or_after_the_evaluated_year(
    p2024: yc.Policy, designated_on: str | None, excluded: bool
) -> None:
    """三(一) (pack exclusion designated_after_year, provisional): as of 2025-03-31 an institution
    designated during 2024 — even on its last day — is evaluated; one designated on or after
    2025-01-01 had no evaluated year and is excluded; one without designated_on is evaluated
    (not assumed new)."""
    r = one(p2024, values("X", FULL_INPATIENT), designated_on=designated_on)
    if excluded:
        assert (r.status, r.exclusion, r.score, r.grade) == (
            "excluded",
            "designated_after_year",
            None,
            None,
        )
        assert steps(r)["exclusion.designated_after_year"]["clause"] == f"{DOC} 三(一)"
    else:
        assert (r.status, r.exclusion, r.score) == ("graded", None, 100)


# --- dated versions (二(二) 指标体系根据年度工作进行动态调整) --------------------------------


@pytest.mark.parametrize(
    ("as_of", "version"),
    [
        (dt.date(2024, 1, 1), "2023评价版"),
        (dt.date(2024, 3, 31), "2023评价版"),
        (dt.date(2024, 12, 31), "2023评价版"),
        (dt.date(2025, 1, 1), "2024"),
        (dt.date(2025, 3, 31), "2024"),
    ],
)
def test_the_evaluated_year_picks_the_version_and_the_result_names_it(
    versions: PolicySet, as_of: dt.date, version: str
) -> None:
    """二(二) 省局每年…形成年度评价指标体系, 三(一): the version in force for the evaluated year
    (not for the evaluation date) is used, and every result names it — in the JSON result,
    in the CSV columns and in the readable explanation."""
    pack = versions.for_as_of(as_of)
    assert pack.version == version and pack.id == "jiangsu_perf"
    period = str(as_of.year - 1)
    run = pack.evaluate(
        [inst("X")], values("X", FULL_INPATIENT, period=period, date=str(as_of)), as_of=as_of
    )
    assert not [w for w in run.warnings if w.code == "eval.pack-not-in-force"]
    d = yc.result_to_dict(run.results[0])
    assert d["policy"] == {"id": "jiangsu_perf", "version": version, "sha256": pack.sha256}
    assert d["score"] == 100
    assert f"{pack.id} {version} " in yc.render_text(run.results[0], "zh")
    row = yc.render(run, "csv", "zh").splitlines()
    header = row[0].split(",")
    assert row[1].split(",")[header.index("policy_version")] == version


def test_issue14_item11_2024_version_is_a_provisional_copy_that_changes_nothing(
    p2023: yc.Policy, p2024: yc.Policy
) -> None:
    """二(二) 省局每年4月底前形成年度评价指标体系 (issue 14 item 11): the 2024 table is not in the
    seeds, so the 2024 version keeps every 2023 rule and value — it differs only in its identity
    (version, effective period, description, the source's note) and says so in
    ``pack.provisional`` — and it scores the year 2024 exactly as the 2023评价版 would."""
    a, b = p2023.model.model_dump(), p2024.model.model_dump()
    for key in a:
        if key != "pack":
            assert a[key] == b[key], key
    assert a["pack"]["id"] == b["pack"]["id"] == "jiangsu_perf"
    assert p2023.model.pack.provisional is None
    note = p2024.model.pack.provisional
    assert note is not None and not isinstance(note, str)
    assert "二(二)" in note.zh and "二(二)" in note.get("en") and "unchanged" in note.get("en")
    copy = {v.path: v for v in p2024.provisional()}["pack"]
    assert copy.file == str(V2024_PATH) and copy.line is not None
    assert V2024_PATH.read_text("utf-8").splitlines()[copy.line - 1].startswith("  provisional:")
    # the same records give the same score and grade with either version (2023 warns: out of
    # its effective period), DRG/DIP at 95% is 5 of 10 and negotiated drugs 4 in both
    for changes in ({}, {"drg_dip": 95}, {"nego_drugs": 0, "satisfaction": 85}):
        events = values("X", {**FULL_INPATIENT, **changes})
        r23, r24 = one(p2023, events), one(p2024, events)
        assert (r23.score, r23.grade) == (r24.score, r24.grade), changes
    s = steps(full(p2024, drg_dip=95))
    assert s["item.reform.drg_dip"]["outcome"] == 5
    assert s["item.reform.nego_drugs"]["outcome"] == 4
    assert s["category.reform"]["outcome"] == 15


@pytest.mark.parametrize("as_of", [dt.date(2023, 12, 31), dt.date(2026, 1, 1)])
def test_no_version_for_the_evaluated_year_is_an_error(versions: PolicySet, as_of: dt.date) -> None:
    """三(一), 五(一) 2023年起: as of 2023-12-31 the evaluated year is 2022, before the first
    version (2023评价版); as of 2026-01-01 it is 2025, after the last — ``eval.no-version``,
    never the nearest version."""
    with pytest.raises(yc.EvaluationError) as info:
        versions.for_as_of(as_of)
    assert [p.code for p in info.value.problems] == ["eval.no-version"]
    assert "2023评价版" in info.value.problems[0].message


def test_cli_evaluate_with_the_folder_picks_the_version(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """二(二), 三(一): ``yibao-credit evaluate policies/jiangsu_perf`` on the example data, as of
    2025-03-31, evaluates 2024 with the 2024 version and every line names it."""
    args = ["--subjects", str(EXAMPLES / "subjects.jsonl"), "--events"]
    args += [str(EXAMPLES / "events.jsonl"), "--as-of", "2025-03-31"]
    assert main(["evaluate", str(FOLDER), *args]) == 0
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert {r["policy"]["version"] for r in rows} == {"2024"}
    got = {r["subject_id"]: (r["status"], r["grade"], r["score"], r["exclusion"]) for r in rows}
    assert got == {
        "JS-C01": ("graded", "优秀", 100, None),
        "JS-C02": ("graded", "不合格", 40, None),
        "JS-C03": ("excluded", None, None, "designated_after_year"),
        "JS-H01": ("graded", "良好", 88.5, None),
        "JS-H02": ("graded", "合格", 66, None),
        "JS-H03": ("graded", "合格", 69, None),
    }
    assert "[eval.out-of-scope]" in err and "JS-C04" in err


def _versions_folder(tmp_path: Path, v2024_text: str) -> Path:
    folder = tmp_path / "versions"
    folder.mkdir()
    shutil.copy(V2023_PATH, folder)
    (folder / V2024_PATH.name).write_text(v2024_text, "utf-8")
    return folder


def test_overlapping_versions_are_a_load_error(tmp_path: Path) -> None:
    """二(二) 年度评价指标体系: one table per year — two versions whose ``effective`` ranges
    overlap are ``pack.versions.overlap``, located at the later version's effective."""
    text = V2024_PATH.read_text("utf-8").replace("from: 2024-01-01", "from: 2023-12-01")
    folder = _versions_folder(tmp_path, text)
    with pytest.raises(yc.PackError) as info:
        load_policies(folder)
    (p,) = info.value.problems
    assert p.code == "pack.versions.overlap"
    assert "2023评价版" in p.message and "2024" in p.message
    assert p.location.file == str(folder / V2024_PATH.name)
    lines = text.splitlines()
    effective = lines.index("  effective:") + 1
    assert p.location.line in (effective, effective + 1)


def test_versions_with_different_pack_ids_are_a_load_error(tmp_path: Path) -> None:
    """二(二): versions are the yearly tables of one pack; a file with another pack id in the
    folder is ``pack.versions``, naming both ids."""
    text = V2024_PATH.read_text("utf-8").replace(
        "pack:\n  version:", "pack:\n  id: other\n  version:"
    )
    folder = _versions_folder(tmp_path, text)
    with pytest.raises(yc.PackError) as info:
        load_policies(folder)
    (p,) = info.value.problems
    assert p.code == "pack.versions"
    assert "jiangsu_perf" in p.message and "other" in p.message
    assert p.location.file == str(folder / V2024_PATH.name)  # the file with the odd id
    assert p.location.line == text.splitlines().index("  id: other") + 1


def test_a_tests_file_in_the_versions_folder_is_not_a_version(tmp_path: Path) -> None:
    """二(二): the YAML test cases beside the versions (``*.tests.yaml``) are not versions."""
    folder = _versions_folder(tmp_path, V2024_PATH.read_text("utf-8"))
    (folder / "jiangsu_perf_2023.tests.yaml").write_text("cases: []\n", "utf-8")
    assert [v.version for v in load_policies(folder).versions] == ["2023评价版", "2024"]
    assert [v.version for v in _SET.versions] == ["2023评价版", "2024"]


def test_the_city_pack_outside_its_year_warns(suqian: yc.Policy) -> None:
    """三(一): Suqian's 2024 pack evaluating 2023 (as of 2024-03-31) is outside its effective
    period — evaluated, with the eval.pack-not-in-force warning (a single pack file has no
    other version to pick)."""
    events = values("X", FULL_INPATIENT, period="2023", date="2024-02-10")
    run = suqian.evaluate([inst("X")], events, as_of=dt.date(2024, 3, 31))
    assert [w.code for w in run.warnings] == ["eval.pack-not-in-force"]


# --- review stages (三(二)1–3) -------------------------------------------------------------------

REVIEWED = [
    *values("X", FULL_INPATIENT),
    ind("X", "satisfaction", 90, stage="county", date="2025-03-05"),
    ind("X", "satisfaction", 85, stage="city", date="2025-03-25"),
    ind("X", "catalogue_compliance", 90, stage="county", date="2025-03-05"),
    ind("X", "drg_dip", 95, stage="city", date="2025-03-25"),
]
"""Self-assessed at full marks; the county lowers 满意度 to 90 and 目录执行 to 90; the city
lowers 满意度 further to 85 and DRG/DIP to 95. Stage scores: self 100; county 100 − 5 − 5 = 90;
city 100 − 7.5 − 5 − 5 = 82.5."""


def test_every_stage_is_kept_and_the_last_decides(p2024: yc.Policy) -> None:
    """三(二)1 自评, 2 县(市、区)初审, 3 设区市确认评价结果: each stage's score is kept; the
    result is the city's; each fact cites the value of the latest stage."""
    r = one(p2024, REVIEWED)
    assert r.stages == (("self", 100, "优秀"), ("county", 90, "优秀"), ("city", 82.5, "良好"))
    assert (r.score, r.grade) == (82.5, "良好")
    s = steps(r)
    assert s["fact.satisfaction"]["outcome"] == 85
    assert s["fact.satisfaction"]["evidence"] == ["X-satisfaction-2024-city"]
    assert s["fact.catalogue_compliance"]["evidence"] == ["X-catalogue_compliance-2024-county"]
    assert s["fact.drg_dip"]["evidence"] == ["X-drg_dip-2024-city"]
    assert s["fact.price_compliance"]["evidence"] == ["X-price_compliance-2024-self"]


def test_the_trace_shows_what_review_changed(p2024: yc.Policy) -> None:
    """三(二)2–3: the review step lists every stage's score and grade and every value review
    changed, with each stage's value and the events behind them."""
    review = steps(one(p2024, REVIEWED))["review"]
    assert review["clause"] == f"{DOC} 三(二)"
    assert review["outcome"] == 3
    assert review["inputs"]["stages"] == [
        {"stage": "self", "score": 100, "grade": "优秀"},
        {"stage": "county", "score": 90, "grade": "优秀"},
        {"stage": "city", "score": 82.5, "grade": "良好"},
    ]
    changes = {c["key"]["indicator"]: c for c in review["inputs"]["changes"]}
    assert set(changes) == {"satisfaction", "catalogue_compliance", "drg_dip"}
    assert changes["satisfaction"]["stages"] == {"self": 100, "county": 90, "city": 85}
    assert changes["satisfaction"]["key"] == {"indicator": "satisfaction", "period": "2024"}
    assert changes["catalogue_compliance"]["stages"] == {"self": 100, "county": 90}
    assert changes["drg_dip"]["stages"] == {"self": 100, "city": 95}
    assert changes["drg_dip"]["events"] == ["X-drg_dip-2024-self", "X-drg_dip-2024-city"]
    assert "X-satisfaction-2024-city" in review["evidence"]
    assert "X-price_compliance-2024-self" not in review["evidence"]


def test_a_silent_stage_accepts_the_earlier_value(p2024: yc.Policy) -> None:
    """三(二) (pack note on review): a stage silent about a value accepts it — without county or
    city values all stages score the self-assessment; with only a county value the city stage
    keeps it; a stage that repeats a value unchanged changes nothing."""
    r = full(p2024, satisfaction=90)
    assert r.stages == (("self", 95, "优秀"), ("county", 95, "优秀"), ("city", 95, "优秀"))
    assert not r.review_changes and steps(r)["review"]["outcome"] == 0
    county_only = [*values("X", FULL_INPATIENT), ind("X", "satisfaction", 90, stage="county")]
    r = one(p2024, county_only)
    assert [sc for _, sc, _ in r.stages] == [100, 95, 95] and r.score == 95
    same = [*values("X", FULL_INPATIENT), ind("X", "satisfaction", 100, stage="city")]
    r = one(p2024, same)
    assert not r.review_changes and r.score == 100


def test_a_city_confirmation_after_as_of_is_not_yet_known(p2024: yc.Policy) -> None:
    """三(一) 原则上3月底前确认评价结果, 三(二)3: evaluated before the city's confirmation is
    dated, the county's value is the last one known."""
    late = [
        *values("X", FULL_INPATIENT),
        ind("X", "satisfaction", 85, "2024", "city", "2025-04-02"),
    ]
    run = p2024.evaluate([inst("X")], late, as_of=AS_OF)
    r = run.results[0]
    assert r.score == 100 and not r.review_changes
    assert [w.code for w in run.warnings] == ["eval.after-as-of"]


@pytest.mark.parametrize("stage", ["province", None])
def test_a_value_at_an_unknown_stage_is_a_record_error(
    p2024: yc.Policy, tmp_path: Path, stage: str | None
) -> None:
    """三(二): the only stages are self, county and city; an indicator value at another stage, or
    at none, is an input error (record.event.review-stage) naming the file and line — never
    dropped or guessed."""
    events = write_jsonl(
        tmp_path / "events.jsonl",
        [*values("X", FULL_INPATIENT), ind("X", "satisfaction", 90, stage=stage, eid="odd")],
    )
    subjects = write_jsonl(tmp_path / "subjects.jsonl", [inst("X")])
    records = yc.load_records(subjects, events)
    with pytest.raises(yc.RecordError) as info:
        p2024.evaluate(records, as_of=AS_OF)
    (p,) = info.value.problems
    assert p.code == "record.event.review-stage"
    assert "self, county, city" in p.message
    assert (p.location.file, p.location.line) == (str(events), len(FULL_INPATIENT) + 1)


def test_two_values_at_one_stage_are_a_record_error(p2024: yc.Policy) -> None:
    """三(二): each stage gives one value per indicator and period; a second one is an input
    error (record.event.review-duplicate), not a silent choice between them."""
    events = [*values("X", FULL_INPATIENT), ind("X", "satisfaction", 90, eid="again")]
    with pytest.raises(yc.RecordError) as info:
        p2024.evaluate([inst("X")], events, as_of=AS_OF)
    assert [p.code for p in info.value.problems] == ["record.event.review-duplicate"]


def test_cli_review_lists_exactly_the_changed_indicators(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """三(二)2–3: ``yibao-credit review`` lists, per institution, each stage's score and grade
    and exactly the indicators review changed; an institution review left alone is not
    listed."""
    subjects = write_jsonl(tmp_path / "s.jsonl", [inst("X"), inst("Y", name="乙医院")])
    events = write_jsonl(tmp_path / "e.jsonl", [*REVIEWED, *values("Y", FULL_INPATIENT)])
    argv = ["review", str(FOLDER), "--subjects", str(subjects), "--events", str(events)]
    assert main([*argv, "--as-of", "2025-03-31"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        lines[0].startswith("X ")
        and "[self: 100 优秀, county: 90 优秀, city: 82.5 良好]" in lines[0]
    )
    changed = sorted(line.strip().split(":")[0] for line in lines[1:])
    assert changed == [
        "indicator=catalogue_compliance, period=2024",
        "indicator=drg_dip, period=2024",
        "indicator=satisfaction, period=2024",
    ]
    assert all(line.startswith("    ") for line in lines[1:])
    assert [line.split()[0] for line in lines if not line.startswith(" ")] == ["X"]


def test_cli_review_on_the_example_data(capsys: pytest.CaptureFixture[str]) -> None:
    """三(二)2–3 on examples/jiangsu: the county lowered JS-H01's satisfaction and the city kept
    it; the county lowered JS-H02's catalogue compliance and the city its DRG/DIP rate; the
    county lowered JS-C02's price compliance. Nothing else changed."""
    args = ["--subjects", str(EXAMPLES / "subjects.jsonl"), "--events"]
    args += [str(EXAMPLES / "events.jsonl"), "--as-of", "2025-03-31"]
    assert main(["review", str(FOLDER), *args]) == 0
    out = capsys.readouterr().out
    listed: dict[str, list[str]] = {}
    current = ""
    for line in out.splitlines():
        if line.startswith("    "):
            listed[current].append(line.strip().split(":")[0].split(",")[0])
        else:
            current = line.split()[0]
            listed[current] = []
    assert listed == {
        "JS-C02": ["indicator=price_compliance"],
        "JS-H01": ["indicator=satisfaction"],
        "JS-H02": ["indicator=catalogue_compliance", "indicator=drg_dip"],
    }
    assert "self: 77.5 合格, county: 72 合格, city: 66 合格" in out


# --- the YAML pack tests --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [FOLDER / "jiangsu_perf_2023.yaml", SUQIAN_PATH],
)
def test_yaml_cases_run_with_the_test_command(
    target: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """二(二), 三(一), 三(二): the worked examples beside the 2023 version (inside the versions
    folder) and beside the Suqian extension run with ``yibao-credit test <pack>`` and pass."""
    assert main(["test", str(target)]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("passed, 0 failed")
    assert not out.startswith("0 passed")


def test_a_value_first_given_by_the_county_is_a_review_change(
    p2024: yc.Policy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """三(二)2: the county's review may supply a value the institution's self-assessment left
    out; that is a change review made, listed like any other (self — → county 100)."""
    table = {k: v for k, v in FULL_INPATIENT.items() if k != "satisfaction"}
    events = [*values("X", table), ind("X", "satisfaction", 100, stage="county")]
    r = p2024.evaluate([inst("X")], events, as_of=AS_OF).get("X")
    assert r is not None
    assert [c.key for c in r.review_changes] == [("satisfaction", "2024")]
    subjects = write_jsonl(tmp_path / "s.jsonl", [inst("X")])
    evfile = write_jsonl(tmp_path / "e.jsonl", events)
    argv = ["review", str(FOLDER), "--subjects", str(subjects), "--events", str(evfile)]
    assert main([*argv, "--as-of", "2025-03-31"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[0] == "X"
    assert lines[1].strip() == "indicator=satisfaction, period=2024: self — → county 100"


def test_a_review_change_to_another_period_is_not_reported(p2024: yc.Policy) -> None:
    """三(一): evaluating 2024 reads only the 2024 values; the county changing a 2023 value
    changes nothing in this result and is not listed as a change of it."""
    events = [
        *values("X", FULL_INPATIENT),
        ind("X", "satisfaction", 100, period="2023"),
        ind("X", "satisfaction", 80, period="2023", stage="county"),
    ]
    r = p2024.evaluate([inst("X")], events, as_of=AS_OF).get("X")
    assert r is not None
    assert r.review_changes == ()
    assert {g for _, _, g in r.stages} == {r.grade}


def test_cli_test_runs_the_cases_of_a_folder_of_versions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """二(二) yearly versions: ``yibao-credit test`` on the folder runs the test cases kept
    beside its versions; a folder with none is an error, not "0 passed"."""
    assert main(["test", str(FOLDER)]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("0 failed") and not out.startswith("0 passed")
    assert main(["test", str(tmp_path)]) == 1
    assert "no *.tests.yaml" in capsys.readouterr().err


def test_provisional_values_of_an_extension_name_the_file_that_wrote_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """二(二): Suqian's own indicators are provisional in the city file, the province's
    defaults in the provincial file; `validate --provisional` names each one's own file
    and line (a reviewer must find the value where it is written)."""
    values = yc.load_policy(SUQIAN_PATH).provisional()
    files = {Path(v.file).resolve() for v in values if v.file is not None}
    assert files == {SUQIAN_PATH.resolve(), V2023_PATH.resolve(), V2024_PATH.resolve()}
    for v in values:
        assert v.file is not None and v.line is not None
        lines = Path(v.file).read_text("utf-8").splitlines()
        assert v.line <= len(lines), (v.file, v.line)
    assert values[0].file == str(yc.load_policy(SUQIAN_PATH).file)
    assert main(["validate", "--provisional", str(SUQIAN_PATH)]) == 0
    out = capsys.readouterr().out
    # the first Suqian fact, located at its mapping (the line after its name)
    fact = SUQIAN_PATH.read_text("utf-8").splitlines().index("      reasonable_cost:") + 2
    assert "jiangsu_perf_2023.yaml:" in out and f"suqian_perf_2024.yaml:{fact}: " in out


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ("evaluation_yeer", "names no window of this pack: 'evaluation_yeer' (did you mean"),
        ("submissions", "'submissions' is a window of type all"),
    ],
)
def test_version_by_must_name_a_window_with_a_fixed_start(
    tmp_path: Path, window: str, message: str
) -> None:
    """三(一): versions are chosen by the evaluated year; a `version_by` naming no window, or
    a window without a start fixed by as_of, is a load error at its line — never a crash or
    a silent fall-back to as_of when evaluating."""
    path = tmp_path / "v.yaml"
    path.write_text(f"extends: {V2024_PATH}\npack:\n  version_by: {window}\n", "utf-8")
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(path)
    (p,) = info.value.problems
    assert message in p.message
    assert (p.location.file, p.location.line, p.location.path) == (str(path), 3, "pack.version_by")


# --- issue 14: the city default (item 4) and provenance gaps (item 11) ---------------------------

_CITY_DEFAULT_ZERO = """\
extends: {base}
pack:
  version: "2024-city-default-0"
parameters:
  city_default_points:
    values:
      2023-01-01:
        value: 0
        provisional: the provincial 2024 version with a city default of 0, to measure the default
"""

SHARES_DEFAULT_10 = {
    "JS-C01": 1_479_390,
    "JS-C02": 487_042,
    "JS-C03": 0,
    "JS-H01": 54_552_498,
    "JS-H02": 14_645_959,
    "JS-H03": 5_565_976,
}
"""examples/jiangsu as of 2025-03-31 with the pack as shipped (city default 10): fen allocated."""
SHARES_DEFAULT_0 = {
    "JS-C01": 1_518_677,
    "JS-C02": 416_647,
    "JS-C03": 0,
    "JS-H01": 55_192_662,
    "JS-H02": 14_174_320,
    "JS-H03": 5_428_559,
}
"""The same with a city default of 0."""


def test_issue14_item4_city_default_points_2_2_moves_grades_and_shares_of_the_pool(
    p2024: yc.Policy, tmp_path: Path
) -> None:
    """二(二) 预留10%, 四 (issue 14 item 4): the default of the city category is a decision, not a
    neutral constant. On examples/jiangsu as of 2025-03-31, 10 points for all (as shipped)
    against 0 for all: every score moves by 10 and the order by score stays, but JS-H01 falls
    from 良好 to 合格, JS-H02 and JS-H03 from 合格 to 不合格, and the pool is shared otherwise —
    JS-C02 receives 487,042 fen with the default and 416,647 without. The note on
    ``city_default_points`` states these numbers (this test keeps it true) and the value is
    provisional, naming who must decide it."""
    zero = tmp_path / "zero.yaml"
    zero.write_text(_CITY_DEFAULT_ZERO.format(base=V2024_PATH), "utf-8")
    records = yc.load_records(EXAMPLES / "subjects.jsonl", EXAMPLES / "events.jsonl")
    deposits = read_deposits(EXAMPLES / "deposits.csv")
    runs = {
        10: p2024.evaluate(records, as_of=AS_OF),
        0: yc.load_policy(zero).evaluate(records, as_of=AS_OF),
    }
    results = {k: {r.subject.id: r for r in run} for k, run in runs.items()}
    graded = sorted(sid for sid, r in results[10].items() if r.status == "graded")
    assert graded == ["JS-C01", "JS-C02", "JS-H01", "JS-H02", "JS-H03"]
    for sid in graded:
        high, low = results[10][sid].score, results[0][sid].score
        assert high is not None and low is not None and high == low + 10, sid

    def order(k: int) -> list[str]:
        return sorted(graded, key=lambda sid: (-(results[k][sid].score or 0), sid))

    assert order(10) == order(0)
    assert {sid: results[10][sid].grade for sid in graded} == {
        "JS-C01": "优秀",
        "JS-C02": "不合格",
        "JS-H01": "良好",
        "JS-H02": "合格",
        "JS-H03": "合格",
    }
    assert {sid: results[0][sid].grade for sid in graded} == {
        "JS-C01": "优秀",
        "JS-C02": "不合格",
        "JS-H01": "合格",
        "JS-H02": "不合格",
        "JS-H03": "不合格",
    }
    shares = {
        k: {s.subject_id: s.allocated for s in allocate(run, deposits).shares}
        for k, run in runs.items()
    }
    assert shares[10] == SHARES_DEFAULT_10
    assert shares[0] == SHARES_DEFAULT_0
    assert sum(SHARES_DEFAULT_10.values()) == sum(SHARES_DEFAULT_0.values()) == 76_730_865
    # the same points added to every score narrow the ratios: money moves to the lower scores
    assert shares[10]["JS-C02"] > shares[0]["JS-C02"] and shares[10]["JS-H01"] < shares[0]["JS-H01"]
    value = p2024.model.parameters["city_default_points"].values["2023-01-01"]
    assert value.value == 10
    assert value.provisional is not None and not isinstance(value.provisional, str)
    for who in ("设区市医保局", "绩效评价工作领导小组", "评价评分标准"):
        assert who in value.provisional.zh and who in value.provisional.get("en")
    assert value.note is not None and not isinstance(value.note, str)
    note = " ".join(value.note.get("en").split())
    assert "changes no" not in note
    for text in (
        "487,042",
        "416,647",
        "54,552,498",
        "55,192,662",
        "良好 88.5 to 合格 78.5",
        "合格 66 to 不合格 56",
        "合格 69 to 不合格 59",
    ):
        assert text in note, text
    listed = {v.path for v in p2024.provisional()}
    assert "parameters.city_default_points.values.2023-01-01" in listed


@pytest.mark.parametrize("path", [V2023_PATH, V2024_PATH, SUQIAN_PATH])
def test_issue14_item11_grade_labels_2_2_are_provisional(path: Path) -> None:
    """二(二), 四 (issue 14 item 11): the 办法 speaks of 评价结果 and a 百分制 score, never of
    grade labels — 优秀, 良好, 合格 and 不合格 are each provisional (pack metadata, not a rule),
    and ``validate --provisional`` lists every one in both classes."""
    pack = yc.load_policy(path)
    listed = {v.path for v in pack.provisional()}
    for rs in ("inpatient", "outpatient"):
        grading = pack.model.rulesets[rs].grading
        assert isinstance(grading, ScoreGrading)
        assert [g.label for g in grading.grades] == ["优秀", "良好", "合格", "不合格"]
        for i, grade in enumerate(grading.grades):
            assert grade.provisional and not isinstance(grade.provisional, str)
            assert (
                "grade label" in grade.provisional.get("en") and "等级名称" in grade.provisional.zh
            )
            assert f"rulesets.{rs}.grading.grades[{i}]" in listed


@pytest.mark.parametrize("ruleset", ["inpatient", "outpatient"])
def test_issue14_item11_monitoring_flags_2_2_are_provisional(
    p2024: yc.Policy, ruleset: str
) -> None:
    """二(二) 确定部分指标为全省监测指标 (issue 14 item 11): the text names no monitoring indicator,
    so every item flagged ``monitoring: true`` (four of them were unmarked) says in its
    provisional note that whether it is one is for 附件1/附件2 to say."""
    grading = p2024.model.rulesets[ruleset].grading
    assert isinstance(grading, ScoreGrading)
    flagged = [i for c in grading.categories for i in c.items if i.monitoring]
    assert {i.id for i in flagged} == MONITORING[ruleset]
    for item in flagged:
        assert item.provisional and not isinstance(item.provisional, str), item.id
        assert "monitoring indicator" in item.provisional.get("en"), item.id
        assert "监测指标" in item.provisional.zh, item.id
        assert "二(二)" in item.provisional.zh and "二(二)" in item.provisional.get("en"), item.id


def _cited_sources(node: Any) -> set[str]:
    """The ``source`` of every ``clause: {source: …, ref: …}`` in a validated pack."""
    if isinstance(node, ClauseRef):
        return {node.source}
    if isinstance(node, BaseModel):
        return set().union(*(_cited_sources(getattr(node, n)) for n in type(node).model_fields))
    if isinstance(node, dict):
        return set().union(*(_cited_sources(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_cited_sources(v) for v in node))
    return set()


def test_issue14_item11_suqian_city_indicator_names_2_2_are_provisional(suqian: yc.Policy) -> None:
    """二(二) 预留10%由各设区市…制定 (issue 14 item 11): Suqian's four indicator names come from
    the project's issue 4, not from a published text. Each city fact, the city category and
    each city item is provisional; the source ``sq2024`` is a provisional placeholder that no
    rule cites while it is unread; ``validate --provisional`` lists it at its line, and the
    inherited note that the provincial 2024 version is a provisional copy in the 2024 file."""
    sources = {s.id: s for s in suqian.model.pack.sources}
    placeholder = sources["sq2024"]
    assert placeholder.provisional and not isinstance(placeholder.provisional, str)
    assert "not in the seeds" in placeholder.provisional.get("en")
    assert "sq2024" not in _cited_sources(suqian.model)
    assert sources["js26"].provisional is None
    for rs in ("inpatient", "outpatient"):
        ruleset = suqian.model.rulesets[rs]
        for name in FULL_SUQIAN:
            fact = ruleset.facts[name]
            assert fact.provisional and not isinstance(fact.provisional, str), (rs, name)
            assert "issue 4" in fact.provisional.get("en"), (rs, name)
            assert "issue 4" in fact.provisional.zh, (rs, name)
        grading = ruleset.grading
        assert isinstance(grading, ScoreGrading)
        city = grading.categories[-1]
        assert city.provisional and not isinstance(city.provisional, str)
        assert "issue 4" in city.provisional.get("en") and "issue 4" in city.provisional.zh
        assert all(i.provisional for i in city.items if i.id in FULL_SUQIAN)
    listed = {v.path: v for v in suqian.provisional()}
    entry = listed["pack.sources[1]"]
    line = SUQIAN_PATH.read_text("utf-8").splitlines().index("      provisional:") + 1
    assert (Path(entry.file or "").resolve(), entry.line) == (SUQIAN_PATH.resolve(), line)
    assert Path(listed["pack"].file or "").resolve() == V2024_PATH.resolve()


def test_issue14_item11_validate_provisional_lists_pack_metadata(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Principle 2, 二(二) (issue 14 item 11): a pack's metadata — ``pack`` itself, a source, a
    grade label — may be provisional like any rule, and ``validate --provisional`` lists it
    beside the rules' values, at the line of its own ``provisional:`` in the file that wrote
    it (here a pack extending the provincial 2024 version)."""
    path = tmp_path / "meta.yaml"
    path.write_text(
        f"extends: {V2024_PATH}\n"
        "pack:\n"
        "  id: meta_example\n"
        '  version: "x"\n'
        "  provisional: this pack's identity is printed nowhere\n"
        "  sources:\n"
        "    - id: js26\n"
        "      provisional: the number is as printed, the date is not\n",
        "utf-8",
    )
    assert main(["validate", "--provisional", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"  {path}:5: pack: provisional: this pack's identity is printed nowhere\n" in out
    assert f"  {path}:8: pack.sources[0]: provisional: the number is as printed" in out
    assert "jiangsu_perf_2023.yaml:" in out and "grading.grades[3]: provisional:" in out
    assert out.count(": pack: provisional:") == 1  # the city's own replaces the 2024 version's
