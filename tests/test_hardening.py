"""Behaviours added to close gaps: each is a place where a pack or a record could otherwise go
wrong silently or fail obscurely.

design.md principle 4 ("Fail loudly at load time, never silently at run time"): typed subject
attributes, guarded aggregates, checked category names, dates that exist, windows that never
reach into the future, keyword-free expressions. "Conventions for reading Chinese rules":
rounding is 四舍五入 (halves away from zero), not Python's round-half-even. Each test writes a
small pack of a made-up document (测医保〔2024〕1号) into ``tmp_path``, as
tests/test_pack_errors.py does, or uses the Zhenjiang pack (镇医保〔2024〕82号).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

import yibao_credit as yc
from yibao_credit.compile.expressions import round_half_up

ROOT = Path(__file__).resolve().parents[1]
ZHENJIANG = ROOT / "policies" / "zhenjiang.yaml"
AS_OF = dt.date(2024, 12, 31)

# A small valid pack: one window, two facts, one exclusion, three grades. What the tests check
# is the engine's handling of the pack, not a city's rules.
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

RULESET = "rulesets.institution"
CRITERION = f"{RULESET}.grading.rules[0].any[0]"
A_CRITERION = "              when: violations == 0\n"
C_CRITERION = "              when: violations >= 2\n"
FACTS_END = "      terminated:\n"
WINDOWS = "windows:\n"


# -- helpers ---------------------------------------------------------------------------------


def mutate(*edits: tuple[str, str], text: str = MINI_PACK) -> str:
    """Apply text replacements, each of which must match exactly once."""
    for old, new in edits:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    return text


def line_of(text: str, needle: str) -> int:
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) == 1, f"{needle!r} is on lines {hits}"
    return hits[0]


def column_of(text: str, needle: str) -> int:
    line = text.splitlines()[line_of(text, needle) - 1]
    return line.index(needle) + 1


def write(tmp_path: Path, text: str, name: str = "pack.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str) -> yc.Policy:
    return yc.load_policy(write(tmp_path, text))


def problems_of(tmp_path: Path, text: str) -> list[yc.Problem]:
    path = write(tmp_path, text)
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(path)
    problems = info.value.problems
    assert problems, "a PackError must carry at least one problem"
    for p in problems:
        assert p.location.file == str(path)
    return problems


def the_problem(tmp_path: Path, text: str) -> yc.Problem:
    problems = problems_of(tmp_path, text)
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def inst(sid: str, category: str = "hospital", **attrs: Any) -> dict[str, Any]:
    return {
        "id": sid,
        "type": "institution",
        "category": category,
        "designated_on": "2015-06-01",
        **attrs,
    }


def ev(eid: str, subject: str, kind: str, date: str, **attrs: Any) -> dict[str, Any]:
    return {"id": eid, "subject_id": subject, "kind": kind, "date": date, **attrs}


def step(r: yc.Result, name: str) -> dict[str, Any]:
    steps = json.loads(json.dumps(yc.result_to_dict(r), ensure_ascii=False))["trace"]
    found = [s for s in steps if s["step"] == name]
    assert len(found) == 1, f"{name!r} occurs {len(found)} times"
    out: dict[str, Any] = found[0]
    return out


def res(run: yc.Run, sid: str) -> yc.Result:
    r = run.get(sid)
    assert r is not None, f"no result for {sid!r}"
    return r


def graded(policy: yc.Policy, subjects: Any, events: Any = (), as_of: dt.date = AS_OF) -> yc.Run:
    if isinstance(subjects, yc.Records):  # the records hold their events
        run: yc.Run = policy.evaluate(subjects, as_of=as_of)
    else:
        run = policy.evaluate(subjects, list(events), as_of=as_of)
    return run


# -- subject_attributes: typed, required, choices, default -------------------------------------

ATTRIBUTES = """\
subject_attributes:
  staff:
    type: int
    required: true
    title: {zh: 医保专职人员数}
  ownership:
    type: str
    choices: [public, private]
    default: public
    title: {zh: 举办主体}
