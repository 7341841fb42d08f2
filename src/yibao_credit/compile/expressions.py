"""Conditions and filters: small expressions in simpleeval's syntax, checked once at load time.

An expression is parsed with Python's ``ast`` and accepted only if every node is one of a
short list — a subset of what simpleeval evaluates (a test keeps it so, and checks our results
against simpleeval's on random expressions). No attribute access, subscripts, comprehensions,
lambdas or powers: a pack cannot reach Python internals, files or unbounded computation. Names
are resolved against a typed scope, so an undefined name, a misspelt event kind or comparing a
date with a number is an error at the pack's line, not a surprise on the millionth subject.

A checked expression (``Expr``) keeps its tree: each back-end prints it in its own language
(``engine.pyexpr`` as Python, a SQL back-end as SQL), never by substituting into its text.
"""

from __future__ import annotations

import ast
import datetime as dt
import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from yibao_credit.errors import Location, PackError, Problem
from yibao_credit.time.periods import add_period, parse_period

MAX_LENGTH = 2000


MAX_DEPTH = 40


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """The static type of a name or sub-expression."""

    type: str  # str, int, number, bool, date, none, seq; "conflict" when kinds disagree
    optional: bool = False
    choices: frozenset[str] | None = None
    element: str | None = None  # for seq literals

    def describe(self) -> str:
        return f"{self.type} (may be missing)" if self.optional else self.type


NUMERIC = {"int", "number"}


def round_half_up(value: float | Fraction) -> int:
    """四舍五入: halves go up (2.5 → 3, -2.5 → -3), as Chinese rules mean by rounding."""
    if isinstance(value, Fraction):
        half_up = math.floor(abs(value) + Fraction(1, 2))
        return half_up if value >= 0 else -half_up
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def linear(x: float, x0: float, x1: float, y0: float, y1: float) -> float:
    """Points on a straight line between two bounds, held at the bounds beyond them."""
    if x0 == x1:
        return y1 if x >= x1 else y0
    t = (x - x0) / (x1 - x0)
    t = 0.0 if t < 0 else 1.0 if t > 1 else t
    return y0 + t * (y1 - y0)


def days_between(start: dt.date, end: dt.date) -> int:
    return (end - start).days


def year_of(day: dt.date) -> int:
    return day.year


@dataclass(frozen=True, slots=True)
class Function:
    impl: Callable[..., Any]
    args: tuple[str, ...]  # argument types; "numeric" accepts int or number; "*numeric" variadic
    returns: str
    doc: str


FUNCTIONS: dict[str, Function] = {
    "min": Function(min, ("*numeric",), "number", "smallest of the numbers"),
    "max": Function(max, ("*numeric",), "number", "largest of the numbers"),
    "abs": Function(abs, ("numeric",), "number", "absolute value"),
    "round": Function(
        round_half_up, ("numeric",), "int", "nearest whole number, halves up (四舍五入)"
    ),
    "add_period": Function(
        add_period,
        ("date", "str"),
        "date",
        "the day a period ends, per 《民法典》第202条: add_period(designated_on, '1y')",
    ),
    "days_between": Function(days_between, ("date", "date"), "int", "days from start to end"),
    "year": Function(year_of, ("date",), "int", "the calendar year of a date"),
    "linear": Function(
        lambda x, x0, x1, y0, y1: linear(x, x0, x1, y0, y1),
        ("numeric", "numeric", "numeric", "numeric", "numeric"),
        "number",
        "linear(x, x0, x1, y0, y1): y0 at x0, y1 at x1, straight between, held beyond",
    ),
    "text": Function(
        lambda n: str(n),
        ("numeric",),
        "str",
        "a whole number as text, e.g. a period label: text(year(as_of) - 1)",
    ),
}


_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Is,
    ast.IsNot,
    ast.IfExp,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Tuple,
    ast.List,
    ast.Set,
)


"""Every node an expression may contain; all of them are nodes simpleeval evaluates too."""


@dataclass(frozen=True)
class Expr:
    """A checked expression: its text, tree, the names it reads and its type."""

    text: str
    tree: ast.Expression
    names: tuple[str, ...]
    type: TypeInfo


class _Silent(Exception):
    """A name whose own definition failed (already reported): say nothing more here."""


class _Fail(Exception):
    def __init__(self, node: ast.AST | None, message: str) -> None:
        super().__init__(message)
        self.node = node
        self.message = message


