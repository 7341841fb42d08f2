"""镇医保〔2024〕82号 三(一) and 三(二) through the public Python API.

One test (or parametrized group) per criterion, exclusion, roll-up band and measure group, with
the clause in its name or docstring. The readings stated in the pack's `note:`s are pinned here:
an unverified complaint alone is ★★, a price interview alone is ★★, a breach is ★ only when
recorded as non-performance, a roll-up only caps a headquarters, and so on.

Unless a test says otherwise, institutions were designated long ago (三(一)5(1) never excludes
them) and are evaluated as of 2024-12-31, so 1年之内 is 2024-01-01 .. 2024-12-31.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from zj_helpers import (
    AS_OF,
    DOC,
    MEASURES,
    MID,
    OLD,
    ONE,
    PACK_PATH,
    THREE,
    TWO,
    chain,
    codes,
    contract,
    decisive,
    ev,
    evaluate,
    grade_of,
    inst,
    load,
    measure_ids,
    result,
    step,
    trace,
)

import yibao_credit as yc
from yibao_credit.cli.main import main


@pytest.fixture(scope="module")
def pack() -> yc.Policy:
    return load()


def matched(r: yc.Result) -> list[str]:
    """The criteria the decisive grade rule reports as met."""
    grade_steps = [s for s in trace(r) if s["step"].startswith("grade.")]
    assert len(grade_steps) == 1
    out: list[str] = grade_steps[0]["inputs"].get("matched", [])
    return out


# ---------------------------------------------------------------------------------------------
# 三(一)1 ★★★: no violation, no complaint, no breach within 1 year
# ---------------------------------------------------------------------------------------------


def test_three_star_clean_record_meets_all_of_1_1_to_1_3(pack: yc.Policy) -> None:
    """三(一)1(1)-(3): nothing within the year → ★★★, all three criteria met (and, with no
    national public credit rating on file, 三(一)'s provisional fourth)."""
    r = result(evaluate(pack, [inst("X")]), "X")
    assert (r.status, r.grade, r.own_grade, r.exclusion) == ("graded", THREE, THREE, None)
    for cid, clause in [
        ("no_violation", "三(一)1(1)"),
        ("no_complaint", "三(一)1(2)"),
        ("no_breach", "三(一)1(3)"),
        ("no_poor_public_credit_rating", "三(一)"),
    ]:
        s = step(r, f"criterion.{cid}")
        assert s["outcome"] is True
        assert s["clause"] == f"{DOC} {clause}"
    [d] = decisive(r)
    assert d["step"] == f"grade.{THREE}"
    assert d["clause"] == f"{DOC} 三(一)1"
    assert d["inputs"]["matched"] == [
        "no_violation",
        "no_complaint",
        "no_breach",
        "no_poor_public_credit_rating",
    ]


@pytest.mark.parametrize(
    ("clause", "event", "blocked"),
    [
        ("三(一)1(1)", ev("e1", "X", "violation", MID), "no_violation"),
        ("三(一)1(2)", ev("e1", "X", "complaint", MID, verified=False), "no_complaint"),
        ("三(一)1(3)", ev("e1", "X", "agreement_breach", MID), "no_breach"),
    ],
    ids=["1(1)-violation", "1(2)-complaint", "1(3)-breach"],
)
def test_three_star_each_criterion_blocks_alone(
    pack: yc.Policy, clause: str, event: dict[str, Any], blocked: str
) -> None:
    """三(一)1(1)/(2)/(3): one event of the kind blocks ★★★ (the result is ★★).

    A violation is also a ★★ criterion (三(一)2(1)), which decides before ★★★ is tried; an
    unverified complaint or a plain breach reaches the ★★★ rule, fails it, and falls to ★★.
    """
    r = result(evaluate(pack, [inst("X")], [event]), "X")
    assert r.grade == TWO
    if blocked == "no_violation":
        assert matched(r) == ["one_violation"]
        assert not any(s["step"] == f"criterion.{blocked}" for s in trace(r))
    else:
        assert r.rule == -1
        s = step(r, f"criterion.{blocked}")
        assert s["outcome"] is False
        assert s["clause"] == f"{DOC} {clause}"
        fact = {"no_complaint": "fact.complaints", "no_breach": "fact.breaches"}[blocked]
        assert step(r, fact)["evidence"] == ["e1"]


# ---------------------------------------------------------------------------------------------
# 三(一)2(1)-(3) ★★ "不超过一次" and 三(一)3(1)-(3) ★ "二次及以上": exactly one vs exactly two
# ---------------------------------------------------------------------------------------------

COUNTED = [
    # kind, attributes, ★★ criterion, ★★ clause, ★ criterion, ★ clause
    ("violation", {}, "one_violation", "三(一)2(1)", "violations_2plus", "三(一)3(1)"),
    (
        "complaint",
        {"verified": True},
        "one_verified_complaint",
        "三(一)2(2)",
        "verified_complaints_2plus",
        "三(一)3(2)",
    ),
    (
        "price_interview",
        {},
        "one_price_interview",
        "三(一)2(3)",
        "price_interviews_2plus",
        "三(一)3(3)",
    ),
]
COUNTED_IDS = ["violation", "verified-complaint", "price-interview"]


@pytest.mark.parametrize(
    ("kind", "attrs", "two_id", "two_clause", "one_id", "one_clause"), COUNTED, ids=COUNTED_IDS
)
def test_exactly_one_event_is_two_stars_2_1_to_2_3(
    pack: yc.Policy,
    kind: str,
    attrs: dict[str, Any],
    two_id: str,
    two_clause: str,
    one_id: str,
    one_clause: str,
) -> None:
    """三(一)2(1)-(3): exactly one event within the year → ★★ by that criterion."""
    r = result(evaluate(pack, [inst("X")], [ev("e1", "X", kind, MID, **attrs)]), "X")
    assert r.grade == TWO
    assert matched(r) == [two_id]
    s = step(r, f"criterion.{two_id}")
    assert (s["outcome"], s["clause"], s["evidence"]) == (True, f"{DOC} {two_clause}", ["e1"])
    star = step(r, f"criterion.{one_id}")
    assert (star["outcome"], star["clause"]) == (False, f"{DOC} {one_clause}")


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize(
    ("kind", "attrs", "two_id", "two_clause", "one_id", "one_clause"), COUNTED, ids=COUNTED_IDS
)
def test_two_or_more_events_are_one_star_3_1_to_3_3(
    pack: yc.Policy,
    kind: str,
    attrs: dict[str, Any],
    two_id: str,
    two_clause: str,
    one_id: str,
    one_clause: str,
    n: int,
) -> None:
    """三(一)3(1)-(3): 二次及以上 includes two (《民法典》第1259条) → ★ by that criterion."""
    events = [ev(f"e{i}", "X", kind, f"2024-0{i}-10", **attrs) for i in range(1, n + 1)]
    r = result(evaluate(pack, [inst("X")], events), "X")
    assert r.grade == ONE
    assert matched(r) == [one_id]
    s = step(r, f"criterion.{one_id}")
    assert s["outcome"] is True
    assert s["clause"] == f"{DOC} {one_clause}"
    assert s["evidence"] == [f"e{i}" for i in range(1, n + 1)]


def test_one_of_each_two_star_kind_is_still_two_stars(pack: yc.Policy) -> None:
    """三(一)2(1)-(3) vs 三(一)3(1)-(3): counts are per criterion, never pooled across kinds."""
    events = [
        ev("v", "X", "violation", MID),
        ev("c", "X", "complaint", MID, verified=True),
        ev("p", "X", "price_interview", MID),
    ]
    r = result(evaluate(pack, [inst("X")], events), "X")
    assert r.grade == TWO
    assert matched(r) == ["one_violation", "one_verified_complaint", "one_price_interview"]


# ---------------------------------------------------------------------------------------------
# Readings pinned by the pack's notes
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3])
def test_unverified_complaints_only_block_three_stars_1_2(pack: yc.Policy, n: int) -> None:
    """三(一)1(2) "无举报投诉情况" vs 三(一)2(2)/3(2) "查实": unverified complaints → ★★ (default).

    They block ★★★ but never count toward ★, however many there are.
    """
    events = [ev(f"c{i}", "X", "complaint", MID, verified=False) for i in range(n)]
    r = result(evaluate(pack, [inst("X")], events), "X")
    assert r.grade == TWO
    assert r.rule == -1
    [d] = decisive(r)
    assert d["step"] == "grade.default"
    assert d["clause"] == f"{DOC} 三(一)2"
    assert step(r, "fact.complaints")["outcome"] == n
    assert step(r, "fact.verified_complaints")["outcome"] == 0


