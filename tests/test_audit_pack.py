"""A broken audit pack fails at load time, located: the file, line, column, path and a stable
code (issue 12; design principle "fail loudly at load time, never silently at run time").

Each test copies the bundled pack ``policies/huzhou_audit`` (湖政办函〔2019〕14号
四(三)一 / 四(三)二 / 四(三)四) to a temporary folder and breaks it in one place: a key, a
rule against its logic type, or a knowledge table (审核知识点, CSV). The expected line is
found in the broken text, so the tests hold while the pack grows. Every case also goes
through the command line once: ``yibao-credit audit`` prints each problem as
``file:line:col: path: message [code]`` on standard error and exits 1.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from yibao_credit.audit.compile import load_audit_pack
from yibao_credit.audit.logic import LOGIC_TYPES
from yibao_credit.audit.run import audit_files
from yibao_credit.cli.main import main
from yibao_credit.errors import PackError, Problem, RecordError

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = ROOT / "policies" / "huzhou_audit"
CLAIMS = ROOT / "examples" / "huzhou" / "claims"
PACK = load_audit_pack("huzhou_audit")
TABLES = ", ".join(PACK.model.knowledge)
RULE_IDS = ", ".join(r.rule.id for r in PACK.rules)


@dataclass(frozen=True)
class Expect:
    """One problem as it should be reported."""

    code: str
    at: str | int
    """The problem's line: a number, or a text whose first line in the broken file it is."""
    column: int | None
    path: str | None
    message: str
    file: str | None = None
    """The file, relative to the pack's folder, when it is not the file broken."""


def copy_pack(tmp_path: Path) -> Path:
    folder = tmp_path / "pack"
    shutil.copytree(BUNDLED, folder)
    return folder


def replace(folder: Path, file: str, old: str, new: str) -> None:
    path = folder / file
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not once in {file}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def line_of(folder: Path, file: str, at: str | int) -> int:
    if isinstance(at, int):
        return at
    text = (folder / file).read_text(encoding="utf-8")
    assert at in text, at
    return text[: text.index(at)].count("\n") + 1


def load_problems(folder: Path) -> list[Problem]:
    with pytest.raises(PackError) as caught:
        load_audit_pack(folder)
    return caught.value.problems


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def audit_argv(pack: str | Path, *more: str) -> list[str | Path]:
    return [
        "audit",
        pack,
        "--claims",
        CLAIMS / "claims.jsonl",
        "--lines",
        CLAIMS / "lines.jsonl",
        "--insured",
        CLAIMS / "insured.jsonl",
        "--from",
        "2024-01-01",
        "--to",
        "2024-12-31",
        *more,
    ]


def check(
    capsys: pytest.CaptureFixture[str], folder: Path, file: str, expected: list[Expect]
) -> list[Problem]:
    """The pack's problems are exactly those expected, through the library and the CLI."""
    problems = load_problems(folder)
    want = []
    for e in expected:
        where = e.file or file
        want.append((e.code, str(folder / where), line_of(folder, where, e.at), e.column, e.path))
    got = [
        (p.code, p.location.file, p.location.line, p.location.column, p.location.path)
        for p in problems
    ]
    assert got == want
    assert [p.message for p in problems] == [e.message for e in expected]
    code, out, err = cli(capsys, *audit_argv(folder))
    lines = []
    for e, (_, where, line, column, path) in zip(expected, want, strict=True):
        head = f"{where}:{line}" + (f":{column}" if column is not None else "")
        head += f": {path}" if path is not None else ""
        lines.append(f"error: {head}: {e.message} [{e.code}]")
    assert (code, out, err.splitlines()) == (1, "", lines)
    return problems


# -- audit.yaml -------------------------------------------------------------------------------

