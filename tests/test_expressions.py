"""The expression language: simpleeval's syntax, whitelisted, type-checked, compiled once.

Unit tests of ``parse_expr`` on small typed scopes; the date functions against 《民法典》第202条
(a period of years or months ends on the corresponding day, or on the month's last day when
there is none); and a differential test: random well-typed expressions compiled the way the
engine compiles them give the same values as simpleeval, whose syntax packs are written in.
"""

from __future__ import annotations

import ast
import datetime as dt
import inspect
from collections.abc import Mapping
from typing import Any

import pytest
import simpleeval  # type: ignore[import-untyped]
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yibao_credit.compile.expressions import (
    _ALLOWED_NODES,
    FUNCTIONS,
    MAX_DEPTH,
    MAX_LENGTH,
    TypeInfo,
    days_between,
    parse_expr,
)
from yibao_credit.engine.pyexpr import to_python
from yibao_credit.engine.runtime import RUNTIME
from yibao_credit.errors import Location, PackError, Problem
from yibao_credit.time.periods import add_period

D = dt.date
WHERE = Location("pack.yaml", 7, 15, "rulesets.r.facts.f.where")

SCOPE: dict[str, TypeInfo] = {
    "n": TypeInfo("int"),
    "m": TypeInfo("int"),
    "amount": TypeInfo("number"),
    "x": TypeInfo("int", optional=True),
    "flag": TypeInfo("bool"),
    "maybe": TypeInfo("bool", optional=True),
    "name": TypeInfo("str", optional=True),
    "code": TypeInfo("str"),
    "reason": TypeInfo("str", optional=True, choices=frozenset({"voluntary", "other"})),
    "designated_on": TypeInfo("date"),
    "as_of": TypeInfo("date"),
}


def check(text: str, expect: str | None = "bool", scope: Mapping[str, TypeInfo] = SCOPE) -> Any:
    return parse_expr(text, scope, WHERE, expect=expect)


def rejected(text: str, expect: str | None = "bool") -> Problem:
    with pytest.raises(PackError) as info:
        check(text, expect)
    [problem] = info.value.problems
    assert problem.code == "pack.expr"
    assert problem.location.file == "pack.yaml"
    assert problem.location.line == 7
    assert problem.location.path == "rulesets.r.facts.f.where"
    assert problem.message.endswith(f"— in: {text}")
    return problem


def run(text: str, names: Mapping[str, Any], expect: str | None = None) -> Any:
    """Compile as the engine does (identity renaming) and evaluate."""
    expr = check(text, expect)
    source = to_python(expr, lambda name: name)
    return eval(compile(source, "<expr>", "eval"), dict(RUNTIME), dict(names))


# -- what an expression may say --------------------------------------------------------------


def test_accepted_expression_reports_its_type_and_names() -> None:
    expr = check("n >= 2 and (flag or m == n)")
    assert expr.type == TypeInfo("bool")
    assert expr.names == ("n", "flag", "m")
    assert check("n + m * 2", expect=None).type.type == "int"
    assert check("n + amount", expect=None).type.type == "number"
    assert check("n / 2", expect=None).type.type == "number"
    assert check("add_period(designated_on, '1y')", expect=None).type.type == "date"


@pytest.mark.parametrize(
    ("text", "fragment", "offset"),
    [
        ("missing >= 2", "undefined name 'missing'", 0),
        ("nn >= 2", "did you mean 'n'?", 0),
        ("n >= 2 and flg", "did you mean 'flag'?", 11),
        ("min >= 2", "'min' is a function", 0),
    ],
)
def test_undefined_name_is_located_at_the_name(text: str, fragment: str, offset: int) -> None:
    p = rejected(text)
    assert fragment in p.message
    assert p.location.column == WHERE.column + offset  # type: ignore[operator]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("n.__class__ is None", "attribute access"),
        ("code.upper() == 'A'", "attribute access"),
        ("(n, m)[0] == 1", "indexing"),
        ("n ** 2 > 3", "powers (**)"),
        ("(lambda: True)()", "Lambda"),
        ("1 in [v for v in (n, m)]", "ListComp"),
        ("1 in {v for v in (n, m)}", "SetComp"),
        ("{'a': 1} == {'a': 1}", "Dict"),
        ("f'{n}' == '1'", "JoinedStr"),
        ("(k := n) > 1", "NamedExpr"),
        ("min(*(n, m)) > 1", "Starred"),
        ("n << 2 > 1", "LShift"),
        ("n & 1 == 1", "BitAnd"),
        ("~n == 1", "Invert"),
        ("round(amount, ndigits=1) > 1", "keyword"),
        ("open('x') is None", "unknown function 'open'"),
        ("__import__('os') is None", "unknown function '__import__'"),
        ("eval('1') == 1", "unknown function 'eval'"),
        ("n(1) == 1", "unknown function 'n'"),
        ("b'x' == b'x'", "not allowed"),
        ("... is None", "not allowed"),
    ],
)
def test_disallowed_constructs(text: str, fragment: str) -> None:
    assert fragment in rejected(text).message


