"""The benchmark tools: the synthetic province generator and the hand-written baseline.

The baseline (``benchmarks/handwritten_zhenjiang.py``) is what the engine's speed is measured
against, so it must grade by the same rules (镇医保〔2024〕82号 三(一), with the project's
readings); the cases below pin those rules on hand-made records. No timing is asserted here.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import example, given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, ROOT / "src"):  # a checkout without the package installed
    if str(_path) not in sys.path:
        sys.path.append(str(_path))

from benchmarks.generate import generate  # noqa: E402
from benchmarks.handwritten_zhenjiang import (  # noqa: E402
    STAR1,
    STAR2,
    STAR3,
    grade_all,
    group_events,
    under_one_year_cutoff,
)
from yibao_credit.records.contract import Event, Records, Subject  # noqa: E402
from yibao_credit.records.readers import load_records  # noqa: E402

AS_OF = date(2024, 12, 31)
ADVERSE = {
    "violation",
    "complaint",
    "price_interview",
    "fraud",
    "agreement_breach",
    "serious_violation",
    "agreement_terminated",
    "license_suspended",
    "license_revoked",
}


# --- the generator ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_generate_is_deterministic(tmp_path: Path, fmt: str) -> None:
    a = generate(300, tmp_path / "a", seed=7, fmt=fmt)
    b = generate(300, tmp_path / "b", seed=7, fmt=fmt)
    c = generate(300, tmp_path / "c", seed=8, fmt=fmt)
    assert [p.name for p in a] == [f"subjects.{fmt}", f"events.{fmt}"]
    for pa, pb in zip(a, b, strict=True):
        assert pa.read_bytes() == pb.read_bytes()
    assert a[1].read_bytes() != c[1].read_bytes()


def test_jsonl_and_csv_carry_the_same_records(tmp_path: Path) -> None:
    j = load_records(*generate(500, tmp_path / "j", seed=3, fmt="jsonl"))
    c = load_records(*generate(500, tmp_path / "c", seed=3, fmt="csv"))
    assert len(j.subjects) == 500
    assert [s.model_dump() for s in j.subjects] == [s.model_dump() for s in c.subjects]
    assert [e.model_dump() for e in j.events] == [e.model_dump() for e in c.events]


def test_jsonl_is_compact_utf8(tmp_path: Path) -> None:
    subjects, _ = generate(50, tmp_path, seed=1)
    first = subjects.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith('{"id":"S0000001","type":"institution",')
    assert ": " not in first and "\\u" not in first


def test_tiny_provinces(tmp_path: Path) -> None:
    for n in (0, 1, 7, 30):
        records = load_records(*generate(n, tmp_path / str(n), seed=n))
        assert len(records.subjects) == n


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Records:
    return load_records(*generate(2000, tmp_path_factory.mktemp("province"), seed=11))


def test_province_shape(province: Records) -> None:
    subjects, n = province.subjects, 2000
    by_id = {s.id: s for s in subjects}
    categories = Counter(s.category for s in subjects)
    assert {s.type for s in subjects} == {"institution"}
    assert abs(categories["pharmacy"] / n - 0.60) < 0.02
    assert (
        categories["pharmacy"]
        + categories["pharmacy_chain"]
        + categories["hospital"]
        + (categories["clinic"])
        == n
    )
    assert categories["hospital"] > 0 and categories["clinic"] > categories["hospital"]

    # a third of the pharmacies are chain stores, in chains of 5-200 with a headquarters
    stores = [s for s in subjects if s.chain_id is not None]
    assert all(s.category == "pharmacy" for s in stores)
    assert abs(len(stores) / categories["pharmacy"] - 1 / 3) < 0.02
    sizes = Counter(s.chain_id for s in subjects if s.chain_id is not None)
    assert all(by_id[hq].category == "pharmacy_chain" for hq in sizes)
    assert len(sizes) == categories["pharmacy_chain"]
    assert all(5 <= size <= 200 for size in sizes.values())
    assert all("大药房第" in s.name for s in stores if s.name)

    hospitals = [s for s in subjects if s.category == "hospital"]
    assert {s.level for s in hospitals} <= {"三级", "二级", "一级", "未定级"}
    assert all(s.beds is not None for s in hospitals)
    assert sum(bool(s.inpatient) for s in hospitals) / len(hospitals) > 0.75
    assert all(s.inpatient is False for s in subjects if s.category == "clinic")
    assert {s.region for s in subjects} <= {
        "321102",
        "321111",
        "321112",
        "321181",
        "321182",
        "321183",
    }

    # ids: zero-padded, so lexical order is numeric order
    assert [s.id for s in subjects] == [f"S{i:07d}" for i in range(1, n + 1)]

    # about 5% designated less than a year before as_of
    recent = sum(
        s.designated_on is not None and s.designated_on + relativedelta(years=1) > AS_OF
        for s in subjects
    )
    assert 0.025 < recent / n < 0.08


def test_province_events(province: Records) -> None:
    events, n = province.events, 2000
    by_id = {s.id: s for s in province.subjects}
    assert 4.0 < len(events) / n < 6.0
    assert [e.id for e in events] == [f"E{i:07d}" for i in range(1, len(events) + 1)]
    lo3 = AS_OF - relativedelta(years=3) + timedelta(days=1)
    seen: dict[str, Event] = {}
    for e in events:
        designated = by_id[e.subject_id].designated_on
        assert designated is not None
        assert max(lo3, designated) <= e.date <= AS_OF
        if e.kind == "repair":
            target = seen[e.repairs]  # type: ignore[index]
            assert target.subject_id == e.subject_id and target.kind in ADVERSE
            assert target.date < e.date
        seen[e.id] = e
    kinds = Counter(e.kind for e in events)
    assert kinds.most_common(1)[0][0] == "violation"
    for rare in ("fraud", "serious_violation", "agreement_terminated", "license_suspended"):
        assert 0 < kinds[rare] < kinds["complaint"] / 5
    assert {"commitment", "reward", "repair", "price_interview", "agreement_breach"} <= set(kinds)
    assert all(
        by_id[e.subject_id].category != "hospital" for e in events if e.kind == "price_interview"
    )
    complaints = [e for e in events if e.kind == "complaint"]
    assert 0.3 < sum(bool(e.verified) for e in complaints) / len(complaints) < 0.5
    breaches = [e for e in events if e.kind == "agreement_breach"]
    assert 0.1 < sum(bool(e.nonperformance) for e in breaches) / len(breaches) < 0.3


def naive_grades(records: Records, as_of: date) -> dict[str, tuple[str, str | None, str | None]]:
    """The rules read literally, one list comprehension a clause: slow, obviously right."""
    lo = as_of - relativedelta(years=1) + timedelta(days=1)
    out: dict[str, tuple[str, str | None, str | None]] = {}
    by_subject: dict[str, list[Event]] = {}
    for e in records.events:
        by_subject.setdefault(e.subject_id, []).append(e)
    for s in records.subjects:
        d_on = s.designated_on
        assert d_on is not None
        mine = [e for e in by_subject.get(s.id, []) if e.date <= as_of]
        year = [e for e in mine if lo <= e.date]
        agreement = [e for e in mine if d_on <= e.date]

        def n(events: list[Event], kind: str, **kw: Any) -> int:
            return sum(
                e.kind == kind and all(e.attr(k) == v for k, v in kw.items()) for e in events
            )

        if d_on + relativedelta(years=1) > as_of:
            out[s.id] = ("excluded", None, "agreement_under_1y")
        elif n(agreement, "agreement_terminated", reason="voluntary"):
            out[s.id] = ("excluded", None, "voluntary_termination")
        elif n(agreement, "agreement_terminated", reason="renewal_failed"):
            out[s.id] = ("excluded", None, "renewal_failed")
        elif n(year, "license_suspended") or n(agreement, "license_revoked"):
            out[s.id] = ("excluded", None, "licence")
        elif n(year, "statutory_exclusion"):
            out[s.id] = ("excluded", None, "statutory")
        else:
            v, vc, p = (
                n(year, "violation"),
                n(year, "complaint", verified=True),
                n(year, "price_interview"),
            )
            if (
                v >= 2
                or vc >= 2
                or p >= 2
                or n(year, "fraud")
                or n(year, "agreement_breach", nonperformance=True)
                or n(year, "serious_violation")
            ):
                out[s.id] = ("graded", STAR1, None)
            elif v == 1 or vc == 1 or p == 1:
                out[s.id] = ("graded", STAR2, None)
            elif v == 0 and n(year, "complaint") == 0 and n(year, "agreement_breach") == 0:
                out[s.id] = ("graded", STAR3, None)
            else:
                out[s.id] = ("graded", STAR2, None)
    for hq in {s.chain_id for s in records.subjects if s.chain_id is not None}:
        stars = sum(
            s.chain_id == hq and s.category == "pharmacy" and out[s.id] == ("graded", STAR1, None)
            for s in records.subjects
        )
        if out[hq][0] == "graded" and 1 <= stars <= 3 and out[hq][1] == STAR3:
            out[hq] = ("graded", STAR2, None)
        elif out[hq][0] == "graded" and stars >= 4:
            out[hq] = ("graded", STAR1, None)
    return out


def test_province_grades(province: Records) -> None:
    results = grade_all(province.subjects, group_events(province.events, AS_OF), AS_OF)
    assert results == naive_grades(province, AS_OF)
    graded = [grade for status, grade, _ in results.values() if status == "graded"]
    assert 0.5 <= graded.count(STAR3) / len(graded) <= 0.7  # clean in the last year
    assert graded.count(STAR1) > 0 and graded.count(STAR2) > 0
    # chains with 1, 3 and 4+ stores at ★ (三(一)4 in all its cases)
    star_stores = Counter(
        s.chain_id
        for s in province.subjects
        if s.chain_id is not None and results[s.id][1] == STAR1
    )
    counts = set(star_stores.values())
    assert {1, 3} <= counts and max(counts) >= 4


# --- the hand-written baseline ------------------------------------------------------------------


def subject(sid: str, designated_on: date = date(2015, 1, 1), **kw: Any) -> Subject:
    return Subject(id=sid, type="institution", designated_on=designated_on, **kw)


_next_event = iter(range(1, 10**6))


def event(sid: str, kind: str, on: date, **kw: Any) -> Event:
    return Event(id=f"E{next(_next_event):07d}", subject_id=sid, kind=kind, date=on, **kw)


def grade(
    subjects: list[Subject], events: list[Event], as_of: date = AS_OF
) -> dict[str, tuple[str, str | None, str | None]]:
    return grade_all(subjects, group_events(events, as_of), as_of)


def test_group_events_sorts_and_drops_the_future() -> None:
    late = event("A", "violation", date(2025, 1, 1))
    b = event("A", "complaint", date(2024, 3, 1))
    a = event("A", "violation", date(2024, 3, 1))
    c = event("B", "reward", date(2023, 1, 1), points=1)
    grouped = group_events([late, b, c, a], AS_OF)
    assert grouped == {"A": [b, a] if b.id < a.id else [a, b], "B": [c]}


def test_two_violations_in_the_year_give_one_star() -> None:
    """三(一)3(1): 1年之内 2 violations or more → ★; the year is from the day after D - 1 year."""
    s = [subject("A"), subject("B"), subject("C")]
    events = [
        event("A", "violation", date(2024, 1, 1)),  # first day of the year ending 2024-12-31
        event("A", "violation", date(2024, 12, 31)),
        event("B", "violation", date(2023, 12, 31)),  # one day too early: not counted
        event("B", "violation", date(2024, 6, 1)),
        event("C", "violation", date(2025, 1, 1)),  # after as_of: not counted
    ]
    assert grade(s, events) == {
        "A": ("graded", STAR1, None),
        "B": ("graded", STAR2, None),
        "C": ("graded", STAR3, None),
    }


def test_lookback_at_february_29() -> None:
    as_of = date(2024, 2, 29)  # D - 1 year = 2023-02-28, so the year starts 2023-03-01
    s = [subject("A"), subject("B")]
    events = [
        event("A", "violation", date(2023, 3, 1)),
        event("A", "violation", date(2024, 2, 29)),
        event("B", "violation", date(2023, 2, 28)),
        event("B", "violation", date(2024, 2, 1)),
    ]
    assert grade(s, events, as_of) == {"A": ("graded", STAR1, None), "B": ("graded", STAR2, None)}


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([("complaint", {"verified": True})] * 2, STAR1),
        ([("price_interview", {})] * 2, STAR1),
        ([("fraud", {"amount": 1000.0})], STAR1),
        ([("agreement_breach", {"nonperformance": True})], STAR1),
        ([("serious_violation", {})], STAR1),
        ([("complaint", {"verified": True}), ("complaint", {"verified": False})], STAR2),
        ([("price_interview", {})], STAR2),
        ([("complaint", {"verified": False})], STAR2),  # not ★★★, nothing else: ★★
        ([("agreement_breach", {"nonperformance": False})], STAR2),
        ([("commitment", {}), ("reward", {"points": 2.0})], STAR3),
        ([], STAR3),
    ],
)
def test_grade_criteria(events: list[tuple[str, dict[str, Any]]], expected: str) -> None:
    evs = [event("A", kind, date(2024, 5, 1), **kw) for kind, kw in events]
    assert grade([subject("A")], evs) == {"A": ("graded", expected, None)}


def test_first_agreement_year_exactly_ended_is_graded() -> None:
    """三(一)5(1): 协议不满1年 is excluded; exactly one year as of D is not "不满"."""
    s = [subject("A", date(2023, 12, 31)), subject("B", date(2024, 1, 1))]
    assert grade(s, []) == {
        "A": ("graded", STAR3, None),
        "B": ("excluded", None, "agreement_under_1y"),
    }
    # one year from 2024-02-29 ends on 2025-02-28 (《民法典》第202条)
    leap = [subject("L", date(2024, 2, 29))]
    assert grade(leap, [], date(2025, 2, 28)) == {"L": ("graded", STAR3, None)}
    assert grade(leap, [], date(2025, 2, 27)) == {"L": ("excluded", None, "agreement_under_1y")}


@given(
    st.dates(date(2000, 1, 1), date(2040, 12, 31)),
    st.dates(date(1999, 1, 1), date(2040, 12, 31)),
)
@example(date(2025, 2, 28), date(2024, 2, 29))
@example(date(2025, 2, 28), date(2024, 3, 1))
@example(date(2024, 2, 29), date(2023, 2, 28))
@example(date(2024, 2, 29), date(2023, 3, 1))
def test_under_one_year_cutoff(as_of: date, designated: date) -> None:
    under = designated + relativedelta(years=1) > as_of
    assert under == (designated > under_one_year_cutoff(as_of))


def test_exclusions_in_order_and_windows() -> None:
    """三(一)5(2)-(5), the first that holds; terminations and revocations count in the agreement."""
    d_on = date(2020, 6, 1)
    s = [subject(x, d_on) for x in "ABCDEFGH"]
    events = [
        # A: voluntary termination before renewal failure and licence: voluntary wins
        event("A", "license_suspended", date(2024, 3, 1)),
        event("A", "agreement_terminated", date(2021, 1, 1), reason="renewal_failed"),
        event("A", "agreement_terminated", date(2022, 1, 1), reason="voluntary"),
        # B: renewal failed, within the agreement but outside the lookback
        event("B", "agreement_terminated", date(2021, 1, 1), reason="renewal_failed"),
        event("B", "violation", date(2024, 3, 1)),
        # C: a termination before the current agreement does not count
        event("C", "agreement_terminated", date(2019, 1, 1), reason="voluntary"),
        event("C", "agreement_terminated", date(2024, 3, 1), reason="other"),
        # D: licence suspended within the year
        event("D", "license_suspended", date(2024, 1, 1)),
        # E: licence suspended before the year: not excluded
        event("E", "license_suspended", date(2023, 12, 31)),
        # F: licence revoked within the agreement, before the year
        event("F", "license_revoked", date(2021, 5, 5)),
        # G: statutory exclusion within the year (a pack-declared kind)
        event("G", "statutory_exclusion", date(2024, 12, 31)),
        # H: statutory exclusion before the year
        event("H", "statutory_exclusion", date(2023, 12, 31)),
    ]
    assert grade(s, events) == {
        "A": ("excluded", None, "voluntary_termination"),
        "B": ("excluded", None, "renewal_failed"),
        "C": ("graded", STAR3, None),
        "D": ("excluded", None, "licence"),
        "E": ("graded", STAR3, None),
        "F": ("excluded", None, "licence"),
        "G": ("excluded", None, "statutory"),
        "H": ("graded", STAR3, None),
    }


def _chain(hq: str, stars: int, others: int = 2) -> tuple[list[Subject], list[Event]]:
    subjects = [subject(hq, category="pharmacy_chain")]
    events: list[Event] = []
    for i in range(stars + others):
        sid = f"{hq}-{i}"
        subjects.append(subject(sid, category="pharmacy", chain_id=hq))
        if i < stars:
            events += [
                event(sid, "violation", date(2024, 2, 1)),
                event(sid, "violation", date(2024, 9, 1)),
            ]
    return subjects, events


@pytest.mark.parametrize(
    ("stars", "expected"),
    [(0, STAR3), (1, STAR2), (3, STAR2), (4, STAR1), (6, STAR1)],
)
def test_chain_roll_up(stars: int, expected: str) -> None:
    """三(一)4: 1-3 stores at ★ cap the headquarters at ★★; 4 or more (四家以上) give ★."""
    subjects, events = _chain("HQ", stars)
    results = grade(subjects, events)
    assert results["HQ"] == ("graded", expected, None)
    assert sum(r[1] == STAR1 for sid, r in results.items() if sid != "HQ") == stars


def test_chain_roll_up_never_improves_and_skips_exclusions() -> None:
    # ★ headquarters with 2 ★ stores stays ★
    subjects, events = _chain("HQ", 2)
    events += [event("HQ", "fraud", date(2024, 4, 1))]
    assert grade(subjects, events)["HQ"] == ("graded", STAR1, None)
    # ★★ headquarters with 1 ★ store stays ★★
    subjects, events = _chain("HQ", 1)
    events += [event("HQ", "violation", date(2024, 4, 1))]
    assert grade(subjects, events)["HQ"] == ("graded", STAR2, None)
    # an excluded headquarters stays excluded
    subjects, events = _chain("HQ", 5)
    subjects[0] = subject("HQ", date(2024, 6, 1), category="pharmacy_chain")
    assert grade(subjects, events)["HQ"] == ("excluded", None, "agreement_under_1y")
    # excluded stores do not count: 4 ★ stores of which one is excluded → ★★
    subjects, events = _chain("HQ", 4)
    events += [event("HQ-0", "license_suspended", date(2024, 4, 1))]
    results = grade(subjects, events)
    assert results["HQ-0"] == ("excluded", None, "licence")
    assert results["HQ"] == ("graded", STAR2, None)
