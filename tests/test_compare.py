"""Issue 15 items 1–3: ``--set`` overrides, ``compare`` and ``sensitivity``.

济医保字〔2023〕19号 四(二)5 开展试评价 has the city 进行权重及分值配置 on its collected data, and
四(三) analyses the results 按不同区划、等级以及重点指标 and revises the indicators 如有明显偏离;
苏医保办发〔2023〕26号 二(二) has the indicator table change every year. An analyst asks what a
change of a weight or a point value does to the grades: ``--set NAME=VALUE`` gives a dated
parameter another value for a run, ``compare`` prints the grade migration between two runs and
``sensitivity`` sweeps one parameter over a range.

The hand-computed case (``WORLD``) is the issue's own experiment on policies/jinan.yaml: the
weight of 信用承诺 0.1 → 0.05 and of 失信信息 0.5 → 0.55 (the pack writes its weights as
numbers, so ``weighted_pack`` extends it with the two weights as dated parameters). Every
subject was designated on 2015-01-01 (基础信息 100: both agreement steps, 三(二)), has no rewards
unless said (守信信息 60) and no history (历史信用信息 80, 三(二)); as of 2024-12-31 the score is
0.1·信用承诺 + 10 + 0.1·守信信息 + 0.5·失信信息 + 16 before, and 0.05·信用承诺 + 10 + 0.1·守信信息
+ 0.55·失信信息 + 16 after (三(三) weighted mean), graded A [90, 100], B [80, 90), C [60, 80),
D [0, 60), fraud in force forcing D (the pack's provisional bands and veto).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import functools
import io
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import yibao_credit as yc
from yibao_credit.cli.compare import MAX_VALUES, parse_range
from yibao_credit.cli.main import main
from yibao_credit.cli.overrides import parse_assignment
from yibao_credit.policy import Policy, load_policy
from yibao_credit.render.compare import (
    COMPARE_FORMATS,
    NOT_GRADED,
    compare_runs,
    comparison_html,
    write_comparison,
)
from yibao_credit.render.results import JsonlWriter, dumps, result_to_dict
from yibao_credit.render.summary import summarize
from yibao_credit.render.trace import render_text

ROOT = Path(__file__).resolve().parents[1]
JINAN = ROOT / "policies" / "jinan.yaml"
DOC = "济医保字〔2023〕19号"
AS_OF = dt.date(2024, 12, 31)
DESIGNATED = "2015-01-01"

WEIGHTED = f"""\
extends: {JINAN}
parameters:
  commitment_weight:
    title: {{zh: 信用承诺权重}}
    type: number
    values:
      2023-11-08: {{value: 0.1, provisional: 权重待试评价(四(二)5)配置}}
  adverse_weight:
    title: {{zh: 失信信息权重}}
    type: number
    values:
      2023-11-08: {{value: 0.5, provisional: 权重待试评价(四(二)5)配置}}
rulesets:
  institution:
    grading:
      categories:
        - id: commitment
          weight: commitment_weight
        - id: adverse
          weight: adverse_weight
"""
"""policies/jinan.yaml with the weights of 信用承诺 and 失信信息 as dated parameters (四(二)5
权重配置): the same pack otherwise, its numbers unchanged."""

REFORM = {"commitment_weight": 0.05, "adverse_weight": 0.55}
"""The issue's experiment: 信用承诺 0.1 → 0.05, 失信信息 0.5 → 0.55 (the total stays 1)."""


def _subject(sid: str, category: str, region: str, designated: str = DESIGNATED) -> dict[str, Any]:
    return {
        "id": sid,
        "type": "institution",
        "category": category,
        "name": f"示例{sid}",
        "region": region,
        "designated_on": designated,
    }


def _events(sid: str, kind: str, n: int = 1, **attrs: Any) -> list[dict[str, Any]]:
    date = "2020-01-01" if kind == "commitment" else "2024-06-01"
    return [
        {"id": f"{sid}-{kind}-{i}", "subject_id": sid, "kind": kind, "date": date, **attrs}
        for i in range(n)
    ]


SUBJECTS = [
    _subject("S1", "hospital", "370102"),
    _subject("S2", "hospital", "370102"),
    _subject("S3", "clinic", "370102"),
    _subject("S4", "clinic", "370102"),
    _subject("S5", "pharmacy", "370112"),
    _subject("S6", "pharmacy", "370112"),
    _subject("S7", "pharmacy", "370112", designated="2025-03-01"),
    _subject("S8", "pharmacy", "370112"),
]
EVENTS = [
    *_events("S1", "commitment"),
    *_events("S2", "commitment"),
    *_events("S2", "violation", 2),
    *_events("S4", "reward", points=30),
    *_events("S5", "commitment"),
    *_events("S5", "violation", 5),
    *_events("S5", "complaint", 2, verified=True),
    *_events("S6", "commitment"),
    *_events("S6", "violation"),
    *_events("S6", "reward", points=30),
    *_events("S8", "commitment"),
    *_events("S8", "fraud"),
]
EXPECTED = {
    # subject: ((score, grade) before, (score, grade) after), by 三(三) and the bands
    "S1": ((92, "A"), (92, "A")),  # 10+10+6+50+16; 5+10+6+55+16
    "S2": ((82, "B"), (81, "B")),  # 失信信息 80 (two violations, −10 each): 40 → 44
    "S3": ((82, "B"), (87, "B")),  # no commitment (信用承诺 0): 0+10+6+50+16; 0+10+6+55+16
    "S4": ((85, "B"), (90, "A")),  # no commitment, 守信信息 90: 85; 90 is A ([90, 100] includes 90)
    "S5": ((62, "C"), (59, "D")),  # 失信信息 40 (5 violations capped at −50, 2 complaints −10)
    "S6": ((90, "A"), (89.5, "B")),  # 失信信息 90, 守信信息 90: 10+10+9+45+16; 5+10+9+49.5+16
    "S7": ((None, "excluded:not_yet_designated"),) * 2,  # designated after as_of, 四(一)2
    "S8": ((72, "D"), (70, "D")),  # fraud in force: the veto forces D (失信信息 60)
}
MATRIX = {
    # old grade → {new grade: subjects}, from EXPECTED
    "A": {"A": 1, "B": 1},
    "B": {"A": 1, "B": 2},
    "C": {"D": 1},
    "D": {"D": 1},
    "excluded:not_yet_designated": {"excluded:not_yet_designated": 1},
}
LABELS = ["A", "B", "C", "D", "excluded:not_yet_designated"]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("compare")
    pack = folder / "jinan_weighted.yaml"
    pack.write_text(WEIGHTED, encoding="utf-8")
    return {
        "pack": pack,
        "subjects": _write_jsonl(folder / "subjects.jsonl", SUBJECTS),
        "events": _write_jsonl(folder / "events.jsonl", EVENTS),
        "folder": folder,
    }


