"""The ``yibao-credit`` command, run on the Zhenjiang example data (镇医保〔2024〕82号).

design.md, "Data contract": ``yibao-credit evaluate POLICY --subjects FILE --events FILE
--as-of YYYY-MM-DD [--format jsonl|csv|table] [--lang zh|en] [--output FILE]`` writes one result
per subject. Principle 4: a broken pack or record is an error naming the file and line (exit
1); wrong usage is exit 2. Principle 5: the same pack, records and ``as_of`` give
byte-identical output, whatever the order of the input.

Most tests call ``yibao_credit.cli.main([...])`` and read what it printed through ``capsys``;
a few run the installed ``yibao-credit`` script in a subprocess, as another system would.
Expected outcomes come from examples/zhenjiang/README.md, where each subject's result is worked
out from the clause it exercises.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import yibao_credit as yc
from yibao_credit.cli.main import main
from yibao_credit.render.results import CSV_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / "policies" / "zhenjiang.yaml"
TESTS_FILE = ROOT / "policies" / "zhenjiang.tests.yaml"
EXAMPLES = ROOT / "examples" / "zhenjiang"
SUBJECTS = EXAMPLES / "subjects.jsonl"
EVENTS = EXAMPLES / "events.jsonl"
SUBJECTS_CSV = EXAMPLES / "subjects.csv"
EVENTS_CSV = EXAMPLES / "events.csv"
AS_OF = "2024-12-31"
DOC = "镇医保〔2024〕82号"

CONTRACT_KEYS = [
    "subject_id",
    "status",
    "grade",
    "score",
    "exclusion",
    "policy",
    "as_of",
    "trace",
    "measures",
]
"""design.md, "Data contract": what a JSON result has at least."""
STEP_KEYS = ["step", "outcome", "inputs", "evidence", "clause"]
"""design.md: each trace step has at least these."""

EXPECTED = {
    "ZJH001": ("graded", "★★★", None),
    "ZJH002": ("graded", "★★", None),
    "ZJH003": ("graded", "★★★", None),
    "ZJH004": ("graded", "★", None),
    "ZJH007": ("graded", "★★", None),
    "ZJH009": ("excluded", None, "licence"),
    "ZJH010": ("graded", "★★★", None),
    "ZJH011": ("excluded", None, "agreement_under_1y"),
    "ZJC002": ("graded", "★★", None),
    "ZJP002": ("graded", "★★", None),
    "ZJP004": ("graded", "★★", None),
    "ZJP005": ("graded", "★★★", None),
    "ZJL001": ("graded", "★★", None),
    "ZJL002": ("graded", "★★", None),
    "ZJL003": ("graded", "★", None),
    "ZJP204": ("excluded", None, "agreement_under_1y"),
}
"""A sample of examples/zhenjiang/README.md, "Intended outcome of each subject"."""


# -- helpers ---------------------------------------------------------------------------------


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    """Run ``main`` and return (exit code, stdout, stderr)."""
    capsys.readouterr()  # drop anything printed before
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def usage_error(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> str:
    """Run ``main`` expecting argparse to reject the arguments; return what it printed."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    assert info.value.code == 2
    return capsys.readouterr().err


def evaluate_args(
    *extra: str | Path, subjects: Path = SUBJECTS, events: Path = EVENTS
) -> list[Any]:
    return [
        "evaluate",
        PACK,
        "--subjects",
        subjects,
        "--events",
        events,
        "--as-of",
        AS_OF,
        *extra,
    ]


def explain_args(*extra: str | Path) -> list[Any]:
    return [
        "explain",
        PACK,
        "--subjects",
        SUBJECTS,
        "--events",
        EVENTS,
        "--as-of",
        AS_OF,
        *extra,
    ]


def jsonl(text: str) -> list[dict[str, Any]]:
    lines = text.splitlines()
    assert all(line.strip() for line in lines), "no blank lines between results"
    return [json.loads(line) for line in lines]


def subject_ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text(encoding="utf-8").splitlines()]


def lines_of(text: str, needle: str) -> list[int]:
    return [i for i, line in enumerate(text.splitlines(), 1) if needle in line]


def the_line(text: str, needle: str) -> int:
    hits = lines_of(text, needle)
    assert len(hits) == 1, f"{needle!r} is on lines {hits}"
    return hits[0]


def script() -> list[str]:
    """The installed console script (pyproject [project.scripts])."""
    path = shutil.which("yibao-credit")
    assert path is not None, "the yibao-credit script is not installed (pip install -e .)"
    return [path]


