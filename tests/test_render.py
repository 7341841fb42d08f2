"""Rendering results: the fast JSON Lines writer, the decisive trace, CSV and the table.

design.md principle 3 ("Explain everything"): a result carries the trace of every exclusion,
fact, criterion and roll-up that decided it, with inputs, outcome, evidence and clause.
Principle 5: output is deterministic. ``yibao_credit.render.JsonlWriter`` encodes results
without the generic JSON encoder, reusing the text of repeated steps; it must give exactly the
bytes ``dumps(result_to_dict(r, lang, trace)) + "\\n"`` gives — on the Zhenjiang example data
(镇医保〔2024〕82号), where every criterion, exclusion and roll-up band decides some subject,
and on a generated province, where many subjects share the same trace.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest

import yibao_credit as yc
from yibao_credit.render.results import CSV_COLUMNS, JsonlWriter, dumps, result_to_dict

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # benchmarks/ is a package at the repository root
    sys.path.append(str(ROOT))

from benchmarks.generate import generate  # noqa: E402

PACK = ROOT / "policies" / "zhenjiang.yaml"
EXAMPLES = ROOT / "examples" / "zhenjiang"
AS_OF = dt.date(2024, 12, 31)
DOC = "镇医保〔2024〕82号"
LANGS = ("zh", "en")
TRACES = ("full", "decisive", "none")


@pytest.fixture(scope="module")
def policy() -> yc.Policy:
    return yc.load_policy(PACK)


@pytest.fixture(scope="module")
def example_run(policy: yc.Policy) -> yc.Run:
    records = yc.load_records(EXAMPLES / "subjects.jsonl", EXAMPLES / "events.jsonl")
    run: yc.Run = policy.evaluate(records, as_of=AS_OF)
    return run


@pytest.fixture(scope="module")
def province_run(policy: yc.Policy, tmp_path_factory: pytest.TempPathFactory) -> yc.Run:
    """3000 generated subjects (benchmarks/generate.py): chains with 1, 2, 3, 4 and 6 stores
    at ★, recent designations, many subjects with identical quiet traces."""
    out = tmp_path_factory.mktemp("province")
    subjects, events = generate(3000, out, seed=20241231, as_of=AS_OF)
    run: yc.Run = policy.evaluate(yc.load_records(subjects, events), as_of=AS_OF)
    return run


def results(run: yc.Run) -> list[yc.Result]:
    return list(run)


def by_id(run: yc.Run, sid: str) -> yc.Result:
    r = run.get(sid)
    assert r is not None, sid
    return r


def steps_of(r: yc.Result, detail: str = "decisive", lang: str = "zh") -> list[dict[str, Any]]:
    """The trace as another system receives it (through JSON)."""
    d = json.loads(dumps(result_to_dict(r, lang, detail)))
    out: list[dict[str, Any]] = d["trace"]
    return out


def named(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {s["step"]: s for s in steps}
    assert len(out) == len(steps), "a step occurs twice"
    return out


# -- JsonlWriter == dumps(result_to_dict(...)) -------------------------------------------------


def _check_writer(run: yc.Run, lang: str, trace: str) -> int:
    writer = JsonlWriter(lang, trace)
    count = 0
    for r in run:
        expected = dumps(result_to_dict(r, lang, trace)) + "\n"
        got = writer.line(r)
        assert got == expected, f"{r.subject.id} ({lang}, {trace}) differs"
        count += 1
    return count


@pytest.mark.parametrize("trace", TRACES)
@pytest.mark.parametrize("lang", LANGS)
def test_jsonl_writer_matches_result_to_dict_on_the_examples(
    example_run: yc.Run, lang: str, trace: str
) -> None:
    assert _check_writer(example_run, lang, trace) == 42


@pytest.mark.parametrize("trace", TRACES)
@pytest.mark.parametrize("lang", LANGS)
def test_jsonl_writer_matches_result_to_dict_on_a_generated_province(
    province_run: yc.Run, lang: str, trace: str
) -> None:
    assert _check_writer(province_run, lang, trace) == 3000


def _other_runs() -> dict[str, yc.Run]:
    """Score packs, several subject types, evaluation groups, repairs and review stages: the
    shapes the writer's trace templates must get right beyond Zhenjiang's criteria."""
    from benchmarks.generate_shenzhen import generate as generate_shenzhen

    runs: dict[str, yc.Run] = {}
    for name, pack, as_of in (
        ("jinan", ROOT / "policies" / "jinan.yaml", dt.date(2024, 12, 31)),
        ("shenzhen", ROOT / "policies" / "shenzhen.yaml", dt.date(2024, 12, 31)),
        ("jiangsu", ROOT / "policies" / "jiangsu_perf" / "jiangsu_perf_2024.yaml",
         dt.date(2025, 3, 31)),
    ):  # fmt: skip
        folder = ROOT / "examples" / name
        records = yc.load_records(folder / "subjects.jsonl", folder / "events.jsonl")
        runs[name] = yc.load_policy(pack).evaluate(records, as_of=as_of)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        subjects, events = generate_shenzhen(300, Path(tmp), seed=7, as_of=AS_OF)
        records = yc.load_records(subjects, events)
    shenzhen = yc.load_policy(ROOT / "policies" / "shenzhen.yaml")
    runs["shenzhen-generated"] = shenzhen.evaluate(records, as_of=AS_OF)
    return runs


@pytest.fixture(scope="module")
def other_runs() -> dict[str, yc.Run]:
    return _other_runs()


@pytest.mark.parametrize("trace", TRACES)
@pytest.mark.parametrize("name", ["jinan", "shenzhen", "jiangsu", "shenzhen-generated"])
def test_jsonl_writer_matches_result_to_dict_for_score_packs(
    other_runs: dict[str, yc.Run], name: str, trace: str
) -> None:
    run = other_runs[name]
    assert _check_writer(run, "zh", trace) == len(list(run)) > 5


def test_generated_province_exercises_what_the_writer_caches(province_run: yc.Run) -> None:
    """The byte-equality above only means something if the province has repeated quiet
    traces, subjects with evidence, exclusions and capped chain headquarters."""
    rs = list(province_run)
    statuses = {r.status for r in rs}
    assert statuses == {"graded", "excluded"}
    assert {r.grade for r in rs if r.status == "graded"} == {"★★★", "★★", "★"}
    assert any(o.applied for r in rs for o in r.rollups)
    quiet = [r for r in rs if r.grade == "★★★" and not r.rollups]
    assert len(quiet) > 100


def test_writer_reused_across_runs_keeps_each_runs_policy_and_date(
    policy: yc.Policy, example_run: yc.Run
) -> None:
    """One writer, two runs as of different dates: each line names its own as_of."""
    records = yc.load_records(EXAMPLES / "subjects.jsonl", EXAMPLES / "events.jsonl")
    later = policy.evaluate(records, as_of=dt.date(2025, 6, 30))
    writer = JsonlWriter("zh", "full")
    for run in (example_run, later, example_run):
        for r in run:
            assert writer.line(r) == dumps(result_to_dict(r, "zh", "full")) + "\n"


def test_render_jsonl_is_the_writer_output(example_run: yc.Run) -> None:
    text = yc.render(example_run, "jsonl", "en", "decisive")
    writer = JsonlWriter("en", "decisive")
    assert text == "".join(writer.line(r) for r in example_run)
    ids = [json.loads(line)["subject_id"] for line in text.splitlines()]
    assert ids == sorted(ids)


def test_render_rejects_an_unknown_format_or_trace(example_run: yc.Run) -> None:
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        yc.render(example_run, "xml")
    with pytest.raises(ValueError, match="unknown trace detail 'some'"):
        yc.render(example_run, "jsonl", "zh", "some")


# -- the decisive trace ------------------------------------------------------------------------


def test_decisive_trace_of_a_one_star_result(example_run: yc.Run) -> None:
    """ZJH004: two violations (ZJE0003, ZJE0004) within 1年之内 → ★ under 三(一)3(1).

    The decisive trace holds the criterion met, the fact it reads with its evidence, that
    fact's window, and the decisive grade step citing the criterion's evidence; no criterion
    that did not hold."""
    steps = steps_of(by_id(example_run, "ZJH004"))
    s = named(steps)
    criterion = s["criterion.violations_2plus"]
    assert criterion["outcome"] is True
    assert criterion["inputs"] == {"violations": 2}
    assert criterion["evidence"] == ["ZJE0003", "ZJE0004"]
    assert criterion["clause"] == f"{DOC} 三(一)3(1)"
    fact = s["fact.violations"]
    assert fact["outcome"] == 2
    assert fact["evidence"] == ["ZJE0003", "ZJE0004"]
    window = s["window.lookback_1y"]
    assert window["outcome"] == {"from": "2024-01-01", "to": "2024-12-31"}
    grade = s["grade.★"]
    assert grade.get("decisive") is True
    assert grade["outcome"] == "★"
    assert grade["inputs"]["matched"] == ["violations_2plus"]
    assert grade["evidence"] == ["ZJE0003", "ZJE0004"]
    assert grade["clause"] == f"{DOC} 三(一)3"
    assert [x["step"] for x in steps if x.get("decisive")] == ["grade.★"]
    # only what decided it
    assert "criterion.fraud" not in s
    assert "fact.frauds" not in s
    assert not any(name.startswith("exclusion.") for name in s)
    # the order of the full trace: window, fact, criterion, grade
    order = [x["step"] for x in steps]
    assert order.index("window.lookback_1y") < order.index("fact.violations")
    assert order.index("fact.violations") < order.index("criterion.violations_2plus")
    assert order.index("criterion.violations_2plus") < order.index("grade.★")


def test_decisive_trace_of_a_one_star_result_with_two_criteria(policy: yc.Policy) -> None:
    """Every ★ criterion that held is decisive (三(一)3 is ``any``), not only the first."""
    records = [
        {"id": "X", "type": "institution", "category": "hospital", "designated_on": "2015-01-01"}
    ]
    events = [
        {"id": "f1", "subject_id": "X", "kind": "fraud", "date": "2024-03-01"},
        {"id": "s1", "subject_id": "X", "kind": "serious_violation", "date": "2024-04-01"},
    ]
    r = by_id(policy.evaluate(records, events, as_of=AS_OF), "X")
    s = named(steps_of(r))
    assert s["criterion.fraud"]["evidence"] == ["f1"]
    assert s["criterion.serious_violation"]["evidence"] == ["s1"]
    assert s["fact.frauds"]["evidence"] == ["f1"]
    assert s["fact.serious_violations"]["evidence"] == ["s1"]
    assert s["grade.★"]["inputs"]["matched"] == ["fraud", "serious_violation"]
    assert s["grade.★"]["evidence"] == ["f1", "s1"]
    assert "criterion.violations_2plus" not in s


def test_decisive_trace_of_an_excluded_result(example_run: yc.Run) -> None:
    """ZJH009: licence suspended 2024-04-02 (ZJE0010) → excluded under 三(一)5(4); the
    violation ZJE0009 is never graded. The decisive trace holds the exclusion and the facts it
    reads (suspended, revoked) with their windows — nothing of the grading."""
    steps = steps_of(by_id(example_run, "ZJH009"))
    s = named(steps)
    excl = s["exclusion.licence"]
    assert excl.get("decisive") is True
    assert excl["outcome"] is True
    assert excl["inputs"] == {"licence_suspended": True, "licence_revoked": False}
    assert excl["evidence"] == ["ZJE0010"]
    assert excl["clause"] == f"{DOC} 三(一)5(4)"
    assert s["fact.licence_suspended"]["outcome"] is True
    assert s["fact.licence_suspended"]["evidence"] == ["ZJE0010"]
    assert s["fact.licence_revoked"]["outcome"] is False
    assert s["fact.licence_revoked"]["evidence"] == []
    assert {"window.lookback_1y", "window.current_agreement"} <= set(s)
    assert s["window.current_agreement"]["outcome"] == {"from": "2016-01-01", "to": "2024-12-31"}
    assert not any(n.startswith(("criterion.", "grade.")) for n in s)
    assert "fact.violations" not in s
    assert "exclusion.agreement_under_1y" not in s  # tried first, but did not fire
    assert steps[-1]["step"] == "exclusion.licence"


def test_decisive_trace_of_an_exclusion_reading_a_compute_fact(example_run: yc.Run) -> None:
    """ZJH011: designated 2024-01-01 → 不满1年 as of 2024-12-31 (三(一)5(1)). The exclusion
    reads a compute fact; the trace shows it with the subject field it reads."""
    s = named(steps_of(by_id(example_run, "ZJH011")))
    assert s["exclusion.agreement_under_1y"].get("decisive") is True
    assert s["exclusion.agreement_under_1y"]["inputs"] == {"agreement_year_ended": False}
    fact = s["fact.agreement_year_ended"]
    assert fact["outcome"] is False
    assert fact["inputs"] == {"designated_on": "2024-01-01", "as_of": "2024-12-31"}


def test_decisive_trace_of_a_default_graded_result(example_run: yc.Run) -> None:
    """ZJH007: a breach not recorded as non-performance (ZJE0007) → default ★★ (三(一)2).

    For each rule, the criteria that kept it from matching: every ★ criterion and every ★★
    criterion (both ``any``, none held), and of the ★★★ criteria (``all``) only no_breach."""
    steps = steps_of(by_id(example_run, "ZJH007"))
    s = named(steps)
    star1 = [
        "violations_2plus",
        "verified_complaints_2plus",
        "price_interviews_2plus",
        "fraud",
        "nonperformance",
        "serious_violation",
    ]
    star2 = ["one_violation", "one_verified_complaint", "one_price_interview"]
    criteria = [
        x["step"].removeprefix("criterion.") for x in steps if x["step"].startswith("criterion.")
    ]
    assert criteria == [*star1, *star2, "no_breach"]
    for c in star1 + star2:
        assert s[f"criterion.{c}"]["outcome"] is False
        assert s[f"criterion.{c}"]["evidence"] == []
    assert s["criterion.no_breach"]["outcome"] is False
    assert s["criterion.no_breach"]["inputs"] == {"breaches": 1}
    assert "criterion.no_violation" not in s and "criterion.no_complaint" not in s
    assert s["fact.breaches"]["evidence"] == ["ZJE0007"]
    assert s["fact.nonperformance"]["outcome"] == 0
    default = s["grade.default"]
    assert default.get("decisive") is True
    assert default["outcome"] == "★★"
    assert default["clause"] == f"{DOC} 三(一)2"
    assert [x["step"] for x in steps if x.get("decisive")] == ["grade.default"]


def test_decisive_trace_of_a_capped_chain_headquarters(example_run: yc.Run) -> None:
    """ZJL002: own grade ★★★, three stores at ★ (ZJP201-203) → ★★ (三(一)4 有三家); the
    excluded store ZJP204 is not counted. The roll-up is the decisive step, not the grade."""
    steps = steps_of(by_id(example_run, "ZJL002"))
    s = named(steps)
    rollup = s["rollup.chain_stores_at_one_star.2"]
    assert rollup.get("decisive") is True
    assert rollup["outcome"] == "★★"
    assert rollup["evidence"] == ["ZJP201", "ZJP202", "ZJP203"]
    assert rollup["inputs"]["counted"] == 3
    assert rollup["inputs"]["grade_before"] == "★★★"
    assert s["grade.★★★"].get("decisive") is None
    assert [x["step"] for x in steps if x.get("decisive")] == ["rollup.chain_stores_at_one_star.2"]


def test_every_example_result_has_exactly_one_decisive_step(example_run: yc.Run) -> None:
    for r in example_run:
        for detail in ("full", "decisive"):
            marked = [x["step"] for x in steps_of(r, detail) if x.get("decisive")]
            assert len(marked) == 1, (r.subject.id, detail, marked)
            if r.status == "excluded":
                assert marked == [f"exclusion.{r.exclusion}"]


def test_decisive_trace_is_the_full_trace_filtered(example_run: yc.Run) -> None:
    for r in example_run:
        for lang in LANGS:
            full = steps_of(r, "full", lang)
            short = steps_of(r, "decisive", lang)
            assert [x for x in full if x in short] == short, r.subject.id


# -- CSV ---------------------------------------------------------------------------------------


def test_csv_header_and_one_row_per_subject(example_run: yc.Run) -> None:
    rows = list(csv.reader(io.StringIO(yc.render(example_run, "csv"))))
    assert rows[0] == CSV_COLUMNS
    assert len(rows) == 1 + 42
    assert all(len(row) == len(CSV_COLUMNS) for row in rows)
    ids = [row[0] for row in rows[1:]]
    assert ids == sorted(ids) == sorted(r.subject.id for r in example_run)


def test_csv_row_values(example_run: yc.Run, policy: yc.Policy) -> None:
    rows = list(csv.DictReader(io.StringIO(yc.render(example_run, "csv", "en"))))
    row = {r["subject_id"]: r for r in rows}
    zjh004 = row["ZJH004"]
    assert zjh004["status"] == "graded"
    assert zjh004["grade"] == "★"
    assert zjh004["exclusion"] == ""
    assert zjh004["score"] == ""
    assert zjh004["ruleset"] == "institution"
    assert zjh004["decided_by"] == "grade.★"
    assert zjh004["clauses"] == f"{DOC} 三(一)3"
    assert zjh004["measures"].split(";") == [
        "legal_representative_interview",
        "key_monitoring",
        "publish_violations",
        "joint_discipline",
        "other_supervision_1",
    ]
    assert (zjh004["policy_id"], zjh004["policy_version"], zjh004["policy_sha256"]) == (
        "zhenjiang",
        policy.version,
        policy.sha256,
    )
    assert zjh004["as_of"] == "2024-12-31"
    zjc005 = row["ZJC005"]
    assert (zjc005["status"], zjc005["grade"], zjc005["exclusion"]) == (
        "excluded",
        "",
        "voluntary_termination",
    )
    assert zjc005["measures"] == ""
    assert zjc005["decided_by"] == "exclusion.voluntary_termination"


def test_csv_of_a_generated_province(province_run: yc.Run) -> None:
    text = yc.render(province_run, "csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == CSV_COLUMNS
    assert len(rows) == 3001
    assert [row[0] for row in rows[1:]] == sorted(r.subject.id for r in province_run)


# -- table -------------------------------------------------------------------------------------


def display_width(text: str) -> int:
    """Columns a terminal gives the text: wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def test_table_aligns_cjk_names_by_display_width(example_run: yc.Run) -> None:
    """Names like 镇江市示例第一人民医院 take two terminal columns per character; every column
    after them must start at the same display column on every line."""
    lines = yc.render(example_run, "table", lang="en").splitlines()
    assert len(lines) == 43
    header = lines[0]
    for column in ("name", "status", "grade", "exclusion", "decided by"):
        start = display_width(header[: header.index(column)])
        for line in lines[1:]:
            sid = line.split()[0]
            r = by_id(example_run, sid)
            value = {
                "name": r.subject.name or "",
                "status": r.status,
                "grade": r.grade or "",
                "exclusion": r.exclusion or "",
            }.get(column)
            if value == "":
                continue
            if value is None:  # decided by: the last cell
                cell = line.rstrip().rsplit("  ", 1)[1]
                at = line.rindex(cell)
            else:
                at = _cell_at(line, value, start)
            assert display_width(line[:at]) == start, (sid, column, line)


def _cell_at(line: str, value: str, start: int) -> int:
    """The index in ``line`` of ``value`` as a cell (preceded by two spaces or at column 0)."""
    for m in re.finditer(re.escape(value), line):
        i = m.start()
        if line[max(0, i - 2) : i] == "  " and display_width(line[:i]) == start:
            return i
    for m in re.finditer(re.escape(value), line):
        if line[max(0, m.start() - 2) : m.start()] == "  ":
            return m.start()
    raise AssertionError(f"{value!r} is not a cell of {line!r}")


def test_table_pads_to_the_widest_name(example_run: yc.Run) -> None:
    lines = yc.render(example_run, "table", lang="en").splitlines()
    widest = max(display_width(r.subject.name or "") for r in example_run)
    name_start = display_width(lines[0][: lines[0].index("name")])
    status_start = display_width(lines[0][: lines[0].index("status")])
    assert status_start == name_start + widest + 2  # two spaces between columns
    assert all(line == line.rstrip() for line in lines)
