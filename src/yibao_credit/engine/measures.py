"""Measures: what each final grade brings, with conditional measures decided per subject
(a condition may read the subject, its grade and rank, and its history facts)."""

from __future__ import annotations

from typing import Any

from yibao_credit.compile.plan import CompiledMeasure
from yibao_credit.engine.context import EMPTY, RunContext
from yibao_credit.engine.program import PythonProgram
from yibao_credit.engine.results import Result
from yibao_credit.errors import EvaluationError, Problem


def apply_measures(program: PythonProgram, results: list[Result], context: RunContext) -> None:
    """The measures each final grade brings, with conditional ones decided per subject."""
    params = {name: p.value for name, p in context.params.items()}
    # Per ruleset and grade, once: the measures, and the conditional ones with their functions.
    plans: dict[tuple[int, str], tuple[tuple[CompiledMeasure, ...], list[Any], int]] = {}
    for r in results:
        grade = r.grade
        if grade is None:
            continue
        rs = r.ruleset
        plan = plans.get((id(rs), grade))
        if plan is None:
            candidates = rs.measures.get(grade, ())
            when = program.rulesets[rs.id].measures
            conditions = [
                (m, when[m.step](context.as_of, params) if m.when is not None else None)
                for m in candidates
            ]
            plan = plans[(id(rs), grade)] = (
                candidates,
                conditions if any(fn is not None for _, fn in conditions) else [],
                rs.rank[grade],
            )
        candidates, conditions, rank = plan
        if not conditions:
            r.measures = candidates
            continue
        chosen: list[CompiledMeasure] = []
        checks: list[tuple[CompiledMeasure, bool]] = []
        history = r.history or EMPTY
        for m, fn in conditions:
            if fn is None:
                chosen.append(m)
                continue
            try:
                held = bool(fn(r.subject, grade, rank, history, r.values))
            except Exception as exc:
                raise EvaluationError(
                    Problem(
                        "eval.step-failed",
                        f"subject {r.subject.id!r}: the condition of measure {m.id!r} failed: "
                        f"{type(exc).__name__}: {exc}",
                    )
                ) from exc
            checks.append((m, held))
            if held:
                chosen.append(m)
        r.measures, r.measure_checks = tuple(chosen), tuple(checks)
