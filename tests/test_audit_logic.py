"""The audit engine's logic types, rule by rule, at their boundaries (issue 12: "every logic
type above has tests with boundaries (N days exactly, quantity equal to the limit)").

Each test writes a small claims set (the contract of docs/audit.md, "Claims records") and
runs the bundled pack ``huzhou_audit`` with one rule. The rules encode 湖政办函〔2019〕14号
四(三)一 (machine audit of every claim with knowledge points: 限性别、限年龄、限级别、超限量、超
频次、互斥), 四(三)二 (the risk models: 就诊轨迹、套刷药品、疾病诊断分布、串换项目、出入院合理性、
用药重复性) and 四(三)四 (药品进销存). Where a threshold is written 以上 / 以下 / 以内 it includes
the number (《民法典》第1259条): the tests put a case exactly on the number and one past it.
Refunds (lines of negative quantity) net against what they refund.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yibao_credit.audit.compile import AuditPack, load_audit_pack
from yibao_credit.audit.hits import Hit, hits_jsonl
from yibao_credit.audit.run import AuditResult, audit_files

PACK = load_audit_pack("huzhou_audit")
BUNDLED = Path(__file__).resolve().parent.parent / "policies" / "huzhou_audit"
FEN = Decimal("0.01")

# Knowledge points of the bundled pack (policies/huzhou_audit/knowledge/).
FOR_WOMEN = "311201001000000"  # 宫颈细胞学检查, sex F
FOR_MEN = "311000005000000"  # 前列腺按摩, sex M
CHILD_ASSESSMENT = "340200001000000"  # 儿童发育评估, max_age 14
NEWBORN_SCREENING = "310100001000000"  # 新生儿听力筛查, max_age 0
STIMULANT = "XN06BAA001A001010100101"  # min_age 6
CARDIAC = "330100001000000"  # min_level 3
LEVEL2_DRUG = "XL01XCA001B002010100555"  # min_level 2
INFUSION = "120400001000000"  # 静脉输液, 4 a day; exclusive with INJECTION
INJECTION = "120400003000000"  # 静脉注射
COUGH = "XR05CBA036A001010103201"  # 3 a day
HBA1C = "250301001000000"  # 糖化血红蛋白测定, once a month
METFORMIN_A = "XA10BAA017A001010100218"  # ingredient A10BA02
METFORMIN_B = "XA10BAA017A001010100999"  # ingredient A10BA02
LOSARTAN_A = "XC09CAL016A001010102967"  # ingredient C09CA01
BED = "001102000010000"  # 床位费
NURSING = "001103000010000"  # Ⅰ级护理
TREATMENT = "250101001000000"  # not a bed item: a treatment
OTHER_DRUG = "XJ01CAA040A001010100001"  # in no table


def _money(value: Decimal) -> str:
    return str(value.quantize(FEN))


@dataclass
class Claims:
    """A small claims set, written as the contract's JSON Lines files."""

    insured: list[dict[str, Any]] = field(default_factory=list)
    claims: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    stock: list[dict[str, Any]] | None = None
    subjects: list[dict[str, Any]] | None = None
    _dates: dict[str, str] = field(default_factory=dict)

    def person(self, id: str, sex: str = "M", birth: str = "1980-01-01") -> str:
        self.insured.append({"id": id, "sex": sex, "birth_date": birth})
        return id

    def claim(
        self,
        id: str,
        institution: str,
        insured: str,
        date: str,
        setting: str = "outpatient",
        *,
        total: str = "100.00",
        fund_paid: str = "80.00",
        **more: str,
    ) -> str:
        self.claims.append(
            {
                "id": id,
                "institution_id": institution,
                "insured_id": insured,
                "setting": setting,
                "date": date,
                "total": total,
                "fund_paid": fund_paid,
                **more,
            }
        )
        self._dates[id] = date
        return id

    def stay(
        self,
        id: str,
        institution: str,
        insured: str,
        admitted: str,
        discharged: str,
        **more: str,
    ) -> str:
        """An inpatient claim, settled on the discharge day."""
        return self.claim(
            id,
            institution,
            insured,
            discharged,
            "inpatient",
            admitted_on=admitted,
            discharged_on=discharged,
            **more,
        )

    def line(
        self,
        claim: str,
        item: str,
        quantity: int | str,
        unit_price: str,
        *,
        date: str | None = None,
        item_type: str | None = None,
        days_supply: int | None = None,
        id: str | None = None,
    ) -> str:
        """A claim line (dated on its claim's day unless told), its amount exactly quantity ×
        unit price: a test that needs a fraction of a fen is wrong, not the contract."""
        amount = Decimal(str(quantity)) * Decimal(unit_price)
        assert amount == amount.quantize(FEN), f"{quantity} × {unit_price} is not whole fen"
        kind = item_type or ("drug" if item.startswith("X") else "service")
        line_id = id or f"L{len(self.lines) + 1:02d}"
        record: dict[str, Any] = {
            "id": line_id,
            "claim_id": claim,
            "item_code": item,
            "item_type": kind,
            "date": date or self._dates[claim],
            "quantity": quantity,
            "unit_price": unit_price,
            "amount": _money(amount),
        }
        if days_supply is not None:
            record["days_supply"] = days_supply
        self.lines.append(record)
        return line_id

    def move(self, institution: str, item: str, date: str, direction: str, quantity: int) -> None:
        """A stock movement (药品进销存)."""
        self.stock = self.stock if self.stock is not None else []
        self.stock.append(
            {
                "id": f"S{len(self.stock) + 1:02d}",
                "institution_id": institution,
                "item_code": item,
                "date": date,
                "direction": direction,
                "quantity": quantity,
            }
        )

    def institution(self, id: str, category: str = "hospital", level: str | None = "二级") -> str:
        self.subjects = self.subjects if self.subjects is not None else []
        record = {"id": id, "type": "institution", "category": category}
        if level is not None:
            record["level"] = level
        self.subjects.append(record)
        return id

    def write(self, folder: Path) -> dict[str, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        files = {
            "insured": self.insured,
            "claims": self.claims,
            "lines": self.lines,
            "stock": self.stock,
            "subjects": self.subjects,
        }
        out = {}
        for name, records in files.items():
            if records is None:
                continue
            path = folder / f"{name}.jsonl"
            text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
            path.write_text(text, encoding="utf-8")
            out[name] = path
        return out


def audit(
    folder: Path,
    data: Claims,
    *rules: str,
    start: str = "2024-01-01",
    end: str = "2024-12-31",
    pack: AuditPack = PACK,
) -> AuditResult:
    """Run the rules of huzhou_audit over the claims settled from ``start`` to ``end``."""
    files = data.write(folder)
    return audit_files(
        pack,
        claims=files["claims"],
        lines=files["lines"],
        insured=files["insured"],
        stock=files.get("stock"),
        subjects=files.get("subjects"),
        period_from=dt.date.fromisoformat(start),
        period_to=dt.date.fromisoformat(end),
        rules=list(rules),
    )


def facts(hit: Hit) -> dict[str, Any]:
    """What a hit found, without its id, texts and pack."""
    return {
        "rule": hit.rule,
        "institution_id": hit.institution_id,
        "insured_id": hit.insured_id,
        "claim_ids": hit.claim_ids,
        "line_ids": hit.line_ids,
        "amount": hit.amount,
        "period": hit.period,
        "item_code": hit.item_code,
        "observed": hit.observed,
        "threshold": hit.threshold,
    }


def only(result: AuditResult) -> Hit:
    assert len(result.hits) == 1, [facts(h) for h in result.hits]
    return result.hits[0]


def clause(hit: Hit) -> str:
    return hit.clause["ref"]


# -- the audit period -------------------------------------------------------------------------


def test_claims_settled_on_the_first_and_last_day_are_audited_and_no_others(
    tmp_path: Path,
) -> None:
    """四(三)一 智能审核全覆盖 over the period --from..--to: a claim is audited when its settlement
    date is in the period, both ends included; the day before and the day after are not."""
    d = Claims()
    d.person("P1")
    for cid, day in [("C0", "2023-12-31"), ("C1", "2024-01-01"), ("C2", "2024-01-31")]:
        d.claim(cid, "H1", "P1", day)
        d.line(cid, FOR_WOMEN, 1, "35.50")
    d.claim("C3", "H1", "P1", "2024-02-01")
    d.line("C3", FOR_WOMEN, 1, "35.50")
    result = audit(tmp_path, d, "HZA01", start="2024-01-01", end="2024-01-31")
    assert [h.claim_ids for h in result.hits] == [("C1",), ("C2",)]
    assert result.audited == {"claims": 2, "lines": 2}
    assert result.counts["claims"] == 4


def test_the_settlement_date_not_the_line_date_puts_a_claim_in_the_period(
    tmp_path: Path,
) -> None:
    """四(三)一: the period selects settlements; a line dated before the period, on a claim
    settled inside it, is audited."""
    d = Claims()
    d.person("P1")
    d.claim("C1", "H1", "P1", "2024-01-02")
    line = d.line("C1", FOR_WOMEN, 1, "35.50", date="2023-12-30")
    assert only(audit(tmp_path, d, "HZA01", start="2024-01-01")).line_ids == (line,)


# -- HZA01 sex_limited ------------------------------------------------------------------------


def test_sex_limited_item_billed_for_the_other_sex_is_a_hit(tmp_path: Path) -> None:
    """湖政办函〔2019〕14号 四(三)一 (限性别): a service for women billed for a man; all of it is
    at issue."""
    d = Claims()
    d.person("P1", "M")
    d.claim("C1", "H1", "P1", "2024-03-01", practitioner_id="D1")
    line = d.line("C1", FOR_WOMEN, 1, "35.50")
    hit = only(audit(tmp_path, d, "HZA01"))
    assert facts(hit) == {
        "rule": "HZA01",
        "institution_id": "H1",
        "insured_id": "P1",
        "claim_ids": ("C1",),
        "line_ids": (line,),
        "amount": Decimal("35.50"),
        "period": "2024-03-01",
        "item_code": FOR_WOMEN,
        "observed": "M",
        "threshold": "F",
    }
    assert hit.practitioner_id == "D1"
    assert hit.result_type == "definite"
    assert hit.clause == {"source": "hz14", "ref": "四(三)一", "document": "湖政办函〔2019〕14号"}
    assert hit.explanation == {
        "zh": f"{FOR_WOMEN}(宫颈细胞学检查)限女性使用,参保人为男性;涉及金额35.50元。",
        "en": f"{FOR_WOMEN}(宫颈细胞学检查) is for female patients only; the insured person is "
        "male; amount at issue 35.50 yuan.",
    }


def test_sex_limited_item_for_the_right_sex_or_not_in_the_table_is_no_hit(
    tmp_path: Path,
) -> None:
    """四(三)一 (限性别): a woman billed the women's item, a man the men's, and an item in no
    table: nothing."""
    d = Claims()
    d.person("W", "F")
    d.person("M", "M")
    d.claim("C1", "H1", "W", "2024-03-01")
    d.line("C1", FOR_WOMEN, 1, "35.50")
    d.line("C1", TREATMENT, 1, "10.00")
    d.claim("C2", "H1", "M", "2024-03-01")
    d.line("C2", FOR_MEN, 1, "20.00")
    d.line("C2", TREATMENT, 1, "10.00")
    assert audit(tmp_path, d, "HZA01").hits == []


def test_sex_limited_lines_of_one_item_in_a_claim_are_one_hit(tmp_path: Path) -> None:
    """四(三)一 (限性别): one finding per claim and item, its lines summed; another claim is
    another finding."""
    d = Claims()
    d.person("P1", "F")
    d.claim("C1", "H1", "P1", "2024-03-01")
    a = d.line("C1", FOR_MEN, 1, "20.00")
    b = d.line("C1", FOR_MEN, 2, "20.00", date="2024-03-02")
    d.claim("C2", "H1", "P1", "2024-03-05")
    c = d.line("C2", FOR_MEN, 1, "20.00")
    hits = audit(tmp_path, d, "HZA01").hits
    assert [(h.claim_ids, h.line_ids, h.amount) for h in hits] == [
        (("C1",), (a, b), Decimal("60.00")),
        (("C2",), (c,), Decimal("20.00")),
    ]
    assert hits[0].explanation["zh"].startswith(f"{FOR_MEN}(前列腺按摩)限男性使用,参保人为女性")


def test_sex_limited_refund_netting_the_line_to_zero_is_no_hit(tmp_path: Path) -> None:
    """四(三)一 (限性别), refunds net: a line refunded whole leaves nothing at issue; refunded in
    part, the rest is at issue."""
    d = Claims()
    d.person("P1", "M")
    d.claim("C1", "H1", "P1", "2024-03-01")
    d.line("C1", FOR_WOMEN, 1, "35.50")
    d.line("C1", FOR_WOMEN, -1, "35.50", date="2024-03-02")
    d.claim("C2", "H1", "P1", "2024-03-05")
    a = d.line("C2", FOR_WOMEN, 3, "35.50")
    b = d.line("C2", FOR_WOMEN, -1, "35.50")
    hit = only(audit(tmp_path, d, "HZA01"))
    assert (hit.claim_ids, hit.line_ids, hit.amount) == (("C2",), (a, b), Decimal("71.00"))


# -- HZA02 age_limited ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "day", "age", "hit"),
    [
        ("2010-05-20", "2025-05-19", "14", False),  # the last day of being 14: still 14 and under
        ("2010-05-20", "2025-05-20", "15", True),  # the 15th birthday
        ("2009-05-20", "2025-01-02", "15", True),
        ("2012-01-02", "2025-01-02", "13", False),
    ],
)
def test_age_limited_14_and_under_hits_from_the_15th_birthday(
    tmp_path: Path, birth: str, day: str, age: str, hit: bool
) -> None:
    """四(三)一 (限年龄), 《民法典》第1259条 (以下 includes the number): an item for children of
    14 and under may be billed on the day before the 15th birthday, not on the birthday."""
    d = Claims()
    d.person("P1", "F", birth)
    d.claim("C1", "H1", "P1", day)
    line = d.line("C1", CHILD_ASSESSMENT, 1, "80.00")
    result = audit(tmp_path, d, "HZA02", start="2025-01-01", end="2025-12-31")
    if not hit:
        assert result.hits == []
        return
    found = only(result)
    assert facts(found) == {
        "rule": "HZA02",
        "institution_id": "H1",
        "insured_id": "P1",
        "claim_ids": ("C1",),
        "line_ids": (line,),
        "amount": Decimal("80.00"),
        "period": day,
        "item_code": CHILD_ASSESSMENT,
        "observed": age,
        "threshold": "..14",
    }
    assert found.explanation["zh"] == (
        f"{CHILD_ASSESSMENT}(儿童发育评估)限14周岁及以下使用,参保人费用发生时{age}周岁;"
        "涉及金额80.00元。"
    )


