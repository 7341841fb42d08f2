"""济医保字〔2023〕19号 (Jinan) through the public Python API: policies/jinan.yaml.

The seed is a work plan: it names the credit information (三(二)), the credit commitment
(三(四)), credit repair and the expiry of adverse information (三(五)), the scoring model the city
must still configure (三(三), 四(二)5) and the analysis of 四(三). Every weight, point value,
validity period and band in the pack is provisional; the tests pin the *structure* the seed sets
and the readings stated in the pack's `note:`s, and they check the provisional numbers only
where a worked example needs them (each test says so).

Unless a test says otherwise, the subject was designated on 2015-01-01, signed its commitment on
2020-01-01 and is evaluated as of 2024-12-31 without history: 信用承诺 100, 基础信息 100,
守信信息 60, 失信信息 100, 历史信用信息 80 → 10 + 10 + 6 + 50 + 16 = 92 (A).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import yibao_credit as yc
from yibao_credit.cli.main import main
from yibao_credit.pack.schema import ScoreGrading, Veto
from yibao_credit.render.summary import summarize

ROOT = Path(__file__).resolve().parents[1]
PACK_PATH = ROOT / "policies" / "jinan.yaml"
EXAMPLES = ROOT / "examples" / "jinan"
DOC = "济医保字〔2023〕19号"
AS_OF = dt.date(2024, 12, 31)
OLD = "2015-01-01"
GRADES = ["A", "B", "C", "D"]
RANK = {g: i for i, g in enumerate(GRADES)}
CATEGORIES = ["commitment", "basic", "trust", "adverse", "history"]

CLAUSES = {
    "三(二)": "建立信息采集归档机制: 信用承诺、基础信息、守信信息、失信信息、历史信用信息",
    "三(三)": "完善信用评定机制: 设定评价周期, 信用分级、评价指标及评分标准",
    "三(四)": "建立信用承诺机制",
    "三(五)": "建立信用修复机制: 不良行为信息有效期届满…自动失效",
    "三(七)": "拓展信用评价应用",
    "四(一)2": "做好数据维护: 定点医疗机构、定点零售药店两大主体",
    "四(三)": "结果分析应用: 按不同区划、等级以及重点指标进行分析 (analysis: key_indicators)",
}
"""Every clause of the seed the pack cites, with the heading it has in the document."""

ADVERSE = [
    "violation",
    "complaint",
    "price_interview",
    "agreement_breach",
    "serious_violation",
    "fraud",
    "commitment_breach",
]
"""The adverse kinds the pack scores (三(二) 失信信息, 三(四) broken commitments)."""


@pytest.fixture(scope="module")
def pack() -> yc.Policy:
    return yc.load_policy(PACK_PATH)


_PACK = yc.load_policy(PACK_PATH)
"""A module-level copy for the hypothesis tests (fixtures are not reset between examples)."""


def inst(
    sid: str, category: str = "hospital", designated_on: str = OLD, **attrs: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": sid,
        "type": "institution",
        "category": category,
        "designated_on": designated_on,
    }
    out.update(attrs)
    return out


def ev(eid: str, subject: str, kind: str, date: dt.date | str, **attrs: Any) -> dict[str, Any]:
    day = date.isoformat() if isinstance(date, dt.date) else date
    out: dict[str, Any] = {"id": eid, "subject_id": subject, "kind": kind, "date": day}
    out.update(attrs)
    return out


def committed(sid: str = "X") -> dict[str, Any]:
    """The credit commitment of 三(四), signed under the current agreement."""
    return ev(f"c-{sid}", sid, "commitment", "2020-01-01")


def one(
    pack: yc.Policy,
    events: list[dict[str, Any]],
    as_of: dt.date = AS_OF,
    history: list[dict[str, Any]] | None = None,
    **subject: Any,
) -> yc.Result:
    """The result of a lone institution ``X`` with these events."""
    run = pack.evaluate([inst("X", **subject)], events, as_of=as_of, history=history)
    r = run.get("X")
    assert r is not None
    return r


def steps(r: yc.Result) -> dict[str, dict[str, Any]]:
    """The trace by step id, as the JSON contract carries it."""
    trace = json.loads(json.dumps(yc.result_to_dict(r)["trace"], default=str))
    return {s["step"]: s for s in trace}


def categories(r: yc.Result) -> dict[str, float]:
    return {c: steps(r)[f"category.{c}"]["outcome"] for c in CATEGORIES}


def pack_copy(tmp_path: Path, old: str, new: str) -> tuple[Path, str]:
    """A copy of the pack with one text replaced (exactly once); returns its path and text."""
    text = PACK_PATH.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in the pack"
    changed = text.replace(old, new)
    path = tmp_path / "jinan.yaml"
    path.write_text(changed, encoding="utf-8")
    return path, changed


def line_of(text: str, pattern: str) -> int:
    """The 1-based line of the only line matching a regular expression."""
    found = [i for i, line in enumerate(text.splitlines(), 1) if re.search(pattern, line)]
    assert len(found) == 1, found
    return found[0]


# ---------------------------------------------------------------------------------------------
# Provenance: the source, and every clause cited
# ---------------------------------------------------------------------------------------------


def test_source_cites_19_and_records_the_199_discrepancy(pack: yc.Policy) -> None:
    """The index prints 济医保字〔2023〕19号, the notice's heading 199号: the pack cites 19号
    (as the index does) and says so in the source's note."""
    src = pack.model.pack.sources[0]
    assert src.number == DOC
    assert src.date == dt.date(2023, 11, 8)
    assert src.note is not None and not isinstance(src.note, str)
    for text in (src.note.zh, src.note.get("en")):
        assert "199号" in text and "19号" in text
    assert pack.model.pack.effective.from_ == dt.date(2023, 11, 8)


def _clauses(node: Any) -> list[str]:
    if isinstance(node, dict):
        out = [node["clause"]] if isinstance(node.get("clause"), str) else []
        return out + [c for v in node.values() for c in _clauses(v)]
    if isinstance(node, list):
        return [c for v in node for c in _clauses(v)]
    return []


def test_every_clause_cited_is_a_clause_of_the_seed() -> None:
    """Each `clause:` in the pack is one of the seed's clauses, as the document prints it, and
    each of those is cited."""
    data = yaml.safe_load(PACK_PATH.read_text(encoding="utf-8"))
    cited = set(_clauses(data))
    assert cited == set(CLAUSES)


