"""The quality-deposit allocation (质量保证金分配) of 苏医保办发〔2023〕26号 四.

四: 要根据绩效综合评价结果,全额统筹分配所有定点医疗机构预留的质量保证金 — the quality deposits
withheld from every designated institution are pooled and the WHOLE pool is shared out by the
evaluation result. The formula is in its attachment 3 (定点医疗机构医保质量保证金分配办法), which
is not in the seed, so the pack's formula (weight = deposit × score / 100) is provisional; these
tests pin it as the pack writes it and check that the provisional note reaches the user.

Issue 4: money is exact — integer fen, allocations add up to the pool exactly (largest
remainder, ties to the smaller subject id), every fen traced to its institution; bad input
(negative deposit, missing score or deposit) is an error, never a skewed allocation.

The example data (examples/jiangsu) is evaluated as of 2025-03-31, which evaluates the year 2024
(三(一)) and so picks the 2024 version of policies/jiangsu_perf.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import json
import math
import random
import re
import tempfile
import unicodedata
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import yibao_credit as yc
from yibao_credit.cli.main import main
from yibao_credit.engine.allocation import AllocationResult, allocate, largest_remainder
from yibao_credit.policy import Policy, load_policies, load_policy
from yibao_credit.records.deposits import Deposits, deposits_from_python, read_deposits

ROOT = Path(__file__).resolve().parents[1]
PACK_DIR = ROOT / "policies" / "jiangsu_perf"
ZHENJIANG = ROOT / "policies" / "zhenjiang.yaml"
EXAMPLES = ROOT / "examples" / "jiangsu"
SUBJECTS = EXAMPLES / "subjects.jsonl"
EVENTS = EXAMPLES / "events.jsonl"
DEPOSITS_CSV = EXAMPLES / "deposits.csv"
DEPOSITS_JSONL = EXAMPLES / "deposits.jsonl"
AS_OF = dt.date(2025, 3, 31)
CLAUSE = "苏医保办发〔2023〕26号 四"
FORMULA = "deposit * score / 100 if score is not None else 0"
"""The pack's provisional weight (附件3 not in the seed), as jiangsu_perf_2023.yaml writes it."""

EXAMPLE_IDS = ["JS-C01", "JS-C02", "JS-C03", "JS-H01", "JS-H02", "JS-H03"]
"""The example subjects with a result; JS-C04 declares no inpatient service and has none."""

PURE = settings(max_examples=200, deadline=None)
WHOLE = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- helpers -----------------------------------------------------------------------------------


@functools.cache
def jiangsu() -> Policy:
    """The version of the Jiangsu pack that evaluating as of 2025-03-31 uses (year 2024)."""
    return load_policies(PACK_DIR).for_as_of(AS_OF)


@functools.cache
def example_run() -> yc.Run:
    return jiangsu().evaluate(yc.load_records(SUBJECTS, EVENTS), as_of=AS_OF)


PERFECT = {
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
"""Every provincial indicator at its best: 90 points, plus the city's default 10."""


def indicators(sid: str, **values: float) -> list[dict[str, Any]]:
    """A self-assessment (三(二)1) of the evaluated year 2024, submitted in February 2025."""
    return [
        {
            "id": f"{sid}-2024-{name}-self",
            "subject_id": sid,
            "kind": "indicator",
            "date": "2025-02-10",
            "indicator": name,
            "value": value,
            "period": "2024",
            "stage": "self",
        }
        for name, value in values.items()
    ]


SMALL_SUBJECTS: list[dict[str, Any]] = [
    {"id": "A", "type": "institution", "category": "hospital", "inpatient": True,
     "designated_on": "2001-01-01"},
    {"id": "B", "type": "institution", "category": "hospital", "inpatient": True,
     "designated_on": "2005-07-01"},
    {"id": "C", "type": "institution", "category": "clinic", "inpatient": False,
     "designated_on": "2018-05-01"},
    {"id": "D", "type": "institution", "category": "clinic", "inpatient": False,
     "designated_on": "2025-01-15"},
    {"id": "E", "type": "institution", "category": "pharmacy", "designated_on": "2010-01-01"},
]  # fmt: skip
"""A and B (with inpatient service) and C (without) are graded; D was designated only after
the evaluated year 2024 and is excluded (designated_after_year); E, a pharmacy, is not in the
scope of the pack (no result)."""

SMALL_EVENTS = (
    indicators("A", **PERFECT)
    + indicators("B", **{**PERFECT, "satisfaction": 90})
    + indicators("C", satisfaction=80)
)
"""A scores 100; B loses 5 of the 10 satisfaction points (linear from 80% to 100%): 95; C has
only a satisfaction of 80% (0 points), so it keeps the fund area's base 10 and the city's
default 10: 20."""

SMALL_DEPOSITS = {"A": 1000, "B": 1000, "C": 333, "D": 500}


@functools.cache
def small_run() -> yc.Run:
    return jiangsu().evaluate(SMALL_SUBJECTS, SMALL_EVENTS, as_of=AS_OF)


def write_deposits(path: Path, rows: Sequence[tuple[str, Any]]) -> Path:
    """A deposits file; values are written as given (a str goes into JSON as a string)."""
    if path.suffix == ".csv":
        text = "subject_id,deposit\n" + "".join(f"{sid},{v}\n" for sid, v in rows)
    else:
        text = "".join(json.dumps({"subject_id": sid, "deposit": v}) + "\n" for sid, v in rows)
    path.write_text(text, encoding="utf-8")
    return path


def codes(exc: pytest.ExceptionInfo[yc.YibaoError]) -> list[str]:
    return [p.code for p in exc.value.problems]


def line_of(text: str, needle: str) -> int:
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) == 1, hits
    return hits[0]


MINI_PACK = """\
pack:
  id: mini_allocation
  name: {{zh: 分配测试}}
  jurisdiction: {{name: 测试市}}
  version: "1"
  effective: {{from: 2023-01-01}}
  sources:
    - {{id: s, number: 测试〔2024〕1号, title: 测试, issuer: 测试局}}
windows:
  year: {{title: {{zh: 评价年度}}, type: calendar_year, clause: 二(1)}}
rulesets:
  inst:
    title: {{zh: 机构}}
    applies_to: {{type: institution}}
    facts:
      points:
        title: {{zh: 得分}}
        op: sum
        of: points
        where: "kind == 'points'"
        window: year
        clause: 三(1)
    exclusions:
      - {{id: closed, title: {{zh: 已关闭}}, when: "name == 'closed'", clause: 三(2)}}
    grading:
      type: score
      base: 0
      floor: 0
      ceiling: 100
      provisional: 测试
      grades:
        - {{label: 优秀, title: {{zh: 优秀}}}}
        - {{label: 不合格, title: {{zh: 不合格}}}}
      categories:
        - id: all
          title: {{zh: 全部}}
          provisional: 测试
          items:
            - {{id: pts, title: {{zh: 分}}, points: "points", provisional: 测试}}
      bands:
        - {{grade: 优秀, range: "[60, 100]", provisional: 测试}}
        - {{grade: 不合格, range: "[0, 60)", provisional: 测试}}
    allocation:
      weight: "{weight}"
      excluded: {excluded}
      clause: 四
      provisional: 测试公式
"""
"""A score pack of one item: each subject's score is the sum of its `points` events of 2024."""