YAML_CASES: dict[str, tuple[str, str, list[Expect]]] = {
    "unknown key, with a suggestion": (
        '  version: "2019.1-provisional"\n',
        '  version: "2019.1-provisional"\n  verison: "2"\n',
        [
            Expect(
                "pack.schema.extra_forbidden",
                '  verison: "2"',
                3,
                "audit.verison",
                "unknown key 'verison' (did you mean 'version'?)",
            )
        ],
    ),
    "unknown key in a rule, with a suggestion": (
        "    definition:\n      zh: 限定性别使用",
        "    definiton:\n      zh: 限定性别使用",
        [
            Expect(
                "pack.schema.extra_forbidden",
                "    definiton:",
                5,
                "rules[0].definiton",
                "unknown key 'definiton' (did you mean 'definition'?)",
            )
        ],
    ),
    "unknown logic type, with a suggestion": (
        "    logic: sex_limited\n",
        "    logic: sex_limted\n",
        [
            Expect(
                "audit.rule.logic",
                "    logic: sex_limted",
                12,
                "rules[0].logic",
                "unknown logic type 'sex_limted' (did you mean 'sex_limited'?); known: "
                + ", ".join(LOGIC_TYPES),
            )
        ],
    ),
    "a span the logic type does not take": (
        "    logic: sex_limited\n    result_type: definite\n    span: visit\n",
        "    logic: sex_limited\n    result_type: definite\n    span: month\n",
        [
            Expect(
                "audit.rule.span",
                "    span: month",
                11,
                "rules[0].span",
                "a sex_limited rule takes the span visit or stay, not 'month'",
            )
        ],
    ),
    "the span stay outside inpatient claims": (
        "    span: visit\n    scope: {settings: [outpatient, inpatient, pharmacy]}\n"
        "    knowledge: sex_items",
        "    span: stay\n    scope: {settings: [outpatient, inpatient, pharmacy]}\n"
        "    knowledge: sex_items",
        [
            Expect(
                "audit.rule.settings",
                "    scope: {settings: [outpatient, inpatient, pharmacy]}\n"
                "    knowledge: sex_items",
                23,
                "rules[0].scope.settings",
                "the span stay (当次住院) is for inpatient claims: settings: [inpatient]",
            )
        ],
    ),
    "a setting the logic type does not apply to (readmission of outpatients)": (
        "    scope: {settings: [inpatient]}\n    parameters:\n      days:",
        "    scope: {settings: [outpatient, inpatient]}\n    parameters:\n      days:",
        [
            Expect(
                "audit.rule.settings",
                "    scope: {settings: [outpatient, inpatient]}\n    parameters:\n      days:",
                24,
                "rules[7].scope.settings[0]",
                "a readmission rule applies to inpatient claims, not outpatient",
            )
        ],
    ),
    "a parameter missing": (
        "      min_peers: {value: 2, provisional: *peer}\n",
        "",
        [
            Expect(
                "audit.rule.parameter-missing",
                "      metric: {value: diagnosis_share",
                7,
                "rules[11].parameters",
                "a peer_outlier rule needs the parameter 'min_peers' (fewest peers), with its "
                "clause or provisional",
            )
        ],
    ),
    "an unknown parameter, with a suggestion": (
        "      min_peers: {value: 2, provisional: *peer}\n",
        "      min_peers: {value: 2, provisional: *peer}\n"
        "      min_peer: {value: 2, provisional: *peer}\n",
        [
            Expect(
                "audit.rule.parameter-unknown",
                "      min_peer: {value: 2",
                7,
                "rules[11].parameters.min_peer",
                "a peer_outlier rule takes no parameter 'min_peer' (did you mean 'min_peers'?); "
                "it takes: metric, factor, min_cases, min_peers, peers_by",
            )
        ],
    ),
    "a parameter misspelt: missing and unknown": (
        "      min_overlap_days:\n        value: 7\n",
        "      min_overlap_dayz:\n        value: 7\n",
        [
            Expect(
                "audit.rule.parameter-missing",
                "      min_overlap_dayz:",
                7,
                "rules[6].parameters",
                "a duplicate_medication rule needs the parameter 'min_overlap_days' (days of "
                "overlap), with its clause or provisional",
            ),
            Expect(
                "audit.rule.parameter-unknown",
                "      min_overlap_dayz:",
                7,
                "rules[6].parameters.min_overlap_dayz",
                "a duplicate_medication rule takes no parameter 'min_overlap_dayz' (did you mean "
                "'min_overlap_days'?); it takes: min_overlap_days",
            ),
        ],
    ),
    "a parameter of the wrong type: text for a whole number": (
        "      min_idle_days:\n        value: 3\n",
        "      min_idle_days:\n        value: three\n",
        [
            Expect(
                "audit.rule.parameter",
                "        value: three",
                16,
                "rules[8].parameters.min_idle_days.value",
                "min_idle_days (idle days) is a whole number, not 'three'",
            )
        ],
    ),
    "a parameter of the wrong type: a number for true or false": (
        "      same_institution:\n        value: true\n",
        "      same_institution:\n        value: 1\n",
        [
            Expect(
                "audit.rule.parameter",
                "        value: 1\n",
                16,
                "rules[7].parameters.same_institution.value",
                "same_institution (at the same institution) is true or false",
            )
        ],
    ),
    "a parameter of the wrong type: not one of the choices": (
        "      diagnosis_match:\n        value: any\n",
        "      diagnosis_match:\n        value: all\n",
        [
            Expect(
                "audit.rule.parameter",
                "        value: all",
                16,
                "rules[7].parameters.diagnosis_match.value",
                "diagnosis_match (how diagnoses must match) is one of any, category, code, "
                "not 'all'",
            )
        ],
    ),
    "a parameter of the wrong type: more than four decimals": (
        "      factor:\n        value: 3\n",
        "      factor:\n        value: 3.12345\n",
        [
            Expect(
                "audit.rule.parameter",
                "        value: 3.12345",
                16,
                "rules[11].parameters.factor.value",
                "factor is a number with at most four decimals, not 3.12345",
            )
        ],
    ),
    "a parameter below its minimum": (
        "      min_idle_days:\n        value: 3\n",
        "      min_idle_days:\n        value: 0\n",
        [
            Expect(
                "audit.rule.parameter",
                "        value: 0",
                16,
                "rules[8].parameters.min_idle_days.value",
                "min_idle_days (idle days) must be at least 1, got 0",
            )
        ],
    ),
    "a decimal parameter below its minimum": (
        "      factor:\n        value: 3\n",
        "      factor:\n        value: 0.5\n",
        [
            Expect(
                "audit.rule.parameter",
                "        value: 0.5",
                16,
                "rules[11].parameters.factor.value",
                "factor must be at least 1, got 0.5",
            )
        ],
    ),
    "a knowledge table missing": (
        "    knowledge: sex_items\n",
        "",
        [
            Expect(
                "audit.rule.knowledge-missing",
                "  - id: HZA01",
                5,
                "rules[0]",
                "a sex_limited rule reads a knowledge table with the columns item_code (code), "
                "sex (enum): name it in knowledge:",
            )
        ],
    ),
    "an unknown knowledge table, with a suggestion": (
        "    knowledge: sex_items\n",
        "    knowledge: sex_itemz\n",
        [
            Expect(
                "audit.rule.knowledge-unknown",
                "    knowledge: sex_itemz",
                16,
                "rules[0].knowledge",
                f"no knowledge table 'sex_itemz' (did you mean 'sex_items'?); the pack declares: "
                f"{TABLES}",
            )
        ],
    ),
    "a knowledge table lacking a column the logic reads": (
        "    knowledge: sex_items\n",
        "    knowledge: bed_items\n",
        [
            Expect(
                "audit.rule.knowledge-columns",
                "    knowledge: bed_items\n    clause: 四(三)一",
                16,
                "rules[0].knowledge",
                "a sex_limited rule reads the column 'sex' (enum), which knowledge table "
                "'bed_items' does not declare",
            )
        ],
    ),
    "a knowledge column of the wrong type": (
        "      max_quantity: {type: decimal, min: 0}\n",
        "      max_quantity: {type: text}\n",
        [
            Expect(
                "audit.rule.knowledge-columns",
                "    knowledge: daily_quantity",
                16,
                "rules[3].knowledge",
                "a quantity_limit rule reads 'max_quantity' as decimal; knowledge table "
                "'daily_quantity' declares it text",
            )
        ],
    ),
    "a knowledge table given to a logic type that reads none": (
        "    logic: readmission\n",
        "    logic: readmission\n    knowledge: bed_items\n",
        [
            Expect(
                "audit.rule.knowledge-unused",
                "    knowledge: bed_items\n    result_type: suspicious",
                16,
                "rules[7].knowledge",
                "a readmission rule reads no knowledge table",
            )
        ],
    ),
    "a rule id used twice": (
        "  - id: HZA02\n",
        "  - id: HZA01\n",
        [
            Expect(
                "audit.rule.duplicate-id",
                "  - id: HZA01\n    title: {zh: 限年龄项目",
                9,
                "rules[1].id",
                "rule id 'HZA01' is used twice (first as rule 1)",
            )
        ],
    ),
    "a rule with neither clause nor provisional": (
        "    knowledge: level_items\n    clause: 四(三)一\n    provisional: *result_type\n",
        "    knowledge: level_items\n",
        [
            Expect(
                "pack.schema.value_error",
                "  - id: HZA03",
                5,
                "rules[2]",
                "needs 'clause' (the published clause it encodes) or 'provisional' (which local "
                "decision must confirm it)",
            )
        ],
    ),
}