@pytest.mark.parametrize(
    ("day", "age", "hit"),
    [
        ("2022-02-28", "5", True),  # a common year: the 6th birthday is not yet reached
        ("2022-03-01", "6", False),  # … it is on 1 March
        ("2024-02-28", "7", False),
    ],
)
def test_age_limited_a_29_february_birthday_is_reached_on_1_march_in_a_common_year(
    tmp_path: Path, day: str, age: str, hit: bool
) -> None:
    """四(三)一 (限年龄), 《民法典》第1259条 (以上 includes the number): a drug for 6 and over,
    for a child born on 29 February 2016."""
    d = Claims()
    d.person("P1", "M", "2016-02-29")
    d.claim("C1", "H1", "P1", day, "pharmacy")
    d.line("C1", STIMULANT, 1, "80.00")
    result = audit(tmp_path, d, "HZA02", start="2022-01-01", end="2024-12-31")
    assert [h.observed for h in result.hits] == ([age] if hit else [])
    if hit:
        assert result.hits[0].threshold == "6.."
        assert "限6周岁及以上使用,参保人费用发生时5周岁" in result.hits[0].explanation["zh"]


def test_age_limited_29_february_birthday_and_a_max_age(tmp_path: Path) -> None:
    """四(三)一 (限年龄): born 29 February 2008, 14 and under until 28 February 2023, 15 on
    1 March 2023 (no 29th that year)."""
    d = Claims()
    d.person("P1", "F", "2008-02-29")
    d.claim("C1", "H1", "P1", "2023-02-28")
    d.line("C1", CHILD_ASSESSMENT, 1, "80.00")
    d.claim("C2", "H1", "P1", "2023-03-01")
    d.line("C2", CHILD_ASSESSMENT, 1, "80.00")
    hit = only(audit(tmp_path, d, "HZA02", start="2023-01-01", end="2023-12-31"))
    assert (hit.claim_ids, hit.observed) == (("C2",), "15")