@pytest.fixture(scope="module")
def weighted(world: dict[str, Path]) -> Policy:
    return load_policy(world["pack"])


def _cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse: wrong usage
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _records(world: dict[str, Path]) -> list[str]:
    return ["--subjects", str(world["subjects"]), "--events", str(world["events"])]


def _as_of(day: dt.date = AS_OF) -> list[str]:
    return ["--as-of", day.isoformat()]


@functools.cache
def jinan() -> Policy:
    """policies/jinan.yaml, loaded once (hypothesis runs a test many times)."""
    return load_policy(JINAN)


# -- --set: the Python API -------------------------------------------------------------------


def test_the_weighted_pack_grades_as_jinan_does(weighted: Policy) -> None:
    """The weights as parameters change nothing: the same scores and grades as the pack's
    literal weights 0.1 and 0.5 (三(三) weighted mean), and the hand computation."""
    jinan = load_policy(JINAN)
    for policy in (jinan, weighted):
        run = policy.evaluate(SUBJECTS, EVENTS, as_of=AS_OF)
        got = {
            r.subject.id: (r.score, r.grade if r.status == "graded" else f"excluded:{r.exclusion}")
            for r in run
        }
        assert got == {sid: before for sid, (before, _after) in EXPECTED.items()}


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_set_gives_the_hand_computed_scores_on_both_engines(weighted: Policy, engine: str) -> None:
    """四(二)5 权重配置: 信用承诺 0.05 and 失信信息 0.55 give the 'after' scores of EXPECTED,
    S4 exactly on the A edge (90 is in [90, 100])."""
    reform = weighted.with_overrides(REFORM)
    run = reform.evaluate(SUBJECTS, EVENTS, as_of=AS_OF, engine=engine)
    got = {
        r.subject.id: (r.score, r.grade if r.status == "graded" else f"excluded:{r.exclusion}")
        for r in run
    }
    assert got == {sid: after for sid, (_before, after) in EXPECTED.items()}


def test_set_results_are_the_same_on_both_engines(weighted: Policy) -> None:
    reform = weighted.with_overrides(REFORM)
    python = [result_to_dict(r) for r in reform.evaluate(SUBJECTS, EVENTS, as_of=AS_OF)]
    duckdb = [
        result_to_dict(r) for r in reform.evaluate(SUBJECTS, EVENTS, as_of=AS_OF, engine="duckdb")
    ]
    assert python == duckdb


def test_set_keeps_the_pack_s_identity_and_names_the_values(weighted: Policy) -> None:
    """The result names the pack it ran (id, version, sha256) and, since the values are not
    the pack's, the values set; without --set the policy block is as before."""
    reform = weighted.with_overrides(REFORM)
    assert reform.sha256 == weighted.sha256 and reform.id == weighted.id
    assert reform.overrides == REFORM and weighted.overrides == {}
    assert reform.base is weighted
    plain = result_to_dict(next(iter(weighted.evaluate(SUBJECTS, EVENTS, as_of=AS_OF))))
    assert plain["policy"] == {
        "id": weighted.id,
        "version": weighted.version,
        "sha256": weighted.sha256,
    }
    d = result_to_dict(next(iter(reform.evaluate(SUBJECTS, EVENTS, as_of=AS_OF))))
    assert d["policy"] == {
        "id": weighted.id,
        "version": weighted.version,
        "sha256": weighted.sha256,
        "overrides": {"adverse_weight": 0.55, "commitment_weight": 0.05},
    }