@pytest.mark.parametrize("case", list(YAML_CASES))
def test_a_broken_audit_yaml_is_a_located_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    """The pack is checked against the schema and each rule against its logic type (span,
    settings, parameters present / known / typed / within bounds, knowledge table declared with
    the columns it reads); every problem names its place in audit.yaml."""
    old, new, expected = YAML_CASES[case]
    folder = copy_pack(tmp_path)
    replace(folder, "audit.yaml", old, new)
    check(capsys, folder, "audit.yaml", expected)


def test_all_the_problems_of_a_pack_are_reported_at_once(tmp_path: Path) -> None:
    """Every rule is checked, and every table read, before the pack is refused."""
    folder = copy_pack(tmp_path)
    replace(folder, "audit.yaml", "    logic: sex_limited\n", "    logic: sex_limted\n")
    replace(folder, "audit.yaml", "        value: 15\n", "        value: -1\n")
    replace(folder, "knowledge/bed_items.csv", "001102000010000,", "001102000010000,x,")
    assert [p.code for p in load_problems(folder)] == [
        "audit.rule.logic",
        "audit.rule.parameter",
        "audit.knowledge.cells",
    ]


# -- knowledge tables -------------------------------------------------------------------------

SEX = "knowledge/sex_limited_items.csv"
AGE = "knowledge/age_limited_items.csv"
QUANTITY = "knowledge/quantity_limits.csv"

