"""``yibao-credit analyze`` and ``report`` (src/yibao_credit/render/analysis.py, render/html.py,
cli/analyze.py): the analysis a trial evaluation is judged by.

济医保字〔2023〕19号 四(二)5 asks for a 试评价 before the model goes live, and 四(三) for the
analysis of its results "按不同区划、等级以及重点指标", the model to be revised where results
"明显偏离" expectations. The world below is eight institutions scored by policies/jinan.yaml
(weights, points and bands provisional, 三(三)/四(二)5; the score is their weighted mean,
examples/jinan/README.md "How a score is made"). Each was designated on 2015-01-01 (基础信息
100) and signed its commitment (三(四), 信用承诺 100); evaluated as of 2024-12-31 without history
(历史信用信息 80): 10 + 10 + 6 + 50 + 16 = 92, band A [90, 100].

| id | region | category, level | events | score | grade |
|---|---|---|---|---|---|
| H1 | 370102 | hospital 三级 | — | 92 | A |
| H2 | 370103 | hospital 三级 | — | 92 | A |
| H3 | 370102 | hospital 三级 | a reward of 0.1 (守信信息 60.1 → +0.01) | 92.01 | A |
| H4 | 370103 | hospital 三级 | a violation of 2023-12-31 (失信信息 −10 → −5) | 87 | B |
| H5 | 370103 | hospital 三级 | a violation of 2024-05-01 | 87 | B |
| H6 | 370103 | hospital 三级 | three violations (−30 → −15) | 77 | C |
| P1 | 370104 | pharmacy | — | 92 | A |
| P2 | 370104 | pharmacy | fraud (−40 → −20: 72, band C; the fraud veto forces D) | 72 | D |
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from collections import Counter
from collections.abc import Sequence
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import yibao_credit as yc
from yibao_credit.cli.main import main
from yibao_credit.render.analysis import (
    CSV_COLUMNS,
    MIN_PEERS,
    Stats,
    analysis_html,
    analysis_table,
    analysis_to_dict,
    analyze,
    exact_median,
)
from yibao_credit.render.html import (
    bar_svg,
    escape,
    histogram_bins,
    histogram_svg,
    html_page,
    migration_svg,
)

ROOT = Path(__file__).resolve().parents[1]
PACK_PATH = ROOT / "policies" / "jinan.yaml"
DOC = "济医保字〔2023〕19号"
AS_OF = dt.date(2024, 12, 31)


def institution(sid: str, category: str, region: str, level: str | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": sid,
        "type": "institution",
        "category": category,
        "name": f"示例{sid}",
        "region": region,
        "designated_on": "2015-01-01",
    }
    if level is not None:
        row["level"] = level
    return row


SUBJECTS = [
    institution("H1", "hospital", "370102", "三级"),
    institution("H2", "hospital", "370103", "三级"),
    institution("H3", "hospital", "370102", "三级"),
    institution("H4", "hospital", "370103", "三级"),
    institution("H5", "hospital", "370103", "三级"),
    institution("H6", "hospital", "370103", "三级"),
    institution("P1", "pharmacy", "370104"),
    institution("P2", "pharmacy", "370104"),
]
EVENTS: list[dict[str, Any]] = [
    *(
        {"id": f"C-{s['id']}", "subject_id": s["id"], "kind": "commitment", "date": "2024-01-10"}
        for s in SUBJECTS
    ),
    {"id": "W-H3", "subject_id": "H3", "kind": "reward", "date": "2024-06-01", "points": 0.1},
    {"id": "V-H4", "subject_id": "H4", "kind": "violation", "date": "2023-12-31"},
    {"id": "V-H5", "subject_id": "H5", "kind": "violation", "date": "2024-05-01"},
    *(
        {"id": f"V-H6-{m}", "subject_id": "H6", "kind": "violation", "date": f"2024-0{m}-15"}
        for m in (2, 3, 4)
    ),
    {"id": "F-P2", "subject_id": "P2", "kind": "fraud", "date": "2024-07-01"},
]
SCORES = {"H1": 92, "H2": 92, "H3": 92.01, "H4": 87, "H5": 87, "H6": 77, "P1": 92, "P2": 72}
GRADES = {"H1": "A", "H2": "A", "H3": "A", "H4": "B", "H5": "B", "H6": "C", "P1": "A", "P2": "D"}


@pytest.fixture(scope="module")
def pack() -> yc.Policy:
    return yc.load_policy(PACK_PATH)


def run_of(
    pack: yc.Policy,
    subjects: Sequence[dict[str, Any]] = SUBJECTS,
    events: Sequence[dict[str, Any]] = EVENTS,
    as_of: dt.date = AS_OF,
) -> yc.Run:
    """The subjects evaluated, with their own events (any others left out first)."""
    ids = {s["id"] for s in subjects}
    mine = [e for e in events if e["subject_id"] in ids]
    run: yc.Run = pack.evaluate(list(subjects), mine, as_of=as_of)
    return run


@pytest.fixture(scope="module")
def analysed(pack: yc.Policy) -> dict[str, Any]:
    return analysis_to_dict(analyze(run_of(pack), top=3))


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    subjects, events = tmp_path / "subjects.jsonl", tmp_path / "events.jsonl"
    subjects.write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in SUBJECTS))
    events.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    return subjects, events


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def stats(d: dict[str, Any]) -> tuple[Any, ...]:
    return d["count"], d["mean"], d["median"], d["min"], d["max"]


# -- the world is as the table says -------------------------------------------------------


def test_the_world_scores_as_worked_out_by_hand(pack: yc.Policy) -> None:
    """三(三)/四(二)5 (provisional weights and bands), 三(二) 失信信息, 三(四): each score and
    grade of the module's table; P2's fraud veto forces D over its band C."""
    run = run_of(pack)
    assert {r.subject.id: r.score for r in run} == SCORES
    assert {r.subject.id: r.grade for r in run} == GRADES


# -- 四(三): by 区划 and 等级 --------------------------------------------------------------


def test_jinan_4_3_grade_counts_by_region_group_category_and_ruleset(
    analysed: dict[str, Any],
) -> None:
    """济医保字〔2023〕19号 四(三) 按不同区划、等级…进行分析: how many of each grade, overall and
    in each region (区划), evaluation group (四(一)2 两大主体), category and ruleset."""
    g = analysed["grades"]
    assert analysed["outcomes"] == ["A", "B", "C", "D"]
    assert g["all"] == {"all": {"A": 4, "B": 2, "C": 1, "D": 1}}
    assert g["region"] == {
        "370102": {"A": 2},
        "370103": {"A": 1, "B": 2, "C": 1},
        "370104": {"A": 1, "D": 1},
    }
    assert g["group"] == {
        "institution/medical": {"A": 3, "B": 2, "C": 1},
        "institution/pharmacy": {"A": 1, "D": 1},
    }
    assert g["category"] == {"hospital": {"A": 3, "B": 2, "C": 1}, "pharmacy": {"A": 1, "D": 1}}
    assert g["ruleset"] == {"institution": {"A": 4, "B": 2, "C": 1, "D": 1}}
    assert analysed["subjects"] == 8
    assert analysed["policy"]["id"] == "jinan"


def test_jinan_4_3_score_statistics_overall_by_region_and_grade(analysed: dict[str, Any]) -> None:
    """四(三) 根据各主体信用分值…按不同区划、等级: count, mean, median, min and max of the score.
    Overall: 691.01 / 8 = 86.37625 → 86.38; median (87 + 92) / 2 = 89.5."""
    score = analysed["rulesets"]["institution"]["score"]
    assert stats(score["all"]) == (8, 86.38, 89.5, 72, 92.01)
    by = score["by"]
    assert stats(by["region"]["370103"]) == (4, 85.75, 87, 77, 92)  # 343 / 4
    assert stats(by["region"]["370104"]) == (2, 82, 82, 72, 92)
    assert stats(by["group"]["institution/medical"]) == (6, 87.84, 89.5, 77, 92.01)
    assert list(by["grade"]) == ["A", "B", "C", "D"]  # in the pack's order, best first
    assert stats(by["grade"]["A"]) == (4, 92, 92, 92, 92.01)  # 368.01 / 4 = 92.0025 → 92.00
    assert stats(by["grade"]["D"]) == (1, 72, 72, 72, 72)
    assert "ruleset" not in by  # one key within a ruleset


def test_means_are_exact_decimals_rounded_half_up_as_the_pack_rounds(
    analysed: dict[str, Any],
) -> None:
    """三(三) ``precision: 2``: region 370102 holds 92 and 92.01, whose mean 92.005 is 92.01 half
    up — a float mean (92.00499…) would give 92.0; the fact ``violations`` (0,0,0,1,1,3,0,0)
    has mean 0.625, half up 0.63 (not the banker's 0.62)."""
    rs = analysed["rulesets"]["institution"]
    assert stats(rs["score"]["by"]["region"]["370102"]) == (2, 92.01, 92.01, 92, 92.01)
    assert round(sum([92.0, 92.01]) / 2, 2) == 92.0  # what float arithmetic would have said
    facts = {f["name"]: f for f in rs["facts"]}
    assert stats(facts["violations"]["all"]) == (8, 0.63, 0, 0, 3)
    assert stats(facts["frauds"]["all"]) == (8, 0.13, 0, 0, 1)  # 1 / 8 = 0.125


def test_exact_median_and_stats_of_nothing() -> None:
    assert exact_median([Decimal("92"), Decimal("92.01")]) == Decimal("92.005")
    assert exact_median([Decimal(3), Decimal(1), Decimal(2)]) == 2
    empty = Stats.of([], 2, 2)
    assert (empty.count, empty.missing, empty.mean, empty.median) == (0, 2, None, None)
    with pytest.raises(ValueError):
        exact_median([])


def test_categories_items_and_facts_read_from_the_values(analysed: dict[str, Any]) -> None:
    """三(二): the five kinds of credit information are the score categories; 失信信息 is
    100, 100, 100, 90, 90, 70, 100, 60 (mean 88.75, median 95). The item ``violations`` gives
    −10, −10, −30 (mean −50 / 8 = −6.25). ``committed`` is a yes/no fact: its mean is the share
    that signed (三(四))."""
    rs = analysed["rulesets"]["institution"]
    cats = {c["name"]: c for c in rs["categories"]}
    assert list(cats) == ["commitment", "basic", "trust", "adverse", "history"]
    assert stats(cats["adverse"]["all"]) == (8, 88.75, 95, 60, 100)
    assert stats(cats["adverse"]["by"]["grade"]["D"]) == (1, 60, 60, 60, 60)
    assert stats(cats["trust"]["all"]) == (8, 60.01, 60, 60, 60.1)  # 480.1 / 8 = 60.0125
    items = {(i["category"], i["name"]): i for i in rs["items"]}
    assert stats(items[("adverse", "violations")]["all"]) == (8, -6.25, 0, -30, 0)
    assert stats(items[("adverse", "frauds")]["all"]) == (8, -5, 0, -40, 0)
    facts = {f["name"]: f for f in rs["facts"]}
    assert facts["committed"]["type"] == "bool"
    assert stats(facts["committed"]["all"]) == (8, 1, 1, 1, 1)
    assert rs["not_numeric"] == []
    assert (rs["graded"], rs["excluded"], rs["places"]) == (8, 0, 2)


def test_an_adverse_event_counts_until_its_validity_ends_then_not(pack: yc.Policy) -> None:
    """三(五) 不良行为信息有效期届满…自动失效 (validity 1y, provisional; 届满 includes its last day,
    《民法典》第1259条): H4's violation of 2023-12-31 counts as of 2024-12-31 (87) and no longer
    as of 2025-01-01 (92), and the analysis follows: 5 violations in force, then 4."""
    before = analysis_to_dict(analyze(run_of(pack, as_of=dt.date(2024, 12, 31))))
    after = analysis_to_dict(analyze(run_of(pack, as_of=dt.date(2025, 1, 1))))

    def violations(a: dict[str, Any]) -> tuple[Any, ...]:
        fact = next(f for f in a["rulesets"]["institution"]["facts"] if f["name"] == "violations")
        return stats(fact["all"])

    assert violations(before) == (8, 0.63, 0, 0, 3)
    assert violations(after) == (8, 0.5, 0, 0, 3)
    assert before["grades"]["all"]["all"] == {"A": 4, "B": 2, "C": 1, "D": 1}
    assert after["grades"]["all"]["all"] == {"A": 5, "B": 1, "C": 1, "D": 1}


# -- 四(三) 明显偏离: outliers ----------------------------------------------------------------


def test_jinan_4_3_the_planted_deviant_is_found_and_a_small_group_skipped(
    analysed: dict[str, Any],
) -> None:
    """四(三) 如有明显偏离: among the six 三级 hospitals of group medical (scores 77, 87, 87, 92,
    92, 92.01; median 89.5, MAD 2.5), H6 lies (77 − 89.5) / (1.4826 × 2.5) = −3.37 from its
    peers: first. H3 (+2.51 → 0.68) comes next, then the ties at ±0.67 by subject id. The two
    pharmacies are fewer than five: skipped and listed as such."""
    out = analysed["outliers"]
    assert out["min_peers"] == MIN_PEERS == 5
    top = [(o["subject_id"], o["z"], o["deviation"], o["peers"]) for o in out["subjects"]]
    assert top == [("H6", -3.37, -12.5, 6), ("H3", 0.68, 2.51, 6), ("H1", 0.67, 2.5, 6)]
    assert out["subjects"][0]["median"] == 89.5
    assert out["subjects"][0]["peer_group"] == "institution/medical/hospital/三级"
    groups = {g["label"]: g for g in out["peer_groups"]}
    assert groups["institution/medical/hospital/三级"]["mad"] == 2.5
    assert groups["institution/medical/hospital/三级"]["scale"] == "mad"
    small = groups["institution/pharmacy/pharmacy/-"]
    assert (small["size"], small["scale"], small["median"]) == (2, "skipped", None)


def test_top_limits_the_list(pack: yc.Policy) -> None:
    a = analysis_to_dict(analyze(run_of(pack), top=1))
    assert [o["subject_id"] for o in a["outliers"]["subjects"]] == ["H6"]
    full = analysis_to_dict(analyze(run_of(pack), top=100))
    assert len(full["outliers"]["subjects"]) == 6  # every hospital deviates from 89.5
    with pytest.raises(ValueError, match="top"):
        analyze(run_of(pack), top=0)


def test_when_most_peers_agree_the_mean_absolute_deviation_stands_in(pack: yc.Policy) -> None:
    """Five 三级 hospitals, four clean (92) and one with a violation (87, 三(二) 失信信息): the
    median is 92 and so is more than half the group, MAD 0; the scale is 1.2533 × the mean
    absolute deviation (5 / 5 = 1): z = −5 / 1.2533 = −3.99. Five clean ones: all equal, none
    deviates."""
    hospitals = [institution(f"K{i}", "hospital", "370102", "三级") for i in range(1, 6)]
    commits = [
        {"id": f"C-{h['id']}", "subject_id": h["id"], "kind": "commitment", "date": "2024-01-10"}
        for h in hospitals
    ]
    violation = {"id": "V-K5", "subject_id": "K5", "kind": "violation", "date": "2024-05-01"}
    a = analysis_to_dict(analyze(run_of(pack, hospitals, [*commits, violation])))
    assert [(o["subject_id"], o["z"]) for o in a["outliers"]["subjects"]] == [("K5", -3.99)]
    assert a["outliers"]["peer_groups"][0]["scale"] == "mean_ad"
    uniform = analysis_to_dict(analyze(run_of(pack, hospitals, commits)))
    assert uniform["outliers"]["subjects"] == []
    assert uniform["outliers"]["peer_groups"][0]["scale"] == "uniform"
    assert "所有得分均等于同组中位数" in analysis_table(analyze(run_of(pack, hospitals, commits)))


def test_exactly_min_peers_is_compared_one_fewer_is_not(pack: yc.Policy) -> None:
    """A peer group of 5 is compared, one of 4 is skipped."""
    five = [s for s in SUBJECTS if s["id"] != "H2"]  # H1, H3, H4, H5, H6
    four = [s for s in five if s["id"] != "H1"]
    sizes = {
        n: analysis_to_dict(analyze(run_of(pack, group)))["outliers"]["peer_groups"][0]
        for n, group in ((5, five), (4, four))
    }
    assert (sizes[5]["size"], sizes[5]["scale"]) == (5, "mad")
    assert (sizes[4]["size"], sizes[4]["scale"]) == (4, "skipped")


# -- 四(三) 重点指标: key indicators ---------------------------------------------------------


def test_jinan_4_3_names_no_key_indicator_and_says_why(analysed: dict[str, Any]) -> None:
    """济医保字〔2023〕19号 四(三) asks for an analysis by 重点指标 but names none: the pack's
    ``analysis:`` lists none, cites 四(三) and says so in its note (nothing chosen for it)."""
    key = analysed["rulesets"]["institution"]["key_indicators"]
    assert key["names"] == [] and key["indicators"] == []
    assert key["clause"] == f"{DOC} 四(三)"
    assert key["provisional"] is None
    assert "未指明哪些指标是重点指标" in key["note"]


def pack_with_key_indicators(tmp_path: Path, names: str) -> Path:
    text = PACK_PATH.read_text(encoding="utf-8")
    assert text.count("key_indicators: []") == 1
    path = tmp_path / "jinan_key.yaml"
    path.write_text(text.replace("key_indicators: []", f"key_indicators: {names}"), "utf-8")
    return path


def test_named_key_indicators_are_analysed_by_region_group_and_grade(tmp_path: Path) -> None:
    """A pack that names key indicators: each name's fact, category or item (``violations`` is
    both a fact and a score item of 三(二) 失信信息), by every dimension and by grade."""
    pack = yc.load_policy(pack_with_key_indicators(tmp_path, "[adverse, violations]"))
    a = analysis_to_dict(analyze(run_of(pack)))
    key = a["rulesets"]["institution"]["key_indicators"]
    assert key["names"] == ["adverse", "violations"]
    got = [(i["kind"], i["name"]) for i in key["indicators"]]
    assert got == [("category", "adverse"), ("fact", "violations"), ("item", "violations")]
    fact = key["indicators"][1]
    assert set(fact["by"]) == {"region", "group", "category", "grade"}
    assert stats(fact["by"]["region"]["370103"]) == (4, 1.25, 1, 0, 3)  # 0 + 1 + 1 + 3
    assert stats(fact["by"]["grade"]["B"]) == (2, 1, 1, 1, 1)
    table = analysis_table(analyze(run_of(pack)), "en")
    assert "key indicators: adverse, violations" in table


def test_an_unknown_key_indicator_is_an_error_at_its_line_and_column(tmp_path: Path) -> None:
    """Principle 4: a misspelt key indicator would silently drop it from the analysis; it is
    an error naming the file, line, column and path (pack.invalid), with a suggestion."""
    path = pack_with_key_indicators(tmp_path, "[violations, violatons]")
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(path)
    (problem,) = info.value.problems
    lines = path.read_text(encoding="utf-8").splitlines()
    line = next(i for i, t in enumerate(lines, 1) if "violatons" in t)
    assert problem.code == "pack.invalid"
    assert problem.location.file == str(path)
    assert problem.location.line == line
    assert problem.location.column == lines[line - 1].index("violatons") + 1
    assert problem.location.path == "rulesets.institution.analysis.key_indicators[1]"
    assert "unknown key indicator 'violatons' (did you mean 'violations'?)" in problem.message


def test_a_key_indicator_listed_twice_or_not_an_identifier_is_located(tmp_path: Path) -> None:
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(pack_with_key_indicators(tmp_path, "[frauds, frauds]"))
    (problem,) = info.value.problems
    assert problem.location.path == "rulesets.institution.analysis.key_indicators[1]"
    assert "listed twice" in problem.message
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(pack_with_key_indicators(tmp_path, "['1x']"))
    assert info.value.problems[0].code == "pack.schema.string_pattern_mismatch"


def test_analysis_needs_provenance(tmp_path: Path) -> None:
    """Principle 2: ``analysis:`` is a choice of the pack, so it cites a clause or says it is
    provisional, like every rule."""
    text = PACK_PATH.read_text(encoding="utf-8")
    block = text[text.index("    analysis:\n") :]
    path = tmp_path / "jinan_bare.yaml"
    path.write_text(text.replace(block, "    analysis:\n      key_indicators: [frauds]\n"), "utf-8")
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(path)
    assert info.value.problems[0].location.path == "rulesets.institution.analysis"
    assert "needs 'clause'" in info.value.problems[0].message


def test_a_pack_without_analysis_says_it_names_no_key_indicator() -> None:
    """镇医保〔2024〕82号 grades by criteria: no score, so no score statistics and no peers
    compared (said in the notes); its facts are analysed; it has no ``analysis:``."""
    pack = yc.load_policy(ROOT / "policies" / "zhenjiang.yaml")
    ex = ROOT / "examples" / "zhenjiang"
    run = pack.evaluate(yc.load_records(ex / "subjects.jsonl", ex / "events.jsonl"), as_of=AS_OF)
    a = analysis_to_dict(analyze(run))
    rs = a["rulesets"]["institution"]
    assert rs["score"] is None and rs["categories"] == [] and rs["items"] == []
    assert rs["key_indicators"] is None
    assert rs["graded"] + rs["excluded"] == 42 and rs["excluded"] == 7
    assert {f["name"] for f in rs["facts"]} >= {"violations", "licence_revoked"}
    assert a["outliers"]["subjects"] == [] and a["outliers"]["peer_groups"] == []
    assert any("gives no score" in n or "没有得分" in n for n in a["notes"])
    assert "group" not in a["by"]  # the pack has no evaluation groups: said in a note
    assert any("评价分组" in n for n in a["notes"])
    assert sum(a["grades"]["all"]["all"].values()) == 42
    assert "excluded:licence" in a["outcomes"]


# -- the command: formats, output, engines -------------------------------------------------


def test_cli_analyze_json_is_the_analysis(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], analysed: dict[str, Any]
) -> None:
    subjects, events = files
    code, out, err = cli(
        capsys, "analyze", PACK_PATH, "--subjects", subjects, "--events", events,
        "--as-of", "2024-12-31", "--format", "json", "--top", "3",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out) == analysed
    assert "eval.no-history" in err  # warnings on standard error as for every command


