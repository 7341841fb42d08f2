"""A synthetic Shenzhen: subjects and events files for policies/shenzhen.yaml (data contract).

    python benchmarks/generate_shenzhen.py N OUT_DIR [--seed S] [--as-of YYYY-MM-DD]

writes ``OUT_DIR/subjects.jsonl`` and ``OUT_DIR/events.jsonl`` for N designated institutions,
4N practitioners (医保医师、医保药师) and N/50 insured persons. The output depends only on the
arguments: one ``random.Random(seed)`` drives every choice, in a fixed order, and rows are
written with a fixed key order.

Shape (the 2022 cycle of the article had about 7,600 institutions graded, 2,379 deduction
records, 12,000 bonus records, 3.9万 practitioners):

- institutions: about 55% pharmacies (a fifth of them chain stores with a ``pharmacy_chain``
  headquarters subject), 33% clinics, 12% hospitals with a ``level`` (三级 / 二级 / 一级 /
  未定级) and ``beds`` spread across the evaluation groups' boundaries (some 二级 hospitals with
  500 beds or more, and 499/500 exactly);
- institution events over the evaluation year of ``as_of`` and the year before: most
  institutions clean, a minority with violations and breaches, rare frauds, rewards (bonus
  points 1–5) for about half, and a granted repair for some violations;
- practitioners: about 4% with penalty points (``points`` events of 1–3, 4–6, 7–9 or 10–12
  points, the bands of 医保发〔2024〕23号), some of them dated in the previous year; each names
  an institution in the free attribute ``institution_id``;
- insured persons: about 5% with a fraud, some in the previous year.

Rows are streamed: one subject's events are held in memory at a time.
"""

from __future__ import annotations

import argparse
import sys
from bisect import bisect
from collections.abc import Callable, Sequence
from datetime import date
from itertools import accumulate
from json.encoder import encode_basestring
from pathlib import Path
from random import Random
from typing import IO

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, too

from benchmarks.generate import json_line

__all__ = ["generate", "main"]

REGIONS: tuple[tuple[str, str], ...] = (
    ("440303", "罗湖"),
    ("440304", "福田"),
    ("440305", "南山"),
    ("440306", "宝安"),
    ("440307", "龙岗"),
    ("440308", "盐田"),
    ("440309", "龙华"),
    ("440310", "坪山"),
    ("440311", "光明"),
)
REGION_CUM = tuple(accumulate((9, 12, 13, 20, 19, 2, 13, 5, 7)))

PHARMACY_SHARE, CLINIC_SHARE = 0.55, 0.33  # the rest are hospitals
CHAIN_STORE_SHARE = 0.2  # of the pharmacies
CHAIN_SIZE = (5, 60)
LEVELS: tuple[tuple[str, float, tuple[int, int]], ...] = (
    # level, share of hospitals, beds range
    ("三级", 0.10, (500, 3500)),
    ("二级", 0.25, (150, 900)),
    ("一级", 0.35, (10, 150)),
    ("未定级", 0.30, (0, 120)),
)
LEVEL_CUM = tuple(accumulate(share for _, share, _ in LEVELS))
BOUNDARY_BEDS = (499, 500)

# (mean adverse events in the evaluation year, share of institutions), and the kinds
PROFILES: tuple[tuple[float, float], ...] = ((0.05, 0.78), (1.2, 0.17), (4.0, 0.05))
PROFILE_CUM = tuple(accumulate(share for _, share in PROFILES))
ADVERSE: tuple[tuple[str, float], ...] = (
    ("violation", 62.0),
    ("agreement_breach", 36.0),
    ("fraud", 0.6),
)
ADVERSE_CUM = tuple(accumulate(w for _, w in ADVERSE))
REWARD_SHARE = 0.5
REPAIR_SHARE = 0.1  # of the violations and breaches

PRACTITIONER_WITH_POINTS = 0.04
POINT_BANDS: tuple[tuple[tuple[int, int], float], ...] = (
    ((1, 3), 70.0),
    ((4, 6), 20.0),
    ((7, 9), 8.0),
    ((10, 12), 2.0),
)
BAND_CUM = tuple(accumulate(w for _, w in POINT_BANDS))
INSURED_PER_INSTITUTION = 1 / 50
INSURED_FRAUD = 0.05

