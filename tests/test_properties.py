"""Properties of the Zhenjiang pack (镇医保〔2024〕82号 三(一)) over small random worlds.

A world is a few institutions (hospitals, clinics, standalone pharmacies), one or two pharmacy
chains with several stores (三(一)4), sometimes a practitioner (out of scope), and random events
of the core kinds over the two years around a fixed ``as_of``, with the attributes each kind
needs (``verified``, ``nonperformance``, ``reason``, ``basis``). Some institutions are designated
close to the one-year boundary of 三(一)5(1), so exclusions occur too.

How exclusion is treated in the monotonicity property (1):
- An exclusion is not a grade: "graded → excluded" is not compared as better or worse. Grades
  are compared only for subjects graded in both runs.
- Adding an adverse event never lifts an exclusion (excluded stays excluded), and an event of a
  grading kind (违法违规, 投诉, 约谈, 违约, 欺诈, 严重违规) never changes any subject's status.
- An event of an excluding kind (三(一)5(2)-(5): termination, suspension, revocation, statutory
  case) may exclude a chain store graded ★; an excluded store is not counted by 三(一)4, so its
  headquarters' grade can get better (★ → ★★, ★★ → ★★★). This is the pack's pinned reading
  ("Excluded stores are not graded and do not count"), not an engine bug; the property allows
  exactly this case and nothing else, and ``test_excluding_a_one_star_store_can_lift_its_hq``
  pins it. No one's *own* grade (before roll-ups) ever gets better.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from zj_helpers import MID, OLD, ONE, RANK, THREE, TWO, chain, ev, inst, load

import yibao_credit as yc

PACK = load()
AS_OF = dt.date(2024, 6, 30)
"""1年之内 is 2023-07-01 .. 2024-06-30; events are drawn from 2023-06-30 - 365 days onward."""
FIRST_DAY = AS_OF - dt.timedelta(days=365)
SPAN = 730  # days: the two years around as_of, so some events are late (after as_of)

GRADING_KINDS = (
    "violation",
    "complaint",
    "price_interview",
    "agreement_breach",
    "fraud",
    "serious_violation",
)
EXCLUDING_KINDS = (
    "agreement_terminated",
    "license_suspended",
    "license_revoked",
    "statutory_exclusion",
)
ADVERSE_KINDS = GRADING_KINDS + EXCLUDING_KINDS
# grading kinds drawn six times as often, so most subjects stay graded
WORLD_KINDS = GRADING_KINDS * 6 + EXCLUDING_KINDS + ("commitment",)

DESIGNATED = (
    OLD,
    OLD,
    OLD,
    OLD,
    OLD,
    "2022-01-15",
    "2023-06-30",  # first year ends 2024-06-30 = as_of: graded (三(一)5(1))
    "2023-07-01",  # first year ends 2024-07-01: excluded
    "2024-02-29",
)

AS_OFS = [
    AS_OF,
    dt.date(2024, 2, 29),
    dt.date(2024, 3, 1),
    dt.date(2025, 2, 28),
    dt.date(2025, 6, 30),
]
"""Evaluation dates for the direct-reading property: leap-day windows and plain ones."""

PROPERTY_SETTINGS = settings(
    deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow]
)


@dataclass(frozen=True)
class RawEvent:
    """An event before it is attached to a subject of the world."""

    target: int
    kind: str
    offset: int
    flag: bool
    reason: str

    def to_dict(self, eid: str, subject: str) -> dict[str, Any]:
        attrs: dict[str, Any] = {}
        if self.kind == "complaint":
            attrs["verified"] = self.flag
        elif self.kind == "agreement_breach":
            attrs["nonperformance"] = self.flag
        elif self.kind == "agreement_terminated":
            attrs["reason"] = self.reason
        elif self.kind == "statutory_exclusion":
            attrs["basis"] = "《某条例》第十条"
        elif self.kind == "violation" and self.flag:
            attrs["amount"] = 1200.5
        date = FIRST_DAY + dt.timedelta(days=self.offset)
        return ev(eid, subject, self.kind, date, **attrs)


def raw_events(kinds: Sequence[str]) -> st.SearchStrategy[RawEvent]:
    return st.builds(
        RawEvent,
        target=st.integers(0, 1000),
        kind=st.sampled_from(kinds),
        offset=st.integers(0, SPAN),
        flag=st.booleans(),
        reason=st.sampled_from(["voluntary", "renewal_failed", "other"]),
    )


@dataclass
class World:
    subjects: list[dict[str, Any]]
    events: list[dict[str, Any]]

    @property
    def institutions(self) -> list[str]:
        return [s["id"] for s in self.subjects if s["type"] == "institution"]

    def with_event(self, raw: RawEvent) -> tuple[World, str]:
        """The world plus one more event on an institution; returns it and the target id."""
        targets = self.institutions
        target = targets[raw.target % len(targets)]
        extra = raw.to_dict("EXTRA", target)
        return World(self.subjects, [*self.events, extra]), target


@st.composite
def worlds(draw: st.DrawFn) -> World:
    designated = st.sampled_from(DESIGNATED)
    subjects: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 3))):
        category = draw(st.sampled_from(["hospital", "clinic", "pharmacy"]))
        subjects.append(inst(f"I{i}", category, draw(designated)))
    events: list[dict[str, Any]] = []
    for head in ["CA", "CB"][: draw(st.integers(1, 2))]:
        members = chain(head, draw(st.integers(2, 7)))
        for s in members:
            s["designated_on"] = draw(designated)
        subjects += members
        # a fraud within the year for the first k stores, so every band of 三(一)4 comes up
        stores = len(members) - 1
        for store in members[1 : 1 + draw(st.one_of(st.just(stores), st.integers(0, stores)))]:
            events.append(ev(f"F-{store['id']}", store["id"], "fraud", AS_OF))
    if draw(st.integers(0, 3)) == 0:
        # I0 names chain CA: counted by 三(一)4 if it is a pharmacy, never if a hospital/clinic
        subjects[0]["chain_id"] = "CA"
    if draw(st.booleans()):
        subjects.append({"id": "DR", "type": "practitioner", "category": "physician"})
    raws = draw(st.lists(raw_events(WORLD_KINDS), max_size=40))
    events += [
        raw.to_dict(f"E{n:02d}", subjects[raw.target % len(subjects)]["id"])
        for n, raw in enumerate(raws)
    ]
    return World(subjects, events)


def run_of(world: World) -> yc.Run:
    run: yc.Run = PACK.evaluate(world.subjects, world.events, as_of=AS_OF)
    return run


def outputs(run: yc.Run) -> tuple[str, ...]:
    return (
        yc.render(run, "jsonl"),
        yc.render(run, "jsonl", "en"),
        yc.render(run, "csv"),
        yc.render(run, "table"),
    )


# ---------------------------------------------------------------------------------------------
# (1) an adverse event never improves a grade (see the module docstring for exclusions)
# ---------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(world=worlds(), raw=raw_events(ADVERSE_KINDS))
def test_adverse_event_never_improves_a_grade(world: World, raw: RawEvent) -> None:
    """三(一)1-5: one more adverse event on any institution never makes any grade better."""
    bigger, target = world.with_event(raw)
    before, after = run_of(world), run_of(bigger)
    assert [r.subject_id for r in before] == [r.subject_id for r in after]
    target_before = before.get(target)
    assert target_before is not None
    for b in before:
        a = after.get(b.subject_id)
        assert a is not None
        if b.status == "excluded":
            assert a.status == "excluded", f"{b.subject_id}: an added event lifted an exclusion"
            continue
        if raw.kind in GRADING_KINDS:
            assert a.status == "graded", f"{b.subject_id}: a {raw.kind} excluded it"
        if a.status == "excluded":
            assert b.subject_id == target
            continue
        assert b.grade is not None and a.grade is not None
        assert b.own_grade is not None and a.own_grade is not None
        assert RANK[a.own_grade] >= RANK[b.own_grade], b.subject_id
        if RANK[a.grade] < RANK[b.grade]:
            # only allowed: a ★ store of this headquarters was excluded, so 三(一)4 counts less
            target_after = after.get(target)
            assert target_after is not None
            store = next(s for s in world.subjects if s["id"] == target)
            assert raw.kind in EXCLUDING_KINDS, f"{b.subject_id}: improved by a {raw.kind}"
            assert store.get("chain_id") == b.subject_id
            assert target_before.grade == ONE
            assert target_after.status == "excluded"


def test_excluding_a_one_star_store_can_lift_its_hq() -> None:
    """三(一)4 with 三(一)5(4): four ★ stores make the HQ ★; when one is suspended (excluded) it
    no longer counts, and the HQ is only capped at ★★. The pinned reading, kept in view."""
    subjects = chain("H", 4)
    events = [ev(f"f{i}", f"H-S{i}", "fraud", MID) for i in range(1, 5)]
    before = PACK.evaluate(subjects, events, as_of=dt.date(2024, 12, 31)).get("H")
    suspended = [*events, ev("s", "H-S1", "license_suspended", MID)]
    after = PACK.evaluate(subjects, suspended, as_of=dt.date(2024, 12, 31)).get("H")
    assert before is not None and after is not None
    assert (before.grade, after.grade) == (ONE, TWO)


# ---------------------------------------------------------------------------------------------
# (2) input order never matters; (3) evaluation is reproducible
# ---------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(world=worlds(), seed=st.integers(0, 2**32 - 1))
def test_shuffling_subjects_and_events_never_changes_output(world: World, seed: int) -> None:
    """Design principle 5: the same records in any order give byte-identical output."""
    rng = random.Random(seed)
    subjects, events = list(world.subjects), list(world.events)
    rng.shuffle(subjects)
    rng.shuffle(events)
    first = run_of(world)
    second = run_of(World(subjects, events))
    assert outputs(second) == outputs(first)
    assert [(w.code, w.message) for w in second.warnings] == [
        (w.code, w.message) for w in first.warnings
    ]


@PROPERTY_SETTINGS
@given(world=worlds())
def test_evaluating_twice_gives_identical_bytes(world: World) -> None:
    """Design principle 5: the same pack, records and as_of give byte-identical output, also
    when the same validated Subject/Event objects are passed again."""
    assert outputs(run_of(world)) == outputs(run_of(world))
    subjects = [yc.Subject.model_validate(s) for s in world.subjects]
    events = [yc.Event.model_validate(e) for e in world.events]
    once = PACK.evaluate(subjects, events, as_of=AS_OF)
    twice = PACK.evaluate(subjects, events, as_of=AS_OF)
    assert outputs(once) == outputs(twice) == outputs(run_of(world))


# ---------------------------------------------------------------------------------------------
# (4) a roll-up never improves a headquarters
# ---------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(world=worlds())
def test_rollup_never_improves_a_headquarters(world: World) -> None:
    """三(一)4 is a ceiling: r.grade is never better than r.own_grade; non-heads are untouched."""
    heads = {s["chain_id"] for s in world.subjects if s.get("chain_id")}
    for r in run_of(world):
        if r.status == "excluded":
            assert (r.grade, r.own_grade) == (None, None)
            assert not any(o.applied for o in r.rollups)
            continue
        assert r.grade is not None and r.own_grade is not None
        assert RANK[r.grade] >= RANK[r.own_grade], r.subject_id
        if r.subject_id not in heads:
            assert r.grade == r.own_grade
            assert r.rollups == ()


# ---------------------------------------------------------------------------------------------
# (5) the engine agrees with a direct reading of 三(一), written here independently
# ---------------------------------------------------------------------------------------------


def _shift_year(day: dt.date, years: int) -> dt.date:
    """The corresponding day ``years`` later, or the month's last day (《民法典》第202条)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def oracle(world: World, as_of: dt.date) -> dict[str, tuple[str | None, str | None, str | None]]:
    """subject id → (exclusion, own grade, final grade) by a plain reading of 三(一)1-5."""
    window_start = _shift_year(as_of, -1) + dt.timedelta(days=1)
    known = [e for e in world.events if dt.date.fromisoformat(e["date"]) <= as_of]
    out: dict[str, tuple[str | None, str | None, str | None]] = {}
    for s in world.subjects:
        if s["type"] != "institution":
            continue
        designated = dt.date.fromisoformat(s["designated_on"])
        mine = [e for e in known if e["subject_id"] == s["id"]]

        def dated(e: dict[str, Any]) -> dt.date:
            return dt.date.fromisoformat(e["date"])

        year = [e for e in mine if dated(e) >= window_start]
        agreement = [e for e in mine if dated(e) >= designated]

        def n(events: list[dict[str, Any]], kind: str, **attrs: Any) -> int:
            return sum(
                1
                for e in events
                if e["kind"] == kind and all(e.get(k) == v for k, v in attrs.items())
            )

        if _shift_year(designated, 1) > as_of:
            excl: str | None = "agreement_under_1y"
        elif n(agreement, "agreement_terminated", reason="voluntary"):
            excl = "voluntary_termination"
        elif n(agreement, "agreement_terminated", reason="renewal_failed"):
            excl = "renewal_failed"
        elif n(year, "license_suspended") or n(agreement, "license_revoked"):
            excl = "licence"
        elif n(year, "statutory_exclusion"):
            excl = "statutory"
        else:
            excl = None
        if excl is not None:
            out[s["id"]] = (excl, None, None)
            continue
        violations = n(year, "violation")
        verified = n(year, "complaint", verified=True)
        interviews = n(year, "price_interview")
        if (
            violations >= 2
            or verified >= 2
            or interviews >= 2
            or n(year, "fraud")
            or n(year, "agreement_breach", nonperformance=True)
            or n(year, "serious_violation")
        ):
            grade = ONE
        elif 1 in (violations, verified, interviews):
            grade = TWO
        elif violations == n(year, "complaint") == n(year, "agreement_breach") == 0:
            grade = THREE
        else:
            grade = TWO
        out[s["id"]] = (None, grade, grade)
    for s in world.subjects:
        head = s["id"]
        if s.get("category") != "pharmacy_chain" or out[head][0] is not None:
            continue
        stores_at_one_star = sum(
            1
            for m in world.subjects
            if m.get("chain_id") == head and m["category"] == "pharmacy" and out[m["id"]][2] == ONE
        )
        own = out[head][1]
        assert own is not None
        cap = None if stores_at_one_star == 0 else (TWO if stores_at_one_star <= 3 else ONE)
        final = own if cap is None or RANK[own] >= RANK[cap] else cap
        out[head] = (None, own, final)
    return out


@PROPERTY_SETTINGS
@given(world=worlds(), as_of=st.sampled_from(AS_OFS))
def test_grades_agree_with_a_direct_reading_of_3_1(world: World, as_of: dt.date) -> None:
    """三(一)1-5 read directly (windows, exclusions in order, criteria, chain caps) give the
    same exclusion, own grade and final grade as the engine, for every institution."""
    run = PACK.evaluate(world.subjects, world.events, as_of=as_of)
    got = {r.subject_id: (r.exclusion, r.own_grade, r.grade) for r in run}
    assert got == oracle(world, as_of)