def test_every_trace_step_cites_a_clause_or_is_provisional(pack: yc.Policy) -> None:
    """三(二)–三(七): a full trace names the clause behind each step, or marks it provisional."""
    r = one(
        pack,
        [
            committed(),
            ev("v1", "X", "violation", "2024-06-01"),
            ev("r1", "X", "repair", "2024-07-01", repairs="v1"),
        ],
    )
    for s in steps(r).values():
        assert s["clause"] is not None or s.get("provisional"), s
        if s["clause"] is not None:
            assert s["clause"].removeprefix(DOC + " ") in CLAUSES, s
    expected = {
        "category.commitment": "三(四)",
        "item.commitment.signed": "三(四)",
        "item.commitment.breached": "三(四)",
        "category.basic": "三(二)",
        "category.trust": "三(二)",
        "category.adverse": "三(二)",
        "category.history": "三(二)",
        "history.previous_rank": "三(二)",
        "score": "三(三)",
        "repair": "三(五)",
        "group.medical": "四(一)2",
        "exclusion.not_yet_designated": "四(一)2",
    }
    got = steps(r)
    for step_id, clause in expected.items():
        assert got[step_id]["clause"] == f"{DOC} {clause}", step_id
    measures = yc.result_to_dict(r)["measures"]
    assert [m["id"] for m in measures] == [
        "graded_supervision",
        "agreement_management",
        "publication",
    ]
    assert {m["clause"] for m in measures} == {f"{DOC} 三(七)"}


def test_no_number_is_presented_as_published(pack: yc.Policy) -> None:
    """The seed prints no weight, point, band or period: every one of them is provisional."""
    grading = pack.model.rulesets["institution"].grading
    assert isinstance(grading, ScoreGrading)
    assert grading.provisional
    for cat in grading.categories:
        assert cat.provisional, cat.id
        for item in cat.items:
            assert item.provisional, f"{cat.id}.{item.id}"
    assert all(b.provisional for b in grading.bands)
    assert all(v.provisional for v in grading.vetoes)
    assert all(v.provisional for v in pack.model.validity.values())
    for name, param in pack.model.parameters.items():
        assert all(v.provisional for v in param.values.values()), name


# ---------------------------------------------------------------------------------------------
# 三(二)/三(三) the score model: five categories, weights adding up to 1, bands without gaps
# ---------------------------------------------------------------------------------------------


def test_five_information_categories_of_3_2_in_the_score(pack: yc.Policy) -> None:
    """三(二): 信用承诺、基础信息、守信信息、失信信息、历史信用信息, each scored 0–100."""
    grading = pack.model.rulesets["institution"].grading
    assert isinstance(grading, ScoreGrading)
    assert [c.id for c in grading.categories] == CATEGORIES
    assert [c.title.zh for c in grading.categories] == [
        "信用承诺",
        "基础信息",
        "守信信息",
        "失信信息",
        "历史信用信息",
    ]
    for c in grading.categories:
        assert (c.min, c.max) == (0, 100), c.id
    assert (grading.floor, grading.ceiling) == (0, 100)


def test_weights_add_up_to_weights_total(pack: yc.Policy) -> None:
    """三(三)/四(二)5 权重配置: the weights add up to weights_total (1), so the total is the
    weighted mean of the categories."""
    grading = pack.model.rulesets["institution"].grading
    assert isinstance(grading, ScoreGrading)
    assert grading.weights_total == 1
    assert sum(c.weight or 0 for c in grading.categories) == pytest.approx(1)
    r = one(pack, [committed()])
    weights = {c.id: c.weight for c in grading.categories}
    mean = sum((weights[c] or 0) * v for c, v in categories(r).items())
    assert r.score == pytest.approx(mean) == 92


def test_a_wrong_weight_is_a_load_error_naming_weights_total(tmp_path: Path) -> None:
    """四(二)5: a weight that makes the sum 0.9 is refused at load time, at weights_total."""
    path, text = pack_copy(tmp_path, "weight: 0.5\n", "weight: 0.4\n")
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(path)
    [problem] = info.value.problems
    assert problem.location.path is not None
    assert problem.location.path.endswith("grading.weights_total")
    assert problem.location.line == line_of(text, r"^\s+weights_total: 1$")
    assert "0.9" in problem.message


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ('range: "[90, 100]"', 'range: "[91, 100]"', "gap between rows 2 [80, 90) and 1 [91, 100]"),
        ('range: "[80, 90)"', 'range: "[80, 91)"', "rows 2 [80, 91) and 1 [90, 100] overlap"),
    ],
    ids=["gap", "overlap"],
)
def test_band_gaps_and_overlaps_are_load_errors_with_lines(
    tmp_path: Path, old: str, new: str, words: str
) -> None:
    """三(三) 信用分级: the bands must give each score in [0, 100] exactly one grade; a gap
    ([80, 90) then [91, 100]) or an overlap is refused at load time, located in the `bands:`
    list of the file (rows named in the message)."""
    path, text = pack_copy(tmp_path, old, new)
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(path)
    [problem] = info.value.problems
    assert words in problem.message
    assert problem.location.file is not None and problem.location.file.endswith("jinan.yaml")
    first = line_of(text, r"^\s+bands:$")
    last = line_of(text, r"grade: D, range: ")
    assert problem.location.line is not None and first <= problem.location.line <= last
    path = problem.location.path
    assert path is not None and path.startswith("rulesets.institution.grading.bands[")


@pytest.mark.parametrize(
    ("score_events", "score", "grade"),
    [
        # 信用承诺 0, 基础信息 80 (agreement since 2022-06-01): 0 + 8 + 6 + 50 + 16 = 80, B's edge
        ([], 80, "B"),
        # + a reward of 9.9 points: 守信信息 69.9 → 80.99
        ([ev("w1", "X", "reward", "2024-03-01", points=9.9)], 80.99, "B"),
    ],
)
def test_band_edges_are_inclusive_as_written(
    pack: yc.Policy, score_events: list[dict[str, Any]], score: float, grade: str
) -> None:
    """三(三): B is [80, 90): a score of exactly 80 is B, not C (provisional bands)."""
    r = one(pack, score_events, designated_on="2022-06-01")
    assert (r.score, r.grade) == (score, grade)


