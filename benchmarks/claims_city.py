"""A synthetic city of claims for the Huzhou audit pack (policies/huzhou_audit): a year of
clean claims that no rule may flag, with anomalies of every rule planted in it, and
near-misses planted beside them that must not hit.

    python benchmarks/claims_city.py N OUT_DIR [--seed S] [--format jsonl|csv] [--anomalies K]
        [--year Y]

writes into OUT_DIR ``subjects.jsonl`` (the institutions, in the data contract),
``insured``, ``claims``, ``lines`` and ``stock`` files (the claims contract of docs/audit.md,
``.jsonl`` or ``.csv``) and ``planted.json``: the audit period, and for each planted anomaly the
rule that must find it (HZA01..HZA14) with the claim ids, institution, insured person and item
the hit must name — and the near-misses (day 16 after a discharge, a quantity equal to its
limit, a 6-day overlap, 2 idle days, 2 pharmacies …) that no hit of their rule may name.

N is the number of claims written (clean and planted); the lines average about 10 a claim
(outpatient ~70 % of claims with ~9 lines, pharmacy ~20 % with ~5, inpatient ~10 % with ~27).
The output depends only on the arguments: one ``random.Random(seed)`` drives every choice in a
fixed order, and rows are formatted by hand (no ``json.dumps`` a row), so that a million claims
are written in a few minutes.

Why clean claims never hit — each guarantee is structural, not a matter of luck:

- every clean insured person settles at most one claim a day (distinct settlement days), so no
  card is used at 3 pharmacies or 4 outpatient institutions in a day, and no daily quantity is
  summed over two claims;
- the knowledge tables' items appear in clean claims only within their limits: the sex items
  for the right sex, the level items at institutions of the level, the bed items in stays, the
  IV infusion at most 2 a day in a stay, the 一般诊疗费 and 急诊诊查费 never in one claim; the
  age, frequency, quantity-at-pharmacy and exclusive-b items never;
- clean days' supply is 1..6 days (two supplies overlap 6 days at most), except the chronic
  patients' monthly refills (28 days from the 1st of each month, alternating two drugs of one
  ingredient), which never overlap;
- every day of a clean stay (admission day included, discharge day not) has a treatment line;
  one insured person's stays are at different hospitals (no readmission);
- inpatient diagnoses go round-robin over ten ICD-10 categories in each hospital, and a stay
  costs between X and 1.8·X of its level, so no hospital's share or cost per case can reach 3×
  or 2× its peers'; there are at least 3 hospitals of each level (2 peers for every one);
- every pharmacy billing a drug has stock records making more of it available than it bills.

Every planted case has its own insured person(s); the peer cases (HZA12, HZA13) have their own
hospitals, and the stock cases (HZA14) their own drug codes. A few planted claims are settled
outside the year: before it, as the earlier stay or prescription a finding of the year looks
back to (HZA07, HZA08), and after it, as one the audit of the year must not see.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import datetime as dt
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import IO, Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
PACK = ROOT / "policies" / "huzhou_audit"

__all__ = ["City", "generate", "main"]

# -- the knowledge points the generator relies on (checked against the pack at start) ------

SEX_F = "311201001000000"  # 宫颈细胞学检查, F only
SEX_M = "270800001000000"  # 前列腺特异性抗原测定, M only
AGE_MAX0 = "310100001000000"  # 新生儿听力筛查, max age 0
AGE_MAX14 = "340200001000000"  # 儿童发育评估, max age 14
AGE_MIN6 = "XN06BAA001A001010100101"  # min age 6 (a drug)
LEVEL3 = "330100001000000"  # 心脏介入治疗, level 3 and above
LEVEL2_DRUG = "XL01XCA001B002010100555"  # level 2 and above (a drug)
IV = "120400001000000"  # 静脉输液: 4 a day; item_a of 静脉输液/静脉注射
IV_B = "120400003000000"  # 静脉注射: item_b
COUGH = "XR05CBA036A001010103201"  # 3 a day (a drug)
HBA1C = "250301001000000"  # 1 visit a month
EMERGENCY = "110200001000000"  # 急诊诊查费: item_a
GENERAL = "001101000010000"  # 一般诊疗费: item_b
METFORMIN = ("XA10BAA017A001010100218", "XA10BAA017A001010100999")  # A10BA02
LOSARTAN = ("XC09CAL016A001010102967", "XC09CAL016A001010103000")  # C09CA01
BED, NURSING, ROUND = "001102000010000", "001103000010000", "001104000010000"

EXPECTED_KNOWLEDGE: dict[str, dict[str, dict[str, str]]] = {
    "sex_limited_items.csv": {SEX_F: {"sex": "F"}, SEX_M: {"sex": "M"}},
    "age_limited_items.csv": {
        AGE_MAX0: {"min_age": "", "max_age": "0"},
        AGE_MAX14: {"min_age": "", "max_age": "14"},
        AGE_MIN6: {"min_age": "6", "max_age": ""},
    },
    "level_limited_items.csv": {LEVEL3: {"min_level": "3"}, LEVEL2_DRUG: {"min_level": "2"}},
    "quantity_limits.csv": {IV: {"max_quantity": "4"}, COUGH: {"max_quantity": "3"}},
    "frequency_limits.csv": {HBA1C: {"max_times": "1"}},
    "drug_ingredients.csv": {
        METFORMIN[0]: {"ingredient": "A10BA02"},
        METFORMIN[1]: {"ingredient": "A10BA02"},
        LOSARTAN[0]: {"ingredient": "C09CA01"},
        LOSARTAN[1]: {"ingredient": "C09CA01"},
    },
    "bed_items.csv": {BED: {}, NURSING: {}, ROUND: {}},
}
EXPECTED_PAIRS = {(EMERGENCY, GENERAL), (IV, IV_B)}

EXPECTED_PARAMETERS: dict[str, dict[str, Any]] = {
    "HZA07": {"min_overlap_days": 7},
    "HZA08": {"days": 15, "same_institution": True, "diagnosis_match": "any"},
    "HZA09": {"min_idle_days": 3},
    "HZA10": {"min_institutions": 4},
    "HZA11": {"min_institutions": 3},
    "HZA12": {"factor": 3, "min_cases": 5, "min_peers": 2, "peers_by": "category+level"},
    "HZA13": {"factor": 2, "min_cases": 5, "min_peers": 2, "peers_by": "category+level"},
    "HZA14": {"tolerance": 0},
}


def check_pack(pack: Path = PACK) -> set[str]:
    """Fail loudly when the pack no longer says what the planted cases are built on; return
    every item code of its knowledge tables (clean catalogue codes must avoid them)."""
    codes: set[str] = set()
    folder = pack / "knowledge"
    for path in sorted(folder.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        for row in rows:
            codes.update(row[c] for c in ("item_code", "item_a", "item_b") if row.get(c))
        want = EXPECTED_KNOWLEDGE.get(path.name, {})
        by_code = {r.get("item_code"): r for r in rows}
        for code, values in want.items():
            got = by_code.get(code)
            if got is None or any(got[k] != v for k, v in values.items()):
                raise SystemExit(f"{path}: expected {code} with {values}, got {got}")
        if path.name == "exclusive_items.csv":
            pairs = {(r["item_a"], r["item_b"]) for r in rows}
            if not EXPECTED_PAIRS.issubset(pairs):
                raise SystemExit(f"{path}: expected the pairs {sorted(EXPECTED_PAIRS)}")
    model = yaml.safe_load((pack / "audit.yaml").read_text(encoding="utf-8"))
    rules = {r["id"]: r for r in model["rules"]}
    for rid, params in EXPECTED_PARAMETERS.items():
        given = {k: v["value"] for k, v in (rules[rid].get("parameters") or {}).items()}
        for k, v in params.items():
            if given.get(k) != v:
                raise SystemExit(f"{pack}/audit.yaml {rid}: expected {k} = {v}, got {given.get(k)}")
    return codes


# -- shapes ---------------------------------------------------------------------------------

LEVELS = ("一级", "二级", "三级")
RANK = {"一级": 1, "二级": 2, "三级": 3}
REGIONS = (
    ("330502", "吴兴区"),
    ("330503", "南浔区"),
    ("330521", "德清县"),
    ("330522", "长兴县"),
    ("330523", "安吉县"),
)
CLEAN_DIAGNOSES = (
    ("I63", "I63.900"),
    ("J18", "J18.900"),
    ("K35", "K35.800"),
    ("I25", "I25.103"),
    ("E11", "E11.900"),
    ("J44", "J44.100"),
    ("N18", "N18.500"),
    ("S72", "S72.001"),
    ("C34", "C34.900"),
    ("O80", "O80.000"),
)
OUTPATIENT_DIAGNOSES = ("J06.900", "K29.700", "I10.x00", "E11.900", "M54.500", "L30.900")
STAY_BASE_FEN = {"一级": 1_000_000, "二级": 1_400_000, "三级": 2_600_000}
"""X of a level, in fen: a clean stay costs X to 1.8·X (the filler line makes it so)."""
EXPENSIVE = 8
"""A planted cost-per-case outlier's stays cost 8·X: above 2× any mix of peers."""

