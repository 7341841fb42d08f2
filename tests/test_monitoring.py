"""The monitoring report (`yibao-credit monitoring`): 苏医保办发〔2023〕26号 二(二)
确定部分指标为全省监测指标.

Monitoring indicators are there to be watched, not only scored: the report lists, per result,
each indicator whose score item the pack marks `monitoring: true` (which ones is provisional:
附件1/附件2 are not in the seed), its value for the evaluated year, the points it gave, the
events behind it and, with earlier results (`--history`, JSON Lines with the full trace), the
earlier value and the direction of the change. Both engines give the same report.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest

import yibao_credit as yc
from yibao_credit.cli.main import main
from yibao_credit.policy import load_policies
from yibao_credit.render.monitoring import COLUMNS, monitoring_rows, read_earlier

ROOT = Path(__file__).resolve().parents[1]
PACK_DIR = ROOT / "policies" / "jiangsu_perf"
EXAMPLES = ROOT / "examples" / "jiangsu"
SUBJECTS = EXAMPLES / "subjects.jsonl"
EVENTS = EXAMPLES / "events.jsonl"
AS_OF = dt.date(2025, 3, 31)
EARLIER = dt.date(2024, 3, 31)
DOC = "苏医保办发〔2023〕26号"

MONITORING = {
    "inpatient": [
        "catalogue_compliance",
        "drg_dip",
        "procurement",
        "budget_execution",
        "coding_maintenance",
    ],
    "outpatient": ["catalogue_compliance", "procurement", "budget_execution", "coding_maintenance"],
}
"""The items the Jiangsu pack flags as 全省监测指标 (二(二)), in the pack's order."""

FULL = {
    "catalogue_compliance": 100,
    "price_compliance": 100,
    "drg_dip": 100,
    "procurement": 100,
    "nego_drugs": 1,
    "budget_execution": 100,
    "out_of_pocket": 1,
    "coding_maintenance": 100,
    "system_integration": 1,
    "satisfaction": 100,
    "agreement_management": 1,
}

YEAR_2023 = {**FULL, "catalogue_compliance": 98.5, "drg_dip": 95, "coding_maintenance": 97}
del YEAR_2023["budget_execution"]
YEAR_2024 = {**FULL, "catalogue_compliance": 98.7, "drg_dip": 93, "budget_execution": 104}
del YEAR_2024["coding_maintenance"]
"""X's self-assessed values: catalogue compliance up 0.2, DRG/DIP down 2, procurement the same
(100), budget execution reported for 2024 only (new), coding maintenance for 2023 only
(missing)."""

TRENDS = {
    "catalogue_compliance": (98.7, 98.5, 0.2, "up"),
    "drg_dip": (93, 95, -2, "down"),
    "procurement": (100, 100, 0, "same"),
    "budget_execution": (104, None, None, "new"),
    "coding_maintenance": (None, 97, None, "missing"),
}


def indicator_events(sid: str, year: int, values: dict[str, float]) -> list[dict[str, Any]]:
    """Values for ``year`` submitted (三(二)1 self-assessment) on 10 February of the next."""
    return [
        {
            "id": f"{sid}-{year}-{name}",
            "subject_id": sid,
            "kind": "indicator",
            "date": f"{year + 1}-02-10",
            "indicator": name,
            "value": value,
            "period": str(year),
            "stage": "self",
        }
        for name, value in values.items()
    ]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def monitoring_args(
    *extra: str | Path, subjects: Path = SUBJECTS, events: Path = EVENTS
) -> list[Any]:
    return [
        "monitoring",
        PACK_DIR,
        "--subjects",
        subjects,
        "--events",
        events,
        "--as-of",
        AS_OF.isoformat(),
        *extra,
    ]