# ---------------------------------------------------------------------------------------------
# 三(四) 信用承诺
# ---------------------------------------------------------------------------------------------


def test_signed_commitment_scores_in_its_category(pack: yc.Policy) -> None:
    """三(四): a commitment signed under the current agreement gives 信用承诺 100; none gives 0."""
    with_c = one(pack, [committed()])
    without = one(pack, [])
    assert categories(with_c)["commitment"] == 100
    assert categories(without)["commitment"] == 0
    assert steps(with_c)["item.commitment.signed"]["evidence"] == ["c-X"]
    assert (with_c.score, with_c.grade, without.score, without.grade) == (92, "A", 82, "B")


def test_commitment_under_an_earlier_agreement_does_not_count(pack: yc.Policy) -> None:
    """三(四) (reading): the commitment is counted from designated_on, the current agreement."""
    r = one(pack, [ev("c0", "X", "commitment", "2022-05-31")], designated_on="2022-06-01")
    assert steps(r)["fact.committed"]["outcome"] is False
    r = one(pack, [ev("c0", "X", "commitment", "2022-06-01")], designated_on="2022-06-01")
    assert steps(r)["fact.committed"]["outcome"] is True


def test_broken_commitment_deducts_but_is_no_veto(pack: yc.Policy) -> None:
    """三(四): 是否遵守信用承诺 is a reference for 信用惩戒; a broken commitment deducts 50
    (provisional) and the grade stays the score's."""
    r = one(pack, [committed(), ev("cb1", "X", "commitment_breach", "2024-05-10")])
    assert categories(r)["commitment"] == 50
    assert (r.score, r.grade, r.veto) == (87, "B", -1)
    assert steps(r)["item.commitment.breached"]["evidence"] == ["cb1"]
    assert not any(v.when.find("commitment") >= 0 for v in _vetoes())


def _vetoes() -> list[Veto]:
    grading = _PACK.model.rulesets["institution"].grading
    assert isinstance(grading, ScoreGrading)
    return list(grading.vetoes)


# ---------------------------------------------------------------------------------------------
# 基础信息, 守信信息, 失信信息
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("designated_on", "basic"),
    [
        ("2024-01-01", 60),  # the first year ends 2025-01-01
        ("2023-12-31", 80),  # the first year ends on as_of itself
        ("2021-12-31", 100),  # three years end 2024-12-31
        ("2022-01-01", 80),  # three years end 2025-01-01
    ],
)
def test_basic_information_agreement_years(pack: yc.Policy, designated_on: str, basic: int) -> None:
    """三(二) 基础信息 (provisional indicator): 60 + 20 per completed step (1 year, 3 years),
    a year ending on the anniversary (《民法典》第201条, 第202条)."""
    r = one(pack, [], designated_on=designated_on)
    assert categories(r)["basic"] == basic


def test_rewards_are_a_capped_bonus_within_the_cycle(pack: yc.Policy) -> None:
    """三(二) 守信信息: reward points within the one-year cycle add to 60, capped at 40."""
    r = one(
        pack,
        [
            committed(),
            ev("w0", "X", "reward", "2023-12-31", points=50),
            ev("w1", "X", "reward", "2024-01-01", points=30),
            ev("w2", "X", "reward", "2024-10-01", points=25),
        ],
    )
    s = steps(r)
    assert s["fact.rewards"]["outcome"] == 55
    assert s["fact.rewards"]["evidence"] == ["w1", "w2"]
    assert s["item.trust.rewards"]["outcome"] == 40
    assert categories(r)["trust"] == 100


@pytest.mark.parametrize(
    ("kind", "attrs", "item", "points"),
    [
        ("violation", {}, "violations", -10),
        ("complaint", {"verified": True}, "verified_complaints", -5),
        ("price_interview", {}, "price_interviews", -5),
        ("agreement_breach", {}, "breaches", -10),
        ("serious_violation", {}, "serious_violations", -30),
        ("fraud", {"amount": 1000}, "frauds", -40),
    ],
)
def test_each_adverse_kind_deducts_in_3_2_adverse_information(
    pack: yc.Policy, kind: str, attrs: dict[str, Any], item: str, points: int
) -> None:
    """三(二) 失信信息: each kind deducts its (provisional) points, with the event as evidence."""
    r = one(pack, [committed(), ev("e1", "X", kind, "2024-06-01", **attrs)])
    s = steps(r)[f"item.adverse.{item}"]
    assert s["outcome"] == points
    assert s["evidence"] == ["e1"]
    assert categories(r)["adverse"] == 100 + points


def test_unverified_complaint_is_not_adverse_information(pack: yc.Policy) -> None:
    """三(二) (reading): only a verified (查实) complaint is 失信信息."""
    r = one(pack, [committed(), ev("k1", "X", "complaint", "2024-06-01", verified=False)])
    assert categories(r)["adverse"] == 100
    assert r.score == 92


def test_adverse_deductions_are_capped_and_the_category_never_below_zero(pack: yc.Policy) -> None:
    """三(二): item caps bound each kind; the category stays within [0, 100]."""
    events = [committed()]
    events += [ev(f"s{i}", "X", "serious_violation", f"2024-0{i}-01") for i in range(1, 6)]
    events += [ev(f"v{i}", "X", "violation", f"2024-0{i}-02") for i in range(1, 8)]
    r = one(pack, events)
    s = steps(r)
    assert s["item.adverse.serious_violations"]["outcome"] == -60
    assert s["item.adverse.violations"]["outcome"] == -50
    assert categories(r)["adverse"] == 0


# ---------------------------------------------------------------------------------------------
# Vetoes
# ---------------------------------------------------------------------------------------------


def _strong_record_with_fraud() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    events = [
        committed(),
        ev("w1", "X", "reward", "2024-03-01", points=40),
        ev("f1", "X", "fraud", "2024-06-01", amount=50000),
    ]
    history = [
        {"subject_id": "X", "status": "graded", "grade": "A", "as_of": "2023-12-31"},
        {"subject_id": "X", "status": "graded", "grade": "A", "as_of": "2022-12-31"},
    ]
    return events, history


