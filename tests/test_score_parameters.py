"""Weights, caps and band edges of a score grading given by dated parameters (issue 14 item 13).

A bureau's calibration changes one dated value, with its own provenance, instead of the number
in the grading. The test pack below names a parameter for an item's cap, a category's cap, a
category's weight and a band edge, each with a second value from 2025-07-01; every run is made
on 2025-06-30 (the old values) and on 2025-07-01 (the boundary day itself: the new values), on
both engines, and the results compared as the data contract's JSON.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

import yibao_credit as yc
from yibao_credit.errors import PackError
from yibao_credit.policy import Policy, load_policy
from yibao_credit.render.results import result_to_dict
from yibao_credit.render.trace import render_text

BEFORE = dt.date(2025, 6, 30)
CHANGE = dt.date(2025, 7, 1)
"""The day the second value of every parameter takes effect (in force on that day itself)."""

PACK = """\
pack:
  id: score_parameters
  name: {zh: 评分参数测试}
  jurisdiction: {name: 测试市}
  version: "1"
  effective: {from: 2024-01-01}
  sources:
    - {id: s, number: 测试〔2024〕1号, title: 测试, issuer: 测试局}
parameters:
  violation_cap:
    title: {zh: 违规扣分上限}
    type: number
    values:
      2024-01-01: {value: 10, clause: 一(1)}
      2025-07-01: {value: 20, provisional: 待校准}
  deduction_cap:
    type: int
    values:
      2024-01-01: {value: 30, clause: 一(2)}
      2025-07-01: {value: 22, clause: 一(2)}
  quality_weight:
    type: number
    values:
      2024-01-01: {value: 1, clause: 一(3)}
      2025-07-01: {value: 0.5, clause: 一(3)}
  a_from:
    type: int
    values:
      2024-01-01: {value: 90, clause: 一(4)}
      2025-07-01: {value: 85, provisional: 待试评价校准}
  label:
    type: str
    values:
      2024-01-01: {value: x, clause: 一(5)}
  lookback:
    type: period
    values:
      2024-01-01: {value: 1y, clause: 一(6)}
windows:
  year: {title: {zh: 近一年}, type: rolling, length: 1y, clause: 二}
rulesets:
  inst:
    title: {zh: 机构}
    applies_to: {type: institution}
    facts:
      violations:
        {title: {zh: 违规}, op: count, where: "kind == 'violation'", window: year, clause: 三(1)}
      breaches:
        title: {zh: 违约}
        op: count
        where: "kind == 'agreement_breach'"
        window: year
        clause: 三(2)
      complaints:
        {title: {zh: 投诉}, op: count, where: "kind == 'complaint'", window: year, clause: 三(3)}
    groups:
      - id: big
        title: {zh: 大型}
        when: "beds is not None and beds >= 500"
        params: {violation_cap: 5, a_from: 95}
        clause: 四(1)
      - id: other
        title: {zh: 其他}
        when: "True"
        clause: 四(2)
    grading:
      type: score
      base: 100
      floor: 0
      ceiling: 100
      clause: 五
      grades:
        - {label: A, title: {zh: 好}}
        - {label: B, title: {zh: 中}}
        - {label: C, title: {zh: 差}}
      categories:
        - id: deductions
          title: {zh: 扣分}
          cap: deduction_cap
          clause: 五(1)
          items:
            - id: violations
              title: {zh: 违规}
              points: -5
              per: violations
              cap: violation_cap
              clause: 五(1)
            - {id: breaches, title: {zh: 违约}, points: -13, per: breaches, clause: 五(1)}
        - id: quality
          title: {zh: 质量}
          weight: quality_weight
          clause: 五(2)
          items:
            - {id: complaints, title: {zh: 投诉}, points: -4, per: complaints, clause: 五(2)}
      bands:
        - {grade: A, range: "[a_from, 100]", clause: 五(3)}
        - {grade: B, range: "[60, a_from)", clause: 五(3)}
        - {grade: C, range: "[0, 60)", clause: 五(3)}