CSV_CASES: dict[str, tuple[str, str, str, list[Expect]]] = {
    "a column missing from the header": (
        SEX,
        "item_code,sex,name\n",
        "item_code,name\n",
        [
            Expect(
                "audit.knowledge.column",
                1,
                None,
                "sex",
                "the header has no column 'sex' (declared in the pack)",
            )
        ],
    ),
    "an unknown column, with a suggestion": (
        SEX,
        "item_code,sex,name\n",
        "item_code,sexx,name\n",
        [
            Expect(
                "audit.knowledge.column",
                1,
                None,
                "sexx",
                "column 'sexx' is not declared for knowledge table 'sex_items' (did you mean "
                "'sex'?)",
            ),
            Expect(
                "audit.knowledge.column",
                1,
                None,
                "sex",
                "the header has no column 'sex' (declared in the pack)",
            ),
        ],
    ),
    "an empty required cell": (
        SEX,
        "270800001000000,M,",
        "270800001000000,,",
        [
            Expect(
                "audit.knowledge.missing",
                "270800001000000,,",
                None,
                "sex",
                "empty: this column is required",
            )
        ],
    ),
    "a value not among an enum's choices": (
        SEX,
        "270800001000000,M,",
        "270800001000000,m,",
        [
            Expect(
                "audit.knowledge.value",
                "270800001000000,m,",
                None,
                "sex",
                "unknown value 'm': one of M, F",
            )
        ],
    ),
    "a code with spaces around it": (
        SEX,
        "270800001000000,M,",
        " 270800001000000,M,",
        [
            Expect(
                "audit.knowledge.value",
                " 270800001000000,M,",
                None,
                "item_code",
                "' 270800001000000' has spaces around it",
            )
        ],
    ),
    "a bad whole number": (
        AGE,
        "340200001000000,,14,",
        "340200001000000,,14.5,",
        [
            Expect(
                "audit.knowledge.value",
                "340200001000000,,14.5,",
                None,
                "max_age",
                "'14.5' is not a whole number",
            )
        ],
    ),
    "a whole number below the column's minimum": (
        AGE,
        "XN06BAA001A001010100101,6,,",
        "XN06BAA001A001010100101,-6,,",
        [
            Expect(
                "audit.knowledge.value",
                "XN06BAA001A001010100101,-6,,",
                None,
                "min_age",
                "must be at least 0, got -6",
            )
        ],
    ),
    "a bad decimal": (
        QUANTITY,
        "120400001000000,4,",
        "120400001000000,4.00001,",
        [
            Expect(
                "audit.knowledge.value",
                "120400001000000,4.00001,",
                None,
                "max_quantity",
                "'4.00001' is not a decimal number with at most four decimals",
            )
        ],
    ),
    "a duplicate key": (
        SEX,
        "270800001000000,M,",
        "311000005000000,M,",
        [
            Expect(
                "audit.knowledge.duplicate",
                3,
                None,
                "item_code",
                "duplicate key item_code=311000005000000 (first on line 2)",
            )
        ],
    ),
    "a duplicate pair key": (
        "knowledge/exclusive_items.csv",
        "120400001000000,120400003000000,",
        "110200001000000,001101000010000,",
        [
            Expect(
                "audit.knowledge.duplicate",
                3,
                None,
                "item_a",
                "duplicate key item_a=110200001000000, item_b=001101000010000 (first on line 2)",
            )
        ],
    ),
    "a blank line": (
        SEX,
        "270800001000000,M,",
        "\n270800001000000,M,",
        [Expect("audit.knowledge.blank", 3, None, None, "a blank line")],
    ),
    "more cells than the header names": (
        SEX,
        "270800001000000,M,",
        "270800001000000,M,x,",
        [Expect("audit.knowledge.cells", 3, None, None, "4 cells, the header names 3")],
    ),
    "fewer cells than the header names": (
        SEX,
        "270800001000000,M,前列腺特异性抗原测定",
        "270800001000000,M",
        [Expect("audit.knowledge.cells", 3, None, None, "2 cells, the header names 3")],
    ),
}


