"""A ruleset: one subject type's facts, exclusions, grading, groups, roll-ups and measures,
compiled concept by concept into one ``CompiledRuleset`` of the plan."""

from __future__ import annotations

from itertools import count

from yibao_credit.compile.allocation import compile_allocation
from yibao_credit.compile.analysis import compile_analysis
from yibao_credit.compile.context import CompileContext, any_provisional
from yibao_credit.compile.criteria import compile_criteria
from yibao_credit.compile.exclusions import compile_exclusions
from yibao_credit.compile.expressions import Expr
from yibao_credit.compile.facts import check_facts, fact_order, kinds_read, place_facts
from yibao_credit.compile.groups import compile_groups
from yibao_credit.compile.history import compile_history_facts, compile_history_lapse
from yibao_credit.compile.measures import compile_measures
from yibao_credit.compile.plan import CompiledRollup, CompiledRuleset
from yibao_credit.compile.rollups import compile_rollup
from yibao_credit.compile.scores import compile_score
from yibao_credit.compile.windows import window_steps
from yibao_credit.pack.schema import CriteriaGrading, Ruleset, Text
from yibao_credit.pack.sourcemap import PathKey


def compile_rulesets(ctx: CompileContext) -> dict[str, CompiledRuleset]:
    out: dict[str, CompiledRuleset] = {}
    for rid, ruleset in ctx.model.rulesets.items():
        compiled = compile_ruleset(ctx, rid, ruleset, ("rulesets", rid))
        if compiled is not None:
            out[rid] = compiled
    check_overlapping_rulesets(ctx)
    return out


def compile_ruleset(
    ctx: CompileContext, rid: str, rs: Ruleset, path: PathKey
) -> CompiledRuleset | None:
    before = len(ctx.problems)
    for name in rs.required:
        if name not in ctx.subject_fields:
            ctx.error((*path, "required"), f"{name!r} is not a subject field")
    scope = ctx.subject_scope(rs.required, ctx.categories())
    history_types, history = compile_history_facts(ctx, rs, path)
    scope.update(history_types)
    for fname in rs.facts:
        if fname in scope:
            ctx.error(
                (*path, "facts", fname),
                f"fact {fname!r} has the name of a subject field, a parameter or a history fact",
            )
    checked, fact_types, windows = check_facts(ctx, rs, path, scope, fact_order(ctx, rs, path))
    full_scope = {**scope, **fact_types}
    slot = count()
    facts = place_facts(ctx, checked, path, slot)
    exclusions = compile_exclusions(ctx, rs, path, full_scope, slot)
    gpath = (*path, "grading")
    score = None
    if isinstance(rs.grading, CriteriaGrading):
        grades, rules, default = compile_criteria(ctx, rs.grading, full_scope, gpath, slot)
        default_grade: str = rs.grading.default.grade
    else:
        grades, rules = [g.label for g in rs.grading.grades], []
        score = compile_score(ctx, rs.grading, full_scope, gpath, slot, fact_types, rs.groups)
        default = (
            score.step
            if score
            else ctx.step("score", "score", Text(zh="得分", en="score"), rs.grading, gpath)
        )
        default_grade = grades[-1]
    groups = compile_groups(ctx, rs, path)
    allocation = compile_allocation(ctx, rs, path, grades)
    condition = _applies_to(ctx, rid, rs, path)
    rollups = _rollups(ctx, rs, path, grades, [x.id for x in exclusions])
    measures = compile_measures(ctx, rs, path, grades, history_types, fact_types)
    period = _period(ctx, rs, path, windows)
    lapse = compile_history_lapse(ctx, rs, path, facts)
    analysis = compile_analysis(ctx, rs, path)
    if len(ctx.problems) > before:
        return None
    return CompiledRuleset(
        id=rid,
        title=rs.title,
        type=rs.applies_to.type,
        categories=frozenset(rs.applies_to.categories) if rs.applies_to.categories else None,
        required=tuple(rs.required),
        windows=tuple(windows),
        period=period,
        facts=tuple(facts),
        exclusions=tuple(exclusions),
        rules=tuple(rules),
        default=default,
        default_grade=default_grade,
        grades=tuple(grades),
        grade_titles={g.label: g.title for g in rs.grading.grades},
        rollups=rollups,
        measures=measures,
        kinds_read=kinds_read(facts),
        slots=next(slot),
        rank={g: i for i, g in enumerate(grades)},
        fact_slots={f.name: f.slot for f in facts},
        window_steps=window_steps(ctx, windows),
        evidence_slots={f.name: f.evidence_slot for f in facts if f.evidence_slot is not None},
        history_cycle=rs.history.cycle if rs.history else None,
        history=history,
        history_lapse=lapse,
        score=score,
        groups=groups,
        allocation=allocation,
        condition=condition,
        has_provisional=any_provisional(rs)
        or any(p.provisional for p in ctx.model.procedures)
        or any(w.provisional for w in ctx.model.windows.values()),
        applies_to_at=ctx.loc((*path, "applies_to")),
        analysis=analysis,
    )


def _period(ctx: CompileContext, rs: Ruleset, path: PathKey, windows: list[str]) -> str | None:
    """The window a result's period is: the one named, or the first the facts read."""
    if rs.period is None:
        return windows[0] if windows else None
    if rs.period not in windows:
        known = ", ".join(windows) or "none"
        ctx.error(
            (*path, "period"),
            f"period must name a window this ruleset's facts read ({known}), not {rs.period!r}",
        )
        return None
    return rs.period


def _applies_to(ctx: CompileContext, rid: str, rs: Ruleset, path: PathKey) -> Expr | None:
    """The ruleset's subject condition; which ruleset grades a subject is fixed by the
    subject alone, never by a parameter."""
    if rs.applies_to.when is None:
        return None
    wpath = (*path, "applies_to", "when")
    test = ctx.try_expr(
        rs.applies_to.when,
        ctx.subject_scope((), ctx.categories()),
        wpath,
        scope_name=f"ruleset {rid} applies_to",
    )
    if test is not None and any(n in ctx.param_types for n in test.names):
        ctx.error(wpath, "which ruleset grades a subject cannot depend on parameters")
        return None
    return test


def _rollups(
    ctx: CompileContext, rs: Ruleset, path: PathKey, grades: list[str], exclusions: list[str]
) -> tuple[CompiledRollup, ...]:
    compiled = (
        compile_rollup(ctx, ro, rs, (*path, "rollups", i), grades, exclusions)
        for i, ro in enumerate(rs.rollups)
    )
    return tuple(r for r in compiled if r is not None)


def check_overlapping_rulesets(ctx: CompileContext) -> None:
    """Without a condition, two rulesets may not claim the same type and category."""
    seen: dict[tuple[str, str | None], str] = {}
    for rid, rs in ctx.model.rulesets.items():
        if rs.applies_to.when is not None:
            continue  # conditions are checked per subject: one ruleset each, or an error
        cats: list[str | None] = list(rs.applies_to.categories or []) or [None]
        for cat in cats:
            for (t, c), other in seen.items():
                if t == rs.applies_to.type and (c is None or cat is None or c == cat):
                    ctx.error(
                        ("rulesets", rid, "applies_to"),
                        f"ruleset {rid!r} overlaps ruleset {other!r}: a subject "
                        "must be graded by exactly one ruleset",
                    )
            seen[(rs.applies_to.type, cat)] = rid