def test_fraud_veto_overrides_a_score_in_band_b(pack: yc.Policy) -> None:
    """三(二) (provisional veto): fraud in force forces D although the score (80) is in band B."""
    events, history = _strong_record_with_fraud()
    r = one(pack, events, history=history)
    assert r.score == 80
    assert r.grade == "D"
    assert r.veto == 0
    s = steps(r)
    assert s["veto.fraud"]["outcome"] is True
    assert s["veto.fraud"].get("decisive") is True
    assert not any(v.get("decisive") for k, v in s.items() if k.startswith("grade."))


def test_fraud_veto_overrides_a_top_score(tmp_path: Path) -> None:
    """三(二): with the fraud deduction set to 0 the same record scores 100 (band A); the veto
    still forces D — the veto decides, whatever the score."""
    path, _ = pack_copy(
        tmp_path,
        "        value: -40\n        provisional:\n          zh: 待省指标体系及我市试评价(四(二)5)"
        "确定失信信息扣分\n",
        "        value: 0\n        provisional:\n          zh: test copy\n",
    )
    events, history = _strong_record_with_fraud()
    r = one(yc.load_policy(path), events, history=history)
    assert (r.score, r.grade) == (100, "D")


# ---------------------------------------------------------------------------------------------
# 三(五) validity (有效期届满…自动失效) and credit repair
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "counts"),
    [("2024-03-14", True), ("2024-03-15", True), ("2024-03-16", False)],
    ids=["day-before", "last-day", "day-after"],
)
def test_validity_of_a_violation_ends_inclusive(pack: yc.Policy, as_of: str, counts: bool) -> None:
    """三(五): a violation of 2023-03-15 with a 1y validity (provisional) counts as of 2024-03-15
    (届满 includes the day, 《民法典》第201条, 第202条, 第1259条), not as of 2024-03-16."""
    r = one(
        pack,
        [committed(), ev("v1", "X", "violation", "2023-03-15")],
        as_of=dt.date.fromisoformat(as_of),
    )
    s = steps(r)
    assert s["fact.violations"]["outcome"] == (1 if counts else 0)
    assert r.score == (87 if counts else 92)
    if counts:
        assert "validity.violation" not in s
    else:
        v = s["validity.violation"]
        assert v["evidence"] == ["v1"]
        assert v["inputs"]["set_aside"][0]["counted_until"] == "2024-03-15"
        assert v["clause"] == f"{DOC} 三(五)"


@pytest.mark.parametrize(
    ("as_of", "repaired"),
    [("2024-08-31", False), ("2024-09-01", True), ("2024-09-02", True)],
    ids=["day-before", "repair-day", "day-after"],
)
def test_repair_neutralises_from_its_own_date(pack: yc.Policy, as_of: str, repaired: bool) -> None:
    """三(五) 信用修复: a repair dated D neutralises the event from D, not from D-1."""
    events = [
        committed(),
        ev("v1", "X", "violation", "2024-05-01"),
        ev("r1", "X", "repair", "2024-09-01", repairs="v1"),
    ]
    r = one(pack, events, as_of=dt.date.fromisoformat(as_of))
    s = steps(r)
    assert s["fact.violations"]["outcome"] == (0 if repaired else 1)
    assert (r.score, r.grade) == ((92, "A") if repaired else (87, "B"))
    if repaired:
        assert s["repair"]["evidence"] == ["v1"]
        assert s["repair"]["inputs"]["set_aside"][0]["repaired_by"] == "r1"
        assert s["repair"]["clause"] == f"{DOC} 三(五)"


def test_repair_of_positive_information_is_an_input_error(pack: yc.Policy) -> None:
    """三(五): repair applies to adverse information; repairing a commitment is refused."""
    with pytest.raises(yc.RecordError) as info:
        one(pack, [committed(), ev("r1", "X", "repair", "2024-09-01", repairs="c-X")])
    assert info.value.problems[0].code == "record.event.repair-target"


def test_fraud_validity_ends_the_veto(pack: yc.Policy) -> None:
    """三(五): fraud in force for 3y (provisional); once expired, the veto no longer applies."""
    events = [committed(), ev("f1", "X", "fraud", "2021-12-31")]
    assert one(pack, events).grade == "D"
    r = one(pack, events, as_of=dt.date(2025, 1, 1))
    assert (r.grade, r.veto) == ("A", -1)


# ---------------------------------------------------------------------------------------------
# 三(二) 历史信用信息: earlier cycles
# ---------------------------------------------------------------------------------------------


def _past(grade: str | None, as_of: str = "2023-12-31", status: str = "graded") -> dict[str, Any]:
    return {"subject_id": "X", "status": status, "grade": grade, "as_of": as_of}


@pytest.mark.parametrize(
    ("history", "category", "score"),
    [
        (None, 80, 92),
        ([], 80, 92),
        ([_past("A")], 90, 94),
        ([_past("A"), _past("A", "2022-12-31")], 100, 96),
        ([_past("B")], 60, 88),
        ([_past("C")], 40, 84),
        ([_past("D")], 20, 80),
        ([_past(None, status="excluded")], 80, 92),
        ([_past("D", "2023-06-30")], 80, 92),
    ],
    ids=["none", "empty", "A", "A-A", "B", "C", "D", "excluded", "not-one-cycle-back"],
)
def test_history_present_and_missing(
    pack: yc.Policy, history: list[dict[str, Any]] | None, category: int, score: int
) -> None:
    """三(二) 历史信用信息: the previous grade deducts or adds; a missing or excluded cycle is never
    assumed (the category keeps its base 80)."""
    r = one(pack, [committed()], history=history)
    assert categories(r)["history"] == category
    assert r.score == score


def test_history_missing_shows_in_the_trace(pack: yc.Policy) -> None:
    """三(二): the trace shows the earlier cycle looked at, and that it was missing."""
    s = steps(one(pack, [committed()], history=[]))
    h = s["history.previous_rank"]
    assert h["outcome"] is None
    assert h["inputs"]["cycles"] == [{"as_of": "2023-12-31", "status": "missing", "grade": None}]
    assert s["item.history.previous_d"]["outcome"] == 0


# ---------------------------------------------------------------------------------------------
# 三(五) 不良行为信息有效期届满…后,原信用主体评价结果自动失效: an earlier result lapses
# ---------------------------------------------------------------------------------------------