@pytest.mark.parametrize("case", list(CSV_CASES))
def test_a_broken_knowledge_table_is_a_located_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    """四(三)一 (审核知识点): every row of a knowledge table is checked at load against the
    columns the pack declares; a problem names the file, the line and the column."""
    file, old, new, expected = CSV_CASES[case]
    folder = copy_pack(tmp_path)
    replace(folder, file, old, new)
    check(capsys, folder, file, expected)


def _one_problem(folder: Path) -> Problem:
    problems = load_problems(folder)
    assert len(problems) == 1, problems
    return problems[0]


def test_a_knowledge_table_not_in_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A table saved as GBK is refused, at the line of the first byte that is not UTF-8."""
    folder = copy_pack(tmp_path)
    path = folder / SEX
    path.write_bytes("item_code,sex,name\n311000005000000,M,前列腺按摩\n".encode("gbk"))
    problem = _one_problem(folder)
    assert (problem.code, problem.location.file, problem.location.line) == (
        "audit.knowledge.encoding",
        str(path),
        2,
    )
    code, _, err = cli(capsys, *audit_argv(folder))
    assert (code, err) == (
        1,
        f"error: {path}:2: the file is not UTF-8 [audit.knowledge.encoding]\n",
    )


def test_an_empty_knowledge_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A table with a header and no rows would let its rule find nothing, silently: refused."""
    folder = copy_pack(tmp_path)
    path = folder / SEX
    path.write_text("item_code,sex,name\n", encoding="utf-8")
    code, _, err = cli(capsys, *audit_argv(folder))
    assert (code, err) == (
        1,
        f"error: {path}:1: knowledge table 'sex_items' has no rows: a rule reading it could "
        "never find anything [audit.knowledge.empty]\n",
    )
    path.write_text("", encoding="utf-8")
    problem = _one_problem(folder)
    assert (problem.code, problem.location.line, problem.message) == (
        "audit.knowledge.header",
        1,
        "the file has no header row",
    )