def test_syntax_error_and_empty_and_limits() -> None:
    assert "syntax error" in rejected("n >= ").message
    with pytest.raises(PackError, match="an expression is required"):
        check("  ")
    long = " or ".join(["flag"] * (MAX_LENGTH // 8 + 1))
    assert len(long) > MAX_LENGTH
    assert "longer than" in rejected(long).message
    check("not " * (MAX_DEPTH - 2) + "flag")  # nesting within the limit is fine
    deep = "not " * (MAX_DEPTH + 1) + "flag"
    assert "deeper than" in rejected(deep).message


@pytest.mark.parametrize(
    ("text", "fragment", "at"),
    [
        ("designated_on > 3", "compares date with int", "3"),
        ("code == 1", "compares str with int", "1"),
        ("n and flag", "'and' needs true/false operands; this one is int", "n"),
        ("flag or n", "'or' needs true/false operands; this one is int", "n"),
        ("not n", "'not' needs a true/false operand", "not"),
        ("n + flag > 1", "arithmetic needs numbers", "n"),
        ("code + 'x' == 'ax'", "arithmetic needs numbers", "code"),
        ("designated_on - as_of > 3", "arithmetic needs numbers", "designated_on"),
        ("-flag", "a sign needs a number", "-"),
        ("n == None", "is None", "None"),
        ("n is 3", "may only compare with None", "3"),
        ("flag < True", "no order", "True"),
        ("n in ('a', 'b')", "looks for a int in a list of str", "("),
        ("n in (1, 'b')", "a list mixes types", "("),
        ("n", "must be bool", "n"),
        ("(n if flag else 'x') == 1", "the branches differ", "n"),
        ("(1 if n else 2) == 1", "the condition must be true/false", "n"),
        ("abs(flag) > 1", "abs() wants numeric", "abs"),
        ("year(n) == 2024", "year() wants date", "year"),
        ("days_between(designated_on) > 1", "takes 2 argument(s), got 1", "days_between"),
        ("min() > 1", "needs at least two arguments", "min"),
        ("max(n) > 1", "needs at least two arguments", "max"),
        ("add_period(designated_on, '1w') > as_of", "'1w' is not a period", "'1w'"),
        ("add_period(designated_on, 'y') > as_of", "'y' is not a period", "'y'"),
        ("reason == 'volontary'", "did you mean 'voluntary'?", "'volontary'"),
        ("reason in ('voluntary', 'volontary')", "'volontary' is not a known value", "'volontary'"),
    ],
)
def test_type_errors(text: str, fragment: str, at: str) -> None:
    p = rejected(text)
    assert fragment in p.message
    assert p.location.column == WHERE.column + text.index(at)  # type: ignore[operator]


# -- optional values and narrowing -----------------------------------------------------------


def test_optional_value_needs_a_guard_before_ordering() -> None:
    p = rejected("x > 3")
    assert "x may be missing; guard it first: 'x is not None and ...'" in p.message


@pytest.mark.parametrize(
    "text",
    [
        "x is not None and x > 3",
        "flag and x is not None and 3 < x <= 10",
        "(x is not None and m is not None) and x + m > 3",
        "x > 3 if x is not None else False",
        "(x if x is not None else 0) > 3",
        "x is not None and abs(x) > 3",
        "maybe is not None and maybe",
        "x == 3",  # equality with a missing value is simply false
        "reason == 'voluntary'",
    ],
)
def test_narrowing_accepts_guarded_uses(text: str) -> None:
    assert check(text).type == TypeInfo("bool")


@pytest.mark.parametrize(
    "text",
    [
        "x > 3 and x is not None",  # the guard must come first
        "x is not None or x > 3",  # a false guard proves nothing
        "not (x is not None) and x > 3",
        "x is None and x > 3",
        "x > 3 if x is None else False",
        "x > 5 if x is not None else x > 3",  # the else branch is not guarded
        "(x is not None and flag) or x > 3",  # the guard does not leak out of its 'and'
        "x + 1 > 3",
        "maybe and flag",
        "not maybe",
        "abs(x) > 3",
    ],
)
def test_narrowing_rejects_unguarded_uses(text: str) -> None:
    rejected(text)


def test_guarded_expression_runs_on_missing_and_present_values() -> None:
    assert run("x is not None and x > 3", {"x": None}) is False
    assert run("x is not None and x > 3", {"x": 4}) is True
    assert run("(x if x is not None else 0) > 3", {"x": None}) is False


def test_containment_in_an_optional_text_needs_a_guard() -> None:
    rejected("'医院' in name")


def test_min_of_a_single_number_is_rejected_at_load_time() -> None:
    rejected("min(n) > 1")


# -- functions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "period", "end"),
    [
        # 《民法典》第202条: one year from 29 February ends on 28 February (no 29th).
        (D(2024, 2, 29), "1y", D(2025, 2, 28)),
        # 《民法典》第202条: six months from 30 June end on 30 December (the same day).
        (D(2025, 6, 30), "6m", D(2025, 12, 30)),
        (D(2024, 8, 31), "1m", D(2024, 9, 30)),  # September has no 31st
        (D(2024, 1, 31), "1m", D(2024, 2, 29)),
        (D(2023, 12, 31), "1y", D(2024, 12, 31)),
        (D(2024, 12, 31), "30d", D(2025, 1, 30)),
        (D(2024, 2, 29), "4y", D(2028, 2, 29)),
    ],
)
def test_add_period_ends_per_civil_code_article_202(start: D, period: str, end: D) -> None:
    assert add_period(start, period) == end
    assert run(f"add_period(designated_on, '{period}')", {"designated_on": start}) == end


def test_add_period_agreement_year_reading() -> None:
    """三(一)5(1) reading: the first agreement year from 2024-02-29 has ended on 2025-02-28."""
    text = "add_period(designated_on, '1y') <= as_of"
    start = {"designated_on": D(2024, 2, 29)}
    assert run(text, {**start, "as_of": D(2025, 2, 28)}, expect="bool") is True
    assert run(text, {**start, "as_of": D(2025, 2, 27)}, expect="bool") is False


def test_days_between_and_year() -> None:
    assert days_between(D(2024, 1, 1), D(2024, 12, 31)) == 365  # 2024 is a leap year
    assert days_between(D(2024, 3, 1), D(2024, 2, 28)) == -2
    names = {"designated_on": D(2023, 3, 1), "as_of": D(2024, 3, 1)}
    assert run("days_between(designated_on, as_of)", names) == 366
    assert check("days_between(designated_on, as_of)", expect=None).type.type == "int"
    assert run("year(as_of) - year(designated_on)", names) == 1
    assert check("year(as_of) == 2024").type == TypeInfo("bool")


def test_min_max_abs_round_types_and_values() -> None:
    names = {"n": 3, "m": -7, "amount": 2.5}
    assert check("max(n, m)", expect=None).type.type == "int"
    assert check("max(n, amount)", expect=None).type.type == "number"
    assert check("round(amount)", expect=None).type.type == "int"
    assert run("max(n, m, 0)", names) == 3
    assert run("min(n, m)", names) == -7
    assert run("abs(m)", names) == 7
    assert run("round(amount * 3)", names) == 8  # round half to even: 7.5 → 8


def test_every_function_is_compiled_to_its_implementation() -> None:
    for name, fn in FUNCTIONS.items():
        assert RUNTIME[f"_fn_{name}"] is fn.impl


def test_compiled_code_has_no_python_builtins_beyond_the_few_it_needs() -> None:
    builtins = RUNTIME["__builtins__"]
    assert isinstance(builtins, dict)
    for name in ("open", "__import__", "eval", "exec", "getattr", "compile"):
        assert name not in builtins


# -- differential test against simpleeval ----------------------------------------------------

INT_NAMES = ("a", "b", "c")
BOOL_NAMES = ("p", "q")
DIFF_SCOPE = {
    **{n: TypeInfo("int") for n in INT_NAMES},
    **{n: TypeInfo("bool") for n in BOOL_NAMES},
}
SIMPLEEVAL_FUNCTIONS = {"min": min, "max": max, "abs": abs}

_int_const = st.integers(min_value=-30, max_value=30).map(str)
_cmp = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])