def test_complaint_without_verified_attribute_counts_as_unverified(pack: yc.Policy) -> None:
    """三(一)2(2)/3(2): `verified` defaults to false, so two bare complaints are ★★, not ★."""
    events = [ev("c1", "X", "complaint", MID), ev("c2", "X", "complaint", MID)]
    assert grade_of(pack, events) == TWO


def test_unverified_complaints_do_not_make_a_verified_one_two(pack: yc.Policy) -> None:
    """三(一)3(2): one verified + two unverified complaints is one 查实 complaint → ★★."""
    events = [
        ev("c1", "X", "complaint", MID, verified=True),
        ev("c2", "X", "complaint", MID, verified=False),
        ev("c3", "X", "complaint", MID, verified=False),
    ]
    r = result(evaluate(pack, [inst("X")], events), "X")
    assert r.grade == TWO
    assert matched(r) == ["one_verified_complaint"]


def test_one_price_interview_alone_is_two_stars_2_3(pack: yc.Policy) -> None:
    """三(一)2(3): a price interview is not among 三(一)1's criteria, yet one alone → ★★."""
    r = result(evaluate(pack, [inst("X")], [ev("p1", "X", "price_interview", MID)]), "X")
    assert r.grade == TWO
    [d] = decisive(r)
    assert d["step"] == f"grade.{TWO}"
    assert d["inputs"]["matched"] == ["one_price_interview"]


@pytest.mark.parametrize(
    ("attrs", "expected"),
    [({}, TWO), ({"nonperformance": False}, TWO), ({"nonperformance": True}, ONE)],
    ids=["breach-bare", "breach-nonperformance-false", "breach-nonperformance-true"],
)
def test_breach_is_one_star_only_as_nonperformance_1_3_vs_3_5(
    pack: yc.Policy, attrs: dict[str, Any], expected: str
) -> None:
    """三(一)1(3) 协议违约 blocks ★★★; only 三(一)3(5) 不履行协议 (nonperformance) makes ★."""
    r = result(evaluate(pack, [inst("X")], [ev("b1", "X", "agreement_breach", MID, **attrs)]), "X")
    assert r.grade == expected
    if expected == ONE:
        assert matched(r) == ["nonperformance"]
        s = step(r, "criterion.nonperformance")
        assert (s["clause"], s["evidence"]) == (f"{DOC} 三(一)3(5)", ["b1"])
    else:
        assert r.rule == -1  # the default ★★ of 三(一)2
        assert step(r, "criterion.no_breach")["outcome"] is False


def test_two_breaches_without_nonperformance_stay_two_stars(pack: yc.Policy) -> None:
    """三(一)3(5): breaches are not counted toward ★ by number, only by non-performance."""
    events = [ev(f"b{i}", "X", "agreement_breach", MID) for i in range(3)]
    assert grade_of(pack, events) == TWO


BREACH_DATES = ["2024-01-01", "2024-03-01", MID, "2024-09-01", "2024-12-31"]
"""Five breaches within 1年之内 as of 2024-12-31, on its first and last days among them."""


@pytest.mark.parametrize(
    ("flagged", "extra", "expected"),
    [
        (None, [], TWO),
        (0, [], ONE),
        (4, [], ONE),
        (None, [ev("b-old", "X", "agreement_breach", "2023-12-31", nonperformance=True)], TWO),
    ],
    ids=["none-flagged", "first-day-flagged", "last-day-flagged", "flag-day-before-window"],
)
def test_five_breaches_without_nonperformance_stay_two_stars_3_5(
    pack: yc.Policy, flagged: int | None, extra: list[dict[str, Any]], expected: str
) -> None:
    """三(一)3(5) 不履行协议有关规定 vs 三(一)1(3) 协议违约: five breaches without
    `nonperformance` are ★★ (the pack's note: the kind of breach decides, not their number);
    the same five with one recorded as non-performance inside the year are ★. A
    non-performance dated the day before 1年之内 does not count."""
    events = [
        ev(f"b{i}", "X", "agreement_breach", d, nonperformance=(i == flagged))
        for i, d in enumerate(BREACH_DATES)
    ]
    r = result(evaluate(pack, [inst("X")], events + extra), "X")
    assert r.grade == expected
    assert step(r, "fact.breaches")["outcome"] == 5
    nonperformance = step(r, "fact.nonperformance")
    if expected == ONE:
        assert matched(r) == ["nonperformance"]
        assert nonperformance["evidence"] == [f"b{flagged}"]
    else:
        assert r.rule == -1  # the default ★★ of 三(一)2
        assert nonperformance["outcome"] == 0
        assert step(r, "criterion.no_breach")["outcome"] is False