BRAND = "仁和康泰华济民福安益寿德瑞丰恒源百信惠润金山海众嘉春正大新鹏"

Row = tuple[tuple[str, object], ...]


def _writer(out: IO[str]) -> Callable[[Row], None]:
    """One row as compact JSON (key order as given, None left out)."""
    write = out.write

    def write_row(row: Row) -> None:
        write(json_line((encode_basestring(key) + ":", v) for key, v in row))

    return write_row


def _poisson(rng: Random, mean: float) -> int:
    """A small Poisson draw (Knuth), enough for means of a few events."""
    if mean <= 0:
        return 0
    limit, k, p = 2.718281828459045 ** (-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def generate(
    n: int, out_dir: Path, seed: int = 0, as_of: date = date(2024, 12, 31)
) -> tuple[Path, Path]:
    """Write ``subjects.jsonl`` and ``events.jsonl`` for ``n`` institutions, ``4n``
    practitioners and ``n // 50`` insured persons into ``out_dir``."""
    if n < 0:
        raise ValueError("n must be 0 or more")
    rng = Random(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    year_lo = date(as_of.year, 1, 1).toordinal()
    hi = as_of.toordinal()
    prev_lo = date(as_of.year - 1, 1, 1).toordinal()
    iso_cache: dict[int, str] = {}

    def iso(ordinal: int) -> str:
        text = iso_cache.get(ordinal)
        if text is None:
            text = iso_cache[ordinal] = date.fromordinal(ordinal).isoformat()
        return text

    def region() -> tuple[str, str]:
        return REGIONS[bisect(REGION_CUM, rng.random() * REGION_CUM[-1])]

    def brand() -> str:
        return rng.choice(BRAND) + rng.choice(BRAND)

    def when(previous_share: float) -> int:
        """A day in the evaluation year, or (with the given share) in the year before."""
        if rng.random() < previous_share:
            return rng.randint(prev_lo, year_lo - 1)
        return rng.randint(year_lo, hi)

    subjects_path = out_dir / "subjects.jsonl"
    events_path = out_dir / "events.jsonl"
    width = max(7, len(str(4 * n)))
    event_no = 0
    with (
        subjects_path.open("w", encoding="utf-8", newline="") as s_out,
        events_path.open("w", encoding="utf-8", newline="") as e_out,
    ):
        write_subject = _writer(s_out)
        write_event = _writer(e_out)

        def event(sid: str, kind: str, day: int, **attrs: object) -> str:
            nonlocal event_no
            event_no += 1
            eid = f"E{event_no:0{width + 1}d}"
            write_event(
                (
                    ("id", eid),
                    ("subject_id", sid),
                    ("kind", kind),
                    ("date", iso(day)),
                    *attrs.items(),
                )
            )
            return eid

        # --- institutions -----------------------------------------------------------------------
        chain_id: str | None = None
        chain_left = 0
        chain_brand = ""
        store_no = 0
        for i in range(1, n + 1):
            sid = f"I{i:0{width}d}"
            code, place = region()
            level: str | None = None
            beds: int | None = None
            inpatient: bool | None = None
            this_chain: str | None = None
            u = rng.random()
            if u < PHARMACY_SHARE:
                if chain_left > 0:
                    category, this_chain = "pharmacy", chain_id
                    store_no += 1
                    chain_left -= 1
                    name = f"深圳{chain_brand}大药房第{store_no}店"
                elif rng.random() < CHAIN_STORE_SHARE / CHAIN_SIZE[0]:
                    category = "pharmacy_chain"
                    chain_id, chain_brand, store_no = sid, brand(), 0
                    chain_left = rng.randint(*CHAIN_SIZE)
                    name = f"深圳{chain_brand}大药房连锁有限公司"
                else:
                    category = "pharmacy"
                    name = f"深圳{place}{brand()}药房"
            elif u < PHARMACY_SHARE + CLINIC_SHARE:
                category, inpatient = "clinic", False
                name = f"深圳{place}{brand()}{rng.choice(('门诊部', '诊所', '口腔诊所'))}"
            else:
                category = "hospital"
                li = min(bisect(LEVEL_CUM, rng.random() * LEVEL_CUM[-1]), len(LEVELS) - 1)
                level, _, (b_lo, b_hi) = LEVELS[li]
                beds = rng.choice(BOUNDARY_BEDS) if rng.random() < 0.02 else rng.randint(b_lo, b_hi)
                inpatient = beds > 0
                name = f"深圳市{place}{brand()}医院"
            designated = rng.randint(date(2000, 1, 1).toordinal(), prev_lo)
            write_subject(
                (
                    ("id", sid),
                    ("type", "institution"),
                    ("category", category),
                    ("name", name),
                    ("region", code),
                    ("level", level),
                    ("beds", beds),
                    ("inpatient", inpatient),
                    ("chain_id", this_chain),
                    ("designated_on", iso(designated)),
                )
            )
            mean = PROFILES[bisect(PROFILE_CUM, rng.random() * PROFILE_CUM[-1])][0]
            drafts: list[tuple[int, str]] = []
            for _ in range(_poisson(rng, mean * 2)):  # two years: this one and the one before
                kind = ADVERSE[bisect(ADVERSE_CUM, rng.random() * ADVERSE_CUM[-1])][0]
                drafts.append((when(0.5), kind))
            if rng.random() < REWARD_SHARE:
                for _ in range(1 + _poisson(rng, 0.6)):
                    drafts.append((when(0.3), "reward"))
            drafts.sort()
            for day, kind in drafts:
                if kind == "reward":
                    event(sid, kind, day, points=rng.choice((1, 1, 2, 2, 3, 5)))
                    continue
                attrs: dict[str, object] = {}
                if kind == "violation":
                    attrs["severity"] = rng.choice(("minor", "minor", "moderate", "serious"))
                    attrs["amount"] = round(rng.lognormvariate(8.0, 1.2), 2)
                elif kind == "fraud":
                    attrs["amount"] = round(rng.lognormvariate(11.0, 1.0), 2)
                eid = event(sid, kind, day, **attrs)
                if kind != "fraud" and day < hi and rng.random() < REPAIR_SHARE:
                    event(sid, "repair", rng.randint(day + 1, hi), repairs=eid)

        # --- practitioners ----------------------------------------------------------------------
        for i in range(1, 4 * n + 1):
            sid = f"D{i:0{width}d}"
            category = "physician" if rng.random() < 0.75 else "pharmacist"
            write_subject(
                (
                    ("id", sid),
                    ("type", "practitioner"),
                    ("category", category),
                    ("institution_id", f"I{rng.randint(1, max(n, 1)):0{width}d}"),
                )
            )
            if rng.random() >= PRACTITIONER_WITH_POINTS:
                continue
            days = sorted(when(0.3) for _ in range(1 + _poisson(rng, 0.8)))
            for day in days:
                (p_lo, p_hi), _ = POINT_BANDS[bisect(BAND_CUM, rng.random() * BAND_CUM[-1])]
                event(sid, "points", day, points=rng.randint(p_lo, p_hi))

        # --- insured persons --------------------------------------------------------------------
        for i in range(1, int(n * INSURED_PER_INSTITUTION) + 1):
            sid = f"R{i:0{width}d}"
            write_subject((("id", sid), ("type", "insured")))
            if rng.random() < INSURED_FRAUD:
                event(sid, "fraud", when(0.3), amount=round(rng.lognormvariate(8.5, 1.0), 2))
    return subjects_path, events_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("n", type=int, help="number of institutions (practitioners: 4n)")
    parser.add_argument("out_dir", type=Path, help="directory for subjects.jsonl, events.jsonl")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--as-of", type=date.fromisoformat, default=date(2024, 12, 31), help="YYYY-MM-DD"
    )
    args = parser.parse_args(argv)
    subjects, events = generate(args.n, args.out_dir, args.seed, args.as_of)
    print(subjects)
    print(events)
    return 0


if __name__ == "__main__":
    sys.exit(main())