windows:
"""


def attributes_pack(when: str = "violations == 0 and staff >= 3 and ownership == 'public'") -> str:
    return mutate((WINDOWS, ATTRIBUTES), (A_CRITERION, f"              when: {when}\n"))


def subjects_csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "subjects.csv"
    path.write_text(
        "id,type,category,designated_on,staff,ownership\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    return path


def test_int_subject_attribute_from_csv_compares_as_a_number(tmp_path: Path) -> None:
    """A CSV cell is text; a pack-declared int attribute "3" must equal 3 (and order as a
    number: "10" >= 3), or a rule on it would silently never hold."""
    policy = load(tmp_path, attributes_pack("violations == 0 and staff == 3"))
    path = subjects_csv(
        tmp_path,
        [
            "H1,institution,hospital,2015-06-01,3,public",
            "H2,institution,hospital,2015-06-01,4,public",
            "H3,institution,hospital,2015-06-01,03,public",
        ],
    )
    run = graded(policy, yc.load_records(path))
    assert res(run, "H1").grade == "A"
    assert res(run, "H2").grade == "B"
    assert res(run, "H3").grade == "A"
    assert res(run, "H1").subject.attr("staff") == 3
    assert type(res(run, "H1").subject.attr("staff")) is int
    assert step(res(run, "H1"), "criterion.no_violation")["inputs"]["staff"] == 3


def test_required_int_attribute_orders_without_a_guard(tmp_path: Path) -> None:
    """Declared required, the attribute is never missing: ``staff >= 3`` needs no
    ``is not None`` guard, and "10" orders above 3 as a number (as text it would not)."""
    policy = load(tmp_path, attributes_pack())
    path = subjects_csv(
        tmp_path,
        [
            "H1,institution,hospital,2015-06-01,10,",
            "H2,institution,hospital,2015-06-01,2,",
        ],
    )
    run = graded(policy, yc.load_records(path))
    assert res(run, "H1").grade == "A"
    assert res(run, "H2").grade == "B"


def test_optional_attribute_without_default_needs_a_guard(tmp_path: Path) -> None:
    text = mutate(
        (WINDOWS, "subject_attributes:\n  staff: {type: int}\nwindows:\n"),
        (A_CRITERION, "              when: violations == 0 and staff >= 3\n"),
    )
    p = the_problem(tmp_path, text)
    assert p.code == "pack.expr"
    assert "staff may be missing" in p.message
    assert "is not None" in p.message
    load(
        tmp_path,
        mutate(
            (WINDOWS, "subject_attributes:\n  staff: {type: int}\nwindows:\n"),
            (
                A_CRITERION,
                "              when: violations == 0 and staff is not None and staff >= 3\n",
            ),
        ),
    )


def test_missing_required_attribute_names_file_and_line(tmp_path: Path) -> None:
    policy = load(tmp_path, attributes_pack())
    path = subjects_csv(
        tmp_path,
        [
            "H1,institution,hospital,2015-06-01,3,public",
            "H2,institution,hospital,2015-06-01,,public",
        ],
    )
    records = yc.load_records(path)  # the file itself fits the contract
    with pytest.raises(yc.RecordError) as info:
        policy.evaluate(records, as_of=AS_OF)
    [p] = info.value.problems
    assert p.code == "record.subject.missing-attribute"
    assert p.location.file == str(path)
    assert p.location.line == 3  # header, H1, H2
    assert p.location.path == "staff"
    assert "'staff'" in p.message
    assert str(p).startswith(f"{path}:3: staff: ")


def test_missing_required_attribute_from_python_records(tmp_path: Path) -> None:
    policy = load(tmp_path, attributes_pack())
    with pytest.raises(yc.RecordError) as info:
        policy.evaluate([inst("H1", staff=3), inst("H2")], [], as_of=AS_OF)
    [p] = info.value.problems
    assert (p.code, p.location.path) == ("record.subject.missing-attribute", "staff")
    assert p.location.line == 2  # the second subject given


def test_attribute_choices_are_enforced(tmp_path: Path) -> None:
    policy = load(tmp_path, attributes_pack())
    path = subjects_csv(
        tmp_path,
        [
            "H1,institution,hospital,2015-06-01,3,public",
            "H2,institution,hospital,2015-06-01,3,privat",
        ],
    )
    with pytest.raises(yc.RecordError) as info:
        policy.evaluate(yc.load_records(path), as_of=AS_OF)
    [p] = info.value.problems
    assert p.code == "record.subject.attribute-choice"
    assert (p.location.file, p.location.line, p.location.path) == (str(path), 3, "ownership")
    assert "public, private" in p.message
    assert "'privat'" in p.message


def test_attribute_of_the_wrong_type_is_an_error(tmp_path: Path) -> None:
    policy = load(tmp_path, attributes_pack())
    path = subjects_csv(tmp_path, ["H1,institution,hospital,2015-06-01,three,public"])
    with pytest.raises(yc.RecordError) as info:
        policy.evaluate(yc.load_records(path), as_of=AS_OF)
    [p] = info.value.problems
    assert p.code == "record.subject.attribute-type"
    assert (p.location.line, p.location.path) == (2, "staff")


def test_every_attribute_problem_is_reported(tmp_path: Path) -> None:
    policy = load(tmp_path, attributes_pack())
    path = subjects_csv(
        tmp_path,
        [
            "H1,institution,hospital,2015-06-01,,public",
            "H2,institution,hospital,2015-06-01,3,other",
            "H3,institution,hospital,2015-06-01,3,public",
        ],
    )
    with pytest.raises(yc.RecordError) as info:
        policy.evaluate(yc.load_records(path), as_of=AS_OF)
    assert [(p.code, p.location.line) for p in info.value.problems] == [
        ("record.subject.missing-attribute", 2),
        ("record.subject.attribute-choice", 3),
    ]


def test_attribute_default_is_filled_in(tmp_path: Path) -> None:
    """``ownership`` left out (an empty CSV cell) takes its default ``public``; a rule
    comparing it sees the default, and the trace shows it."""
    policy = load(tmp_path, attributes_pack())
    path = subjects_csv(
        tmp_path,
        [
            "H1,institution,hospital,2015-06-01,3,",
            "H2,institution,hospital,2015-06-01,3,private",
        ],
    )
    run = graded(policy, yc.load_records(path))
    assert res(run, "H1").subject.attr("ownership") == "public"
    assert res(run, "H1").grade == "A"
    assert res(run, "H2").grade == "B"
    assert step(res(run, "H1"), "criterion.no_violation")["inputs"]["ownership"] == "public"


def test_attribute_choice_in_a_rule_is_checked_at_load(tmp_path: Path) -> None:
    p = the_problem(
        tmp_path, attributes_pack("violations == 0 and staff >= 3 and ownership == 'publc'")
    )
    assert p.code == "pack.expr"
    assert "'publc' is not a known value" in p.message
    assert "did you mean 'public'?" in p.message


# -- sum / max / min over an attribute that may be missing -------------------------------------


def aggregate_fact(op: str, where: str) -> str:
    return (
        "      fined:\n"
        "        title: {zh: 1年之内罚没金额}\n"
        f"        op: {op}\n"
        "        of: amount\n"
        f"        where: {where}\n"
        "        window: lookback_1y\n"
        "        clause: 一(1)\n" + FACTS_END
    )


@pytest.mark.parametrize("op", ["sum", "max", "min"])
@pytest.mark.parametrize(
    "where",
    [
        "kind == 'violation'",
        "kind == 'violation' or amount is not None",
    ],
)
def test_aggregate_over_a_possibly_missing_attribute_is_rejected(
    tmp_path: Path, op: str, where: str
) -> None:
    """``amount`` of a violation is optional: summing it would either fail on the first
    event without one or skip it silently. The filter must guarantee it is there."""
    text = mutate((FACTS_END, aggregate_fact(op, where)))
    p = the_problem(tmp_path, text)
    assert p.location.path is not None
    assert p.location.path.startswith(f"{RULESET}.facts.fined")
    fact_lines = text.splitlines()[line_of(text, "      fined:") - 1 :][:7]
    assert p.location.line is not None
    assert text.splitlines()[p.location.line - 1] in fact_lines[2:5]  # op, of or where
    assert "'amount' may be missing" in p.message
    assert "and amount is not None" in p.message


@pytest.mark.parametrize(
    ("op", "value"),
    [("sum", 1200 + 350.5), ("max", 1200), ("min", 350.5)],
)
@pytest.mark.parametrize(
    "where",
    ["kind == 'violation' and amount is not None", "amount is not None and kind == 'violation'"],
)
def test_aggregate_with_a_guarded_filter_loads_and_counts_only_present_values(
    tmp_path: Path, op: str, value: float, where: str
) -> None:
    policy = load(tmp_path, mutate((FACTS_END, aggregate_fact(op, where))))
    events = [
        ev("v1", "H1", "violation", "2024-03-01", amount=1200),
        ev("v2", "H1", "violation", "2024-04-01"),
        ev("v3", "H1", "violation", "2024-05-01", amount=350.5),
        ev("v0", "H1", "violation", "2023-05-01", amount=99999),  # outside 1年之内
    ]
    r = res(graded(policy, [inst("H1")], events), "H1")
    fined = step(r, "fact.fined")
    assert fined["outcome"] == value
    assert fined["evidence"] == ["v1", "v3"]


def test_aggregate_over_a_required_attribute_needs_no_guard(tmp_path: Path) -> None:
    """``points`` of a ``reward`` is required by the core vocabulary: no guard needed."""
    fact = aggregate_fact("sum", "kind == 'reward'").replace("of: amount", "of: points")
    policy = load(tmp_path, mutate((FACTS_END, fact)))
    events = [
        ev("r1", "H1", "reward", "2024-03-01", points=2),
        ev("r2", "H1", "reward", "2024-04-01", points=3),
    ]
    assert step(res(graded(policy, [inst("H1")], events), "H1"), "fact.fined")["outcome"] == 5


# -- category names are checked -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "typo", "suggestion", "path"),
    [
        pytest.param(
            (C_CRITERION, "              when: violations >= 2 or category == 'hosptal'\n"),
            "hosptal",
            "hospital",
            f"{CRITERION}.when",
            id="criterion",
        ),
        pytest.param(
            (
                "        when: terminated\n",
                "        when: terminated and category != 'pharmacy_chian'\n",
            ),
            "pharmacy_chian",
            "pharmacy_chain",
            f"{RULESET}.exclusions[0].when",
            id="exclusion",
        ),
    ],
)
def test_misspelt_category_in_a_rule_is_rejected(
    tmp_path: Path, edit: tuple[str, str], typo: str, suggestion: str, path: str
) -> None:
    """``category == 'hosptal'`` would be false for every subject: the rule would silently
    never apply. It is a load error pointing at the value, with the near category."""
    text = mutate(edit)
    p = the_problem(tmp_path, text)
    assert p.code == "pack.expr"
    assert p.location.path == path
    assert p.location.line == line_of(text, f"'{typo}'")
    assert p.location.column == column_of(text, f"'{typo}'")
    assert f"{typo!r} is not a known value" in p.message
    assert f"did you mean {suggestion!r}?" in p.message


def test_misspelt_category_in_a_rollup_is_rejected(tmp_path: Path) -> None:
    text = MINI_PACK + ROLLUP.replace(
        "members: category == 'pharmacy'", "members: category == 'pharmacie'"
    )
    p = the_problem(tmp_path, text)
    assert p.location.path == f"{RULESET}.rollups[0].members"
    assert "did you mean 'pharmacy'?" in p.message


def test_correct_category_in_a_rule_loads(tmp_path: Path) -> None:
    policy = load(
        tmp_path,
        mutate((C_CRITERION, "              when: violations >= 2 or category == 'hospital'\n")),
    )
    run = graded(policy, [inst("H1"), inst("P1", "pharmacy")])
    assert (res(run, "H1").grade, res(run, "P1").grade) == ("C", "A")


# -- 四舍五入 --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rounded"),
    [
        (2.5, 3),
        (-2.5, -3),
        (0.5, 1),
        (-0.5, -1),
        (1.5, 2),
        (3.5, 4),
        (2.4, 2),
        (2.6, 3),
        (-2.4, -2),
        (4, 4),
        (0, 0),
        (2.675, 3),
        (1234567.5, 1234568),
    ],
)
def test_round_half_up(value: float, rounded: int) -> None:
    """四舍五入: a half goes away from zero (Python's round(2.5) is 2, banker's rounding)."""
    assert round_half_up(value) == rounded
    assert type(round_half_up(value)) is int


def test_round_in_a_pack_expression_is_half_up(tmp_path: Path) -> None:
    """5 violations / 2 = 2.5 → 3 and -2.5 → -3 inside a pack, where round() is 四舍五入."""
    facts = (
        "      half:\n"
        "        title: {zh: 违法违规次数之半}\n"
        "        op: compute\n"
        "        expr: round(violations / 2)\n"
        "        clause: 一(1)\n"
        "      minus_half:\n"
        "        title: {zh: 违法违规次数之半的相反数}\n"
        "        op: compute\n"
        "        expr: round(-violations / 2)\n"
        "        clause: 一(1)\n" + FACTS_END
    )
    text = mutate(
        (FACTS_END, facts),
        (C_CRITERION, "              when: round(violations / 2) >= 3\n"),
    )
    policy = load(tmp_path, text)
    five = [ev(f"v{i}", "H1", "violation", f"2024-0{i}-01") for i in range(1, 6)]
    r = res(graded(policy, [inst("H1")], five), "H1")
    assert step(r, "fact.half")["outcome"] == 3
    assert step(r, "fact.minus_half")["outcome"] == -3
    assert r.grade == "C"  # round(2.5) >= 3 holds; Python's round would give 2
    four = five[:4]  # 4 / 2 = 2 → not C
    assert res(graded(policy, [inst("H1")], four), "H1").grade == "B"


# -- impossible dates in a pack -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "value"),
    [
        ("effective: {from: 2024-01-01}", "effective: {from: 2024-02-30}", "2024-02-30"),
        ("effective: {from: 2024-01-01}", "effective:\n    from: 2023-02-29", "2023-02-29"),
    ],
)
def test_impossible_unquoted_date_is_a_located_value_error(
    tmp_path: Path, old: str, new: str, value: str
) -> None:
    """YAML reads an unquoted 2024-02-30 as a date and fails: a pack.yaml.value problem at its
    line and column, not a traceback or a misleading syntax error."""
    text = mutate((old, new))
    p = the_problem(tmp_path, text)
    assert p.code == "pack.yaml.value"
    assert p.location.line == line_of(text, value)
    assert p.location.column == column_of(text, value)
    assert value in p.message


def test_impossible_unquoted_date_is_a_located_pack_error(tmp_path: Path) -> None:
    """Whatever its code, the problem names the file, line and column of the bad date."""
    text = mutate(("effective: {from: 2024-01-01}", "effective: {from: 2024-02-30}"))
    p = the_problem(tmp_path, text)
    assert p.code.startswith("pack.yaml.")
    assert p.location.line == line_of(text, "2024-02-30")
    assert p.location.column == column_of(text, "2024-02-30")


def test_leap_day_in_a_pack_is_a_date(tmp_path: Path) -> None:
    policy = load(
        tmp_path, mutate(("effective: {from: 2024-01-01}", "effective: {from: 2024-02-29}"))
    )
    assert policy.model.pack.effective.from_ == dt.date(2024, 2, 29)


# -- calendar_year windows never look ahead -----------------------------------------------------

CALENDAR_WINDOW = """\
windows:
  previous_year:
    title: {{zh: 上一年度}}
    type: calendar_year
    offset: {offset}
    clause: 一(1)
