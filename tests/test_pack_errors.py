"""A broken pack fails at load time, and says exactly what is wrong and where.

design.md principle 4 ("Fail loudly at load time, never silently at run time"): unknown keys,
undefined names, type errors, unsafe expressions and overlapping bands are errors with the file,
line, column and the path inside the pack. Each test below breaks a small valid pack in one
place (written inline, so the expected line can be computed from the text) and checks the
problem's code, file, line, column where it makes sense, path, and that the message names the
cause. The CLI prints a problem as ``file:line:col: path: message [code]``.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

import yibao_credit as yc

# A minimal valid pack: one source, one window, two facts, one exclusion, three grades with
# criteria, one roll-up and one measure. Its clauses are those of a made-up document; what the
# tests check is the engine's handling of the pack, not a city's rules.
MINIMAL_PACK = """\
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
      categories: [hospital, pharmacy, pharmacy_chain]
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
        - label: A
          title: {zh: 信用优秀}
        - label: B
          title: {zh: 信用一般}
        - label: C
          title: {zh: 失信}
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
    rollups:
      - id: chain
        title: {zh: 连锁药店门店汇总}
        clause: 一(4)
        members: category == 'pharmacy'
        head: chain_id
        counts: grade == 'C'
        caps:
          - {min: 1, max: 2, cap: B, clause: 一(4)}
          - {min: 3, cap: C, clause: 一(4)}
    measures:
      - id: publish
        title: {zh: 公开良好记录}
        grades: [A]
        clause: 三(1)
"""

RULESET = "rulesets.institution"
CRITERION = f"{RULESET}.grading.rules[0].any[0]"
TWO_VIOLATIONS = "              when: violations >= 2\n"


# -- helpers ---------------------------------------------------------------------------------


def mutate(*edits: tuple[str, str], text: str = MINIMAL_PACK) -> str:
    """Apply text replacements, each of which must match exactly once."""
    for old, new in edits:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    return text


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the only line containing ``needle``."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) == 1, f"{needle!r} is on lines {hits}"
    return hits[0]


def line_is(text: str, stripped: str) -> int:
    """The 1-based line of the only line that is ``stripped`` once indentation is removed."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if line.strip() == stripped]
    assert len(hits) == 1, f"{stripped!r} is on lines {hits}"
    return hits[0]


def column_of(text: str, needle: str) -> int:
    """The 1-based column where ``needle`` starts on its (only) line."""
    line = text.splitlines()[line_of(text, needle) - 1]
    return line.index(needle) + 1


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pack.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[yc.Problem]:
    path = write(tmp_path, text)
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(path)
    problems = info.value.problems
    assert problems, "a PackError must carry at least one problem"
    for p in problems:
        assert p.location.file == str(path)
    return problems


def problem_at(problems: list[yc.Problem], path: str) -> yc.Problem:
    found = [p for p in problems if p.location.path == path]
    assert found, f"no problem at {path}; got: {[str(p) for p in problems]}"
    return found[0]


def the_problem(tmp_path: Path, text: str) -> yc.Problem:
    problems = problems_of(tmp_path, text)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def with_criterion(when: str) -> str:
    return mutate((TWO_VIOLATIONS, f"              when: {when}\n"))


# -- the valid pack --------------------------------------------------------------------------


def test_minimal_pack_loads_and_grades(tmp_path: Path) -> None:
    """The base of every broken pack below is itself valid, and grades as its rules say."""
    policy = yc.load_policy(write(tmp_path, MINIMAL_PACK))
    assert policy.id == "mini"
    assert list(policy.rulesets) == ["institution"]
    hospital = {
        "id": "H1",
        "type": "institution",
        "category": "hospital",
        "designated_on": "2020-01-01",
    }
    events = [
        {"id": f"v{i}", "subject_id": "H1", "kind": "violation", "date": f"2024-0{i}-01"}
        for i in (1, 2)
    ]
    as_of = dt.date(2024, 12, 31)
    assert policy.evaluate([hospital], [], as_of=as_of).get("H1").grade == "A"
    assert policy.evaluate([hospital], events[:1], as_of=as_of).get("H1").grade == "B"
    assert policy.evaluate([hospital], events, as_of=as_of).get("H1").grade == "C"