@st.composite
def int_expr(draw: st.DrawFn, depth: int = 3) -> str:
    """A well-typed int expression; // and % divide by a non-zero number by construction."""
    if depth <= 0 or draw(st.integers(0, 3)) == 0:
        return draw(st.one_of(st.sampled_from(INT_NAMES), _int_const))
    sub = int_expr(depth - 1)
    form = draw(st.integers(0, 8))
    if form <= 2:
        op = draw(st.sampled_from(["+", "-", "*"]))
        return f"({draw(sub)} {op} {draw(sub)})"
    if form == 3:
        op = draw(st.sampled_from(["//", "%"]))
        sign = draw(st.sampled_from(["", "-"]))
        return f"({draw(sub)} {op} {sign}(abs({draw(sub)}) + 1))"
    if form == 4:
        return f"({draw(st.sampled_from(['-', '+']))}{draw(sub)})"
    if form == 5:
        return f"({draw(sub)} if {draw(bool_expr(depth - 1))} else {draw(sub)})"
    if form == 6:
        fn = draw(st.sampled_from(["min", "max"]))
        args = draw(st.lists(sub, min_size=2, max_size=3))
        return f"{fn}({', '.join(args)})"
    if form == 7:
        return f"abs({draw(sub)})"
    return draw(st.one_of(st.sampled_from(INT_NAMES), _int_const))