def test_age_limited_age_is_counted_on_the_day_of_the_line(tmp_path: Path) -> None:
    """四(三)一 (限年龄), the rule's definition: age in whole years on the day of the line (费用
    发生日), not of the settlement: a newborn screening (0 and under) billed the day before the
    first birthday and on it, in one claim settled later."""
    d = Claims()
    d.person("P1", "F", "2023-06-10")
    d.claim("C1", "H1", "P1", "2024-06-12")
    d.line("C1", NEWBORN_SCREENING, 1, "50.00", date="2024-06-09")
    late = d.line("C1", NEWBORN_SCREENING, 1, "50.00", date="2024-06-10")
    hit = only(audit(tmp_path, d, "HZA02"))
    assert (hit.line_ids, hit.observed, hit.threshold) == ((late,), "1", "..0")
    assert hit.amount == Decimal("50.00")


# -- HZA03 level_limited ----------------------------------------------------------------------


def test_level_limited_item_billed_below_its_level_is_a_hit(tmp_path: Path) -> None:
    """四(三)一 (限医疗机构级别), 《民法典》第1259条 (以上 includes the number): an item for 三级
    and above, billed by a 二级 hospital (hit) and a 三级 one (none); a drug for 二级 and above
    billed by a 二级 hospital (none) and a 一级 one (hit)."""
    d = Claims()
    d.person("P1")
    d.institution("H2", level="二级")
    d.institution("H3", level="三级")
    d.institution("H1", level="一级")
    d.claim("C2", "H2", "P1", "2024-03-01")
    cardiac = d.line("C2", CARDIAC, 1, "3000.00")
    d.line("C2", LEVEL2_DRUG, 1, "12.00")
    d.claim("C3", "H3", "P1", "2024-03-01")
    d.line("C3", CARDIAC, 1, "3000.00")
    d.claim("C1", "H1", "P1", "2024-03-01")
    drug = d.line("C1", LEVEL2_DRUG, 2, "12.00")
    result = audit(tmp_path, d, "HZA03")
    assert [facts(h) for h in result.hits] == [
        {
            "rule": "HZA03",
            "institution_id": "H1",
            "insured_id": "P1",
            "claim_ids": ("C1",),
            "line_ids": (drug,),
            "amount": Decimal("24.00"),
            "period": "2024-03-01",
            "item_code": LEVEL2_DRUG,
            "observed": "一级",
            "threshold": "2",
        },
        {
            "rule": "HZA03",
            "institution_id": "H2",
            "insured_id": "P1",
            "claim_ids": ("C2",),
            "line_ids": (cardiac,),
            "amount": Decimal("3000.00"),
            "period": "2024-03-01",
            "item_code": CARDIAC,
            "observed": "二级",
            "threshold": "3",
        },
    ]
    assert result.hits[1].explanation["zh"] == (
        f"{CARDIAC}(心脏介入治疗(示例))限三级及以上医疗机构使用,本机构为二级;涉及金额3000.00元。"
    )
    assert result.warnings == []


def test_level_limited_institution_of_unknown_level_is_not_judged_but_warned(
    tmp_path: Path,
) -> None:
    """四(三)一 (限医疗机构级别): an institution with no level (or one the pack does not rank)
    is never a hit; a warning counts the lines not judged."""
    d = Claims()
    d.person("P1")
    d.institution("H9", level=None)
    d.institution("H8", level="未定级")
    d.claim("C1", "H9", "P1", "2024-03-01")
    d.line("C1", CARDIAC, 1, "3000.00")
    d.claim("C2", "H8", "P1", "2024-03-01")
    d.line("C2", CARDIAC, 1, "3000.00")
    result = audit(tmp_path, d, "HZA03")
    assert result.hits == []
    assert [(w.code, w.message) for w in result.warnings] == [
        (
            "audit.level-unknown",
            "rule HZA03: 2 line(s) at 2 institution(s) whose level is not one of the pack's "
            "levels (or not given) were not judged",
        )
    ]


# -- HZA04 quantity_limit ---------------------------------------------------------------------


def test_quantity_equal_to_the_daily_limit_is_no_hit_one_above_is(tmp_path: Path) -> None:
    """四(三)一 (超限量), 《民法典》第1259条: a limit of 4 a day is kept by 4 and broken by 5; the
    excess (1) at its unit price is at issue."""
    d = Claims()
    d.person("P1")
    d.claim("C1", "H1", "P1", "2024-03-01")
    d.line("C1", INFUSION, 4, "12.50")
    d.claim("C2", "H1", "P1", "2024-03-02")
    line = d.line("C2", INFUSION, 5, "12.50")
    hit = only(audit(tmp_path, d, "HZA04"))
    assert facts(hit) == {
        "rule": "HZA04",
        "institution_id": "H1",
        "insured_id": "P1",
        "claim_ids": ("C2",),
        "line_ids": (line,),
        "amount": Decimal("12.50"),
        "period": "2024-03-02",
        "item_code": INFUSION,
        "observed": "5",
        "threshold": "4",
    }
    assert hit.explanation["zh"] == (
        f"{INFUSION}(静脉输液(每日))单日内计费数量5,超过限量4;涉及金额12.50元。"
    )


def test_quantity_of_one_day_adds_up_over_claims_and_lines_at_one_institution(
    tmp_path: Path,
) -> None:
    """四(三)一 (超限量): the daily limit is per insured person, institution, item and line date:
    3 + 3 in two claims of one day breaks 4 by 2, at the later line's price; the next day, or
    another institution, is apart."""
    d = Claims()
    d.person("P1")
    d.claim("C1", "H1", "P1", "2024-03-01")
    first = d.line("C1", INFUSION, 3, "12.50")
    d.claim("C2", "H1", "P1", "2024-03-01")
    second = d.line("C2", INFUSION, 3, "13.00")
    d.claim("C3", "H1", "P1", "2024-03-02")
    d.line("C3", INFUSION, 4, "12.50")
    d.claim("C4", "H2", "P1", "2024-03-01")
    d.line("C4", INFUSION, 4, "12.50")
    hit = only(audit(tmp_path, d, "HZA04"))
    assert (hit.claim_ids, hit.line_ids, hit.amount) == (
        ("C1", "C2"),
        (first, second),
        Decimal("26.00"),
    )
    assert (hit.observed, hit.period) == ("6", "2024-03-01")


def test_quantity_limit_counts_the_line_date_not_the_claim_date(tmp_path: Path) -> None:
    """四(三)一 (超限量), span day: an inpatient claim's lines on two days are two days."""
    d = Claims()
    d.person("P1")
    d.stay("C1", "H1", "P1", "2024-03-01", "2024-03-03")
    d.line("C1", INFUSION, 4, "12.50", date="2024-03-01")
    d.line("C1", INFUSION, 4, "12.50", date="2024-03-02")
    over = d.line("C1", INFUSION, 3, "12.50", date="2024-03-02", id="L99")
    hit = only(audit(tmp_path, d, "HZA04"))
    assert (hit.period, hit.line_ids[-1], hit.amount) == ("2024-03-02", over, Decimal("37.50"))


def test_quantity_limit_with_a_fractional_quantity(tmp_path: Path) -> None:
    """四(三)一 (超限量): 3.5 of a drug limited to 3 a day: 0.5 × 2.36 = 1.18 at issue."""
    d = Claims()
    d.person("P1")
    d.claim("C1", "Y1", "P1", "2024-03-01", "pharmacy")
    d.line("C1", COUGH, "3.5", "2.36")
    hit = only(audit(tmp_path, d, "HZA04"))
    assert (hit.amount, hit.observed, hit.threshold) == (Decimal("1.18"), "3.5", "3")
    assert "计费数量3.5,超过限量3" in hit.explanation["zh"]


@pytest.mark.parametrize("refund_first", [False, True])
def test_quantity_limit_refunds_net_before_the_limit(tmp_path: Path, refund_first: bool) -> None:
    """四(三)一 (超限量), refunds net: 5 less a refund of 1 keeps the limit of 4 (no hit); 6
    less 1 breaks it by 1, one unit at issue whichever line comes first in the file's ids."""
    d = Claims()
    d.person("P1")
    d.claim("C1", "H1", "P1", "2024-03-01")
    d.line("C1", INFUSION, 5, "12.50", id="L2" if refund_first else "L1")
    d.line("C1", INFUSION, -1, "12.50", id="L1" if refund_first else "L2")
    d.claim("C2", "H1", "P1", "2024-03-02")
    d.line("C2", INFUSION, 6, "12.50", id="M2" if refund_first else "M1")
    d.line("C2", INFUSION, -1, "12.50", id="M1" if refund_first else "M2")
    hit = only(audit(tmp_path, d, "HZA04"))
    assert (hit.claim_ids, hit.line_ids, hit.amount) == (
        ("C2",),
        ("M1", "M2"),
        Decimal("12.50"),
    )
    assert hit.observed == "5"


