"""The compile pipeline: a validated pack in, one plan out — or every problem, located.

Concept by concept (parameters, windows, rulesets with their facts, checks, scores, groups,
roll-ups and measures; then procedures, the calendar, validity and review), each compiler
records what is wrong at its line in the pack. Problems are raised stage by stage, in that
order, so a broken ruleset is reported before the procedures that would be checked after it.
"""

from __future__ import annotations

from yibao_credit.compile.calendar import compile_calendar
from yibao_credit.compile.context import CompileContext, subject_attribute_specs
from yibao_credit.compile.parameters import check_parameters
from yibao_credit.compile.plan import Plan
from yibao_credit.compile.procedures import compile_dated_procedures, compile_procedures
from yibao_credit.compile.review import compile_review
from yibao_credit.compile.rulesets import compile_rulesets
from yibao_credit.compile.validity import compile_validity
from yibao_credit.compile.windows import check_windows
from yibao_credit.pack.schema import PackModel
from yibao_credit.pack.sourcemap import YamlDocument


def compile_pack(model: PackModel, doc: YamlDocument, sha256: str) -> Plan:
    """The plan of a validated pack; raises PackError listing every problem found."""
    ctx = CompileContext(model, doc)
    check_parameters(ctx)
    check_windows(ctx)
    rulesets = compile_rulesets(ctx)
    ctx.raise_problems()
    procedures = compile_procedures(ctx)
    dated = compile_dated_procedures(ctx)
    ctx.raise_problems()
    arrangements = compile_calendar(ctx)
    ctx.raise_problems()
    validity = compile_validity(ctx)
    ctx.raise_problems()
    review = compile_review(ctx)
    ctx.raise_problems()
    meta = model.pack
    return Plan(
        id=meta.id,
        version=meta.version,
        sha256=sha256,
        file=doc.file,
        effective=meta.effective,
        effective_at=doc.locate(("pack", "effective")),
        version_by=meta.version_by,
        windows=dict(model.windows),
        parameters=dict(model.parameters),
        rulesets=rulesets,
        event_kinds=ctx.kinds,
        subject_attributes=subject_attribute_specs(model),
        procedures=procedures,
        dated_procedures=dated,
        validity=validity,
        review=review,
        arrangements=arrangements,
    )