@pytest.mark.parametrize(
    ("kind", "criterion", "clause"),
    [("fraud", "fraud", "三(一)3(4)"), ("serious_violation", "serious_violation", "三(一)3(6)")],
)
def test_single_fraud_or_serious_violation_is_one_star(
    pack: yc.Policy, kind: str, criterion: str, clause: str
) -> None:
    """三(一)3(4) 恶意欺诈骗保 and 三(一)3(6) 其他严重违反: once is enough for ★."""
    r = result(evaluate(pack, [inst("X")], [ev("f1", "X", kind, MID)]), "X")
    assert r.grade == ONE
    assert matched(r) == [criterion]
    s = step(r, f"criterion.{criterion}")
    assert (s["clause"], s["evidence"]) == (f"{DOC} {clause}", ["f1"])


def test_one_star_wins_over_two_star_criteria_3(pack: yc.Policy) -> None:
    """三(一)3 is tried before 三(一)2: any ★ criterion wins over every ★★ criterion met."""
    events = [
        ev("v", "X", "violation", MID),
        ev("c", "X", "complaint", MID, verified=True),
        ev("p", "X", "price_interview", MID),
        ev("f", "X", "fraud", MID),
    ]
    r = result(evaluate(pack, [inst("X")], events), "X")
    assert r.grade == ONE
    assert matched(r) == ["fraud"]
    # the ★★ rule was never reached: no ★★ criterion step in the trace
    assert not any(s["step"] == "criterion.one_violation" for s in trace(r))


# ---------------------------------------------------------------------------------------------
# 三(一) "结合全国企业公共信用综合评价结果": the national public credit rating (provisional)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rating", "expected"),
    [(None, THREE), ("A", THREE), ("B", THREE), ("C", THREE), ("D", TWO)],
    ids=["no-rating", "A", "B", "C", "D"],
)
def test_national_public_credit_rating_d_keeps_three_stars_away_1(
    pack: yc.Policy, rating: str | None, expected: str
) -> None:
    """三(一) 结合全国企业公共信用综合评价结果 (provisional reading): only the lowest rating, D,
    keeps an otherwise clean institution from ★★★, and gives the default ★★; C does not; an
    institution without a rating on file is graded as before."""
    attrs = {} if rating is None else {"public_credit_rating": rating}
    r = result(evaluate(pack, [inst("X", **attrs)]), "X")
    assert r.grade == expected
    fact = step(r, "fact.poor_public_credit_rating")
    assert fact["outcome"] is (rating == "D")
    assert fact["clause"] == f"{DOC} 三(一)"
    assert "provisional" in fact
    criterion = step(r, "criterion.no_poor_public_credit_rating")
    assert criterion["outcome"] is (rating != "D")
    if expected == TWO:
        assert r.rule == -1  # the default ★★ of 三(一)2, not a ★★ criterion
        assert measure_ids(r) == MEASURES[TWO]


@pytest.mark.parametrize(
    ("events", "expected", "criterion"),
    [
        ([ev("v", "X", "violation", MID)], TWO, "one_violation"),
        ([ev("f", "X", "fraud", MID)], ONE, "fraud"),
        (
            [ev("v1", "X", "violation", MID), ev("v2", "X", "violation", MID)],
            ONE,
            "violations_2plus",
        ),
    ],
    ids=["with-one-violation", "with-fraud", "with-two-violations"],
)
def test_national_rating_d_never_makes_one_star_1(
    pack: yc.Policy, events: list[dict[str, Any]], expected: str, criterion: str
) -> None:
    """三(一) with 三(一)2-3: a D national rating adds nothing below ★★★; ★★ and ★ are decided
    by the document's own criteria (三(一)3 does not list the national rating)."""
    r = result(evaluate(pack, [inst("X", public_credit_rating="D")], events), "X")
    assert r.grade == expected
    assert matched(r) == [criterion]


def test_national_rating_outside_the_scale_is_an_input_error_1(pack: yc.Policy) -> None:
    """三(一): a rating outside the assumed scale A-D is an input error, never a silent grade."""
    with pytest.raises(yc.RecordError) as info:
        evaluate(pack, [inst("X", public_credit_rating="E")])
    [problem] = info.value.problems
    assert problem.code == "record.subject.attribute-choice"
    assert problem.location.path == "public_credit_rating"


def test_fraud_older_than_the_year_is_not_counted_3_4(pack: yc.Policy) -> None:
    """三(一)3(4)-(6) print no period; the pack reads them within 1年之内 (note on 三(一)3)."""
    events = [
        ev("f1", "X", "fraud", "2023-12-31"),
        ev("s1", "X", "serious_violation", "2023-06-01"),
    ]
    assert grade_of(pack, events) == THREE


# ---------------------------------------------------------------------------------------------
# 三(一)1(1) "1年之内": the year ending on as_of (《民法典》第1259条, 第202条)
# ---------------------------------------------------------------------------------------------

WINDOWS = [
    # as_of, first day of the window, the day before it
    ("2024-12-31", "2024-01-01", "2023-12-31"),
    ("2024-02-29", "2023-03-01", "2023-02-28"),
    ("2025-02-28", "2024-02-29", "2024-02-28"),
    # windows that do not span a 29 February: a year is not 366 days, nor always 365
    ("2024-03-01", "2023-03-02", "2023-03-01"),
    ("2025-12-31", "2025-01-01", "2024-12-31"),
]

BOUNDARY_KINDS = [
    # kind, attributes, needs a second event inside the window to reach ★
    ("violation", {}, True),
    ("complaint", {"verified": True}, True),
    ("price_interview", {}, True),
    ("fraud", {}, False),
    ("agreement_breach", {"nonperformance": True}, False),
    ("serious_violation", {}, False),
]


@pytest.mark.parametrize(("as_of", "first", "before"), WINDOWS, ids=[w[0] for w in WINDOWS])
def test_lookback_window_bounds_in_trace_1_1(
    pack: yc.Policy, as_of: str, first: str, before: str
) -> None:
    """三(一)1(1) 1年之内 as of D: from the day after D minus one year, to D, both included."""
    r = result(evaluate(pack, [inst("X")], [], as_of), "X")
    w = step(r, "window.lookback_1y")
    assert w["outcome"] == {"from": first, "to": as_of}
    assert w["clause"] == f"{DOC} 三(一)1(1)"