# -- HZA05 frequency_limit --------------------------------------------------------------------


def test_frequency_two_visits_in_one_month_break_a_limit_of_one(tmp_path: Path) -> None:
    """四(三)一 (超频次): once a month at one institution; a second visit in March is a hit, the
    second visit's lines at issue, both visits its evidence."""
    d = Claims()
    d.person("P1")
    d.claim("C1", "H1", "P1", "2024-03-01")
    a = d.line("C1", HBA1C, 1, "60.00")
    d.claim("C2", "H1", "P1", "2024-03-31")
    b = d.line("C2", HBA1C, 1, "58.00")
    hit = only(audit(tmp_path, d, "HZA05"))
    assert facts(hit) == {
        "rule": "HZA05",
        "institution_id": "H1",
        "insured_id": "P1",
        "claim_ids": ("C1", "C2"),
        "line_ids": (a, b),
        "amount": Decimal("58.00"),
        "period": "2024-03-01/2024-03-31",
        "item_code": HBA1C,
        "observed": "2",
        "threshold": "1",
    }
    assert hit.explanation["zh"] == (
        f"{HBA1C}(糖化血红蛋白测定)自然月内计费2次,超过限定的1次;涉及金额58.00元。"
    )


def test_frequency_visits_across_a_month_boundary_are_no_hit(tmp_path: Path) -> None:
    """四(三)一 (超频次), span 自然月: 31 January and 1 February are two months; two lines in one
    claim are one visit; another institution is counted apart."""
    d = Claims()
    d.person("P1")
    d.claim("C1", "H1", "P1", "2024-01-31")
    d.line("C1", HBA1C, 1, "60.00")
    d.claim("C2", "H1", "P1", "2024-02-01")
    d.line("C2", HBA1C, 1, "60.00")
    d.line("C2", HBA1C, 1, "60.00")
    d.claim("C3", "H2", "P1", "2024-02-10")
    d.line("C3", HBA1C, 1, "60.00")
    assert audit(tmp_path, d, "HZA05").hits == []


def test_frequency_month_is_the_settlement_month(tmp_path: Path) -> None:
    """四(三)一 (超频次): the month of a visit is that of its claim's settlement date."""
    d = Claims()
    d.person("P1")
    d.claim("C1", "H1", "P1", "2024-03-01")
    d.line("C1", HBA1C, 1, "60.00", date="2024-02-28")
    d.claim("C2", "H1", "P1", "2024-03-02")
    d.line("C2", HBA1C, 1, "60.00")
    d.claim("C3", "H1", "P1", "2024-03-20")
    d.line("C3", HBA1C, 1, "60.00")
    hit = only(audit(tmp_path, d, "HZA05"))
    assert (hit.period, hit.observed, hit.amount) == (
        "2024-03-01/2024-03-31",
        "3",
        Decimal("120.00"),
    )


def test_frequency_a_visit_whose_item_is_refunded_whole_is_not_a_visit(tmp_path: Path) -> None:
    """四(三)一 (超频次), refunds net: the second visit's test is refunded in that claim, so the
    item was billed in one visit only."""
    d = Claims()
    d.person("P1")
    d.claim("C1", "H1", "P1", "2024-03-01")
    d.line("C1", HBA1C, 1, "60.00")
    d.claim("C2", "H1", "P1", "2024-03-20")
    d.line("C2", HBA1C, 1, "60.00")
    d.line("C2", HBA1C, -1, "60.00")
    assert audit(tmp_path, d, "HZA05").hits == []


# -- HZA06 exclusive_items --------------------------------------------------------------------


def test_exclusive_items_in_one_claim_are_a_hit_item_b_at_issue(tmp_path: Path) -> None:
    """四(三)一 (互斥项目): 静脉输液 and 静脉注射 in one visit; the second item's amount is at
    issue, both lines the evidence."""
    d = Claims()
    d.person("P1")
    d.claim("C1", "H1", "P1", "2024-03-01")
    a = d.line("C1", INFUSION, 1, "12.50")
    b = d.line("C1", INJECTION, 2, "8.20")
    hit = only(audit(tmp_path, d, "HZA06"))
    assert facts(hit) == {
        "rule": "HZA06",
        "institution_id": "H1",
        "insured_id": "P1",
        "claim_ids": ("C1",),
        "line_ids": (a, b),
        "amount": Decimal("16.40"),
        "period": "2024-03-01",
        "item_code": INJECTION,
        "observed": INFUSION,
        "threshold": None,
    }
    assert hit.explanation["zh"] == (
        f"{INJECTION}与{INFUSION}(静脉输液与静脉注射)不得在当次就诊内同时收费;涉及金额16.40元。"
    )


def test_exclusive_items_in_two_claims_are_no_hit(tmp_path: Path) -> None:
    """四(三)一 (互斥项目), span 当次就诊: the two items in two claims of one day, at one
    institution, are not one visit."""
    d = Claims()
    d.person("P1")
    d.claim("C1", "H1", "P1", "2024-03-01")
    d.line("C1", INFUSION, 1, "12.50")
    d.claim("C2", "H1", "P1", "2024-03-01")
    d.line("C2", INJECTION, 1, "8.20")
    assert audit(tmp_path, d, "HZA06").hits == []


def test_exclusive_items_a_code_keeps_its_leading_zeros(tmp_path: Path) -> None:
    """四(三)一 (互斥项目): the hit names item_a as the knowledge table writes it; a national
    code such as 001101000010000 is text, not a number to be written without its zeros."""
    folder = tmp_path / "pack"
    shutil.copytree(BUNDLED, folder)
    (folder / "knowledge" / "exclusive_items.csv").write_text(
        "item_a,item_b,name\n001101000010000,110200001000000,一般诊疗费与急诊诊查费\n",
        encoding="utf-8",
    )
    d = Claims()
    d.person("P1")
    d.claim("C1", "H1", "P1", "2024-03-01")
    d.line("C1", "001101000010000", 1, "10.00")
    d.line("C1", "110200001000000", 1, "25.00")
    hit = only(audit(tmp_path / "set", d, "HZA06", pack=load_audit_pack(folder)))
    assert (hit.item_code, hit.observed, hit.amount) == (
        "110200001000000",
        "001101000010000",
        Decimal("25.00"),
    )
    assert hit.explanation["zh"].startswith(
        "110200001000000与001101000010000(一般诊疗费与急诊诊查费)不得在当次就诊内同时收费"
    )


@pytest.mark.parametrize("refunded", [INFUSION, INJECTION])
def test_exclusive_items_one_refunded_whole_is_no_hit(tmp_path: Path, refunded: str) -> None:
    """四(三)一 (互斥项目), refunds net: either item refunded in the claim leaves one item
    billed."""
    d = Claims()
    d.person("P1")
    d.claim("C1", "H1", "P1", "2024-03-01")
    d.line("C1", INFUSION, 1, "12.50")
    d.line("C1", INJECTION, 1, "8.20")
    d.line("C1", refunded, -1, "12.50" if refunded == INFUSION else "8.20")
    assert audit(tmp_path, d, "HZA06").hits == []


# -- HZA07 duplicate_medication ---------------------------------------------------------------


def _two_prescriptions(
    d: Claims,
    second_on: str,
    *,
    first: str = METFORMIN_A,
    second: str = METFORMIN_A,
    institution: str = "H1",
) -> tuple[str, str]:
    d.person("P1")
    d.claim("C1", "H1", "P1", "2024-03-01")
    a = d.line("C1", first, 30, "1.20", days_supply=30)  # 03-01 .. 03-30
    d.claim("C2", institution, "P1", second_on)
    b = d.line("C2", second, 30, "1.10", days_supply=30)
    return a, b