@st.composite
def bool_expr(draw: st.DrawFn, depth: int = 3) -> str:
    """A well-typed bool expression over the int and bool names."""
    if depth <= 0 or draw(st.integers(0, 4)) == 0:
        return draw(st.sampled_from([*BOOL_NAMES, "True", "False"]))
    isub = int_expr(depth - 1)
    bsub = bool_expr(depth - 1)
    form = draw(st.integers(0, 7))
    if form <= 1:
        return f"({draw(isub)} {draw(_cmp)} {draw(isub)})"
    if form == 2:
        return f"({draw(isub)} {draw(_cmp)} {draw(isub)} {draw(_cmp)} {draw(isub)})"
    if form == 3:
        op = draw(st.sampled_from(["and", "or"]))
        parts = draw(st.lists(bsub, min_size=2, max_size=3))
        return "(" + f" {op} ".join(parts) + ")"
    if form == 4:
        return f"(not {draw(bsub)})"
    if form == 5:
        return f"({draw(bsub)} if {draw(bsub)} else {draw(bsub)})"
    if form == 6:
        op = draw(st.sampled_from(["in", "not in"]))
        items = draw(st.lists(_int_const, min_size=1, max_size=4))
        bracket = draw(st.sampled_from(["({},)", "[{}]", "{{{}}}"]))
        return f"({draw(isub)} {op} {bracket.format(', '.join(items))})"
    return f"({draw(bsub)} {draw(st.sampled_from(['==', '!=']))} {draw(bsub)})"


_values = st.fixed_dictionaries(
    {
        **{n: st.integers(min_value=-50, max_value=50) for n in INT_NAMES},
        **{n: st.booleans() for n in BOOL_NAMES},
    }
)


def _compiled_value(text: str, names: Mapping[str, Any]) -> tuple[str, Any]:
    expr = parse_expr(text, DIFF_SCOPE, WHERE, expect=None)
    source = to_python(expr, lambda name: name)
    value = eval(compile(source, "<expr>", "eval"), dict(RUNTIME), dict(names))
    return expr.type.type, value


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(int_expr(), bool_expr()), names=_values)
def test_compiled_expressions_agree_with_simpleeval(text: str, names: dict[str, Any]) -> None:
    """Our rewrite-to-Python path computes what simpleeval computes for the same text."""
    static_type, ours = _compiled_value(text, names)
    theirs = simpleeval.EvalWithCompoundTypes(
        names=dict(names), functions=dict(SIMPLEEVAL_FUNCTIONS)
    ).eval(text)
    assert ours == theirs
    assert type(ours) is type(theirs)
    # The checker's static type is the type of the value.
    assert static_type == {bool: "bool", int: "int"}[type(ours)]


