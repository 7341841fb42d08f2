"""Clause coverage of a pack's tests (issue 15 item 6) and gaps and overlaps between its dated
versions (issue 15 item 7).

Coverage. design.md principle 2: every rule and number cites the clause it encodes, and the
worked examples beside a pack are how a reviewer checks the encoding clause by clause.
``yibao-credit test PACK --coverage`` lists each clause the pack cites and how many cases reach
a step citing it (pack-format.md §13: a step in the full trace of a result the case names
under ``expect``), and ``--fail-under N`` fails below N percent, compared exactly.

Versions. 苏医保办发〔2023〕26号 二(二) "指标体系根据年度工作进行动态调整,省局每年4月底前
形成年度评价指标体系": one table per evaluated year, so a pack is a folder of dated versions whose
``effective`` periods follow each other (pack-format.md §17). Two versions claiming one day are
an error (which table applies would be a guess); days no version covers are a warning, an
error under ``validate --strict``, and a run on such a day stops with ``eval.no-version``.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import yibao_credit as yc
from yibao_credit.cli.main import main
from yibao_credit.errors import EvaluationError, PackError
from yibao_credit.pack.bundled import bundled_ids
from yibao_credit.packtest.cases import read_tests, run_case
from yibao_credit.packtest.coverage import ClauseCoverage, Coverage, measure
from yibao_credit.policy import load_policies


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# -- clause coverage ------------------------------------------------------------------------

COVERAGE_PACK = """\
pack:
  id: coverage_demo
  name: {zh: 覆盖示例, en: coverage example}
  jurisdiction: {name: 示例市}
  version: "1"
  effective: {from: 2024-01-01}
  sources:
    - {id: demo, number: 示例〔2024〕1号, title: 示例办法, issuer: 示例市医疗保障局}
windows:
  year:
    title: {zh: 1年之内, en: within 1 year}
    type: rolling
    length: 1y
    clause: 第一条
rulesets:
  institution:
    title: {zh: 机构, en: institutions}
    applies_to: {type: institution}
    facts:
      violations:
        title: {zh: 1年之内违规次数, en: violations within 1 year}
        op: count
        where: kind == 'violation'
        window: year
        clause: 第一条
    grading:
      type: criteria
      grades:
        - {label: A, title: {zh: 好, en: good}}
        - {label: B, title: {zh: 中, en: fair}}
        - {label: C, title: {zh: 差, en: poor}}
      rules:
        - grade: C
          clause: 第三条
          any:
            - id: three_violations
              title: {zh: 违规三次以上}
              when: violations >= 3
              clause: 第三条
        - grade: B
          clause: 第二条
          any:
            - {id: one_violation, title: {zh: 有违规}, when: violations >= 1, clause: 第二条}
      default: {grade: A, clause: 第四条}
    measures:
      - {id: publish, title: {zh: 公开曝光}, grades: [C], clause: 第五条}
"""

COVERAGE_TESTS = """\
cases:
  - name: 第四条 no violation within 1 year gives A (the default)
    as_of: 2024-12-31
    subjects:
      - {id: H1, type: institution, category: hospital}
    expect:
      H1: {grade: A, decided_by: grade.default}
  - name: 第二条 one violation gives B
    as_of: 2024-12-31
    subjects:
      - {id: H1, type: institution, category: hospital}
      - {id: H2, type: institution, category: hospital}
    events:
      - {id: v1, subject_id: H1, kind: violation, date: 2024-06-01}
      - {id: w1, subject_id: H2, kind: violation, date: 2024-06-01}
      - {id: w2, subject_id: H2, kind: violation, date: 2024-06-02}
      - {id: w3, subject_id: H2, kind: violation, date: 2024-06-03}
    expect:
      H1: {grade: B}
"""
"""H2 has three violations (C, and the measure of 第五条), but the case does not check H2: its
result reaches nothing, so 第五条 stays uncovered."""

C_CASE = """\
  - name: 第三条、第五条 three violations give C, published
    as_of: 2024-12-31
    subjects:
      - {id: H1, type: institution, category: hospital}
    events:
      - {id: v1, subject_id: H1, kind: violation, date: 2024-06-01}
      - {id: v2, subject_id: H1, kind: violation, date: 2024-06-02}
      - {id: v3, subject_id: H1, kind: violation, date: 2024-06-03}
    expect:
      H1: {grade: C, measures: [publish]}
