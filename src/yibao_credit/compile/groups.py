"""Evaluation groups: first match wins; each group may set its own parameter values."""

from __future__ import annotations

from yibao_credit.compile.context import CompileContext, value_fits
from yibao_credit.compile.plan import CompiledGroup
from yibao_credit.pack.schema import Ruleset
from yibao_credit.pack.sourcemap import PathKey


def compile_groups(ctx: CompileContext, rs: Ruleset, path: PathKey) -> tuple[CompiledGroup, ...]:
    out: list[CompiledGroup] = []
    scope = ctx.subject_scope(rs.required, ctx.categories())
    for gi, group in enumerate(rs.groups):
        gpath = (*path, "groups", gi)
        for name, value in group.params.items():
            param = ctx.model.parameters.get(name)
            if param is None:
                ctx.error(
                    (*gpath, "params", name),
                    f"{name!r} is not a parameter of "
                    "the pack; a group can only set the value of one",
                )
            elif not value_fits(param.type, value):
                ctx.error((*gpath, "params", name), f"{value!r} is not a {param.type}")
        e = ctx.try_expr(group.when, scope, (*gpath, "when"), scope_name=f"group {group.id}")
        if e is None:
            continue
        step = ctx.step(f"group.{group.id}", "group", group.title, group, gpath, e)
        out.append(CompiledGroup(group.id, group.title, dict(group.params), step, e))
    return tuple(out)