@pytest.mark.parametrize(
    ("kind", "attrs", "paired"), BOUNDARY_KINDS, ids=[k[0] for k in BOUNDARY_KINDS]
)
@pytest.mark.parametrize(("as_of", "first", "before"), WINDOWS, ids=[w[0] for w in WINDOWS])
def test_event_on_first_day_of_window_is_counted(
    pack: yc.Policy,
    as_of: str,
    first: str,
    before: str,
    kind: str,
    attrs: dict[str, Any],
    paired: bool,
) -> None:
    """三(一)1(1) 1年之内 includes its first day: an event dated on it counts toward ★."""
    events = [ev("edge", "X", kind, first, **attrs)]
    if paired:
        events.append(ev("inside", "X", kind, as_of, **attrs))
    assert grade_of(pack, events, as_of) == ONE


@pytest.mark.parametrize(
    ("kind", "attrs", "paired"), BOUNDARY_KINDS, ids=[k[0] for k in BOUNDARY_KINDS]
)
@pytest.mark.parametrize(("as_of", "first", "before"), WINDOWS, ids=[w[0] for w in WINDOWS])
def test_event_on_day_before_window_is_not_counted(
    pack: yc.Policy,
    as_of: str,
    first: str,
    before: str,
    kind: str,
    attrs: dict[str, Any],
    paired: bool,
) -> None:
    """三(一)1(1) 1年之内: an event dated the day before the window does not count."""
    events = [ev("edge", "X", kind, before, **attrs)]
    if paired:
        events.append(ev("inside", "X", kind, as_of, **attrs))
    assert grade_of(pack, events, as_of) == (TWO if paired else THREE)


def test_window_boundary_evidence_lists_only_counted_events(pack: yc.Policy) -> None:
    """三(一)1(1): as of 2024-12-31 a violation of 2024-01-01 counts, one of 2023-12-31 not."""
    events = [
        ev("in", "X", "violation", "2024-01-01"),
        ev("out", "X", "violation", "2023-12-31"),
    ]
    r = result(evaluate(pack, [inst("X")], events), "X")
    s = step(r, "fact.violations")
    assert (s["outcome"], s["evidence"]) == (1, ["in"])
    assert r.grade == TWO


# ---------------------------------------------------------------------------------------------
# 三(一)5 exclusions (不参与信用分级分类监管评测)
# ---------------------------------------------------------------------------------------------


def assert_excluded(r: yc.Result, reason: str, clause: str) -> None:
    """An excluded subject: no grade, no measures, and the trace stops at its exclusion."""
    assert (r.status, r.grade, r.own_grade, r.exclusion) == ("excluded", None, None, reason)
    assert measure_ids(r) == []
    steps = trace(r)
    [d] = [s for s in steps if s.get("decisive")]
    assert d["step"] == f"exclusion.{reason}"
    assert d["outcome"] is True
    assert d["clause"] == f"{DOC} {clause}"
    assert steps[-1] is d
    assert not any(s["step"].startswith(("criterion.", "grade.", "rollup.")) for s in steps)


@pytest.mark.parametrize(
    ("designated_on", "as_of", "excluded"),
    [
        ("2023-12-31", "2024-12-31", False),
        ("2023-12-31", "2024-12-30", True),
        ("2024-02-29", "2025-02-27", True),
        ("2024-02-29", "2025-02-28", False),
        ("2024-12-31", "2024-12-31", True),
    ],
)
def test_agreement_under_one_year_5_1(
    pack: yc.Policy, designated_on: str, as_of: str, excluded: bool
) -> None:
    """三(一)5(1) 签订医保服务协议不满1年: the first year ends on the same day a year later,
    or the month's last day (《民法典》第201条, 第202条)."""
    r = result(evaluate(pack, [inst("X", designated_on=designated_on)], [], as_of), "X")
    assert step(r, "fact.agreement_year_ended")["outcome"] is (not excluded)
    if excluded:
        assert_excluded(r, "agreement_under_1y", "三(一)5(1)")
    else:
        assert (r.status, r.grade) == ("graded", THREE)


@pytest.mark.parametrize(
    ("reason", "exclusion", "clause"),
    [
        ("voluntary", "voluntary_termination", "三(一)5(2)"),
        ("renewal_failed", "renewal_failed", "三(一)5(3)"),
        ("other", None, None),
    ],
)
def test_agreement_termination_5_2_and_5_3(
    pack: yc.Policy, reason: str, exclusion: str | None, clause: str | None
) -> None:
    """三(一)5(2) 主动解除 and 5(3) 未达到续签条件被解除 exclude; any other ending does not."""
    events = [ev("t1", "X", "agreement_terminated", MID, reason=reason)]
    r = result(evaluate(pack, [inst("X")], events), "X")
    if exclusion is None:
        assert (r.status, r.grade) == ("graded", THREE)
    else:
        assert clause is not None
        assert_excluded(r, exclusion, clause)
        assert step(r, f"exclusion.{exclusion}")["evidence"] == ["t1"]


def test_termination_of_the_current_agreement_years_ago_still_excludes_5_2(
    pack: yc.Policy,
) -> None:
    """三(一)5(2): a termination counts over the whole current agreement, not only 1年之内."""
    events = [ev("t1", "X", "agreement_terminated", "2019-03-01", reason="voluntary")]
    r = result(evaluate(pack, [inst("X", designated_on="2015-01-01")], events), "X")
    assert_excluded(r, "voluntary_termination", "三(一)5(2)")


@pytest.mark.parametrize("reason", ["voluntary", "renewal_failed"])
def test_termination_before_designated_on_does_not_exclude_5_2_5_3(
    pack: yc.Policy, reason: str
) -> None:
    """三(一)5(2)/(3): an agreement ended before the current one (designated_on) is history."""
    subject = inst("X", designated_on="2022-03-01")
    events = [ev("t1", "X", "agreement_terminated", "2022-02-28", reason=reason)]
    r = result(evaluate(pack, [subject], events), "X")
    assert (r.status, r.grade) == ("graded", THREE)


@pytest.mark.parametrize(
    ("date", "excluded"), [("2024-01-01", True), (MID, True), ("2023-12-31", False)]
)
def test_licence_suspension_within_the_year_5_4(pack: yc.Policy, date: str, excluded: bool) -> None:
    """三(一)5(4) 暂停执业许可: a suspension within 1年之内 excludes; an older one does not."""
    r = result(evaluate(pack, [inst("X")], [ev("s1", "X", "license_suspended", date)]), "X")
    if excluded:
        assert_excluded(r, "licence", "三(一)5(4)")
        assert step(r, "exclusion.licence")["evidence"] == ["s1"]
    else:
        assert (r.status, r.grade) == ("graded", THREE)


