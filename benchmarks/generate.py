"""A synthetic province: subjects and events files that follow the data contract (design.md).

    python benchmarks/generate.py N OUT_DIR [--seed S] [--format jsonl|csv] [--as-of YYYY-MM-DD]

writes ``OUT_DIR/subjects.<fmt>`` and ``OUT_DIR/events.<fmt>`` (design.md,
"Data contract"). The output depends only on the arguments: one ``random.Random(seed)`` drives
every choice, in a fixed order, and rows are written with a fixed column order.

Shape of the province (all subjects are institutions):

- about 60% pharmacies (``category: pharmacy``); a third of them are stores of chains of 5–200
  stores, each chain with a headquarters subject (``category: pharmacy_chain``, counted in N)
  named by the stores' ``chain_id``; the rest are hospitals (``level``, ``beds``, ``inpatient``
  for most) and clinics (``inpatient: false``);
- ``designated_on`` mostly years before ``as_of``, about 5% less than one year before it;
- about 5 events per subject over the three years ending at ``as_of`` (never before the
  subject's designation), skewed so that most subjects have nothing adverse in the last year
  while a minority collects many violations;
- the first chains get a fixed number of stores with two violations in the last year (1, 2, 3,
  4 and 6 stores, as far as the chain is large enough), their other stores and headquarters
  kept spotless, so that every chain roll-up case occurs in any province with five chains.

Rows are streamed: only the plan of subjects (one small tuple each) and one subject's events
are held in memory at a time.
"""

from __future__ import annotations

import argparse
import csv
import sys
from bisect import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate
from json.encoder import encode_basestring
from pathlib import Path
from random import Random
from typing import IO

from dateutil.relativedelta import relativedelta

__all__ = ["EVENT_COLUMNS", "SUBJECT_COLUMNS", "generate", "main"]

SUBJECT_COLUMNS: tuple[str, ...] = (
    "id",
    "type",
    "category",
    "name",
    "region",
    "level",
    "beds",
    "inpatient",
    "chain_id",
    "designated_on",
)
EVENT_COLUMNS: tuple[str, ...] = (
    "id",
    "subject_id",
    "kind",
    "date",
    "severity",
    "amount",
    "verified",
    "nonperformance",
    "reason",
    "points",
    "repairs",
)

PHARMACY_SHARE = 0.60
CHAIN_STORE_SHARE = 1 / 3  # of the pharmacies
HOSPITAL_SHARE = 0.30  # of the institutions that are neither pharmacies nor headquarters
RECENT_SHARE = 0.05  # designated less than one year before as_of
CHAIN_MIN, CHAIN_MAX = 5, 200
MAX_EVENTS = 60  # per subject, before the forced violations
FORCED_STAR_STORES = (1, 2, 3, 4, 6)  # stores at ★ in the first chains

REGIONS: tuple[tuple[str, str], ...] = (
    ("321102", "京口"),
    ("321111", "润州"),
    ("321112", "丹徒"),
    ("321181", "丹阳"),
    ("321182", "扬中"),
    ("321183", "句容"),
)
REGION_CUM = tuple(accumulate((20, 18, 12, 24, 8, 18)))
CITY = "镇江"
BRAND_CHARS = "仁和康泰华济民福安益寿德瑞丰恒源百信惠润金山江天一心同海众嘉春正大新国"
TOWNS = (
    "辛丰",
    "宝堰",
    "荣炳",
    "谷阳",
    "上党",
    "高资",
    "下蜀",
    "白兔",
    "后白",
    "延陵",
    "珥陵",
    "新桥",
    "界牌",
    "油坊",
    "八桥",
    "大港",
    "丁岗",
    "茅山",
    "导墅",
    "皇塘",
)
PHARMACY_SUFFIXES = ("大药房", "药房", "药店", "医药商店", "大药房", "药房")
HOSPITAL_TEMPLATES = (
    "{place}{brand}医院",
    "{place}{brand}中医医院",
    "{place}{brand}骨科医院",
    "{place}{brand}妇产医院",
    "{place}{brand}眼科医院",
    "{place}{town}镇卫生院",
    "{place}市{town}中心卫生院",
)
CLINIC_TEMPLATES = (
    "{place}{brand}门诊部",
    "{place}{brand}诊所",
    "{place}{brand}口腔诊所",
    "{place}{town}镇{brand}村卫生室",
    "{place}{brand}中医诊所",
)
LEVELS: tuple[tuple[str, float, tuple[int, int]], ...] = (
    # level, share of hospitals, beds range
    ("三级", 0.05, (800, 3000)),
    ("二级", 0.20, (200, 800)),
    ("一级", 0.45, (20, 150)),
    ("未定级", 0.30, (0, 60)),
)
LEVEL_CUM = tuple(accumulate(share for _, share, _ in LEVELS))