LAPSE_CLAUSE = f"{DOC} 三(五)"


def both_engines(
    events: list[dict[str, Any]],
    history: list[dict[str, Any]] | None,
    as_of: dt.date = AS_OF,
    pack: yc.Policy = _PACK,
) -> yc.Result:
    """The result of ``X`` on the Python engine, after checking that the DuckDB engine gives
    the same (the contract's JSON with the full trace, zh and en, and the same warnings)."""
    subjects = [inst("X")]
    model = pack.evaluate(subjects, events, as_of=as_of, history=history)
    duck = pack.evaluate(subjects, events, as_of=as_of, history=history, engine="duckdb")
    for lang in ("zh", "en"):
        assert [yc.result_to_dict(r, lang) for r in duck] == [
            yc.result_to_dict(r, lang) for r in model
        ]
    assert [str(w) for w in duck.warnings] == [str(w) for w in model.warnings]
    r = model.get("X")
    assert r is not None
    return r


def _without_lapse(tmp_path: Path) -> yc.Policy:
    """The pack with its `history.lapse` taken out: what it did before 三(五)'s lapse."""
    text = PACK_PATH.read_text(encoding="utf-8")
    start = text.index("      lapse:\n")
    end = text.index("\n    grading:\n")
    path = tmp_path / "jinan.yaml"
    path.write_text(text[:start] + text[end + 1 :], encoding="utf-8")
    return yc.load_policy(path)


def test_3_5_earlier_c_lapses_once_all_its_events_expired(tmp_path: Path) -> None:
    """三(五) 不良行为信息有效期届满…后,原信用主体评价结果自动失效 (issue 14, item 1): the 2023 C
    of a subject whose 2023 violations (1y validity, provisional) have both expired no longer
    deducts as of 2024-12-31 — A 92, exactly as without that history; without the pack's
    `lapse` the same records gave B 84 (历史信用信息 40)."""
    events = [
        committed(),
        ev("v1", "X", "violation", "2023-03-01"),
        ev("v2", "X", "violation", "2023-11-30"),
    ]
    r = both_engines(events, [_past("C")])
    assert (r.grade, r.score) == ("A", 92)
    without = one(_PACK, events)
    assert (without.grade, without.score) == ("A", 92)
    assert categories(r) == categories(without)
    s = steps(r)
    h = s["history.previous_rank"]
    assert h["outcome"] is None
    assert h["inputs"]["cycles"] == [
        {
            "as_of": "2023-12-31",
            "status": "lapsed",
            "grade": None,
            "lapsed_grade": "C",
            "clause": LAPSE_CLAUSE,
            "events": [
                {
                    "id": "v1",
                    "kind": "violation",
                    "date": "2023-03-01",
                    "counted_until": "2024-03-01",
                },
                {
                    "id": "v2",
                    "kind": "violation",
                    "date": "2023-11-30",
                    "counted_until": "2024-11-30",
                },
            ],
        }
    ]
    assert s["item.history.previous_c"]["outcome"] == 0
    assert "2023-12-31=lapsed" in yc.render_text(r, "zh")
    assert "2023-12-31=lapsed" in yc.render_text(r, "en")
    before = one(_without_lapse(tmp_path), events, history=[_past("C")])
    assert (before.grade, before.score, categories(before)["history"]) == ("B", 84, 40)


@pytest.mark.parametrize(
    ("last", "status", "grade", "score"),
    [("2023-12-30", "lapsed", "A", 92), ("2023-12-31", "graded", "C", 79)],
    ids=["validity-ended-the-day-before", "last-day-of-validity"],
)
def test_3_5_lapse_boundary_on_the_last_day_of_validity(
    last: str, status: str, grade: str, score: float
) -> None:
    """三(五) 有效期届满 includes its last day (《民法典》第201条, 第202条, 第1259条): the 2023 C
    counted v1 (expired 2024-03-01) and a last violation. Dated 2023-12-31, that violation counts
    up to and including 2024-12-31: as of that day the C still stands and deducts (失信信息 90,
    历史信用信息 40 → 10 + 10 + 6 + 45 + 8 = 79, C). Dated 2023-12-30, its validity ended on
    2024-12-30, the day before: the C has lapsed (A 92)."""
    events = [
        committed(),
        ev("v1", "X", "violation", "2023-03-01"),
        ev("v2", "X", "violation", last),
    ]
    r = both_engines(events, [_past("C")])
    assert (r.grade, r.score) == (grade, score)
    cycle = _earlier(r)
    assert cycle["status"] == status
    if status == "graded":
        assert cycle == {"as_of": "2023-12-31", "status": "graded", "grade": "C"}
        assert steps(r)["item.history.previous_c"]["outcome"] == -40
        assert steps(r)["fact.violations"]["evidence"] == ["v2"]
    else:
        assert [e["counted_until"] for e in cycle["events"]] == ["2024-03-01", "2024-12-30"]


@pytest.mark.parametrize(
    ("repaired_on", "grade", "score"),
    [(None, "C", 69), ("2024-10-15", "A", 92), ("2024-12-31", "A", 92)],
    ids=["no-repair", "repaired", "repaired-on-as-of"],
)
def test_3_5_a_granted_repair_lapses_the_earlier_result(
    repaired_on: str | None, grade: str, score: float
) -> None:
    """三(五) 信用修复 with 原信用主体评价结果自动失效: the 2023 C counted a serious violation of
    2023-05-01, in force until 2026-05-01 (3y, provisional). Unrepaired, it deducts in 失信信息
    (70) and keeps the C (历史信用信息 40): 10 + 10 + 6 + 35 + 8 = 69, C. A granted repair
    neutralises it from the repair's own date (on as_of itself too), and the C lapses with it:
    A 92, as without the history."""
    events = [committed(), ev("s1", "X", "serious_violation", "2023-05-01")]
    if repaired_on:
        events.append(ev("r1", "X", "repair", repaired_on, repairs="s1"))
    r = both_engines(events, [_past("C")])
    assert (r.grade, r.score) == (grade, score)
    cycle = _earlier(r)
    if repaired_on is None:
        assert cycle == {"as_of": "2023-12-31", "status": "graded", "grade": "C"}
    else:
        assert cycle["status"] == "lapsed"
        assert cycle["events"] == [
            {
                "id": "s1",
                "kind": "serious_violation",
                "date": "2023-05-01",
                "repaired_by": "r1",
                "repaired_on": repaired_on,
            }
        ]
        assert steps(r)["repair"]["evidence"] == ["s1"]