@pytest.mark.parametrize(
    ("designated_on", "date", "excluded"),
    [
        ("2015-01-01", "2019-05-05", True),
        ("2015-01-01", MID, True),
        ("2020-01-01", "2019-05-05", False),
    ],
    ids=["during-agreement-long-ago", "during-agreement-this-year", "before-agreement"],
)
def test_licence_revocation_during_the_agreement_5_4(
    pack: yc.Policy, designated_on: str, date: str, excluded: bool
) -> None:
    """三(一)5(4) 吊销执业许可: a revocation during the current agreement excludes."""
    subject = inst("X", designated_on=designated_on)
    r = result(evaluate(pack, [subject], [ev("r1", "X", "license_revoked", date)]), "X")
    if excluded:
        assert_excluded(r, "licence", "三(一)5(4)")
    else:
        assert (r.status, r.grade) == ("graded", THREE)


def test_statutory_exclusion_5_5(pack: yc.Policy) -> None:
    """三(一)5(5) 法律法规规定的其他情形: a pack-declared `statutory_exclusion` event excludes."""
    events = [ev("x1", "X", "statutory_exclusion", MID, basis="《某条例》第十条")]
    r = result(evaluate(pack, [inst("X")], events), "X")
    assert_excluded(r, "statutory", "三(一)5(5)")
    assert step(r, "exclusion.statutory")["evidence"] == ["x1"]


def test_statutory_exclusion_needs_a_basis_5_5(pack: yc.Policy) -> None:
    """三(一)5(5): the event must cite its law or regulation (`basis`), or the record fails."""
    events = [ev("x1", "X", "statutory_exclusion", MID)]
    with pytest.raises(yc.RecordError) as info:
        evaluate(pack, [inst("X")], events)
    [problem] = info.value.problems
    assert problem.code == "record.event.missing-attribute"
    assert problem.location.path == "basis"
    assert problem.location.line == 1


def test_statutory_exclusion_older_than_the_year_does_not_exclude_5_5(pack: yc.Policy) -> None:
    """三(一)5(5): the pack reads the statutory case within 1年之内 (fact statutory_exclusions)."""
    events = [ev("x1", "X", "statutory_exclusion", "2023-12-31", basis="《某条例》第十条")]
    assert grade_of(pack, events) == THREE


@pytest.mark.parametrize(
    ("designated_on", "events", "reason", "clause"),
    [
        (
            "2024-06-01",
            [ev("t", "X", "agreement_terminated", "2024-09-01", reason="voluntary")],
            "agreement_under_1y",
            "三(一)5(1)",
        ),
        (
            OLD,
            [
                ev("s", "X", "license_suspended", MID),
                ev("t", "X", "agreement_terminated", MID, reason="voluntary"),
            ],
            "voluntary_termination",
            "三(一)5(2)",
        ),
        (
            OLD,
            [
                ev("x", "X", "statutory_exclusion", MID, basis="《某条例》第十条"),
                ev("t", "X", "agreement_terminated", MID, reason="renewal_failed"),
            ],
            "renewal_failed",
            "三(一)5(3)",
        ),
        (
            OLD,
            [
                ev("x", "X", "statutory_exclusion", MID, basis="《某条例》第十条"),
                ev("r", "X", "license_revoked", MID),
            ],
            "licence",
            "三(一)5(4)",
        ),
    ],
    ids=["5(1)-before-5(2)", "5(2)-before-5(4)", "5(3)-before-5(5)", "5(4)-before-5(5)"],
)
def test_first_exclusion_in_pack_order_is_the_reason_5(
    pack: yc.Policy, designated_on: str, events: list[dict[str, Any]], reason: str, clause: str
) -> None:
    """三(一)5(1)-(5): when several hold, the first in the pack's (the document's) order wins."""
    r = result(evaluate(pack, [inst("X", designated_on=designated_on)], events), "X")
    assert_excluded(r, reason, clause)


def test_exclusion_wins_over_one_star_record_5(pack: yc.Policy) -> None:
    """三(一)5: an excluded institution is not graded at all, even with a ★ record."""
    events = [ev("f", "X", "fraud", MID), ev("s", "X", "license_suspended", MID)]
    r = result(evaluate(pack, [inst("X")], events), "X")
    assert_excluded(r, "licence", "三(一)5(4)")
    assert json.loads(yc.render(evaluate(pack, [inst("X")], events)))["grade"] is None


# ---------------------------------------------------------------------------------------------
# 三(一)4 chain roll-up: stores at ★ cap the headquarters
# ---------------------------------------------------------------------------------------------


def chain_run(
    pack: yc.Policy,
    stores_at_one_star: int,
    stores: int = 6,
    hq_events: list[dict[str, Any]] | None = None,
    extra: list[dict[str, Any]] | None = None,
    hq_designated_on: str = OLD,
) -> yc.Run:
    """Chain H with ``stores`` stores, the first ``stores_at_one_star`` of them ★ by fraud."""
    subjects = chain("H", stores)
    subjects[0]["designated_on"] = hq_designated_on
    events = [ev(f"f{i}", f"H-S{i}", "fraud", MID) for i in range(1, stores_at_one_star + 1)]
    return evaluate(pack, subjects, events + (hq_events or []) + (extra or []))


def rollup_step(r: yc.Result) -> dict[str, Any]:
    [s] = [s for s in trace(r) if s["step"].startswith("rollup.chain_stores_at_one_star")]
    return s


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, THREE), (1, TWO), (2, TWO), (3, TWO), (4, ONE), (5, ONE), (6, ONE)],
)
def test_chain_rollup_bands_4(pack: yc.Policy, n: int, expected: str) -> None:
    """三(一)4: one store at ★ → not ★★★; three → ★★; 四家以上 (four included) → ★."""
    run = chain_run(pack, n)
    hq = result(run, "H")
    assert (hq.own_grade, hq.grade) == (THREE, expected)
    s = rollup_step(hq)
    counted = [f"H-S{i}" for i in range(1, n + 1)]
    assert s["evidence"] == counted
    assert s["inputs"]["counted"] == n
    assert s["clause"] == f"{DOC} 三(一)4"
    assert s["outcome"] == expected
    assert s.get("decisive", False) is (n > 0)
    [d] = decisive(hq)
    assert d["step"] == (s["step"] if n > 0 else f"grade.{THREE}")
    # the stores themselves are graded by their own records only
    for i in range(1, 7):
        store = result(run, f"H-S{i}")
        assert store.grade == (ONE if i <= n else THREE)
        assert store.grade == store.own_grade


