"""Review stages (self-assessment → county review → city confirmation), checked against the
event kind whose values they carry."""

from __future__ import annotations

from yibao_credit.compile.context import CompileContext
from yibao_credit.compile.plan import CompiledReview
from yibao_credit.pack.schema import Text
from yibao_credit.records.contract import EVENT_FIELDS


def compile_review(ctx: CompileContext) -> CompiledReview | None:
    rv = ctx.model.review
    if rv is None:
        return None
    kind = ctx.kinds.get(rv.kind)
    if kind is None:
        ctx.error(("review", "kind"), f"unknown event kind {rv.kind!r}")
    else:
        for name in rv.key:
            if name not in kind.attributes and name not in EVENT_FIELDS:
                ctx.error(("review", "key"), f"{name!r} is not an attribute of {rv.kind!r} events")
    if len(set(rv.stages)) != len(rv.stages):
        ctx.error(("review", "stages"), "stage names must be unique")
    title = Text(zh="改动的评价值", en="values changed")
    step = ctx.step("review", "review", title, rv, ("review",))
    return CompiledReview(rv.kind, rv.attribute, tuple(rv.stages), tuple(rv.key), step)