def test_3_5_an_earlier_result_with_one_event_still_in_force_still_deducts() -> None:
    """三(五): the 2023 C counted a violation (expired 2024-03-01) and a serious violation of
    2023-02-01 (3y, in force until 2026-02-01). One of its adverse events still counts, so the
    result stands and deducts: 失信信息 70, 历史信用信息 40 → 69, C."""
    events = [
        committed(),
        ev("v1", "X", "violation", "2023-03-01"),
        ev("s1", "X", "serious_violation", "2023-02-01"),
    ]
    r = both_engines(events, [_past("C")])
    assert (r.grade, r.score) == ("C", 69)
    assert _earlier(r) == {"as_of": "2023-12-31", "status": "graded", "grade": "C"}
    assert categories(r)["history"] == 40
    assert steps(r)["history.previous_rank"]["outcome"] == 2


@pytest.mark.parametrize(
    "events",
    [
        [],
        [ev("v0", "X", "violation", "2022-06-01")],
        [
            ev("v0", "X", "violation", "2023-06-01"),
            ev("r0", "X", "repair", "2023-10-01", repairs="v0"),
        ],
        [ev("k0", "X", "complaint", "2023-06-01", verified=False)],
    ],
    ids=["no-events", "expired-before-it", "repaired-before-it", "unverified-complaint"],
)
def test_3_5_a_result_that_counted_no_adverse_event_stands(events: list[dict[str, Any]]) -> None:
    """三(五) (reading): a result lapses on the expiry or repair of the adverse information it
    counted; one that counted none stands — no events on file (never lapsed for want of
    records), a violation that had expired (2023-06-01) or been repaired (2023-10-01) before the
    2023 evaluation, an unverified complaint (never scored): 历史信用信息 40, B 84."""
    r = both_engines([committed(), *events], [_past("C")])
    assert (r.grade, r.score) == ("B", 84)
    assert _earlier(r) == {"as_of": "2023-12-31", "status": "graded", "grade": "C"}


def test_3_5_an_earlier_a_does_not_lapse() -> None:
    """三(五) (reading): only an earlier B, C or D lapses. The 2023 A counted a violation that
    expired on 2024-03-01; the A still adds its bonus (历史信用信息 90 → 94), since its lapse
    would make the expiry of an event cost the subject."""
    events = [committed(), ev("v1", "X", "violation", "2023-03-01")]
    r = both_engines(events, [_past("A")])
    assert (r.grade, r.score) == ("A", 94)
    assert _earlier(r) == {"as_of": "2023-12-31", "status": "graded", "grade": "A"}


@pytest.mark.parametrize("grade", ["B", "D"])
def test_3_5_an_earlier_b_or_d_lapses_too(grade: str) -> None:
    """三(五): the lapse holds for every grade below A (B −20, D −60 no longer deducted)."""
    events = [committed(), ev("b1", "X", "agreement_breach", "2023-08-01")]
    r = both_engines(events, [_past(grade)])
    assert (r.grade, r.score) == ("A", 92)
    assert _earlier(r)["lapsed_grade"] == grade


def test_3_5_lapse_reads_each_fact_in_its_own_window(tmp_path: Path) -> None:
    """三(五) "the events it counted" are those of the lapse's facts, each in its own window
    bounded as of the earlier as_of. With the serious-violation fact read over the 1y cycle
    instead (a copy of the pack), the 2023 C did not count the serious violation of 2022-06-01
    (outside 2023-01-01 .. 2023-12-31), so its violation's expiry lapses it; with the pack's
    window in_force it counted it, and the C stands while it is in force (until 2025-06-01)."""
    old = "        where: kind == 'serious_violation'\n        window: in_force\n"
    path, _text = pack_copy(
        tmp_path, old, "        where: kind == 'serious_violation'\n        window: cycle\n"
    )
    copy = yc.load_policy(path)
    events = [
        committed(),
        ev("s1", "X", "serious_violation", "2022-06-01"),
        ev("v1", "X", "violation", "2023-03-01"),
    ]
    stands = both_engines(events, [_past("C")])
    assert _earlier(stands)["status"] == "graded"
    assert (stands.grade, stands.score) == ("C", 69)
    # the copy does not count s1 in 2024 either (outside 2024's cycle): 失信信息 100
    lapsed = both_engines(events, [_past("C")], pack=copy)
    assert _earlier(lapsed)["status"] == "lapsed"
    assert [e["id"] for e in _earlier(lapsed)["events"]] == ["v1"]
    assert (lapsed.grade, lapsed.score) == ("A", 92)


def test_3_5_lapse_through_the_cli_on_duckdb(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """三(五) on the command line (records files, DuckDB): the JSON result's history step lists
    the lapsed 2023 C with its events, as the Python engine does."""
    subjects = tmp_path / "subjects.jsonl"
    events = tmp_path / "events.jsonl"
    history = tmp_path / "history.jsonl"
    subjects.write_text(json.dumps(inst("X")) + "\n", encoding="utf-8")
    rows = [committed(), ev("v1", "X", "violation", "2023-03-01")]
    events.write_text("".join(json.dumps(e) + "\n" for e in rows), encoding="utf-8")
    history.write_text(json.dumps({**_past("C"), "policy": {"id": "jinan"}}) + "\n", "utf-8")
    argv = [
        "evaluate",
        str(PACK_PATH),
        "--subjects",
        str(subjects),
        "--events",
        str(events),
        "--as-of",
        "2024-12-31",
        "--history",
        str(history),
    ]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["grade"], out["score"]) == ("A", 92)
    [h] = [s for s in out["trace"] if s["step"] == "history.previous_rank"]
    assert h["inputs"]["cycles"][0]["status"] == "lapsed"
    assert h["inputs"]["cycles"][0]["events"][0]["id"] == "v1"


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (
            "        grades: [B, C, D]\n        facts:\n",
            "        grades: [B, E]\n        facts:\n",
            "unknown grade 'E'",
        ),
        (
            "          - commitment_breaches\n",
            "          - committed\n",
            "window 'current_agreement', which starts on a date of the subject (since)",
        ),
        ("          - commitment_breaches\n", "          - agreement_1y\n", "a compute fact"),
        ("          - commitment_breaches\n", "          - penalties\n", "not a fact of this"),
    ],
    ids=["unknown-grade", "since-window", "compute-fact", "unknown-fact"],
)
def test_3_5_lapse_errors_are_load_errors_with_lines(
    tmp_path: Path, old: str, new: str, words: str
) -> None:
    """三(五) `history.lapse` is checked at load time: its grades must be the pack's, its facts
    event facts whose windows and filters can be judged as of an earlier date from the events
    alone (not `committed`, whose window starts on designated_on)."""
    path, text = pack_copy(tmp_path, old, new)
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(path)
    [problem] = info.value.problems
    assert words in problem.message
    assert problem.location.path is not None
    assert problem.location.path.startswith("rulesets.institution.history.lapse.")
    first = line_of(text, r"^      lapse:$")
    assert problem.location.line is not None and first < problem.location.line < first + 12


