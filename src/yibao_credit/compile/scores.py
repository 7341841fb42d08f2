"""Score grading: items that deduct or add points (per event or fact, with caps), weighted
categories, vetoes that force a grade, and bands that must cover the score range exactly once."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from itertools import count

from yibao_credit.compile.context import CompileContext
from yibao_credit.compile.criteria import grade_title
from yibao_credit.compile.expressions import Expr, TypeInfo
from yibao_credit.compile.intervals import RealInterval, real_coverage
from yibao_credit.compile.plan import (
    CompiledBand,
    CompiledCategory,
    CompiledCheck,
    CompiledItem,
    CompiledScore,
)
from yibao_credit.pack.schema import ScoreCategory, ScoreGrading, ScoreItem, Text
from yibao_credit.pack.sourcemap import PathKey


def compile_score(
    ctx: CompileContext,
    grading: ScoreGrading,
    scope: Mapping[str, TypeInfo],
    path: PathKey,
    slot: count[int],
    fact_types: Mapping[str, TypeInfo],
) -> CompiledScore | None:
    """Slots: each category's items then the category, the total, then the vetoes."""
    before = len(ctx.problems)
    grades = [g.label for g in grading.grades]
    categories: list[CompiledCategory] = []
    seen: set[str] = set()
    for ci, cat in enumerate(grading.categories):
        cpath = (*path, "categories", ci)
        if cat.id in seen:
            ctx.error((*cpath, "id"), f"duplicate category id {cat.id!r}")
        seen.add(cat.id)
        items = [
            compiled
            for ii, item in enumerate(cat.items)
            if (compiled := _item(ctx, cat, item, (*cpath, "items", ii), scope, slot, fact_types))
            is not None
        ]
        categories.append(_category(ctx, cat, cpath, items, next(slot)))
    _check_totals(ctx, grading, categories, path)
    total_slot = next(slot)
    vetoes = _vetoes(ctx, grading, scope, path, grades, slot)
    bands = _bands(ctx, grading, path, grades)
    if len(ctx.problems) > before:
        return None
    return CompiledScore(
        tuple(categories),
        total_slot,
        ctx.step("score", "score", Text(zh="总分", en="total score"), grading, path),
        grading.base,
        grading.floor,
        grading.ceiling,
        grading.precision,
        tuple(vetoes),
        tuple(v.grade for v in grading.vetoes),
        tuple(bands),
    )


def _item(
    ctx: CompileContext,
    cat: ScoreCategory,
    item: ScoreItem,
    ipath: PathKey,
    scope: Mapping[str, TypeInfo],
    slot: count[int],
    fact_types: Mapping[str, TypeInfo],
) -> CompiledItem | None:
    """One score item: fixed points or an expression, per unit of a fact, when a condition
    holds, capped; None when it does not check out (its problems are recorded)."""
    points_expr = when_expr = None
    if isinstance(item.points, str):
        points_expr = ctx.try_expr(
            item.points, scope, (*ipath, "points"), expect=None, scope_name=f"item {item.id}"
        )
        if points_expr is None:
            return None
        if points_expr.type.type not in ("int", "number") or points_expr.type.optional:
            ctx.error(
                (*ipath, "points"),
                f"points must be a number, but this is {points_expr.type.describe()}",
            )
    if item.when is not None:
        when_expr = ctx.try_expr(item.when, scope, (*ipath, "when"), scope_name=f"item {item.id}")
        if when_expr is None:
            return None
    if item.per is not None:
        ftype = fact_types.get(item.per)
        if ftype is None or ftype.type not in ("int", "number") or ftype.optional:
            ctx.error(
                (*ipath, "per"),
                f"{item.per!r} is not a count or sum fact "
                "of this ruleset (points are per unit of it)",
            )
            return None
    reads = tuple(
        dict.fromkeys(
            ([item.per] if item.per else [])
            + list(when_expr.names if when_expr else ())
            + list(points_expr.names if points_expr else ())
        )
    )
    shown: Expr | None = when_expr or points_expr
    step = ctx.step(f"item.{cat.id}.{item.id}", "item", item.title, item, ipath, shown)
    return CompiledItem(
        item.id,
        cat.id,
        next(slot),
        replace(step, reads=reads),
        item.per,
        item.points if not isinstance(item.points, str) else None,
        item.cap,
        reads,
        item.monitoring,
        points_expr=points_expr,
        when=when_expr,
    )