def test_duplicate_medication_overlap_of_exactly_7_days_is_a_hit(tmp_path: Path) -> None:
    """四(三)二 (用药重复性), 《民法典》第1259条 (7天及以上 includes 7): 30 days from 1 March and
    30 days from 24 March overlap 24..30 March, 7 days; the later prescription is at issue."""
    d = Claims()
    a, b = _two_prescriptions(d, "2024-03-24")
    hit = only(audit(tmp_path, d, "HZA07"))
    assert facts(hit) == {
        "rule": "HZA07",
        "institution_id": "H1",
        "insured_id": "P1",
        "claim_ids": ("C1", "C2"),
        "line_ids": (a, b),
        "amount": Decimal("33.00"),
        "period": "2024-03-24/2024-04-22",
        "item_code": "A10BA02",
        "observed": "7",
        "threshold": "7",
    }
    assert hit.result_type == "suspicious"
    assert clause(hit) == "四(三)二"
    assert hit.explanation["zh"] == (
        "A10BA02的用药天数与此前同一参保人所开同一药品(成分)重叠7天,达到7天;涉及金额33.00元。"
    )


def test_duplicate_medication_looks_back_before_the_period(tmp_path: Path) -> None:
    """四(三)二 (用药重复性): a prescription settled before --from still runs into the period;
    the later one, settled in the period, is the finding, the earlier one its evidence. A later
    one settled after --to is not audited."""
    d = Claims()
    a, b = _two_prescriptions(d, "2024-03-24")
    hit = only(audit(tmp_path / "in", d, "HZA07", start="2024-03-02"))
    assert (hit.claim_ids, hit.line_ids, hit.amount) == (("C1", "C2"), (a, b), Decimal("33.00"))
    assert audit(tmp_path / "out", d, "HZA07", end="2024-03-23").hits == []


def test_duplicate_medication_overlap_of_6_days_is_no_hit(tmp_path: Path) -> None:
    """四(三)二 (用药重复性): from 25 March the overlap is 25..30 March, 6 days: below 7."""
    d = Claims()
    _two_prescriptions(d, "2024-03-25")
    assert audit(tmp_path, d, "HZA07").hits == []


def test_duplicate_medication_within_one_claim_is_not_counted(tmp_path: Path) -> None:
    """四(三)二 (用药重复性) compares different claims: two lines of one drug in one claim (a
    60-day supply written as two) are one prescription."""
    d = Claims()
    d.person("P1")
    d.claim("C1", "H1", "P1", "2024-03-01")
    d.line("C1", METFORMIN_A, 30, "1.20", days_supply=30)
    d.line("C1", METFORMIN_A, 30, "1.20", days_supply=30)
    assert audit(tmp_path, d, "HZA07").hits == []


def test_duplicate_medication_across_institutions_is_counted(tmp_path: Path) -> None:
    """四(三)二 (用药重复性): the same person given the drug at a hospital and then at a
    pharmacy; the hit is the later claim's institution's."""
    d = Claims()
    d.person("P1")
    d.claim("C1", "H1", "P1", "2024-03-01")
    d.line("C1", METFORMIN_A, 30, "1.20", days_supply=30)
    d.claim("C2", "Y1", "P1", "2024-03-10", "pharmacy")
    d.line("C2", METFORMIN_A, 20, "1.20", days_supply=20)  # 03-10 .. 03-29: 20 days inside
    hit = only(audit(tmp_path, d, "HZA07"))
    assert (hit.institution_id, hit.claim_ids, hit.amount) == ("Y1", ("C1", "C2"), Decimal("24.00"))
    assert (hit.observed, hit.period) == ("20", "2024-03-10/2024-03-29")


def test_duplicate_medication_two_brands_of_one_ingredient_are_one_drug(tmp_path: Path) -> None:
    """四(三)二 (用药重复性) by ingredient (knowledge table drug_ingredients.csv): two brands of
    metformin are the same drug; metformin and losartan are not; a drug in no table is its own
    ingredient."""
    d = Claims()
    a, b = _two_prescriptions(d, "2024-03-20", second=METFORMIN_B)  # 03-20 .. 03-30: 11 days
    d.claim("C3", "H1", "P1", "2024-03-20")
    d.line("C3", LOSARTAN_A, 30, "2.00", days_supply=30)
    d.claim("C4", "H1", "P1", "2024-04-01")
    first = d.line("C4", OTHER_DRUG, 10, "3.00", days_supply=10)  # 04-01 .. 04-10
    d.claim("C5", "H1", "P1", "2024-04-04")
    again = d.line("C5", OTHER_DRUG, 10, "3.00", days_supply=10)  # 04-04 .. 04-10: 7 days
    hits = audit(tmp_path, d, "HZA07").hits
    assert [(h.item_code, h.claim_ids, h.line_ids, h.observed, h.amount) for h in hits] == [
        ("A10BA02", ("C1", "C2"), (a, b), "11", Decimal("33.00")),
        (OTHER_DRUG, ("C4", "C5"), (first, again), "7", Decimal("30.00")),
    ]


def test_duplicate_medication_a_later_prescription_refunded_whole_is_no_hit(
    tmp_path: Path,
) -> None:
    """四(三)二 (用药重复性), refunds net: the later prescription refunded whole (the refund line
    giving no days of supply) is none; refunded in part, the rest is at issue."""
    d = Claims()
    _two_prescriptions(d, "2024-03-24")
    d.line("C2", METFORMIN_A, -30, "1.10")
    assert audit(tmp_path, d, "HZA07").hits == []
    d = Claims()
    _, b = _two_prescriptions(d, "2024-03-24")
    refund = d.line("C2", METFORMIN_A, -10, "1.10")
    hit = only(audit(tmp_path / "part", d, "HZA07"))
    assert (hit.amount, hit.line_ids[-2:]) == (Decimal("22.00"), (b, refund))


def test_duplicate_medication_only_the_pack_s_settings_and_one_person(tmp_path: Path) -> None:
    """四(三)二 (用药重复性), scope outpatient and pharmacy: drugs of a stay are not compared; nor
    are two persons' prescriptions."""
    d = Claims()
    d.person("P1")
    d.person("P2")
    d.claim("C1", "H1", "P1", "2024-03-01")
    d.line("C1", METFORMIN_A, 30, "1.20", days_supply=30)
    d.stay("C2", "H1", "P1", "2024-03-05", "2024-03-10")
    d.line("C2", METFORMIN_A, 30, "1.20", days_supply=30, date="2024-03-05")
    d.claim("C3", "H1", "P2", "2024-03-05")
    d.line("C3", METFORMIN_A, 30, "1.20", days_supply=30)
    assert audit(tmp_path, d, "HZA07").hits == []


# -- HZA08 readmission ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("admitted", "gap", "hit"),
    [
        ("2024-03-10", "0", True),  # readmitted on the discharge day
        ("2024-03-25", "15", True),  # day 15: within 15 days (以内 includes 15)
        ("2024-03-26", "16", False),
    ],
)
def test_readmission_within_15_days_of_discharge(
    tmp_path: Path, admitted: str, gap: str, hit: bool
) -> None:
    """四(三)二 (出入院合理性, 分解住院), 《民法典》第1259条 (以内 includes the number): a stay
    discharged on 10 March and the next admission on day 0, day 15 (hits) and day 16 (none);
    the second stay's fund payment is at issue."""
    d = Claims()
    d.person("P1")
    d.stay("C1", "H1", "P1", "2024-03-01", "2024-03-10", fund_paid="2000.00")
    d.line("C1", TREATMENT, 1, "100.00", date="2024-03-01")
    d.stay("C2", "H1", "P1", admitted, "2024-04-05", fund_paid="1234.56")
    d.line("C2", TREATMENT, 1, "100.00", date=admitted)
    result = audit(tmp_path, d, "HZA08")
    if not hit:
        assert result.hits == []
        return
    found = only(result)
    assert facts(found) == {
        "rule": "HZA08",
        "institution_id": "H1",
        "insured_id": "P1",
        "claim_ids": ("C1", "C2"),
        "line_ids": (),
        "amount": Decimal("1234.56"),
        "period": "2024-03-10" if gap == "0" else f"2024-03-10/{admitted}",
        "item_code": None,
        "observed": gap,
        "threshold": "15",
    }
    assert found.explanation["zh"] == f"出院后第{gap}天再次入院,在15天以内;涉及金额1234.56元。"


