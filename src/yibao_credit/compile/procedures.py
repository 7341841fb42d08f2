"""Procedures: dated steps after a result (notification, objection, review), each a deadline
in days or working days; at most one per trigger."""

from __future__ import annotations

from yibao_credit.compile.context import CompileContext
from yibao_credit.compile.plan import CompiledProcedure
from yibao_credit.pack.schema import Text
from yibao_credit.pack.sourcemap import PathKey

OUTCOME_STEPS = {
    "notification": (
        "lifecycle.objection",
        "lifecycle",
        Text(zh="异议申请是否在期限内", en="objection in time"),
    ),
    "objection": (
        "lifecycle.decision",
        "lifecycle",
        Text(zh="异议处理决定", en="decision on the objection"),
    ),
}
"""What a deadline decides: after a notification, whether an objection came in time; after
an objection, the decision on it."""


def compile_procedures(ctx: CompileContext) -> dict[str, CompiledProcedure]:
    """The pack's procedures by trigger."""
    out: dict[str, CompiledProcedure] = {}
    for i, p in enumerate(ctx.model.procedures):
        path: PathKey = ("procedures", i)
        if p.trigger in out:
            ctx.error(
                (*path, "trigger"),
                f"a second procedure triggered by {p.trigger!r} ({out[p.trigger].id!r} "
                "is the first)",
            )
            continue
        out[p.trigger] = CompiledProcedure(
            p.id,
            p.trigger,
            p.days,
            p.unit,
            ctx.step(f"procedure.{p.id}", "procedure", p.title, p, path),
            ctx.step(*OUTCOME_STEPS[p.trigger], p, path),
        )
    return out