def _category(
    ctx: CompileContext,
    cat: ScoreCategory,
    cpath: PathKey,
    items: list[CompiledItem],
    slot: int,
) -> CompiledCategory:
    return CompiledCategory(
        cat.id,
        slot,
        ctx.step(f"category.{cat.id}", "category", cat.title, cat, cpath),
        cat.base,
        cat.cap,
        cat.min,
        cat.max,
        1.0 if cat.weight is None else cat.weight,
        tuple(items),
    )


def _check_totals(
    ctx: CompileContext,
    grading: ScoreGrading,
    categories: list[CompiledCategory],
    path: PathKey,
) -> None:
    """``points_total``: the categories' max add up to it; ``weights_total``: their weights."""
    if grading.points_total is not None:
        missing = [c.id for c in grading.categories if c.max is None]
        total = sum(c.max or 0 for c in grading.categories)
        if missing:
            ctx.error(
                (*path, "points_total"),
                f"points_total needs every category's max; {', '.join(missing)} has none",
            )
        elif abs(total - grading.points_total) > 1e-9:
            target: PathKey = (*path, "points_total")
            where = ""
            doc = ctx.doc
            if doc.file_of(target) != doc.file:
                # The total comes from the pack extended; blame the max this file wrote.
                own = [
                    p
                    for i in range(len(grading.categories))
                    if doc.file_of(p := (*path, "categories", i, "max")) == doc.file
                ]
                if own:
                    where = f" (points_total is set in {doc.file_of(target)})"
                    target = own[0]
            ctx.error(
                target,
                f"the categories' max add up to {total:g}, not {grading.points_total:g}{where}",
            )
    if grading.weights_total is not None:
        weights = sum(c.weight for c in categories)
        if abs(weights - grading.weights_total) > 1e-9:
            ctx.error(
                (*path, "weights_total"),
                f"the categories' weights add up to {weights:g}, not {grading.weights_total:g}",
            )


def _vetoes(
    ctx: CompileContext,
    grading: ScoreGrading,
    scope: Mapping[str, TypeInfo],
    path: PathKey,
    grades: list[str],
    slot: count[int],
) -> list[CompiledCheck]:
    out: list[CompiledCheck] = []
    for vi, veto in enumerate(grading.vetoes):
        vpath = (*path, "vetoes", vi)
        if veto.grade not in grades:
            ctx.unknown_grade((*vpath, "grade"), veto.grade, grades)
        e = ctx.try_expr(veto.when, scope, (*vpath, "when"), scope_name=f"veto {veto.id}")
        if e is None:
            continue
        step = ctx.step(f"veto.{veto.id}", "veto", veto.title, veto, vpath, e)
        out.append(CompiledCheck(veto.id, next(slot), step, e))
    return out


def _bands(
    ctx: CompileContext, grading: ScoreGrading, path: PathKey, grades: list[str]
) -> list[CompiledBand]:
    """The bands in order, checked to cover [floor, ceiling] exactly once."""
    bands: list[CompiledBand] = []
    for bi, band in enumerate(grading.bands):
        bpath = (*path, "bands", bi)
        if band.grade not in grades:
            ctx.unknown_grade((*bpath, "grade"), band.grade, grades)
        try:
            interval = RealInterval.parse(band.range, bi + 1)
        except ValueError as exc:
            ctx.error((*bpath, "range"), str(exc))
            continue
        title = grade_title(grading.grades, band.grade)
        step = ctx.step(f"grade.{band.grade}", "grade", title, band, bpath)
        bands.append(CompiledBand(interval, band.grade, step))
    if bands and len(bands) == len(grading.bands):
        low = -math.inf if grading.floor is None else grading.floor
        high = math.inf if grading.ceiling is None else grading.ceiling
        for row, message in real_coverage([b.interval for b in bands], low, high):
            ctx.error((*path, "bands", row - 1, "range"), f"score bands: {message}")
    return bands