def test_a_missing_knowledge_file_is_located_where_it_is_declared(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pack names a file that is not there: located at its ``file:`` in audit.yaml."""
    folder = copy_pack(tmp_path)
    (folder / SEX).unlink()
    yaml = folder / "audit.yaml"
    line = line_of(folder, "audit.yaml", "    file: knowledge/sex_limited_items.csv")
    code, _, err = cli(capsys, *audit_argv(folder))
    assert (code, err) == (
        1,
        f"error: {yaml}:{line}:11: knowledge.sex_items.file: knowledge table 'sex_items': "
        f"cannot read {folder / SEX}: No such file or directory [audit.knowledge.file]\n",
    )


# -- the bundled pack and the command ---------------------------------------------------------


def test_the_bundled_pack_loads_clean() -> None:
    """huzhou_audit: 14 rules, one per logic type and clause of 四(三)一 / 四(三)二 / 四(三)四,
    every knowledge table read."""
    pack = load_audit_pack("huzhou_audit")
    assert pack.id == "huzhou_audit"
    assert [r.rule.id for r in pack.rules] == [f"HZA{i:02d}" for i in range(1, 15)]
    assert {r.logic.name for r in pack.rules} == set(LOGIC_TYPES)
    assert sorted(pack.knowledge) == sorted(pack.model.knowledge)
    assert all(k.rows for k in pack.knowledge.values())
    assert pack.rule("HZA14").rule.clause == "四(三)四"
    assert load_audit_pack(BUNDLED).sha256 == pack.sha256
    assert load_audit_pack(BUNDLED / "audit.yaml").sha256 == pack.sha256


def test_an_unknown_pack_name_suggests_the_bundled_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, *audit_argv("huzhou_audt"))
    assert code == 1
    assert "'huzhou_audt' is neither an audit pack folder" in err
    assert "(did you mean 'huzhou_audit'?)" in err
    assert err.rstrip().endswith("[audit.pack.unknown]")


def test_audit_sql_prints_the_program(capsys: pytest.CaptureFixture[str]) -> None:
    """``--sql`` prints the run's statements (the base views, then one table of hits per rule
    chosen) without reading the claims."""
    argv = ["audit", "huzhou_audit", "--claims", "none.jsonl", "--lines", "none.jsonl"]
    argv += ["--insured", "none.jsonl", "--from", "2024-03-01", "--to", "2024-03-31"]
    code, out, err = cli(capsys, *argv, "--sql", "--rule", "HZA04")
    assert (code, err) == (0, "")
    assert out.startswith("CREATE OR REPLACE TEMPORARY VIEW _a_claims_all AS\n")
    assert "c.date >= DATE '2024-03-01' AS in_period" in out
    assert "WHERE c.date <= DATE '2024-03-31'" in out
    assert [ln for ln in out.splitlines() if ln.startswith("CREATE")] == [
        "CREATE OR REPLACE TEMPORARY VIEW _a_claims_all AS",
        "CREATE OR REPLACE TEMPORARY VIEW _a_lines_all AS",
        "CREATE OR REPLACE TEMPORARY VIEW _a_claims AS",
        "CREATE OR REPLACE TEMPORARY VIEW _a_lines AS",
        "CREATE OR REPLACE TEMPORARY VIEW _a_stock AS",
        "CREATE OR REPLACE TEMPORARY TABLE _h_3 AS",
    ]
    assert "_k_daily_quantity" in out
    assert out.endswith(";\n")
    code, every, _ = cli(capsys, *argv, "--sql")
    assert code == 0
    assert (
        sum(ln.startswith("CREATE OR REPLACE TEMPORARY TABLE _h_") for ln in every.splitlines())
        == 14
    )


def test_audit_without_subjects_for_a_rule_that_needs_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A level rule (四(三)一 限医疗机构级别) reads the institutions' level: without --subjects the
    run is refused, naming the rule, rather than finding nothing; nothing is written."""
    output = tmp_path / "hits.jsonl"
    code, out, err = cli(
        capsys, *audit_argv("huzhou_audit", "--rule", "HZA03", "--output", str(output))
    )
    assert (code, out) == (1, "")
    assert err == (
        "error: rule HZA03 (level_limited) reads the institutions' category or level: give the "
        "subjects file (--subjects), or leave the rule out (--rule) [audit.subjects-required]\n"
    )
    assert not output.exists()
    code, _, err = cli(capsys, *audit_argv("huzhou_audit"))
    assert code == 1
    assert [ln.split(" reads ")[0] for ln in err.splitlines()] == [
        "error: rule HZA03 (level_limited)",
        "error: rule HZA12 (peer_outlier)",
        "error: rule HZA13 (peer_outlier)",
        "error: rule HZA14 (stock_mismatch)",
    ]
    assert err.splitlines()[-1].endswith("[audit.stock-required]")
    with pytest.raises(RecordError) as caught:
        audit_files(
            PACK,
            claims=CLAIMS / "claims.jsonl",
            lines=CLAIMS / "lines.jsonl",
            insured=CLAIMS / "insured.jsonl",
            period_from=dt.date(2024, 1, 1),
            period_to=dt.date(2024, 12, 31),
            rules=["HZA12"],
        )
    assert [p.code for p in caught.value.problems] == ["audit.subjects-required"]