@pytest.fixture(scope="module")
def two_years(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """X (with inpatient service) with values for 2023 and 2024, and its 2023 result written
    by `evaluate` as of 2024-03-31 (version 2023评价版) in three ways."""
    tmp = tmp_path_factory.mktemp("monitoring")
    subjects = write_jsonl(
        tmp / "subjects.jsonl",
        [
            {
                "id": "X",
                "type": "institution",
                "category": "hospital",
                "inpatient": True,
                "designated_on": "2010-01-01",
            }
        ],
    )
    events = write_jsonl(
        tmp / "events.jsonl",
        indicator_events("X", 2023, YEAR_2023) + indicator_events("X", 2024, YEAR_2024),
    )
    files = {"subjects": subjects, "events": events}
    for name, extra in (
        ("full", ["--format", "jsonl"]),
        ("none", ["--format", "jsonl", "--trace", "none"]),
        ("csv", ["--format", "csv"]),
    ):
        out = tmp / f"earlier-{name}.{'csv' if name == 'csv' else 'jsonl'}"
        code = main(
            [
                "evaluate",
                str(PACK_DIR),
                "--subjects",
                str(subjects),
                "--events",
                str(events),
                "--as-of",
                EARLIER.isoformat(),
                "--output",
                str(out),
                *extra,
            ]
        )
        assert code == 0
        files[name] = out
    return files


def test_clause_2_2_the_rows_are_each_results_monitoring_indicators() -> None:
    """二(二): one row per result and monitoring indicator, in the pack's order; the value is
    the indicator fact's, the points the item's, as the result's own trace shows them, with
    the events behind the value and the item's clause."""
    run = (
        load_policies(PACK_DIR)
        .for_as_of(AS_OF)
        .evaluate(yc.load_records(SUBJECTS, EVENTS), as_of=AS_OF)
    )
    rows, warnings = monitoring_rows(run)
    assert warnings == []
    by_subject: dict[str, list[Any]] = {}
    for row in rows:
        by_subject.setdefault(row.subject_id, []).append(row)
    assert sorted(by_subject) == sorted(r.subject.id for r in run)
    for r in run:
        got = by_subject[r.subject.id]
        assert [row.indicator for row in got] == MONITORING[r.ruleset.id]
        trace = {s["step"]: s for s in yc.result_to_dict(r)["trace"]}
        for row in got:
            fact = trace[f"fact.{row.indicator}"]
            assert row.value == fact["outcome"]
            assert list(row.events) == (fact["evidence"] if row.value is not None else [])
            assert row.title == fact["title"]
            if r.status == "graded":
                item = trace[f"item.{row.item}"]
                assert item["inputs"]["monitoring"] is True
                assert row.points == item["outcome"]
            else:  # an excluded result is not scored: its trace has no items
                assert row.points is None
            assert row.clause is not None and row.clause.startswith(DOC)
            assert (row.previous, row.trend, row.previous_as_of) == (None, None, None)


def test_clause_2_2_an_excluded_result_shows_its_values_without_points() -> None:
    """JS-C03 (designated in 2025, excluded: designated_after_year) is watched like the
    others: its reported values are listed, but it scored nothing."""
    run = (
        load_policies(PACK_DIR)
        .for_as_of(AS_OF)
        .evaluate(yc.load_records(SUBJECTS, EVENTS), as_of=AS_OF)
    )
    rows = [row for row in monitoring_rows(run)[0] if row.subject_id == "JS-C03"]
    assert rows and all(row.status == "excluded" and row.points is None for row in rows)


@pytest.mark.parametrize("engine", ["duckdb", "python"])
def test_clause_2_2_trend_against_the_earlier_cycle(
    capsys: pytest.CaptureFixture[str], two_years: dict[str, Path], engine: str
) -> None:
    """With last cycle's results (2024-03-31, the evaluated year 2023, written with the full
    trace): each indicator's earlier value, the change and its direction — up, down, same, new
    (no value in 2023) and missing (no value in 2024). 98.7 − 98.5 is 0.2 exactly as shown."""
    code, out, err = cli(
        capsys,
        *monitoring_args(
            "--history",
            two_years["full"],
            "--format",
            "jsonl",
            "--engine",
            engine,
            subjects=two_years["subjects"],
            events=two_years["events"],
        ),
    )
    assert code == 0, err
    assert "warning" not in err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["indicator"] for r in rows] == MONITORING["inpatient"]
    for r in rows:
        assert list(r) == list(COLUMNS)
        value, previous, change, trend = TRENDS[r["indicator"]]
        assert (r["value"], r["previous"], r["change"], r["trend"]) == (
            value,
            previous,
            change,
            trend,
        ), r
        assert r["previous_as_of"] == EARLIER.isoformat()


def test_both_engines_print_the_same_report(
    capsys: pytest.CaptureFixture[str], two_years: dict[str, Path]
) -> None:
    for fmt in ("table", "jsonl", "csv"):
        got = [
            cli(capsys, *monitoring_args("--format", fmt, "--engine", engine))
            for engine in ("duckdb", "python")
        ]
        assert got[0] == got[1] and got[0][0] == 0