def test_the_trace_marks_each_step_that_read_a_value_set(weighted: Policy) -> None:
    """category.commitment reads commitment_weight (the value set 0.05, the pack's 0.1);
    category.adverse reads adverse_weight; the other categories read none."""
    reform = weighted.with_overrides(REFORM)
    s1 = reform.evaluate(SUBJECTS, EVENTS, as_of=AS_OF).get("S1")
    assert s1 is not None
    trace = {s["step"]: s for s in result_to_dict(s1)["trace"]}
    commitment = trace["category.commitment"]["inputs"]
    assert commitment["weight"] == 0.05 and commitment["weight_parameter"] == "commitment_weight"
    assert commitment["overridden"] == {"commitment_weight": {"set": 0.05, "pack": 0.1}}
    assert trace["category.adverse"]["inputs"]["overridden"] == {
        "adverse_weight": {"set": 0.55, "pack": 0.5}
    }
    marked = sorted(k for k, s in trace.items() if "overridden" in s["inputs"])
    assert marked == ["category.adverse", "category.commitment"]
    text = render_text(s1, "en")
    assert "--set adverse_weight=0.55, commitment_weight=0.05" in text.splitlines()[2]
    assert "      --set commitment_weight=0.05 (the pack's value: 0.1)" in text
    assert "包内取值: 0.1" in render_text(s1, "zh")


def test_a_point_value_set_is_marked_on_the_item_that_reads_it() -> None:
    """三(四): commitment_points read by item.commitment.signed; the value set counts as
    provisional (it is no published number), like the pack's own provisional value."""
    jinan = load_policy(JINAN)
    run = jinan.with_overrides({"commitment_points": 50}).evaluate(SUBJECTS, EVENTS, as_of=AS_OF)
    s1 = run.get("S1")
    assert s1 is not None and (s1.score, s1.grade) == (87, "B")  # 5 + 10 + 6 + 50 + 16
    d = result_to_dict(s1)
    item = next(s for s in d["trace"] if s["step"] == "item.commitment.signed")
    assert item["inputs"]["commitment_points"] == 50
    assert item["inputs"]["overridden"] == {"commitment_points": {"set": 50, "pack": 100}}
    assert "provisional" in item  # the item itself is provisional in the pack


def test_setting_the_pack_s_own_value_changes_no_grade_or_score() -> None:
    jinan = load_policy(JINAN)
    same = jinan.with_overrides({"commitment_points": 100, "violation_points": -10})
    before = {
        r.subject.id: (r.score, r.grade) for r in jinan.evaluate(SUBJECTS, EVENTS, as_of=AS_OF)
    }
    after = {r.subject.id: (r.score, r.grade) for r in same.evaluate(SUBJECTS, EVENTS, as_of=AS_OF)}
    assert before == after


def test_values_set_on_a_policy_with_overrides_are_added(weighted: Policy) -> None:
    once = weighted.with_overrides({"commitment_weight": 0.05, "adverse_weight": 0.55})
    twice = once.with_overrides({"commitment_points": 80})
    assert twice.overrides == {**REFORM, "commitment_points": 80}
    assert twice.base is weighted
    assert weighted.with_overrides({}) is weighted


def test_the_jsonl_writer_and_result_to_dict_agree_with_overrides(weighted: Policy) -> None:
    run = weighted.with_overrides(REFORM).evaluate(SUBJECTS, EVENTS, as_of=AS_OF)
    writer = JsonlWriter()
    for r in run:
        assert writer.line(r) == dumps(result_to_dict(r)) + "\n"


def test_overrides_must_be_a_mapping(weighted: Policy) -> None:
    with pytest.raises(TypeError, match="mapping"):
        weighted.with_overrides([("commitment_weight", 0.05)])  # type: ignore[arg-type]


# -- --set: errors ---------------------------------------------------------------------------


def _line_of(text: str, needle: str) -> int:
    return next(i for i, t in enumerate(text.splitlines(), 1) if needle in t)


def test_an_unknown_parameter_is_located_and_lists_the_known_names() -> None:
    with pytest.raises(yc.PackError) as exc:
        load_policy(JINAN).with_overrides({"commitment_pionts": 50})
    (p,) = exc.value.problems
    assert p.code == "cli.set-unknown-parameter"
    assert p.message.startswith(
        "--set commitment_pionts: pack 'jinan' has no parameter 'commitment_pionts' "
        "(did you mean 'commitment_points'?); its parameters are: agreement_year_points, "
    )
    assert "violation_points" in p.message
    assert p.location.file == str(JINAN) and p.location.path == "parameters"
    assert p.location.line == _line_of(JINAN.read_text("utf-8"), "parameters:")


def test_a_pack_without_parameters_says_so() -> None:
    with pytest.raises(yc.PackError) as exc:
        load_policy(ROOT / "policies" / "zhenjiang.yaml").with_overrides({"limit": 1})
    (p,) = exc.value.problems
    assert p.code == "cli.set-unknown-parameter"
    assert "it has no parameters" in p.message


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("abc", "the value must be a number, and YAML reads abc as text"),
        (True, "YAML reads true as true/false"),
        (None, "YAML reads an empty value as nothing"),
        (float("nan"), "nan is not a finite number"),
    ],
)
def test_a_value_of_the_wrong_type_is_located_at_the_parameter(value: Any, words: str) -> None:
    with pytest.raises(yc.PackError) as exc:
        load_policy(JINAN).with_overrides({"violation_points": value})
    (p,) = exc.value.problems
    assert p.code == "cli.set-bad-value"
    assert words in p.message
    assert p.location.path == "parameters.violation_points.type"
    text = JINAN.read_text("utf-8")
    assert p.location.line > _line_of(text, "  violation_points:")


def test_a_value_that_breaks_the_weights_total_is_located_at_the_total(weighted: Policy) -> None:
    """三(三) 权重之和为1 (the pack's weights_total: 1): 0.05 alone leaves 0.95."""
    with pytest.raises(yc.PackError) as exc:
        weighted.with_overrides({"commitment_weight": 0.05})
    (p,) = exc.value.problems
    assert p.code == "cli.set-bad-value"
    assert p.message.startswith(
        "with --set commitment_weight=0.05: the categories' weights add up to 0.95, not 1"
    )
    assert p.location.path == "rulesets.institution.grading.weights_total"
    assert p.location.file == str(JINAN)