def mini_pack(tmp: Path, weight: str, excluded: str = "zero") -> Path:
    path = tmp / "mini_allocation.yaml"
    path.write_text(MINI_PACK.format(weight=weight, excluded=excluded), encoding="utf-8")
    return path


def mini_run(pack: Path, scores: Mapping[str, float], closed: Sequence[str] = ()) -> yc.Run:
    subjects = [
        {
            "id": sid,
            "type": "institution",
            "category": "hospital",
            **({"name": "closed"} if sid in closed else {}),
        }
        for sid in scores
    ]
    events = [
        {"id": f"p-{sid}", "subject_id": sid, "kind": "points", "date": "2024-06-01", "points": s}
        for sid, s in scores.items()
    ]
    return load_policy(pack).evaluate(subjects, events, as_of=dt.date(2024, 12, 31))


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    """Run ``main`` and return (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def allocate_args(*extra: str | Path, deposits: Path = DEPOSITS_CSV) -> list[str | Path]:
    return [
        "allocate",
        PACK_DIR,
        "--subjects",
        SUBJECTS,
        "--events",
        EVENTS,
        "--as-of",
        AS_OF.isoformat(),
        "--deposits",
        deposits,
        *extra,
    ]


POOL_LINE = re.compile(r"pool (\d+) fen, allocated (\d+) fen to (\d+) subject\(s\)")


def display_width(text: str) -> int:
    """Columns a terminal gives the text: wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


# -- largest_remainder: the fen of the pool, exactly (四 全额统筹分配) ----------------------------


def test_clause4_equal_weights_give_the_extra_fen_to_the_smallest_id() -> None:
    """四 全额: 100 fen over three equal weights is 33⅓ each; 3 × 33 = 99 leaves one fen, and
    with equal remainders it goes to the smallest subject id — whatever the insertion order."""
    split = largest_remainder(100, {"c": Fraction(1), "a": Fraction(1), "b": Fraction(1)})
    assert {k: v[1] for k, v in split.items()} == {"a": 34, "b": 33, "c": 33}
    assert {k: v[2] for k, v in split.items()} == {"a": True, "b": False, "c": False}
    assert all(v[0] == Fraction(100, 3) for v in split.values())


def test_clause4_the_largest_remainder_wins_not_the_smallest_id() -> None:
    """四: 100 fen over weights 1:3:3 is 14.29 / 42.86 / 42.86: the floors 14 + 42 + 42 leave
    two fen, and they go to the two largest remainders (b, c), not to the smallest id a."""
    split = largest_remainder(100, {"a": Fraction(1), "b": Fraction(3), "c": Fraction(3)})
    assert {k: v[1] for k, v in split.items()} == {"a": 14, "b": 43, "c": 43}
    assert [k for k, v in sorted(split.items()) if v[2]] == ["b", "c"]
    # Two subjects: 10 fen at 1:2 is 3.33 / 6.67; the one fen left goes to b's .67.
    split = largest_remainder(10, {"a": Fraction(1), "b": Fraction(2)})
    assert {k: v[1] for k, v in split.items()} == {"a": 3, "b": 7}


@pytest.mark.parametrize(
    "weights",
    [{"a": Fraction(0), "b": Fraction(0)}, {}],
    ids=["all-zero", "no-subject"],
)
def test_clause4_weights_adding_up_to_nothing_are_an_error(
    weights: dict[str, Fraction],
) -> None:
    """四 shares the pool by result; with no weight at all there is no basis to share it, and
    the pool is not silently kept or split evenly."""
    with pytest.raises(ValueError, match="add up to nothing"):
        largest_remainder(100, weights)


weight_values = st.one_of(
    st.integers(min_value=0, max_value=10**9).map(Fraction),
    st.fractions(min_value=0, max_value=10**6, max_denominator=10**4),
)
weight_maps = st.dictionaries(
    st.text(alphabet="ABCH0123-", min_size=1, max_size=4),
    weight_values,
    min_size=1,
    max_size=12,
).filter(lambda w: sum(w.values()) > 0)


@PURE
@given(
    pool=st.integers(min_value=0, max_value=10**12),
    weights=weight_maps,
    seed=st.integers(min_value=0, max_value=2**32),
    factor=st.fractions(min_value=Fraction(1, 1000), max_value=1000).filter(lambda f: f > 0),
)
def test_clause4_largest_remainder_conserves_every_fen(
    pool: int, weights: dict[str, Fraction], seed: int, factor: Fraction
) -> None:
    """四 全额统筹分配, for any pool and any non-negative weights: the fen add up to the pool;
    each subject gets its exact share rounded down or up, within one fen; exactly the fen
    left over after rounding down are handed out, one each, to the largest remainders (ties to
    the smaller id); a larger weight never gets less; and neither the order of the mapping nor
    scaling every weight by the same factor changes anything."""
    split = largest_remainder(pool, weights)
    total = sum(weights.values(), Fraction(0))
    assert set(split) == set(weights)
    assert sum(v[1] for v in split.values()) == pool
    floors = {}
    for k, (exact, fen, extra) in split.items():
        assert exact == pool * weights[k] / total
        floors[k] = math.floor(exact)
        assert fen in (floors[k], floors[k] + 1)
        assert abs(fen - exact) < 1
        assert extra == (fen == floors[k] + 1)
        assert isinstance(fen, int)
    assert sum(v[2] for v in split.values()) == pool - sum(floors.values())
    remainder = {k: split[k][0] - floors[k] for k in split}
    for i in split:
        for j in split:
            if split[j][2] and not split[i][2]:  # j got a left-over fen, i did not
                assert remainder[j] > remainder[i] or (remainder[j] == remainder[i] and j < i)
            if weights[i] > weights[j]:
                assert split[i][1] >= split[j][1]
    keys = list(weights)
    random.Random(seed).shuffle(keys)
    assert largest_remainder(pool, {k: weights[k] for k in keys}) == split
    assert largest_remainder(pool, dict(reversed(weights.items()))) == split
    scaled = largest_remainder(pool, {k: w * factor for k, w in weights.items()})
    assert scaled == split


# -- allocate over a hand-built run of the Jiangsu pack ---------------------------------------


def test_clause4_small_run_is_graded_as_built() -> None:
    """The hand-built run the next tests share: scores 100 / 95 / 20 (三(二)1 self-assessed
    indicators of 2024), D excluded because it was designated only in 2025 (三(一)), E (a
    pharmacy) outside the pack's scope."""
    run = small_run()
    assert jiangsu().version == "2024"
    got = {r.subject.id: (r.status, r.score, r.grade, r.exclusion) for r in run}
    assert got == {
        "A": ("graded", 100.0, "优秀", None),
        "B": ("graded", 95.0, "优秀", None),
        "C": ("graded", 20.0, "不合格", None),
        "D": ("excluded", None, None, "designated_after_year"),
    }