def test_readmission_looks_back_to_a_stay_settled_before_the_period(tmp_path: Path) -> None:
    """四(三)二 (分解住院): the first stay, settled on 10 March, lies before --from (11 March);
    the readmission of 20 March, settled in the period, is still found. Audited up to 19 March,
    before the readmission is settled, nothing is."""
    d = Claims()
    d.person("P1")
    d.stay("C1", "H1", "P1", "2024-03-01", "2024-03-10")
    d.stay("C2", "H1", "P1", "2024-03-20", "2024-03-25", fund_paid="800.00")
    hit = only(audit(tmp_path / "in", d, "HZA08", start="2024-03-11"))
    assert (hit.claim_ids, hit.amount, hit.observed) == (("C1", "C2"), Decimal("800.00"), "10")
    assert audit(tmp_path / "out", d, "HZA08", end="2024-03-19").hits == []


def test_readmission_elsewhere_or_after_an_outpatient_visit_is_no_hit(tmp_path: Path) -> None:
    """四(三)二 (分解住院), same_institution: true: a readmission to another hospital is not a
    split stay; an outpatient visit is not a stay."""
    d = Claims()
    d.person("P1")
    d.stay("C1", "H1", "P1", "2024-03-01", "2024-03-10")
    d.stay("C2", "H2", "P1", "2024-03-12", "2024-03-20")
    d.claim("C3", "H1", "P1", "2024-03-11")
    d.stay("C4", "H1", "P1", "2024-03-30", "2024-04-02")  # 20 days after C1
    assert audit(tmp_path, d, "HZA08").hits == []


# -- HZA09 idle_bed_days ----------------------------------------------------------------------


def _stay_with_bed_lines(d: Claims, treated: Sequence[str]) -> list[str]:
    """A stay of 1..5 March (4 days: the discharge day does not count), a bed line every day
    including the discharge day, a treatment on the days given; the bed lines' ids."""
    d.person("P1")
    d.stay("C1", "H1", "P1", "2024-03-01", "2024-03-05")
    beds = [d.line("C1", BED, 1, "40.00", date=f"2024-03-0{day}") for day in range(1, 6)]
    for day in treated:
        d.line("C1", TREATMENT, 1, "10.00", date=day)
    return beds


def test_idle_bed_days_exactly_3_is_a_hit(tmp_path: Path) -> None:
    """四(三)二 (出入院合理性, 挂床住院), 《民法典》第1259条 (3天及以上 includes 3): treatment on
    1 March only leaves 2, 3, 4 March idle; their bed fees are at issue (not the discharge
    day's)."""
    d = Claims()
    beds = _stay_with_bed_lines(d, ["2024-03-01"])
    hit = only(audit(tmp_path, d, "HZA09"))
    assert facts(hit) == {
        "rule": "HZA09",
        "institution_id": "H1",
        "insured_id": "P1",
        "claim_ids": ("C1",),
        "line_ids": tuple(beds[1:4]),
        "amount": Decimal("120.00"),
        "period": "2024-03-01/2024-03-05",
        "item_code": None,
        "observed": "3",
        "threshold": "3",
    }
    assert hit.explanation["zh"] == "住院期间有3天无诊疗项目,达到3天;涉及金额120.00元。"


def test_idle_bed_days_2_is_no_hit(tmp_path: Path) -> None:
    """四(三)二 (挂床住院): treatment on 1 and 3 March leaves 2 idle days, below 3."""
    d = Claims()
    _stay_with_bed_lines(d, ["2024-03-01", "2024-03-03"])
    assert audit(tmp_path, d, "HZA09").hits == []


def test_idle_bed_days_count_the_admission_day_not_the_discharge_day(tmp_path: Path) -> None:
    """四(三)二 (挂床住院), days counted as 住院天数 counts them: treatment only on the discharge
    day leaves all 4 counted days idle; nursing and ward rounds are not treatment."""
    d = Claims()
    beds = _stay_with_bed_lines(d, ["2024-03-05"])
    nursing = d.line("C1", NURSING, 1, "15.00", date="2024-03-01")
    hit = only(audit(tmp_path, d, "HZA09"))
    assert hit.observed == "4"
    assert hit.line_ids == tuple(sorted([*beds[:4], nursing]))
    assert hit.amount == Decimal("175.00")


def test_idle_bed_days_a_treatment_refunded_that_day_is_no_treatment(tmp_path: Path) -> None:
    """四(三)二 (挂床住院), refunds net: a treatment billed and refunded on 2 March leaves the day
    idle (2, 3, 4 March: 3 days)."""
    d = Claims()
    _stay_with_bed_lines(d, ["2024-03-01", "2024-03-02"])
    d.line("C1", TREATMENT, -1, "10.00", date="2024-03-02")
    hit = only(audit(tmp_path, d, "HZA09"))
    assert (hit.observed, hit.amount) == ("3", Decimal("120.00"))


def test_idle_bed_days_a_day_case_has_no_idle_day(tmp_path: Path) -> None:
    """四(三)二 (挂床住院): admitted and discharged on one day, a stay of 0 days."""
    d = Claims()
    d.person("P1")
    d.stay("C1", "H1", "P1", "2024-03-01", "2024-03-01")
    d.line("C1", BED, 1, "40.00")
    assert audit(tmp_path, d, "HZA09").hits == []


# -- HZA10 / HZA11 card_velocity --------------------------------------------------------------


def _day_of_claims(d: Claims, places: Sequence[str], setting: str) -> list[str]:
    d.person("P1")
    out = []
    for i, place in enumerate(places):
        cid = d.claim(f"C{i + 1}", place, "P1", "2024-03-01", setting, fund_paid=f"1{i}.05")
        d.line(cid, METFORMIN_A, 1, "1.20")
        out.append(cid)
    return out


def test_card_velocity_3_pharmacies_in_a_day_is_a_hit(tmp_path: Path) -> None:
    """四(三)二 (套刷药品), 《民法典》第1259条 (3家及以上 includes 3): one card settling at 3
    pharmacies in a day; the fund's payments of the day are at issue; the finding is the
    insured person's."""
    d = Claims()
    claims = _day_of_claims(d, ["Y1", "Y2", "Y3"], "pharmacy")
    hit = only(audit(tmp_path, d, "HZA11"))
    assert facts(hit) == {
        "rule": "HZA11",
        "institution_id": None,
        "insured_id": "P1",
        "claim_ids": tuple(claims),
        "line_ids": (),
        "amount": Decimal("33.15"),
        "period": "2024-03-01",
        "item_code": None,
        "observed": "3",
        "threshold": "3",
    }
    assert clause(hit) == "四(三)二"
    assert hit.explanation["zh"] == "同一参保人同日在3家机构结算,达到3家;涉及金额33.15元。"


def test_card_velocity_2_pharmacies_is_no_hit(tmp_path: Path) -> None:
    """四(三)二 (套刷药品): 2 pharmacies, one of them twice, are 2 places, below 3."""
    d = Claims()
    _day_of_claims(d, ["Y1", "Y2", "Y1"], "pharmacy")
    assert audit(tmp_path, d, "HZA11").hits == []


def test_card_velocity_4_outpatient_institutions_is_a_hit_3_is_not(tmp_path: Path) -> None:
    """四(三)二 (参保人就诊轨迹), 《民法典》第1259条 (4家及以上): 4 outpatient institutions in a
    day is a hit; 3, and a pharmacy (another setting), are not 4."""
    d = Claims()
    _day_of_claims(d, ["H1", "H2", "H3", "H4"], "outpatient")
    hit = only(audit(tmp_path, d, "HZA10"))
    assert (hit.observed, hit.threshold, hit.claim_ids) == ("4", "4", ("C1", "C2", "C3", "C4"))
    d = Claims()
    _day_of_claims(d, ["H1", "H2", "H3"], "outpatient")
    d.claim("C9", "Y1", "P1", "2024-03-01", "pharmacy")
    d.line("C9", METFORMIN_A, 1, "1.20")
    assert audit(tmp_path / "three", d, "HZA10", "HZA11").hits == []


def test_card_velocity_counts_one_settlement_day(tmp_path: Path) -> None:
    """四(三)二 (套刷药品): three pharmacies on two days are not three in a day."""
    d = Claims()
    d.person("P1")
    for i, day in enumerate(["2024-03-01", "2024-03-01", "2024-03-02"]):
        d.claim(f"C{i}", f"Y{i}", "P1", day, "pharmacy")
    d.line("C0", METFORMIN_A, 1, "1.20")
    assert audit(tmp_path, d, "HZA11").hits == []


# -- HZA12 / HZA13 peer_outlier ---------------------------------------------------------------