"""

FIFTH = "示例〔2024〕1号 第五条"


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    (tmp_path / "coverage_demo.yaml").write_text(COVERAGE_PACK, "utf-8")
    (tmp_path / "coverage_demo.tests.yaml").write_text(COVERAGE_TESTS, "utf-8")
    return tmp_path / "coverage_demo.yaml"


def coverage_of(pack: Path) -> Coverage:
    policy = yc.load_policy(pack)
    tests = read_tests(pack.with_name(pack.name.replace(".yaml", ".tests.yaml")))
    outcomes = [run_case(policy, tests, i) for i in range(len(tests.model.cases))]
    return measure(policy, [(tests, outcomes)])


def test_design_principle_2_a_clause_no_case_reaches_is_listed_uncovered(demo: Path) -> None:
    """Five clauses cited; the measure of 第五条 follows only a C, which no expected result
    has (H2 is C but unchecked): 4 of 5 covered, exactly 80%."""
    cov = coverage_of(demo)
    by_clause = {c.clause: c for c in cov.clauses}
    assert list(by_clause) == [f"示例〔2024〕1号 第{n}条" for n in "一三二四五"]
    assert [c.clause for c in cov.clauses if not c.covered] == [FIFTH]
    assert by_clause[FIFTH].cited_by == ["measure.publish"]
    assert by_clause[FIFTH].cases == 0
    assert by_clause["示例〔2024〕1号 第一条"].cited_by == ["fact.violations", "window.year"]
    assert by_clause["示例〔2024〕1号 第一条"].cases == 2
    assert (cov.covered, cov.total, cov.ratio) == (4, 5, Fraction(4, 5))
    assert cov.percent() == Decimal("80.00")
    assert cov.uncited == 0


def test_decisive_counts_the_cases_whose_result_a_citing_step_decided(demo: Path) -> None:
    """第四条 (the default) decided the first case's result, 第二条 (the B rule) the second;
    第三条's criterion was tried in both (reached) and decided neither."""
    by_clause = {c.clause: c for c in coverage_of(demo).clauses}
    assert by_clause["示例〔2024〕1号 第四条"].decisive == 1
    assert by_clause["示例〔2024〕1号 第二条"].decisive == 1
    assert (
        by_clause["示例〔2024〕1号 第三条"].cases,
        by_clause["示例〔2024〕1号 第三条"].decisive,
    ) == (
        2,
        0,
    )


def test_a_case_that_checks_a_c_result_covers_the_measure(demo: Path) -> None:
    tests = demo.with_name("coverage_demo.tests.yaml")
    tests.write_text(COVERAGE_TESTS + C_CASE, "utf-8")
    cov = coverage_of(demo)
    assert (cov.covered, cov.total, cov.percent()) == (5, 5, Decimal("100.00"))


def test_cli_lists_the_uncovered_clause_and_the_exact_percentage(
    capsys: pytest.CaptureFixture[str], demo: Path
) -> None:
    code, out, err = cli(capsys, "test", demo, "--coverage")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "2 passed, 0 failed"
    assert "clause coverage of pack coverage_demo 1" in out
    (row,) = [line for line in lines if FIFTH in line]
    assert row.split()[:3] == ["no", "0", "0"] and row.endswith("measure.publish")
    assert lines[-1] == "4 of 5 clause(s) covered: 80.00% (1 uncovered)"


@pytest.mark.parametrize(
    ("threshold", "code"),
    [("79.99", 0), ("80", 0), ("80.00", 0), ("80.0000001", 1), ("80.01", 1), ("100", 1)],
)
def test_fail_under_passes_exactly_at_the_coverage_and_fails_just_above(
    capsys: pytest.CaptureFixture[str], demo: Path, threshold: str, code: int
) -> None:
    """``--fail-under 80`` with 4 of 5 clauses covered passes (the boundary is included);
    80 plus any ε fails, with one line naming the pack and both numbers."""
    got, _out, err = cli(capsys, "test", demo, "--coverage", "--fail-under", threshold)
    assert got == code
    if code:
        assert err == (
            f"error: clause coverage of pack coverage_demo 1 ({demo}) is 80.00% (4 of 5 "
            f"clauses), under --fail-under {threshold}\n"
        )
    else:
        assert err == ""