# -- YAML level ------------------------------------------------------------------------------


def test_yaml_syntax_error_names_the_line_and_column(tmp_path: Path) -> None:
    bad = "        where: kind: 'violation'"
    text = mutate(("        where: kind == 'violation'", bad))
    p = the_problem(tmp_path, text)
    assert p.code == "pack.yaml.syntax"
    assert p.location.line == line_of(text, bad)
    assert p.location.column == column_of(text, "kind:") + len("kind")
    assert "YAML syntax error" in p.message
    assert "mapping values are not allowed" in p.message


def test_yaml_tab_indentation_is_a_syntax_error_on_its_line(tmp_path: Path) -> None:
    text = mutate(("      - id: voluntary\n", "\t- id: voluntary\n"))
    p = the_problem(tmp_path, text)
    assert p.code == "pack.yaml.syntax"
    assert p.location.line == line_of(text, "\t- id: voluntary")
    assert "'\\t'" in p.message


def test_duplicate_key_is_an_error_on_the_second_occurrence(tmp_path: Path) -> None:
    """PyYAML would silently keep the last value; a pack must not lose a line unnoticed."""
    text = mutate(("        op: count\n", "        op: count\n        op: sum\n"))
    p = the_problem(tmp_path, text)
    assert p.code == "pack.yaml.duplicate-key"
    assert p.location.line == line_of(text, "op: sum")
    assert p.location.column == column_of(text, "op: sum")
    assert p.location.path == f"{RULESET}.facts.violations.op"
    assert "duplicate key 'op'" in p.message
    assert f"first on line {line_of(text, 'op: count')}" in p.message


def test_every_duplicate_key_is_reported(tmp_path: Path) -> None:
    text = mutate(
        ("        op: count\n", "        op: count\n        op: count\n"),
        ("    type: rolling\n", "    type: rolling\n    type: rolling\n"),
    )
    problems = problems_of(tmp_path, text)
    assert {p.location.path for p in problems} == {
        f"{RULESET}.facts.violations.op",
        "windows.lookback_1y.type",
    }


# -- schema level ----------------------------------------------------------------------------


def test_unknown_key_is_rejected_with_a_suggestion(tmp_path: Path) -> None:
    """A misspelt ``wehre`` must never be ignored (it would make the fact count every event)."""
    text = mutate(("        where: kind == 'violation'\n", "        wehre: kind == 'violation'\n"))
    p = the_problem(tmp_path, text)
    assert p.code == "pack.schema.extra_forbidden"
    assert p.location.line == line_of(text, "wehre:")
    assert p.location.column == column_of(text, "wehre:")
    assert p.location.path == f"{RULESET}.facts.violations.wehre"
    assert "unknown key 'wehre'" in p.message
    assert "did you mean 'where'?" in p.message


def test_missing_required_key_names_the_key_and_its_mapping(tmp_path: Path) -> None:
    text = mutate(("        title: {zh: 1年之内违法违规次数}\n", ""))
    p = the_problem(tmp_path, text)
    assert p.code == "pack.schema.missing"
    assert p.location.path == f"{RULESET}.facts.violations.title"
    assert "required key 'title' is missing" in p.message
    # The mapping that lacks the key: its key line or its first line.
    key_line = line_of(text, "      violations:")
    assert p.location.line in (key_line, key_line + 1)


def test_missing_key_inside_a_list_item_formats_the_path_like_other_problems(
    tmp_path: Path,
) -> None:
    """Paths read ``rules[0].any[0]`` everywhere else; a missing key in a list item should too."""
    text = mutate(("              title: {zh: 违法违规二次及以上}\n", ""))
    p = the_problem(tmp_path, text)
    assert p.code == "pack.schema.missing"
    assert p.location.line == line_of(text, "- id: two_violations")
    assert p.location.path == f"{CRITERION}.title"