"""


def test_calendar_year_window_with_a_future_offset_is_rejected(tmp_path: Path) -> None:
    """ "上一年度" is offset -1; an offset of 1 would read a year that has not happened."""
    text = mutate((WINDOWS, CALENDAR_WINDOW.format(offset=1)))
    p = the_problem(tmp_path, text)
    assert p.code.startswith("pack.schema.")
    assert p.location.path == "windows.previous_year.offset"
    assert p.location.line == line_of(text, "offset: 1")
    assert "less than or equal to 0" in p.message


def test_calendar_year_window_of_the_previous_year(tmp_path: Path) -> None:
    """上一年度1月1日至12月31日 as of 2024-12-31 is 2023-01-01 .. 2023-12-31."""
    text = mutate(
        (WINDOWS, CALENDAR_WINDOW.format(offset=-1)),
        (
            "        where: kind == 'violation'\n        window: lookback_1y\n",
            "        where: kind == 'violation'\n        window: previous_year\n",
        ),
    )
    policy = load(tmp_path, text)
    events = [
        ev("a", "H1", "violation", "2022-12-31"),
        ev("b", "H1", "violation", "2023-01-01"),
        ev("c", "H1", "violation", "2023-12-31"),
        ev("d", "H1", "violation", "2024-01-01"),
    ]
    r = res(graded(policy, [inst("H1")], events), "H1")
    assert step(r, "window.previous_year")["outcome"] == {"from": "2023-01-01", "to": "2023-12-31"}
    assert step(r, "fact.violations")["evidence"] == ["b", "c"]


def test_offset_on_a_rolling_window_is_rejected(tmp_path: Path) -> None:
    text = mutate(("    length: 1y\n", "    length: 1y\n    offset: -1\n"))
    p = the_problem(tmp_path, text)
    assert p.location.path is not None and p.location.path.startswith("windows.lookback_1y")
    assert "'offset' only applies to a calendar_year window" in p.message


# -- a roll-up failing on a member --------------------------------------------------------------

ROLLUP = """\
    rollups:
      - id: chain
        title: {zh: 连锁药店门店汇总}
        clause: 一(4)
        members: category == 'pharmacy'
        head: chain_id
        counts: grade == 'C'
        caps:
          - {min: 1, cap: B, clause: 一(4)}