def suggest_name(name: str, known: Mapping[str, Any] | frozenset[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Checker:
    def __init__(self, scope: Mapping[str, TypeInfo], scope_name: str) -> None:
        self.scope = scope
        self.scope_name = scope_name
        self.names: list[str] = []

    def fail(self, node: ast.AST, message: str) -> _Fail:
        return _Fail(node, message)

    def check(self, node: ast.AST, narrowed: frozenset[str] = frozenset()) -> TypeInfo:
        method = getattr(self, f"c_{type(node).__name__}", None)
        if method is None:
            raise self.fail(node, f"{type(node).__name__} is not allowed in an expression")
        result: TypeInfo = method(node, narrowed)
        return result

    def c_Constant(self, node: ast.Constant, narrowed: frozenset[str]) -> TypeInfo:
        v = node.value
        if v is None:
            return TypeInfo("none")
        if isinstance(v, bool):
            return TypeInfo("bool")
        if isinstance(v, int):
            return TypeInfo("int")
        if isinstance(v, float):
            return TypeInfo("number")
        if isinstance(v, str):
            return TypeInfo("str")
        raise self.fail(node, f"constant {v!r} is not allowed")

    def c_Name(self, node: ast.Name, narrowed: frozenset[str]) -> TypeInfo:
        if node.id in ("True", "False", "None"):
            return TypeInfo("bool" if node.id != "None" else "none")
        info = self.scope.get(node.id)
        if info is None:
            if node.id in FUNCTIONS:
                raise self.fail(node, f"{node.id!r} is a function: call it, e.g. {node.id}(...)")
            raise self.fail(
                node,
                f"undefined name {node.id!r} in {self.scope_name}"
                + suggest_name(node.id, self.scope),
            )
        if node.id not in self.names:
            self.names.append(node.id)
        if info.type == "unknown":
            raise _Silent()
        if info.type == "conflict":
            raise self.fail(node, info.element or f"{node.id!r} has no single type here")
        if node.id in narrowed:
            return replace(info, optional=False)
        return info

    def c_Tuple(self, node: ast.Tuple | ast.List | ast.Set, narrowed: frozenset[str]) -> TypeInfo:
        types = {self.check(e, narrowed).type for e in node.elts}
        if len(types) > 1 and not types <= NUMERIC:
            raise self.fail(node, f"a list mixes types: {', '.join(sorted(types))}")
        element = "number" if types and types <= NUMERIC else next(iter(types), None)
        return TypeInfo("seq", element=element)

    c_List = c_Tuple
    c_Set = c_Tuple

    def c_BoolOp(self, node: ast.BoolOp, narrowed: frozenset[str]) -> TypeInfo:
        local = narrowed
        for value in node.values:
            info = self.check(value, local)
            if info.type != "bool" or info.optional:
                raise self.fail(
                    value,
                    f"'{'and' if isinstance(node.op, ast.And) else 'or'}' needs true/false "
                    f"operands; this one is {info.describe()}",
                )
            if isinstance(node.op, ast.And):
                local = local | not_none_names(value)
        return TypeInfo("bool")

    def c_UnaryOp(self, node: ast.UnaryOp, narrowed: frozenset[str]) -> TypeInfo:
        info = self.check(node.operand, narrowed)
        if isinstance(node.op, ast.Not):
            if info.type != "bool" or info.optional:
                raise self.fail(node, f"'not' needs a true/false operand, got {info.describe()}")
            return TypeInfo("bool")
        if info.type not in NUMERIC or info.optional:
            raise self.fail(node, f"a sign needs a number, got {info.describe()}")
        return TypeInfo(info.type)

    def c_BinOp(self, node: ast.BinOp, narrowed: frozenset[str]) -> TypeInfo:
        left = self.check(node.left, narrowed)
        right = self.check(node.right, narrowed)
        for side in (left, right):
            if side.type not in NUMERIC or side.optional:
                raise self.fail(node, f"arithmetic needs numbers, got {side.describe()}")
        if isinstance(node.op, ast.Div) or "number" in (left.type, right.type):
            return TypeInfo("number")
        return TypeInfo("int")

    def c_IfExp(self, node: ast.IfExp, narrowed: frozenset[str]) -> TypeInfo:
        test = self.check(node.test, narrowed)
        if test.type != "bool" or test.optional:
            raise self.fail(node.test, f"the condition must be true/false, got {test.describe()}")
        body = self.check(node.body, narrowed | not_none_names(node.test))
        other = self.check(node.orelse, narrowed)
        if body.type != other.type and not {body.type, other.type} <= NUMERIC:
            if "none" in (body.type, other.type):
                real = body if other.type == "none" else other
                return replace(real, optional=True)
            raise self.fail(node, f"the branches differ: {body.type} and {other.type}")
        if {body.type, other.type} == NUMERIC:
            return TypeInfo("number", body.optional or other.optional)
        return TypeInfo(body.type, body.optional or other.optional)

    def c_Call(self, node: ast.Call, narrowed: frozenset[str]) -> TypeInfo:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else "this"
            known = ", ".join(sorted(FUNCTIONS))
            raise self.fail(node, f"unknown function {name!r}; the functions are: {known}")
        if node.keywords:
            raise self.fail(node, "keyword arguments are not allowed")
        fn = FUNCTIONS[node.func.id]
        args = [self.check(a, narrowed) for a in node.args]
        if fn.args and fn.args[0].startswith("*"):
            if len(args) < 2:
                raise self.fail(node, f"{node.func.id}() needs at least two arguments")
            expected = [fn.args[0][1:]] * len(args)
        else:
            expected = list(fn.args)
            if len(args) != len(expected):
                raise self.fail(
                    node, f"{node.func.id}() takes {len(expected)} argument(s), got {len(args)}"
                )
        for got, want in zip(args, expected, strict=True):
            ok = got.type in NUMERIC if want == "numeric" else got.type == want
            if not ok or got.optional:
                raise self.fail(node, f"{node.func.id}() wants {want}, got {got.describe()}")
        if node.func.id == "add_period":
            period = node.args[1]
            if isinstance(period, ast.Constant) and isinstance(period.value, str):
                try:
                    parse_period(period.value)
                except ValueError as exc:
                    raise self.fail(period, str(exc)) from None
        if fn.returns == "number" and all(a.type == "int" for a in args) and fn.args[0] != "date":
            return TypeInfo("int")
        return TypeInfo(fn.returns)

    def c_Compare(self, node: ast.Compare, narrowed: frozenset[str]) -> TypeInfo:
        left_node = node.left
        left = self.check(left_node, narrowed)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = self.check(right_node, narrowed)
            self._compare(op, left_node, left, right_node, right)
            left_node, left = right_node, right
        return TypeInfo("bool")

    def _compare(
        self, op: ast.cmpop, ln: ast.AST, left: TypeInfo, rn: ast.AST, right: TypeInfo
    ) -> None:
        if isinstance(op, (ast.Is, ast.IsNot)):
            if right.type != "none":
                raise self.fail(rn, "'is' / 'is not' may only compare with None")
            return
        if "none" in (left.type, right.type):
            raise self.fail(rn, "compare with None using 'is None' or 'is not None'")
        if isinstance(op, (ast.In, ast.NotIn)):
            # A missing value is simply not in a list; but nothing is "in" a missing text,
            # and a missing text cannot be looked for in another text.
            if right.optional or (left.optional and right.type == "str"):
                n = rn if right.optional else ln
                name = n.id if isinstance(n, ast.Name) else "a value"
                raise self.fail(
                    n, f"{name} may be missing; guard it first: '{name} is not None and ...'"
                )
            if right.type == "seq":
                elem = right.element
                if elem is not None and not _compatible(left.type, elem):
                    raise self.fail(rn, f"looks for a {left.type} in a list of {elem}")
                if left.choices is not None and isinstance(rn, (ast.Tuple, ast.List, ast.Set)):
                    for e in rn.elts:
                        self._check_choice(left, e)
                return
            if right.type == "str" and left.type == "str":
                return
            raise self.fail(rn, "'in' needs a list like ('a', 'b') or a text on the right")
        if not _compatible(left.type, right.type):
            raise self.fail(rn, f"compares {left.type} with {right.type}")
        ordering = isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE))
        if ordering:
            if left.type == "bool":
                raise self.fail(rn, "true/false values have no order")
            for side, n in ((left, ln), (right, rn)):
                if side.optional:
                    name = n.id if isinstance(n, ast.Name) else "a value"
                    raise self.fail(
                        n,
                        f"{name} may be missing; guard it first: '{name} is not None and ...'",
                    )
        self._check_choice(left, rn)
        self._check_choice(right, ln)

    def _check_choice(self, info: TypeInfo, other: ast.AST) -> None:
        if info.choices is None:
            return
        if isinstance(other, ast.Constant) and isinstance(other.value, str):
            if other.value not in info.choices:
                known = ", ".join(sorted(info.choices))
                hint = suggest_name(other.value, info.choices)
                raise self.fail(
                    other, f"{other.value!r} is not a known value here{hint}; known: {known}"
                )