def test_clause4_the_pack_formula_is_the_provisional_deposit_times_score() -> None:
    """四 points to 附件3 for the formula, which is not in the seed: both classes use the same
    provisional weight, an excluded institution's weight is zero (`excluded: zero`), and the
    step cites 四 with a provisional note naming 附件3."""
    for rs in jiangsu().rulesets.values():
        assert rs.allocation is not None
        assert rs.allocation.step.expr == FORMULA
        assert rs.allocation.excluded == "zero"
        assert rs.allocation.step.clause == CLAUSE
        provisional = rs.allocation.step.provisional
        assert provisional is not None
        assert "附件3" in provisional.zh and "附件3" in provisional.get("en")


def test_clause4_the_whole_pool_of_deposits_is_shared_out() -> None:
    """四 全额统筹分配所有定点医疗机构预留的质量保证金: the pool is every deposit of a subject with
    a result, excluded D's included (2833 fen), and all of it goes out. By hand, weights
    1000 / 950 / 66.6 / 0: exact shares 1404.84, 1334.60, 93.56, 0 — the floors leave two fen,
    for A's .84 and B's .60."""
    result = allocate(small_run(), deposits_from_python(SMALL_DEPOSITS))
    assert result.pool == 1000 + 1000 + 333 + 500
    assert result.allocated == result.pool
    assert sum(s.allocated for s in result.shares) == result.pool
    got = {s.subject_id: (s.allocated, s.extra_fen) for s in result.shares}
    assert got == {"A": (1405, True), "B": (1335, True), "C": (93, False), "D": (0, False)}
    assert [s.subject_id for s in result.shares] == ["A", "B", "C", "D"]
    assert result.clause == CLAUSE
    assert result.provisional is not None and "附件3" in result.provisional.get("en")


def test_clause4_each_weight_follows_the_pack_formula() -> None:
    """The weight is the pack's `deposit * score / 100` (0 without a score), exactly: C has
    333 fen withheld and scores 20, so 333 × 20 / 100 = 66.6 = 333/5; the exact share is
    pool × weight / Σ weights."""
    result = allocate(small_run(), deposits_from_python(SMALL_DEPOSITS))
    shares = {s.subject_id: s for s in result.shares}
    assert shares["C"].weight == Fraction(333 * 20, 100) == Fraction(333, 5)
    assert shares["A"].weight == Fraction(1000 * 100, 100)
    assert shares["B"].weight == Fraction(1000 * 95, 100)
    total = Fraction(1000) + Fraction(950) + Fraction(333, 5)
    for s in result.shares:
        assert s.exact == result.pool * s.weight / total
        assert s.deposit == SMALL_DEPOSITS[s.subject_id]
    assert shares["C"].exact == Fraction(2833 * 333, 5) / total
    r = small_run().get("C")
    assert r is not None
    c = shares["C"]
    assert (
        (c.score, c.grade, c.status) == (r.score, r.grade, r.status) == (20.0, "不合格", "graded")
    )


@WHOLE
@given(
    same=st.integers(min_value=0, max_value=10**9),
    c=st.integers(min_value=0, max_value=10**9),
    d=st.integers(min_value=0, max_value=10**9),
)
def test_clause4_a_higher_score_with_the_same_deposit_never_receives_less(
    same: int, c: int, d: int
) -> None:
    """四 shares the pool by result: A (100 points) and B (95) withheld the same amount, so A
    never gets less than B, whatever the others withheld."""
    deposits = {"A": same, "B": same, "C": c, "D": d}
    if same == 0 and c == 0:  # no graded deposit: no basis to share (tested below)
        return
    result = allocate(small_run(), deposits_from_python(deposits))
    shares = {s.subject_id: s.allocated for s in result.shares}
    assert shares["A"] >= shares["B"]
    assert sum(shares.values()) == same + same + c + d


def test_clause4_an_excluded_institution_gets_nothing_and_its_deposit_stays_in_the_pool() -> None:
    """The pack's `excluded: zero`: D, designated only after the evaluated year, has weight 0
    and receives nothing, and the 500 fen withheld from it go to the others (全额: the whole
    pool is shared, nothing is returned or kept)."""
    result = allocate(small_run(), deposits_from_python(SMALL_DEPOSITS))
    d = next(s for s in result.shares if s.subject_id == "D")
    assert (d.status, d.grade, d.score) == ("excluded", None, None)
    assert (d.weight, d.exact) == (Fraction(0), Fraction(0))
    assert (d.allocated, d.extra_fen) == (0, False)
    assert d.deposit == 500
    others = sum(s.allocated for s in result.shares if s.subject_id != "D")
    assert others == result.pool == 2833
    without_d = allocate(small_run(), deposits_from_python({**SMALL_DEPOSITS, "D": 0}))
    assert without_d.pool == 2333
    for s, t in zip(result.shares, without_d.shares, strict=True):
        if s.subject_id != "D":
            assert s.allocated > t.allocated  # D's 500 fen raised every graded share


def test_clause4_excluded_error_setting_refuses_an_excluded_subject(tmp_path: Path) -> None:
    """A pack whose allocation says `excluded: error` stops on an excluded subject with a
    deposit row (naming the file and line) instead of deciding its share itself."""
    pack = mini_pack(tmp_path, FORMULA, excluded="error")
    run = mini_run(pack, {"A": 80, "B": 70, "X": 90}, closed=["X"])
    x = run.get("X")
    assert x is not None and x.status == "excluded"
    path = write_deposits(tmp_path / "d.csv", [("A", 10), ("X", 5), ("B", 20)])
    with pytest.raises(yc.YibaoError) as info:
        allocate(run, read_deposits(path))
    assert codes(info) == ["eval.allocation-excluded"]
    loc = info.value.problems[0].location
    assert (loc.file, loc.line) == (str(path), 3)


def test_clause4_shares_as_json_are_exact() -> None:
    """Every fen traced to its institution: to_dict() gives the weight and exact share as
    fraction strings (no float rounding), the allocated fen as an integer, and survives JSON."""
    result = allocate(small_run(), deposits_from_python(SMALL_DEPOSITS))
    rows = [json.loads(json.dumps(s.to_dict(), ensure_ascii=False)) for s in result.shares]
    assert list(rows[0]) == [
        "subject_id",
        "deposit",
        "status",
        "grade",
        "score",
        "weight",
        "exact_share",
        "allocated",
        "extra_fen",
    ]
    for row, s in zip(rows, result.shares, strict=True):
        assert isinstance(row["weight"], str) and isinstance(row["exact_share"], str)
        assert Fraction(row["weight"]) == s.weight
        assert Fraction(row["exact_share"]) == s.exact
        assert type(row["allocated"]) is int and type(row["deposit"]) is int
        assert row["allocated"] == s.allocated
    assert rows[2]["weight"] == "333/5"
    assert rows[0]["exact_share"] == "14165000/10083"  # 2833 × 1000 / 2016.6
    assert sum(Fraction(r["exact_share"]) for r in rows) == result.pool
    assert sum(r["allocated"] for r in rows) == result.pool
    assert rows[3] == {
        "subject_id": "D",
        "deposit": 500,
        "status": "excluded",
        "grade": None,
        "score": None,
        "weight": "0",
        "exact_share": "0",
        "allocated": 0,
        "extra_fen": False,
    }