# ---------------------------------------------------------------------------------------------
# 四(一)2 two 主体; exclusion of a subject not yet designated
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "group"),
    [
        ("hospital", "medical"),
        ("clinic", "medical"),
        ("pharmacy", "pharmacy"),
        ("pharmacy_chain", "pharmacy"),
    ],
)
def test_two_subject_groups_of_4_1_2(pack: yc.Policy, category: str, group: str) -> None:
    """四(一)2 定点医疗机构、定点零售药店: one model, two evaluation groups."""
    r = one(pack, [committed()], category=category)
    assert r.group == group
    assert r.score == 92


def test_designated_on_is_required(pack: yc.Policy) -> None:
    """四(一)2 基础数据: designated_on is needed (基础信息 and the commitment window read it)."""
    with pytest.raises(yc.RecordError) as info:
        pack.evaluate([{"id": "X", "type": "institution", "category": "clinic"}], [], as_of=AS_OF)
    assert info.value.problems[0].code == "record.subject.required"


def test_not_yet_designated_is_excluded(pack: yc.Policy) -> None:
    """四(一)2 (reading): a subject whose agreement starts after as_of is not evaluated."""
    r = one(pack, [], designated_on="2025-01-01")
    assert (r.status, r.exclusion, r.grade, r.score) == (
        "excluded",
        "not_yet_designated",
        None,
        None,
    )
    assert one(pack, [], designated_on="2024-12-31").status == "graded"


# ---------------------------------------------------------------------------------------------
# Properties: more deductions never raise a score; a repair never lowers one
# ---------------------------------------------------------------------------------------------

DAYS = st.dates(min_value=dt.date(2021, 1, 1), max_value=AS_OF)
ADVERSE_EVENT = st.tuples(st.sampled_from(ADVERSE), DAYS)


def _adverse(i: int, kind: str, day: dt.date) -> dict[str, Any]:
    attrs: dict[str, Any] = {"verified": True} if kind == "complaint" else {}
    return ev(f"e{i}", "X", kind, day, **attrs)


def _base(signed: bool, rewards: int) -> list[dict[str, Any]]:
    out = [committed()] if signed else []
    if rewards:
        out.append(ev("w", "X", "reward", "2024-06-01", points=rewards))
    return out


def _earlier(r: yc.Result) -> dict[str, Any]:
    """The earlier cycle (2023-12-31) as the history step shows it."""
    cycle: dict[str, Any] = steps(r)["history.previous_rank"]["inputs"]["cycles"][0]
    return cycle


def _lapsed(r: yc.Result) -> bool:
    return _earlier(r)["status"] == "lapsed"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(ADVERSE_EVENT, max_size=12),
    ADVERSE_EVENT,
    st.booleans(),
    st.integers(min_value=0, max_value=60),
    st.sampled_from([None, "A", "B", "C", "D"]),
)
def test_more_deductions_never_raise_a_score(
    adverse: list[tuple[str, dt.date]],
    extra: tuple[str, dt.date],
    signed: bool,
    rewards: int,
    previous: str | None,
) -> None:
    """三(二)/三(四): adding one more adverse event never raises the score nor improves the
    grade — but for the one case 三(五) makes: an earlier B/C/D that counted no adverse event
    stands, and one whose every counted event has expired lapses, so an extra event that the
    earlier result counted and that has expired since lapses it (the lapse then lists that
    event alone)."""
    history = [_past(previous)] if previous else []
    before_events = _base(signed, rewards) + [_adverse(i, k, d) for i, (k, d) in enumerate(adverse)]
    after_events = [*before_events, _adverse(99, *extra)]
    before = one(_PACK, before_events, history=history)
    after = one(_PACK, after_events, history=history)
    assert before.score is not None and after.score is not None
    assert before.grade is not None and after.grade is not None
    if _lapsed(after) and not _lapsed(before):
        assert previous in ("B", "C", "D")
        assert [e["id"] for e in _earlier(after)["events"]] == ["e99"]
        return
    assert after.score <= before.score
    assert RANK[after.grade] >= RANK[before.grade]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(ADVERSE_EVENT, min_size=1, max_size=10),
    st.data(),
    st.booleans(),
    st.sampled_from([None, "A", "B", "C", "D"]),
)
def test_a_repair_never_lowers_a_score(
    adverse: list[tuple[str, dt.date]], data: st.DataObject, signed: bool, previous: str | None
) -> None:
    """三(五): adding a repair of an existing adverse event never lowers the score nor worsens
    the grade — but for the one case 三(五) makes: a repair dated on or before the earlier
    evaluation (2023-12-31) takes the event out of what that result counted, and a result whose
    only counted event that was no longer lapses on it (it counted none: it stands)."""
    history = [_past(previous)] if previous else []
    events = _base(signed, 0) + [_adverse(i, k, d) for i, (k, d) in enumerate(adverse)]
    target = data.draw(st.integers(min_value=0, max_value=len(adverse) - 1))
    day = adverse[target][1]
    repaired_on = data.draw(st.dates(min_value=day, max_value=AS_OF))
    before = one(_PACK, events, history=history)
    after = one(
        _PACK,
        [*events, ev("rep", "X", "repair", repaired_on, repairs=f"e{target}")],
        history=history,
    )
    assert before.score is not None and after.score is not None
    assert before.grade is not None and after.grade is not None
    if _lapsed(before) and not _lapsed(after):
        assert repaired_on <= dt.date(2023, 12, 31)
        assert [e["id"] for e in _earlier(before)["events"]] == [f"e{target}"]
        return
    assert after.score >= before.score
    assert RANK[after.grade] <= RANK[before.grade]


