"""Score grading, checked and turned into code: items, categories and weights, vetoes, and
bands that must cover the whole score range exactly once."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .compiled import (
    CompiledBand,
    CompiledCategory,
    CompiledCheck,
    CompiledItem,
    CompiledScore,
)
from .expressions import Expr, TypeInfo
from .intervals import RealInterval, real_coverage
from .pack_schema import ScoreGrading, Text
from .sourcemap import PathKey

if TYPE_CHECKING:
    from .compiler import PackCompiler


def compile_score(
    c: PackCompiler,
    grading: ScoreGrading,
    scope: Mapping[str, TypeInfo],
    path: PathKey,
    slot: Iterable[int],
    fact_types: Mapping[str, TypeInfo],
) -> tuple[CompiledScore | None, list[tuple[int, Expr | None, Expr | None]], list[Expr]]:
    """Check a score grading: items, categories and weights, vetoes, and bands that cover
    the whole score range exactly once."""
    counter = iter(slot)
    before = len(c.problems)
    grades = [g.label for g in grading.grades]
    exprs: list[tuple[int, Expr | None, Expr | None]] = []
    categories: list[CompiledCategory] = []
    seen: set[str] = set()
    for ci, cat in enumerate(grading.categories):
        cpath = (*path, "categories", ci)
        if cat.id in seen:
            c.error((*cpath, "id"), f"duplicate category id {cat.id!r}")
        seen.add(cat.id)
        items: list[CompiledItem] = []
        for ii, item in enumerate(cat.items):
            ipath = (*cpath, "items", ii)
            points_expr = when_expr = None
            if isinstance(item.points, str):
                points_expr = c.try_expr(
                    item.points,
                    scope,
                    (*ipath, "points"),
                    expect=None,
                    scope_name=f"item {item.id}",
                )
                if points_expr is None:
                    continue
                if points_expr.type.type not in ("int", "number") or points_expr.type.optional:
                    c.error(
                        (*ipath, "points"),
                        f"points must be a number, but this is {points_expr.type.describe()}",
                    )
            if item.when is not None:
                when_expr = c.try_expr(
                    item.when, scope, (*ipath, "when"), scope_name=f"item {item.id}"
                )
                if when_expr is None:
                    continue
            if item.per is not None:
                ftype = fact_types.get(item.per)
                if ftype is None or ftype.type not in ("int", "number") or ftype.optional:
                    c.error(
                        (*ipath, "per"),
                        f"{item.per!r} is not a count or sum fact "
                        "of this ruleset (points are per unit of it)",
                    )
                    continue
            reads = tuple(
                dict.fromkeys(
                    ([item.per] if item.per else [])
                    + list(when_expr.names if when_expr else ())
                    + list(points_expr.names if points_expr else ())
                )
            )
            shown = when_expr or points_expr
            step = c.step(f"item.{cat.id}.{item.id}", "item", item.title, item, ipath, shown)
            step = replace(step, reads=reads)
            compiled = CompiledItem(
                item.id,
                cat.id,
                next(counter),
                step,
                item.per,
                item.points if not isinstance(item.points, str) else None,
                item.cap,
                reads,
                item.monitoring,
            )
            items.append(compiled)
            exprs.append((compiled.slot, points_expr, when_expr))
        categories.append(
            CompiledCategory(
                cat.id,
                next(counter),
                c.step(f"category.{cat.id}", "category", cat.title, cat, cpath),
                cat.base,
                cat.cap,
                cat.min,
                cat.max,
                1.0 if cat.weight is None else cat.weight,
                tuple(items),
            )
        )
    if grading.points_total is not None:
        missing = [c.id for c in grading.categories if c.max is None]
        if missing:
            c.error(
                (*path, "points_total"),
                f"points_total needs every category's max; {', '.join(missing)} has none",
            )
        elif abs(sum(c.max or 0 for c in grading.categories) - grading.points_total) > 1e-9:
            total = sum(c.max or 0 for c in grading.categories)
            target: PathKey = (*path, "points_total")
            where = ""
            if c.doc.file_of(target) != c.doc.file:
                # The total comes from the pack extended; blame the max this file wrote.
                own = [
                    p
                    for i in range(len(grading.categories))
                    if c.doc.file_of(p := (*path, "categories", i, "max")) == c.doc.file
                ]
                if own:
                    where = f" (points_total is set in {c.doc.file_of(target)})"
                    target = own[0]
            c.error(
                target,
                f"the categories' max add up to {total:g}, not {grading.points_total:g}{where}",
            )
    if grading.weights_total is not None:
        total = sum(c.weight for c in categories)
        if abs(total - grading.weights_total) > 1e-9:
            c.error(
                (*path, "weights_total"),
                f"the categories' weights add up to {total:g}, not {grading.weights_total:g}",
            )
    total_slot = next(counter)
    vetoes: list[CompiledCheck] = []
    veto_exprs: list[Expr] = []
    for vi, veto in enumerate(grading.vetoes):
        vpath = (*path, "vetoes", vi)
        if veto.grade not in grades:
            c.error(
                (*vpath, "grade"),
                f"unknown grade {veto.grade!r}; grades are {', '.join(grades)}",
            )
        e = c.try_expr(veto.when, scope, (*vpath, "when"), scope_name=f"veto {veto.id}")
        if e is None:
            continue
        vetoes.append(
            CompiledCheck(
                veto.id,
                next(counter),
                c.step(f"veto.{veto.id}", "veto", veto.title, veto, vpath, e),
            )
        )
        veto_exprs.append(e)
    bands: list[CompiledBand] = []
    for bi, band in enumerate(grading.bands):
        bpath = (*path, "bands", bi)
        if band.grade not in grades:
            c.error(
                (*bpath, "grade"),
                f"unknown grade {band.grade!r}; grades are {', '.join(grades)}",
            )
        try:
            interval = RealInterval.parse(band.range, bi + 1)
        except ValueError as exc:
            c.error((*bpath, "range"), str(exc))
            continue
        title = next(
            (g.title for g in grading.grades if g.label == band.grade), Text(zh=band.grade)
        )
        bands.append(
            CompiledBand(
                interval,
                band.grade,
                c.step(f"grade.{band.grade}", "grade", title, band, bpath),
            )
        )
    if bands and len(bands) == len(grading.bands):
        low = -math.inf if grading.floor is None else grading.floor
        high = math.inf if grading.ceiling is None else grading.ceiling
        for row, message in real_coverage([b.interval for b in bands], low, high):
            c.error((*path, "bands", row - 1, "range"), f"score bands: {message}")
    if len(c.problems) > before:
        return None, [], []
    score = CompiledScore(
        tuple(categories),
        total_slot,
        c.step("score", "score", Text(zh="总分", en="total score"), grading, path),
        grading.base,
        grading.floor,
        grading.ceiling,
        grading.precision,
        tuple(vetoes),
        tuple(v.grade for v in grading.vetoes),
        tuple(bands),
    )
    return score, exprs, veto_exprs


def generate_score(
    c: PackCompiler,
    score: CompiledScore,
    exprs: Sequence[tuple[int, Expr | None, Expr | None]],
    veto_exprs: Sequence[Expr],
    rename: Callable[[str], str],
    guarded: Callable[[list[str]], None],
    body: list[str],
    values: dict[int, str],
    scope: Mapping[str, TypeInfo],
    subject_names: set[str],
    fact_exprs: Mapping[str, Any],
) -> None:
    """Items, category scores, the total and vetoes as straight-line code."""
    by_slot = {slot: (p, w) for slot, p, w in exprs}

    def note_reads(e: Expr | None) -> None:
        for n in e.names if e is not None else ():
            if (
                n in scope
                and n not in fact_exprs
                and n != "as_of"
                and n not in c.param_types
                and n not in c._history
            ):
                subject_names.add(n)

    weighted: list[str] = []
    for cat in score.categories:
        for item in cat.items:
            points_expr, when_expr = by_slot[item.slot]
            note_reads(points_expr)
            note_reads(when_expr)
            if points_expr is not None:
                code = f"({points_expr.to_python(rename)})"
            else:
                code = repr(item.points)
            if item.per is not None:
                code = f"{code} * f_{item.per}"
            if when_expr is not None:
                code = f"({code} if ({when_expr.to_python(rename)}) else 0)"
            if item.cap is not None:
                code = f"_cap({code}, {item.cap!r})"
            guarded([f"c{item.slot} = {code}"])
            values[item.slot] = f"c{item.slot}"
        total = " + ".join(f"c{i.slot}" for i in cat.items)
        if cat.cap is not None:
            total = f"_cap({total}, {cat.cap!r})"
        code = f"{cat.base!r} + {total}"
        if cat.min is not None or cat.max is not None:
            code = f"_clamp({code}, {cat.min!r}, {cat.max!r})"
        guarded([f"c{cat.slot} = {code}"])
        values[cat.slot] = f"c{cat.slot}"
        weighted.append(f"c{cat.slot}" if cat.weight == 1.0 else f"{cat.weight!r} * c{cat.slot}")
    total = f"{score.base!r} + " + " + ".join(weighted)
    guarded(
        [
            f"c{score.total_slot} = _round(_clamp({total}, {score.floor!r}, "
            f"{score.ceiling!r}), {score.precision})"
        ]
    )
    values[score.total_slot] = f"c{score.total_slot}"
    for veto, e in zip(score.vetoes, veto_exprs, strict=True):
        note_reads(e)
        guarded([f"c{veto.slot} = ({e.to_python(rename)})"])
        values[veto.slot] = f"c{veto.slot}"