@pytest.mark.parametrize(
    "text",
    [
        "-(-a) == a",
        "(a - (b - c)) != ((a - b) - c) or c == 0",
        "-(a % 3) == -a % 3 or a % 3 == 0",
        "not (p and q) == (not p or not q)",
        "(1 if p else 2) + 3 == 4 or not p",
        "(a if p else b if q else c) in (a, b, c)",
        "a < b < c or not (a < b and b < c)",
        "min(a, b) + max(a, b) == a + b",
    ],
)
def test_precedence_survives_the_rewrite(text: str) -> None:
    """Hand-picked shapes where a lost parenthesis would change the value."""
    for names in (
        {"a": 1, "b": 2, "c": 3, "p": True, "q": False},
        {"a": -4, "b": 7, "c": 0, "p": False, "q": True},
    ):
        _, ours = _compiled_value(text, names)
        theirs = simpleeval.EvalWithCompoundTypes(
            names=dict(names), functions=dict(SIMPLEEVAL_FUNCTIONS)
        ).eval(text)
        assert ours == theirs


# -- our grammar is a subset of simpleeval's -------------------------------------------------

# One expression per allowed node type, each evaluated by simpleeval below.
_SAMPLES: dict[type[ast.AST], str] = {
    ast.Expression: "1",
    ast.BoolOp: "True and False",
    ast.And: "True and False",
    ast.Or: "True or False",
    ast.UnaryOp: "-1",
    ast.Not: "not True",
    ast.USub: "-1",
    ast.UAdd: "+1",
    ast.BinOp: "1 + 2",
    ast.Add: "1 + 2",
    ast.Sub: "1 - 2",
    ast.Mult: "2 * 3",
    ast.Div: "3 / 2",
    ast.FloorDiv: "3 // 2",
    ast.Mod: "3 % 2",
    ast.Compare: "1 < 2",
    ast.Eq: "1 == 2",
    ast.NotEq: "1 != 2",
    ast.Lt: "1 < 2",
    ast.LtE: "1 <= 2",
    ast.Gt: "1 > 2",
    ast.GtE: "1 >= 2",
    ast.In: "1 in (1, 2)",
    ast.NotIn: "1 not in [1, 2]",
    ast.Is: "v is None",
    ast.IsNot: "v is not None",
    ast.IfExp: "1 if True else 2",
    ast.Call: "max(1, 2)",
    ast.Name: "v",
    ast.Load: "v",
    ast.Constant: "'x'",
    ast.Tuple: "(1, 2)",
    ast.List: "[1, 2]",
    ast.Set: "{1, 2}",
}


def test_allowed_nodes_are_a_subset_of_what_simpleeval_handles() -> None:
    """Each node type we allow is dispatched by simpleeval: as a node, an operator, or (for
    the few that are not dispatched on) handled inside the evaluator of their parent."""
    evaluator = simpleeval.EvalWithCompoundTypes()
    nodes = set(evaluator.nodes)
    operators = set(evaluator.operators)
    boolop_source = inspect.getsource(simpleeval.SimpleEval._eval_boolop)
    for node_type in _ALLOWED_NODES:
        if node_type in nodes or node_type in operators:
            continue
        if node_type in (ast.And, ast.Or):
            # BoolOp's evaluator switches on the operator itself, not through `operators`.
            assert f"ast.{node_type.__name__}" in boolop_source
        elif node_type is ast.Expression:
            # simpleeval parses in exec mode and evaluates the single expression statement.
            assert ast.Expr in nodes
            assert isinstance(simpleeval.SimpleEval.parse("1"), ast.Expr)
        elif node_type is ast.Load:
            # An expression context: carried by Name, never dispatched on.
            assert ast.Name in nodes
        else:
            pytest.fail(f"{node_type.__name__} is allowed here but simpleeval has no handler")


@pytest.mark.parametrize("node_type", _ALLOWED_NODES, ids=lambda t: t.__name__)
def test_each_allowed_node_is_evaluated_by_simpleeval(node_type: type[ast.AST]) -> None:
    assert node_type in _SAMPLES, f"add a sample expression for {node_type.__name__}"
    sample = _SAMPLES[node_type]
    assert any(isinstance(n, node_type) for n in ast.walk(ast.parse(sample, mode="eval")))
    evaluator = simpleeval.EvalWithCompoundTypes(
        names={"v": 1}, functions=dict(SIMPLEEVAL_FUNCTIONS)
    )
    expected = eval(compile(sample, "<sample>", "eval"), {"max": max}, {"v": 1})
    assert evaluator.eval(sample) == expected


@pytest.mark.parametrize(
    "node_type", [ast.Attribute, ast.Subscript, ast.Pow, ast.ListComp, ast.Lambda, ast.Dict]
)
def test_dangerous_nodes_are_not_allowed(node_type: type[ast.AST]) -> None:
    assert node_type not in _ALLOWED_NODES
