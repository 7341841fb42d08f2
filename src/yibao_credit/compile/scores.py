"""Score grading: items that deduct or add points (per event or fact, with caps), weighted
categories, vetoes that force a grade, and bands that must cover the score range exactly once.

A weight, a cap or a band edge is a number or the name of a numeric parameter (a bureau's
calibration as a dated value). A named one is checked against every value it can take — each
dated value and each evaluation group's own — and the bands' coverage and the weights' total
against every combination of values in force together, from each date one of them changes."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from itertools import count
from typing import Any

from yibao_credit.compile.context import CompileContext, value_fits
from yibao_credit.compile.criteria import grade_title
from yibao_credit.compile.expressions import Expr, TypeInfo, suggest_name
from yibao_credit.compile.intervals import RealInterval, real_coverage, split_interval
from yibao_credit.compile.plan import (
    CompiledBand,
    CompiledCategory,
    CompiledCheck,
    CompiledItem,
    CompiledScore,
    ScoreNumber,
)
from yibao_credit.pack.schema import (
    NAME_RE,
    Group,
    ScoreCategory,
    ScoreGrading,
    ScoreItem,
    Text,
)
from yibao_credit.pack.sourcemap import PathKey

NUMERIC = ("int", "number")


def compile_score(
    ctx: CompileContext,
    grading: ScoreGrading,
    scope: Mapping[str, TypeInfo],
    path: PathKey,
    slot: count[int],
    fact_types: Mapping[str, TypeInfo],
    groups: Sequence[Group] = (),
) -> CompiledScore | None:
    """Slots: each category's items then the category, the total, then the vetoes.

    ``groups``: the ruleset's evaluation groups, whose own parameter values a weight, cap or
    band edge named by a parameter may take."""
    before = len(ctx.problems)
    grades = [g.label for g in grading.grades]
    numbers = _Numbers(ctx, groups)
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
            if (
                compiled := _item(
                    ctx, cat, item, (*cpath, "items", ii), scope, slot, fact_types, numbers
                )
            )
            is not None
        ]
        categories.append(_category(ctx, cat, cpath, items, next(slot), numbers))
    _check_totals(ctx, grading, categories, path, numbers)
    total_slot = next(slot)
    vetoes = _vetoes(ctx, grading, scope, path, grades, slot)
    bands = _bands(ctx, grading, path, grades, numbers)
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
    numbers: _Numbers,
) -> CompiledItem | None:
    """One score item: fixed points or an expression, per unit of a fact, when a condition
    holds, capped; None when it does not check out (its problems are recorded)."""
    cap = numbers.check(item.cap, (*ipath, "cap"), "cap", gt=0)
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
    if item.cap is not None and cap is None:
        return None  # the cap names no numeric parameter (recorded)
    reads = tuple(
        dict.fromkeys(
            ([item.per] if item.per else [])
            + list(when_expr.names if when_expr else ())
            + list(points_expr.names if points_expr else ())
        )
    )
    shown: Expr | None = when_expr or points_expr
    step = ctx.step(f"item.{cat.id}.{item.id}", "item", item.title, item, ipath, shown)
    # The step reads the cap's parameter too: a provisional value in force counts for it.
    return CompiledItem(
        item.id,
        cat.id,
        next(slot),
        replace(step, reads=_with_parameters(reads, [cap])),
        item.per,
        item.points if not isinstance(item.points, str) else None,
        cap,
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
    numbers: _Numbers,
) -> CompiledCategory:
    cap = numbers.check(cat.cap, (*cpath, "cap"), "cap", gt=0)
    weight = numbers.check(cat.weight, (*cpath, "weight"), "weight", ge=0)
    step = ctx.step(f"category.{cat.id}", "category", cat.title, cat, cpath)
    return CompiledCategory(
        cat.id,
        slot,
        replace(step, reads=_with_parameters(step.reads, [cap, weight])),
        cat.base,
        cap,
        cat.min,
        cat.max,
        1.0 if weight is None else weight,
        tuple(items),
    )


def _with_parameters(
    reads: tuple[str, ...], values: Iterable[ScoreNumber | None]
) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*reads, *(v for v in values if isinstance(v, str))]))


class _Numbers:
    """Weights, caps and band edges that name a parameter: each name checked, and every set
    of values the named parameters can hold together on a run."""

    def __init__(self, ctx: CompileContext, groups: Sequence[Group]) -> None:
        self.ctx = ctx
        self.groups = groups

    def values(self, name: str) -> list[tuple[str, Any]]:
        """Every value the parameter can have on a run, with where it comes from."""
        param = self.ctx.model.parameters[name]
        out = [(f"from {since}", v.value) for since, v in sorted(param.values.items())]
        out += [(f"in group {g.id}", g.params[name]) for g in self.groups if name in g.params]
        return [(where, v) for where, v in out if value_fits(param.type, v)]

    def check(
        self,
        value: float | str | None,
        path: PathKey,
        what: str,
        gt: float | None = None,
        ge: float | None = None,
    ) -> ScoreNumber | None:
        """A number as is; a name if it is a numeric parameter whose every value keeps the
        bound (``gt``/``ge``); None (with the problem recorded) otherwise."""
        if not isinstance(value, str):
            return value
        ctx = self.ctx
        params = ctx.model.parameters
        param = params.get(value)
        if param is None:
            numeric = frozenset(n for n, p in params.items() if p.type in NUMERIC)
            ctx.error(
                path,
                f"{what} {value!r} is not a parameter of the pack"
                + suggest_name(value, numeric)
                + "; give a number or the name of a parameter of type int or number",
            )
            return None
        if param.type not in NUMERIC:
            ctx.error(
                path,
                f"{what} {value!r} is a parameter of type {param.type}: a {what} must be a "
                "number, or a parameter of type int or number",
            )
            return None
        for where, v in self.values(value):
            if math.isnan(v) or (gt is not None and not v > gt) or (ge is not None and not v >= ge):
                bound = f"greater than {gt:g}" if gt is not None else f"at least {ge:g}"
                ctx.error(path, f"{what} {value!r} is {v!r} {where}: a {what} must be {bound}")
                return None
        return value

    def scenarios(self, names: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
        """Each set of values the named parameters hold together on some run: from each date
        one of them changes (once all are in force), and in each group that sets one; with
        words for messages (empty when no parameter is named)."""
        wanted = sorted(set(names))
        if not wanted:
            return [("", {})]
        params = self.ctx.model.parameters
        dated = {
            n: sorted(
                (dt.date.fromisoformat(k), v.value)
                for k, v in params[n].values.items()
                if value_fits(params[n].type, v.value)
            )
            for n in wanted
        }
        out: list[tuple[str, dict[str, Any]]] = []
        seen: set[tuple[Any, ...]] = set()

        def add(values: dict[str, Any], where: str) -> None:
            key = tuple(values[n] for n in wanted)
            if key not in seen:
                seen.add(key)
                shown = ", ".join(f"{n}={values[n]!r}" for n in wanted)
                out.append((f" (with {shown} {where})", values))

        for day in sorted({d for rows in dated.values() for d, _ in rows}):
            in_force = {n: [v for since, v in rows if since <= day] for n, rows in dated.items()}
            if not all(in_force.values()):
                continue  # a run that early stops: a parameter is not in force yet
            values = {n: vs[-1] for n, vs in in_force.items()}
            add(values, f"from {day}")
            for g in self.groups:
                own = {
                    n: g.params[n]
                    for n in wanted
                    if n in g.params and value_fits(params[n].type, g.params[n])
                }
                if own:
                    add({**values, **own}, f"from {day} in group {g.id}")
        return out


def _check_totals(
    ctx: CompileContext,
    grading: ScoreGrading,
    categories: list[CompiledCategory],
    path: PathKey,
    numbers: _Numbers,
) -> None:
    """``points_total``: the categories' max add up to it; ``weights_total``: their weights
    (with weights given by parameters: on every date and in every group)."""
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
        named = [c.weight for c in categories if isinstance(c.weight, str)]
        for where, values in numbers.scenarios(named):
            weights = sum(_value(c.weight, values) for c in categories)
            if abs(weights - grading.weights_total) > 1e-9:
                ctx.error(
                    (*path, "weights_total"),
                    f"the categories' weights add up to {weights:g}, "
                    f"not {grading.weights_total:g}{where}",
                )
                break


def _value(number: ScoreNumber, values: Mapping[str, Any]) -> float:
    return float(values[number]) if isinstance(number, str) else number


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
    ctx: CompileContext,
    grading: ScoreGrading,
    path: PathKey,
    grades: list[str],
    numbers: _Numbers,
) -> list[CompiledBand]:
    """The bands in order, checked to cover [floor, ceiling] exactly once (with edges given by
    parameters: on every date and in every group)."""
    bands: list[CompiledBand] = []
    for bi, band in enumerate(grading.bands):
        bpath = (*path, "bands", bi)
        if band.grade not in grades:
            ctx.unknown_grade((*bpath, "grade"), band.grade, grades)
        edges = _edges(ctx, band.range, (*bpath, "range"), numbers)
        if edges is None:
            continue
        low_inclusive, low, high, high_inclusive = edges
        title = grade_title(grading.grades, band.grade)
        step = ctx.step(f"grade.{band.grade}", "grade", title, band, bpath)
        compiled = CompiledBand(band.grade, step, low, low_inclusive, high, high_inclusive, bi + 1)
        if compiled.parameters:
            step = replace(step, reads=_with_parameters(step.reads, compiled.parameters))
            compiled = replace(compiled, step=step)
        bands.append(compiled)
    if bands and len(bands) == len(grading.bands):
        low = -math.inf if grading.floor is None else grading.floor
        high = math.inf if grading.ceiling is None else grading.ceiling
        # Each problem once, with the values that cause it (none when every set of values
        # does: the numbers as written are at fault).
        found: dict[tuple[int, str], list[str]] = {}
        scenarios = numbers.scenarios(n for b in bands for n in b.parameters)
        for where, values in scenarios:
            intervals = []
            for b in bands:
                try:
                    intervals.append(
                        RealInterval.checked(
                            grading.bands[b.row - 1].range,
                            _value(b.low, values),
                            b.low_inclusive,
                            _value(b.high, values),
                            b.high_inclusive,
                            b.row,
                        )
                    )
                except ValueError as exc:
                    found.setdefault((b.row, str(exc)), []).append(where)
            if len(intervals) == len(bands):
                for row, message in real_coverage(intervals, low, high):
                    message += _bound_hint(grading, message, intervals)
                    found.setdefault((row, f"score bands: {message}"), []).append(where)
        for (row, message), wheres in found.items():
            where = "" if len(wheres) == len(scenarios) else wheres[0]
            ctx.error((*path, "bands", row - 1, "range"), message + where)
    return bands


def _bound_hint(grading: ScoreGrading, message: str, intervals: list[RealInterval]) -> str:
    """Without ``ceiling`` (``floor``) the total has no upper (lower) bound, so the bands must
    reach ``inf`` (``-inf``): an analyst who meant the score to stop at the top band's edge
    has left out the key, and is told which one and where it goes."""
    if grading.ceiling is None and message.startswith("no band covers the highest scores"):
        top = max(i.high for i in intervals)
        return (
            f" (the grading has no 'ceiling', so scores have no upper bound: add "
            f"'ceiling: {top:g}' to the grading if no score can go above {top:g}, or end "
            "the top band at inf)"
        )
    if grading.floor is None and message.startswith("no band covers the lowest scores"):
        bottom = min(i.low for i in intervals)
        return (
            f" (the grading has no 'floor', so scores have no lower bound: add "
            f"'floor: {bottom:g}' to the grading if no score can go below {bottom:g}, or start "
            "the lowest band at -inf)"
        )
    return ""


def _edges(
    ctx: CompileContext, text: str, path: PathKey, numbers: _Numbers
) -> tuple[bool, ScoreNumber, ScoreNumber, bool] | None:
    """A band's range as (low inclusive, low, high, high inclusive), each edge a number or a
    checked parameter name; None (with the problem recorded) when it does not check out."""
    try:
        low_inclusive, low_text, high_text, high_inclusive = split_interval(text)
    except ValueError as exc:
        ctx.error(path, str(exc))
        return None
    edges: list[ScoreNumber] = []
    for edge in (low_text, high_text):
        try:
            edges.append(float(edge))
            continue
        except ValueError:
            pass
        if not NAME_RE.fullmatch(edge):
            ctx.error(
                path,
                f"{text!r}: the edges must be numbers (or -inf, inf) or names of parameters",
            )
            return None
        name = numbers.check(edge, path, "band edge")
        if name is None:
            return None
        edges.append(name)
    if not any(isinstance(e, str) for e in edges):
        try:
            RealInterval.checked(
                text, float(edges[0]), low_inclusive, float(edges[1]), high_inclusive, 0
            )
        except ValueError as exc:
            ctx.error(path, str(exc))
            return None
    return low_inclusive, edges[0], edges[1], high_inclusive
