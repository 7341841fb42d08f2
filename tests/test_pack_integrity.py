"""Issue 13, "Data integrity and bad input": the pack rows — ``validate`` on a tests file, a
YAML syntax error located where the unclosed construct opened, and ``test`` running each case
once when a pack and its tests file are both named.

Each test asserts the message, the exit status and that no input byte changed. The broken
packs are the real Zhenjiang pack with one edit.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable
from pathlib import Path

import pytest
import yaml

import yibao_credit as yc
from yibao_credit.cli.main import main
from yibao_credit.pack.manifest import is_manifest, read_manifest

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
PACK = POLICIES / "zhenjiang.yaml"


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def digests(paths: Iterable[Path]) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def policy_files() -> list[Path]:
    """What the shell makes of ``policies/*.yaml``: packs and tests files, sorted."""
    return sorted(POLICIES.glob("*.yaml"))


def cases_in(tests_file: Path) -> int:
    return len(yaml.safe_load(tests_file.read_text(encoding="utf-8"))["cases"])


# -- validate policies/*.yaml: tests files are validated as tests files ---------------------


def test_validate_the_policies_glob_checks_each_tests_file_as_a_tests_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """issue 13: ``validate policies/*.yaml`` failed on every ``*.tests.yaml`` (``unknown
    key 'cases'``); now each tests file is read as one — its pack loads, its cases are well
    formed — and gets an ok line naming its case count and its pack."""
    monkeypatch.chdir(ROOT)
    files = [f.relative_to(ROOT).as_posix() for f in policy_files()]
    before = digests(policy_files())
    code, out, err = cli(capsys, "validate", *files)
    assert code == 0, err
    assert err == ""
    lines = out.splitlines()
    assert [line.split(": ok — ")[0] for line in lines] == files
    for name in files:
        if name.endswith(".tests.yaml"):
            pack = yc.load_policy(name.removesuffix(".tests.yaml") + ".yaml")
            n = cases_in(ROOT / name)
            assert (
                f"{name}: ok — {n} test case(s) of pack {pack.id} {pack.version} "
                f"({name.removesuffix('.tests.yaml')}.yaml)"
            ) in lines
    assert "unknown key 'cases'" not in out + err
    assert digests(policy_files()) == before


def test_a_tests_file_is_recognised_by_its_cases_key_whatever_its_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """issue 13: a file not named ``*.tests.yaml`` whose top level has ``cases`` (and no
    ``rulesets``) is a tests file too."""
    text = (POLICIES / "zhenjiang.tests.yaml").read_text(encoding="utf-8")
    f = tmp_path / "zj_examples.yaml"
    f.write_text(f"pack: {PACK}\n{text}", encoding="utf-8")
    before = f.read_bytes()
    code, out, err = cli(capsys, "validate", f)
    assert (code, err) == (0, "")
    assert out == f"{f}: ok — {cases_in(f)} test case(s) of pack zhenjiang 2024.1 ({PACK})\n"
    assert f.read_bytes() == before


def test_validate_reports_an_unknown_key_in_a_case_of_a_tests_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """issue 13: the cases of a tests file must be well formed — a misspelt key is located."""
    text = (POLICIES / "zhenjiang.tests.yaml").read_text(encoding="utf-8")
    bad = text.replace("    subjects:\n", "    subject:\n", 1)
    line = bad.splitlines().index("    subject:") + 1
    f = tmp_path / "zj.tests.yaml"
    f.write_text(f"pack: {PACK}\n{bad}", encoding="utf-8")
    before = f.read_bytes()
    code, out, err = cli(capsys, "validate", f)
    assert code == 1
    assert out == ""
    assert (
        f"error: {f}:{line + 1}:5: cases[0].subject: unknown key 'subject' (did you mean "
        "'subjects'?) [pack.schema.extra_forbidden]\n"
    ) in err
    assert f.read_bytes() == before


def test_validate_reports_a_case_record_that_does_not_fit_the_contract(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """issue 13: a case's subjects and events must fit the data contract; the problem names
    the tests file, the case and the record."""
    f = tmp_path / "one.tests.yaml"
    f.write_text(
        f"pack: {PACK}\n"
        "cases:\n"
        "  - name: a subject with an impossible agreement date\n"
        "    as_of: 2024-12-31\n"
        "    subjects:\n"
        "      - {id: H1, type: institution, category: hospital, designated_on: '2018-02-30'}\n"
        "    expect:\n"
        "      H1: {grade: ★★★}\n",
        encoding="utf-8",
    )
    before = f.read_bytes()
    code, out, err = cli(capsys, "validate", f)
    assert (code, out) == (1, "")
    assert err.startswith(f"error: {f}:cases[0][subjects]:1: designated_on: ")
    assert err.endswith("[record.subject]\n")
    assert f.read_bytes() == before


def test_validate_a_tests_file_whose_pack_does_not_load_reports_the_pack(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """issue 13: a tests file is valid only if its pack loads; the pack's own error is given."""
    pack = tmp_path / "zj.yaml"
    pack.write_text(PACK.read_text(encoding="utf-8").replace("version: ", "versoin: ", 1))
    shutil.copy(POLICIES / "zhenjiang.tests.yaml", tmp_path / "zj.tests.yaml")
    before = digests([pack, tmp_path / "zj.tests.yaml"])
    code, out, err = cli(capsys, "validate", tmp_path / "zj.tests.yaml")
    assert (code, out) == (1, "")
    assert f"error: {pack}:" in err
    assert "unknown key 'versoin' (did you mean 'version'?) [pack.schema.extra_forbidden]" in err
    assert digests([pack, tmp_path / "zj.tests.yaml"]) == before


# -- a YAML syntax error is located where the unclosed construct opened ---------------------


def broken_pack(tmp_path: Path, old: str, new: str) -> tuple[Path, str]:
    text = PACK.read_text(encoding="utf-8")
    assert text.count(old) == 1
    text = text.replace(old, new)
    f = tmp_path / "zhenjiang.yaml"
    f.write_text(text, encoding="utf-8")
    return f, text


def test_an_unclosed_bracket_at_the_end_of_the_file_is_reported_where_it_opened(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """issue 13: an unclosed ``[`` on the last line was reported at the end of the file
    (``442:1``); it is reported where the ``[`` is, with the end position in the message."""
    last = "    clause: 三(三)3\n"
    assert PACK.read_text(encoding="utf-8").endswith(last)
    f, text = broken_pack(
        tmp_path,
        "    unit: working_days\n" + last,
        "    unit: working_days\n    clause: [三(三)3\n",
    )
    line = len(text.splitlines())
    column = text.splitlines()[-1].index("[") + 1
    before = f.read_bytes()
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(f)
    [p] = info.value.problems
    assert (p.code, p.location.line, p.location.column) == ("pack.yaml.syntax", line, column)
    expected = (
        f"{f}:{line}:{column}: YAML syntax error: a flow sequence opened here is not closed: "
        f"expected ',' or ']', but got '<stream end>' (at the end of the file, {line + 1}:1) "
        "[pack.yaml.syntax]"
    )
    assert str(p) == expected
    code, out, err = cli(capsys, "validate", f)
    assert (code, out, err) == (1, "", f"error: {expected}\n")
    assert f.read_bytes() == before


def test_an_unclosed_bracket_that_runs_into_the_next_lines_is_reported_where_it_opened(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """issue 13: ``required: [designated_on`` (no ``]``) in the middle of the pack: the parser
    gives up two lines further on, at ``facts:``; the error points at the ``[``."""
    f, text = broken_pack(tmp_path, "required: [designated_on]", "required: [designated_on")
    lines = text.splitlines()
    line = next(i for i, t in enumerate(lines, 1) if t.endswith("required: [designated_on"))
    column = lines[line - 1].index("[") + 1
    stop = next(i for i, t in enumerate(lines, 1) if i > line and t.strip() == "facts:")
    before = f.read_bytes()
    code, out, err = cli(capsys, "validate", f)
    assert (code, out) == (1, "")
    assert err == (
        f"error: {f}:{line}:{column}: YAML syntax error: a flow sequence opened here is not "
        f"closed: expected ',' or ']', but got ':' (at {stop}:{lines[stop - 1].index(':') + 1})"
        " [pack.yaml.syntax]\n"
    )
    assert f.read_bytes() == before


def test_an_unclosed_quote_is_reported_where_it_opened(tmp_path: Path) -> None:
    """issue 13: an unclosed quote on the last line, as an unclosed bracket."""
    last = "    clause: 三(三)3\n"
    f, text = broken_pack(
        tmp_path,
        "    unit: working_days\n" + last,
        '    unit: working_days\n    clause: "三(三)3\n',
    )
    line = len(text.splitlines())
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(f)
    [p] = info.value.problems
    assert (p.location.line, p.location.column) == (line, len("    clause: ") + 1)
    assert p.message == (
        "YAML syntax error: a quoted scalar opened here is not closed: found unexpected end of "
        f"stream (at the end of the file, {line + 1}:1)"
    )


def test_a_mistake_inside_a_closed_flow_mapping_stays_where_the_parser_found_it(
    tmp_path: Path,
) -> None:
    """issue 13: only unclosed constructs move; an ASCII ``: `` inside ``{…}`` is still
    reported at the colon (docs/errors.md, ``pack.yaml.syntax``)."""
    old = "title: {zh: 1年之内违法违规记录次数, en: violations within 1 year}"
    f, text = broken_pack(tmp_path, old, old.replace("次数, en", "次数: 含, en"))
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(f)
    [p] = info.value.problems
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "次数: 含" in t)
    column = text.splitlines()[line - 1].index("次数: 含") + len("次数") + 1
    assert (p.location.line, p.location.column) == (line, column)
    assert p.message == (
        "YAML syntax error: while parsing a flow mapping: expected ',' or '}', but got ':'"
    )


# -- test policies/*.yaml: each case once --------------------------------------------------


def test_test_the_policies_glob_runs_each_case_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """issue 13: ``test policies/*.yaml`` names each pack and its tests file, which are one
    tests file: every case ran twice (122 for 61). Each tests file runs once, in the order
    first named."""
    monkeypatch.chdir(ROOT)
    files = [f.relative_to(ROOT).as_posix() for f in policy_files()]
    named: list[str] = []
    for f in files:
        if f.endswith(".tests.yaml"):
            named.append(f)
        elif is_manifest(f):  # a manifest (issue 14): the tests beside the versions it names
            named += [t.as_posix() for t in sorted(read_manifest(f).folder.glob("*.tests.yaml"))]
    tests_files = list(dict.fromkeys(named))
    total = sum(cases_in(ROOT / f) for f in tests_files)
    before = digests(policy_files())
    code, out, err = cli(capsys, "test", *files, "-v")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[-1] == f"{total} passed, 0 failed"
    names = [line.split(":")[0].removeprefix("PASS ") for line in lines[:-1]]
    assert len(names) == total
    assert list(dict.fromkeys(names)) == tests_files  # each file once, in the order named
    assert digests(policy_files()) == before


def test_a_tests_file_named_by_two_paths_runs_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """issue 13: the same tests file by another spelling of its path (``./``, absolute) is
    still the same file."""
    monkeypatch.chdir(ROOT)
    n = cases_in(POLICIES / "zhenjiang.tests.yaml")
    code, out, err = cli(
        capsys,
        "test",
        "policies/zhenjiang.yaml",
        "./policies/zhenjiang.tests.yaml",
        POLICIES / "zhenjiang.tests.yaml",
    )
    assert (code, out, err) == (0, f"{n} passed, 0 failed\n", "")
