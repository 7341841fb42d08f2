"""Measures: what follows from a grade (inspection frequency, publication, settlement
reductions), each with its parameters and an optional condition on the subject."""

from __future__ import annotations

from collections.abc import Mapping

from yibao_credit.compile.context import CompileContext
from yibao_credit.compile.expressions import TypeInfo
from yibao_credit.compile.plan import CompiledMeasure
from yibao_credit.pack.schema import Ruleset
from yibao_credit.pack.sourcemap import PathKey


def compile_measures(
    ctx: CompileContext,
    rs: Ruleset,
    path: PathKey,
    grades: list[str],
    history_types: Mapping[str, TypeInfo],
    fact_types: Mapping[str, TypeInfo],
) -> dict[str, tuple[CompiledMeasure, ...]]:
    """The measures each grade brings, in pack order. A condition reads the subject, its
    facts (a measure that applies only while an agreement was not ended: 镇医保〔2024〕82号
    三(二)3(2) "未被解除协议的"), its history facts, and its final grade and rank."""
    measures: dict[str, list[CompiledMeasure]] = {g: [] for g in grades}
    scope = {
        **ctx.subject_scope(rs.required, ctx.categories()),
        **fact_types,
        **history_types,
        "grade": TypeInfo("str", choices=frozenset(grades)),
        "rank": TypeInfo("int"),
    }
    for i, m in enumerate(rs.measures):
        mpath = (*path, "measures", i)
        when = None
        if m.when is not None:
            when = ctx.try_expr(m.when, scope, (*mpath, "when"), scope_name=f"measure {m.id}")
            if when is None:
                continue
        step = ctx.step(f"measure.{m.id}", "measure", m.title, m, mpath, when)
        for g in m.grades:
            if g not in measures:
                ctx.unknown_grade((*mpath, "grades"), g, grades)
                continue
            measures[g].append(CompiledMeasure(m.id, m.title, dict(m.params), step, when))
    return {g: tuple(ms) for g, ms in measures.items()}