@pytest.mark.parametrize("kind", ["none", "csv"])
def test_earlier_results_without_their_trace_give_no_trend_and_say_so(
    capsys: pytest.CaptureFixture[str], two_years: dict[str, Path], kind: str
) -> None:
    """Results written with --trace none, or as CSV, keep no indicator value: the report has
    no earlier value to compare with, and says so once (eval.monitoring-no-earlier-values,
    naming the file and the line) instead of showing a trend it cannot know."""
    code, out, err = cli(
        capsys,
        *monitoring_args(
            "--history",
            two_years[kind],
            "--format",
            "jsonl",
            subjects=two_years["subjects"],
            events=two_years["events"],
        ),
    )
    assert code == 0, err
    line = 2 if kind == "csv" else 1
    assert f"warning: {two_years[kind]}:{line}: 1 earlier result(s) show no monitoring value" in err
    assert "[eval.monitoring-no-earlier-values]" in err
    rows = [json.loads(line) for line in out.splitlines()]
    assert all(r["previous"] is None and r["trend"] is None for r in rows)
    assert all(r["previous_as_of"] == EARLIER.isoformat() for r in rows)


def test_the_latest_earlier_result_is_the_one_compared(tmp_path: Path) -> None:
    """With several earlier cycles the latest before --as-of is compared, never an older one
    and never a result as of the same day."""

    def row(as_of: str, drg: float) -> dict[str, Any]:
        return {
            "subject_id": "JS-H01",
            "status": "graded",
            "grade": "合格",
            "as_of": as_of,
            "policy": {"id": "jiangsu_perf"},
            "trace": [{"step": "fact.drg_dip", "outcome": drg}],
        }

    path = write_jsonl(
        tmp_path / "h.jsonl",
        [row("2025-03-31", 1), row("2023-03-31", 50), row("2024-03-31", 90)],
    )
    run = (
        load_policies(PACK_DIR)
        .for_as_of(AS_OF)
        .evaluate(yc.load_records(SUBJECTS, EVENTS), as_of=AS_OF)
    )
    rows, _ = monitoring_rows(run, earlier=read_earlier(path), earlier_file=str(path))
    drg = next(r for r in rows if r.subject_id == "JS-H01" and r.indicator == "drg_dip")
    assert (drg.value, drg.previous, drg.previous_as_of, drg.change, drg.trend) == (
        97,
        90,
        "2024-03-31",
        7,
        "up",
    )


def test_cli_monitoring_table_and_csv_agree_with_jsonl(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, *monitoring_args("--format", "jsonl", "--engine", "python"))
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    code, out, _ = cli(capsys, *monitoring_args("--format", "csv", "--engine", "python"))
    assert code == 0
    table = list(csv.DictReader(io.StringIO(out)))
    assert list(table[0]) == list(COLUMNS)
    for t, r in zip(table, rows, strict=True):
        assert (t["subject_id"], t["indicator"]) == (r["subject_id"], r["indicator"])
        assert t["events"] == ";".join(r["events"])
        assert t["value"] == ("" if r["value"] is None else json.dumps(r["value"]))
    code, out, _ = cli(capsys, *monitoring_args("--engine", "python"))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "subject_id",
        "indicator",
        "value",
        "points",
        "previous",
        "change",
        "trend",
    ]
    assert len(lines) == 1 + len(rows)
    for line, r in zip(lines[1:], rows, strict=True):
        cells = line.split()
        assert cells[:2] == [r["subject_id"], r["indicator"]]
        assert cells[2] == ("-" if r["value"] is None else json.dumps(r["value"]))


def test_cli_monitoring_titles_follow_lang(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(
        capsys, *monitoring_args("--format", "jsonl", "--lang", "en", "--engine", "python")
    )
    assert code == 0
    first = json.loads(out.splitlines()[0])
    assert first["title"] == "compliance with the catalogue and payment standards (%)"


def test_cli_monitoring_of_a_pack_without_monitoring_indicators_is_an_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = cli(
        capsys,
        "monitoring",
        ROOT / "policies" / "zhenjiang.yaml",
        "--subjects",
        ROOT / "examples" / "zhenjiang" / "subjects.jsonl",
        "--as-of",
        "2024-12-31",
    )
    assert code == 1 and out == ""
    assert "error: pack 'zhenjiang' has no monitoring indicators" in err