def test_json_report_is_the_whole_standard_output(
    capsys: pytest.CaptureFixture[str], demo: Path
) -> None:
    """With ``--format json`` the cases' lines go to standard error, so the output parses."""
    code, out, err = cli(capsys, "test", demo, "--coverage", "--format", "json")
    assert code == 0
    assert err == "2 passed, 0 failed\n"
    doc = json.loads(out)
    (pack,) = doc["packs"]
    assert pack["pack"] == {"id": "coverage_demo", "version": "1", "file": str(demo)}
    assert (pack["cases"], pack["passed"], pack["covered"], pack["total"]) == (2, 2, 4, 5)
    assert pack["percent"] == 80.0 and doc["fail_under"] is None
    fifth = next(c for c in pack["clauses"] if c["clause"] == FIFTH)
    assert fifth == {
        "clause": FIFTH,
        "covered": False,
        "cases": 0,
        "decisive": 0,
        "cited_by": ["measure.publish"],
    }


@pytest.mark.parametrize("option", [["--fail-under", "50"], ["--format", "json"]])
def test_coverage_options_without_coverage_are_wrong_usage(
    capsys: pytest.CaptureFixture[str], demo: Path, option: list[str]
) -> None:
    code, out, err = cli(capsys, "test", demo, *option)
    assert code == 2 and out == ""
    assert err == f"error: {option[0]} applies to the clause coverage report: add --coverage\n"


def test_a_pack_that_cites_no_clause_meets_only_zero(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A skeleton from ``new`` is all provisional: nothing to cover, and the report says so."""
    assert cli(capsys, "new", "--criteria", "blank", "--dir", tmp_path)[0] == 0
    pack = tmp_path / "blank.yaml"
    code, out, _ = cli(capsys, "test", pack, "--coverage", "--fail-under", "0")
    assert code == 0
    assert out.splitlines()[-1].startswith("0 of 0 clause(s) covered: no clause cited; ")
    code, _, err = cli(capsys, "test", pack, "--coverage", "--fail-under", "50")
    assert code == 1
    assert (
        "is nothing: it cites no clause (every rule is provisional), under --fail-under 50" in err
    )


def test_a_dated_parameter_value_is_covered_when_in_force_and_read(tmp_path: Path) -> None:
    """pack-format.md §5: a value holds from its date; it is reached by a case whose as_of it
    is in force on, through a step that reads the parameter — the later value, never in
    force on any case's date, stays uncovered."""
    pack = COVERAGE_PACK.replace(
        "windows:",
        "parameters:\n  limit:\n    type: int\n    values:\n"
        "      2024-01-01: {value: 3, clause: 第六条}\n"
        "      2030-01-01: {value: 4, clause: 第七条}\nwindows:",
    ).replace("when: violations >= 3", "when: violations >= limit")
    (tmp_path / "coverage_demo.yaml").write_text(pack, "utf-8")
    (tmp_path / "coverage_demo.tests.yaml").write_text(COVERAGE_TESTS, "utf-8")
    by_clause = {c.clause: c for c in coverage_of(tmp_path / "coverage_demo.yaml").clauses}
    assert by_clause["示例〔2024〕1号 第六条"].cited_by == ["parameters.limit (from 2024-01-01)"]
    assert by_clause["示例〔2024〕1号 第六条"].cases == 2
    assert by_clause["示例〔2024〕1号 第七条"].cases == 0


@pytest.mark.parametrize("pack_id", sorted(bundled_ids()))
def test_coverage_of_every_shipped_pack(capsys: pytest.CaptureFixture[str], pack_id: str) -> None:
    """Every bundled pack's tests run with ``--coverage``, in both formats; the numbers agree
    with each other (covered clauses have cases, the percentage is rounded down)."""
    code, out, err = cli(capsys, "test", pack_id, "--coverage", "--format", "json")
    assert code == 0, err
    for pack in json.loads(out)["packs"]:
        covered = [c for c in pack["clauses"] if c["covered"]]
        assert pack["covered"] == len(covered) and pack["total"] == len(pack["clauses"])
        assert all(c["cases"] >= c["decisive"] for c in pack["clauses"])
        assert all(c["cases"] == 0 for c in pack["clauses"] if not c["covered"])
        assert pack["total"] > 0
        exact = Fraction(pack["covered"], pack["total"]) * 100
        assert (
            Decimal(str(pack["percent"])) <= exact < Decimal(str(pack["percent"])) + Decimal("0.01")
        )
    code, out, _ = cli(capsys, "test", pack_id, "--coverage")
    assert code == 0 and "clause(s) covered: " in out


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(min_value=1, max_value=60),
    data=st.data(),
    hundredths=st.integers(min_value=0, max_value=10000),
)
def test_fail_under_compares_the_exact_share(
    total: int, data: st.DataObject, hundredths: int
) -> None:
    """Always: a threshold is met iff covered/total ≥ N/100 exactly, and the percentage shown
    (rounded down) is always met — a number the report prints never fails its own gate."""
    covered = data.draw(st.integers(min_value=0, max_value=total))
    clauses = [ClauseCoverage(f"c{i}", "article", cases=int(i < covered)) for i in range(total)]
    cov = Coverage(_DUMMY, [], 0, 0, clauses, 0)
    threshold = Decimal(hundredths).scaleb(-2)
    assert cov.meets(threshold) == (Fraction(covered * 100, total) >= Fraction(threshold))
    shown = cov.percent()
    assert shown is not None and cov.meets(shown)
    assert shown <= Fraction(covered * 100, total) < shown + Decimal("0.01")