"""


def _events(sid: str, kind: str, n: int) -> list[dict[str, Any]]:
    return [
        {"id": f"{sid}-{kind}-{i}", "subject_id": sid, "kind": kind, "date": "2025-03-01"}
        for i in range(n)
    ]


SUBJECTS: list[dict[str, Any]] = [
    {"id": "S1", "type": "institution", "category": "hospital"},
    {"id": "S2", "type": "institution", "category": "hospital"},
    {"id": "S3", "type": "institution", "category": "hospital"},
    {"id": "S4", "type": "institution", "category": "hospital"},
    {"id": "S5", "type": "institution", "category": "hospital"},
    {"id": "S6", "type": "institution", "category": "hospital"},
    {"id": "BIG", "type": "institution", "category": "hospital", "beds": 800},
]
EVENTS: list[dict[str, Any]] = [
    *_events("S1", "violation", 3),  # −15: the item cap (10, then 20) decides
    *_events("S2", "complaint", 2),  # −8 × the weight (1, then 0.5)
    *_events("S4", "agreement_breach", 1),  # 87 on both days: the band edge (90, then 85) decides
    *_events("S5", "violation", 5),  # −25 (item cap 10, then 20) and
    *_events("S5", "agreement_breach", 1),  # −13: the category cap (30, then 22) decides
    *_events("BIG", "violation", 3),  # the group's own cap (5) and edge (95) on both days
]
EXPECTED = {
    # subject: (score, grade) on 2025-06-30, then on 2025-07-01
    "S1": ((90, "A"), (85, "A")),  # cap 10 → 20; 90 ≥ 90 and 85 ≥ 85: each edge is inclusive
    "S2": ((92, "A"), (96, "A")),
    "S3": ((100, "A"), (100, "A")),
    "S4": ((87, "B"), (87, "A")),
    "S5": ((77, "B"), (78, "B")),  # −10 −13 = −23 (cap 30), then −20 −13 = −33 → −22
    "S6": ((100, "A"), (100, "A")),
    "BIG": ((95, "A"), (95, "A")),  # −15 capped at the group's 5; 95 ≥ the group's 95
}


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Policy:
    path = tmp_path_factory.mktemp("pack") / "score_parameters.yaml"
    path.write_text(PACK, encoding="utf-8")
    return load_policy(path)


def results(policy: Policy, as_of: dt.date, engine: str) -> list[dict[str, Any]]:
    run = policy.evaluate(SUBJECTS, EVENTS, as_of=as_of, engine=engine)
    return [result_to_dict(r) for r in run]


def step(result: dict[str, Any], step_id: str) -> dict[str, Any]:
    found = [s for s in result["trace"] if s["step"] == step_id]
    assert len(found) == 1, (step_id, [s["step"] for s in result["trace"]])
    return found[0]


@pytest.mark.parametrize("as_of", [BEFORE, CHANGE], ids=["day-before", "change-day"])
def test_item13_weight_cap_and_edge_follow_the_parameter_in_force_on_both_engines(
    policy: Policy, as_of: dt.date
) -> None:
    python = results(policy, as_of, "python")
    duckdb = results(policy, as_of, "duckdb")
    assert duckdb == python
    which = 0 if as_of == BEFORE else 1
    got = {r["subject_id"]: (r["score"], r["grade"]) for r in python}
    assert got == {sid: pair[which] for sid, pair in EXPECTED.items()}


def test_item13_the_trace_names_each_parameter_with_its_value(policy: Policy) -> None:
    for as_of, cap, weight, deduction_cap, edge in [
        (BEFORE, 10, 1, 30, 90),
        (CHANGE, 20, 0.5, 22, 85),
    ]:
        for engine in ("python", "duckdb"):
            by_id = {r["subject_id"]: r for r in results(policy, as_of, engine)}
            s1 = by_id["S1"]
            item = step(s1, "item.deductions.violations")
            assert item["inputs"] == {
                "violations": 3,
                "points": -5,
                "cap": cap,
                "cap_parameter": "violation_cap",
            }
            category = step(s1, "category.deductions")["inputs"]
            assert (category["cap"], category["cap_parameter"]) == (deduction_cap, "deduction_cap")
            assert category["weight"] == 1 and "weight_parameter" not in category
            quality = step(s1, "category.quality")["inputs"]
            assert (quality["weight"], quality["weight_parameter"]) == (weight, "quality_weight")
            assert quality["cap"] is None and "cap_parameter" not in quality
            assert step(s1, "grade.A")["inputs"] == {
                "score": s1["score"],
                "range": f"[{edge}, 100]",
                "low_parameter": "a_from",
            }
            b = step(by_id["S5"], "grade.B")["inputs"]
            assert (b["range"], b["high_parameter"]) == (f"[60, {edge})", "a_from")
            # The group's own values, where the group sets them.
            big = by_id["BIG"]
            assert step(big, "item.deductions.violations")["inputs"]["cap"] == 5
            assert step(big, "grade.A")["inputs"]["range"] == "[95, 100]"


def test_item13_the_text_trace_shows_the_parameter(policy: Policy) -> None:
    run = policy.evaluate(SUBJECTS, EVENTS, as_of=CHANGE)
    s1 = next(r for r in run if r.subject.id == "S1")
    text = render_text(s1, "en")
    assert "cap=20, cap_parameter=violation_cap" in text
    assert "range=[85, 100], low_parameter=a_from" in text


def test_item13_a_provisional_value_in_force_makes_the_result_provisional(
    policy: Policy,
) -> None:
    """The 2025-07-01 values of violation_cap and a_from are provisional; quality_weight's and
    deduction_cap's are not. Every result reads the band edge, only S1, S5 and BIG the
    violations cap (their item scored)."""
    for engine in ("python", "duckdb"):
        before = {r["subject_id"]: r["provisional"] for r in results(policy, BEFORE, engine)}
        after = {r["subject_id"]: r["provisional"] for r in results(policy, CHANGE, engine)}
        assert set(before.values()) == {0}
        assert after == {"S1": 2, "S2": 1, "S3": 1, "S4": 1, "S5": 2, "S6": 1, "BIG": 2}


def test_item13_the_python_code_reads_the_parameters(policy: Policy) -> None:
    from yibao_credit.engine.program import program_for

    source = program_for(policy.plan).rulesets["inst"].source
    assert "_cap(c" in source and "p_violation_cap)" in source
    assert "p_quality_weight * c" in source
    assert "p_a_from <= _s <= 100.0" in source


# -- errors ----------------------------------------------------------------------------------
def load_text(tmp_path: Path, text: str) -> Policy:
    path = tmp_path / "pack.yaml"
    path.write_text(text, encoding="utf-8")
    return load_policy(path)


def problems_of(tmp_path: Path, old: str, new: str) -> list[yc.Problem]:
    """The problems of the pack with ``old`` replaced by ``new``."""
    assert PACK.count(old) == 1, old
    with pytest.raises(PackError) as exc:
        load_text(tmp_path, PACK.replace(old, new))
    return list(exc.value.problems)


def problem_of(tmp_path: Path, old: str, new: str) -> tuple[yc.Problem, int]:
    """The one problem of the pack with ``old`` replaced by ``new`` (on one line), and the
    line it is on."""
    problems = problems_of(tmp_path, old, new)
    assert len(problems) == 1, [str(p) for p in problems]
    text = PACK.replace(old, new)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if new in t)
    return problems[0], line


def line_of(needle: str) -> int:
    (line,) = [i for i, t in enumerate(PACK.splitlines(), 1) if needle in t]
    return line


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        (
            "cap: violation_cap",
            "cap: violaton_cap",
            "rulesets.inst.grading.categories[0].items[0].cap",
            "cap 'violaton_cap' is not a parameter of the pack (did you mean 'violation_cap'?)",
        ),
        (
            "weight: quality_weight",
            "weight: quality_wieght",
            "rulesets.inst.grading.categories[1].weight",
            "weight 'quality_wieght' is not a parameter of the pack (did you mean "
            "'quality_weight'?)",
        ),
        (
            "cap: deduction_cap",
            "cap: deduction_cp",
            "rulesets.inst.grading.categories[0].cap",
            "cap 'deduction_cp' is not a parameter of the pack (did you mean 'deduction_cap'?)",
        ),
        (
            'range: "[a_from, 100]"',
            'range: "[a_form, 100]"',
            "rulesets.inst.grading.bands[0].range",
            "band edge 'a_form' is not a parameter of the pack (did you mean 'a_from'?)",
        ),
    ],
    ids=["item-cap", "weight", "category-cap", "band-edge"],
)
def test_item13_a_misspelt_parameter_name_is_a_located_error(
    tmp_path: Path, old: str, new: str, path: str, message: str
) -> None:
    problem, line = problem_of(tmp_path, old, new)
    assert problem.code == "pack.invalid"
    assert problem.message.startswith(message), problem.message
    assert problem.location.path == path
    assert problem.location.line == line


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "weight: quality_weight",
            "weight: label",
            "weight 'label' is a parameter of type str: a weight must be a number, or a "
            "parameter of type int or number",
        ),
        (
            "cap: violation_cap",
            "cap: lookback",
            "cap 'lookback' is a parameter of type period: a cap must be a number, or a "
            "parameter of type int or number",
        ),
        (
            'range: "[60, a_from)"',
            'range: "[60, label)"',
            "band edge 'label' is a parameter of type str: a band edge must be a number, or a "
            "parameter of type int or number",
        ),
    ],
    ids=["weight-str", "cap-period", "band-edge-str"],
)
def test_item13_a_non_numeric_parameter_is_a_located_error(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    problem, line = problem_of(tmp_path, old, new)
    assert (problem.code, problem.message) == ("pack.invalid", message)
    assert problem.location.line == line


def test_item13_a_cap_parameter_must_stay_positive_on_every_date(tmp_path: Path) -> None:
    problem, _ = problem_of(
        tmp_path,
        "2025-07-01: {value: 20, provisional: 待校准}",
        "2025-07-01: {value: 0, provisional: 待校准}",
    )
    assert problem.message == (
        "cap 'violation_cap' is 0 from 2025-07-01: a cap must be greater than 0"
    )
    assert problem.location.path == "rulesets.inst.grading.categories[0].items[0].cap"


def test_item13_a_group_value_of_a_weight_is_checked_too(tmp_path: Path) -> None:
    problem, _ = problem_of(
        tmp_path, "params: {violation_cap: 5, a_from: 95}", "params: {quality_weight: -1}"
    )
    assert problem.message == (
        "weight 'quality_weight' is -1 in group big: a weight must be at least 0"
    )


def test_item13_bands_must_cover_the_range_with_the_values_of_every_date(tmp_path: Path) -> None:
    """B ends at 90 as written: from 2025-07-01 (a_from 85) A and B overlap, and in group big
    (a_from 95) they leave a gap; each is reported at band A, with the values that break it."""
    problems = problems_of(tmp_path, 'range: "[60, a_from)"', 'range: "[60, 90)"')
    assert [p.message for p in problems] == [
        "score bands: gap between rows 2 [60, 90) and 1 [95, 100]: a score there has no grade "
        "(with a_from=95 from 2024-01-01 in group big)",
        "score bands: rows 2 [60, 90) and 1 [85, 100] overlap: a score there has two grades "
        "(with a_from=85 from 2025-07-01)",
    ]
    for p in problems:
        assert p.location.path == "rulesets.inst.grading.bands[0].range"
        assert p.location.line == line_of('range: "[a_from, 100]"')


def test_item13_bands_must_cover_the_range_with_a_group_s_values(tmp_path: Path) -> None:
    problem, _ = problem_of(
        tmp_path,
        "params: {violation_cap: 5, a_from: 95}",
        "params: {violation_cap: 5, a_from: 101}",
    )
    assert problem.message == (
        "'[a_from, 100]' is empty (with a_from=101 from 2024-01-01 in group big)"
    )


def test_item13_weights_total_holds_on_every_date(tmp_path: Path) -> None:
    (problem,) = problems_of(
        tmp_path, "      ceiling: 100\n", "      ceiling: 100\n      weights_total: 2\n"
    )
    assert problem.message == (
        "the categories' weights add up to 1.5, not 2 (with quality_weight=0.5 from 2025-07-01)"
    )
    assert problem.location.path == "rulesets.inst.grading.weights_total"


def test_item13_a_literal_weight_and_cap_are_checked_as_before(tmp_path: Path) -> None:
    with pytest.raises(PackError) as exc:
        load_text(tmp_path, PACK.replace("weight: quality_weight", "weight: -1"))
    (problem,) = exc.value.problems
    assert problem.code == "pack.schema.greater_than_equal"
    assert problem.message == "Input should be greater than or equal to 0"
    with pytest.raises(PackError) as exc:
        load_text(tmp_path, PACK.replace("cap: violation_cap", "cap: 1 0"))
    (problem,) = exc.value.problems
    assert problem.message == "'1 0' is neither a number nor the name of a parameter"


def test_item13_a_band_problem_of_the_numbers_as_written_names_no_parameter_values(
    tmp_path: Path,
) -> None:
    problem, line = problem_of(tmp_path, 'range: "[0, 60)"', 'range: "[1, 60)"')
    assert problem.message == (
        "score bands: no band covers the lowest scores: row 3 starts at [1, 60) but scores go "
        "down to 0"
    )
    assert problem.location.line == line