# Event kinds. Adverse kinds that exclude a subject from grading are kept apart, so that the
# spotless and forced profiles can leave them out.
ADVERSE: tuple[tuple[str, float], ...] = (
    ("violation", 46.0),
    ("complaint", 24.0),
    ("price_interview", 12.0),  # pharmacies only
    ("agreement_breach", 10.0),
    ("fraud", 0.8),
    ("serious_violation", 1.0),
)
EXCLUDING: tuple[tuple[str, float], ...] = (
    ("agreement_terminated", 0.6),
    ("license_suspended", 0.5),
    ("license_revoked", 0.1),
)
NEUTRAL: tuple[tuple[str, float], ...] = (("commitment", 50.0), ("reward", 30.0), ("repair", 20.0))
ADVERSE_KINDS = frozenset(k for k, _ in ADVERSE + EXCLUDING)


@dataclass(frozen=True, slots=True)
class _Table:
    """Kinds with cumulative weights, drawn by bisection on one ``rng.random()``."""

    kinds: tuple[str, ...]
    cum: tuple[float, ...]

    @classmethod
    def of(cls, items: Sequence[tuple[str, float]]) -> _Table:
        return cls(tuple(k for k, _ in items), tuple(accumulate(w for _, w in items)))

    def draw(self, rng: Random) -> str:
        return self.kinds[bisect(self.cum, rng.random() * self.cum[-1])]


@dataclass(frozen=True, slots=True)
class _Profile:
    """How many events a subject collects over three years, and how many are adverse."""

    mean: float
    neutral: float  # share of neutral events
    excluding: bool  # may it draw kinds that exclude it from grading?
    clean_last_year: bool = False  # nothing adverse in the last year
    forced_violations: bool = False  # two or three violations in the last year


GOOD = _Profile(mean=2.0, neutral=0.65, excluding=True)
AVERAGE = _Profile(mean=8.0, neutral=0.25, excluding=True)
BAD = _Profile(mean=19.0, neutral=0.12, excluding=True)
SPOTLESS = _Profile(mean=2.0, neutral=0.6, excluding=False, clean_last_year=True)
FORCED = _Profile(mean=5.0, neutral=0.3, excluding=False, forced_violations=True)
PROFILE_CUM = (0.60, 0.88, 1.0)  # GOOD, AVERAGE, BAD for a subject outside the forced chains
CHAIN_RISKS = (0.0, 0.02, 0.05, 0.10, 0.20)  # share of BAD stores in a chain

Row = tuple[object, ...]
"""One row's values in column order; None is an absent value."""

# Roles in the plan of subjects.
PHARMACY, STORE, HEADQUARTERS, HOSPITAL, CLINIC = range(5)


@dataclass(frozen=True, slots=True)
class _Chain:
    size: int
    brand: str
    risk: float
    forced: int  # stores forced to ★ (the first ones by store number)


def _brand(rng: Random) -> str:
    return rng.choice(BRAND_CHARS) + rng.choice(BRAND_CHARS)


