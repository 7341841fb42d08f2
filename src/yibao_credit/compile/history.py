"""History facts: readings of a subject's earlier results, cycle by cycle (★★★ twice in a row),
and when an earlier result lapses (its adverse information expired or repaired)."""

from __future__ import annotations

from collections.abc import Sequence

from yibao_credit.compile.context import CompileContext
from yibao_credit.compile.expressions import TypeInfo
from yibao_credit.compile.plan import CompiledFact, CompiledHistoryFact, CompiledHistoryLapse
from yibao_credit.pack.schema import Ruleset, reading
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


def compile_history_lapse(
    ctx: CompileContext, rs: Ruleset, path: PathKey, facts: Sequence[CompiledFact]
) -> CompiledHistoryLapse | None:
    """``history.lapse``: which earlier grades lapse once the events the named event facts
    counted for them have all expired (``validity``) or been repaired (``repair``). Each fact's
    window and filter must be judged as of an earlier as_of from the events alone: no window
    starting on a subject's date, none whose length is a parameter, no filter reading a
    parameter or ``as_of``."""
    if rs.history is None or rs.history.lapse is None:
        return None
    lapse = rs.history.lapse
    lpath = (*path, "history", "lapse")
    grades = [g.label for g in rs.grading.grades]
    for i, g in enumerate(lapse.grades):
        if g not in grades:
            ctx.unknown_grade((*lpath, "grades", i), g, grades)
    by_name = {f.name: f for f in facts}
    params = set(ctx.model.parameters)
    ending = set(ctx.model.validity) | set(ctx.model.repair.kinds if ctx.model.repair else ())
    chosen: list[CompiledFact] = []
    for i, name in enumerate(lapse.facts):
        fpath = (*lpath, "facts", i)
        fact = by_name.get(name)
        if fact is None or fact.op == "compute":
            events = [f.name for f in facts if f.op != "compute"]
            what = "a compute fact" if fact is not None else "not a fact of this ruleset"
            ctx.error(
                fpath,
                f"{name!r} is {what}: a lapse reads event facts ({', '.join(events) or 'none'})",
            )
            continue
        window = ctx.model.windows.get(fact.window or "")
        if window is not None and window.type == "since":
            ctx.error(
                fpath,
                f"fact {name!r} reads window {fact.window!r}, which starts on a date of the "
                "subject (since): a lapse bounds each window as of the earlier as_of alone",
            )
            continue
        if window is not None and window.length is not None and window.length in params:
            ctx.error(
                fpath,
                f"fact {name!r} reads window {fact.window!r}, whose length is parameter "
                f"{window.length!r}: its value on an earlier as_of may differ",
            )
            continue
        reads = sorted(n for n in (fact.where.names if fact.where else ()) if n in params)
        if reads or (fact.where is not None and "as_of" in fact.where.names):
            ctx.error(
                fpath,
                f"fact {name!r} filters with {', '.join(reads) or 'as_of'}: a lapse judges "
                "the filter on an earlier as_of, where that value may differ",
            )
            continue
        chosen.append(fact)
    if chosen and not any(f.kinds is None or f.kinds & ending for f in chosen):
        ctx.error(
            (*lpath, "facts"),
            "none of these facts counts a kind that has a validity period (validity) or can "
            "be repaired (repair.kinds): no earlier result could ever lapse",
        )
    return CompiledHistoryLapse(
        frozenset(lapse.grades),
        tuple(chosen),
        ctx.cite(lapse.clause, lpath),
        reading(lapse.provisional),
    )