def run_script(args: Sequence[str | Path], cwd: Path = ROOT) -> subprocess.CompletedProcess[bytes]:
    env = dict(os.environ, PYTHONUTF8="1")
    return subprocess.run(
        [*script(), *(str(a) for a in args)],
        capture_output=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def policy() -> yc.Policy:
    return yc.load_policy(PACK)


@pytest.fixture(scope="module")
def full_jsonl() -> str:
    """The default evaluate output (jsonl, zh, full trace), computed once."""
    buf_out, buf_err = io.StringIO(), io.StringIO()
    real = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = buf_out, buf_err
    try:
        code = main([str(a) for a in evaluate_args()])
    finally:
        sys.stdout, sys.stderr = real
    assert code == 0, buf_err.getvalue()
    return buf_out.getvalue()


# -- evaluate: jsonl ---------------------------------------------------------------------------


def test_evaluate_jsonl_one_result_per_subject_sorted_by_id(full_jsonl: str) -> None:
    """Data contract: one result per subject; principle 5: sorted by subject id."""
    results = jsonl(full_jsonl)
    ids = [r["subject_id"] for r in results]
    assert ids == sorted(ids)
    assert sorted(ids) == sorted(subject_ids(SUBJECTS))
    assert len(ids) == 42


def test_evaluate_jsonl_carries_every_contract_key(full_jsonl: str, policy: yc.Policy) -> None:
    """design.md, "Data contract": subject_id, status, grade, score, exclusion, policy (id,
    version, sha256), as_of, trace (steps with step, outcome, inputs, evidence, clause),
    measures — in the same key order on every line."""
    results = jsonl(full_jsonl)
    orders = {tuple(r) for r in results}
    assert len(orders) == 1, f"key order differs between lines: {orders}"
    for r in results:
        missing = [k for k in CONTRACT_KEYS if k not in r]
        assert not missing, f"{r['subject_id']}: missing {missing}"
        assert r["status"] in ("graded", "excluded")
        assert r["score"] is None  # a criteria pack has no score
        assert r["as_of"] == AS_OF
        assert r["policy"] == {
            "id": "zhenjiang",
            "version": policy.version,
            "sha256": policy.sha256,
        }
        assert re.fullmatch(r"[0-9a-f]{64}", r["policy"]["sha256"])
        assert isinstance(r["measures"], list)
        assert r["trace"], f"{r['subject_id']}: empty trace"
        for step in r["trace"]:
            assert [k for k in STEP_KEYS if k not in step] == []
            assert isinstance(step["evidence"], list)
            assert isinstance(step["inputs"], dict)


def test_evaluate_jsonl_grades_as_the_example_readme_says(full_jsonl: str) -> None:
    """examples/zhenjiang/README.md: totals ★★★ 11, ★★ 9, ★ 15, excluded 7."""
    results = {r["subject_id"]: r for r in jsonl(full_jsonl)}
    for sid, (status, grade, exclusion) in EXPECTED.items():
        r = results[sid]
        assert (r["status"], r["grade"], r["exclusion"]) == (status, grade, exclusion), sid
    grades = [r["grade"] for r in results.values()]
    assert grades.count("★★★") == 11
    assert grades.count("★★") == 9
    assert grades.count("★") == 15
    assert sum(r["status"] == "excluded" for r in results.values()) == 7
    excluded = [r for r in results.values() if r["status"] == "excluded"]
    assert all(r["grade"] is None and r["measures"] == [] for r in excluded)


def test_evaluate_jsonl_cites_the_clause_of_the_decisive_step(full_jsonl: str) -> None:
    """ZJH002 (violation on 2024-01-01): ★★ under 三(一)2(1), evidence ZJE0001."""
    r = next(r for r in jsonl(full_jsonl) if r["subject_id"] == "ZJH002")
    decisive = [s for s in r["trace"] if s.get("decisive")]
    assert [s["step"] for s in decisive] == ["grade.★★"]
    assert decisive[0]["evidence"] == ["ZJE0001"]
    assert decisive[0]["clause"] == f"{DOC} 三(一)2"
    criterion = next(s for s in r["trace"] if s["step"] == "criterion.one_violation")
    assert criterion["outcome"] is True
    assert criterion["clause"] == f"{DOC} 三(一)2(1)"
    assert criterion["evidence"] == ["ZJE0001"]


def test_evaluate_warns_on_stderr_about_an_event_after_as_of(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """README "The two warnings": ZJE0026 (2025-01-06) is after as_of, line 26 of the JSONL
    file (27 of the CSV file, after its header); it is reported, not counted, not an error."""
    code, out, err = cli(capsys, *evaluate_args())
    assert code == 0
    pattern = (
        rf"^warning: {re.escape(str(EVENTS))}:26: .*'ZJE0026' \(2025-01-06\).* "
        r"\[eval\.after-as-of\]$"
    )
    assert re.search(pattern, err, re.M), err
    assert "warning" not in out
    zjp005 = next(r for r in jsonl(out) if r["subject_id"] == "ZJP005")
    assert zjp005["grade"] == "★★★"

    code, _, err = cli(
        capsys, *evaluate_args(subjects=SUBJECTS_CSV, events=EVENTS_CSV), "--format", "csv"
    )
    assert code == 0
    assert re.search(
        rf"^warning: {re.escape(str(EVENTS_CSV))}:27: .*'ZJE0026'.*\[eval\.after-as-of\]$",
        err,
        re.M,
    ), err


def test_evaluate_without_events_after_as_of_gives_no_after_as_of_warning(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """As of 2025-01-31 ZJE0026 is known: no warning, and ZJP005 is ★★ (三(一)2(1))."""
    args = evaluate_args()
    args[args.index(AS_OF)] = "2025-01-31"
    code, out, err = cli(capsys, *args)
    assert code == 0
    assert "eval.after-as-of" not in err
    zjp005 = next(r for r in jsonl(out) if r["subject_id"] == "ZJP005")
    assert zjp005["grade"] == "★★"


# -- evaluate: languages, trace detail, formats, output file ----------------------------------


def test_lang_en_gives_english_titles_and_the_same_results(
    capsys: pytest.CaptureFixture[str], full_jsonl: str
) -> None:
    code, out, _ = cli(capsys, *evaluate_args("--lang", "en"))
    assert code == 0
    en = {r["subject_id"]: r for r in jsonl(out)}
    zh = {r["subject_id"]: r for r in jsonl(full_jsonl)}
    assert list(en) == list(zh)
    for sid in zh:
        for key in ("status", "grade", "exclusion", "policy", "as_of"):
            assert en[sid][key] == zh[sid][key]
        assert [s["step"] for s in en[sid]["trace"]] == [s["step"] for s in zh[sid]["trace"]]
        assert [m["id"] for m in en[sid]["measures"]] == [m["id"] for m in zh[sid]["measures"]]
    fact_en = next(s for s in en["ZJH002"]["trace"] if s["step"] == "fact.violations")
    fact_zh = next(s for s in zh["ZJH002"]["trace"] if s["step"] == "fact.violations")
    assert fact_en["title"] == "violations within 1 year"
    assert fact_zh["title"] == "1年之内违法违规记录次数"
    assert en["ZJH001"]["measures"][0]["title"] == "good record published on official platforms"
    # the clause is the document's own citation in both languages
    assert fact_en["clause"] == fact_zh["clause"] == f"{DOC} 三(一)1(1)"


def test_trace_none_leaves_the_trace_out(
    capsys: pytest.CaptureFixture[str], full_jsonl: str
) -> None:
    code, out, _ = cli(capsys, *evaluate_args("--trace", "none"))
    assert code == 0
    none = jsonl(out)
    full = jsonl(full_jsonl)
    assert all("trace" not in r for r in none)
    for a, b in zip(none, full, strict=True):
        assert a == {k: v for k, v in b.items() if k != "trace"}


def test_trace_decisive_keeps_only_steps_of_the_full_trace(
    capsys: pytest.CaptureFixture[str], full_jsonl: str
) -> None:
    """--trace decisive: a subset of the full trace, in the same order, with the decisive
    steps; ZJL003 is decided by the roll-up band of 三(一)4 四家以上 (band 3)."""
    code, out, _ = cli(capsys, *evaluate_args("--trace", "decisive"))
    assert code == 0
    decisive = {r["subject_id"]: r for r in jsonl(out)}
    full = {r["subject_id"]: r for r in jsonl(full_jsonl)}
    shorter = 0
    for sid, r in decisive.items():
        steps = r["trace"]
        full_steps = full[sid]["trace"]
        assert all(s in full_steps for s in steps), sid
        positions = [full_steps.index(s) for s in steps]
        assert positions == sorted(positions), sid
        assert any(s.get("decisive") for s in steps), sid
        shorter += len(steps) < len(full_steps)
        assert {k: v for k, v in r.items() if k != "trace"} == {
            k: v for k, v in full[sid].items() if k != "trace"
        }
    assert shorter == len(decisive)
    last = [s["step"] for s in decisive["ZJL003"]["trace"] if s.get("decisive")][-1]
    assert last == "rollup.chain_stores_at_one_star.3"
    assert "criterion.fraud" not in [s["step"] for s in decisive["ZJH002"]["trace"]]
    assert "criterion.fraud" in [s["step"] for s in full["ZJH002"]["trace"]]


def test_format_csv_header_and_one_row_per_subject(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, *evaluate_args("--format", "csv"))
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == CSV_COLUMNS
    body = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    ids = [r["subject_id"] for r in body]
    assert ids == sorted(subject_ids(SUBJECTS))
    by_id = {r["subject_id"]: r for r in body}
    for sid, (status, grade, exclusion) in EXPECTED.items():
        assert by_id[sid]["status"] == status
        assert by_id[sid]["grade"] == (grade or "")
        assert by_id[sid]["exclusion"] == (exclusion or "")
        assert by_id[sid]["as_of"] == AS_OF
    assert by_id["ZJH009"]["decided_by"] == "exclusion.licence"
    assert by_id["ZJH009"]["clauses"] == f"{DOC} 三(一)5(4)"
    assert by_id["ZJL003"]["decided_by"].split(";")[-1] == "rollup.chain_stores_at_one_star.3"


def test_format_table_one_line_per_subject_plus_header(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = cli(capsys, *evaluate_args("--format", "table", "--lang", "en"))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "subject_id",
        "name",
        "status",
        "grade",
        "exclusion",
        "decided",
        "by",
    ]
    ids = [line.split()[0] for line in lines[1:]]
    assert ids == sorted(subject_ids(SUBJECTS))
    zjh009 = next(line for line in lines if line.startswith("ZJH009"))
    assert zjh009.split() == [
        "ZJH009",
        "丹阳市示例第二人民医院",
        "excluded",
        "licence",
        "exclusion.licence",
    ]
    zjl001 = next(line for line in lines if line.startswith("ZJL001"))
    assert zjl001.split()[2:] == ["graded", "★★", "rollup.chain_stores_at_one_star.1"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "table"])
def test_output_file_holds_what_stdout_would(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    code, expected, _ = cli(capsys, *evaluate_args("--format", fmt))
    assert code == 0
    target = tmp_path / f"results.{fmt}"
    code, out, err = cli(capsys, *evaluate_args("--format", fmt, "--output", target))
    assert code == 0
    assert out == ""
    assert "eval.after-as-of" in err  # warnings still go to stderr
    assert target.read_bytes() == expected.encode("utf-8")


# -- evaluate: broken input --------------------------------------------------------------------


def test_broken_subjects_file_exits_1_with_file_and_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Principle 4: a record that does not fit is an error naming the file and line.
    2024 has no 30 February."""
    lines = SUBJECTS.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace('"designated_on": "2017-01-01"', '"designated_on": "2024-02-30"')
    assert "2024-02-30" in lines[2]
    subjects = tmp_path / "subjects.jsonl"
    subjects.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = cli(capsys, *evaluate_args(subjects=subjects))
    assert code == 1
    assert out == ""
    assert re.search(
        rf"^error: {re.escape(str(subjects))}:3: designated_on: .*2024-02-30.* "
        r"\[record\.subject\]$",
        err,
        re.M,
    ), err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("edit", "line", "code"),
    [
        pytest.param(("ZJE0005", None), 5, "record.event.json", id="not-json"),
        pytest.param(('"ZJH009"', '"NOSUCH"'), 10, "record.event.unknown-subject", id="subject"),
        pytest.param(('"2024-04-02"', '"2024-04-31"'), 10, "record.event", id="date"),
    ],
)
def test_broken_events_file_exits_1_with_file_and_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    edit: tuple[str, str | None],
    line: int,
    code: str,
) -> None:
    """Principle 4: "no record is ever dropped silently" — line 10 is ZJE0010 (ZJH009's
    suspended licence), line 5 ZJE0005."""
    lines = EVENTS.read_text(encoding="utf-8").splitlines()
    old, new = edit
    if new is None:
        assert old in lines[line - 1]
        lines[line - 1] = "{not json"
    else:
        assert old in lines[line - 1]
        lines[line - 1] = lines[line - 1].replace(old, new)
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    status, out, err = cli(capsys, *evaluate_args(events=events))
    assert status == 1
    assert out == ""
    assert re.search(
        rf"^error: {re.escape(str(events))}:{line}: .*\[{re.escape(code)}\]$", err, re.M
    ), err


def test_broken_pack_exits_1_with_file_line_and_column(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Principle 4: a misspelt key is an error at its line and column, before any record is
    read."""
    text = PACK.read_text(encoding="utf-8")
    old = "        where: kind == 'violation'\n"
    assert text.count(old) == 1
    broken = text.replace(old, "        wehre: kind == 'violation'\n")
    pack = tmp_path / "zhenjiang.yaml"
    pack.write_text(broken, encoding="utf-8")
    line = the_line(broken, "wehre:")
    args = evaluate_args()
    args[1] = pack
    code, out, err = cli(capsys, *args)
    assert code == 1
    assert out == ""
    assert (
        f"error: {pack}:{line}:9: rulesets.institution.facts.violations.wehre: "
        "unknown key 'wehre' (did you mean 'where'?) [pack.schema.extra_forbidden]"
    ) in err.splitlines()


# -- usage errors: exit 2 ----------------------------------------------------------------------

_USAGE = [
    pytest.param([], "required", id="no-command"),
    pytest.param(
        ["evaluate", PACK, "--subjects", SUBJECTS], "--as-of", id="evaluate-without-as-of"
    ),
    pytest.param(
        ["evaluate", PACK, "--subjects", SUBJECTS, "--as-of", "2024-13-01"],
        "'2024-13-01' is not a date",
        id="impossible-as-of",
    ),
    pytest.param(
        ["evaluate", PACK, "--subjects", SUBJECTS, "--as-of", "31/12/2024"],
        "is not a date",
        id="non-iso-as-of",
    ),
    pytest.param(
        ["evaluate", PACK, "--subjects", SUBJECTS, "--as-of", AS_OF, "--format", "xml"],
        "invalid choice: 'xml'",
        id="unknown-format",
    ),
    pytest.param(
        ["evaluate", PACK, "--subjects", SUBJECTS, "--as-of", AS_OF, "--lang", "fr"],
        "invalid choice: 'fr'",
        id="unknown-lang",
    ),
    pytest.param(
        ["evaluate", PACK, "--subjects", SUBJECTS, "--as-of", AS_OF, "--trace", "some"],
        "invalid choice: 'some'",
        id="unknown-trace",
    ),
    pytest.param(
        ["explain", PACK, "--subjects", SUBJECTS, "--as-of", AS_OF],
        "--subject",
        id="explain-without-subject",
    ),
    pytest.param(
        [
            "explain",
            PACK,
            "--subjects",
            SUBJECTS,
            "--as-of",
            AS_OF,
            "--subject",
            "X",
            "--trace",
            "none",
        ],
        "invalid choice: 'none'",
        id="explain-trace-none",
    ),
    pytest.param(["validate"], "required", id="validate-without-pack"),
    pytest.param(["calendar"], "required", id="calendar-without-command"),
    pytest.param(["calendar", "add-working-days", "2024-09-27", "ten"], "invalid int", id="bad-n"),
    pytest.param(["frobnicate"], "invalid choice", id="unknown-command"),
]


@pytest.mark.parametrize(("argv", "fragment"), _USAGE)
def test_wrong_usage_exits_2(
    capsys: pytest.CaptureFixture[str], argv: list[Any], fragment: str
) -> None:
    err = usage_error(capsys, *argv)
    assert "usage: yibao-credit" in err
    assert fragment in err


# -- explain -----------------------------------------------------------------------------------


def test_explain_zh_shows_the_decisive_step_evidence_and_clause(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """ZJH002: one violation on 2024-01-01, the first day of 1年之内 → ★★ (三(一)2(1))."""
    code, out, err = cli(capsys, *explain_args("--subject", "ZJH002"))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "ZJH002  镇江市示例中西医结合医院 — ★★ (信用一般)"
    assert "评测日: 2024-12-31" in lines[1]
    assert "窗口 1年之内: 2024-01-01 .. 2024-12-31" in out
    marked = [line for line in lines if line.startswith("➤")]
    assert len(marked) == 1
    assert marked[0].startswith("➤ 评定 信用一般: ★★")
    assert "证据: ZJE0001" in out
    assert f"依据: {DOC} 三(一)2(1)" in out
    assert "1年之内有违法违规记录且不超过一次: 是" in out
    assert "1年之内有违法违规记录二次及以上: 否" in out
    assert "监管措施:" in out
    assert "解读:" in out  # the pack's readings are shown by default
    assert "eval.after-as-of" in err


def test_explain_en(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, *explain_args("--subject", "ZJH002", "--lang", "en"))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "ZJH002  镇江市示例中西医结合医院 — ★★ (average credit)"
    assert "as of: 2024-12-31" in lines[1]
    assert "one violation within 1 year: yes" in out
    assert "two or more violations within 1 year: no" in out
    assert "evidence: ZJE0001" in out
    assert f"clause: {DOC} 三(一)2(1)" in out
    assert "证据" not in out and "依据" not in out


def test_explain_trace_decisive_leaves_out_criteria_that_did_not_decide(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, full, _ = cli(capsys, *explain_args("--subject", "ZJH002"))
    assert code == 0
    code, short, _ = cli(capsys, *explain_args("--subject", "ZJH002", "--trace", "decisive"))
    assert code == 0
    assert len(short.splitlines()) < len(full.splitlines())
    assert "1年之内有违法违规记录二次及以上" not in short
    assert "1年之内有违法违规记录且不超过一次: 是" in short
    assert "➤ 评定 信用一般: ★★" in short
    assert "证据: ZJE0001" in short


def test_explain_several_subjects(capsys: pytest.CaptureFixture[str]) -> None:
    """ZJH009: an exclusion (三(一)5(4) 暂停) decides before any grade."""
    code, out, _ = cli(capsys, *explain_args("--subject", "ZJH009", "--subject", "ZJH001"))
    assert code == 0
    blocks = [b for b in out.split("\n\n") if b.strip()]
    assert blocks[0].startswith("ZJH009  丹阳市示例第二人民医院 — 不参与评测: licence")
    assert blocks[1].startswith("ZJH001  镇江市示例第一人民医院 — ★★★ (信用优秀)")
    assert "ZJE0010" in blocks[0]


def test_explain_unknown_subject_exits_1_with_a_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = cli(capsys, *explain_args("--subject", "NOPE"))
    assert code == 1
    assert out == ""
    assert "error: subject 'NOPE' is not in the subjects file" in err.splitlines()


def test_explain_subject_no_ruleset_grades(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A subject out of every ruleset's scope is reported as such, not as unknown."""
    subjects = tmp_path / "subjects.jsonl"
    subjects.write_text(
        json.dumps(
            {"id": "I1", "type": "insured", "category": "person", "designated_on": "2015-01-01"}
        )
        + "\n",
        encoding="utf-8",
    )
    code, out, err = cli(
        capsys,
        "explain",
        PACK,
        "--subjects",
        subjects,
        "--as-of",
        AS_OF,
        "--subject",
        "I1",
    )
    assert code == 1
    assert out == ""
    assert "error: subject 'I1' is graded by no ruleset of this pack" in err


# -- validate ----------------------------------------------------------------------------------

_OK = re.compile(
    r"^(?P<path>.+): ok — pack (?P<id>\w+) (?P<version>\S+), (?P<rulesets>\d+) ruleset\(s\), "
    r"(?P<rules>\d+) rules, (?P<provisional>\d+) provisional value\(s\), "
    r"sha256 (?P<sha>[0-9a-f]{64})$"
)


def ok_line(line: str) -> re.Match[str]:
    m = _OK.match(line)
    assert m is not None, line
    return m


def test_validate_prints_an_ok_line_with_the_content_hash(
    capsys: pytest.CaptureFixture[str], policy: yc.Policy
) -> None:
    """Principle 5: a result names the pack id, version and content hash; validate shows it."""
    code, out, err = cli(capsys, "validate", PACK)
    assert code == 0
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == 1
    m = ok_line(lines[0])
    assert m["path"] == str(PACK)
    assert (m["id"], m["version"]) == ("zhenjiang", policy.version)
    assert m["rulesets"] == "1"
    assert m["sha"] == policy.sha256
    assert int(m["provisional"]) == len(policy.provisional())


def test_validate_hash_changes_with_the_pack_text(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    copy = tmp_path / "zhenjiang.yaml"
    copy.write_text(PACK.read_text(encoding="utf-8"), encoding="utf-8")
    _, same, _ = cli(capsys, "validate", copy)
    edited = tmp_path / "edited.yaml"
    edited.write_text(PACK.read_text(encoding="utf-8") + "# a comment\n", encoding="utf-8")
    _, other, _ = cli(capsys, "validate", edited)
    _, original, _ = cli(capsys, "validate", PACK)
    sha = [ok_line(o.splitlines()[0])["sha"] for o in (original, same, other)]
    assert sha[0] == sha[1]
    assert sha[2] != sha[0]


def test_validate_provisional_lists_each_value_with_its_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Principle 2: a value not set by the text is marked provisional; the CLI lists them."""
    text = MINI_PACK.replace(
        "        when: terminated\n        clause: 二(1)\n",
        "        when: terminated\n        provisional: 待市医保局确认\n",
    )
    assert "待市医保局确认" in text
    pack = tmp_path / "mini.yaml"
    pack.write_text(text, encoding="utf-8")
    code, out, _ = cli(capsys, "validate", pack, "--provisional")
    assert code == 0
    lines = out.splitlines()
    assert ok_line(lines[0])["provisional"] == "1"
    m = re.fullmatch(
        rf"  {re.escape(str(pack))}:(\d+): rulesets\.institution\.exclusions\[0\]: "
        r"provisional: 待市医保局确认",
        lines[1],
    )
    assert m is not None, lines[1]
    assert int(m[1]) in (the_line(text, "- id: voluntary"), the_line(text, "待市医保局确认"))
    assert len(lines) == 2
    # without the flag only the summary line
    _, out, _ = cli(capsys, "validate", pack)
    assert len(out.splitlines()) == 1


def test_validate_provisional_on_zhenjiang_matches_the_api(
    capsys: pytest.CaptureFixture[str], policy: yc.Policy
) -> None:
    code, out, _ = cli(capsys, "validate", PACK, "--provisional")
    assert code == 0
    listed = out.splitlines()[1:]
    assert len(listed) == len(policy.provisional())
    for line, value in zip(listed, policy.provisional(), strict=True):
        assert line.startswith(f"  {PACK}:{value.line}: {value.path}: provisional: ")


def test_validate_show_code_prints_the_generated_python(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = cli(capsys, "validate", PACK, "--show-code")
    assert code == 0
    assert "# ruleset institution" in out
    assert "def _make" in out
    source = out.split("# ruleset institution\n", 1)[1]
    compile(source, "<shown>", "exec")  # what is shown is Python, not a summary of it


def test_validate_broken_pack_prints_every_problem(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Principle 4: every compile problem of a file is reported, each located."""
    text = MINI_PACK.replace("when: violations >= 2", "when: violatons >= 2").replace(
        "        - grade: A\n", "        - grade: AA\n"
    )
    pack = tmp_path / "broken.yaml"
    pack.write_text(text, encoding="utf-8")
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(pack)
    problems = info.value.problems
    assert len(problems) == 2
    code, out, err = cli(capsys, "validate", pack)
    assert code == 1
    assert out == ""
    assert err.splitlines() == [f"error: {p}" for p in problems]
    assert f"{pack}:{the_line(text, 'violatons')}:" in err
    assert "undefined name 'violatons'" in err
    assert f"{pack}:{the_line(text, 'grade: AA')}:" in err
    assert "unknown grade 'AA'" in err


def test_validate_several_packs_reports_each(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(MINI_PACK.replace("type: rolling", "type: rollin"), encoding="utf-8")
    code, out, err = cli(capsys, "validate", broken, PACK)
    assert code == 1
    assert ok_line(out.splitlines()[0])["id"] == "zhenjiang"
    assert f"error: {broken}:{the_line(broken.read_text(encoding='utf-8'), 'rollin')}:" in err


# -- test --------------------------------------------------------------------------------------


def test_test_command_runs_the_zhenjiang_cases(capsys: pytest.CaptureFixture[str]) -> None:
    """policies/zhenjiang.tests.yaml: every worked example passes."""
    cases = TESTS_FILE.read_text(encoding="utf-8").count("\n  - name: ")
    assert cases >= 10
    code, out, _ = cli(capsys, "test", PACK)
    assert code == 0
    assert out.splitlines()[-1] == f"{cases} passed, 0 failed"
    code, out, _ = cli(capsys, "test", TESTS_FILE, "-v")
    assert code == 0
    passes = [line for line in out.splitlines() if line.startswith("PASS ")]
    assert len(passes) == cases
    assert passes[0].startswith(
        f"PASS {TESTS_FILE}:{the_line(TESTS_FILE.read_text('utf-8'), '- name: 三(一)1 ')}:"
    )


_CASES = """\
cases:
  - name: 三(一)2(1) one violation within one year gives ★★
    clause: 三(一)2(1)
    as_of: 2024-12-31
    subjects:
      - {id: H1, type: institution, category: hospital, designated_on: 2018-05-01}
    events:
      - {id: v1, subject_id: H1, kind: violation, date: 2024-06-01}
    expect:
      H1: {grade: ★★, decided_by: grade.★★}

  - name: a deliberately wrong expectation
    clause: 三(一)1
    as_of: 2024-12-31
    subjects:
      - {id: H2, type: institution, category: hospital, designated_on: 2018-05-01}
    expect:
      H2: {grade: ★, measures: [key_monitoring]}
"""


def _pack_copy_with_tests(tmp_path: Path, tests_text: str) -> tuple[Path, Path]:
    pack = tmp_path / "copy.yaml"
    pack.write_text(PACK.read_text(encoding="utf-8"), encoding="utf-8")
    tests = tmp_path / "copy.tests.yaml"
    tests.write_text(tests_text, encoding="utf-8")
    return pack, tests


def test_test_command_reports_a_failing_case_with_its_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pack, tests = _pack_copy_with_tests(tmp_path, _CASES)
    code, out, _ = cli(capsys, "test", pack)
    assert code == 1
    lines = out.splitlines()
    line = the_line(_CASES, "- name: a deliberately wrong expectation")
    assert f"FAIL {tests}:{line}: a deliberately wrong expectation" in lines
    assert "     H2: grade is '★★★', expected '★'" in lines
    assert any(x.startswith("     H2: measures are [") for x in lines)
    assert lines[-1] == "1 passed, 1 failed"
    assert not any("三(一)2(1) one violation" in x for x in lines[:-1])  # passing cases are quiet


def test_test_command_mistyped_key_is_a_located_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """OpenFisca's users' complaint: a traceback on a mistyped test key. Here: file:line."""
    text = _CASES.replace("    expect:\n      H1:", "    expcet:\n      H1:")
    pack, tests = _pack_copy_with_tests(tmp_path, text)
    code, out, err = cli(capsys, "test", pack)
    assert code == 1
    assert "Traceback" not in err
    line = the_line(text, "expcet:")
    assert re.search(
        rf"^error: {re.escape(str(tests))}:{line}:5: cases\[0\]\.expcet: unknown key 'expcet'",
        err,
        re.M,
    ), err
    assert "passed" not in out


def test_test_command_mistyped_key_suggests_the_tests_file_key(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = _CASES.replace("    expect:\n      H1:", "    expcet:\n      H1:")
    pack, _ = _pack_copy_with_tests(tmp_path, text)
    code, _, err = cli(capsys, "test", pack)
    assert code == 1
    assert "unknown key 'expcet' (did you mean 'expect'?)" in err


def test_test_command_without_a_tests_file_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pack = tmp_path / "lonely.yaml"
    pack.write_text(PACK.read_text(encoding="utf-8"), encoding="utf-8")
    code, _, err = cli(capsys, "test", pack)
    assert code == 1
    assert f"error: {tmp_path / 'lonely.tests.yaml'}: no tests file" in err


# -- calendar ----------------------------------------------------------------------------------


def test_calendar_add_working_days_across_national_day_2024(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """镇医保〔2024〕82号 三(三)2: 10 working days from notification on Fri 2024-09-27.
    国办发明电〔2023〕7号: 国庆 10-01..10-07 off; Sun 09-29 and Sat 10-12 are working days.
    Counting from the day after (《民法典》第201条): 9-29 1, 9-30 2, 10-8..10-11 3-6,
    10-12 7, 10-14 8, 10-15 9, 10-16 10."""
    code, out, err = cli(capsys, "calendar", "add-working-days", "2024-09-27", "10")
    assert (code, out, err) == (0, "2024-10-16\n", "")


def test_calendar_add_working_days_explain(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "calendar", "add-working-days", "2024-09-27", "10", "--explain")
    assert code == 0
    rows = dict(line.split("  ", 1) for line in out.splitlines())
    days = list(rows)
    assert (days[0], days[-1]) == ("2024-09-27", "2024-10-16")
    assert len(rows) == 20  # every day from the trigger day to the deadline
    assert rows["2024-09-27"] == "trigger day, not counted"
    assert rows["2024-09-28"] == "weekend"
    assert rows["2024-09-29"] == "make-up working day, working day 1/10"
    assert rows["2024-10-01"] == "holiday: 国庆节"
    assert rows["2024-10-07"].startswith("holiday: ")
    assert rows["2024-10-08"] == "working day 3/10"
    assert rows["2024-10-12"] == "make-up working day, working day 7/10"
    assert rows["2024-10-16"] == "working day 10/10"
    counted = [r for r in rows.values() if "working day" in r]
    assert len(counted) == 10


def test_calendar_working_days_between(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "calendar", "working-days", "2024-09-27", "2024-10-16")
    assert (code, out) == (0, "10\n")
    code, out, _ = cli(capsys, "calendar", "working-days", "2024-09-30", "2024-10-07")
    assert (code, out) == (0, "0\n")  # 10-01..10-07 are all off


@pytest.mark.parametrize(
    "argv",
    [
        ["add-working-days", "2030-03-01", "3"],
        ["add-working-days", "2030-03-01", "3", "--explain"],
        ["working-days", "2030-01-01", "2030-02-01"],
    ],
)
def test_calendar_year_not_carried_exits_1(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """design.md: "If the calendar for a year is not yet published, say so; never guess."""
    code, out, err = cli(capsys, "calendar", *argv)
    assert code == 1
    assert out == ""
    assert "no official working-day calendar for 2030" in err
    assert err.rstrip().endswith("[calendar.year-not-published]")
    assert "Traceback" not in err


# -- determinism -------------------------------------------------------------------------------


def _shuffled(src: Path, dest: Path, seed: int) -> Path:
    lines = src.read_text(encoding="utf-8").splitlines()
    header, body = (lines[:1], lines[1:]) if src.suffix == ".csv" else ([], lines)
    rng = random.Random(seed)
    before = list(body)
    while body == before:
        rng.shuffle(body)
    dest.write_text("\n".join(header + body) + "\n", encoding="utf-8")
    return dest


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "table"])
def test_evaluate_twice_gives_identical_bytes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    """Principle 5: same pack, records and as_of → byte-identical output."""
    a, b = tmp_path / "a.out", tmp_path / "b.out"
    assert cli(capsys, *evaluate_args("--format", fmt, "--output", a))[0] == 0
    assert cli(capsys, *evaluate_args("--format", fmt, "--output", b))[0] == 0
    assert a.read_bytes() == b.read_bytes()
    assert a.stat().st_size > 0


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "table"])
@pytest.mark.parametrize("seed", [1, 2])
def test_shuffled_input_gives_identical_bytes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str, seed: int
) -> None:
    """Principle 5: "whatever the order of the input" — shuffled subjects and events files."""
    subjects = _shuffled(SUBJECTS, tmp_path / "subjects.jsonl", seed)
    events = _shuffled(EVENTS, tmp_path / "events.jsonl", seed + 100)
    code, expected, _ = cli(capsys, *evaluate_args("--format", fmt))
    assert code == 0
    code, got, _ = cli(capsys, *evaluate_args("--format", fmt, subjects=subjects, events=events))
    assert code == 0
    assert got.encode("utf-8") == expected.encode("utf-8")


def test_shuffled_csv_input_gives_the_same_bytes_as_jsonl(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, full_jsonl: str
) -> None:
    """examples/zhenjiang/README.md: the CSV files hold the same records as the JSON Lines
    files; shuffled, they still give the same results, byte for byte."""
    subjects = _shuffled(SUBJECTS_CSV, tmp_path / "subjects.csv", 7)
    events = _shuffled(EVENTS_CSV, tmp_path / "events.csv", 8)
    code, got, _ = cli(capsys, *evaluate_args(subjects=subjects, events=events))
    assert code == 0
    assert got == full_jsonl


# -- the installed script ----------------------------------------------------------------------


def test_script_evaluate_matches_main_byte_for_byte(full_jsonl: str) -> None:
    proc = run_script(evaluate_args())
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
    assert proc.stdout == full_jsonl.encode("utf-8")
    assert b"[eval.after-as-of]" in proc.stderr


def test_script_exit_codes(tmp_path: Path) -> None:
    usage = run_script(["evaluate", PACK, "--subjects", SUBJECTS])
    assert usage.returncode == 2
    assert b"--as-of" in usage.stderr
    broken = tmp_path / "subjects.jsonl"
    broken.write_text(
        '{"id": "X", "type": "institution", "designated_on": "2024-02-30"}\n', "utf-8"
    )
    bad = run_script(["evaluate", PACK, "--subjects", broken, "--as-of", AS_OF])
    assert bad.returncode == 1
    assert f"error: {broken}:1: designated_on:".encode() in bad.stderr
    assert bad.stdout == b""
    cal = run_script(["calendar", "add-working-days", "2024-09-27", "10"])
    assert (cal.returncode, cal.stdout) == (0, b"2024-10-16\n")


def test_script_runs_relative_paths_from_the_working_directory() -> None:
    """The command as examples/zhenjiang/README.md prints it, from the repository root."""
    proc = run_script(
        [
            "evaluate",
            "policies/zhenjiang.yaml",
            "--subjects",
            "examples/zhenjiang/subjects.jsonl",
            "--events",
            "examples/zhenjiang/events.jsonl",
            "--as-of",
            AS_OF,
            "--format",
            "table",
        ]
    )
    assert proc.returncode == 0
    text = proc.stdout.decode("utf-8")
    assert len(text.splitlines()) == 43
    assert b"warning: examples/zhenjiang/events.jsonl:26: " in proc.stderr, proc.stderr.decode(
        "utf-8", "replace"
    )


# -- a small pack of a made-up document, for validate --provisional and broken packs ----------

MINI_PACK = """\
pack:
  id: mini
  name: {zh: 迷你测试, en: mini test}
  jurisdiction: {name: 测试市}
  version: "1"
  effective: {from: 2024-01-01}
  sources:
    - id: doc
      number: 测医保〔2024〕1号
      title: 测试市医保信用分级办法
      issuer: 测试市医疗保障局
windows:
  lookback_1y:
    title: {zh: 1年之内}
    type: rolling
    length: 1y
    clause: 一(1)
rulesets:
  institution:
    title: {zh: 定点医药机构}
    applies_to:
      type: institution
      categories: [hospital, pharmacy]
    required: [designated_on]
    facts:
      violations:
        title: {zh: 1年之内违法违规次数}
        op: count
        where: kind == 'violation'
        window: lookback_1y
        clause: 一(1)
      terminated:
        title: {zh: 主动解除服务协议}
        op: exists
        where: kind == 'agreement_terminated' and reason == 'voluntary'
        window: lookback_1y
        clause: 二(1)
    exclusions:
      - id: voluntary
        title: {zh: 主动解除服务协议}
        when: terminated
        clause: 二(1)
    grading:
      type: criteria
      grades:
        - {label: A, title: {zh: 信用优秀}}
        - {label: B, title: {zh: 信用一般}}
        - {label: C, title: {zh: 失信}}
      rules:
        - grade: C
          clause: 一(3)
          any:
            - id: two_violations
              title: {zh: 违法违规二次及以上}
              when: violations >= 2
              clause: 一(3)
        - grade: A
          clause: 一(1)
          all:
            - id: no_violation
              title: {zh: 未发现违法违规}
              when: violations == 0
              clause: 一(1)
      default:
        grade: B
        clause: 一(2)
"""