def test_cli_analyze_csv_is_one_long_table(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    import csv
    import io

    subjects, events = files
    code, out, _ = cli(
        capsys, "analyze", PACK_PATH, "--subjects", subjects, "--events", events,
        "--as-of", "2024-12-31", "--format", "csv", "--lang", "en",
    )  # fmt: skip
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == CSV_COLUMNS
    grades = {
        (r["by"], r["key"], r["outcome"]): int(r["count"]) for r in rows if r["section"] == "grades"
    }
    assert grades[("region", "370103", "B")] == 2
    score = next(r for r in rows if r["section"] == "score" and r["by"] == "all")
    assert (score["count"], score["mean"], score["median"], score["min"], score["max"]) == (
        "8", "86.38", "89.5", "72", "92.01",
    )  # fmt: skip
    outlier = next(r for r in rows if r["section"] == "outlier")
    assert (outlier["subject_id"], outlier["z"], outlier["count"]) == ("H6", "-3.37", "6")
    skipped = [r for r in rows if r["section"] == "peer_group" and r["outcome"] == "skipped"]
    assert [(r["key"], r["count"]) for r in skipped] == [("institution/pharmacy/pharmacy/-", "2")]
    key = next(r for r in rows if r["section"] == "key_indicators")
    assert (key["outcome"], key["key"]) == ("none_named", f"{DOC} 四(三)")


def test_cli_analyze_table_in_both_languages(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    subjects, events = files
    base = ["analyze", PACK_PATH, "--subjects", subjects, "--events", events, "--as-of",
            "2024-12-31"]  # fmt: skip
    code, zh, _ = cli(capsys, *base)
    assert code == 0
    assert zh.startswith("jinan 2023.1-provisional  评测日 2024-12-31  评价对象数 8\nsha256 ")
    for heading in (
        "== 等级分布 ==",
        "总分 / 评分类别",
        "== 偏离同组中位数最多的评价对象 (top 10) ==",
    ):
        assert heading in zh
    h6 = r"^H6 +示例H6 +institution/medical/hospital/三级 +6 +77 +89\.5 +-12\.5 +-3\.37$"
    assert re.search(h6, zh, re.M)
    assert "本包未指定重点指标" in zh
    code, en, _ = cli(capsys, *base, "--lang", "en", "--by", "region")
    assert code == 0
    assert "== grade distribution ==" in en and "the pack names no key indicator" in en
    assert "group  " not in en.split("== institution")[0]  # only region was asked for


def test_cli_analyze_output_is_written_whole(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subjects, events = files
    target = tmp_path / "analysis.json"
    code, out, _ = cli(
        capsys, "analyze", PACK_PATH, "--subjects", subjects, "--events", events,
        "--as-of", "2024-12-31", "--format", "json", "--output", target,
    )  # fmt: skip
    assert code == 0 and out == ""
    assert json.loads(target.read_text(encoding="utf-8"))["subjects"] == 8
    assert not list(tmp_path.glob(".analysis.json.*"))  # no temporary file left
    code, _, err = cli(
        capsys, "analyze", PACK_PATH, "--subjects", subjects, "--events", events,
        "--as-of", "2024-12-31", "--output", events,
    )  # fmt: skip
    assert code == 1 and "is an input of this command" in err


@pytest.mark.parametrize(
    "extra, message",
    [(["--top", "0"], "--top must be at least 1"), (["--by", "grade"], "invalid choice")],
)
def test_cli_analyze_wrong_usage_exits_2(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    subjects, _ = files
    with pytest.raises(SystemExit) as info:
        main(["analyze", str(PACK_PATH), "--subjects", str(subjects), "--as-of", "2024-12-31",
              *extra])  # fmt: skip
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_both_engines_give_the_same_analysis(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Principle 7: the analysis reads the values tuple, which both engines give alike."""
    subjects, events = files
    outs = []
    for engine in ("duckdb", "python"):
        code, out, _ = cli(
            capsys, "analyze", PACK_PATH, "--subjects", subjects, "--events", events,
            "--as-of", "2024-12-31", "--format", "json", "--engine", engine,
        )  # fmt: skip
        assert code == 0
        outs.append(out)
    assert outs[0] == outs[1]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_input_order_does_not_change_the_analysis(rnd: random.Random) -> None:
    """Principle 5: the same records in any order give the same analysis, byte for byte."""
    pack = yc.load_policy(PACK_PATH)
    subjects, events = list(SUBJECTS), list(EVENTS)
    rnd.shuffle(subjects)
    rnd.shuffle(events)
    a = analyze(run_of(pack, subjects, events), top=4)
    b = analyze(run_of(pack), top=4)
    assert json.dumps(analysis_to_dict(a)) == json.dumps(analysis_to_dict(b))
    assert analysis_table(a) == analysis_table(b)
    assert analysis_html(a, "zh", "x") == analysis_html(b, "zh", "x")


# -- the HTML report -----------------------------------------------------------------------

VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "wbr", "source"}


class Checked(HTMLParser):
    """Nesting, tags and attributes of a page, as a CI check would read them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: Counter[str] = Counter()
        self.attrs: list[tuple[str, str, str]] = []
        self.rects: list[dict[str, str]] = []
        self.svgs: list[list[dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs)

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        d = {k: v or "" for k, v in attrs}
        self.attrs += [(tag, k, v) for k, v in d.items()]
        if tag == "svg":
            self.svgs.append([])
        if tag == "rect" and self.svgs:
            self.svgs[-1].append(d)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def checked(page: str) -> Checked:
    parser = Checked()
    parser.feed(page)
    parser.close()
    assert parser.errors == []
    assert parser.stack == [], f"left open: {parser.stack}"
    return parser


def assert_self_contained(page: str, parser: Checked) -> None:
    """Government intranets are offline: no script, nothing fetched, no URL at all."""
    assert "<script" not in page.lower()
    assert parser.tags["script"] == parser.tags["link"] == parser.tags["img"] == 0
    assert parser.tags["iframe"] == parser.tags["object"] == parser.tags["embed"] == 0
    for tag, name, value in parser.attrs:
        assert name != "src", (tag, name, value)
        if name in ("href", "xlink:href"):
            assert value.startswith("#"), (tag, name, value)
        assert "http" not in value and not value.startswith("//"), (tag, name, value)
    assert "http://" not in page and "https://" not in page
    assert "@import" not in page and "@font-face" not in page and "url(" not in page


def test_report_is_one_self_contained_well_formed_page(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], pack: yc.Policy
) -> None:
    """Issue 15 item 8: the title, the pack's id, version and sha256 and the as_of; an inline
    SVG per chart — the grade distribution by each dimension (a bar per region and grade with
    a count) and the score histogram (a bar per 5-point bin that holds a score) —, the analyze
    tables and the outliers; nothing outside the file."""
    subjects, events = files
    target = tmp_path / "report.html"
    code, out, err = cli(
        capsys, "report", PACK_PATH, "--subjects", subjects, "--events", events,
        "--as-of", "2024-12-31", "--output", target, "--top", "3",
    )  # fmt: skip
    assert code == 0 and out == "", err
    page = target.read_text(encoding="utf-8")
    parser = checked(page)
    assert_self_contained(page, parser)
    assert page.startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    assert parser.tags["style"] == 1 and parser.tags["title"] >= 1
    text = "".join(parser.text)
    name = pack.model.pack.name.zh
    assert f"<title>{name} — 评价结果分析 (评测日 2024-12-31)</title>" in page
    assert pack.sha256 in text and "2023.1-provisional" in text and "jinan" in text
    # One <svg> per chart: region, group, category, ruleset, then the histogram.
    assert parser.tags["svg"] == 5
    region, group, category, ruleset, histogram = parser.svgs

    def bars(rects: list[dict[str, str]]) -> list[dict[str, str]]:
        return [r for r in rects if r.get("class") == "bar"]

    got = {(r["data-row"], r["data-series"]): int(r["data-count"]) for r in bars(region)}
    assert got == {
        ("370102", "A"): 2,
        ("370103", "A"): 1,
        ("370103", "B"): 2,
        ("370103", "C"): 1,
        ("370104", "A"): 1,
        ("370104", "D"): 1,
    }
    assert len(bars(group)) == 5 and len(bars(category)) == 5 and len(bars(ruleset)) == 4
    # Scores 72 | 77 | 87 87 | 92 92 92 92.01: bins [70,75) [75,80) [85,90) [90,95).
    hist = [(r["data-from"], r["data-to"], r["data-count"]) for r in bars(histogram)]
    assert hist == [("70", "75", "1"), ("75", "80", "1"), ("85", "90", "2"), ("90", "95", "4")]
    for heading in ("等级分布", "重点指标", "偏离同组中位数最多的评价对象 (top 3)", "同组评价对象"):
        assert heading in text
    assert "示例H6" in text and "-3.37" in text
    assert "本包未指定重点指标" in text


def test_report_is_deterministic_and_in_english_on_request(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subjects, events = files
    pages = []
    for i in range(2):
        target = tmp_path / f"r{i}.html"
        code, _, _ = cli(
            capsys, "report", PACK_PATH, "--subjects", subjects, "--events", events,
            "--as-of", "2024-12-31", "--output", target, "--lang", "en",
        )  # fmt: skip
        assert code == 0
        pages.append(target.read_bytes())
    assert pages[0] == pages[1]
    page = pages[0].decode("utf-8")
    assert '<html lang="en">' in page and "grade distribution" in page
    assert_self_contained(page, checked(page))


def test_report_on_the_bundled_examples_of_every_pack(capsys: pytest.CaptureFixture[str]) -> None:
    """Every bundled pack's example gives a well-formed, self-contained report (criteria packs
    draw no histogram)."""
    for pack, folder, as_of, histograms in (
        ("zhenjiang", "zhenjiang", "2024-12-31", 0),
        ("shenzhen", "shenzhen", "2024-12-31", 1),
        ("jiangsu_perf", "jiangsu", "2025-03-31", 2),
    ):
        ex = ROOT / "examples" / folder
        code, page, err = cli(
            capsys, "report", pack, "--subjects", ex / "subjects.jsonl", "--events",
            ex / "events.jsonl", "--as-of", as_of, "--engine", "python",
        )  # fmt: skip
        assert code == 0, err
        parser = checked(page)
        assert_self_contained(page, parser)
        charts = sum(1 for svg in parser.svgs if any(r.get("data-from") for r in svg))
        assert charts == histograms, pack


# -- the HTML pieces others call (compare --html) ------------------------------------------


def test_escape_and_page() -> None:
    assert escape('<a href="x">&\'') == "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;"
    page = html_page("A <b> & 等级", [("一 <x>", "<p>inner</p>"), ("two", "<p>2</p>")], "zh")
    parser = checked(page)
    assert_self_contained(page, parser)
    assert "<title>A &lt;b&gt; &amp; 等级</title>" in page
    assert '<section id="s1">\n<h2>一 &lt;x&gt;</h2>\n<p>inner</p>' in page
    assert '<a href="#s2">two</a>' in page
    assert html_page("t", [], "en").startswith('<!DOCTYPE html>\n<html lang="en">')


def test_migration_heatmap_cells_counts_and_diagonal() -> None:
    """Rows the earlier grade, columns the new one; each cell shaded by its count with the
    count written in it; the cells where the grade stayed (same label) outlined."""
    counts = {("★★★", "★★★"): 5, ("★★★", "★★"): 2, ("★★", "★"): 1, ("★", "★"): 3}
    old = ["★★★", "★★", "★"]
    new = ["★★★", "★★", "★", "excluded"]
    svg = migration_svg(old, new, counts, "zh")
    page = html_page("m", [("m", svg)])
    parser = checked(page)
    assert_self_contained(page, parser)
    (rects,) = parser.svgs
    cells = [r for r in rects if r.get("class") == "cell"]
    assert len(cells) == len(old) * len(new)
    got = {(r["data-from"], r["data-to"]): int(r["data-count"]) for r in cells}
    assert got[("★★★", "★★★")] == 5 and got[("★★", "★")] == 1 and got[("★", "excluded")] == 0
    assert len([r for r in rects if r.get("class") == "diagonal"]) == 3
    fills = {(r["data-from"], r["data-to"]): r["fill"] for r in cells}
    assert fills[("★★★", "★★★")] == "#08306b"  # the largest count: darkest
    assert fills[("★", "excluded")] == "#f7fbff"  # none: white
    assert "上一周期" in svg and "本周期" in svg
    assert "before" in migration_svg(old, new, counts, "en")
    assert migration_svg(old, new, counts) == svg  # deterministic


def test_bar_chart_draws_a_segment_per_nonzero_count() -> None:
    counts = {("370102", "A"): 2, ("370102", "B"): 0, ("370103", "excluded:x"): 1}
    svg = bar_svg(["370102", "370103"], ["A", "B", "excluded:x"], counts, "t <x>")
    parser = checked(html_page("b", [("b", svg)]))
    bars = [r for r in parser.svgs[0] if r.get("class") == "bar"]
    assert [(r["data-row"], r["data-series"], r["data-count"]) for r in bars] == [
        ("370102", "A", "2"),
        ("370103", "excluded:x", "1"),
    ]
    swatches = [r for r in parser.svgs[0] if r.get("class") == "swatch"]
    assert len(swatches) == 3
    assert 'aria-label="t &lt;x&gt;"' in svg


def test_histogram_bins_at_their_edges() -> None:
    """A bin is [from, to): 90 is in 90–95, 89.99 in 85–90; the last bin holds its upper
    edge, so a score of 100 is in 95–100 (a band [90, 100], 济医保字〔2023〕19号 三(三))."""
    bins = histogram_bins([89.99, 90, 94.99, 95, 100, Decimal("0")], 0, 100, 5)
    assert len(bins) == 20
    counted = {(a, b): c for a, b, c in bins if c}
    assert counted == {(0, 5): 1, (85, 90): 1, (90, 95): 2, (95, 100): 2}
    svg = histogram_svg([90, 100], 0, 100, 5, "h", marks=[(90, "A"), (200, "off")])
    assert svg.count('class="bar"') == 2
    assert svg.count('class="mark"') == 1  # a mark outside the range is not drawn
    with pytest.raises(ValueError):
        histogram_bins([1], 0, 0, 5)