def _peers(d: Claims, peer_j18: int) -> list[str]:
    """Hospital X (二级): 10 inpatient cases, 5 of them J18 (pneumonia); peers A and B (二级):
    30 cases, ``peer_j18`` of them J18; hospital Z (三级, no peer of theirs): all J18. X's J18
    cases' ids."""
    d.person("P1")
    for inst, level in [("X", "二级"), ("A", "二级"), ("B", "二级"), ("Z", "三级")]:
        d.institution(inst, level=level)

    def case(cid: str, inst: str, diagnosis: str) -> str:
        return d.stay(
            cid,
            inst,
            "P1",
            "2024-03-01",
            "2024-03-08",
            diagnosis=diagnosis,
            total="1000.00",
            fund_paid="800.00",
        )

    x = [case(f"X{i}", "X", "J18.900" if i < 5 else "K35.800") for i in range(10)]
    for i in range(30):
        case(f"P{i:02d}", "A" if i < 15 else "B", "J18.000" if i < peer_j18 else "K35.800")
    for i in range(6):
        case(f"Z{i}", "Z", "J18.900")
    return x[:5]


def test_diagnosis_share_exactly_factor_times_peers_is_no_hit(tmp_path: Path) -> None:
    """四(三)二 (疾病诊断分布): 5/10 is exactly 3 × 5/30; the rule is "above" 3 times, so no
    hit."""
    d = Claims()
    _peers(d, 5)
    assert audit(tmp_path, d, "HZA12").hits == []


def test_diagnosis_share_above_factor_times_peers_is_a_hit(tmp_path: Path) -> None:
    """四(三)二 (疾病诊断分布): 5/10 against 4/30 among the peers (same category and level; the
    三级 hospital is not one), 3.75 times: a hit on the institution, the fund's payments of its
    J18 cases at issue."""
    d = Claims()
    x = _peers(d, 4)
    hit = only(audit(tmp_path, d, "HZA12"))
    assert facts(hit) == {
        "rule": "HZA12",
        "institution_id": "X",
        "insured_id": None,
        "claim_ids": tuple(x),
        "line_ids": (),
        "amount": Decimal("4000.00"),
        "period": "",
        "item_code": "J18",
        "observed": "5/10",
        "threshold": "4/30",
    }
    assert hit.explanation["zh"] == (
        "诊断J18占本机构病例的50.00%,为同类同级机构(13.33%)的3.75倍,超过3倍;涉及金额4000.00元。"
    )


def test_diagnosis_share_needs_5_cases_and_2_peers(tmp_path: Path) -> None:
    """四(三)二 (疾病诊断分布), min_cases 5, min_peers 2: 4 J18 cases of 8 are too few; with one
    peer only, nothing is compared."""
    d = Claims()
    d.person("P1")
    for inst in ("X", "A", "B"):
        d.institution(inst)
    for i in range(8):
        d.stay(
            f"X{i}", "X", "P1", "2024-03-01", "2024-03-02", diagnosis="J18.9" if i < 4 else "K35"
        )
    for i in range(30):
        d.stay(f"P{i}", "A" if i < 15 else "B", "P1", "2024-03-01", "2024-03-02", diagnosis="K35")
    assert audit(tmp_path, d, "HZA12").hits == []
    d = Claims()
    d.person("P1")
    for inst in ("X", "A"):
        d.institution(inst)
    for i in range(10):
        d.stay(f"X{i}", "X", "P1", "2024-03-01", "2024-03-02", diagnosis="J18.9")
    for i in range(10):
        d.stay(f"A{i}", "A", "P1", "2024-03-01", "2024-03-02", diagnosis="K35")
    assert audit(tmp_path / "one-peer", d, "HZA12").hits == []


def _costs(d: Claims, x_totals: Sequence[str]) -> list[str]:
    d.person("P1")
    for inst in ("X", "A", "B"):
        d.institution(inst)
    out = [
        d.stay(f"X{i}", "X", "P1", "2024-03-01", "2024-03-05", total=t, fund_paid="100.00")
        for i, t in enumerate(x_totals)
    ]
    for i in range(10):
        d.stay(f"P{i}", "A" if i < 5 else "B", "P1", "2024-03-01", "2024-03-05", total="500.00")
    return out


def test_cost_per_case_exactly_factor_times_peers_is_no_hit(tmp_path: Path) -> None:
    """四(三)二 (风险模型, 次均费用): 1000 a case is exactly 2 × the peers' 500: not above."""
    d = Claims()
    _costs(d, ["1000.00"] * 5)
    assert audit(tmp_path, d, "HZA13").hits == []


def test_cost_per_case_above_factor_times_peers_is_a_hit(tmp_path: Path) -> None:
    """四(三)二 (次均费用): 5000.05 over 5 cases against the peers' 5000.00 over 10: above 2
    times by a fen; what lies above the peers' cost per case (5000.05 − 5 × 500) is at
    issue."""
    d = Claims()
    x = _costs(d, ["1000.05", "1000.00", "1000.00", "1000.00", "1000.00"])
    hit = only(audit(tmp_path, d, "HZA13"))
    assert facts(hit) == {
        "rule": "HZA13",
        "institution_id": "X",
        "insured_id": None,
        "claim_ids": tuple(x),
        "line_ids": (),
        "amount": Decimal("2500.05"),
        "period": "",
        "item_code": None,
        "observed": "5000.05/5",
        "threshold": "5000.00/10",
    }
    assert clause(hit) == "四(三)二"
    assert hit.explanation["zh"] == (
        "次均费用1000.01元,为同类同级机构(500.00元)的2.00倍,超过2倍;涉及金额2500.05元。"
    )


# -- HZA14 stock_mismatch ---------------------------------------------------------------------


def _pharmacy(d: Claims, billed: Sequence[int]) -> list[str]:
    """Pharmacy Y1's metformin in March: 10 in and 3 out before March (opening 7), 5 in and 5
    out in March (issues are the sales themselves), 50 in after March: 12 available."""
    d.person("P1")
    d.move("Y1", METFORMIN_A, "2024-02-20", "in", 10)
    d.move("Y1", METFORMIN_A, "2024-02-25", "out", 3)
    d.move("Y1", METFORMIN_A, "2024-03-05", "in", 5)
    d.move("Y1", METFORMIN_A, "2024-03-20", "out", 5)
    d.move("Y1", METFORMIN_A, "2024-04-05", "in", 50)
    lines = []
    for i, quantity in enumerate(billed):
        cid = d.claim(f"C{i + 1}", "Y1", "P1", f"2024-03-{10 + i}", "pharmacy")
        lines.append(d.line(cid, METFORMIN_A, quantity, "1.20"))
    return lines


def test_stock_billed_equal_to_available_is_no_hit(tmp_path: Path) -> None:
    """四(三)四 (药品进销存): 12 billed against 7 opening + 5 received: no hit."""
    d = Claims()
    _pharmacy(d, [6, 6])
    assert audit(tmp_path, d, "HZA14", start="2024-03-01", end="2024-03-31").hits == []


def test_stock_billed_one_above_available_is_a_hit(tmp_path: Path) -> None:
    """四(三)四 (药品进销存), 四(三)二 串换项目: 13 billed against 12 available; the unit above,
    at its price, is at issue on the line that passed the stock."""
    d = Claims()
    lines = _pharmacy(d, [6, 7])
    hit = only(audit(tmp_path, d, "HZA14", start="2024-03-01", end="2024-03-31"))
    assert facts(hit) == {
        "rule": "HZA14",
        "institution_id": "Y1",
        "insured_id": None,
        "claim_ids": ("C2",),
        "line_ids": (lines[1],),
        "amount": Decimal("1.20"),
        "period": "",
        "item_code": METFORMIN_A,
        "observed": "13",
        "threshold": "12",
    }
    assert clause(hit) == "四(三)四"
    assert hit.explanation["zh"] == (
        f"{METFORMIN_A}期间计费数量13,超过进销存记录可供数量12;涉及金额1.20元。"
    )