# ---------------------------------------------------------------------------------------------
# 四(三) analysis by 区划, 等级 and 重点指标: the summary
# ---------------------------------------------------------------------------------------------


def test_summary_mean_per_category_region_and_group(pack: yc.Policy) -> None:
    """四(三): results by region, grade and group, and the mean score of each category."""
    subjects = [
        inst("H1", region="370102"),
        inst("H2", region="370102"),
        inst("P1", "pharmacy", region="370103"),
    ]
    events = [
        committed("H1"),
        committed("H2"),
        ev("v1", "H2", "violation", "2024-06-01"),
        ev("w1", "P1", "reward", "2024-06-01", points=30),
    ]
    run = pack.evaluate(subjects, events, as_of=AS_OF)
    # H1: 100/100/60/100/80 = 92; H2: 100/100/60/90/80 = 87; P1: 0/100/90/100/80 = 85
    s = summarize(run)
    assert s["score_means"]["institution"] == {
        "score": round((92 + 87 + 85) / 3, 2),
        "commitment": round(200 / 3, 2),
        "basic": 100,
        "trust": 70,
        "adverse": round(290 / 3, 2),
        "history": 80,
    }
    assert s["by_region"] == {"370102": {"A": 1, "B": 1}, "370103": {"B": 1}}
    assert s["by_group"] == {
        "institution/medical": {"A": 1, "B": 1},
        "institution/pharmacy": {"B": 1},
    }
    assert s["by_outcome"] == {"A": 1, "B": 2}


# ---------------------------------------------------------------------------------------------
# examples/jinan: the trial evaluation (2023-12-31) and the year after, as the README lists
# ---------------------------------------------------------------------------------------------

EXPECTED_2023 = {
    "JNH001": ("A", 92),
    "JNH002": ("A", 92),
    "JNH003": ("C", 72.5),
    "JNC001": (None, None),
    "JNC002": ("A", 92),
    "JNC003": ("B", 87),
    "JNPC01": ("A", 92),
    "JNP001": ("A", 92),
    "JNP002": ("A", 92),
    "JNP003": ("C", 62),
    "JNP004": ("A", 90),
}
EXPECTED_2024 = {
    "JNH001": ("A", 95, [100, 100, 70, 100, 90]),
    "JNH002": ("B", 84, [100, 100, 60, 80, 90]),
    "JNH003": ("B", 82, [0, 100, 60, 100, 80]),  # its 2023 C lapsed (三(五))
    "JNC001": ("B", 88, [100, 60, 60, 100, 80]),
    "JNC002": ("B", 89, [50, 100, 60, 100, 90]),
    "JNC003": ("B", 83, [100, 100, 60, 90, 60]),
    "JNPC01": ("A", 94, [100, 100, 60, 100, 90]),
    "JNP001": ("A", 92, [100, 100, 65, 95, 90]),
    "JNP002": ("D", 76, [100, 100, 80, 60, 90]),
    "JNP003": ("D", 59, [0, 100, 60, 70, 40]),
    "JNP004": ("A", 92, [100, 80, 60, 100, 90]),
}


def test_examples_match_the_readme(pack: yc.Policy) -> None:
    """四(二)5 试评价 as of 2023-12-31, then 2024-12-31 with the trial as history (README)."""
    records = yc.load_records(EXAMPLES / "subjects.jsonl", EXAMPLES / "events.jsonl")
    trial = pack.evaluate(records, as_of=dt.date(2023, 12, 31))
    got_2023 = {r.subject_id: (r.grade, r.score) for r in trial}
    assert got_2023 == EXPECTED_2023
    assert trial.get("JNC001") is not None
    assert trial.get("JNC001").exclusion == "not_yet_designated"  # type: ignore[union-attr]
    history = [yc.result_to_dict(r, trace="none") for r in trial]
    run = pack.evaluate(records, as_of=AS_OF, history=history)
    got = {r.subject_id: (r.grade, r.score, list(categories(r).values())) for r in run}
    assert got == EXPECTED_2024
    jnp002 = run.get("JNP002")
    assert jnp002 is not None and jnp002.veto == 0
    assert [w.code for w in run.warnings] == []
    # 三(五): JNH003's 2023 C counted a complaint and a breach, both expired in 2024: it lapsed.
    # JNP003's 2023 C counted a serious violation in force until 2025-11-30, and JNC003's
    # 2023 B a violation of 2023-12-31 still counting on 2024-12-31: both stand.
    earlier = {r.subject_id: _earlier(r) for r in run}
    assert earlier["JNH003"]["status"] == "lapsed"
    assert [e["id"] for e in earlier["JNH003"]["events"]] == ["JN-K-001", "JN-B-001"]
    assert (earlier["JNP003"]["status"], earlier["JNP003"]["grade"]) == ("graded", "C")
    assert (earlier["JNC003"]["status"], earlier["JNC003"]["grade"]) == ("graded", "B")
    s = summarize(run)
    assert s["by_outcome"] == {"A": 4, "B": 5, "D": 2}
    assert s["score_means"]["institution"]["score"] == 84.91
    assert s["score_means"]["institution"]["history"] == 80.91


def test_summary_command_on_the_examples(capsys: pytest.CaptureFixture[str]) -> None:
    """四(三): `yibao-credit summary` prints the counts and the mean per category."""
    code = main(
        [
            "summary",
            str(PACK_PATH),
            "--subjects",
            str(EXAMPLES / "subjects.jsonl"),
            "--events",
            str(EXAMPLES / "events.jsonl"),
            "--as-of",
            "2023-12-31",
            "--format",
            "json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["by_outcome"] == {"A": 7, "B": 1, "C": 2, "excluded:not_yet_designated": 1}
    assert out["score_means"]["institution"] == {
        "score": 86.35,
        "commitment": 80,
        "basic": 96,
        "trust": 60,
        "adverse": 93.5,
        "history": 80,
    }
