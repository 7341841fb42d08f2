"""What an analyst hit writing a score pack from the docs alone (issue 15 item 10).

docs/pack-format.md §14.1 prints a complete score pack and its tests file: they are extracted
and run here as printed, so the section stays true. §2 ("Score gradings") quotes the messages
of the usual mistakes on that pack — an unquoted band range, an expression as a cap, a word
for a number, a missing ``ceiling``, ``score:`` under ``expect`` — and each is triggered here
and must be the message the docs and docs/errors.md quote. The missing-``ceiling`` message
names the key to add, and ``expect: {score: …}`` says to write it under ``steps``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import yibao_credit as yc
from yibao_credit.cli.main import main
from yibao_credit.errors import PackError, Problem
from yibao_credit.packtest.cases import check_tests, read_tests

ROOT = Path(__file__).resolve().parents[1]
PACK_FORMAT = (ROOT / "docs" / "pack-format.md").read_text("utf-8")
ERRORS = (ROOT / "docs" / "errors.md").read_text("utf-8")


def section_blocks(heading: str) -> list[str]:
    """The ```yaml blocks of one section of pack-format.md, in order."""
    start = PACK_FORMAT.index(f"\n{heading}\n")
    end = PACK_FORMAT.index("\n## ", start + 1)
    return re.findall(r"```yaml\n(.*?)```", PACK_FORMAT[start:end], flags=re.DOTALL)


SCORE_PACK, SCORE_TESTS = section_blocks("### 14.1 A complete small score pack")


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The §14.1 pack and tests file, saved as the docs say, in the working folder (so that
    messages name ``score_example.yaml`` as the docs print them)."""
    (tmp_path / "score_example.yaml").write_text(SCORE_PACK, "utf-8")
    (tmp_path / "score_example.tests.yaml").write_text(SCORE_TESTS, "utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_pack_format_14_1_the_score_pack_validates_and_its_cases_pass(
    capsys: pytest.CaptureFixture[str], example: Path
) -> None:
    code, out, err = cli(capsys, "validate", "score_example.yaml", "score_example.tests.yaml")
    assert (code, err) == (0, "")
    assert out.startswith(
        "score_example.yaml: ok — pack score_example 0.1, 1 ruleset(s), 3 rules, 0 provisional"
    )
    assert "score_example.tests.yaml: ok — 6 test case(s) of pack score_example 0.1" in out
    code, out, err = cli(capsys, "test", "score_example.yaml")
    assert (code, out, err) == (0, "6 passed, 0 failed\n", "")
    assert "6 passed, 0 failed" in PACK_FORMAT


def test_pack_format_14_1_every_clause_of_the_score_pack_is_covered(
    capsys: pytest.CaptureFixture[str], example: Path
) -> None:
    code, out, _ = cli(capsys, "test", "score_example.yaml", "--coverage", "--fail-under", "100")
    assert code == 0
    assert out.splitlines()[-1] == "5 of 5 clause(s) covered: 100.00%"


def problems(path: Path) -> list[Problem]:
    with pytest.raises(PackError) as info:
        yc.load_policy(path)
    return info.value.problems


def mutate(example: Path, old: str, new: str) -> Path:
    text = (example / "score_example.yaml").read_text("utf-8")
    assert text.count(old) == 1, old
    (example / "score_example.yaml").write_text(text.replace(old, new), "utf-8")
    return Path("score_example.yaml")


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [
        ('range: "[60, 90)"', "range: [60, 90)", "pack.yaml.syntax"),
        ('range: "[90, 105]"', "range: [90, 105]", "pack.schema.string_type"),
        ("      ceiling: 105\n", "", "pack.invalid"),
    ],
    ids=["unquoted-half-open-range", "unquoted-closed-range", "no-ceiling"],
)
def test_pack_format_2_score_pitfalls_print_the_lines_the_docs_quote(
    example: Path, old: str, new: str, code: str
) -> None:
    """Each mistake gives the whole line §2 prints, file, line and column included."""
    (p,) = problems(mutate(example, old, new))
    assert p.code == code
    assert str(p) in PACK_FORMAT


@pytest.mark.parametrize(
    ("old", "new", "code", "message"),
    [
        (
            "cap: violation_cap",
            "cap: violation_cap * 2",
            "pack.schema.number_or_parameter",
            "'violation_cap * 2' is neither a number nor the name of a parameter",
        ),
        (
            "cap: 5",
            "cap: five",
            "pack.invalid",
            "cap 'five' is not a parameter of the pack; give a number or the name of a "
            "parameter of type int or number",
        ),
        (
            "base: 100",
            "base: 100分",
            "pack.schema.float_parsing",
            "Input should be a valid number, unable to parse string as a number",
        ),
        ("cap: 5", "cap: 0", "pack.schema.greater_than", "Input should be greater than 0"),
    ],
    ids=["cap-expression", "cap-unknown-name", "float-parsing", "greater-than"],
)
def test_pack_format_2_and_errors_md_quote_the_real_messages(
    example: Path, old: str, new: str, code: str, message: str
) -> None:
    """A cap is a number or a parameter's name, never an expression; numbers are bare; a cap
    is greater than 0 — with the messages and codes both documents quote."""
    (p,) = problems(mutate(example, old, new))
    assert (p.code, p.message) == (code, message)
    assert f"{message} [{code}]" in PACK_FORMAT
    if code.startswith("pack.schema."):
        row = next(line for line in ERRORS.splitlines() if line.startswith(f"| `{code}` |"))
        assert message in row


def test_a_missing_ceiling_suggests_the_key_and_its_value(example: Path) -> None:
    """9.5: without ``ceiling`` the total has no upper bound, so the top band ending at 105 leaves
    scores above it without a grade; the message says to add ``ceiling: 105`` to the grading."""
    (p,) = problems(mutate(example, "      ceiling: 105\n", ""))
    assert p.location.path == "rulesets.clinic.grading.bands[0].range"
    assert p.message.startswith(
        "score bands: no band covers the highest scores: row 1 ends at [90, 105] but scores go "
        "up to inf (the grading has no 'ceiling'"
    )
    assert "add 'ceiling: 105' to the grading" in p.message
    assert "no band covers the highest scores" in ERRORS


def test_a_missing_floor_suggests_the_key(example: Path) -> None:
    (p,) = problems(mutate(example, "      floor: 0\n", ""))
    assert p.message.startswith("score bands: no band covers the lowest scores: row 3 starts at")
    assert "add 'floor: 0' to the grading" in p.message
    assert "start the lowest band at -inf" in p.message


def test_with_a_ceiling_the_top_band_must_reach_it_and_no_key_is_suggested(example: Path) -> None:
    """errors.md: with ``ceiling: 100`` a top band ``[90, 100)`` leaves 100 without a grade;
    the key is there, so the message is the plain one."""
    mutate(example, "ceiling: 105", "ceiling: 100")
    (p,) = problems(mutate(example, 'range: "[90, 105]"', 'range: "[90, 100)"'))
    assert p.message == (
        "score bands: no band covers the highest scores: row 1 ends at [90, 100) but scores go "
        "up to 100"
    )
    assert "row 1 ends at [90, 100) but scores go up to 100" in ERRORS


@pytest.mark.parametrize(
    ("written", "step"),
    [("score: 90", "score"), ("fact.violations: 1", "fact.violations")],
)
def test_expect_score_in_a_tests_file_says_to_write_it_under_steps(
    example: Path, written: str, step: str
) -> None:
    """pack-format.md §13: a step's outcome (the score's too) is checked under ``steps``."""
    tests = example / "score_example.tests.yaml"
    text = tests.read_text("utf-8")
    tests.write_text(
        text.replace("        steps: {score: 90}\n", f"        {written}\n", 1), "utf-8"
    )
    with pytest.raises(PackError) as info:
        read_tests(tests)
    (p,) = info.value.problems
    assert p.code == "pack.schema.extra_forbidden"
    assert p.location.path == f"cases[0].expect.C1.{step}"
    value = written.split(": ")[1]
    assert p.message == (
        f"unknown key {step!r}: {step} is a step of the trace, and a step's outcome is checked "
        f"under 'steps': write steps: {{{step}: {value}}}"
    )
    if step == "score":
        assert f"{Path('score_example.tests.yaml')}:13:9: {p.location.path}: {p.message}" in (
            PACK_FORMAT
        )


def test_another_unknown_key_under_expect_keeps_its_suggestion(example: Path) -> None:
    tests = example / "score_example.tests.yaml"
    text = tests.read_text("utf-8")
    tests.write_text(text.replace("        grade: A\n", "        grades: A\n", 1), "utf-8")
    with pytest.raises(PackError) as info:
        check_tests(tests)
    (p,) = info.value.problems
    assert p.message == "unknown key 'grades' (did you mean 'grade'?)"


def test_errors_md_documents_the_codes_an_analyst_meets() -> None:
    """The score-band coverage errors, ``float_parsing`` and ``greater_than`` (issue 15 item
    10), and the new codes of this issue."""
    for text in (
        "| `pack.schema.float_parsing` |",
        "| `pack.schema.greater_than` |",
        "| `pack.schema.number_or_parameter` |",
        "score bands: no band covers the highest scores",
        "score bands: no band covers the lowest scores",
        "### `pack.versions.gap` (warning)",
    ):
        assert text in ERRORS, text


def test_pack_format_documents_the_yaml_language_server_line() -> None:
    assert "# yaml-language-server: $schema=./pack.schema.json" in PACK_FORMAT
    assert "yibao-credit schema --output pack.schema.json" in PACK_FORMAT
    assert SCORE_PACK.startswith("# yaml-language-server: $schema=./pack.schema.json\n")
