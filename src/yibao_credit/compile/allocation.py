"""Quality-deposit allocation: each result's weight, a number computed with exact decimals."""

from __future__ import annotations

from yibao_credit.compile.context import CompileContext
from yibao_credit.compile.expressions import TypeInfo
from yibao_credit.compile.plan import STATUS_CHOICES, CompiledAllocation
from yibao_credit.pack.schema import Ruleset, Text
from yibao_credit.pack.sourcemap import PathKey

WEIGHT_NAMES = ("deposit", "score", "grade", "status")
"""What a weight reads besides the subject's fields."""


def compile_allocation(
    ctx: CompileContext, rs: Ruleset, path: PathKey, grades: list[str]
) -> CompiledAllocation | None:
    if rs.allocation is None:
        return None
    scope = {
        **ctx.subject_scope(rs.required, ctx.categories()),
        "deposit": TypeInfo("int"),
        "score": TypeInfo("number", optional=True),
        "grade": TypeInfo("str", optional=True, choices=frozenset(grades)),
        "status": TypeInfo("str", choices=STATUS_CHOICES),
    }
    apath = (*path, "allocation")
    weight = ctx.try_expr(
        rs.allocation.weight,
        scope,
        (*apath, "weight"),
        expect=None,
        scope_name="the allocation weight",
    )
    if weight is None:
        return None
    if weight.type.type not in ("int", "number") or weight.type.optional:
        ctx.error(
            (*apath, "weight"),
            "the weight must be a number, but this is "
            f"{weight.type.describe()} (guard score with 'score is not None')",
        )
        return None
    title = Text(zh="质量保证金分配", en="quality-deposit allocation")
    step = ctx.step("allocation", "allocation", title, rs.allocation, apath, weight)
    final = rs.allocation.requires_final
    final_step = None
    if final is not None:
        final_title = Text(zh="仅分配给已确定的评价结果", en="only final results share the pool")
        final_step = ctx.step(
            "allocation.requires_final",
            "allocation",
            final_title,
            final,
            (*apath, "requires_final"),
        )
    return CompiledAllocation(weight, rs.allocation.excluded, step, final_step)
