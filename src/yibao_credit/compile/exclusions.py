"""Exclusions: conditions under which a subject is not evaluated this cycle (不参与评测)."""

from __future__ import annotations

from collections.abc import Mapping
from itertools import count

from yibao_credit.compile.context import CompileContext
from yibao_credit.compile.expressions import TypeInfo
from yibao_credit.compile.plan import CompiledCheck
from yibao_credit.pack.schema import Ruleset
from yibao_credit.pack.sourcemap import PathKey


def compile_exclusions(
    ctx: CompileContext,
    rs: Ruleset,
    path: PathKey,
    scope: Mapping[str, TypeInfo],
    slot: count[int],
) -> list[CompiledCheck]:
    out: list[CompiledCheck] = []
    seen: set[str] = set()
    for i, ex in enumerate(rs.exclusions):
        epath = (*path, "exclusions", i)
        if ex.id in seen:
            ctx.error((*epath, "id"), f"duplicate exclusion id {ex.id!r}")
        seen.add(ex.id)
        e = ctx.try_expr(ex.when, scope, (*epath, "when"), scope_name=f"exclusion {ex.id}")
        if e is None:
            continue
        step = ctx.step(f"exclusion.{ex.id}", "exclusion", ex.title, ex, epath, e)
        out.append(CompiledCheck(ex.id, next(slot), step, e))
    return out