def test_chain_hq_one_star_on_own_record_stays_one_star_with_three_stores_4(
    pack: yc.Policy,
) -> None:
    """三(一)4 read as a ceiling: a ★ headquarters with three stores at ★ is never improved."""
    run = chain_run(pack, 3, hq_events=[ev("hf", "H", "fraud", MID)])
    hq = result(run, "H")
    assert (hq.own_grade, hq.grade) == (ONE, ONE)
    s = rollup_step(hq)
    assert s["evidence"] == ["H-S1", "H-S2", "H-S3"]
    assert s["outcome"] == ONE
    assert "decisive" not in s
    [d] = decisive(hq)
    assert d["step"] == f"grade.{ONE}"
    assert [o.applied for o in hq.rollups] == [False]


def test_chain_hq_two_stars_with_one_store_at_one_star_stays_two_stars_4(
    pack: yc.Policy,
) -> None:
    """三(一)4: one store at ★ only rules out ★★★; a ★★ headquarters stays ★★."""
    run = chain_run(pack, 1, hq_events=[ev("hv", "H", "violation", MID)])
    hq = result(run, "H")
    assert (hq.own_grade, hq.grade) == (TWO, TWO)
    assert "decisive" not in rollup_step(hq)
    [d] = decisive(hq)
    assert d["step"] == f"grade.{TWO}"


def test_chain_hq_two_stars_with_four_stores_at_one_star_becomes_one_star_4(
    pack: yc.Policy,
) -> None:
    """三(一)4 四家以上…直接评定为★级: a ★★ headquarters with four stores at ★ becomes ★."""
    run = chain_run(pack, 4, hq_events=[ev("hv", "H", "violation", MID)])
    hq = result(run, "H")
    assert (hq.own_grade, hq.grade) == (TWO, ONE)
    assert rollup_step(hq)["decisive"] is True


def test_chain_excluded_stores_do_not_count_4(pack: yc.Policy) -> None:
    """三(一)4 with 三(一)5: an excluded store is not graded, so it is not "被评为★级"."""
    # four stores have fraud (★), but S4 is also suspended (5(4)) → only three count
    run = chain_run(pack, 4, extra=[ev("s4", "H-S4", "license_suspended", MID)])
    assert result(run, "H-S4").status == "excluded"
    hq = result(run, "H")
    assert hq.grade == TWO
    assert rollup_step(hq)["evidence"] == ["H-S1", "H-S2", "H-S3"]


def test_chain_store_designated_recently_does_not_count_4(pack: yc.Policy) -> None:
    """三(一)4 with 三(一)5(1): a store under its first agreement year is not counted."""
    subjects = chain("H", 4)
    subjects[4]["designated_on"] = "2024-06-01"
    events = [ev(f"f{i}", f"H-S{i}", "fraud", MID) for i in range(1, 5)]
    run = evaluate(pack, subjects, events)
    assert result(run, "H-S4").exclusion == "agreement_under_1y"
    assert result(run, "H").grade == TWO


def test_chain_stores_at_two_stars_do_not_count_4(pack: yc.Policy) -> None:
    """三(一)4 counts stores 被评为★级 only: three ★ and one ★★ store cap at ★★, not ★."""
    run = chain_run(pack, 3, extra=[ev("v4", "H-S4", "violation", MID)])
    assert result(run, "H-S4").grade == TWO
    hq = result(run, "H")
    assert hq.grade == TWO
    assert rollup_step(hq)["evidence"] == ["H-S1", "H-S2", "H-S3"]


def test_chain_excluded_hq_gets_no_rollup_4(pack: yc.Policy) -> None:
    """三(一)4 with 三(一)5: an excluded headquarters stays excluded whatever its stores are."""
    run = chain_run(pack, 5, hq_designated_on="2024-06-01")
    hq = result(run, "H")
    assert_excluded(hq, "agreement_under_1y", "三(一)5(1)")
    assert not any(o.applied for o in hq.rollups)


def test_chain_stores_of_another_chain_do_not_count_4(pack: yc.Policy) -> None:
    """三(一)4 "其下属零售药店": only the chain's own stores (chain_id) count."""
    subjects = chain("A", 4) + chain("B", 4)
    events = [ev(f"f{i}", f"A-S{i}", "fraud", MID) for i in range(1, 5)]
    events.append(ev("b1", "B-S1", "fraud", MID))
    run = evaluate(pack, subjects, events)
    assert result(run, "A").grade == ONE
    assert result(run, "B").grade == TWO
    assert rollup_step(result(run, "B"))["evidence"] == ["B-S1"]


def test_chain_counts_retail_pharmacies_only_4(pack: yc.Policy) -> None:
    """三(一)4 "其下属零售药店": a clinic naming the chain in chain_id is not one of its stores."""
    subjects = [*chain("H", 3), inst("H-C1", "clinic", chain_id="H")]
    events = [ev(f"f{i}", f"H-S{i}", "fraud", MID) for i in range(1, 4)]
    events.append(ev("fc", "H-C1", "fraud", MID))
    run = evaluate(pack, subjects, events)
    assert result(run, "H-C1").grade == ONE
    hq = result(run, "H")
    assert hq.grade == TWO
    assert rollup_step(hq)["evidence"] == ["H-S1", "H-S2", "H-S3"]


def test_standalone_pharmacy_is_not_rolled_up_4(pack: yc.Policy) -> None:
    """三(一)4 applies to chains only: a pharmacy without chain_id is graded on its own."""
    run = evaluate(pack, [inst("P", "pharmacy")], [ev("f", "P", "fraud", MID)])
    p = result(run, "P")
    assert (p.grade, p.rollups) == (ONE, ())
    assert not any(s["step"].startswith("rollup.") for s in trace(p))


# ---------------------------------------------------------------------------------------------
# 三(二)1-3 measures per grade
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "grade", "group"),
    [
        ([], THREE, "三(二)1"),
        ([ev("v", "X", "violation", MID)], TWO, "三(二)2"),
        ([ev("f", "X", "fraud", MID)], ONE, "三(二)3"),
    ],
    ids=["1-three-stars", "2-two-stars", "3-one-star"],
)
def test_measures_per_grade_2_1_to_2_3(
    pack: yc.Policy, events: list[dict[str, Any]], grade: str, group: str
) -> None:
    """三(二)1-3: each grade carries exactly its own group of measures, each citing its item."""
    r = result(evaluate(pack, [inst("X")], events), "X")
    assert r.grade == grade
    measures = contract(r)["measures"]
    assert [m["id"] for m in measures] == MEASURES[grade]
    for m in measures:
        assert m["clause"].startswith(f"{DOC} {group}(")