def test_audit_with_an_unknown_rule_id(capsys: pytest.CaptureFixture[str]) -> None:
    """--rule names a rule the pack does not have: refused, with the pack's rules listed."""
    code, out, err = cli(capsys, *audit_argv("huzhou_audit", "--rule", "HZA01", "--rule", "HZA99"))
    assert (code, out) == (1, "")
    assert err == (
        f"error: no rule 'HZA99' in audit pack 'huzhou_audit'; its rules: {RULE_IDS} "
        "[audit.rule.unknown]\n"
    )


def test_validate_checks_an_audit_pack_by_id_folder_or_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``validate`` takes an audit pack as it takes a credit pack: ok with its rules, tables
    and provisional values (四(三) prints no threshold: every one is listed), or exit 1 with
    the located errors."""
    code, out, err = cli(capsys, "validate", "huzhou_audit", BUNDLED, BUNDLED / "audit.yaml")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert len(lines) == 3
    assert all(
        "ok — audit pack huzhou_audit 2019.1-provisional, 14 rule(s), 8 knowledge" in ln
        for ln in lines
    )
    code, out, _ = cli(capsys, "validate", "huzhou_audit", "--provisional")
    assert code == 0
    listed = out.splitlines()[1:]
    assert listed and all(": provisional: " in ln for ln in listed)
    assert any(": rules[6].parameters.min_overlap_days" in ln for ln in listed)
    broken = tmp_path / "broken"
    shutil.copytree(BUNDLED, broken)
    text = (broken / "audit.yaml").read_text("utf-8")
    (broken / "audit.yaml").write_text(
        text.replace("logic: readmission", "logic: readmision"), "utf-8"
    )
    code, out, err = cli(capsys, "validate", broken)
    assert (code, out) == (1, "")
    assert "unknown logic type 'readmision' (did you mean 'readmission'?)" in err
    assert err.rstrip().endswith("[audit.rule.logic]")
