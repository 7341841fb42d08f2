"""A checked expression as a SQL expression tree (sqlglot), with Python's meaning kept.

Translated from the expression's ``ast`` tree, never from its text. Where SQL and Python
differ, the translation follows Python, as the Python engine (the model) evaluates:

- ``==`` / ``!=`` are null-safe (``IS NOT DISTINCT FROM``): ``None == 'x'`` is false, not NULL;
  ``x in (…)`` is false for a missing ``x``; ``not x`` and a condition's truth follow Python's
  truthiness (a missing bool is false), so three-valued logic never leaks into a decision;
- decimal literals are ``DOUBLE`` (as Python's floats), not SQL's exact ``DECIMAL``, so sums and
  weights round exactly as the Python engine's do; ``/`` divides as floats;
- ``//`` and ``%`` floor as Python does (``-7 // 2`` is -4, ``-7 % 3`` is 2);
- ``round`` rounds half away from zero on the decimal the number prints as (《四舍五入》).
"""

from __future__ import annotations

import ast
import datetime as dt
import math
from collections.abc import Callable

from sqlglot import exp

from yibao_credit.compile.expressions import Expr
from yibao_credit.errors import EvaluationError, Problem
from yibao_credit.time.periods import parse_period

Names = Callable[[str], exp.Expr]
"""How a name of the expression reads in SQL: a column, a literal (a parameter), a date."""

_UNITS = {"y": "YEAR", "m": "MONTH", "d": "DAY"}


def to_sql(expr: Expr, names: Names) -> exp.Expr:
    """The SQL for a checked expression, each name given by ``names``."""
    return _Translate(names).node(expr.tree.body)


def node_to_sql(node: ast.expr, names: Names) -> exp.Expr:
    """The SQL for a sub-tree of a checked expression (a filter's residual)."""
    return _Translate(names).node(node)


def truth(value: exp.Expr) -> exp.Expr:
    """A condition as Python reads it: NULL (a missing value) is false."""
    return exp.Coalesce(this=value, expressions=[exp.false()])


def paren(node: exp.Expr) -> exp.Expr:
    if isinstance(node, (exp.Column, exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Func)):
        return node
    if isinstance(node, exp.Cast):
        return node
    return exp.Paren(this=node)


