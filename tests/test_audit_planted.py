"""The Huzhou audit pack over a synthetic city with planted anomalies (issue 12 item 6).

湖政办函〔2019〕14号 四(三)二 asks for risk models over 参保人就诊轨迹、套刷药品、疾病诊断分布、
串换项目、出入院合理性、用药重复性, and 四(三)四 for the pharmacies' 药品进销存 to be watched;
四(三)一 for machine audit of every claim against knowledge points. ``benchmarks/claims_city.py``
writes a city whose clean claims no rule of ``huzhou_audit`` may flag, plants a case of every
rule (HZA01..HZA14) in it — boundary cases that must hit (readmission on day 15, one above the
daily limit, an overlap of exactly 7 days, 3 idle days, 3 pharmacies) — and near-misses that
must not (day 16, the limit itself, 6 days, 2 idle days, 2 pharmacies), and says in
planted.json what each hit must name. The audit must find exactly the planted hits, and give
the same bytes whatever the order of its input.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
for _path in (ROOT, ROOT / "src"):  # a checkout without the package installed
    if str(_path) not in sys.path:
        sys.path.append(str(_path))

from benchmarks.claims_city import generate  # noqa: E402
from yibao_credit.audit.compile import load_audit_pack  # noqa: E402
from yibao_credit.audit.hits import Hit, hits_jsonl  # noqa: E402
from yibao_credit.audit.run import AuditResult, audit_files  # noqa: E402
from yibao_credit.cli.main import main  # noqa: E402

CLAIMS = 3_000
SETS = 2
"""Planted sets of every case: the second set checks that cases of one rule stay apart."""

RULES = [f"HZA{n:02d}" for n in range(1, 15)]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("city")
    generate(CLAIMS, folder, seed=11, fmt="jsonl", anomalies=SETS)
    return folder


@pytest.fixture(scope="module")
def planted(city: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((city / "planted.json").read_text(encoding="utf-8"))
    return data


def _period(planted: dict[str, Any]) -> tuple[dt.date, dt.date]:
    p = planted["period"]
    return dt.date.fromisoformat(p["from"]), dt.date.fromisoformat(p["to"])


def _files(folder: Path, planted: dict[str, Any]) -> dict[str, Path]:
    return {k: folder / v for k, v in planted["files"].items()}


@pytest.fixture(scope="module")
def result(city: Path, planted: dict[str, Any]) -> AuditResult:
    start, end = _period(planted)
    f = _files(city, planted)
    return audit_files(
        load_audit_pack("huzhou_audit"),
        claims=f["claims"],
        lines=f["lines"],
        insured=f["insured"],
        subjects=f["subjects"],
        stock=f["stock"],
        period_from=start,
        period_to=end,
    )


def _key(rule: str, claims: Any) -> tuple[str, tuple[str, ...]]:
    return rule, tuple(sorted(claims))


def test_the_city_plants_a_case_of_every_rule_and_a_near_miss_of_most(
    planted: dict[str, Any], result: AuditResult
) -> None:
    """Every rule has planted hits; the near-misses cover the boundaries of 四(三)二."""
    assert {a["rule"] for a in planted["anomalies"]} == set(RULES)
    assert {m["rule"] for m in planted["near_misses"]} == set(RULES)
    assert planted["counts"]["claims"] == CLAIMS
    outside = planted["counts"]["outside_period"]
    assert outside["claims"] > 0  # look-back context, and claims after the period
    assert result.audited == {
        "claims": CLAIMS - outside["claims"],
        "lines": planted["counts"]["lines"] - outside["lines"],
    }
    assert not result.warnings


def test_every_planted_anomaly_is_found_with_its_rule_claims_and_subject(
    planted: dict[str, Any], result: AuditResult
) -> None:
    """湖政办函〔2019〕14号 四(三)二 / 四(三)四: each planted case is one hit of its rule, naming
    the claims, the institution, the insured person, the item, the observed boundary value and
    the money at issue that planted.json gives."""
    found = {_key(h.rule, h.claim_ids): h for h in result.hits}
    for case in planted["anomalies"]:
        hit = found.get(_key(case["rule"], case["claim_ids"]))
        assert hit is not None, f"{case['rule']} {case['case']}: not found ({case['claim_ids']})"
        for name in ("institution_id", "insured_id", "item_code", "observed"):
            if case.get(name) is not None:
                assert getattr(hit, name) == case[name], (case["case"], name)
        if "amount" in case:
            assert str(hit.amount) == case["amount"], case["case"]


def test_clean_claims_give_no_hit(planted: dict[str, Any], result: AuditResult) -> None:
    """No hit but the planted ones: none names only clean claims, and none is found twice."""
    dirty = {c for case in planted["anomalies"] for c in case["claim_ids"]}
    for hit in result.hits:
        assert set(hit.claim_ids) & dirty, f"{hit.rule} names only clean claims: {hit.claim_ids}"
    expected = sorted(_key(a["rule"], a["claim_ids"]) for a in planted["anomalies"])
    assert sorted(_key(h.rule, h.claim_ids) for h in result.hits) == expected


def test_near_misses_give_no_hit(planted: dict[str, Any], result: AuditResult) -> None:
    """湖政办函〔2019〕14号 四(三)二, the pack's thresholds with 以上/以内 including the number
    (《民法典》第1259条): readmitted on day 16, the daily limit itself, 6 days of overlap, 2 idle
    days, 2 pharmacies, 3 outpatient institutions, a birthday one day short, 4 cases where 5
    are needed, stock exactly covering the bills — none is a hit of its rule."""
    for miss in planted["near_misses"]:
        claims = set(miss["claim_ids"])
        wrong = [h for h in result.hits if h.rule == miss["rule"] and claims & set(h.claim_ids)]
        assert not wrong, f"{miss['rule']} {miss['case']}: {[h.claim_ids for h in wrong]}"
        if miss["rule"] in ("HZA12", "HZA13", "HZA14"):  # about an institution (and a drug)
            assert not [
                h
                for h in result.hits
                if h.rule == miss["rule"]
                and h.institution_id == miss["institution_id"]
                and miss["item_code"] in (None, h.item_code)
            ], miss["case"]


def _by_rule(hits: list[Hit]) -> dict[str, int]:
    out: dict[str, int] = {}
    for h in hits:
        out[h.rule] = out.get(h.rule, 0) + 1
    return out


def test_each_rule_finds_as_many_hits_as_were_planted(
    planted: dict[str, Any], result: AuditResult
) -> None:
    want: dict[str, int] = {}
    for a in planted["anomalies"]:
        want[a["rule"]] = want.get(a["rule"], 0) + 1
    assert _by_rule(result.hits) == want


def _shuffled(src: Path, dst: Path, planted: dict[str, Any], seed: int) -> None:
    """The same records in another order (a CSV header stays first)."""
    rng = random.Random(seed)
    dst.mkdir()
    for name in planted["files"].values():
        rows = (src / name).read_text(encoding="utf-8").splitlines(keepends=True)
        head, body = (rows[:1], rows[1:]) if name.endswith(".csv") else ([], rows)
        rng.shuffle(body)
        (dst / name).write_text("".join(head + body), encoding="utf-8")


def _cli(folder: Path, planted: dict[str, Any], out: Path) -> bytes:
    start, end = _period(planted)
    f = _files(folder, planted)
    args = ["audit", "huzhou_audit"]
    for name in ("claims", "lines", "insured", "subjects", "stock"):
        args += [f"--{name}", str(f[name])]
    args += ["--from", start.isoformat(), "--to", end.isoformat(), "--output", str(out)]
    assert main(args) == 0
    return out.read_bytes()


def test_the_hits_file_is_the_same_on_a_rerun_and_whatever_the_order_of_the_input(
    city: Path, planted: dict[str, Any], result: AuditResult, tmp_path: Path
) -> None:
    """The command line's hits file, byte for byte: the library's, again on a rerun, again
    over every input file shuffled, and again over the same city written as CSV."""
    first = _cli(city, planted, tmp_path / "hits1.jsonl")
    assert first == hits_jsonl(load_audit_pack("huzhou_audit"), result.hits).encode("utf-8")
    assert _cli(city, planted, tmp_path / "hits2.jsonl") == first
    _shuffled(city, tmp_path / "shuffled", planted, seed=3)
    assert _cli(tmp_path / "shuffled", planted, tmp_path / "hits3.jsonl") == first
    as_csv = tmp_path / "csv"
    generate(CLAIMS, as_csv, seed=11, fmt="csv", anomalies=SETS)
    assert _cli(as_csv, json.loads((as_csv / "planted.json").read_text()), tmp_path / "h4") == first
    shutil.rmtree(as_csv)


def test_the_generator_is_deterministic(tmp_path: Path, city: Path) -> None:
    """One seed, one city: the same bytes in every file."""
    again = tmp_path / "again"
    generate(CLAIMS, again, seed=11, fmt="jsonl", anomalies=SETS)
    for path in sorted(city.iterdir()):
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name