def _plan_chains(rng: Random, stores: int) -> list[_Chain]:
    """Split about ``stores`` stores into chains of 5–200, mostly small ones."""
    sizes: list[int] = []
    left = stores
    while left >= CHAIN_MIN:
        size = min(left, CHAIN_MIN + int((CHAIN_MAX - CHAIN_MIN + 1) * rng.random() ** 4))
        if 0 < left - size < CHAIN_MIN:  # leave no remainder too small to be a chain
            size = left if left <= CHAIN_MAX else left - CHAIN_MIN
        sizes.append(size)
        left -= size
    chains = []
    for index, size in enumerate(sizes):
        forced = min(size, FORCED_STAR_STORES[index]) if index < len(FORCED_STAR_STORES) else 0
        chains.append(_Chain(size, _brand(rng), rng.choice(CHAIN_RISKS), forced))
    return chains


def _id_width(count: int) -> int:
    return max(7, len(str(count)))


def generate(
    n: int,
    out_dir: Path,
    seed: int = 0,
    as_of: date = date(2024, 12, 31),
    fmt: str = "jsonl",
) -> tuple[Path, Path]:
    """Write ``subjects.<fmt>`` and ``events.<fmt>`` for ``n`` subjects into ``out_dir``."""
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"unknown format {fmt!r}: use jsonl or csv")
    if n < 0:
        raise ValueError("n must be 0 or more")
    rng = Random(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    # --- the plan: one role per subject, shuffled -------------------------------------------
    pharmacies = round(n * PHARMACY_SHARE)
    chains = _plan_chains(rng, round(pharmacies * CHAIN_STORE_SHARE))
    stores = sum(c.size for c in chains)
    others = n - pharmacies - len(chains)
    hospitals = round(others * HOSPITAL_SHARE)
    roles: list[tuple[int, int, int]] = []  # (role, chain index or -1, store number or 0)
    for ci, planned in enumerate(chains):
        roles.append((HEADQUARTERS, ci, 0))
        roles.extend((STORE, ci, k) for k in range(1, planned.size + 1))
    roles.extend([(PHARMACY, -1, 0)] * (pharmacies - stores))
    roles.extend([(HOSPITAL, -1, 0)] * hospitals)
    roles.extend([(CLINIC, -1, 0)] * (others - hospitals))
    rng.shuffle(roles)
    width = _id_width(n)
    hq_ids = [""] * len(chains)
    for pos, (role, ci, _) in enumerate(roles):
        if role == HEADQUARTERS:
            hq_ids[ci] = f"S{pos + 1:0{width}d}"

    # --- dates, as ordinals ------------------------------------------------------------------
    one_year_ago = as_of - relativedelta(years=1)
    hi = as_of.toordinal()
    lo3 = (as_of - relativedelta(years=3) + timedelta(days=1)).toordinal()
    lo1 = (one_year_ago + timedelta(days=1)).toordinal()  # first day of "1年之内"
    settled_hi = one_year_ago.toordinal()  # designated at least one full year before as_of
    settled_lo = (as_of - relativedelta(years=20)).toordinal()
    iso_cache: dict[int, str] = {}

    def iso(ordinal: int) -> str:
        text = iso_cache.get(ordinal)
        if text is None:
            text = iso_cache[ordinal] = date.fromordinal(ordinal).isoformat()
        return text

    adverse_all = _Table.of(ADVERSE + EXCLUDING)
    adverse_safe = _Table.of(ADVERSE)
    adverse_all_np = _Table.of([kw for kw in ADVERSE + EXCLUDING if kw[0] != "price_interview"])
    adverse_safe_np = _Table.of([kw for kw in ADVERSE if kw[0] != "price_interview"])
    neutral = _Table.of(NEUTRAL)
    event_width = _id_width(n * (MAX_EVENTS + 3))

    subjects_path = out_dir / f"subjects.{fmt}"
    events_path = out_dir / f"events.{fmt}"
    with (
        subjects_path.open("w", encoding="utf-8", newline="") as s_out,
        events_path.open("w", encoding="utf-8", newline="") as e_out,
    ):
        write_subject = _writer(s_out, fmt, SUBJECT_COLUMNS)
        write_event = _writer(e_out, fmt, EVENT_COLUMNS)
        event_no = 0
        for pos, (role, ci, store_no) in enumerate(roles):
            sid = f"S{pos + 1:0{width}d}"
            chain = chains[ci] if ci >= 0 else None

            # profile
            if chain is not None and chain.forced:
                profile = FORCED if role == STORE and store_no <= chain.forced else SPOTLESS
            else:
                bad_share = chain.risk if chain is not None and role == STORE else None
                u = rng.random()
                if bad_share is not None:
                    profile = BAD if u < bad_share else (GOOD if u < 0.7 else AVERAGE)
                else:
                    profile = (GOOD, AVERAGE, BAD)[bisect(PROFILE_CUM, u)]
            settled = profile in (FORCED, SPOTLESS) or rng.random() >= RECENT_SHARE
            if settled:
                designated = rng.randint(settled_lo, settled_hi)
            else:
                designated = rng.randint(settled_hi + 1, hi)

            # subject row
            region, place = REGIONS[bisect(REGION_CUM, rng.random() * REGION_CUM[-1])]
            level: str | None = None
            beds: int | None = None
            inpatient: bool | None = None
            chain_id: str | None = None
            if role == STORE:
                assert chain is not None
                category = "pharmacy"
                name = f"{CITY}{chain.brand}大药房第{store_no}店"
                chain_id = hq_ids[ci]
            elif role == HEADQUARTERS:
                assert chain is not None
                category = "pharmacy_chain"
                name = f"{CITY}{chain.brand}大药房连锁有限公司"
                region, place = REGIONS[rng.randrange(2)]  # headquarters sit in the city
            elif role == PHARMACY:
                category = "pharmacy"
                name = f"{place}{_brand(rng)}{rng.choice(PHARMACY_SUFFIXES)}"
            elif role == HOSPITAL:
                category = "hospital"
                li = bisect(LEVEL_CUM, rng.random() * LEVEL_CUM[-1])
                level, _, (b_lo, b_hi) = LEVELS[min(li, len(LEVELS) - 1)]
                beds = rng.randint(b_lo, b_hi)
                inpatient = beds > 0 and rng.random() < (0.7 if level == "未定级" else 0.97)
                name = rng.choice(HOSPITAL_TEMPLATES).format(
                    place=place, brand=_brand(rng), town=rng.choice(TOWNS)
                )
            else:
                category = "clinic"
                inpatient = False
                name = rng.choice(CLINIC_TEMPLATES).format(
                    place=place, brand=_brand(rng), town=rng.choice(TOWNS)
                )
            write_subject(
                (
                    sid,
                    "institution",
                    category,
                    name,
                    region,
                    level,
                    beds,
                    inpatient,
                    chain_id,
                    iso(designated),
                )
            )

            # events: dates first (never before the designation), then kinds in date order
            start = max(lo3, designated)
            span = hi - start + 1
            x = rng.expovariate(1.0 / profile.mean) * span / (hi - lo3 + 1)
            count = min(MAX_EVENTS, int(x + rng.random()))
            pharmacy = category in ("pharmacy", "pharmacy_chain")
            if profile.excluding:
                adverse = adverse_all if pharmacy else adverse_all_np
            else:
                adverse = adverse_safe if pharmacy else adverse_safe_np
            drafts: list[tuple[int, str]] = []
            for _ in range(count):
                day = rng.randint(start, hi)
                if rng.random() < profile.neutral or (profile.clean_last_year and day >= lo1):
                    kind = neutral.draw(rng)
                else:
                    kind = adverse.draw(rng)
                drafts.append((day, kind))
            if profile.forced_violations:
                first = max(lo1, designated)
                for _ in range(2 + (rng.random() < 0.3)):
                    drafts.append((rng.randint(first, hi), "violation"))
            drafts.sort()

            earlier: list[tuple[int, str]] = []  # adverse events so far: (date, id)
            for day, kind in drafts:
                event_no += 1
                eid = f"E{event_no:0{event_width}d}"
                severity = reason = repairs = None
                amount: float | None = None
                verified = nonperformance = None
                points: int | None = None
                if kind == "repair":
                    candidates = [e for d, e in earlier if d < day]
                    if candidates:
                        repairs = rng.choice(candidates)
                    else:
                        kind = "commitment"
                if kind == "violation":
                    u = rng.random()
                    severity = "minor" if u < 0.6 else ("moderate" if u < 0.9 else "serious")
                    scale = {"minor": 1.0, "moderate": 3.0, "serious": 10.0}[severity]
                    amount = round(rng.lognormvariate(7.0, 1.0) * scale, 2)
                elif kind == "complaint":
                    verified = rng.random() < 0.4
                elif kind == "agreement_breach":
                    nonperformance = rng.random() < 0.2
                elif kind == "fraud":
                    amount = round(rng.lognormvariate(10.0, 1.0), 2)
                elif kind == "agreement_terminated":
                    u = rng.random()
                    reason = "voluntary" if u < 0.5 else ("renewal_failed" if u < 0.8 else "other")
                elif kind == "reward":
                    points = rng.choice((1, 2, 3, 5))
                if kind in ADVERSE_KINDS:
                    earlier.append((day, eid))
                write_event(
                    (
                        eid,
                        sid,
                        kind,
                        iso(day),
                        severity,
                        amount,
                        verified,
                        nonperformance,
                        reason,
                        points,
                        repairs,
                    )
                )
    return subjects_path, events_path


def _writer(out: IO[str], fmt: str, columns: tuple[str, ...]) -> Callable[[Row], None]:
    """A function writing one row (values in ``columns`` order, None = absent)."""
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writerow = writer.writerow

        def write_csv(values: Row) -> None:
            writerow(
                [
                    "" if v is None else ("true" if v else "false") if isinstance(v, bool) else v
                    for v in values
                ]
            )

        return write_csv

    keys = tuple(encode_basestring(c) + ":" for c in columns)
    write = out.write

    def write_jsonl(values: Row) -> None:
        write(json_line(zip(keys, values, strict=True)))

    return write_jsonl


def json_line(pairs: Iterable[tuple[str, object]]) -> str:
    """One compact JSON object and a newline, by hand: the same bytes as json.dumps(...,
    ensure_ascii=False, separators=(",", ":")) without building a dict per row. Keys come
    encoded with their colon (``'"id":'``); a None value leaves its key out."""
    parts = []
    for key, v in pairs:
        if v is None:
            continue
        if isinstance(v, str):
            parts.append(key + encode_basestring(v))
        elif isinstance(v, bool):
            parts.append(key + ("true" if v else "false"))
        elif isinstance(v, int | float):
            parts.append(key + repr(v))
        else:
            raise TypeError(f"cannot write {v!r} as JSON")
    return "{" + ",".join(parts) + "}\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("n", type=int, help="number of subjects")
    parser.add_argument("out_dir", type=Path, help="directory for subjects.* and events.*")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", dest="fmt", choices=("jsonl", "csv"), default="jsonl")
    parser.add_argument(
        "--as-of", type=date.fromisoformat, default=date(2024, 12, 31), help="YYYY-MM-DD"
    )
    args = parser.parse_args(argv)
    subjects, events = generate(args.n, args.out_dir, args.seed, args.as_of, args.fmt)
    print(subjects)
    print(events)
    return 0


if __name__ == "__main__":
    sys.exit(main())
