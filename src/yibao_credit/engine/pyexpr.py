"""A checked expression printed as Python source, each name replaced by where the generated
code keeps its value, each pack function by its runtime implementation (``_fn_linear``)."""

from __future__ import annotations

import ast
from collections.abc import Callable

from yibao_credit.compile.expressions import Expr


def to_python(expr: Expr, rename: Callable[[str], str], exact: bool = False) -> str:
    """Python source for ``expr`` with each name replaced by ``rename(name)``.

    ``exact``: decimal literals become fractions (``_Fraction('0.8')``), so that money
    computed from exact inputs stays exact instead of passing through binary floats."""
    return node_to_python(expr.tree.body, rename, exact)


def node_to_python(node: ast.expr, rename: Callable[[str], str], exact: bool = False) -> str:
    """Python source for a sub-tree (e.g. a filter's residual), names renamed."""
    copy: ast.Expression = ast.parse(ast.unparse(node), mode="eval")
    return ast.unparse(_Rename(rename, exact).visit(copy))


class _Rename(ast.NodeTransformer):
    def __init__(self, rename: Callable[[str], str], exact: bool = False) -> None:
        self.rename = rename
        self.exact = exact

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if self.exact and isinstance(node.value, float):
            return ast.Call(
                func=ast.Name(id="_Fraction", ctx=ast.Load()),
                args=[ast.Constant(value=repr(node.value))],
                keywords=[],
            )
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        assert isinstance(node.func, ast.Name)
        node.func = ast.Name(id=f"_fn_{node.func.id}", ctx=ast.Load())
        node.args = [self.visit(a) for a in node.args]
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        replacement: ast.expr = ast.parse(self.rename(node.id), mode="eval").body
        return replacement