# -- errors: bad input never makes a skewed allocation ----------------------------------------


@pytest.mark.parametrize(
    ("name", "rows", "line", "code"),
    [
        ("negative.csv", [("A", 1000), ("B", -5)], 3, "record.deposit"),
        ("negative.jsonl", [("A", 1000), ("B", -5)], 2, "record.deposit"),
        ("fraction.csv", [("A", 1000), ("B", 1000), ("C", "12.5")], 4, "record.deposit"),
        ("fraction.jsonl", [("A", 12.5)], 1, "record.deposit"),
        ("text.csv", [("A", "abc")], 2, "record.deposit"),
        ("text.jsonl", [("A", 1), ("B", "abc")], 2, "record.deposit"),
        ("empty.csv", [("A", 1), ("B", "")], 3, "record.deposit"),
        ("duplicate.csv", [("A", 1), ("B", 2), ("A", 3)], 4, "record.deposit.duplicate-id"),
        ("duplicate.jsonl", [("A", 1), ("A", 1)], 2, "record.deposit.duplicate-id"),
    ],
)
def test_clause4_bad_deposit_rows_are_located_errors(
    tmp_path: Path, name: str, rows: list[tuple[str, Any]], line: int, code: str
) -> None:
    """A deposit is a whole number of fen ≥ 0, one row per subject: a negative, fractional or
    non-numeric amount, or a second row for a subject, is an error naming the file and the
    line — never a guess that skews the pool of 四."""
    path = write_deposits(tmp_path / name, rows)
    with pytest.raises(yc.RecordError) as info:
        read_deposits(path)
    assert codes(info) == [code]
    loc = info.value.problems[0].location
    assert (loc.file, loc.line) == (str(path), line)


def test_clause4_a_duplicate_row_names_the_first_one(tmp_path: Path) -> None:
    path = write_deposits(tmp_path / "d.csv", [("A", 1), ("B", 2), ("A", 3)])
    with pytest.raises(yc.RecordError) as info:
        read_deposits(path)
    assert "line 2" in info.value.problems[0].message


def test_clause4_a_deposit_for_a_subject_without_a_result_is_an_error(tmp_path: Path) -> None:
    """四 pools the deposits of the evaluated institutions: a row for E (outside the pack's
    scope, no result) or for an unknown id cannot be shared by a result it does not have."""
    path = write_deposits(
        tmp_path / "d.jsonl",
        [*SMALL_DEPOSITS.items(), ("E", 700), ("ZZ", 1)],
    )
    with pytest.raises(yc.RecordError) as info:
        allocate(small_run(), read_deposits(path))
    assert codes(info) == ["record.deposit.unknown-subject"] * 2
    got = [(p.location.file, p.location.line, p.location.path) for p in info.value.problems]
    assert got == [(str(path), 5, "subject_id"), (str(path), 6, "subject_id")]
    assert "'E'" in info.value.problems[0].message


def test_clause4_a_graded_subject_without_a_deposit_row_is_an_error(tmp_path: Path) -> None:
    """全额 means every deposit is in the pool: a subject with a result and no deposit row
    is an error (write 0 if nothing was withheld), not a subject left out of the sharing."""
    rows = [(k, v) for k, v in SMALL_DEPOSITS.items() if k != "C"]
    path = write_deposits(tmp_path / "d.csv", rows)
    with pytest.raises(yc.RecordError) as info:
        allocate(small_run(), read_deposits(path))
    assert codes(info) == ["record.deposit.missing"]
    assert info.value.problems[0].location.file == str(path)
    assert "'C'" in info.value.problems[0].message


@pytest.mark.parametrize("value", [-1, True, 12.5, 2.0], ids=["negative", "bool", "float", "2.0"])
def test_clause4_deposits_from_python_takes_only_whole_fen(value: Any) -> None:
    with pytest.raises(yc.RecordError) as info:
        deposits_from_python({"A": 1000, "B": value})
    assert codes(info) == ["record.deposit"]
    assert "'B'" in info.value.problems[0].message


def test_clause4_a_pack_without_allocation_cannot_allocate() -> None:
    """Zhenjiang's credit pack (镇医保〔2024〕82号) shares no fund: allocating under it is
    eval.no-allocation, not an even split."""
    policy = load_policy(ZHENJIANG)
    run = policy.evaluate(
        [{"id": "H1", "type": "institution", "category": "hospital",
          "designated_on": "2010-01-01"}],
        [],
        as_of=dt.date(2024, 12, 31),
    )  # fmt: skip
    assert run.get("H1") is not None
    with pytest.raises(yc.EvaluationError) as info:
        allocate(run, deposits_from_python({"H1": 100}))
    assert codes(info) == ["eval.no-allocation"]


def test_clause4_a_negative_weight_is_an_error_naming_the_row(tmp_path: Path) -> None:
    """A pack whose weight comes out below zero (here `score - 50` for a score of 40) would
    take money from one institution to give to others: an error naming the deposit row."""
    pack = mini_pack(tmp_path, "score - 50 if score is not None else 0")
    run = mini_run(pack, {"A": 80, "B": 40})
    path = write_deposits(tmp_path / "d.csv", [("A", 10), ("B", 20)])
    with pytest.raises(yc.YibaoError) as info:
        allocate(run, read_deposits(path))
    assert codes(info) == ["eval.allocation-weight"]
    loc = info.value.problems[0].location
    assert (loc.file, loc.line) == (str(path), 3)
    assert "'B'" in info.value.problems[0].message


def test_clause4_a_weight_beyond_any_float_is_still_exact(tmp_path: Path) -> None:
    """Weights are exact fractions: 10 × 10³⁰⁸ × 10 overflows no float, and the pool is
    still shared to the fen in proportion (here 1 : 2)."""
    pack = mini_pack(tmp_path, "deposit * 1e308 * 10")
    run = mini_run(pack, {"A": 80, "B": 80})
    result = allocate(run, deposits_from_python({"A": 10, "B": 20}))
    assert [(s.subject_id, s.allocated) for s in result.shares] == [("A", 10), ("B", 20)]
    assert result.shares[0].weight == Fraction(10) * Fraction(10) ** 309


def test_clause4_a_weight_that_reads_a_missing_score_unguarded_is_a_pack_error(
    tmp_path: Path,
) -> None:
    """The score may be missing (an excluded subject has none): a weight that uses it without
    `score is not None` is refused when the pack is loaded, at the weight's line."""
    pack = mini_pack(tmp_path, "deposit * score / 100")
    with pytest.raises(yc.PackError) as info:
        load_policy(pack)
    problem = info.value.problems[0]
    assert problem.code == "pack.expr"
    assert problem.location.file == str(pack)
    assert problem.location.line == line_of(pack.read_text(encoding="utf-8"), "weight:")
    assert problem.location.path == "rulesets.inst.allocation.weight"