_NO_PROVENANCE = [
    pytest.param(
        ("        window: lookback_1y\n        clause: 一(1)\n", "        window: lookback_1y\n"),
        f"{RULESET}.facts.violations",
        "      violations:",
        id="fact",
    ),
    pytest.param(
        ("        when: terminated\n        clause: 二(1)\n", "        when: terminated\n"),
        f"{RULESET}.exclusions[0]",
        "- id: voluntary",
        id="exclusion",
    ),
    pytest.param(
        (TWO_VIOLATIONS + "              clause: 一(3)\n", TWO_VIOLATIONS),
        CRITERION,
        "- id: two_violations",
        id="criterion",
    ),
    pytest.param(
        ("{min: 3, cap: C, clause: 一(4)}", "{min: 3, cap: C}"),
        f"{RULESET}.rollups[0].caps[1]",
        "{min: 3, cap: C}",
        id="cap-band",
    ),
]


@pytest.mark.parametrize(("edit", "path", "anchor"), _NO_PROVENANCE)
def test_rule_without_clause_or_provisional_is_rejected(
    tmp_path: Path, edit: tuple[str, str], path: str, anchor: str
) -> None:
    """Principle 2: every rule cites its clause or is marked provisional."""
    text = mutate(edit)
    p = the_problem(tmp_path, text)
    assert p.code == "pack.schema.value_error"
    assert p.location.path == path
    anchor_line = line_of(text, anchor)
    assert p.location.line in (anchor_line, anchor_line + 1)
    assert "'clause'" in p.message
    assert "'provisional'" in p.message


def test_provisional_instead_of_clause_is_accepted(tmp_path: Path) -> None:
    text = mutate(
        (
            "        when: terminated\n        clause: 二(1)\n",
            "        when: terminated\n        provisional: 待市医保局确认\n",
        ),
    )
    policy = yc.load_policy(write(tmp_path, text))
    assert [v.note for v in policy.provisional()] == ["待市医保局确认"]


def test_grade_rule_without_clause_or_provisional_is_rejected(tmp_path: Path) -> None:
    text = mutate(("        - grade: C\n          clause: 一(3)\n", "        - grade: C\n"))
    p = the_problem(tmp_path, text)
    assert p.location.path == f"{RULESET}.grading.rules[0]"
    assert "'clause'" in p.message


# -- expressions -----------------------------------------------------------------------------


def test_undefined_name_points_at_the_name_and_suggests_a_near_one(tmp_path: Path) -> None:
    text = with_criterion("violatons >= 2")
    p = the_problem(tmp_path, text)
    assert p.code == "pack.expr"
    assert p.location.line == line_of(text, "violatons >= 2")
    assert p.location.column == column_of(text, "violatons")
    assert p.location.path == f"{CRITERION}.when"
    assert "undefined name 'violatons'" in p.message
    assert "did you mean 'violations'?" in p.message


def test_unknown_event_kind_in_a_filter(tmp_path: Path) -> None:
    text = mutate(("where: kind == 'violation'", "where: kind == 'violaton'"))
    problems = problems_of(tmp_path, text)
    p = problems[0]
    assert p.location.path == f"{RULESET}.facts.violations.where"
    assert p.location.line == line_of(text, "kind == 'violaton'")
    assert "unknown event kind 'violaton'" in p.message
    assert "violation" in p.message.split("known:")[1]


def test_broken_filter_does_not_make_its_fact_undefined(tmp_path: Path) -> None:
    text = mutate(("where: kind == 'violation'", "where: kind == 'violaton'"))
    problems = problems_of(tmp_path, text)
    assert [p.location.path for p in problems] == [f"{RULESET}.facts.violations.where"]