OFFSET = 120
"""Days before the period a date may take (day 0 is the period's first): stays and look-back
prescriptions of the year before, stock received before the period."""

MAX_SETS = 19
"""Planted sets at most: each set's diagnosis outlier has its own rare category (Q80..Q98),
and its cost outlier adds 6 stays at 8·X to a level's peers."""

Line = tuple[str, str, int, int, int, int | None]
"""(item_code, item_type, day, quantity, unit price in fen, days_supply)."""


@dataclass
class Institution:
    id: str
    category: str
    level: str | None
    region: str
    name: str
    doctors: tuple[str, ...]
    stock: bool = True
    """Whether its stock movements are written (a pharmacy without them is not audited)."""
    diagnosis_turn: int = 0


@dataclass
class Item:
    code: str
    type: str
    price: int


@dataclass
class Catalogue:
    """Clean items: codes in no knowledge table, prices in fen."""

    consult: list[Item]
    tests: list[Item]
    drugs: list[Item]
    materials: list[Item]
    ward_services: list[Item]
    ward_drugs: list[Item]
    filler: Item


def _catalogue(rng: Random, taken: set[str]) -> Catalogue:
    def make(codes: Iterable[str], kind: str, low: int, high: int) -> list[Item]:
        out = []
        for code in codes:
            if code in taken:
                raise SystemExit(f"catalogue code {code} is a knowledge point of the pack")
            out.append(Item(code, kind, rng.randrange(low, high)))
        return out

    return Catalogue(
        consult=make((f"1102{i:02d}002000000" for i in range(1, 6)), "service", 500, 3000),
        tests=make((f"2504{i:03d}01000000" for i in range(1, 61)), "service", 800, 30000),
        drugs=make((f"XZ{i:04d}A001010100{i:04d}" for i in range(1, 301)), "drug", 50, 4000),
        materials=make((f"C14{i:06d}0000012345" for i in range(1, 41)), "material", 500, 20000),
        ward_services=make((f"3107{i:03d}01000000" for i in range(1, 41)), "service", 1000, 10000),
        ward_drugs=make((f"XW{i:04d}B002010100{i:04d}" for i in range(1, 81)), "drug", 100, 3000),
        filler=make(["C1499999990000012345"], "material", 1, 2)[0],
    )


def money(fen: int) -> str:
    """Fen as yuan with two decimals (``-1060`` → ``-10.60``)."""
    if fen < 0:
        return "-" + money(-fen)
    return f"{fen // 100}.{fen % 100:02d}"


# -- writers --------------------------------------------------------------------------------