def test_clause4_results_without_any_score_cannot_share_the_pool(tmp_path: Path) -> None:
    """Zhenjiang grades by stars and has no score: with the Jiangsu formula every weight is 0
    (the score is missing), and that is an error, not an allocation of nothing or of everything
    to one institution."""
    pack = tmp_path / "zj_alloc.yaml"
    pack.write_text(
        f"extends: {ZHENJIANG}\n"
        "rulesets:\n"
        "  institution:\n"
        "    allocation:\n"
        f'      weight: "{FORMULA}"\n'
        "      clause: 四\n"
        "      provisional: 测试\n",
        encoding="utf-8",
    )
    run = load_policy(pack).evaluate(
        [
            {"id": "H1", "type": "institution", "category": "hospital",
             "designated_on": "2010-01-01"},
            {"id": "H2", "type": "institution", "category": "hospital",
             "designated_on": "2011-01-01"},
        ],
        [],
        as_of=dt.date(2024, 12, 31),
    )  # fmt: skip
    assert [r.score for r in run] == [None, None]
    assert all(r.status == "graded" for r in run)
    with pytest.raises(yc.EvaluationError) as info:
        allocate(run, deposits_from_python({"H1": 100, "H2": 50}))
    assert codes(info) == ["eval.allocation-weight"]


def test_clause4_a_weight_dividing_by_zero_is_an_error(tmp_path: Path) -> None:
    pack = mini_pack(tmp_path, "deposit / (score - 40) if score is not None else 0")
    run = mini_run(pack, {"A": 80, "B": 40})
    with pytest.raises(yc.YibaoError) as info:
        allocate(run, deposits_from_python({"A": 10, "B": 20}))
    assert codes(info) == ["eval.allocation-weight"]


def test_clause4_a_boolean_deposit_in_a_jsonl_file_is_an_error(tmp_path: Path) -> None:
    path = write_deposits(tmp_path / "d.jsonl", [("A", 10), ("B", True)])
    with pytest.raises(yc.RecordError) as info:
        read_deposits(path)
    assert codes(info) == ["record.deposit"]
    assert info.value.problems[0].location.line == 2


def test_clause4_the_weight_is_the_formula_exactly_not_its_float(tmp_path: Path) -> None:
    """A withheld 126000007 fen and scored 9.2, B 18000001 fen and 64.4: by the formula both
    weigh exactly 11592000.644. With C (score 0, 1 fen) the pool is 144000009, so A and B each
    have 72000004.5 — a tie, and the one fen left goes to the smaller id, A."""
    pack = mini_pack(tmp_path, FORMULA)
    run = mini_run(pack, {"A": 9.2, "B": 64.4, "C": 0})
    result = allocate(run, deposits_from_python({"A": 126000007, "B": 18000001, "C": 1}))
    shares = {s.subject_id: s for s in result.shares}
    assert shares["A"].weight == shares["B"].weight == Fraction("11592000.644")
    assert (shares["A"].allocated, shares["B"].allocated, shares["C"].allocated) == (
        72000005,
        72000004,
        0,
    )


def test_clause4_no_deposit_row_is_silently_dropped(tmp_path: Path) -> None:
    """四 全额统筹分配所有…预留的质量保证金: a pack whose pharmacies' ruleset has no allocation
    must not quietly keep a pharmacy's 5000 fen out of the pool — pool them or refuse."""
    text = MINI_PACK.format(weight=FORMULA, excluded="zero").replace(
        "applies_to: {type: institution}", "applies_to: {type: institution, categories: [hospital]}"
    )
    start, end = text.index("  inst:\n"), text.index("    allocation:")
    pharm = text[start:end].replace("  inst:", "  pharm:").replace("[hospital]", "[pharmacy]")
    pack = tmp_path / "two.yaml"
    pack.write_text(text + pharm, encoding="utf-8")
    run = load_policy(pack).evaluate(
        [
            {"id": "A", "type": "institution", "category": "hospital"},
            {"id": "P", "type": "institution", "category": "pharmacy"},
        ],
        [
            {"id": f"e{sid}", "subject_id": sid, "kind": "points", "date": "2024-06-01",
             "points": 80}
            for sid in ("A", "P")
        ],
        as_of=dt.date(2024, 12, 31),
    )  # fmt: skip
    assert {r.subject.id: r.ruleset.id for r in run} == {"A": "inst", "P": "pharm"}
    with pytest.raises(yc.RecordError) as info:
        allocate(run, deposits_from_python({"A": 100, "P": 5000}))
    assert codes(info) == ["record.deposit.not-allocated"]
    assert "'P'" in info.value.problems[0].message


# -- the command: yibao-credit allocate -------------------------------------------------------


def example_deposits() -> dict[str, int]:
    with DEPOSITS_CSV.open(encoding="utf-8") as fh:
        return {row["subject_id"]: int(row["deposit"]) for row in csv.DictReader(fh)}


def test_clause4_cli_allocate_jsonl_adds_up_to_the_pool_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """四 on the example: one JSON line per subject with a result, sorted by id; the fen add up
    to the pool the command prints, which is every deposit in the file; and the user is told
    the formula is provisional (附件3 not in the seed)."""
    code, out, err = cli(capsys, *allocate_args("--format", "jsonl"))
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["subject_id"] for r in rows] == EXAMPLE_IDS
    m = POOL_LINE.search(err)
    assert m is not None, err
    pool, allocated, count = (int(g) for g in m.groups())
    assert pool == sum(example_deposits().values()) == 76730865
    assert sum(r["allocated"] for r in rows) == pool == allocated
    assert count == len(rows)
    spec = jiangsu().rulesets["inpatient"].allocation
    assert spec is not None and spec.step.provisional
    assert f"formula provisional: {spec.step.provisional.get('zh')}" in err  # --lang zh
    by_id = {r["subject_id"]: r for r in rows}
    assert by_id["JS-C03"]["status"] == "excluded"  # designated 2025-01-15: nothing to evaluate
    assert by_id["JS-C03"]["allocated"] == 0
    assert by_id["JS-C01"]["weight"] == "1200000"  # 1200000 × 100 / 100
    assert by_id["JS-C02"]["weight"] == str(Fraction(987654 * 40, 100))
    for r in rows:
        assert r["deposit"] == example_deposits()[r["subject_id"]]
        assert abs(r["allocated"] - Fraction(r["exact_share"])) < 1


