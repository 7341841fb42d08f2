"""Roll-ups: after every member is graded, a group's head is capped by how many of its
members count (a chain's grade by how many of its stores got the lowest grade)."""

from __future__ import annotations

from yibao_credit.compile.context import CompileContext
from yibao_credit.compile.expressions import TypeInfo
from yibao_credit.compile.intervals import IntInterval, int_overlaps
from yibao_credit.compile.plan import STATUS_CHOICES, CompiledCap, CompiledRollup
from yibao_credit.pack.schema import Rollup, Ruleset
from yibao_credit.pack.sourcemap import PathKey


def compile_rollup(
    ctx: CompileContext,
    ro: Rollup,
    rs: Ruleset,
    path: PathKey,
    grades: list[str],
    exclusion_ids: list[str],
) -> CompiledRollup | None:
    before = len(ctx.problems)
    if ctx.subject_fields.get(ro.head) != "str":
        ctx.error((*path, "head"), f"{ro.head!r} is not a text field of the subject")
    sscope = ctx.subject_scope(rs.required, ctx.categories())
    members = ctx.try_expr(
        ro.members, sscope, (*path, "members"), scope_name=f"roll-up {ro.id} members"
    )
    rscope = {
        **sscope,
        "grade": TypeInfo("str", optional=True, choices=frozenset(grades)),
        "status": TypeInfo("str", choices=STATUS_CHOICES),
        "exclusion": TypeInfo("str", optional=True, choices=frozenset(exclusion_ids) or None),
    }
    counts = ctx.try_expr(
        ro.counts, rscope, (*path, "counts"), scope_name=f"roll-up {ro.id} counts"
    )
    caps: list[CompiledCap] = []
    intervals = []
    for i, band in enumerate(ro.caps):
        if band.cap not in grades:
            ctx.unknown_grade((*path, "caps", i, "cap"), band.cap, grades)
        interval = IntInterval(band.min, band.max, i + 1)
        intervals.append(interval)
        step = ctx.step(f"rollup.{ro.id}.{i + 1}", "rollup", ro.title, band, (*path, "caps", i))
        caps.append(CompiledCap(interval, band.cap, step))
    for message in int_overlaps(intervals):
        ctx.error((*path, "caps"), f"roll-up caps: {message}")
    if members is None or counts is None or len(ctx.problems) > before:
        return None
    return CompiledRollup(
        id=ro.id,
        head=ro.head,
        step=ctx.step(f"rollup.{ro.id}", "rollup", ro.title, ro, path),
        members=members,
        counts=counts,
        caps=tuple(caps),
    )
