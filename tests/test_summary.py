"""The batch summary of a run (src/yibao_credit/summary.py and ``yibao-credit summary``).

On examples/zhenjiang as of 2024-12-31 (镇医保〔2024〕82号): 42 subjects, ★★★ 11, ★★ 9, ★ 15 and
7 excluded (examples/zhenjiang/README.md, "Totals"), counted by outcome, by region (区划) and by
ruleset; each measure of 三(二) counted once per subject that gets it; with procedure records,
the lifecycle stage of each notified result (三(三)).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from zj_helpers import MEASURES, ONE, PACK_PATH, THREE, TWO, load

import yibao_credit as yc
from yibao_credit.cli.main import main
from yibao_credit.render.summary import summarize, summary_table

PACK = load()
EXAMPLES = PACK_PATH.parents[1] / "examples" / "zhenjiang"
SUBJECTS = EXAMPLES / "subjects.jsonl"
EVENTS = EXAMPLES / "events.jsonl"
AS_OF = dt.date(2024, 12, 31)

OUTCOMES = {
    THREE: 11,
    TWO: 9,
    ONE: 15,
    "excluded:agreement_under_1y": 2,  # ZJH011, ZJP204 (三(一)5(1))
    "excluded:licence": 2,  # ZJH009 suspended, ZJC007 revoked (三(一)5(4))
    "excluded:renewal_failed": 1,  # ZJC006 (三(一)5(3))
    "excluded:statutory": 1,  # ZJH012 (三(一)5(5))
    "excluded:voluntary_termination": 1,  # ZJC005 (三(一)5(2))
}
"""examples/zhenjiang/README.md: Totals ★★★ 11, ★★ 9, ★ 15, excluded 7 (42 subjects)."""


def records() -> yc.Records:
    return yc.load_records(SUBJECTS, EVENTS)


def example_run(**kwargs: Any) -> yc.Run:
    run: yc.Run = PACK.evaluate(records(), as_of=AS_OF, **kwargs)
    return run


def label(r: yc.Result) -> str:
    return r.grade if r.status == "graded" and r.grade else f"excluded:{r.exclusion}"


def test_counts_by_outcome_equal_the_run() -> None:
    run = example_run()
    summary = summarize(run)
    assert summary["subjects"] == len(run) == 42
    assert summary["by_outcome"] == dict(Counter(label(r) for r in run))
    assert summary["by_outcome"] == OUTCOMES
    assert summary["policy"] == {"id": "zhenjiang", "version": PACK.version, "sha256": PACK.sha256}
    assert summary["as_of"] == "2024-12-31"
    assert summary["by_ruleset"] == {"institution": OUTCOMES}


def test_by_region_sums_to_the_total() -> None:
    run = example_run()
    summary = summarize(run)
    by_region = summary["by_region"]
    assert set(by_region) == {"321102", "321111", "321112", "321181", "321182", "321183"}
    assert sum(n for counts in by_region.values() for n in counts.values()) == 42
    merged: Counter[str] = Counter()
    for counts in by_region.values():
        merged.update(counts)
    assert dict(merged) == OUTCOMES
    for region, counts in by_region.items():
        expected = Counter(label(r) for r in run if r.subject.region == region)
        assert counts == dict(expected), region


def test_a_subject_without_region_is_counted_under_none() -> None:
    run = PACK.evaluate(
        [{"id": "X", "type": "institution", "category": "clinic", "designated_on": "2015-01-01"}],
        [],
        as_of=AS_OF,
    )
    assert summarize(run)["by_region"] == {"(none)": {THREE: 1}}


def test_measures_are_counted_per_subject() -> None:
    """三(二)1-3: each measure once per subject at the grade that carries it."""
    summary = summarize(example_run())
    counts = {mid: m["subjects"] for mid, m in summary["measures"].items()}
    expected = {m: OUTCOMES[g] for g in (THREE, TWO, ONE) for m in MEASURES[g]}
    assert counts == expected
    assert "routine_inspection_exemption" not in counts  # no history: 三(二)1(4) never holds
    assert summary["measures"]["publish_good_record"]["title"].startswith("在医疗保障部门")
    en = summarize(example_run(), "en")
    assert en["measures"]["publish_good_record"]["title"].startswith("good record")


def test_the_history_measure_is_counted_for_the_subjects_that_get_it() -> None:
    """三(二)1(4): with last year's results, the exemption is counted for the 8 subjects
    ★★★ in both years (see tests/test_history.py)."""
    last = PACK.evaluate(records(), as_of=dt.date(2023, 12, 31))
    history = [yc.result_to_dict(r, trace="none") for r in last]
    summary = summarize(example_run(history=history))
    assert summary["measures"]["routine_inspection_exemption"]["subjects"] == 8
    assert "eval.no-history" not in summary["warnings"]


def test_warnings_are_listed_by_code() -> None:
    summary = summarize(example_run())
    assert summary["warnings"] == ["eval.no-history", "eval.after-as-of"]


PROCEDURES = [
    # notified, window open on 2025-02-05 (closes 2025-02-11 across 春节 2025)
    {"id": "n1", "subject_id": "ZJH001", "step": "notification", "date": "2025-01-22"},
    # notified earlier, window closed by 2025-02-05 (2025-01-06 + 10 working days = 01-20)
    {"id": "n2", "subject_id": "ZJH002", "step": "notification", "date": "2025-01-06"},
    # objection in time, no decision yet
    {"id": "n3", "subject_id": "ZJH003", "step": "notification", "date": "2025-01-22"},
    {"id": "o3", "subject_id": "ZJH003", "step": "objection", "date": "2025-01-24"},
    # corrected ★ → ★★
    {"id": "n4", "subject_id": "ZJH004", "step": "notification", "date": "2025-01-06"},
    {"id": "o4", "subject_id": "ZJH004", "step": "objection", "date": "2025-01-08"},
    {
        "id": "d4",
        "subject_id": "ZJH004",
        "step": "decision",
        "date": "2025-01-20",
        "outcome": "corrected",
        "grade": TWO,
    },
]


def test_lifecycle_stages_are_counted_when_procedures_are_given() -> None:
    """三(三): one count per result once procedure records are given; those not yet notified
    are pre_evaluation; a corrected grade is counted as corrected."""
    assert summarize(example_run())["lifecycle_stages"] == {}
    run = example_run(procedures=PROCEDURES, on=dt.date(2025, 2, 5))
    summary = summarize(run)
    assert summary["lifecycle_stages"] == {
        "final": 2,
        "notified": 1,
        "under_review": 1,
        "pre_evaluation": summary["subjects"] - 4,
    }
    assert summary["by_outcome"][ONE] == OUTCOMES[ONE] - 1
    assert summary["by_outcome"][TWO] == OUTCOMES[TWO] + 1
    table = summary_table(summary)
    assert "lifecycle: final 2, notified 1, pre_evaluation 38, under_review 1" in table


def test_the_summary_is_the_same_whatever_the_input_order() -> None:
    """Principle 5: deterministic output, every mapping sorted."""
    recs = records()
    shuffled = dataclasses.replace(
        recs, subjects=list(reversed(recs.subjects)), events=list(reversed(recs.events))
    )
    a = summarize(PACK.evaluate(recs, as_of=AS_OF))
    b = summarize(PACK.evaluate(shuffled, as_of=AS_OF))
    assert json.dumps(a, ensure_ascii=False) == json.dumps(b, ensure_ascii=False)


# -- the CLI ------------------------------------------------------------------------------------


def summary_cli(capsys: pytest.CaptureFixture[str], *extra: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(
        [
            "summary",
            str(PACK_PATH),
            "--subjects",
            str(SUBJECTS),
            "--events",
            str(EVENTS),
            "--as-of",
            "2024-12-31",
            *map(str, extra),
        ]
    )
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_summary_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = summary_cli(capsys, "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data == json.loads(json.dumps(summarize(example_run()), ensure_ascii=False))
    assert data["by_outcome"] == OUTCOMES
    assert "[eval.after-as-of]" in err and "[eval.no-history]" in err


def test_cli_summary_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = summary_cli(capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("zhenjiang 2024.1  as of 2024-12-31  subjects 42")
    header = next(line for line in lines if line.startswith("outcome"))
    columns = header.split()
    assert columns[0] == "outcome" and columns[-1] == "total"
    # Grades best first, as the pack orders them, then exclusions by name.
    assert columns[1:-1] == [THREE, TWO, ONE, *sorted(k for k in OUTCOMES if ":" in k)]
    row = next(line for line in lines if line.startswith("all ")).split()
    assert dict(zip(columns[1:-1], map(int, row[1:-1]), strict=True)) == OUTCOMES
    assert row[-1] == "42"
    regions = [line.split() for line in lines if line[:6].isdigit()]
    assert len(regions) == 6
    assert sum(int(r[-1]) for r in regions) == 42
    assert any(line.startswith("publish_good_record  11  ") for line in lines)
    assert any(line.startswith("legal_representative_interview  15  ") for line in lines)


def test_cli_summary_with_procedures_and_output_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    procedures = tmp_path / "procedures.jsonl"
    procedures.write_text(
        "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in PROCEDURES), encoding="utf-8"
    )
    output = tmp_path / "summary.json"
    code, out, _err = summary_cli(
        capsys,
        "--format",
        "json",
        "--procedures",
        procedures,
        "--on",
        "2025-02-05",
        "--output",
        output,
    )
    assert code == 0
    assert out == ""
    data = json.loads(output.read_text(encoding="utf-8"))
    assert data["lifecycle_stages"] == {
        "final": 2,
        "notified": 1,
        "under_review": 1,
        "pre_evaluation": data["subjects"] - 4,
    }


def test_a_measure_id_two_rulesets_share_is_counted_per_ruleset() -> None:
    """Shenzhen 三(一): institutions' results are published and shared with other
    departments, practitioners' published and put in the credit report — two measures that
    share the id `publish_results`; the summary keeps them apart, with their own titles."""
    root = Path(__file__).resolve().parents[1]
    pack = yc.load_policy(root / "policies" / "shenzhen.yaml")
    folder = root / "examples" / "shenzhen"
    run = pack.evaluate(
        yc.load_records(folder / "subjects.jsonl", folder / "events.jsonl"),
        as_of=dt.date(2024, 12, 31),
    )
    measures = summarize(run)["measures"]
    assert "publish_results" not in measures
    inst, prac = measures["institution/publish_results"], measures["practitioner/publish_results"]
    assert inst["title"] != prac["title"]
    assert inst["subjects"] == sum(1 for r in run if r.ruleset.id == "institution" and r.grade)
    assert "fewer_routine_inspections" in measures  # an id only one ruleset uses keeps its name
