"""Parameters: dated values, each checked against the parameter's declared type."""

from __future__ import annotations

from yibao_credit.compile.context import CompileContext, value_fits
from yibao_credit.pack.sourcemap import PathKey


def check_parameters(ctx: CompileContext) -> None:
    for name, param in ctx.model.parameters.items():
        for since, entry in param.values.items():
            path: PathKey = ("parameters", name, "values", since, "value")
            if not value_fits(param.type, entry.value):
                ctx.error(path, f"value {entry.value!r} is not a {param.type}")
