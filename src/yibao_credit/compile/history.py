"""History facts: readings of a subject's earlier results, cycle by cycle (★★★ twice in a row)."""

from __future__ import annotations

from yibao_credit.compile.context import CompileContext
from yibao_credit.compile.expressions import TypeInfo
from yibao_credit.compile.plan import CompiledHistoryFact
from yibao_credit.pack.schema import Ruleset
from yibao_credit.pack.sourcemap import PathKey
from yibao_credit.time.periods import parse_period


def compile_history_facts(
    ctx: CompileContext, rs: Ruleset, path: PathKey
) -> tuple[dict[str, TypeInfo], tuple[CompiledHistoryFact, ...]]:
    """Types and steps of the ruleset's history facts (empty without a history section)."""
    if rs.history is None:
        return {}, ()
    hpath = (*path, "history")
    try:
        parse_period(rs.history.cycle)
    except ValueError as exc:
        ctx.error((*hpath, "cycle"), str(exc))
    grades = frozenset(g.label for g in rs.grading.grades)
    types: dict[str, TypeInfo] = {}
    out: list[CompiledHistoryFact] = []
    for name, fact in rs.history.facts.items():
        fpath = (*hpath, "facts", name)
        for g in fact.grades or ():
            if g not in grades:
                ctx.unknown_grade((*fpath, "grades"), g, sorted(grades))
        if name in rs.facts or name in ctx.subject_fields or name in ctx.param_types:
            ctx.error(
                fpath,
                f"history fact {name!r} has the name of another fact, a "
                "subject field or a parameter",
            )
        types[name] = {
            "previous": TypeInfo("str", optional=True, choices=grades),
            "previous_rank": TypeInfo("int", optional=True),
        }.get(fact.op, TypeInfo("int"))
        out.append(
            CompiledHistoryFact(
                name, fact, ctx.step(f"history.{name}", "history", fact.title, fact, fpath)
            )
        )
    return types, tuple(out)