_DUMMY = yc.load_policy(Path(__file__).resolve().parents[1] / "policies" / "zhenjiang.yaml")


# -- gaps and overlaps between dated versions -----------------------------------------------

VERSION = """\
pack:
  id: mini
  name: {{zh: 示例, en: example}}
  jurisdiction: {{name: 示例市}}
  version: "{version}"
  effective:
    from: {start}
{end}  sources:
    - {{id: demo, number: 示例〔2024〕1号, title: 示例, issuer: 示例市医疗保障局}}
windows:
  year: {{title: {{zh: 1年之内}}, type: rolling, length: 1y, provisional: 示例}}
rulesets:
  institution:
    title: {{zh: 机构}}
    applies_to: {{type: institution}}
    facts:
      violations:
        title: {{zh: 违规次数}}
        op: count
        where: kind == 'violation'
        window: year
        provisional: 示例
    grading:
      type: criteria
      grades: [{{label: A, title: {{zh: 好}}}}, {{label: B, title: {{zh: 差}}}}]
      rules:
        - grade: B
          provisional: 示例
          any: [{{id: v, title: {{zh: 有违规}}, when: violations >= 1, provisional: 示例}}]
      default: {{grade: A, provisional: 示例}}
"""
FROM_LINE, TO_LINE = 7, 8


def versions(tmp_path: Path, *periods: tuple[str, str, str | None]) -> Path:
    folder = tmp_path / "versions"
    folder.mkdir()
    for version, start, end in periods:
        to = f"    to: {end}\n" if end else ""
        text = VERSION.format(version=version, start=start, end=to)
        (folder / f"v{version}.yaml").write_text(text, "utf-8")
    return folder