def test_measures_three_star_publication_and_fewer_inspections_2_1(pack: yc.Policy) -> None:
    """三(二)1(1) 公开良好记录 and 1(3) 降低日常监督检查频次 carry their parameters."""
    r = result(evaluate(pack, [inst("X")]), "X")
    by_id = {m["id"]: m for m in contract(r)["measures"]}
    assert by_id["publish_good_record"]["params"] == {"publication": "good_record"}
    assert by_id["publish_good_record"]["clause"] == f"{DOC} 三(二)1(1)"
    assert by_id["fewer_inspections"]["params"] == {"inspection_frequency": "reduced"}


def test_measures_one_star_key_monitoring_2_3(pack: yc.Policy) -> None:
    """三(二)3(1)-(2): legal-representative interview and key monitoring for ★."""
    r = result(evaluate(pack, [inst("X")], [ev("f", "X", "fraud", MID)]), "X")
    by_id = {m["id"]: m for m in contract(r)["measures"]}
    assert by_id["legal_representative_interview"]["params"] == {
        "interview": "legal_representative"
    }
    assert by_id["key_monitoring"]["params"] == {
        "inspection_frequency": "increased",
        "monitoring": "key",
    }
    assert by_id["key_monitoring"]["clause"] == f"{DOC} 三(二)3(2)"


def test_key_monitoring_only_while_the_agreement_is_not_ended_2_3_2(pack: yc.Policy) -> None:
    """三(二)3(2) "未被解除协议的, 将其列为…重点监控": a ★ institution whose agreement ended for
    a reason that does not exclude it (reason `other`, not 三(一)5(2)/(3)) is graded ★ but is
    not put under key monitoring; the other ★ measures still apply."""
    events = [
        ev("f", "X", "fraud", MID),
        ev("t", "X", "agreement_terminated", "2024-09-01", reason="other"),
    ]
    r = result(evaluate(pack, [inst("X")], events), "X")
    assert r.grade == ONE
    assert measure_ids(r) == [m for m in MEASURES[ONE] if m != "key_monitoring"]


def test_key_monitoring_while_the_agreement_runs_2_3_2(pack: yc.Policy) -> None:
    """三(二)3(2): a ★ institution whose agreement has not ended is under key monitoring, also
    when an earlier agreement (before designated_on) ended for another reason."""
    subject = inst("X", designated_on="2020-01-01")
    events = [
        ev("f", "X", "fraud", MID),
        ev("t", "X", "agreement_terminated", "2019-12-31", reason="other"),
    ]
    r = result(evaluate(pack, [subject], events), "X")
    assert r.grade == ONE
    assert "key_monitoring" in measure_ids(r)


def test_measures_follow_the_rolled_up_grade_2_and_4(pack: yc.Policy) -> None:
    """三(二) with 三(一)4: a headquarters capped to ★★ by its stores gets ★★'s measures."""
    hq = result(chain_run(pack, 3), "H")
    assert hq.grade == TWO
    assert measure_ids(hq) == MEASURES[TWO]


def test_no_measures_for_excluded_2(pack: yc.Policy) -> None:
    """三(二) applies to graded institutions; an excluded one (三(一)5) has none."""
    events = [
        ev("f", "X", "fraud", MID),
        ev("t", "X", "agreement_terminated", MID, reason="voluntary"),
    ]
    r = result(evaluate(pack, [inst("X")], events), "X")
    assert r.status == "excluded"
    assert measure_ids(r) == []


# ---------------------------------------------------------------------------------------------
# The trace: clause on every step, evidence, decisive step, readable text
# ---------------------------------------------------------------------------------------------


def assorted_run(pack: yc.Policy) -> yc.Run:
    """A clean, a ★★, a ★, an excluded institution and a chain whose roll-up decides."""
    subjects = [
        inst("A"),
        inst("B", "clinic"),
        inst("C", "pharmacy"),
        inst("D", designated_on="2024-05-01"),
        *chain("H", 4),
    ]
    events = [
        ev("b1", "B", "complaint", MID, verified=False),
        ev("c1", "C", "violation", "2024-03-01"),
        ev("c2", "C", "violation", "2024-02-01"),
        *[ev(f"hf{i}", f"H-S{i}", "serious_violation", MID) for i in range(1, 5)],
    ]
    return evaluate(pack, subjects, events)


def test_every_trace_step_cites_a_clause_of_the_document(pack: yc.Policy) -> None:
    """Design principle 3: every step of every result cites a clause of 镇医保〔2024〕82号."""
    run = assorted_run(pack)
    assert {r.grade for r in run} == {THREE, TWO, ONE, None}
    for r in run:
        for lang in ("zh", "en"):
            for s in trace(r, lang):
                assert s["clause"], f"{r.subject_id}: {s['step']} has no clause"
                assert s["clause"].startswith((f"{DOC} 三(一)", f"{DOC} 三(二)")), s


def test_exactly_one_decisive_step_per_result(pack: yc.Policy) -> None:
    """Every result has exactly one decisive step: an exclusion, a grade rule or a roll-up."""
    for r in assorted_run(pack):
        [d] = decisive(r)
        assert d["step"].split(".")[0] in ("exclusion", "grade", "rollup")


def test_decisive_one_star_grade_names_criteria_with_evidence_3_1(pack: yc.Policy) -> None:
    """三(一)3(1): the decisive ★ rule names the criterion met, and that criterion's step lists
    the evidence event ids."""
    r = result(assorted_run(pack), "C")
    [d] = decisive(r)
    assert d["step"] == f"grade.{ONE}"
    assert d["inputs"]["matched"] == ["violations_2plus"]
    assert step(r, "criterion.violations_2plus")["evidence"] == ["c2", "c1"]


def test_decisive_one_star_step_lists_the_criterion_evidence_3_1(pack: yc.Policy) -> None:
    """三(一)3(1): the decisive step of a ★ grade itself lists the events that made it ★."""
    r = result(assorted_run(pack), "C")
    [d] = decisive(r)
    assert d["evidence"] == ["c2", "c1"]


