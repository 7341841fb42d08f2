"""The Python back-end's program for a plan: each ruleset's generated function, and a small
function for each group, roll-up, measure, allocation weight and ``applies_to`` condition.

Built once per plan, from the plan alone (``program_for``); the source of every ruleset is
kept so a reviewer can read exactly what runs (``validate --show-code``).
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from yibao_credit.compile.expressions import Expr
from yibao_credit.compile.plan import CompiledRuleset, Plan, StepSpec
from yibao_credit.engine.codegen import generate_lambda, generate_ruleset
from yibao_credit.engine.runtime import RUNTIME
from yibao_credit.errors import EvaluationError, Problem
from yibao_credit.records.contract import Event, Subject

Made = Callable[[dt.date | None, Mapping[str, Any]], Callable[..., Any]]
"""``_make(as_of, params)``: a condition with the run's date and parameter values bound."""


@dataclass(frozen=True, eq=False)
class RulesetProgram:
    rules: CompiledRuleset
    source: str
    make: Callable[..., Callable[[Subject, list[Event], Mapping[str, Any]], tuple[Any, ...]]]
    """``make(as_of, windows, params)`` gives the per-subject function."""
    param_names: tuple[str, ...]
    condition: Callable[[Subject], Any] | None
    groups: Mapping[str, Made]
    rollup_members: Mapping[StepSpec, Made]
    """By the roll-up's step (one object per roll-up of the plan)."""
    rollup_counts: Mapping[StepSpec, Made]
    measures: Mapping[StepSpec, Made]
    """The conditional measures' conditions, by the measure's step."""
    allocation: Made | None

    def applies(self, subject: Subject) -> bool:
        rs = self.rules
        if not rs.matches_type(subject.type, subject.category):
            return False
        return self.condition is None or bool(self.condition(subject))


@dataclass(frozen=True, eq=False)
class PythonProgram:
    plan: Plan
    rulesets: Mapping[str, RulesetProgram]

    def ruleset_for(self, subject: Subject) -> CompiledRuleset | None:
        """The one ruleset that grades a subject; two would be a contradiction in the pack."""
        found = [p.rules for p in self.rulesets.values() if p.applies(subject)]
        if len(found) > 1:
            raise EvaluationError(
                Problem(
                    "eval.two-rulesets",
                    f"subject {subject.id!r} is graded by rulesets {found[0].id!r} and "
                    f"{found[1].id!r}: their applies_to must not overlap",
                    found[1].applies_to_at,
                )
            )
        return found[0] if found else None


def _exec(source: str, filename: str) -> Any:
    namespace: dict[str, Any] = dict(RUNTIME)
    exec(compile(source, filename, "exec"), namespace)  # from checked expressions only
    return namespace["_make"]


def _made(
    plan: Plan,
    expr: Expr,
    args: list[str],
    direct: Mapping[str, str],
    history: tuple[str, ...] = (),
    exact: bool = False,
) -> Made:
    made: Made = _exec(generate_lambda(plan, expr, args, direct, history, exact), "<roll-up>")
    return made


def _ruleset_program(plan: Plan, rs: CompiledRuleset) -> RulesetProgram:
    source, param_names = generate_ruleset(plan, rs)
    make = _exec(source, f"<pack {plan.id} ruleset {rs.id}>")
    history = tuple(h.name for h in rs.history)
    counted = {n: n for n in ("grade", "status", "exclusion")}
    weight = {n: n for n in ("deposit", "score", "grade", "status")}
    facts = {f.name: f"V[{f.slot}]" for f in rs.facts}
    return RulesetProgram(
        rules=rs,
        source=source,
        make=make,
        param_names=param_names,
        condition=_made(plan, rs.condition, ["s"], {})(None, {}) if rs.condition else None,
        groups={g.id: _made(plan, g.when, ["s"], {}) for g in rs.groups},
        rollup_members={r.step: _made(plan, r.members, ["s"], {}) for r in rs.rollups},
        rollup_counts={
            r.step: _made(plan, r.counts, ["s", "grade", "status", "exclusion"], counted)
            for r in rs.rollups
        },
        measures={
            m.step: _made(
                plan,
                m.when,
                ["s", "grade", "rank", "H", "V"],
                {"grade": "grade", "rank": "rank", **facts},
                history,
            )
            for ms in rs.measures.values()
            for m in ms
            if m.when is not None
        },
        allocation=_made(
            plan,
            rs.allocation.weight,
            ["s", "deposit", "score", "grade", "status"],
            weight,
            exact=True,
        )
        if rs.allocation
        else None,
    )


_PROGRAMS: weakref.WeakKeyDictionary[Plan, PythonProgram] = weakref.WeakKeyDictionary()


def program_for(plan: Plan) -> PythonProgram:
    """The plan's Python program, generated on first use and kept as long as the plan."""
    program = _PROGRAMS.get(plan)
    if program is None:
        program = PythonProgram(
            plan, {rid: _ruleset_program(plan, rs) for rid, rs in plan.rulesets.items()}
        )
        _PROGRAMS[plan] = program
    return program