def test_clause4_cli_allocate_csv_and_table_agree_with_jsonl(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = cli(capsys, *allocate_args("--format", "jsonl"))
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    code, out, _ = cli(capsys, *allocate_args("--format", "csv"))
    assert code == 0
    table = list(csv.DictReader(io.StringIO(out)))
    assert list(table[0]) == list(rows[0])
    for t, r in zip(table, rows, strict=True):
        assert t["subject_id"] == r["subject_id"]
        assert int(t["deposit"]) == r["deposit"] and int(t["allocated"]) == r["allocated"]
        assert Fraction(t["weight"]) == Fraction(r["weight"])
        assert Fraction(t["exact_share"]) == Fraction(r["exact_share"])
        assert t["grade"] == (r["grade"] or "")
        assert t["extra_fen"].lower() == str(r["extra_fen"]).lower()
    code, out, _ = cli(capsys, *allocate_args())  # table, the default
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["subject_id", "grade", "score", "deposit", "allocated"]
    for line, r in zip(lines[1:], rows, strict=True):
        cells = line.split()
        assert cells[0] == r["subject_id"]
        assert cells[1] == (r["grade"] or "-")
        extra = cells[-1] == "+1"
        assert extra == r["extra_fen"]
        numbers = cells[:-1] if extra else cells
        assert (int(numbers[-2]), int(numbers[-1])) == (r["deposit"], r["allocated"])
    assert len(lines) == 1 + len(rows)


def test_clause4_cli_allocate_reads_csv_and_jsonl_deposits_alike(
    capsys: pytest.CaptureFixture[str],
) -> None:
    outputs = []
    for deposits in (DEPOSITS_CSV, DEPOSITS_JSONL):
        code, out, err = cli(capsys, *allocate_args("--format", "jsonl", deposits=deposits))
        assert code == 0, err
        outputs.append(out)
    assert outputs[0] == outputs[1]


def test_clause4_cli_allocate_table_aligns_cjk_grades(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Grade labels 优秀 / 不合格 take two terminal columns per character: the score, deposit
    and allocated columns (right-aligned numbers) end at the same display column on every
    line, the header's included."""
    code, out, _ = cli(capsys, *allocate_args())
    assert code == 0
    lines = out.splitlines()
    grades = {line.split()[1] for line in lines[1:]}
    assert {"优秀", "不合格", "良好", "合格"} <= grades
    header = dict(token_ends(lines[0]))
    for line in lines[1:]:
        ends = [end for _, end in token_ends(line)]
        if line.split()[1] == "-":  # excluded: no grade, no score
            ends.insert(2, header["score"])
        assert ends[2:5] == [header["score"], header["deposit"], header["allocated"]], line


def token_ends(line: str) -> list[tuple[str, int]]:
    """Each whitespace-separated cell of a table line with the display column it ends at."""
    return [(m.group(0), display_width(line[: m.end()])) for m in re.finditer(r"\S+", line)]


def test_clause4_cli_allocate_bad_deposits_is_a_located_record_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """As for every other record problem, exit 1 with ``file:line: …[code]`` on stderr."""
    rows = [(sid, v) for sid, v in example_deposits().items()]
    rows[2] = (rows[2][0], -1)
    bad = write_deposits(tmp_path / "bad.csv", rows)
    code, out, err = cli(capsys, *allocate_args(deposits=bad))
    assert code == 1
    assert out == ""
    assert f"{bad}:4: deposit" in err and "[record.deposit]" in err


def test_clause4_cli_allocate_missing_row_names_the_subject(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = [(sid, v) for sid, v in example_deposits().items() if sid != "JS-H02"]
    bad = write_deposits(tmp_path / "missing.jsonl", rows)
    code, _, err = cli(capsys, *allocate_args(deposits=bad))
    assert code == 1
    assert "'JS-H02'" in err and "[record.deposit.missing]" in err and str(bad) in err


# -- the whole path: any deposits, any order ---------------------------------------------------


def canonical(result: AllocationResult) -> tuple[int, list[dict[str, Any]]]:
    return result.pool, [s.to_dict() for s in result.shares]


@WHOLE
@given(
    amounts=st.lists(
        st.integers(min_value=0, max_value=10**9),
        min_size=len(EXAMPLE_IDS),
        max_size=len(EXAMPLE_IDS),
    ),
    order=st.permutations(range(len(EXAMPLE_IDS))),
    suffix=st.sampled_from([".csv", ".jsonl"]),
)
def test_clause4_any_deposits_in_any_order_share_out_exactly(
    amounts: list[int], order: list[int], suffix: str
) -> None:
    """四 全额 on the example run, for any deposits from 0 to 10^9 fen: the fen allocated add up
    to the deposits, and the allocation is the same whatever order the rows come in (from a
    file or from Python)."""
    run = example_run()
    deposits = dict(zip(EXAMPLE_IDS, amounts, strict=True))
    rows = [(EXAMPLE_IDS[i], amounts[i]) for i in order]
    with tempfile.TemporaryDirectory() as tmp:
        from_file: Deposits = read_deposits(write_deposits(Path(tmp) / f"d{suffix}", rows))
    graded = sum(v for k, v in deposits.items() if k != "JS-C03")  # JS-C03 weighs 0
    if sum(amounts) == 0:  # nothing to share: every share is 0 fen
        assert [s.allocated for s in allocate(run, from_file).shares] == [0] * len(amounts)
        return
    if graded == 0:  # no weight at all: no basis to share the pool, an error either way
        for d in (from_file, deposits_from_python(deposits)):
            with pytest.raises(yc.EvaluationError) as info:
                allocate(run, d)
            assert codes(info) == ["eval.allocation-weight"]
        return
    result = allocate(run, from_file)
    assert result.pool == sum(amounts)
    assert sum(s.allocated for s in result.shares) == sum(amounts)
    assert canonical(result) == canonical(allocate(run, deposits_from_python(deposits)))
    reordered = deposits_from_python(dict(rows))
    assert canonical(allocate(run, reordered)) == canonical(result)


# -- 四 公示无异议后: the pool is shared among final results only -----------------------------
#
# 四: 绩效评价结果和资金分配方案…在一定范围内公示,公示无异议后在年度清算中落实. The pack says
# so with `allocation.requires_final` (clause 四). A result's lifecycle comes from the records
# (--procedures, judged on --on): notified → its 三(二)2 申诉 window (provisional: 5 working days)
# → under review after an appeal → final. 2025-03-20 (Thursday) + 5 working days = 2025-03-27
# (03-21, 24, 25, 26, 27; no holiday in March 2025).

NOTIFIED = "2025-03-20"
APPEAL_DUE = dt.date(2025, 3, 27)
"""The last day of the 三(二)2 appeal window after a notification on 2025-03-20."""
DAY = dt.timedelta(days=1)


def notice(sid: str, date: str = NOTIFIED) -> dict[str, Any]:
    return {"id": f"n-{sid}", "subject_id": sid, "step": "notification", "date": date}


def appeal(sid: str, date: str) -> dict[str, Any]:
    return {"id": f"o-{sid}", "subject_id": sid, "step": "objection", "date": date}


def answer(
    sid: str, date: str, outcome: str = "upheld", grade: str | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f"d-{sid}",
        "subject_id": sid,
        "step": "decision",
        "date": date,
        "outcome": outcome,
    }
    if grade is not None:
        out["grade"] = grade
    return out


ALL_NOTIFIED = [notice(sid) for sid in "ABCD"]


def lifecycle_run(
    procedures: Sequence[Mapping[str, Any]], on: dt.date | None, engine: str = "python"
) -> yc.Run:
    """The small run of A–D with procedure records, judged on ``on``."""
    return jiangsu().evaluate(
        SMALL_SUBJECTS,
        SMALL_EVENTS,
        as_of=AS_OF,
        procedures=list(procedures),
        on=on,
        engine=engine,
    )


def stage_of(run: yc.Run, sid: str) -> str:
    r = run.get(sid)
    assert r is not None and r.lifecycle is not None
    return r.lifecycle.stage


def test_clause4_the_pack_shares_the_pool_only_among_final_results() -> None:
    """四 公示无异议后在年度清算中落实: both classes of both versions, and the Suqian city pack
    that extends them, say `requires_final` with the clause 四."""
    packs = [
        *load_policies(PACK_DIR).versions,
        load_policy(ROOT / "policies/suqian_perf_2024.yaml"),
    ]
    for pack in packs:
        for rs in pack.rulesets.values():
            assert rs.allocation is not None
            final = rs.allocation.requires_final
            assert final is not None, (pack.version, rs.id)
            assert final.clause == CLAUSE
            assert final.note is not None and "公示无异议后" in final.note.zh


def test_clause4_without_procedures_the_allocation_is_a_draft_with_a_warning() -> None:
    """No procedure records: finality cannot be known. The allocation is made as today (the
    资金分配方案 of 四 is itself shown before it is applied) and says that finality was not
    checked (eval.allocation-unchecked)."""
    result = allocate(small_run(), deposits_from_python(SMALL_DEPOSITS))
    assert [w.code for w in result.warnings] == ["eval.allocation-unchecked"]
    assert "四" in result.warnings[0].message and "4 subject(s)" in result.warnings[0].message
    assert result.pending == ()
    got = {s.subject_id: s.allocated for s in result.shares}
    assert got == {"A": 1405, "B": 1335, "C": 93, "D": 0}


def test_clause4_a_window_closing_exactly_on_on_is_not_yet_final() -> None:
    """三(二)2 / 四: on 2025-03-27, the last day of the appeal window, an institution may still
    appeal: no result is final and the allocation is refused for each (naming the day the
    window closes). On 2025-03-28 every window has closed without an appeal: all final, and
    the shares are those of the draft, without a warning."""
    run = lifecycle_run(ALL_NOTIFIED, APPEAL_DUE)
    assert {stage_of(run, s) for s in "ABCD"} == {"notified"}
    with pytest.raises(yc.YibaoError) as info:
        allocate(run, deposits_from_python(SMALL_DEPOSITS))
    assert codes(info) == ["eval.allocation-not-final"] * 4
    assert "until 2025-03-27" in info.value.problems[0].message
    assert "--exclude-pending" in info.value.problems[0].message
    run = lifecycle_run(ALL_NOTIFIED, APPEAL_DUE + DAY)
    assert {stage_of(run, s) for s in "ABCD"} == {"final"}
    result = allocate(run, deposits_from_python(SMALL_DEPOSITS))
    assert result.warnings == () and result.pending == ()
    draft = allocate(small_run(), deposits_from_python(SMALL_DEPOSITS))
    assert canonical(result) == canonical(draft)


def test_clause4_one_pending_objection_stops_the_allocation_at_its_row(tmp_path: Path) -> None:
    """四 公示无异议后: B appealed on 2025-03-25, in time, and has no decision on 2025-03-28:
    its result is under review, and the whole allocation waits — the error names B's row of
    the deposits file, and no one else."""
    run = lifecycle_run([*ALL_NOTIFIED, appeal("B", "2025-03-25")], APPEAL_DUE + DAY)
    assert stage_of(run, "B") == "under_review"
    path = write_deposits(tmp_path / "d.csv", list(SMALL_DEPOSITS.items()))
    with pytest.raises(yc.YibaoError) as info:
        allocate(run, read_deposits(path))
    assert codes(info) == ["eval.allocation-not-final"]
    problem = info.value.problems[0]
    assert (problem.location.file, problem.location.line) == (str(path), 3)
    assert "'B'" in problem.message and "under_review" in problem.message
    assert "2025-03-25" in problem.message


def test_clause4_exclude_pending_leaves_the_subject_and_its_deposit_out() -> None:
    """With exclude_pending the allocation is made among the final results only: B (under
    review) gets no share and its 1000 fen are not in the pool (1833 fen: A 1000, C 333, D
    500), which A and C share by their weights (D is excluded: 0); B and its deposit are
    reported (eval.allocation-pending)."""
    run = lifecycle_run([*ALL_NOTIFIED, appeal("B", "2025-03-25")], APPEAL_DUE + DAY)
    result = allocate(run, deposits_from_python(SMALL_DEPOSITS), exclude_pending=True)
    assert [p.to_dict() for p in result.pending] == [
        {"subject_id": "B", "stage": "under_review", "deposit": 1000}
    ]
    assert result.pool == 1833 == result.allocated
    assert [s.subject_id for s in result.shares] == ["A", "C", "D"]
    expected = largest_remainder(
        1833, {"A": Fraction(1000), "C": Fraction(333, 5), "D": Fraction(0)}
    )
    assert {s.subject_id: s.allocated for s in result.shares} == {
        k: v[1] for k, v in expected.items()
    }
    assert [w.code for w in result.warnings] == ["eval.allocation-pending"]
    assert "B (under_review)" in result.warnings[0].message
    assert "1000 fen" in result.warnings[0].message


def test_clause4_a_decided_objection_is_final_and_shares_with_its_decided_grade() -> None:
    """三(二)3: B's appeal was answered on 2025-04-01 (its grade corrected to 良好); on
    2025-04-02 every result is final and the whole pool is shared; B's share shows the decided
    grade (its weight reads the score, which the decision does not change)."""
    procedures = [
        *ALL_NOTIFIED,
        appeal("B", "2025-03-25"),
        answer("B", "2025-04-01", "corrected", "良好"),
    ]
    run = lifecycle_run(procedures, dt.date(2025, 4, 2))
    assert stage_of(run, "B") == "final"
    result = allocate(run, deposits_from_python(SMALL_DEPOSITS))
    assert result.warnings == ()
    shares = {s.subject_id: s for s in result.shares}
    assert shares["B"].grade == "良好"
    assert {k: s.allocated for k, s in shares.items()} == {"A": 1405, "B": 1335, "C": 93, "D": 0}


def test_clause4_a_late_appeal_does_not_hold_the_pool() -> None:
    """An appeal dated the day after the window (2025-03-28) is out of time: the result is
    final as it stands and shares in the pool."""
    run = lifecycle_run([*ALL_NOTIFIED, appeal("B", "2025-03-28")], APPEAL_DUE + DAY)
    r = run.get("B")
    assert r is not None and r.lifecycle is not None
    assert (r.lifecycle.stage, r.lifecycle.objection_in_time) == ("final", False)
    assert allocate(run, deposits_from_python(SMALL_DEPOSITS)).warnings == ()


def test_clause4_a_result_not_yet_notified_is_not_final_even_when_excluded() -> None:
    """D (excluded: designated after the year) has no notification record: its result was
    not shown (公示), and a decision on an objection could still make it graded, so it holds
    the allocation like any other."""
    run = lifecycle_run([notice(s) for s in "ABC"], APPEAL_DUE + DAY)
    assert stage_of(run, "D") == "pre_evaluation"
    with pytest.raises(yc.YibaoError) as info:
        allocate(run, deposits_from_python(SMALL_DEPOSITS))
    assert codes(info) == ["eval.allocation-not-final"]
    assert "'D'" in info.value.problems[0].message
    assert "not yet notified" in info.value.problems[0].message


def test_clause4_without_on_no_window_is_taken_as_closed() -> None:
    """Procedure records without `on`: every record counts, but no window is ever taken as
    closed, so notified results are not final; the message says why."""
    with pytest.raises(yc.YibaoError) as info:
        allocate(lifecycle_run(ALL_NOTIFIED, None), deposits_from_python(SMALL_DEPOSITS))
    assert codes(info) == ["eval.allocation-not-final"] * 4
    assert "without --on" in info.value.problems[0].message


def test_clause4_exclude_pending_needs_procedure_records() -> None:
    with pytest.raises(yc.EvaluationError) as info:
        allocate(small_run(), deposits_from_python(SMALL_DEPOSITS), exclude_pending=True)
    assert codes(info) == ["eval.allocation-not-final"]
    assert "--procedures" in info.value.problems[0].message


def test_clause4_when_every_result_is_pending_nothing_is_shared_yet() -> None:
    run = lifecycle_run(ALL_NOTIFIED, APPEAL_DUE)
    result = allocate(run, deposits_from_python(SMALL_DEPOSITS), exclude_pending=True)
    assert (result.pool, result.shares) == (0, ())
    assert [p.subject_id for p in result.pending] == ["A", "B", "C", "D"]
    assert sum(p.deposit for p in result.pending) == sum(SMALL_DEPOSITS.values())


def test_clause4_a_pack_without_requires_final_checks_no_lifecycle(tmp_path: Path) -> None:
    """`requires_final` is the pack's to say: without it a pending result shares in the pool
    and nothing is warned; exclude_pending still leaves it out when asked."""
    pack = load_policy(mini_pack(tmp_path, FORMULA))
    subjects = [{"id": s, "type": "institution", "category": "hospital"} for s in "AB"]
    events = [
        {"id": f"p-{s}", "subject_id": s, "kind": "points", "date": "2024-06-01", "points": 80}
        for s in "AB"
    ]
    run = pack.evaluate(
        subjects, events, as_of=dt.date(2024, 12, 31), procedures=[notice("A", "2025-01-06")]
    )
    assert stage_of(run, "A") == "notified" and stage_of(run, "B") == "pre_evaluation"
    result = allocate(run, deposits_from_python({"A": 10, "B": 20}))
    assert result.warnings == () and result.allocated == 30
    result = allocate(run, deposits_from_python({"A": 10, "B": 20}), exclude_pending=True)
    assert [p.subject_id for p in result.pending] == ["A", "B"] and result.pool == 0


@pytest.fixture
def example_procedures(tmp_path: Path) -> Path:
    """Every example result notified on 2025-03-20; JS-H02 appealed on 2025-03-24."""
    rows = [notice(sid) for sid in EXAMPLE_IDS] + [appeal("JS-H02", "2025-03-24")]
    path = tmp_path / "procedures.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("engine", ["duckdb", "python"])
def test_clause4_cli_allocate_refuses_a_result_under_objection(
    capsys: pytest.CaptureFixture[str], example_procedures: Path, engine: str
) -> None:
    """四 on the example, judged on 2025-03-28: JS-H02's appeal of 2025-03-24 is undecided, so
    `allocate` exits 1 naming its row of the deposits file, and writes nothing."""
    code, out, err = cli(
        capsys,
        *allocate_args("--procedures", example_procedures, "--on", "2025-03-28"),
        "--engine",
        engine,
    )
    assert code == 1 and out == ""
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert f"{DEPOSITS_CSV}:3:" in errors[0] and "'JS-H02'" in errors[0]
    assert errors[0].endswith("[eval.allocation-not-final]")


def test_clause4_cli_allocate_exclude_pending_reports_what_it_left_out(
    capsys: pytest.CaptureFixture[str], example_procedures: Path
) -> None:
    """--exclude-pending: JS-H02 (18000001 fen) is left out and reported; the others share
    the rest of the pool exactly; both engines print the same, byte for byte."""
    outputs = []
    for engine in ("duckdb", "python"):
        args = allocate_args(
            "--procedures", example_procedures, "--on", "2025-03-28", "--exclude-pending"
        )
        code, out, err = cli(capsys, *args, "--format", "jsonl", "--engine", engine)
        assert code == 0, err
        outputs.append((out, err))
    assert outputs[0] == outputs[1]
    out, err = outputs[0]
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["subject_id"] for r in rows] == [s for s in EXAMPLE_IDS if s != "JS-H02"]
    pool = sum(example_deposits().values()) - 18000001
    assert sum(r["allocated"] for r in rows) == pool
    assert "1 subject(s) left out, their result not final: JS-H02 (under_review)" in err
    assert "[eval.allocation-pending]" in err
    m = POOL_LINE.search(err)
    assert m is not None and int(m.group(1)) == pool
    assert "left out 1 subject(s) not final, holding 18000001 fen" in err


def test_clause4_cli_allocate_without_procedures_warns_and_strict_refuses(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Without --procedures: the allocation is made, with eval.allocation-unchecked; --strict
    makes that warning an error (exit 1, nothing written). --exclude-pending without
    --procedures is refused before anything is evaluated."""
    subjects = tmp_path / "s.jsonl"
    subjects.write_text(
        "".join(json.dumps(s) + "\n" for s in SMALL_SUBJECTS if s["id"] != "E"), encoding="utf-8"
    )
    events = tmp_path / "e.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in SMALL_EVENTS), encoding="utf-8")
    deposits = write_deposits(tmp_path / "d.csv", list(SMALL_DEPOSITS.items()))
    base = [
        "allocate", PACK_DIR, "--subjects", subjects, "--events", events,
        "--as-of", AS_OF.isoformat(), "--deposits", deposits,
    ]  # fmt: skip
    code, out, err = cli(capsys, *base)
    assert code == 0 and "[eval.allocation-unchecked]" in err and out
    code, out, err = cli(capsys, *base, "--strict")
    assert code == 1 and out == ""
    assert "error:" in err and "[eval.allocation-unchecked]" in err
    code, out, err = cli(capsys, *base, "--exclude-pending")
    assert code == 1 and out == ""
    assert "needs --procedures" in err and "[eval.allocation-not-final]" in err