def test_stock_opening_balance_is_the_movements_before_the_period(tmp_path: Path) -> None:
    """四(三)四 (药品进销存): audited over April, March's 5 in and 5 out join the opening balance
    (10 − 3 + 5 − 5 = 7) and April's 50 are received: 57 available, 58 billed."""
    d = Claims()
    _pharmacy(d, [])
    d.claim("C1", "Y1", "P1", "2024-04-10", "pharmacy")
    d.line("C1", METFORMIN_A, 57, "1.20")
    assert audit(tmp_path, d, "HZA14", start="2024-04-01", end="2024-04-30").hits == []
    d.claim("C2", "Y1", "P1", "2024-04-11", "pharmacy")
    d.line("C2", METFORMIN_A, 1, "1.20")
    hit = only(audit(tmp_path / "over", d, "HZA14", start="2024-04-01", end="2024-04-30"))
    assert (hit.observed, hit.threshold, hit.claim_ids) == ("58", "57", ("C2",))


def test_stock_one_finding_per_pharmacy_and_drug_whoever_it_was_billed_to(
    tmp_path: Path,
) -> None:
    """四(三)四 (药品进销存): the excess spread over two persons' claims is one finding of the
    pharmacy's, not one per person."""
    d = Claims()
    lines = _pharmacy(d, [10, 3])  # 13 of 12 by P1
    d.person("P2")
    d.claim("C9", "Y1", "P2", "2024-03-25", "pharmacy")
    late = d.line("C9", METFORMIN_A, 2, "1.20")  # 15 of 12
    hit = only(audit(tmp_path, d, "HZA14", start="2024-03-01", end="2024-03-31"))
    assert (hit.insured_id, hit.claim_ids, hit.line_ids) == (None, ("C2", "C9"), (lines[1], late))
    assert (hit.observed, hit.amount) == ("15", Decimal("3.60"))


def test_stock_refunds_net_and_unrecorded_pharmacies_are_not_audited(tmp_path: Path) -> None:
    """四(三)四 (药品进销存): 13 billed less 1 refunded is 12, within the stock; a pharmacy with
    no stock records is not judged at all."""
    d = Claims()
    _pharmacy(d, [6, 7, -1])
    d.claim("C9", "Y2", "P1", "2024-03-10", "pharmacy")
    d.line("C9", METFORMIN_A, 500, "1.20")
    assert audit(tmp_path, d, "HZA14", start="2024-03-01", end="2024-03-31").hits == []


# -- properties -------------------------------------------------------------------------------

ITEMS = [
    FOR_WOMEN,
    FOR_MEN,
    CHILD_ASSESSMENT,
    STIMULANT,
    CARDIAC,
    INFUSION,
    INJECTION,
    COUGH,
    HBA1C,
    METFORMIN_A,
    METFORMIN_B,
    BED,
    TREATMENT,
]
ALL_RULES = [r.rule.id for r in PACK.rules]


@st.composite
def claim_sets(draw: st.DrawFn) -> Claims:
    """A few persons, claims at a few institutions in March 2024 and lines of the items the
    rules know (refunds among them), with the institutions and stock records for one
    pharmacy: every rule of the pack can run."""
    d = Claims()
    people = draw(st.integers(1, 3))
    for p in range(people):
        birth = f"{draw(st.integers(2005, 2019))}-03-{draw(st.sampled_from([1, 10, 29])):02d}"
        d.person(f"P{p}", draw(st.sampled_from(["M", "F"])), birth)
    for inst, category, level in [
        ("H1", "hospital", "二级"),
        ("H2", "hospital", "二级"),
        ("H3", "hospital", "三级"),
        ("Y1", "pharmacy", None),
        ("Y2", "pharmacy", None),
    ]:
        d.institution(inst, category, level)
    for c in range(draw(st.integers(1, 8))):
        setting = draw(st.sampled_from(["outpatient", "inpatient", "pharmacy"]))
        day = draw(st.integers(1, 28))
        date = f"2024-03-{day:02d}"
        who = f"P{draw(st.integers(0, people - 1))}"
        if setting == "inpatient":
            admitted = f"2024-03-{draw(st.integers(1, day)):02d}"
            d.stay(
                f"C{c}",
                draw(st.sampled_from(["H1", "H2", "H3"])),
                who,
                admitted,
                date,
                diagnosis=draw(st.sampled_from(["J18.9", "K35.8"])),
            )
        else:
            d.claim(f"C{c}", draw(st.sampled_from(["H1", "H2", "Y1", "Y2"])), who, date, setting)
        for _ in range(draw(st.integers(1, 4))):
            item = draw(st.sampled_from(ITEMS))
            quantity = draw(st.integers(-2, 6).filter(lambda q: q != 0))
            drug = item.startswith("X")
            d.line(
                f"C{c}",
                item,
                quantity,
                draw(st.sampled_from(["1.20", "12.50", "35.50"])),
                date=f"2024-03-{draw(st.integers(1, day)):02d}",
                days_supply=draw(st.integers(1, 30)) if drug and quantity > 0 else None,
            )
    d.move("Y1", METFORMIN_A, "2024-02-01", "in", draw(st.integers(1, 10)))
    d.move("Y1", COUGH, "2024-03-02", "in", draw(st.integers(1, 10)))
    return d


def _jsonl(folder: Path, d: Claims, rules: Sequence[str]) -> str:
    result = audit(folder, d, *rules, start="2024-03-01", end="2024-03-31")
    return hits_jsonl(PACK, result.hits)


_PROPERTY = settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_PROPERTY
@given(d=claim_sets(), seed=st.integers(0, 2**32 - 1))
def test_property_the_order_of_records_never_changes_the_hits(
    tmp_path: Path, d: Claims, seed: int
) -> None:
    """Every rule's hits are a function of the records, not of their order in the files:
    shuffling every file gives the same hits JSONL, byte for byte."""
    before = _jsonl(tmp_path / "a", d, ALL_RULES)
    shuffler = random.Random(seed)
    shuffled = Claims(
        insured=shuffler.sample(d.insured, len(d.insured)),
        claims=shuffler.sample(d.claims, len(d.claims)),
        lines=shuffler.sample(d.lines, len(d.lines)),
        stock=shuffler.sample(d.stock or [], len(d.stock or [])),
        subjects=shuffler.sample(d.subjects or [], len(d.subjects or [])),
    )
    assert _jsonl(tmp_path / "b", shuffled, ALL_RULES) == before


def _by_finding(hits: Sequence[Hit]) -> dict[tuple[Any, ...], Decimal]:
    """Hits by what they are about (their line ids grow when a line is added)."""
    out = {}
    for h in hits:
        key: tuple[Any, ...] = (h.rule, h.institution_id, h.insured_id, h.period, h.item_code)
        if h.rule == "HZA01":
            key = (*key, h.claim_ids)
        assert key not in out
        out[key] = h.amount
    return out


@_PROPERTY
@given(d=claim_sets(), data=st.data())
def test_property_one_more_offending_line_never_removes_a_hit_nor_lowers_an_amount(
    tmp_path: Path, d: Claims, data: st.DataObject
) -> None:
    """四(三)一 (限性别, 超限量): a further line of a sex-limited item for the other sex, or of a
    limited quantity, can only add findings and money at issue."""
    rules = ["HZA01", "HZA04"]
    before = _by_finding(
        audit(tmp_path / "a", d, *rules, start="2024-03-01", end="2024-03-31").hits
    )
    claim = data.draw(st.sampled_from(d.claims))
    person = next(p for p in d.insured if p["id"] == claim["insured_id"])
    item = data.draw(
        st.sampled_from([FOR_MEN if person["sex"] == "F" else FOR_WOMEN, INFUSION, COUGH])
    )
    day = data.draw(st.sampled_from(sorted({ln["date"] for ln in d.lines})))
    d.line(
        claim["id"],
        item,
        data.draw(st.integers(1, 6)),
        data.draw(st.sampled_from(["0.50", "1.20", "12.50"])),
        date=day,
        id=data.draw(st.sampled_from(["L00", "L99", "L05a"])),
    )
    after = _by_finding(audit(tmp_path / "b", d, *rules, start="2024-03-01", end="2024-03-31").hits)
    for key, amount in before.items():
        assert key in after, key
        assert after[key] >= amount, key


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(d=claim_sets())
def test_property_two_runs_are_byte_identical(tmp_path: Path, d: Claims) -> None:
    """A rerun over the same files gives the same hits JSONL, ids included."""
    files = d.write(tmp_path / "set")
    runs = [
        hits_jsonl(
            PACK,
            audit_files(
                PACK,
                claims=files["claims"],
                lines=files["lines"],
                insured=files["insured"],
                stock=files["stock"],
                subjects=files["subjects"],
                period_from=dt.date(2024, 3, 1),
                period_to=dt.date(2024, 3, 31),
                rules=ALL_RULES,
            ).hits,
        )
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