def test_er_er_adjacent_periods_have_no_gap_and_no_overlap(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """2023 ends on 2023-12-31, the day before 2024 starts: every day is one version's."""
    folder = versions(tmp_path, ("2023", "2023-01-01", "2023-12-31"), ("2024", "2024-01-01", None))
    pack = load_policies(folder)
    assert pack.warnings == []
    assert pack.for_as_of(dt.date(2023, 12, 31)).version == "2023"
    assert pack.for_as_of(dt.date(2024, 1, 1)).version == "2024"
    code, _, err = cli(capsys, "validate", folder, "--strict")
    assert (code, err) == (0, "")


def test_er_er_a_one_day_gap_is_a_located_warning(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """2024 starts on 2024-01-02: 2024-01-01 is no version's. The warning is at 2023's
    ``effective.to`` and names 2024's ``from`` line; a run on that day stops, the day before
    and the day after each have their version."""
    folder = versions(
        tmp_path, ("2023", "2023-01-01", "2023-12-31"), ("2024", "2024-01-02", "2024-12-31")
    )
    pack = load_policies(folder)
    (gap,) = pack.warnings
    assert gap.code == "pack.versions.gap"
    assert gap.location.file == str(folder / "v2023.yaml")
    assert (gap.location.line, gap.location.path) == (TO_LINE, "pack.effective.to")
    assert "covers 2024-01-01 .. 2024-01-01 (1 day)" in gap.message
    assert f"'2024' ({folder / 'v2024.yaml'}:{FROM_LINE}) starts 2024-01-02" in gap.message
    assert pack.for_as_of(dt.date(2023, 12, 31)).version == "2023"
    assert pack.for_as_of(dt.date(2024, 1, 2)).version == "2024"
    with pytest.raises(EvaluationError) as info:
        pack.for_as_of(dt.date(2024, 1, 1))
    assert info.value.problems[0].code == "eval.no-version"

    code, out, err = cli(capsys, "validate", folder)
    assert code == 0 and out.count(": ok — pack mini") == 2
    assert err == f"warning: {gap}\n"
    code, _, err = cli(capsys, "validate", folder, "--strict")
    assert code == 1 and err == f"error: {gap}\n"


def test_er_er_a_one_day_overlap_is_a_located_error(tmp_path: Path) -> None:
    """2024 starts on 2023-12-31, 2023's last day: that day has two tables."""
    folder = versions(
        tmp_path, ("2023", "2023-01-01", "2023-12-31"), ("2024", "2023-12-31", "2024-12-31")
    )
    with pytest.raises(PackError) as info:
        load_policies(folder)
    (p,) = info.value.problems
    assert p.code == "pack.versions.overlap"
    assert p.location.file == str(folder / "v2024.yaml")
    assert (p.location.line, p.location.path) == (FROM_LINE, "pack.effective")
    assert "both claim 2023-12-31 .. 2023-12-31, 1 day" in p.message
    assert f"versions '2023' ({folder / 'v2023.yaml'}:{FROM_LINE}) and '2024' overlap" in p.message


def test_er_er_an_open_ended_last_version_leaves_no_gap(tmp_path: Path) -> None:
    folder = versions(tmp_path, ("2023", "2023-01-01", "2023-12-31"), ("2024", "2024-01-01", None))
    pack = load_policies(folder)
    assert pack.warnings == []
    assert pack.for_as_of(dt.date(2031, 6, 30)).version == "2024"


def test_er_er_an_open_ended_first_version_overlaps_every_later_one(tmp_path: Path) -> None:
    """Pairs are checked, not only neighbours: 2023 (open) overlaps 2024 and 2025, and 2024
    (open) overlaps 2025 — three errors, each at the later version."""
    folder = versions(
        tmp_path,
        ("2023", "2023-01-01", None),
        ("2024", "2024-01-01", None),
        ("2025", "2025-01-01", None),
    )
    with pytest.raises(PackError) as info:
        load_policies(folder)
    pairs = [
        (p.message.split("'")[1], p.message.split("'")[3], Path(str(p.location.file)).name)
        for p in info.value.problems
    ]
    assert pairs == [
        ("2023", "2024", "v2024.yaml"),
        ("2023", "2025", "v2025.yaml"),
        ("2024", "2025", "v2025.yaml"),
    ]
    assert all("open" in p.message for p in info.value.problems)


def test_er_er_a_gap_between_the_versions_a_manifest_names_is_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    versions(tmp_path, ("2023", "2023-01-01", "2023-10-31"), ("2024", "2024-01-01", "2024-12-31"))
    manifest = tmp_path / "mini.yaml"
    manifest.write_text("manifest:\n  id: mini\n  folder: versions\n", "utf-8")
    code, out, err = cli(capsys, "validate", manifest)
    assert code == 0 and out.startswith(f"{manifest}: ok — manifest of pack mini")
    assert "covers 2023-11-01 .. 2023-12-31 (61 days)" in err and err.startswith("warning: ")
    code, out, err = cli(capsys, "validate", manifest, "--strict")
    assert code == 1 and out == "" and err.startswith("error: ")