def test_unknown_attribute_choice_points_at_the_value(tmp_path: Path) -> None:
    text = mutate(("reason == 'voluntary'", "reason == 'volontary'"))
    p = problems_of(tmp_path, text)[0]
    assert p.code == "pack.expr"
    assert p.location.path == f"{RULESET}.facts.terminated.where"
    assert p.location.line == line_of(text, "'volontary'")
    assert p.location.column == column_of(text, "'volontary'")
    assert "'volontary' is not a known value" in p.message
    assert "did you mean 'voluntary'?" in p.message


def test_unknown_grade_in_a_rollup_count_is_an_unknown_value(tmp_path: Path) -> None:
    text = mutate(("counts: grade == 'C'", "counts: grade == 'D'"))
    p = the_problem(tmp_path, text)
    assert p.location.path == f"{RULESET}.rollups[0].counts"
    assert "'D' is not a known value" in p.message
    assert "A, B, C" in p.message


_DISALLOWED = [
    pytest.param("violations.__class__ is None", "attribute access", id="attribute"),
    pytest.param("(violations, 1)[0] >= 2", "indexing", id="subscript"),
    pytest.param("violations ** 2 >= 4", "powers (**)", id="power"),
    pytest.param('"(lambda: True)()"', "Lambda is not allowed", id="lambda"),
    pytest.param("2 in [v for v in (violations,)]", "ListComp is not allowed", id="listcomp"),
    pytest.param("any(v > 1 for v in (violations,))", "GeneratorExp", id="genexp"),
    pytest.param("open('x') == 2", "unknown function 'open'", id="open"),
    pytest.param("__import__('os') is None", "unknown function '__import__'", id="import"),
    pytest.param("len('x') == 1", "unknown function 'len'", id="builtin"),
]


@pytest.mark.parametrize(("when", "fragment"), _DISALLOWED)
def test_disallowed_construct_is_rejected_at_its_line(
    tmp_path: Path, when: str, fragment: str
) -> None:
    text = with_criterion(when)
    p = the_problem(tmp_path, text)
    assert p.code == "pack.expr"
    assert p.location.line == line_is(text, f"when: {when}")
    assert p.location.path == f"{CRITERION}.when"
    assert fragment in p.message