def test_fact_evidence_is_in_date_order_1_1(pack: yc.Policy) -> None:
    """三(一)1(1): fact.violations lists its events by date (then id), whatever the input order."""
    events = [
        ev("a-latest", "X", "violation", "2024-11-30"),
        ev("z-earliest", "X", "violation", "2024-01-05"),
        ev("m-same-day-2", "X", "violation", "2024-06-01"),
        ev("b-same-day-1", "X", "violation", "2024-06-01"),
    ]
    r = result(evaluate(pack, [inst("X")], events), "X")
    s = step(r, "fact.violations")
    assert s["outcome"] == 4
    assert s["clause"] == f"{DOC} 三(一)1(1)"
    assert s["evidence"] == ["z-earliest", "b-same-day-1", "m-same-day-2", "a-latest"]


@pytest.mark.parametrize(("lang", "grade_word"), [("zh", "失信"), ("en", "untrustworthy")])
def test_render_text_names_grade_clause_and_evidence_3_4(
    pack: yc.Policy, lang: str, grade_word: str
) -> None:
    """render_text (zh, en): the ★ grade, the clause of 三(一)3(4) and the evidence ids."""
    events = [ev("fraud-2024-07", "X", "fraud", "2024-07-01")]
    r = result(evaluate(pack, [inst("X")], events), "X")
    text = yc.render_text(r, lang)
    first = text.splitlines()[0]
    assert first.startswith("X — ★ ")
    assert grade_word in first
    assert f"{DOC} 三(一)3(4)" in text
    assert "fraud-2024-07" in text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_render_text_of_rollup_names_counted_stores_4(pack: yc.Policy, lang: str) -> None:
    """render_text (zh, en) of a capped headquarters shows 三(一)4 and the stores counted."""
    hq = result(chain_run(pack, 4), "H")
    text = yc.render_text(hq, lang)
    assert text.splitlines()[0].startswith("H — ★ ")
    assert f"{DOC} 三(一)4" in text
    assert "H-S1, H-S2, H-S3, H-S4" in text


@pytest.mark.parametrize(("lang", "word"), [("zh", "不参与评测"), ("en", "excluded")])
def test_render_text_of_excluded_names_reason_5_4(pack: yc.Policy, lang: str, word: str) -> None:
    """render_text (zh, en) of an excluded institution names the exclusion and 三(一)5(4)."""
    r = result(evaluate(pack, [inst("X")], [ev("s1", "X", "license_suspended", MID)]), "X")
    text = yc.render_text(r, lang)
    assert text.splitlines()[0] == f"X — {word}: licence"
    assert f"{DOC} 三(一)5(4)" in text
    assert "s1" in text


# ---------------------------------------------------------------------------------------------
# Provenance: every value no document prints is provisional (design principle 2)
# ---------------------------------------------------------------------------------------------


def test_effective_from_is_listed_as_provisional(
    pack: yc.Policy, capsys: pytest.CaptureFixture[str]
) -> None:
    """镇医保〔2024〕82号 prints no signing or effective date, so the pack's effective.from
    (2024-01-01) is provisional, and ``validate --provisional`` lists it with the rules'
    provisional values."""
    listed = {p.path: p.note for p in pack.provisional()}
    assert "effective.from" in listed["pack"]
    assert "2024-01-01" in listed["pack"]
    assert main(["validate", str(PACK_PATH), "--provisional"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"{len(listed)} provisional value(s)" in out[0]
    assert len(out) == 1 + len(listed)
    [line] = [x for x in out[1:] if x.split(": ")[1] == "pack"]
    assert "effective.from" in line


def test_provisional_values_are_those_no_document_prints(pack: yc.Policy) -> None:
    """Principle 2: the pack's provisional values are its start date, the national rating of
    三(一) and the evaluation cycle of 三(二)1(4); every other rule cites its clause."""
    assert [p.path for p in pack.provisional()] == [
        "pack",
        "rulesets.institution.facts.poor_public_credit_rating",
        "rulesets.institution.grading.rules[2].all[3]",
        "rulesets.institution.history.facts.excellent_before",
        "rulesets.institution.history.facts.previous_grade",
    ]


# ---------------------------------------------------------------------------------------------
# Warnings: nothing is dropped silently
# ---------------------------------------------------------------------------------------------


def test_events_after_as_of_are_not_counted_and_reported_1_1(pack: yc.Policy) -> None:
    """三(一)1(1) 1年之内 ends on as_of: an event of the next day is not counted, and said so."""
    events = [
        ev("on-as-of", "X", "violation", AS_OF),
        ev("next-day", "X", "violation", AS_OF + dt.timedelta(days=1)),
        ev("later", "X", "fraud", "2025-03-01"),
    ]
    run = evaluate(pack, [inst("X")], events)
    r = result(run, "X")
    assert r.grade == TWO
    assert step(r, "fact.violations")["evidence"] == ["on-as-of"]
    assert step(r, "fact.frauds")["outcome"] == 0
    [w] = [w for w in run.warnings if w.code == "eval.after-as-of"]
    assert "2 event(s)" in w.message
    assert "next-day" in w.message
    assert w.location.line == 2


def test_no_after_as_of_warning_without_late_events(pack: yc.Policy) -> None:
    """The eval.after-as-of warning appears only when some event is dated after as_of."""
    run = evaluate(pack, [inst("X")], [ev("on-as-of", "X", "violation", AS_OF)])
    assert "eval.after-as-of" not in codes(run)


def test_practitioner_is_out_of_scope_and_reported(pack: yc.Policy) -> None:
    """镇医保〔2024〕82号 grades 定点医药机构 only: a practitioner gets no result and a warning."""
    subjects = [inst("X"), {"id": "DR1", "type": "practitioner", "category": "physician"}]
    events = [ev("p1", "DR1", "violation", MID)]
    run = evaluate(pack, subjects, events)
    assert run.get("DR1") is None
    assert [r.subject_id for r in run] == ["X"]
    [w] = [w for w in run.warnings if w.code == "eval.out-of-scope"]
    assert "DR1" in w.message
    assert w.location.line == 2
    lines = yc.render(run, "jsonl").splitlines()
    assert [json.loads(line)["subject_id"] for line in lines] == ["X"]


def test_missing_designated_on_is_an_error_not_a_silent_grade(pack: yc.Policy) -> None:
    """三(一)5(1) needs the agreement date: an institution without designated_on is an error."""
    subject = {"id": "X", "type": "institution", "category": "hospital"}
    with pytest.raises(yc.RecordError) as info:
        evaluate(pack, [subject])
    [problem] = info.value.problems
    assert problem.code == "record.subject.required"
    assert problem.location.path == "designated_on"
