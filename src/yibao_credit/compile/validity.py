"""Validity and repair: adverse information expires after its period (有效期), and a credit
repair neutralises an event of a repairable kind from the repair's date."""

from __future__ import annotations

from yibao_credit.compile.context import CompileContext
from yibao_credit.compile.plan import StepSpec, ValidityRules
from yibao_credit.pack.schema import Text
from yibao_credit.pack.sourcemap import PathKey
from yibao_credit.time.periods import parse_period


def compile_validity(ctx: CompileContext) -> ValidityRules:
    periods: dict[str, tuple[str, StepSpec]] = {}
    for kind, rule in ctx.model.validity.items():
        path: PathKey = ("validity", kind)
        if kind not in ctx.kinds:
            ctx.error(path, f"unknown event kind {kind!r}")
            continue
        try:
            parse_period(rule.period)
        except ValueError as exc:
            ctx.error((*path, "period"), str(exc))
            continue
        title = Text(zh=f"{ctx.kinds[kind].title_zh}有效期", en=f"validity of {kind} events")
        periods[kind] = (rule.period, ctx.step(f"validity.{kind}", "validity", title, rule, path))
    repairable: frozenset[str] = frozenset()
    repair_step = None
    repair = ctx.model.repair
    if repair is not None:
        for kind in repair.kinds:
            if kind not in ctx.kinds:
                ctx.error(("repair", "kinds"), f"unknown event kind {kind!r}")
        repairable = frozenset(repair.kinds)
        title = Text(zh="信用修复", en="credit repair")
        repair_step = ctx.step("repair", "repair", title, repair, ("repair",))
    return ValidityRules(periods, repairable, repair_step)