def test_a_pack_cannot_run_code_while_loading(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = with_criterion(f"\"__import__('os').system('touch {marker}') == 0\"")
    problems_of(tmp_path, text)
    assert not marker.exists()


_TYPE_ERRORS = [
    pytest.param("designated_on > 3", "compares date with int", "3", id="date-vs-number"),
    pytest.param(
        "violations and terminated",
        "'and' needs true/false operands; this one is int",
        "violations",
        id="and-on-count",
    ),
    pytest.param(
        "beds < 100",
        "beds may be missing; guard it first: 'beds is not None and ...'",
        "beds",
        id="optional-ordering",
    ),
    pytest.param("violations", "must be bool", "violations", id="count-as-condition"),
]


@pytest.mark.parametrize(("when", "fragment", "at"), _TYPE_ERRORS)
def test_type_error_is_located(tmp_path: Path, when: str, fragment: str, at: str) -> None:
    text = with_criterion(when)
    p = the_problem(tmp_path, text)
    assert p.code == "pack.expr"
    assert p.location.line == line_is(text, f"when: {when}")
    when_line = text.splitlines()[p.location.line - 1]
    assert p.location.column == when_line.index("when: ") + len("when: ") + when.index(at) + 1
    assert fragment in p.message


def test_guarded_optional_attribute_is_accepted(tmp_path: Path) -> None:
    """The same comparison as above, guarded, loads: the check is about the guard."""
    yc.load_policy(write(tmp_path, with_criterion("beds is not None and beds < 100")))


def test_column_inside_a_quoted_expression(tmp_path: Path) -> None:
    text = with_criterion('"violatons >= 2"')
    p = the_problem(tmp_path, text)
    assert p.location.column == column_of(text, "violatons")


def test_line_inside_a_block_expression(tmp_path: Path) -> None:
    text = mutate(
        (
            TWO_VIOLATIONS,
            "              when: >-\n"
            "                violations >= 2 and\n"
            "                violatons >= 3\n",
        )
    )
    p = the_problem(tmp_path, text)
    assert (p.location.line, p.location.column) == (
        line_of(text, "violatons >= 3"),
        column_of(text, "violatons >= 3"),
    )


def test_attribute_with_different_types_per_kind_is_rejected_unless_kind_is_fixed(
    tmp_path: Path,
) -> None:
    text = mutate(
        (
            "windows:\n",
            "event_kinds:\n"
            "  warning:\n"
            "    title: {zh: 警示}\n"
            "    clause: 一\n"
            "    attributes:\n"
            "      severity: {type: int}\n"
            "windows:\n",
        ),
        (
            "where: kind == 'violation'\n",
            "where: severity is not None and severity >= 3\n",
        ),
    )
    p = problems_of(tmp_path, text)[0]
    assert p.location.path == f"{RULESET}.facts.violations.where"


# -- references ------------------------------------------------------------------------------


def test_unknown_window(tmp_path: Path) -> None:
    text = mutate(
        (
            "        window: lookback_1y\n        clause: 一(1)\n",
            "        window: lookback_2y\n        clause: 一(1)\n",
        ),
    )
    p = the_problem(tmp_path, text)
    assert p.location.path == f"{RULESET}.facts.violations.window"
    assert p.location.line == line_of(text, "window: lookback_2y")
    assert p.location.column == column_of(text, "lookback_2y")
    assert "unknown window 'lookback_2y'" in p.message
    assert "lookback_1y" in p.message


_UNKNOWN_GRADES = [
    pytest.param(
        ("        - grade: C\n", "        - grade: D\n"),
        "grade: D",
        f"{RULESET}.grading.rules[0].grade",
        id="rule",
    ),
    pytest.param(
        ("        grade: B\n        clause: 一(2)\n", "        grade: X\n        clause: 一(2)\n"),
        "grade: X",
        f"{RULESET}.grading.default.grade",
        id="default",
    ),
    pytest.param(
        ("{min: 3, cap: C,", "{min: 3, cap: Z,"),
        "cap: Z",
        f"{RULESET}.rollups[0].caps[1].cap",
        id="cap",
    ),
    pytest.param(
        ("        grades: [A]\n", "        grades: [AA]\n"),
        "grades: [AA]",
        f"{RULESET}.measures[0].grades",
        id="measure",
    ),
]


@pytest.mark.parametrize(("edit", "anchor", "path"), _UNKNOWN_GRADES)
def test_unknown_grade_label(tmp_path: Path, edit: tuple[str, str], anchor: str, path: str) -> None:
    text = mutate(edit)
    label = anchor.split(": ")[1].strip("[]")
    p = the_problem(tmp_path, text)
    assert p.location.path == path
    assert p.location.line == line_of(text, anchor)
    assert f"unknown grade {label!r}" in p.message
    assert "grades are A, B, C" in p.message


def test_overlapping_rollup_cap_bands(tmp_path: Path) -> None:
    """Bands [1, 2] and [2, ∞) both claim a count of two: which cap applies would be arbitrary."""
    text = mutate(("{min: 3, cap: C", "{min: 2, cap: C"))
    p = the_problem(tmp_path, text)
    assert p.location.path == f"{RULESET}.rollups[0].caps"
    assert p.location.line in (line_of(text, "caps:"), line_of(text, "{min: 1, max: 2"))
    assert "overlap" in p.message
    assert "1..2" in p.message
    assert "2 or more" in p.message


def test_bands_sharing_a_single_count_overlap(tmp_path: Path) -> None:
    """Bands are inclusive at both ends (以上/以下 include the number, 《民法典》第1259条):
    [1, 2] and [2, 2] share the count 2, while the base pack's [1, 2] and [3, ∞) do not."""
    text = mutate(("{min: 3, cap: C", "{min: 2, max: 2, cap: C"))
    p = the_problem(tmp_path, text)
    assert "rows 1 and 2 overlap: 1..2 and 2..2" in p.message


_CYCLE = """\
      a:
        title: {zh: 甲}
        op: compute
        expr: b + 1
        clause: 一
      b:
        title: {zh: 乙}
        op: compute
        expr: a + 1
        clause: 一
      terminated:
"""


def test_cycle_among_compute_facts(tmp_path: Path) -> None:
    text = mutate(("      terminated:\n", _CYCLE))
    problems = problems_of(tmp_path, text)
    p = problem_at(problems, f"{RULESET}.facts.a")
    a_line = line_of(text, "      a:")
    assert p.location.line in (a_line, a_line + 1)
    assert "cycle" in p.message
    assert "a → b → a" in p.message


def test_a_fact_that_reads_itself_is_a_cycle(tmp_path: Path) -> None:
    fact = "      a:\n        title: {zh: 甲}\n        op: compute\n        expr: a + 1\n"
    text = mutate(("      terminated:\n", fact + "        clause: 一\n      terminated:\n"))
    p = problem_at(problems_of(tmp_path, text), f"{RULESET}.facts.a")
    assert "a → a" in p.message


def test_since_window_field_must_be_required(tmp_path: Path) -> None:
    """A since window starts on a subject field; a subject without it has no window."""
    text = mutate(
        (
            "    clause: 一(1)\nrulesets:\n",
            "    clause: 一(1)\n  agreement:\n    title: {zh: 本次服务协议期间}\n"
            "    type: since\n    field: designated_on\n    clause: 二\nrulesets:\n",
        ),
        ("    required: [designated_on]\n", ""),
        (
            "        window: lookback_1y\n        clause: 二(1)\n",
            "        window: agreement\n        clause: 二(1)\n",
        ),
    )
    p = the_problem(tmp_path, text)
    assert p.location.path == f"{RULESET}.facts.terminated.window"
    assert p.location.line == line_of(text, "window: agreement")
    assert "'designated_on'" in p.message
    assert f"{RULESET}.required" in p.message


_SECOND_RULESET = """\
  hospitals:
    title: {zh: 医院}
    applies_to:
      type: institution
      categories: [HOSPITAL_CATEGORY]
    grading:
      type: criteria
      grades:
        - {label: X, title: {zh: 甲}}
        - {label: Y, title: {zh: 乙}}
      rules:
        - grade: X
          clause: 一
          all:
            - {id: always, title: {zh: 总是}, when: 'True', clause: 一}
      default: {grade: Y, clause: 一}
"""


def test_rulesets_overlapping_on_a_category(tmp_path: Path) -> None:
    """A subject must be graded by exactly one ruleset."""
    text = MINIMAL_PACK + _SECOND_RULESET.replace("HOSPITAL_CATEGORY", "hospital")
    p = the_problem(tmp_path, text)
    assert p.location.path == "rulesets.hospitals.applies_to"
    applies_to_line = line_of(text, "  hospitals:") + 2
    assert p.location.line in (applies_to_line, applies_to_line + 1)
    assert "overlaps ruleset 'institution'" in p.message


def test_rulesets_on_disjoint_categories_load(tmp_path: Path) -> None:
    text = MINIMAL_PACK + _SECOND_RULESET.replace("HOSPITAL_CATEGORY", "clinic")
    policy = yc.load_policy(write(tmp_path, text))
    assert sorted(policy.rulesets) == ["hospitals", "institution"]


def test_clause_ref_to_an_unknown_source(tmp_path: Path) -> None:
    text = mutate(
        (
            "        clause: 二(1)\n    grading:",
            "        clause: {source: civil_code, ref: 第202条}\n    grading:",
        ),
    )
    p = the_problem(tmp_path, text)
    assert p.location.path == f"{RULESET}.exclusions[0].clause.source"
    assert p.location.line == line_of(text, "source: civil_code")
    assert p.location.column == column_of(text, "civil_code")
    assert "unknown source 'civil_code'" in p.message
    assert "doc" in p.message


# -- many problems at once, and how they print -------------------------------------------------


def test_every_compile_problem_of_a_file_is_reported(tmp_path: Path) -> None:
    text = mutate(
        (
            "        window: lookback_1y\n        clause: 二(1)\n",
            "        window: lookback_2y\n        clause: 二(1)\n",
        ),
        (TWO_VIOLATIONS, "              when: violatons >= 2\n"),
        ("        - grade: A\n", "        - grade: AA\n"),
        ("{min: 3, cap: C", "{min: 2, cap: C"),
    )
    problems = problems_of(tmp_path, text)
    paths = [p.location.path for p in problems]
    assert paths == [
        f"{RULESET}.facts.terminated.window",
        f"{CRITERION}.when",
        f"{RULESET}.grading.rules[1].grade",
        f"{RULESET}.rollups[0].caps",
    ]
    assert [p.location.line for p in problems] == sorted(p.location.line or 0 for p in problems)


def test_every_schema_problem_of_a_file_is_reported(tmp_path: Path) -> None:
    text = mutate(
        ("        where: kind == 'violation'\n", "        wehre: kind == 'violation'\n"),
        (
            "              title: {zh: 未发现违法违规}\n",
            "              titel: {zh: 未发现违法违规}\n",
        ),
        ("    type: rolling\n", "    type: rollin\n"),
    )
    problems = problems_of(tmp_path, text)
    lines = {p.location.line for p in problems}
    assert line_of(text, "wehre:") in lines
    assert line_of(text, "titel:") in lines
    assert line_of(text, "type: rollin") in lines


_CLI_FORM = re.compile(
    r"^(?P<file>.+):(?P<line>\d+):(?P<col>\d+): (?P<path>[\w.\[\]]+): (?P<msg>.+) "
    r"\[(?P<code>[a-z_.\-]+)\]$"
)


def test_problem_prints_as_file_line_col_path_message_code(tmp_path: Path) -> None:
    text = with_criterion("violatons >= 2")
    p = the_problem(tmp_path, text)
    s = str(p)
    assert s == (
        f"{p.location.file}:{p.location.line}:{p.location.column}: "
        f"{p.location.path}: {p.message} [{p.code}]"
    )
    m = _CLI_FORM.match(s)
    assert m is not None, s
    assert m["file"] == str(tmp_path / "pack.yaml")
    assert int(m["line"]) == line_of(text, "violatons")
    assert int(m["col"]) == column_of(text, "violatons")
    assert m["path"] == f"{CRITERION}.when"
    assert m["code"] == "pack.expr"


def test_pack_error_text_lists_every_problem_one_per_line(tmp_path: Path) -> None:
    text = mutate(
        (TWO_VIOLATIONS, "              when: violatons >= 2\n"),
        ("        - grade: A\n", "        - grade: AA\n"),
    )
    path = write(tmp_path, text)
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(path)
    assert str(info.value).splitlines() == [str(p) for p in info.value.problems]
    assert len(info.value.problems) == 2
    for line in str(info.value).splitlines():
        assert _CLI_FORM.match(line), line


# -- a check that passes at load time must not fail obscurely at run time ---------------------


def test_a_step_that_fails_on_data_raises_evaluation_error(tmp_path: Path) -> None:
    text = with_criterion("violations // (violations - violations) >= 2")
    policy = yc.load_policy(write(tmp_path, text))
    hospital = {
        "id": "H1",
        "type": "institution",
        "category": "hospital",
        "designated_on": "2020-01-01",
    }
    with pytest.raises(yc.EvaluationError) as info:
        policy.evaluate([hospital], [], as_of=dt.date(2024, 12, 31))
    assert "two_violations" in str(info.value)
