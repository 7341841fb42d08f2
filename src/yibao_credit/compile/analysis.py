"""A ruleset's ``analysis:``: the key indicators (重点指标) that the analysis of results by
区划, 等级 and 重点指标 (济医保字〔2023〕19号 四(三)) looks at first.

Each name must be a fact, a score item or a score category of the ruleset: a misspelt name
would otherwise make the analysis leave that indicator out without a word."""

from __future__ import annotations

from yibao_credit.compile.context import CompileContext
from yibao_credit.compile.expressions import suggest_name
from yibao_credit.compile.plan import CompiledAnalysis
from yibao_credit.pack.schema import Ruleset, ScoreGrading, Text
from yibao_credit.pack.sourcemap import PathKey

TITLE = Text(zh="重点指标", en="key indicators")


def indicator_names(rs: Ruleset) -> frozenset[str]:
    """Every name a key indicator may take: the ruleset's facts, score categories and score
    items, read from the ruleset as written (a broken score item elsewhere then adds no
    follow-on error here)."""
    names = set(rs.facts)
    if isinstance(rs.grading, ScoreGrading):
        for cat in rs.grading.categories:
            names.add(cat.id)
            names.update(item.id for item in cat.items)
    return frozenset(names)


def compile_analysis(ctx: CompileContext, rs: Ruleset, path: PathKey) -> CompiledAnalysis | None:
    """The checked key indicators, or None when the ruleset has no ``analysis:``."""
    analysis = rs.analysis
    if analysis is None:
        return None
    apath = (*path, "analysis")
    known = indicator_names(rs)
    seen: set[str] = set()
    for i, name in enumerate(analysis.key_indicators):
        ipath = (*apath, "key_indicators", i)
        if name in seen:
            ctx.error(ipath, f"key indicator {name!r} is listed twice")
        seen.add(name)
        if name not in known:
            listed = ", ".join(sorted(known)) or "none"
            ctx.error(
                ipath,
                f"unknown key indicator {name!r}{suggest_name(name, known)}: a key "
                f"indicator is a fact, score item or score category of this ruleset ({listed})",
            )
    step = ctx.step("analysis", "analysis", TITLE, analysis, apath)
    return CompiledAnalysis(tuple(dict.fromkeys(analysis.key_indicators)), step)