class _Out:
    """A buffered text file written in chunks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.f: IO[str] = path.open("w", encoding="utf-8", newline="")
        self.buf: list[str] = []

    def put(self, row: str) -> None:
        self.buf.append(row)
        if len(self.buf) >= 100_000:
            self.flush()

    def flush(self) -> None:
        self.f.write("".join(self.buf))
        self.buf.clear()

    def close(self) -> None:
        self.flush()
        self.f.close()


@dataclass
class Planted:
    rule: str
    case: str
    claim_ids: list[str]
    institution_id: str | None = None
    insured_id: str | None = None
    item_code: str | None = None
    observed: str | None = None
    """What the hit must say it observed (the boundary value), when the case fixes it."""
    amount: str | None = None
    """The money at issue the hit must carry, when the case fixes it."""

    def to_dict(self) -> dict[str, Any]:
        out = {
            "rule": self.rule,
            "case": self.case,
            "claim_ids": sorted(self.claim_ids),
            "institution_id": self.institution_id,
            "insured_id": self.insured_id,
            "item_code": self.item_code,
        }
        if self.observed is not None:
            out["observed"] = self.observed
        if self.amount is not None:
            out["amount"] = self.amount
        return out


@dataclass
class City:
    """One city's generation: the institutions, the writers and what was planted."""

    n_claims: int
    seed: int
    out: Path
    fmt: str = "csv"
    anomalies: int = 1
    year: int = 2024
    rng: Random = field(init=False)
    hospitals: dict[str, list[Institution]] = field(init=False)
    clinics: dict[str, list[Institution]] = field(init=False)
    pharmacies: list[Institution] = field(init=False)
    dedicated: list[Institution] = field(default_factory=list)
    hits: list[Planted] = field(default_factory=list)
    misses: list[Planted] = field(default_factory=list)
    billed: dict[tuple[str, str], int] = field(default_factory=dict)
    stock_rows: list[tuple[str, str, int, str, int]] = field(default_factory=list)
    n_written: int = 0
    n_lines: int = 0
    n_insured: int = 0
    outside: list[int] = field(default_factory=lambda: [0, 0])
    """Claims and lines settled outside the period (look-back context, or after it)."""

    def __post_init__(self) -> None:
        if self.fmt not in ("csv", "jsonl"):
            raise SystemExit(f"format {self.fmt!r}: csv or jsonl")
        if not 1 <= self.anomalies <= MAX_SETS:
            raise SystemExit(f"--anomalies {self.anomalies}: 1 to {MAX_SETS} planted sets")
        self.rng = Random(self.seed)
        self.taken = check_pack()
        self.cat = _catalogue(self.rng, self.taken)
        self.start = dt.date(self.year, 1, 1)
        self.end = dt.date(self.year, 12, 31)
        self.n_days = (self.end - self.start).days + 1
        self.day_text = [
            (self.start + dt.timedelta(days=d)).isoformat()
            for d in range(-OFFSET, self.n_days + 60)
        ]
        self._institutions()

    # -- institutions -------------------------------------------------------------------

    def _inst(
        self, prefix: str, category: str, level: str | None, seq: int, kind: str
    ) -> Institution:
        code, district = REGIONS[seq % len(REGIONS)]
        iid = f"{prefix}{code}{seq:04d}"
        name = f"湖州市{district}示例{kind}{seq}"
        doctors = tuple(f"D{iid}{k:02d}" for k in range(1, 4 if category == "pharmacy" else 7))
        return Institution(iid, category, level, code, name, doctors)

    def _institutions(self) -> None:
        per_level = max(3, self.n_claims // 40_000)
        clinics_per_level = max(3, self.n_claims // 20_000)
        n_pharmacies = max(6, self.n_claims // 5_000)
        seq = 0

        def nxt() -> int:
            nonlocal seq
            seq += 1
            return seq

        self.hospitals = {
            lv: [self._inst("H", "hospital", lv, nxt(), f"{lv}医院") for _ in range(per_level)]
            for lv in LEVELS
        }
        self.clinics = {
            lv: [
                self._inst("C", "clinic", lv, nxt(), f"{lv}门诊部")
                for _ in range(clinics_per_level)
            ]
            for lv in LEVELS[:2]
        }
        self.pharmacies = [
            self._inst("Y", "pharmacy", None, nxt(), "药房") for _ in range(n_pharmacies)
        ]
        self._seq = seq
        self.outpatient_places = [
            *(h for lv in LEVELS for h in self.hospitals[lv]),
            *(c for lv in LEVELS[:2] for c in self.clinics[lv]),
        ]
        self.all_hospitals = [h for lv in LEVELS for h in self.hospitals[lv]]

    def dedicated_hospital(self, level: str, why: str) -> Institution:
        self._seq += 1
        h = self._inst("H", "hospital", level, self._seq, f"{level}医院({why})")
        self.dedicated.append(h)
        return h

    def dedicated_pharmacy(self, why: str, stock: bool) -> Institution:
        self._seq += 1
        p = self._inst("Y", "pharmacy", None, self._seq, f"药房({why})")
        p.stock = stock
        self.dedicated.append(p)
        return p

    # -- writing ------------------------------------------------------------------------

    def open(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        ext = self.fmt
        self.f_insured = _Out(self.out / f"insured.{ext}")
        self.f_claims = _Out(self.out / f"claims.{ext}")
        self.f_lines = _Out(self.out / f"lines.{ext}")
        if ext == "csv":
            self.f_insured.put("id,sex,birth_date,region\n")
            self.f_claims.put(
                "id,institution_id,insured_id,practitioner_id,setting,date,admitted_on,"
                "discharged_on,diagnosis,total,fund_paid\n"
            )
            self.f_lines.put(
                "id,claim_id,item_code,item_type,date,quantity,unit_price,amount,days_supply\n"
            )

    def day(self, d: int) -> str:
        return self.day_text[d + OFFSET]

    def insured(self, sex: str, birth: dt.date) -> str:
        self.n_insured += 1
        pid = f"P{self.n_insured:08d}"
        region = REGIONS[self.n_insured % len(REGIONS)][0]
        b = birth.isoformat()
        if self.fmt == "csv":
            self.f_insured.put(f"{pid},{sex},{b},{region}\n")
        else:
            self.f_insured.put(
                f'{{"id": "{pid}", "sex": "{sex}", "birth_date": "{b}", "region": "{region}"}}\n'
            )
        return pid

    def claim(
        self,
        inst: Institution,
        pid: str,
        setting: str,
        day: int,
        lines: Sequence[Line],
        *,
        admitted: int | None = None,
        diagnosis: str | None = None,
    ) -> str:
        """Write one claim and its lines; ``day`` is the settlement (the discharge, for a
        stay). Pharmacy drug lines count towards the stock the pharmacy must hold."""
        self.n_written += 1
        cid = f"C{self.n_written:09d}"
        rng = self.rng
        doctor = inst.doctors[int(rng.random() * len(inst.doctors))]
        total = 0
        csv_out = self.fmt == "csv"
        put = self.f_lines.put
        n = self.n_lines
        pharmacy = setting == "pharmacy"
        billed = self.billed
        for code, kind, d, qty, price, days in lines:
            n += 1
            amount = qty * price
            total += amount
            if csv_out:
                put(
                    f"L{n:010d},{cid},{code},{kind},{self.day_text[d + OFFSET]},{qty},"
                    f"{price // 100}.{price % 100:02d},{money(amount)},"
                    f"{'' if days is None else days}\n"
                )
            else:
                ds = "" if days is None else f', "days_supply": {days}'
                put(
                    f'{{"id": "L{n:010d}", "claim_id": "{cid}", "item_code": "{code}", '
                    f'"item_type": "{kind}", "date": "{self.day_text[d + OFFSET]}", '
                    f'"quantity": {qty}, "unit_price": "{price // 100}.{price % 100:02d}", '
                    f'"amount": "{money(amount)}"{ds}}}\n'
                )
            if pharmacy and kind == "drug":
                key = (inst.id, code)
                billed[key] = billed.get(key, 0) + qty
        if not 0 <= day < self.n_days:
            self.outside[0] += 1
            self.outside[1] += n - self.n_lines
        self.n_lines = n
        if total < 0:
            raise AssertionError(f"claim {cid} would total {total} fen")
        fund = total * (70 + int(rng.random() * 21)) // 100
        date = self.day(day)
        adm = "" if admitted is None else self.day(admitted)
        dis = date if admitted is not None else ""
        diag = diagnosis or ""
        if csv_out:
            self.f_claims.put(
                f"{cid},{inst.id},{pid},{doctor},{setting},{date},{adm},{dis},{diag},"
                f"{money(total)},{money(fund)}\n"
            )
        else:
            stay = (
                f', "admitted_on": "{adm}", "discharged_on": "{dis}"'
                if admitted is not None
                else ""
            )
            dg = f', "diagnosis": "{diag}"' if diag else ""
            self.f_claims.put(
                f'{{"id": "{cid}", "institution_id": "{inst.id}", "insured_id": "{pid}", '
                f'"practitioner_id": "{doctor}", "setting": "{setting}", "date": "{date}"'
                f'{stay}{dg}, "total": "{money(total)}", "fund_paid": "{money(fund)}"}}\n'
            )
        return cid

    # -- clean claims -------------------------------------------------------------------

    def outpatient_lines(self, inst: Institution, sex: str, day: int) -> list[Line]:
        rng, cat = self.rng, self.cat
        r = rng.random
        out: list[Line] = []
        if inst.category == "clinic":
            out.append((GENERAL, "service", day, 1, 1000, None))
        elif r() < 0.1:
            out.append((EMERGENCY, "service", day, 1, 2500, None))
        else:
            c = cat.consult[int(r() * len(cat.consult))]
            out.append((c.code, c.type, day, 1, c.price, None))
        for t in rng.sample(cat.tests, 1 + int(r() * 5)):
            out.append((t.code, t.type, day, 1 + int(r() * 3), t.price, None))
        if r() < 0.03:
            out.append((SEX_F if sex == "F" else SEX_M, "service", day, 1, 6000, None))
        for g in rng.sample(cat.drugs, 2 + int(r() * 6)):
            days = 1 + int(r() * 6)
            out.append((g.code, g.type, day, days * (1 + int(r() * 2)), g.price, days))
        if inst.level in ("二级", "三级") and r() < 0.05:
            days = 1 + int(r() * 6)
            out.append((LEVEL2_DRUG, "drug", day, days, 3500, days))
        if r() < 0.5:
            m = cat.materials[int(r() * len(cat.materials))]
            out.append((m.code, m.type, day, 1, m.price, None))
        if r() < 0.03:  # a partial refund of a test billed twice or more
            for code, kind, d, qty, price, _ in out:
                if kind == "service" and qty >= 2:
                    out.append((code, kind, d, -1, price, None))
                    break
        return out

    def pharmacy_lines(self, day: int) -> list[Line]:
        rng, r = self.rng, self.rng.random
        out: list[Line] = []
        for g in rng.sample(self.cat.drugs, 2 + int(r() * 8)):
            days = 1 + int(r() * 6)
            out.append((g.code, g.type, day, days * (1 + int(r() * 2)), g.price, days))
        return out

    def stay_lines(
        self,
        inst: Institution,
        admitted: int,
        length: int,
        *,
        idle: Iterable[int] = (),
        refunded_treatment: Iterable[int] = (),
        factor: int = 1,
    ) -> list[Line]:
        """A stay's lines: tests and the filler on the admission day, then each day of the
        stay (discharge day excluded) bed, nursing and ward round and, unless the day is
        ``idle``, treatment; on a ``refunded_treatment`` day a treatment billed and refunded.
        The filler brings the total to X..1.8·X of the level (``factor``·X for an outlier)."""
        rng, cat, r = self.rng, self.cat, self.rng.random
        idle = set(idle)
        refunded = set(refunded_treatment)
        if 0 in idle | refunded and length > 0:
            raise ValueError("the admission day carries the filler: it is never idle")
        out: list[Line] = [
            (t.code, t.type, admitted, 1, t.price, None)
            for t in rng.sample(cat.tests, 2 + int(r() * 3))
        ]
        if inst.level == "三级" and r() < 0.1:
            out.append((LEVEL3, "service", admitted, 1, 800_000, None))
        for k in range(length):
            d = admitted + k
            out.append((BED, "service", d, 1, 6000, None))
            out.append((NURSING, "service", d, 1, 3000, None))
            out.append((ROUND, "service", d, 1, 1500, None))
            if k in idle:
                continue
            if k in refunded:
                s = cat.ward_services[int(r() * len(cat.ward_services))]
                out.append((s.code, s.type, d, 1, s.price, None))
                out.append((s.code, s.type, d, -1, s.price, None))
                continue
            for _ in range(1 + int(r() * 2)):
                if r() < 0.5:
                    s = cat.ward_services[int(r() * len(cat.ward_services))]
                else:
                    s = cat.ward_drugs[int(r() * len(cat.ward_drugs))]
                out.append((s.code, s.type, d, 1 + int(r() * 2), s.price, None))
            if r() < 0.3:
                out.append((IV, "service", d, 1 + int(r() * 2), 1200, None))
        base = STAY_BASE_FEN[inst.level or "一级"]
        spent = sum(q * p for _, _, _, q, p, _ in out)
        if spent >= base:
            raise AssertionError(f"a stay's lines ({spent} fen) exceed the level's base {base}")
        target = base * factor + int(r() * base * 0.8)
        out.append((cat.filler.code, "material", admitted, 1, target - spent, None))
        return out

    def stay(
        self,
        inst: Institution,
        pid: str,
        discharged: int,
        length: int,
        *,
        diagnosis: str | None = None,
        **kw: Any,
    ) -> str:
        """A stay settled on its discharge day; ``diagnosis`` None takes the hospital's next
        clean category in turn, ``""`` gives none."""
        admitted = discharged - length
        lines = self.stay_lines(inst, admitted, length, **kw)
        if diagnosis is None:
            diagnosis = CLEAN_DIAGNOSES[inst.diagnosis_turn % len(CLEAN_DIAGNOSES)][1]
            inst.diagnosis_turn += 1
        return self.claim(
            inst, pid, "inpatient", discharged, lines, admitted=admitted, diagnosis=diagnosis
        )

    def clean(self, count: int) -> None:
        """``count`` clean claims, insured person by insured person."""
        rng, r = self.rng, self.rng.random
        left = count
        n_days = self.n_days
        while left > 0:
            sex = "F" if r() < 0.5 else "M"
            birth = dt.date(1940 + int(r() * 80), 1 + int(r() * 12), 1 + int(r() * 28))
            pid = self.insured(sex, birth)
            if left >= 12 and r() < 0.02:  # a chronic patient: monthly refills, never overlapping
                pharmacy = self.pharmacies[int(r() * len(self.pharmacies))]
                for month in range(12):
                    d = (dt.date(self.year, month + 1, 1) - self.start).days
                    lines: list[Line] = [
                        (METFORMIN[month % 2], "drug", d, 56, 120, 28),
                        (LOSARTAN[month % 2], "drug", d, 28, 210, 28),
                    ]
                    self.claim(pharmacy, pid, "pharmacy", d, lines)
                left -= 12
                continue
            k = min(left, 1 + int(rng.expovariate(0.25)), 40)
            used: set[str] = set()
            for day in sorted(rng.sample(range(n_days), k)):
                u = r()
                if u < 0.105:
                    free = [h for h in self.all_hospitals if h.id not in used]
                    if free:
                        h = free[int(r() * len(free))]
                        used.add(h.id)
                        length = 0 if r() < 0.05 else 2 + int(r() * 7)
                        self.stay(h, pid, day, length)
                        continue
                    u = 0.5
                if u < 0.265:
                    p = self.pharmacies[int(r() * len(self.pharmacies))]
                    self.claim(p, pid, "pharmacy", day, self.pharmacy_lines(day))
                else:
                    places = self.outpatient_places
                    inst = places[int(r() * len(places))]
                    self.claim(
                        inst,
                        pid,
                        "outpatient",
                        day,
                        self.outpatient_lines(inst, sex, day),
                        diagnosis=OUTPATIENT_DIAGNOSES[int(r() * len(OUTPATIENT_DIAGNOSES))],
                    )
            left -= k

    # -- planted cases ------------------------------------------------------------------

    def plain(self, setting: str, day: int) -> list[Line]:
        """A few catalogue lines and nothing of the knowledge tables."""
        cat, rng = self.cat, self.rng
        drugs: list[Line] = [(g.code, g.type, day, 2, g.price, 2) for g in rng.sample(cat.drugs, 2)]
        if setting == "pharmacy":
            return drugs
        t = cat.tests[int(rng.random() * len(cat.tests))]
        return [(t.code, t.type, day, 1, t.price, None), *drugs]

    def person(self, sex: str = "F", birth: dt.date | None = None) -> str:
        return self.insured(sex, birth or dt.date(1970, 5, 17))

    def hit(self, rule: str, case: str, claims: list[str], **kw: Any) -> None:
        self.hits.append(Planted(rule, case, claims, **kw))

    def miss(self, rule: str, case: str, claims: list[str], **kw: Any) -> None:
        self.misses.append(Planted(rule, case, claims, **kw))

    def _day_of(self, month: int, day: int) -> int:
        return (dt.date(self.year, month, day) - self.start).days

    def plant(self, rep: int) -> None:
        """One set of planted cases of every rule (``rep`` picks institutions and days)."""
        rng = self.rng
        lv1 = self.hospitals["一级"][rep % len(self.hospitals["一级"])]
        lv2 = self.hospitals["二级"][rep % len(self.hospitals["二级"])]
        lv3 = self.hospitals["三级"][rep % len(self.hospitals["三级"])]
        clinic2 = self.clinics["二级"][rep % len(self.clinics["二级"])]
        places = self.outpatient_places
        pharm = self.pharmacies
        base = 20 + (rep * 37) % 200  # a day of the year, away from its ends
        op = "outpatient"

        def visit(
            inst: Institution, pid: str, day: int, extra: list[Line], setting: str = op
        ) -> str:
            return self.claim(inst, pid, setting, day, [*self.plain(setting, day), *extra])

        # HZA01 限性别
        d = base
        p = self.person("M")
        c = visit(lv2, p, d, [(SEX_F, "service", d, 1, 6000, None)])
        self.hit("HZA01", "F-only item for a man", [c], institution_id=lv2.id, insured_id=p,
                 item_code=SEX_F, amount="60.00")  # fmt: skip
        p = self.person("F")
        c = visit(lv3, p, d, [(SEX_M, "service", d, 1, 8000, None)])
        self.hit("HZA01", "M-only item for a woman", [c], institution_id=lv3.id, insured_id=p,
                 item_code=SEX_M, amount="80.00")  # fmt: skip
        p = self.person("F")
        c = visit(lv2, p, d, [(SEX_F, "service", d, 1, 6000, None)])
        self.miss("HZA01", "F-only item for a woman", [c], insured_id=p)

        # HZA02 限年龄 (以下/以上 include the number: the birthday is the boundary)
        d = self._day_of(3 + rep % 9, 15)
        on = self.start + dt.timedelta(days=d)
        cases: list[tuple[str, str, int, int, bool, str]] = [
            (AGE_MAX14, "service", 15, 0, True, "max 14: on the 15th birthday"),
            (AGE_MAX14, "service", 15, 1, False, "max 14: the day before the 15th birthday"),
            (AGE_MIN6, "drug", 6, 1, True, "min 6: the day before the 6th birthday"),
            (AGE_MIN6, "drug", 6, 0, False, "min 6: on the 6th birthday"),
            (AGE_MAX0, "service", 1, 0, True, "max 0: on the 1st birthday"),
            (AGE_MAX0, "service", 1, 1, False, "max 0: the day before the 1st birthday"),
        ]
        for code, kind, years, later, hits, case in cases:
            age = str(years - later)
            birth = on.replace(year=on.year - years) + dt.timedelta(days=later)
            p = self.person("M", birth)
            ds = 3 if kind == "drug" else None
            c = visit(lv3, p, d, [(code, kind, d, 1, 2000, ds)])
            if hits:
                self.hit("HZA02", case, [c], institution_id=lv3.id, insured_id=p, item_code=code,
                         observed=age, amount="20.00")  # fmt: skip
            else:
                self.miss("HZA02", case, [c], insured_id=p)

        # HZA03 限医疗机构级别
        p = self.person()
        c = visit(lv1, p, d, [(LEVEL2_DRUG, "drug", d, 3, 3500, 3)])
        self.hit("HZA03", "level-2 drug at a 一级 hospital", [c], institution_id=lv1.id,
                 insured_id=p, item_code=LEVEL2_DRUG, observed="一级", amount="105.00")  # fmt: skip
        p = self.person()
        c = visit(lv2, p, d, [(LEVEL3, "service", d, 1, 800_000, None)])
        self.hit("HZA03", "level-3 service at a 二级 hospital", [c], institution_id=lv2.id,
                 insured_id=p, item_code=LEVEL3, observed="二级", amount="8000.00")  # fmt: skip
        p = self.person()
        c = visit(clinic2, p, d, [(LEVEL2_DRUG, "drug", d, 3, 3500, 3)])
        self.miss("HZA03", "level-2 drug at a 二级 clinic (the level itself)", [c], insured_id=p)

        # HZA04 超单日限量 (4 a day: 5 breaks it, 4 keeps it)
        d = base + 3
        p = self.person()
        c = visit(lv2, p, d, [(IV, "service", d, 5, 1200, None)])
        self.hit("HZA04", "5 infusions in a day (limit 4)", [c], institution_id=lv2.id,
                 insured_id=p, item_code=IV, observed="5", amount="12.00")  # fmt: skip
        p = self.person()
        c1 = visit(lv3, p, d, [(IV, "service", d, 3, 1200, None)])
        c2 = visit(lv3, p, d, [(IV, "service", d, 2, 1200, None)])
        self.hit("HZA04", "3 + 2 infusions in two claims of one day", [c1, c2],
                 institution_id=lv3.id, insured_id=p, item_code=IV, observed="5",
                 amount="12.00")  # fmt: skip
        p = self.person()
        c = visit(lv2, p, d, [(IV, "service", d, 4, 1200, None)])
        self.miss("HZA04", "4 infusions in a day (the limit)", [c], insured_id=p)
        p = self.person()
        c = visit(
            lv2, p, d, [(IV, "service", d, 6, 1200, None), (IV, "service", d, -2, 1200, None)]
        )
        self.miss("HZA04", "6 infusions, 2 refunded", [c], insured_id=p)
        p = self.person()
        c1 = visit(lv2, p, d, [(IV, "service", d, 3, 1200, None)])
        c2 = visit(lv3, p, d, [(IV, "service", d, 2, 1200, None)])
        self.miss("HZA04", "3 + 2 infusions at two institutions", [c1, c2], insured_id=p)
        p = self.person()
        ph = pharm[rep % len(pharm)]
        c = visit(ph, p, d, [(COUGH, "drug", d, 4, 1800, 1)], "pharmacy")
        self.hit("HZA04", "4 of a 3-a-day drug at a pharmacy", [c], institution_id=ph.id,
                 insured_id=p, item_code=COUGH, observed="4", amount="18.00")  # fmt: skip
        p = self.person()
        c = visit(ph, p, d, [(COUGH, "drug", d, 3, 1800, 1)], "pharmacy")
        self.miss("HZA04", "3 of a 3-a-day drug (the limit)", [c], insured_id=p)

        # HZA05 超每月限次 (1 visit a calendar month)
        p = self.person()
        m = 3 + rep % 8
        c1 = visit(
            lv2, p, self._day_of(m, 3), [(HBA1C, "service", self._day_of(m, 3), 1, 5000, None)]
        )
        c2 = visit(
            lv2, p, self._day_of(m, 28), [(HBA1C, "service", self._day_of(m, 28), 1, 5000, None)]
        )
        self.hit("HZA05", "two visits in one month", [c1, c2], institution_id=lv2.id,
                 insured_id=p, item_code=HBA1C, observed="2", amount="50.00")  # fmt: skip
        p = self.person()
        d1, d2 = self._day_of(m, calendar.monthrange(self.year, m)[1]), self._day_of(m + 1, 1)
        c1 = visit(lv2, p, d1, [(HBA1C, "service", d1, 1, 5000, None)])
        c2 = visit(lv2, p, d2, [(HBA1C, "service", d2, 1, 5000, None)])
        self.miss(
            "HZA05", "the last day of a month and the first of the next", [c1, c2], insured_id=p
        )
        p = self.person()
        d1, d2 = self._day_of(m, 5), self._day_of(m, 20)
        c1 = visit(lv2, p, d1, [(HBA1C, "service", d1, 1, 5000, None)])
        c2 = visit(lv3, p, d2, [(HBA1C, "service", d2, 1, 5000, None)])
        self.miss("HZA05", "one month, two institutions", [c1, c2], insured_id=p)
        p = self.person()
        c1 = visit(lv3, p, d1, [(HBA1C, "service", d1, 1, 5000, None)])
        c2 = visit(lv3, p, d2, [(HBA1C, "service", d2, 1, 5000, None),
                                (HBA1C, "service", d2, -1, 5000, None)])  # fmt: skip
        self.miss("HZA05", "the second visit's test refunded", [c1, c2], insured_id=p)

        # HZA06 互斥项目 (one visit)
        d = base + 5
        p = self.person()
        c = visit(lv2, p, d, [(EMERGENCY, "service", d, 1, 2500, None),
                              (GENERAL, "service", d, 1, 1000, None)])  # fmt: skip
        self.hit("HZA06", "急诊诊查费 and 一般诊疗费 in one visit", [c], institution_id=lv2.id,
                 insured_id=p, item_code=GENERAL, observed=EMERGENCY, amount="10.00")  # fmt: skip
        p = self.person()
        c = visit(
            lv3, p, d, [(IV, "service", d, 1, 1200, None), (IV_B, "service", d, 1, 800, None)]
        )
        self.hit("HZA06", "infusion and injection in one visit", [c], institution_id=lv3.id,
                 insured_id=p, item_code=IV_B, observed=IV, amount="8.00")  # fmt: skip
        p = self.person()
        c1 = visit(lv2, p, d, [(EMERGENCY, "service", d, 1, 2500, None)])
        c2 = visit(lv2, p, d, [(GENERAL, "service", d, 1, 1000, None)])
        self.miss("HZA06", "the pair in two visits of one day", [c1, c2], insured_id=p)
        p = self.person()
        c = visit(lv2, p, d, [(EMERGENCY, "service", d, 1, 2500, None),
                              (EMERGENCY, "service", d, -1, 2500, None),
                              (GENERAL, "service", d, 1, 1000, None)])  # fmt: skip
        self.miss("HZA06", "item_a refunded in the visit", [c], insured_id=p)

        # HZA07 用药重复性 (overlap of 7 days or more, in different claims)
        d = base + 10
        ph2 = pharm[(rep + 1) % len(pharm)]
        p = self.person()
        c1 = visit(lv2, p, d, [(METFORMIN[0], "drug", d, 60, 120, 30)])
        c2 = visit(ph, p, d + 23, [(METFORMIN[1], "drug", d + 23, 60, 120, 30)], "pharmacy")
        self.hit("HZA07", "overlap of exactly 7 days, two makers of one ingredient", [c1, c2],
                 institution_id=ph.id, insured_id=p, item_code="A10BA02", observed="7",
                 amount="72.00")  # fmt: skip
        p = self.person()
        own = f"XZ9{rep:03d}A001010100{rep:04d}"
        c1 = visit(ph, p, d, [(own, "drug", d, 14, 300, 14)], "pharmacy")
        c2 = visit(ph2, p, d + 4, [(own, "drug", d + 4, 14, 300, 14)], "pharmacy")
        self.hit("HZA07", "overlap of 10 days at two pharmacies, same code", [c1, c2],
                 institution_id=ph2.id, insured_id=p, item_code=own, observed="10",
                 amount="42.00")  # fmt: skip
        p = self.person()
        c1 = visit(lv3, p, d, [(LOSARTAN[0], "drug", d, 30, 210, 30)])
        c2 = visit(ph2, p, d + 24, [(LOSARTAN[1], "drug", d + 24, 30, 210, 30)], "pharmacy")
        self.miss("HZA07", "overlap of 6 days", [c1, c2], insured_id=p)
        p = self.person()
        c1 = visit(ph, p, d, [(METFORMIN[0], "drug", d, 60, 120, 30),
                              (METFORMIN[0], "drug", d, -60, 120, None)], "pharmacy")  # fmt: skip
        c2 = visit(ph2, p, d + 10, [(METFORMIN[1], "drug", d + 10, 60, 120, 30)], "pharmacy")
        self.miss("HZA07", "the earlier prescription refunded whole", [c1, c2], insured_id=p)
        p = self.person()
        c = visit(ph, p, d, [(METFORMIN[0], "drug", d, 30, 120, 30),
                             (METFORMIN[1], "drug", d, 30, 120, 30)], "pharmacy")  # fmt: skip
        self.miss("HZA07", "two makers of one ingredient in one claim", [c], insured_id=p)

        # HZA08 分解住院 (readmitted within 15 days, day 15 included, same institution)
        d = base + 20
        for gap, hits, case, second in (
            (15, True, "readmitted on day 15", lv2),
            (0, True, "readmitted on the discharge day", lv3),
            (16, False, "readmitted on day 16", lv2),
            (5, False, "readmitted on day 5 at another hospital", lv1),
        ):
            first = lv3 if second is lv1 else second
            p = self.person()
            c1 = self.stay(first, p, d, 4)
            c2 = self.stay(second, p, d + gap + 3, 3)
            if hits:
                self.hit("HZA08", case, [c1, c2], institution_id=second.id, insured_id=p,
                         observed=str(gap))  # fmt: skip
            else:
                self.miss("HZA08", case, [c1, c2], insured_id=p)

        # HZA09 挂床住院 (3 idle days or more; the discharge day does not count)
        d = base + 30
        p = self.person()
        c = self.stay(lv2, p, d, 6, idle=(1, 2, 4))
        self.hit("HZA09", "3 idle days exactly", [c], institution_id=lv2.id, insured_id=p,
                 observed="3", amount="315.00")  # fmt: skip
        p = self.person()
        c = self.stay(lv3, p, d, 6, idle=(2, 3), refunded_treatment=(4,))
        self.hit("HZA09", "2 idle days and a day whose treatment was refunded", [c],
                 institution_id=lv3.id, insured_id=p, observed="3", amount="315.00")  # fmt: skip
        p = self.person()
        c = self.stay(lv2, p, d, 6, idle=(1, 2))
        self.miss("HZA09", "2 idle days", [c], insured_id=p)
        p = self.person()
        c = self.stay(lv1, p, d, 5, idle=(3, 4))  # the discharge day carries no line either
        self.miss("HZA09", "2 idle days before an untreated discharge day", [c], insured_id=p)

        # HZA10 / HZA11 就诊轨迹, 套刷药品 (one card, one day)
        d = base + 40
        spots = rng.sample(places, 4)
        p = self.person()
        cs = [visit(x, p, d, []) for x in spots]
        self.hit("HZA10", "4 outpatient institutions in a day", cs, insured_id=p, observed="4")
        p = self.person()
        cs = [visit(x, p, d, []) for x in spots[:3]]
        self.miss("HZA10", "3 outpatient institutions in a day", cs, insured_id=p)
        p = self.person()
        cs = [visit(x, p, d, []) for x in spots[:3]] + [visit(ph, p, d, [], "pharmacy")]
        self.miss("HZA10", "3 outpatient institutions and a pharmacy", cs, insured_id=p)
        self.miss("HZA11", "3 outpatient institutions and a pharmacy", cs, insured_id=p)
        shops = rng.sample(pharm, 3)
        p = self.person()
        cs = [visit(x, p, d, [], "pharmacy") for x in shops]
        self.hit("HZA11", "3 pharmacies in a day", cs, insured_id=p, observed="3")
        p = self.person()
        cs = [visit(x, p, d, [], "pharmacy") for x in (shops[0], shops[1], shops[1])]
        self.miss("HZA11", "2 pharmacies in a day (3 claims)", cs, insured_id=p)

        # HZA07 / HZA08 look back: an earlier claim settled before the period is context of a
        # finding about a claim of the period; a claim settled after it is not audited
        p = self.person()
        c1 = self.stay(lv2, p, -7 - rep, 4)
        c2 = self.stay(lv2, p, 7, 3)
        self.hit("HZA08", "the first stay settled before the period", [c1, c2],
                 institution_id=lv2.id, insured_id=p, observed=str(11 + rep))  # fmt: skip
        p = self.person()
        c1 = self.stay(lv3, p, -40, 3)
        c2 = self.stay(lv3, p, -30, 3)
        self.miss("HZA08", "both stays settled before the period", [c1, c2], insured_id=p)
        own = f"XZ9{rep:03d}A001010101{rep:04d}"
        p = self.person()
        c1 = visit(ph, p, -12, [(own, "drug", -12, 30, 300, 30)], "pharmacy")
        c2 = visit(ph2, p, 10, [(own, "drug", 10, 30, 300, 30)], "pharmacy")
        self.hit("HZA07", "overlap of 8 days with a prescription of the year before", [c1, c2],
                 institution_id=ph2.id, insured_id=p, item_code=own, observed="8",
                 amount="90.00")  # fmt: skip
        p = self.person()
        last = self.n_days - 5
        c1 = visit(ph, p, last, [(own, "drug", last, 30, 300, 30)], "pharmacy")
        c2 = visit(ph2, p, last + 8, [(own, "drug", last + 8, 30, 300, 30)], "pharmacy")
        self.miss("HZA07", "the overlapping prescription is settled after the period", [c1, c2],
                  insured_id=p)  # fmt: skip

        # HZA12 / HZA13 peers: each case has its own hospital, in a group of >= 3 peers
        h12 = self.dedicated_hospital(LEVELS[(rep + 1) % 3], "诊断分布")
        rare = f"Q{80 + rep:02d}"
        cs = [
            self.stay(h12, self.person(), base + 50 + 3 * k, 3, diagnosis=f"{rare}.{k:03d}")
            for k in range(6)
        ]
        self.hit("HZA12", f"6 cases of {rare}, which peers never see", cs, institution_id=h12.id,
                 item_code=rare, observed="6/6")  # fmt: skip
        h12m = self.dedicated_hospital(LEVELS[rep % 3], "诊断分布-少于5例")
        rare_m = f"R{80 + rep:02d}"
        cs = [
            self.stay(h12m, self.person(), base + 50 + 3 * k, 3, diagnosis=f"{rare_m}.{k:03d}")
            for k in range(4)
        ]
        self.miss("HZA12", "4 cases of a diagnosis peers never see (min 5)", cs,
                  institution_id=h12m.id)  # fmt: skip
        h12n = self.dedicated_hospital(LEVELS[(rep + 2) % 3], "诊断缺失")
        cs = [self.stay(h12n, self.person(), base + 50 + 3 * k, 3, diagnosis="") for k in range(6)]
        self.miss("HZA12", "6 cases without a diagnosis: cases, but no category", cs,
                  institution_id=h12n.id)  # fmt: skip
        h13 = self.dedicated_hospital(LEVELS[(rep + 2) % 3], "次均费用")
        cs = [
            self.stay(h13, self.person(), base + 50 + 3 * k, 3, factor=EXPENSIVE) for k in range(6)
        ]
        self.hit("HZA13", "6 cases at 8 times the level's cost", cs, institution_id=h13.id)
        h13m = self.dedicated_hospital(LEVELS[(rep + 1) % 3], "次均费用-少于5例")
        cs = [
            self.stay(h13m, self.person(), base + 50 + 3 * k, 3, factor=EXPENSIVE) for k in range(4)
        ]
        self.miss("HZA13", "4 cases at 8 times the cost (min 5)", cs, institution_id=h13m.id)

        # HZA14 药品进销存 (billed above opening balance + receipts; sales out are not counted)
        d = base + 60
        code = f"XZ8{rep:03d}A001010100{rep:04d}"
        cs = [visit(ph, self.person(), d + 10 * k, [(code, "drug", d + 10 * k, 10, 500, 5)],
                    "pharmacy") for k in range(3)]  # fmt: skip
        self.hit("HZA14", "30 billed, 29 available", cs[2:], institution_id=ph.id, item_code=code,
                 observed="30", amount="5.00")  # fmt: skip
        self._stock(
            ph, code, [(-20, "in", 15), (-10, "out", 3), (d - 1, "in", 17), (d + 30, "out", 30)]
        )
        code = f"XZ7{rep:03d}A001010100{rep:04d}"
        cs = [visit(ph, self.person(), d + 10 * k, [(code, "drug", d + 10 * k, 10, 500, 5)],
                    "pharmacy") for k in range(3)]  # fmt: skip
        self.hit("HZA14", "30 billed, 15 available: the excess over two claims", cs[1:],
                 institution_id=ph.id, item_code=code, observed="30", amount="75.00")  # fmt: skip
        self._stock(ph, code, [(-20, "in", 15)])
        code = f"XZ6{rep:03d}A001010100{rep:04d}"
        cs = [visit(ph2, self.person(), d + 10 * k, [(code, "drug", d + 10 * k, 10, 500, 5)],
                    "pharmacy") for k in range(3)]  # fmt: skip
        self.miss("HZA14", "30 billed, 30 available", cs, institution_id=ph2.id, item_code=code)
        self._stock(
            ph2, code, [(-20, "in", 20), (-10, "out", 5), (d - 1, "in", 15), (d + 30, "out", 30)]
        )
        bare = self.dedicated_pharmacy("无进销存记录", stock=False)
        cs = [visit(bare, self.person(), d, [(code, "drug", d, 10, 500, 5)], "pharmacy")]
        self.miss("HZA14", "a pharmacy without stock records is not audited", cs,
                  institution_id=bare.id, item_code=code)  # fmt: skip
        # these planted codes carry their own stock: not the clean cover
        for key in [k for k in self.billed if k[1].startswith(("XZ8", "XZ7", "XZ6"))]:
            del self.billed[key]

    def _stock(self, inst: Institution, code: str, moves: list[tuple[int, str, int]]) -> None:
        for day, direction, qty in moves:
            self.stock_rows.append((inst.id, code, day, direction, qty))

    def planted_claims(self) -> int:
        """How many claims one set of planted cases writes (measured on a scratch city)."""
        scratch = City(self.n_claims, self.seed, self.out / ".scratch", "csv", 1, self.year)
        scratch.open()
        scratch.plant(0)
        for f in (scratch.f_insured, scratch.f_claims, scratch.f_lines):
            f.close()
            f.path.unlink()
        scratch.out.rmdir()
        return scratch.n_written

    # -- the whole city -----------------------------------------------------------------

    def write_stock(self) -> None:
        """Stock movements: for each pharmacy drug billed, opening receipts and issues before
        the period, receipts in it, and the sales recorded as issues (which the rule ignores),
        leaving more available than billed."""
        rng = self.rng
        cover = {i.id for i in [*self.pharmacies, *self.dedicated] if i.stock}
        for (iid, code), qty in sorted(self.billed.items()):
            if iid not in cover:
                continue
            half = max(qty, 0) // 2
            mid = 100 + int(rng.random() * 150)
            moves = [(-30, "in", half + 5), (-15, "out", 5), (mid, "in", max(qty, 0) - half + 1)]
            if qty > 0:
                moves.append((mid + 30, "out", qty))
            self.stock_rows.extend((iid, code, d, di, q) for d, di, q in moves)
        f = _Out(self.out / f"stock.{self.fmt}")
        if self.fmt == "csv":
            f.put("id,institution_id,item_code,date,direction,quantity\n")
        for n, (iid, code, day, direction, qty) in enumerate(self.stock_rows, 1):
            if self.fmt == "csv":
                f.put(f"S{n:08d},{iid},{code},{self.day(day)},{direction},{qty}\n")
            else:
                f.put(
                    f'{{"id": "S{n:08d}", "institution_id": "{iid}", "item_code": "{code}", '
                    f'"date": "{self.day(day)}", "direction": "{direction}", "quantity": {qty}}}\n'
                )
        f.close()

    def write_subjects(self) -> None:
        insts = [
            *self.all_hospitals,
            *(c for lv in LEVELS[:2] for c in self.clinics[lv]),
            *self.pharmacies,
            *self.dedicated,
        ]
        with (self.out / "subjects.jsonl").open("w", encoding="utf-8") as f:
            for i in insts:
                row: dict[str, Any] = {"id": i.id, "type": "institution", "category": i.category}
                row["name"] = i.name
                row["region"] = i.region
                if i.level is not None:
                    row["level"] = i.level
                row["inpatient"] = i.category == "hospital"
                f.write(json.dumps(row, ensure_ascii=False) + "\n")

    def run(self) -> dict[str, Any]:
        per_set = self.planted_claims()
        planted = per_set * self.anomalies
        if planted > self.n_claims:
            raise SystemExit(f"{self.n_claims} claims cannot hold {planted} planted ones")
        self.open()
        self.clean(self.n_claims - planted)
        for rep in range(self.anomalies):
            self.plant(rep)
        if self.n_written != self.n_claims:
            raise AssertionError(f"wrote {self.n_written} claims, meant {self.n_claims}")
        for f in (self.f_insured, self.f_claims, self.f_lines):
            f.close()
        self.write_stock()
        self.write_subjects()
        ext = self.fmt
        report: dict[str, Any] = {
            "generator": "benchmarks/claims_city.py",
            "seed": self.seed,
            "format": ext,
            "pack": "huzhou_audit",
            "period": {"from": self.start.isoformat(), "to": self.end.isoformat()},
            "files": {
                "subjects": "subjects.jsonl",
                "insured": f"insured.{ext}",
                "claims": f"claims.{ext}",
                "lines": f"lines.{ext}",
                "stock": f"stock.{ext}",
            },
            "counts": {
                "claims": self.n_written,
                "lines": self.n_lines,
                "insured": self.n_insured,
                "stock": len(self.stock_rows),
                "planted_claims": planted,
                "outside_period": {"claims": self.outside[0], "lines": self.outside[1]},
            },
            "anomalies": [h.to_dict() for h in self.hits],
            "near_misses": [m.to_dict() for m in self.misses],
        }
        (self.out / "planted.json").write_text(
            json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        return report


def generate(
    n_claims: int,
    out: Path,
    *,
    seed: int = 0,
    fmt: str = "csv",
    anomalies: int = 1,
    year: int = 2024,
) -> dict[str, Any]:
    """Write a city of ``n_claims`` claims into ``out``; returns what planted.json holds."""
    return City(n_claims, seed, Path(out), fmt, anomalies, year).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", type=int, help="claims to write (clean and planted)")
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--format", choices=("jsonl", "csv"), default="csv")
    parser.add_argument("--anomalies", type=int, default=1, help="planted sets per rule")
    parser.add_argument("--year", type=int, default=2024)
    args = parser.parse_args(argv)
    report = generate(
        args.n, args.out, seed=args.seed, fmt=args.format, anomalies=args.anomalies, year=args.year
    )
    c = report["counts"]
    print(
        f"{c['claims']} claims, {c['lines']} lines, {c['insured']} insured, {c['stock']} stock "
        f"rows; {len(report['anomalies'])} anomalies, {len(report['near_misses'])} near-misses "
        f"planted → {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