"""


def test_rollup_expression_failing_on_a_member_names_the_subject(tmp_path: Path) -> None:
    """``10 // beds`` passes the load-time checks (beds is guarded) but fails on beds 0: an
    EvaluationError naming the member and the roll-up, never a bare ZeroDivisionError."""
    text = MINI_PACK + ROLLUP.replace(
        "members: category == 'pharmacy'", "members: beds is not None and 10 // beds > 1"
    )
    policy = load(tmp_path, text)
    subjects = [
        inst("L1", "pharmacy_chain"),
        inst("S1", "pharmacy", chain_id="L1", beds=2),
        inst("S2", "pharmacy", chain_id="L1", beds=0),
    ]
    with pytest.raises(yc.EvaluationError) as info:
        policy.evaluate(subjects, [], as_of=AS_OF)
    [p] = info.value.problems
    assert p.code == "eval.step-failed"
    assert "'S2'" in p.message
    assert "'chain'" in p.message
    assert "ZeroDivisionError" in p.message


def test_the_same_rollup_runs_when_no_member_fails(tmp_path: Path) -> None:
    text = MINI_PACK + ROLLUP.replace(
        "members: category == 'pharmacy'", "members: beds is not None and 10 // beds > 1"
    )
    policy = load(tmp_path, text)
    subjects = [
        inst("L1", "pharmacy_chain"),
        inst("S1", "pharmacy", chain_id="L1", beds=2),
        inst("S2", "pharmacy", chain_id="L1", beds=20),  # 10 // 20 = 0: not a member
    ]
    events = [ev(f"v{i}", "S1", "violation", f"2024-0{i}-01") for i in (1, 2)]
    run = graded(policy, subjects, events)
    assert res(run, "S1").grade == "C"
    assert res(run, "L1").grade == "B"  # capped by one member at C
    assert step(res(run, "L1"), "rollup.chain.1")["evidence"] == ["S1"]


# -- the pack's effective period -----------------------------------------------------------------


def test_zhenjiang_as_of_before_the_pack_is_in_force_warns() -> None:
    """镇医保〔2024〕82号: the pack is in force from 2024-01-01 (effective.from)."""
    policy = yc.load_policy(ZHENJIANG)
    subjects = [inst("H1")]
    before = policy.evaluate(subjects, [], as_of=dt.date(2023, 12, 31))
    warnings = [w for w in before.warnings if w.code == "eval.pack-not-in-force"]
    assert len(warnings) == 1
    w = warnings[0]
    assert "2023-12-31" in w.message
    assert "2024-01-01" in w.message
    assert w.location.file == str(ZHENJIANG)
    assert w.location.path == "pack.effective"
    effective = line_of(ZHENJIANG.read_text(encoding="utf-8"), "  effective:")
    assert w.location.line in (effective, effective + 1)
    assert before.get("H1") is not None  # a warning, not a refusal
    on_first_day = policy.evaluate(subjects, [], as_of=dt.date(2024, 1, 1))
    assert "eval.pack-not-in-force" not in [w.code for w in on_first_day.warnings]


@pytest.mark.parametrize(
    ("as_of", "warned"),
    [
        (dt.date(2023, 12, 31), True),
        (dt.date(2024, 1, 1), False),
        (dt.date(2024, 6, 30), False),
        (dt.date(2024, 7, 1), True),
    ],
)
def test_pack_effective_period_is_inclusive_at_both_ends(
    tmp_path: Path, as_of: dt.date, warned: bool
) -> None:
    policy = load(
        tmp_path,
        mutate(("effective: {from: 2024-01-01}", "effective: {from: 2024-01-01, to: 2024-06-30}")),
    )
    run = graded(policy, [inst("H1")], as_of=as_of)
    codes = [w.code for w in run.warnings]
    assert ("eval.pack-not-in-force" in codes) is warned


def test_a_single_pack_file_outside_its_period_warns_on_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A single pack evaluated before its effective.from is run with a warning (one may test a
    pack on older data); only a folder of versions refuses a date none of them covers."""
    from yibao_credit.cli.main import main

    subjects = tmp_path / "s.jsonl"
    subjects.write_text(json.dumps(inst("H1")) + "\n", encoding="utf-8")
    code = main(["evaluate", str(ZHENJIANG), "--subjects", str(subjects), "--as-of", "2023-12-31"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "eval.pack-not-in-force" in err
    assert json.loads(out.splitlines()[0])["subject_id"] == "H1"


JIANGSU_2024 = ROOT / "policies" / "jiangsu_perf" / "jiangsu_perf_2024.yaml"


@pytest.mark.parametrize(
    ("as_of", "warned"),
    [
        (dt.date(2025, 1, 1), False),  # evaluates 2024: the version's own year
        (dt.date(2025, 12, 31), False),
        (dt.date(2024, 12, 31), True),  # evaluates 2023
        (dt.date(2026, 1, 1), True),  # evaluates 2025
    ],
)
def test_a_pack_versioned_by_the_evaluated_year_is_in_force_for_that_year(
    as_of: dt.date, warned: bool
) -> None:
    """苏医保办发〔2023〕26号 三(一): the evaluated year is the previous calendar year, and the
    2024 table is in force for the year 2024, evaluated during 2025 — no warning then."""
    policy = yc.load_policy(JIANGSU_2024)
    subject = {**inst("H1"), "inpatient": True}
    run = policy.evaluate([subject], [], as_of=as_of)
    found = [w for w in run.warnings if w.code == "eval.pack-not-in-force"]
    assert bool(found) is warned
    if warned:
        assert "evaluated period" in found[0].message


# -- keyword arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "when",
    [
        "round(x=violations) >= 2",
        "round(violations, ndigits=0) >= 2",
        "max(violations, 1, key=violations) >= 2",
        "add_period(designated_on, period='1y') <= as_of",
    ],
)
def test_keyword_arguments_are_rejected(tmp_path: Path, when: str) -> None:
    text = mutate((C_CRITERION, f"              when: {when}\n"))
    p = the_problem(tmp_path, text)
    assert p.code == "pack.expr"
    assert p.location.path == f"{CRITERION}.when"
    assert p.location.line == line_of(text, when)
    assert "keyword arguments are not allowed" in p.message
