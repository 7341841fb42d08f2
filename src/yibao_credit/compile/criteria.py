"""Grading by criteria: ordered grade rules, each matching when any (or all) of its criteria
hold; the first rule that matches gives the grade, else the default."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import count

from yibao_credit.compile.context import CompileContext
from yibao_credit.compile.expressions import TypeInfo
from yibao_credit.compile.plan import CompiledCheck, CompiledRule, StepSpec
from yibao_credit.pack.schema import CriteriaGrading, Grade, Text
from yibao_credit.pack.sourcemap import PathKey


def compile_criteria(
    ctx: CompileContext,
    grading: CriteriaGrading,
    scope: Mapping[str, TypeInfo],
    path: PathKey,
    slot: count[int],
) -> tuple[list[str], list[CompiledRule], StepSpec]:
    """The grades, the rules in order, and the default's step."""
    grades = [g.label for g in grading.grades]
    if len(set(grades)) != len(grades):
        ctx.error((*path, "grades"), "grade labels must be unique")
    rules: list[CompiledRule] = []
    seen: set[str] = set()
    for i, rule in enumerate(grading.rules):
        rpath = (*path, "rules", i)
        if rule.grade not in grades:
            ctx.unknown_grade((*rpath, "grade"), rule.grade, grades)
        mode = "any" if rule.any is not None else "all"
        checks: list[CompiledCheck] = []
        for j, crit in enumerate(rule.criteria):
            cpath = (*rpath, mode, j)
            if crit.id in seen:
                ctx.error((*cpath, "id"), f"duplicate criterion id {crit.id!r}")
            seen.add(crit.id)
            e = ctx.try_expr(crit.when, scope, (*cpath, "when"), scope_name=f"criterion {crit.id}")
            if e is None:
                continue
            step = ctx.step(f"criterion.{crit.id}", "criterion", crit.title, crit, cpath, e)
            checks.append(CompiledCheck(crit.id, next(slot), step, e))
        title = grade_title(grading.grades, rule.grade)
        rules.append(
            CompiledRule(
                rule.grade,
                mode,
                tuple(checks),
                ctx.step(f"grade.{rule.grade}", "grade", title, rule, rpath),
            )
        )
    default = grading.default
    if default.grade not in grades:
        ctx.unknown_grade((*path, "default", "grade"), default.grade, grades)
    title = grade_title(grading.grades, default.grade)
    default_step = ctx.step("grade.default", "grade", title, default, (*path, "default"))
    return grades, rules, default_step


def grade_title(grades: Sequence[Grade], label: str) -> Text:
    """The title a grade list gives a label (the label itself when it lists none)."""
    return next((g.title for g in grades if g.label == label), Text(zh=label))