def literal(value: object) -> exp.Expr:
    """A Python value as a SQL literal of the type the Python engine would compute with."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value) if value >= 0 else exp.Neg(this=exp.Literal.number(-value))
    if isinstance(value, float):
        if not math.isfinite(value):
            return exp.cast(exp.Literal.string(repr(value)), "DOUBLE")
        number = exp.cast(exp.Literal.number(repr(abs(value))), "DOUBLE")
        return number if math.copysign(1.0, value) > 0 else exp.Neg(this=number)
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    raise TypeError(f"no SQL literal for {value!r}")


class _Translate:
    def __init__(self, names: Names) -> None:
        self.names = names

    def node(self, node: ast.expr) -> exp.Expr:
        method = getattr(self, f"n_{type(node).__name__}", None)
        if method is None:
            raise EvaluationError(
                Problem(
                    "eval.sql-unsupported",
                    f"the SQL engine cannot translate {ast.unparse(node)!r} "
                    f"({type(node).__name__}); use --engine python",
                )
            )
        result: exp.Expr = method(node)
        return result

    def n_Constant(self, node: ast.Constant) -> exp.Expr:
        return literal(node.value)

    def n_Name(self, node: ast.Name) -> exp.Expr:
        return self.names(node.id)

    def n_BoolOp(self, node: ast.BoolOp) -> exp.Expr:
        parts = [paren(self.node(v)) for v in node.values]
        out = parts[0]
        for p in parts[1:]:
            out = (
                exp.And(this=out, expression=p)
                if isinstance(node.op, ast.And)
                else exp.Or(this=out, expression=p)
            )
        return out

    def n_UnaryOp(self, node: ast.UnaryOp) -> exp.Expr:
        operand = self.node(node.operand)
        if isinstance(node.op, ast.Not):
            return exp.Not(this=paren(truth(operand)))
        if isinstance(node.op, ast.USub):
            return exp.Neg(this=paren(operand))
        return operand

    def n_BinOp(self, node: ast.BinOp) -> exp.Expr:
        a, b = paren(self.node(node.left)), paren(self.node(node.right))
        op = node.op
        if isinstance(op, ast.Add):
            return exp.Add(this=a, expression=b)
        if isinstance(op, ast.Sub):
            return exp.Sub(this=a, expression=b)
        if isinstance(op, ast.Mult):
            return exp.Mul(this=a, expression=b)
        if isinstance(op, ast.Div):
            return exp.Div(this=a, expression=b)
        if isinstance(op, ast.FloorDiv):
            return exp.Floor(this=exp.Div(this=a, expression=b))
        if isinstance(op, ast.Mod):
            inner = exp.Mod(this=a, expression=b)
            wrapped = exp.Paren(this=exp.Add(this=exp.Paren(this=inner), expression=b))
            return exp.Mod(this=wrapped, expression=b)
        return self._unsupported(node)

    def _unsupported(self, node: ast.AST) -> exp.Expr:
        raise EvaluationError(
            Problem(
                "eval.sql-unsupported",
                f"the SQL engine cannot translate {ast.unparse(node)!r}; use --engine python",
            )
        )

    def n_IfExp(self, node: ast.IfExp) -> exp.Expr:
        return exp.Case(
            ifs=[exp.If(this=truth(self.node(node.test)), true=self.node(node.body))],
            default=self.node(node.orelse),
        )

    def n_Compare(self, node: ast.Compare) -> exp.Expr:
        parts: list[exp.Expr] = []
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            parts.append(paren(self._compare(left, op, right)))
            left = right
        out = parts[0]
        for p in parts[1:]:
            out = exp.And(this=out, expression=p)
        return out

    def _compare(self, left: ast.expr, op: ast.cmpop, right: ast.expr) -> exp.Expr:
        a = paren(self.node(left))
        if isinstance(op, (ast.In, ast.NotIn)):
            assert isinstance(right, (ast.Tuple, ast.List, ast.Set))
            member = truth(exp.In(this=a, expressions=[self.node(e) for e in right.elts]))
            return exp.Not(this=paren(member)) if isinstance(op, ast.NotIn) else member
        if isinstance(op, (ast.Is, ast.IsNot)):
            assert isinstance(right, ast.Constant) and right.value is None
            test = exp.Is(this=a, expression=exp.Null())
            return exp.Not(this=paren(test)) if isinstance(op, ast.IsNot) else test
        b = paren(self.node(right))
        kinds: dict[type[ast.cmpop], type[exp.Expr]] = {
            ast.Eq: exp.NullSafeEQ,
            ast.NotEq: exp.NullSafeNEQ,
            ast.Lt: exp.LT,
            ast.LtE: exp.LTE,
            ast.Gt: exp.GT,
            ast.GtE: exp.GTE,
        }
        return kinds[type(op)](this=a, expression=b)

    def n_Call(self, node: ast.Call) -> exp.Expr:
        assert isinstance(node.func, ast.Name)
        name = node.func.id
        args = [self.node(a) for a in node.args]
        if name == "min":
            return exp.Least(this=args[0], expressions=args[1:]) if len(args) > 1 else args[0]
        if name == "max":
            return exp.Greatest(this=args[0], expressions=args[1:]) if len(args) > 1 else args[0]
        if name == "abs":
            return exp.Abs(this=args[0])
        if name == "round":
            decimal = exp.cast(args[0], "DECIMAL(38, 12)")
            return exp.cast(exp.Round(this=decimal), "BIGINT")
        if name == "days_between":
            return exp.DateDiff(this=args[1], expression=args[0], unit=exp.var("DAY"))
        if name == "year":
            return exp.Year(this=args[0])
        if name == "text":
            return exp.cast(args[0], "VARCHAR")
        if name == "linear":
            return _linear(*args)
        if name == "add_period":
            period = node.args[1]
            if not isinstance(period, ast.Constant) or not isinstance(period.value, str):
                text = self.names(period.id) if isinstance(period, ast.Name) else None
                if not isinstance(text, exp.Literal):
                    return self._unsupported(node)
                value = str(text.this)
            else:
                value = period.value
            n, unit = parse_period(value)
            shifted = exp.Add(
                this=args[0],
                expression=exp.Interval(
                    this=exp.Literal.string(str(n)), unit=exp.var(_UNITS[unit])
                ),
            )
            return exp.cast(shifted, "DATE")
        return self._unsupported(node)

    def n_Tuple(self, node: ast.Tuple) -> exp.Expr:
        return self._unsupported(node)


def _linear(
    x: exp.Expr,
    x0: exp.Expr,
    x1: exp.Expr,
    y0: exp.Expr,
    y1: exp.Expr,
) -> exp.Expr:
    """linear(x, x0, x1, y0, y1) as ``compile.expressions.linear`` computes it."""
    x, x0, x1, y0, y1 = (paren(v) for v in (x, x0, x1, y0, y1))
    t = exp.Div(
        this=exp.Paren(this=exp.Sub(this=x, expression=x0)),
        expression=exp.Paren(this=exp.Sub(this=x1, expression=x0)),
    )
    clamped = exp.Case(
        ifs=[
            exp.If(this=exp.LT(this=t, expression=exp.Literal.number(0)), true=literal(0.0)),
            exp.If(this=exp.GT(this=t, expression=exp.Literal.number(1)), true=literal(1.0)),
        ],
        default=t.copy(),
    )
    moving = exp.Add(
        this=y0,
        expression=exp.Mul(
            this=exp.Paren(this=clamped),
            expression=exp.Paren(this=exp.Sub(this=y1, expression=y0)),
        ),
    )
    held = exp.Case(
        ifs=[exp.If(this=exp.GTE(this=x, expression=x1), true=y1)],
        default=y0,
    )
    return exp.Case(ifs=[exp.If(this=exp.EQ(this=x0, expression=x1), true=held)], default=moving)