def test_a_negative_weight_is_refused(weighted: Policy) -> None:
    with pytest.raises(yc.PackError) as exc:
        weighted.with_overrides({"commitment_weight": -0.1, "adverse_weight": 0.7})
    assert {p.code for p in exc.value.problems} == {"cli.set-bad-value"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=0.05", ("a", 0.05)),
        ("a=-4", ("a", -4)),
        ("a=true", ("a", True)),
        ("a=2024-01-01", ("a", dt.date(2024, 1, 1))),
        ("a=1y", ("a", "1y")),
        ("a='123'", ("a", "123")),
        ("a=x=y", ("a", "x=y")),
        ("a=", ("a", None)),
    ],
)
def test_a_value_is_read_as_yaml_reads_a_scalar(text: str, expected: tuple[str, Any]) -> None:
    assert parse_assignment(text) == expected


@pytest.mark.parametrize("text", ["a", "=5", "1a=5", "a b=5", "a=[1, 2]", "a={b: 1}", "a=[1"])
def test_a_malformed_assignment_is_a_usage_error(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_assignment(text)


# -- --set: the command line -----------------------------------------------------------------


def test_cli_set_in_the_json_policy_block_and_the_trace(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _err = _cli(
        capsys, "evaluate", world["pack"], *_records(world), *_as_of(),
        "--set", "commitment_weight=0.05", "--set", "adverse_weight=0.55",
    )  # fmt: skip
    assert code == 0
    results = {d["subject_id"]: d for d in map(json.loads, out.splitlines())}
    assert {sid: (d["score"], d["grade"]) for sid, d in results.items() if d["grade"]} == {
        sid: after for sid, (_b, after) in EXPECTED.items() if after[0] is not None
    }
    for d in results.values():
        assert d["policy"]["overrides"] == {"adverse_weight": 0.55, "commitment_weight": 0.05}
    steps = [s for s in results["S4"]["trace"] if "overridden" in s["inputs"]]
    assert [s["step"] for s in steps] == ["category.commitment", "category.adverse"]


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_cli_set_output_is_the_same_on_both_engines(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str], engine: str
) -> None:
    argv = ["evaluate", world["pack"], *_records(world), *_as_of(), "--set", "commitment_points=50"]
    code, out, _ = _cli(capsys, *argv, "--engine", engine)
    assert code == 0
    code, reference, _ = _cli(capsys, *argv, "--engine", "python")
    assert out == reference


def test_cli_set_in_csv_table_summary_and_explain(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base = [world["pack"], *_records(world), *_as_of(), "--set", "commitment_points=50"]
    code, out, _ = _cli(capsys, "evaluate", *base, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and {r["policy_overrides"] for r in rows} == {"commitment_points=50"}
    code, out, _ = _cli(capsys, "evaluate", *base, "--format", "table")
    assert code == 0 and out.splitlines()[0] == "--set commitment_points=50"
    code, out, _ = _cli(capsys, "summary", *base, "--format", "json")
    assert code == 0 and json.loads(out)["policy"]["overrides"] == {"commitment_points": 50}
    code, out, _ = _cli(capsys, "summary", *base)
    assert code == 0 and out.splitlines()[1] == "--set commitment_points=50"
    code, out, _ = _cli(capsys, "explain", *base, "--subject", "S1", "--lang", "en")
    assert code == 0 and "--set commitment_points=50" in out.splitlines()[2]


def test_cli_without_set_writes_no_override_anywhere(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base = [world["pack"], *_records(world), *_as_of()]
    for fmt in ("jsonl", "csv", "table"):
        code, out, _ = _cli(capsys, "evaluate", *base, "--format", fmt)
        assert code == 0 and "overrid" not in out and "--set" not in out


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["--set", "commitment_pionts=50"], 1, "[cli.set-unknown-parameter]"),
        (["--set", "commitment_points=lots"], 1, "[cli.set-bad-value]"),
        (["--set", "commitment_points"], 2, "is not NAME=VALUE"),
        (["--set", "a=1", "--set", "a=2"], 2, "a is given twice"),
    ],
    ids=["unknown", "bad-value", "malformed", "twice"],
)
def test_cli_set_errors(
    world: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    code: int,
    message: str,
) -> None:
    got, out, err = _cli(capsys, "evaluate", JINAN, *_records(world), *_as_of(), *argv)
    assert got == code and out == ""
    assert message in err


def test_cli_set_on_a_parameter_a_group_sets_warns(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Shenzhen 评价分组: large hospitals set their own violation_points; --set changes the
    dated value only, and says so (a warning; an error under --strict)."""
    examples = ROOT / "examples" / "shenzhen"
    argv = [
        "summary", ROOT / "policies" / "shenzhen.yaml",
        "--subjects", examples / "subjects.jsonl", "--events", examples / "events.jsonl",
        "--as-of", "2024-12-31", "--set", "violation_points=-20", "--format", "json",
    ]  # fmt: skip
    code, out, err = _cli(capsys, *argv)
    assert code == 0
    assert "group 'large_hospital' of ruleset 'institution' sets its own value (-4)" in err
    assert "cli.set-group-value" in json.loads(out)["warnings"]
    code, out, err = _cli(capsys, *argv, "--strict")
    assert code == 1 and out == "" and "[cli.set-group-value]" in err


# -- compare ---------------------------------------------------------------------------------


def _compare(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str], fmt: str, *extra: str
) -> tuple[int, str, str]:
    return _cli(
        capsys, "compare", world["pack"], *_records(world), *_as_of(),
        "--set", "commitment_weight=0.05", "--set", "adverse_weight=0.55",
        "--format", fmt, *extra,
    )  # fmt: skip


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_compare_migration_matrix_is_the_hand_computed_one(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str], engine: str
) -> None:
    """四(二)5/四(三): the matrix of EXPECTED — S4 B→A, S5 C→D, S6 A→B moved; the excluded
    S7 (四(一)2) stays excluded; the fraud veto keeps S8 at D."""
    code, out, _err = _compare(world, capsys, "json", "--engine", engine)
    assert code == 0
    got = json.loads(out)
    m = got["matrix"]
    assert m["rows"] == LABELS and m["columns"] == LABELS
    assert {
        r: {c: n for c, n in zip(m["columns"], row, strict=True) if n}
        for r, row in zip(m["rows"], m["counts"], strict=True)
        if any(row)
    } == MATRIX
    assert (got["subjects"], got["moved"]) == (8, 3)
    moved = {d["subject_id"]: d for d in got["moved_subjects"]}
    assert {sid: (d["old"]["outcome"], d["new"]["outcome"]) for sid, d in moved.items()} == {
        "S4": ("B", "A"),
        "S5": ("C", "D"),
        "S6": ("A", "B"),
    }
    assert moved["S4"]["old"]["decided_by"] == ["grade.B"]
    assert moved["S4"]["new"]["decided_by"] == ["grade.A"]
    assert moved["S4"]["score_delta"] == 5
    assert moved["S6"]["score_delta"] == -0.5
    assert "category.commitment" not in moved["S4"]["changed_steps"]  # 0 × either weight
    assert {"score", "grade.A", "grade.B"} <= set(moved["S4"]["changed_steps"])
    assert got["old"]["policy"].get("overrides") is None
    assert got["new"]["policy"]["overrides"] == {"adverse_weight": 0.55, "commitment_weight": 0.05}


def test_compare_score_deltas_per_category(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The 四(三) analysis of 重点指标: the mean score over the 7 subjects scored both times
    (565/7 → 568.5/7) and of each category (unchanged: only the weights move)."""
    _code, out, _ = _compare(world, capsys, "json")
    deltas = json.loads(out)["score_deltas"]["institution"]
    assert deltas["subjects"] == 7
    assert deltas["score"] == {"old": 80.71, "new": 81.21, "delta": 0.5}
    assert deltas["commitment"] == {"old": 71.43, "new": 71.43, "delta": 0}
    assert deltas["adverse"] == {"old": 81.43, "new": 81.43, "delta": 0}
    assert list(deltas) == [
        "subjects",
        "score",
        "commitment",
        "basic",
        "trust",
        "adverse",
        "history",
    ]


def test_compare_by_region_and_group(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """四(三) 按不同区划…进行分析: S1–S4 are in 370102, S5–S8 in 370112; the groups of
    四(一)2 (定点医疗机构 S1–S4, 定点零售药店 S5–S8)."""
    _code, out, _ = _compare(world, capsys, "json")
    got = json.loads(out)
    assert list(got["by_region"]) == ["370102", "370112"]
    east, west = got["by_region"]["370102"], got["by_region"]["370112"]
    assert (east["subjects"], east["moved"], west["subjects"], west["moved"]) == (4, 1, 4, 2)
    idx = {label: i for i, label in enumerate(LABELS)}
    assert east["matrix"]["counts"][idx["B"]][idx["A"]] == 1  # S4
    assert west["matrix"]["counts"][idx["C"]][idx["D"]] == 1  # S5
    assert west["matrix"]["counts"][idx["A"]][idx["B"]] == 1  # S6
    assert east["score_deltas"]["institution"]["score"] == {
        "old": 85.25,
        "new": 87.5,
        "delta": 2.25,
    }
    assert list(got["by_group"]) == ["institution/medical", "institution/pharmacy"]
    assert got["by_group"]["institution/pharmacy"]["moved"] == 2


def test_compare_table_and_csv(world: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, table, _ = _compare(world, capsys, "table")
    assert code == 0
    lines = table.splitlines()
    assert lines[0] == f"compare  as of {AS_OF}  subjects 8  moved 3"
    assert lines[2].endswith("--set adverse_weight=0.55;commitment_weight=0.05")
    start = lines.index("grade migration (rows: old, columns: new)") + 1
    assert lines[start].split() == ["old", "\\", "new", *LABELS, "total"]
    assert lines[start + 1].split() == ["A", "1", "1", "0", "0", "0", "2"]
    assert lines[start + 2].split() == ["B", "1", "2", "0", "0", "0", "3"]
    assert lines[start + 3].split() == ["C", "0", "0", "0", "1", "0", "1"]
    assert lines[start + 6].split() == ["total", "2", "3", "0", "2", "1", "8"]
    assert "moved (3)" in lines
    assert any(line.startswith("S4") and "grade.B → grade.A" in line for line in lines)
    code, out, _ = _compare(world, capsys, "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["subject_id"] for r in rows] == [f"S{i}" for i in range(1, 9)]
    assert {
        r["subject_id"]: (r["old"], r["new"], r["moved"]) for r in rows if r["moved"] == "true"
    } == {
        "S4": ("B", "A", "true"),
        "S5": ("C", "D", "true"),
        "S6": ("A", "B", "true"),
    }
    s4 = next(r for r in rows if r["subject_id"] == "S4")
    assert (s4["old_score"], s4["new_score"], s4["score_delta"]) == ("85", "90", "5")
    assert s4["region"] == "370102" and s4["group"] == "institution/medical"


def test_compare_html(world: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    page = world["folder"] / "compare.html"
    code, out, _ = _compare(world, capsys, "json", "--html", str(page))
    assert code == 0 and json.loads(out)["moved"] == 3
    html = page.read_text("utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    assert 'data-from="B" data-to="A" data-count="1"' in html
    assert 'data-from="C" data-to="D" data-count="1"' in html
    code, _, err = _compare(world, capsys, "json", "--html", str(page), "--output", str(page))
    assert code == 1 and "is the --output file too" in err


def test_compare_two_packs_and_not_graded(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Two different packs: OLD grades only pharmacies (applies_to.categories), NEW every
    institution; the others are 'not graded' before."""
    narrow = tmp_path / "pharmacies.yaml"
    narrow.write_text(
        f"extends: {JINAN}\nrulesets:\n  institution:\n    applies_to:\n"
        "      categories: [pharmacy, pharmacy_chain]\n",
        encoding="utf-8",
    )
    code, out, err = _cli(
        capsys, "compare", narrow, JINAN, *_records(world), *_as_of(), "--format", "json"
    )
    assert code == 0
    got = json.loads(out)
    m = got["matrix"]
    assert m["rows"] == ["A", "B", "C", "D", "excluded:not_yet_designated", NOT_GRADED]
    assert m["columns"] == LABELS
    ng = m["rows"].index(NOT_GRADED)
    assert dict(zip(m["columns"], m["counts"][ng], strict=True)) == {
        "A": 1, "B": 3, "C": 0, "D": 0, "excluded:not_yet_designated": 0,
    }  # fmt: skip
    assert "eval.out-of-scope" in got["warnings"]
    assert err.count("[eval.out-of-scope]") == 1  # each warning once


def test_compare_a_manifest_of_dated_versions(capsys: pytest.CaptureFixture[str]) -> None:
    """苏医保办发〔2023〕26号 二(二): the 2023 version against the manifest's version for the
    evaluated year 2024 (a provisional copy: nothing moves); --set city_default_points=5 takes
    the city's 10 points of 二(二) to 5 in every score."""
    examples = ROOT / "examples" / "jiangsu"
    argv = [
        "compare", ROOT / "policies" / "jiangsu_perf" / "jiangsu_perf_2023.yaml",
        ROOT / "policies" / "jiangsu_perf.yaml",
        "--subjects", examples / "subjects.jsonl", "--events", examples / "events.jsonl",
        "--as-of", "2025-03-31", "--format", "json", "--engine", "python",
    ]  # fmt: skip
    code, out, _ = _cli(capsys, *argv)
    assert code == 0
    got = json.loads(out)
    assert got["moved"] == 0 and got["new"]["policy"]["version"] != got["old"]["policy"]["version"]
    code, out, _ = _cli(capsys, *argv, "--set", "city_default_points=5")
    got = json.loads(out)
    for deltas in got["score_deltas"].values():
        assert deltas["city"]["delta"] == -5 and deltas["score"]["delta"] == -5


def test_compare_writes_nothing_under_strict_with_warnings(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    target = world["folder"] / "strict.json"
    code, out, err = _compare(world, capsys, "json", "--output", str(target), "--strict")
    assert code == 1 and out == "" and not target.exists()  # eval.no-history (Jinan history)
    assert err.endswith("warning(s) taken as errors; nothing written\n")


def test_compare_output_never_overwrites_an_input(
    world: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _compare(world, capsys, "json", "--output", str(world["events"]))
    assert code == 1 and "is an input of this command" in err


# -- compare: properties ---------------------------------------------------------------------

_KINDS = ["violation", "complaint", "price_interview", "agreement_breach", "fraud", "reward"]

worlds = st.lists(
    st.tuples(
        st.sampled_from(["hospital", "clinic", "pharmacy"]),
        st.sampled_from(["370102", "370112", None]),
        st.sampled_from(["2015-01-01", "2023-06-01", "2025-01-01"]),
        st.booleans(),
        st.lists(st.sampled_from(_KINDS), max_size=6),
    ),
    min_size=1,
    max_size=8,
)


def _world(spec: list[tuple[str, str | None, str, bool, list[str]]]) -> tuple[list[Any], list[Any]]:
    subjects, events = [], []
    for i, (category, region, designated, committed, kinds) in enumerate(spec):
        sid = f"P{i:02d}"
        subjects.append(
            {"id": sid, "type": "institution", "category": category, "region": region,
             "designated_on": designated}
        )  # fmt: skip
        if committed:
            events += _events(sid, "commitment")
        for j, kind in enumerate(kinds):
            attrs: dict[str, Any] = {"verified": True} if kind == "complaint" else {}
            if kind == "reward":
                attrs["points"] = 5
            events.append(
                {"id": f"{sid}-{j}", "subject_id": sid, "kind": kind, "date": "2024-05-01", **attrs}
            )
    return subjects, events


def _compare_json(old: Any, new: Any) -> str:
    buf = io.StringIO()
    write_comparison(compare_runs(old, new), buf, "json")
    return buf.getvalue()


@settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow])
@given(spec=worlds, seed=st.integers(0, 2**16))
def test_property_compare_p_with_p_is_diagonal_and_order_free(
    spec: list[tuple[str, str | None, str, bool, list[str]]], seed: int
) -> None:
    """Design principle 5: the same pack and records give the same comparison whatever the
    order of the input; a pack compared with itself moves no subject."""
    policy = jinan()
    subjects, events = _world(spec)
    run = policy.evaluate(subjects, events, as_of=AS_OF)
    rng = random.Random(seed)
    shuffled_s, shuffled_e = subjects[:], events[:]
    rng.shuffle(shuffled_s)
    rng.shuffle(shuffled_e)
    again = policy.evaluate(shuffled_s, shuffled_e, as_of=AS_OF)
    cmp = compare_runs(run, again)
    assert cmp.moved == ()
    assert all(r == c for (r, c) in cmp.matrix.counts)
    assert sum(cmp.matrix.counts.values()) == len(subjects)
    assert _compare_json(run, again) == _compare_json(again, run)
    reform = policy.with_overrides({"commitment_points": 50})
    changed = reform.evaluate(subjects, events, as_of=AS_OF)
    changed_shuffled = reform.evaluate(shuffled_s, shuffled_e, as_of=AS_OF)
    assert _compare_json(run, changed) == _compare_json(again, changed_shuffled)
    html = comparison_html(compare_runs(run, changed))
    assert html == comparison_html(compare_runs(again, changed_shuffled))


# -- sensitivity -----------------------------------------------------------------------------

EDGE_SUBJECTS = [_subject("E1", "hospital", "370102"), _subject("E2", "pharmacy", "370112")]
EDGE_EVENTS = [
    *_events("E1", "commitment"),
    *_events("E1", "violation"),
    *_events("E2", "commitment"),
    *_events("E2", "complaint", verified=True),
]
"""E1: one violation in force, 失信信息 100 + violation_points; E2: one verified complaint,
失信信息 100 + complaint_points. Either scores 10 + 10 + 6 + 0.5 × (100 + points) + 16 =
92 + points / 2 (三(三)), which is 90 — the A edge, [90, 100] — at points = −4 exactly, and 80
— the B edge, [80, 90) — at −24."""


@pytest.fixture(scope="module")
def edge_files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    folder = tmp_path_factory.mktemp("edge")
    return [
        "--subjects", str(_write_jsonl(folder / "subjects.jsonl", EDGE_SUBJECTS)),
        "--events", str(_write_jsonl(folder / "events.jsonl", EDGE_EVENTS)),
    ]  # fmt: skip


def _sweep(
    capsys: pytest.CaptureFixture[str], files: list[str], *argv: str
) -> tuple[int, dict[str, Any], str]:
    code, out, err = _cli(
        capsys, "sensitivity", JINAN, *files, *_as_of(), "--format", "json", *argv
    )
    return code, (json.loads(out) if code == 0 else {}), err


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_sensitivity_flips_exactly_at_the_band_edges(
    edge_files: list[str], capsys: pytest.CaptureFixture[str], engine: str
) -> None:
    """Bands [90, 100] A, [80, 90) B, [60, 80) C: with violation_points −30 … 0 E1 is C up to
    −25 (79.5), B from −24 (80, the edge included) to −5 (89.5), A from −4 (90): the flips are
    at −24 and −4, not a step before or after."""
    code, got, _ = _sweep(
        capsys, edge_files, "--param", "violation_points", "--range=-30:0:1", "--engine", engine
    )
    assert code == 0
    assert got["flips"] == [-24, -4]
    values = {v["value"]: v for v in got["values"]}
    assert len(values) == 31 and values[-10]["pack_value"] is True
    assert values[-25]["counts"] == {"A": 0, "B": 1, "C": 1, "D": 0}  # E2: 89.5, B throughout
    assert values[-24]["flipped"] == [{"subject_id": "E1", "from": "C", "to": "B"}]
    assert values[-5]["counts"]["B"] == 2 and not values[-5]["changed"]
    assert values[-4]["flipped"] == [{"subject_id": "E1", "from": "B", "to": "A"}]
    assert values[-3]["changed"] is False


def test_sensitivity_decimal_steps_do_not_drift(
    edge_files: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """complaint_points from −5 by 0.1: E2 scores 92 + points / 2, so 89.95 (B) at −4.1 and
    90 (A) at −4.0 exactly — with float steps −5 + 10 × 0.1 is −4.000000000000001 and the flip
    would land a step late."""
    code, got, _ = _sweep(
        capsys, edge_files, "--param", "complaint_points", "--range=-5:-3:0.1", "--engine", "python"
    )
    assert code == 0
    assert [v["value"] for v in got["values"]][:3] == [-5, -4.9, -4.8]
    assert len(got["values"]) == 21
    assert got["flips"] == [-4]
    flip = next(v for v in got["values"] if v["changed"])
    assert flip["flipped"] == [{"subject_id": "E2", "from": "B", "to": "A"}]


def test_sensitivity_with_another_value_set(
    world: dict[str, Path], edge_files: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """With the weights of 信用承诺 and 失信信息 set to 0.05 and 0.55 for every run, E1 scores
    5 + 10 + 6 + 0.55 × (100 + points) + 16 = 92 + 0.55 × points: 89.8 (B) at −4, 90.35 (A) at
    −3 — the flip moves from −4 to −3."""
    code, out, err = _cli(
        capsys, "sensitivity", world["pack"], *edge_files, *_as_of(), "--format", "json",
        "--param", "violation_points", "--range=-10:0:1", "--engine", "python",
        "--set", "commitment_weight=0.05", "--set", "adverse_weight=0.55",
    )  # fmt: skip
    assert code == 0, err
    got = json.loads(out)
    assert got["policy"]["overrides"] == {"adverse_weight": 0.55, "commitment_weight": 0.05}
    assert got["flips"] == [-3]


def test_sensitivity_table_and_csv(
    edge_files: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["sensitivity", JINAN, *edge_files, *_as_of(), "--param", "violation_points"]
    argv += ["--engine", "python"]
    code, out, _ = _cli(capsys, *argv, "--range=-6:-2:1")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].startswith("parameter violation_points (the pack's value: -10)")
    assert lines[1].endswith("flips at: -4")
    row = next(line for line in lines if line.startswith("-4 "))
    assert row.split() == ["-4", "1", "1", "0", "0", "*", "E1", "B→A"]
    code, out, _ = _cli(capsys, *argv, "--range=-6:-2:1", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["violation_points"] for r in rows] == ["-6", "-5", "-4", "-3", "-2"]
    assert [r["changed"] for r in rows] == ["false", "false", "true", "false", "false"]
    assert rows[2]["flipped"] == "E1:B>A" and (rows[2]["A"], rows[2]["B"]) == ("1", "1")


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("0:1:0.25", ["0", "0.25", "0.50", "0.75", "1.00"]),
        ("10:0:-5", ["10", "5", "0"]),
        ("0:1:0.3", ["0", "0.3", "0.6", "0.9"]),
        ("2:2:1", ["2"]),
    ],
)
def test_range_values_are_exact_decimals(text: str, values: list[str]) -> None:
    assert list(parse_range(text)) == [Decimal(v) for v in values]
    assert all(isinstance(v, Decimal) for v in parse_range(text))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("0:10", "is not A:B:STEP"),
        ("a:1:1", "must be numbers"),
        ("0:10:0", "STEP must not be 0"),
        ("0:10:-1", "goes away from B"),
        ("0:10000:1", f"at most {MAX_VALUES}"),
        ("0:inf:1", "finite"),
    ],
)
def test_a_bad_range_is_a_usage_error(text: str, words: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=words):
        parse_range(text)


def test_sensitivity_errors(edge_files: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _sweep(capsys, edge_files, "--param", "violaton_points", "--range", "0:1:1")
    assert code == 1 and "[cli.set-unknown-parameter]" in err and "violation_points" in err
    code, _, err = _sweep(capsys, edge_files, "--param", "violation_points", "--range", "0:1:0.5")
    assert code == 0  # a number parameter takes 0.5
    code, _, err = _sweep(
        capsys, edge_files, "--param", "violation_points", "--range", "0:1:1",
        "--set", "violation_points=3",
    )  # fmt: skip
    assert code == 2 and "also given by --set" in err
    code, _, err = _sweep(capsys, edge_files, "--param", "violation_points", "--range", "0:10")
    assert code == 2 and "is not A:B:STEP" in err


def test_sensitivity_of_a_non_numeric_parameter_is_located(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edge_files: list[str]
) -> None:
    pack = tmp_path / "p.yaml"
    pack.write_text(
        f"extends: {JINAN}\nparameters:\n  label:\n    type: str\n    values:\n"
        "      2023-11-08: {value: x, provisional: 测试}\n",
        encoding="utf-8",
    )
    code, out, err = _cli(
        capsys, "sensitivity", pack, *edge_files, *_as_of(), "--param", "label", "--range", "0:1:1"
    )
    assert code == 1 and out == ""
    assert f"{pack}:4:" in err and "[cli.sensitivity-not-numeric]" in err


def test_sensitivity_of_an_int_parameter_refuses_fractions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Shenzhen's suspension_points is an int (医保发〔2024〕23号 9 points): 8.5 is not one."""
    examples = ROOT / "examples" / "shenzhen"
    code, _, err = _cli(
        capsys, "sensitivity", ROOT / "policies" / "shenzhen.yaml",
        "--subjects", examples / "subjects.jsonl", "--events", examples / "events.jsonl",
        "--as-of", "2024-12-31", "--param", "suspension_points", "--range", "8:9:0.5",
    )  # fmt: skip
    assert code == 1 and "--set suspension_points=8.5: the parameter is of type int" in err


def test_compare_formats_are_documented() -> None:
    text = (ROOT / "docs" / "cli.md").read_text("utf-8")
    for fmt in COMPARE_FORMATS:
        assert f"`{fmt}`" in text
    for heading in ("## compare", "## sensitivity", "### `--set`"):
        assert heading in text
    errors = (ROOT / "docs" / "errors.md").read_text("utf-8")
    for code in (
        "cli.set-unknown-parameter",
        "cli.set-bad-value",
        "cli.set-group-value",
        "cli.sensitivity-not-numeric",
    ):
        assert f"`{code}`" in errors


def test_summary_names_the_values_set() -> None:
    run = jinan().with_overrides({"commitment_points": 50}).evaluate(SUBJECTS, EVENTS, as_of=AS_OF)
    assert summarize(run)["policy"]["overrides"] == {"commitment_points": 50}
    assert "overrides" not in summarize(jinan().evaluate(SUBJECTS, EVENTS, as_of=AS_OF))["policy"]