def _compatible(a: str, b: str) -> bool:
    return a == b or {a, b} <= NUMERIC


def not_none_names(node: ast.AST) -> frozenset[str]:
    """Names a true condition proves present: ``x is not None`` (and conjunctions of them)."""
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.IsNot):
        if isinstance(node.left, ast.Name):
            right = node.comparators[0]
            if isinstance(right, ast.Constant) and right.value is None:
                return frozenset({node.left.id})
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        out: frozenset[str] = frozenset()
        for v in node.values:
            out |= not_none_names(v)
        return out
    return frozenset()


def _depth(node: ast.AST, level: int = 0) -> int:
    children = list(ast.iter_child_nodes(node))
    return level if not children else max(_depth(c, level + 1) for c in children)


def parse_expr(
    text: str,
    scope: Mapping[str, TypeInfo],
    where: Location,
    *,
    expect: str | None = "bool",
    scope_name: str = "this expression",
    position: Callable[[int, int], tuple[int, int]] | None = None,
) -> Expr:
    """Parse, whitelist and type-check an expression; raises PackError located at ``where``.

    ``position`` maps a (line, column) inside the text to the file, so an error points at the
    offending name even inside quotes or a folded block.
    """
    lead = len(text) - len(text.lstrip()) if isinstance(text, str) else 0

    def error(message: str, node: ast.AST | None = None) -> PackError:
        line, col = where.line, where.column
        if node is not None and hasattr(node, "col_offset"):
            if position is not None:
                line, col = position(getattr(node, "lineno", 1), node.col_offset + lead)
            elif col is not None:
                col = col + node.col_offset
        loc = Location(where.file, line, col, where.path)
        return PackError(Problem("pack.expr", f"{message}  — in: {text}", loc))

    if not isinstance(text, str) or not text.strip():
        raise error("an expression is required here")
    if len(text) > MAX_LENGTH:
        raise error(f"expression longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise error(f"syntax error: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            hint = {
                "Attribute": "attribute access (a.b) is not allowed",
                "Subscript": "indexing (a[b]) is not allowed",
                "Pow": "powers (**) are not allowed",
                "keyword": "keyword arguments are not allowed: f(x), not f(name=x)",
            }.get(type(node).__name__, f"{type(node).__name__} is not allowed in an expression")
            raise error(hint, node)
    if _depth(tree) > MAX_DEPTH:
        raise error(f"expression nested deeper than {MAX_DEPTH} levels")
    checker = _Checker(scope, scope_name)
    try:
        info = checker.check(tree.body)
    except _Fail as exc:
        raise error(exc.message, exc.node) from None
    except _Silent:
        raise PackError([]) from None
    if expect is not None:
        if info.type != expect or info.optional:
            raise error(f"must be {expect} (true/false), but is {info.describe()}")
    return Expr(text.strip(), tree, tuple(checker.names), info)


def kind_constraint(expr: Expr) -> tuple[frozenset[str] | None, ast.expr | None]:
    """Split ``kind == 'x' and rest`` into the kinds it admits and the rest of the filter.

    Events are indexed by kind, so a filter that names its kinds only looks at those events:
    the main reason the compiled evaluator runs close to hand-written code.
    """
    body = expr.tree.body
    conjuncts = (
        body.values if isinstance(body, ast.BoolOp) and isinstance(body.op, ast.And) else [body]
    )
    kinds: frozenset[str] | None = None
    rest: list[ast.expr] = []
    for c in conjuncts:
        found = _kinds_of(c)
        if found is not None and kinds is None:
            kinds = found
        elif found is not None and kinds is not None:
            kinds = kinds & found
        else:
            rest.append(c)
    if not rest:
        return kinds, None
    residual = rest[0] if len(rest) == 1 else ast.BoolOp(op=ast.And(), values=rest)
    return kinds, residual


def _kinds_of(node: ast.expr) -> frozenset[str] | None:
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
        return None
    if not (isinstance(node.left, ast.Name) and node.left.id == "kind"):
        return None
    op, right = node.ops[0], node.comparators[0]
    if isinstance(op, ast.Eq) and isinstance(right, ast.Constant) and isinstance(right.value, str):
        return frozenset({right.value})
    if isinstance(op, ast.In) and isinstance(right, (ast.Tuple, ast.List, ast.Set)):
        values = [e.value for e in right.elts if isinstance(e, ast.Constant)]
        if len(values) == len(right.elts) and all(isinstance(v, str) for v in values):
            return frozenset(str(v) for v in values)
    return None


def peek_kinds(text: str) -> frozenset[str] | None:
    """The event kinds a filter admits, read before type-checking so that the scope of
    attributes can be narrowed to those kinds; None when the text does not parse."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return None
    return kind_constraint(Expr(text, tree, (), TypeInfo("bool")))[0]
