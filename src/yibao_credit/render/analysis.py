"""The analysis of a run that a trial evaluation is judged by (济医保字〔2023〕19号 四(二)5
开展试评价, 四(三) 按不同区划、等级以及重点指标进行分析…如有明显偏离,再进行指标修订).

What it gives, from the results' values tuples (never from parsed traces):

- grade counts overall and by region, evaluation group, subject category, level, ruleset;
- per ruleset: count, mean, median, min and max of the score and of each score category,
  overall, by each dimension and by grade; the same for each score item and each fact overall;
- the key indicators (重点指标) the pack names (``analysis:``), by each dimension and by grade;
- the subjects whose score deviates most from their peers' median, in units of the peers'
  median absolute deviation, per peer group of at least ``MIN_PEERS`` (smaller groups are
  listed as skipped, never silently left out).

Numbers are exact decimals: each value is taken as the decimal it prints as (a score is
already rounded by the pack's precision; points are tidied to 9 decimals as the trace shows
them), sums and medians are exact, and a mean or median is rounded half up to the pack's
precision, as the pack rounds its scores. Every mapping is sorted, so the same results give
the same bytes whatever the order of the input.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TextIO

from yibao_credit.arguments import LANGS, choice_argument
from yibao_credit.compile.plan import CompiledRuleset, CompiledScore
from yibao_credit.engine.context import RunContext
from yibao_credit.engine.results import Result, Run
from yibao_credit.pack.schema import Text
from yibao_credit.render.html import (
    bar_svg,
    escape,
    histogram_svg,
    html_page,
    series_colours,
    table_html,
)
from yibao_credit.render.results import write_aligned

FORMATS = ("table", "json", "csv")
DIMENSIONS = ("region", "group", "category", "level", "ruleset")
"""What results can be counted by: a subject's 区划, its evaluation group (ruleset/group), its
category (hospital, clinic, …), its level (三级, …) and the ruleset that graded it."""
DEFAULT_BY = ("region", "group", "category", "ruleset")
MIN_PEERS = 5
"""A peer group smaller than this has no meaningful median absolute deviation: skipped."""
MAD_FACTOR = Decimal("1.4826")
"""1.4826 × MAD estimates the standard deviation of normally distributed scores, so the
deviation over it reads like a z-score."""
MEAN_AD_FACTOR = Decimal("1.2533")
"""When more than half the peers share one score (MAD 0), 1.2533 × the mean absolute
deviation from the median stands in for it (√(π/2), the same estimate for normal scores)."""
DEFAULT_PLACES = 2
"""Decimals of a mean or median where the ruleset has no score precision (criteria packs)."""
Z_PLACES = 2
NONE_KEY = "(none)"

WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "评价结果分析",
        "grades": "等级分布",
        "by": "分组依据",
        "key": "取值",
        "all": "全部",
        "total": "合计",
        "region": "区划",
        "group": "评价分组",
        "category": "机构类别",
        "level": "级别",
        "ruleset": "规则集",
        "grade": "等级",
        "score": "总分",
        "categories": "评分类别",
        "items": "评分项",
        "facts": "事实",
        "key_indicators": "重点指标",
        "indicator": "指标",
        "name": "名称",
        "count": "数量",
        "missing": "缺失",
        "mean": "平均",
        "median": "中位数",
        "min": "最低",
        "max": "最高",
        "outliers": "偏离同组中位数最多的评价对象",
        "peer_groups": "同组评价对象",
        "peer_group": "同组",
        "peers": "同组数量",
        "subject": "评价对象",
        "value": "得分",
        "deviation": "偏离",
        "z": "偏离度(z)",
        "status": "状态",
        "examined": "已比较",
        "skipped": f"少于{MIN_PEERS}个,未比较",
        "uniform": "得分全部相同",
        "notes": "说明",
        "policy": "政策包",
        "version": "版本",
        "as_of": "评测日",
        "subjects": "评价对象数",
        "warnings": "警告",
        "histogram": "得分分布",
        "not_numeric": "非数值,未统计",
        "clause": "依据",
        "provisional": "暂定(待确认)",
        "reading": "解读",
        "none_named": "本包未指定重点指标",
        "no_analysis": "本包未指定重点指标(包中没有analysis:一节)",
        "identity": "政策包与评测",
        "none": "无",
        "bool": "是/否,按1/0计",
    },
    "en": {
        "title": "analysis of the results",
        "grades": "grade distribution",
        "by": "by",
        "key": "key",
        "all": "all",
        "total": "total",
        "region": "region",
        "group": "group",
        "category": "category",
        "level": "level",
        "ruleset": "ruleset",
        "grade": "grade",
        "score": "score",
        "categories": "score categories",
        "items": "score items",
        "facts": "facts",
        "key_indicators": "key indicators",
        "indicator": "indicator",
        "name": "name",
        "count": "count",
        "missing": "missing",
        "mean": "mean",
        "median": "median",
        "min": "min",
        "max": "max",
        "outliers": "subjects furthest from their peers' median",
        "peer_groups": "peer groups",
        "peer_group": "peer group",
        "peers": "peers",
        "subject": "subject",
        "value": "score",
        "deviation": "deviation",
        "z": "z",
        "status": "status",
        "examined": "examined",
        "skipped": f"fewer than {MIN_PEERS}: skipped",
        "uniform": "all scores equal",
        "notes": "notes",
        "policy": "pack",
        "version": "version",
        "as_of": "as of",
        "subjects": "subjects",
        "warnings": "warnings",
        "histogram": "score distribution",
        "not_numeric": "not numeric, not counted",
        "clause": "clause",
        "provisional": "provisional",
        "reading": "reading",
        "none_named": "the pack names no key indicator",
        "no_analysis": "the pack names no key indicator (it has no analysis: section)",
        "identity": "pack and run",
        "none": "none",
        "bool": "yes/no as 1/0",
    },
}


# -- statistics --------------------------------------------------------------------------


def decimal_of(value: Any) -> Decimal:
    """A number as the decimal it prints as: a float by its shortest repr after tidying to 9
    decimals (0.1 + 0.2 is 0.3), a bool as 1 or 0."""
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(round(value, 9)))
    if isinstance(value, Decimal):
        return value
    raise TypeError(f"not a number: {type(value).__name__}")


def _round(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def exact_median(values: Sequence[Decimal]) -> Decimal:
    """The median, exact: the middle value, or the mean of the two middle ones."""
    ordered = sorted(values)
    n = len(ordered)
    if n == 0:
        raise ValueError("the median of no values")
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


@dataclass(frozen=True)
class Stats:
    """Count, mean, median, min and max of the values present; ``missing``: results whose
    value is absent (None), counted apart and in no other figure."""

    count: int
    missing: int
    mean: Decimal | None
    median: Decimal | None
    min: Decimal | None
    max: Decimal | None

    @classmethod
    def of(cls, values: Sequence[Decimal], missing: int, places: int) -> Stats:
        if not values:
            return cls(0, missing, None, None, None, None)
        total = sum(values, Decimal(0))
        return cls(
            count=len(values),
            missing=missing,
            mean=_round(total / len(values), places),
            median=_round(exact_median(values), places),
            min=min(values),
            max=max(values),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "missing": self.missing,
            "mean": number(self.mean),
            "median": number(self.median),
            "min": number(self.min),
            "max": number(self.max),
        }

    def cells(self) -> list[str]:
        return [
            str(self.count),
            str(self.missing),
            *(fmt(v) for v in (self.mean, self.median, self.min, self.max)),
        ]


def number(value: Decimal | None) -> int | float | None:
    """A decimal as JSON writes it: a whole number as an integer, else the float whose
    shortest repr is that decimal (every value here has far fewer than 15 digits)."""
    if value is None:
        return None
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def fmt(value: Decimal | None) -> str:
    """A decimal for a table or CSV: as JSON shows it (``80``, ``84.73``); ``-`` for none."""
    n = number(value)
    return "-" if n is None else repr(n) if isinstance(n, float) else str(n)


# -- what is analysed ----------------------------------------------------------------------


@dataclass(frozen=True)
class Indicator:
    """One quantity of a result: the total score, a score category, a score item or a fact,
    read from the values tuple at ``slot`` (None: the total, ``Result.score``)."""

    kind: str  # score | category | item | fact
    name: str
    title: Text
    slot: int | None
    category: str | None = None
    """A score item's category."""

    def value(self, result: Result) -> Any:
        return result.score if self.slot is None else result.values[self.slot]


@dataclass(frozen=True)
class IndicatorStats:
    indicator: Indicator
    value_type: str  # number | bool
    all: Stats
    by: Mapping[str, Mapping[str, Stats]]
    """Dimension (the ``--by`` ones and ``grade``) → key → statistics; empty when only the
    overall figures are asked for."""

    def to_dict(self, lang: str) -> dict[str, Any]:
        ind = self.indicator
        out: dict[str, Any] = {
            "kind": ind.kind,
            "name": ind.name,
            "title": ind.title.get(lang),
        }
        if ind.category is not None:
            out["category"] = ind.category
        out["type"] = self.value_type
        out["all"] = self.all.to_dict()
        if self.by:
            out["by"] = {
                dim: {k: s.to_dict() for k, s in keys.items()} for dim, keys in self.by.items()
            }
        return out


@dataclass(frozen=True)
class KeyIndicators:
    """What the pack's ``analysis:`` names, its provenance, and the statistics of each."""

    names: tuple[str, ...]
    clause: str | None
    note: Text | None
    provisional: Text | None
    stats: tuple[IndicatorStats, ...]


@dataclass(frozen=True)
class Histogram:
    """A score ruleset's scores and the range and bins to draw them in."""

    scores: tuple[Decimal, ...]
    low: float
    high: float
    width: float
    marks: tuple[tuple[float, str], ...]
    """The lower edge of each band and its grade."""


@dataclass(frozen=True)
class RulesetAnalysis:
    ruleset: CompiledRuleset
    graded: int
    excluded: int
    places: int
    score: IndicatorStats | None
    categories: tuple[IndicatorStats, ...]
    items: tuple[IndicatorStats, ...]
    facts: tuple[IndicatorStats, ...]
    not_numeric: tuple[tuple[Indicator, str], ...]
    """Facts whose values are not numbers (a date, a text): named with their type."""
    key: KeyIndicators | None
    histogram: Histogram | None


@dataclass(frozen=True)
class PeerGroup:
    """Subjects compared with each other: same ruleset, group, category and level."""

    ruleset: str
    group: str | None
    category: str | None
    level: str | None
    size: int
    median: Decimal | None
    mad: Decimal | None
    scale: str  # mad | mean_ad | uniform | skipped

    @property
    def label(self) -> str:
        return "/".join(p or "-" for p in (self.ruleset, self.group, self.category, self.level))

    def to_dict(self) -> dict[str, Any]:
        return {
            "ruleset": self.ruleset,
            "group": self.group,
            "category": self.category,
            "level": self.level,
            "label": self.label,
            "size": self.size,
            "median": number(self.median),
            "mad": number(self.mad),
            "scale": self.scale,
        }


@dataclass(frozen=True)
class Outlier:
    subject_id: str
    name: str | None
    peers: PeerGroup
    score: Decimal
    deviation: Decimal
    z: Decimal

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject_id": self.subject_id,
            "name": self.name,
            "peer_group": self.peers.label,
            "peers": self.peers.size,
            "score": number(self.score),
            "median": number(self.peers.median),
            "deviation": number(self.deviation),
            "z": number(self.z),
        }


@dataclass(frozen=True)
class Analysis:
    """Everything ``analyze`` prints and ``report`` draws, in the order they show it."""

    policy: Mapping[str, str]
    as_of: dt.date
    subjects: int
    by: tuple[str, ...]
    outcomes: tuple[str, ...]
    """Every outcome label in order: grades best first, then ``excluded:<reason>``."""
    grades: Mapping[str, Mapping[str, Mapping[str, int]]]
    """Dimension (``all`` first) → key → outcome → count."""
    rulesets: tuple[RulesetAnalysis, ...]
    peer_groups: tuple[PeerGroup, ...]
    outliers: tuple[Outlier, ...]
    top: int
    notes: tuple[Text, ...]
    warnings: tuple[str, ...]


def _label(r: Result) -> str:
    return r.grade if r.status == "graded" and r.grade is not None else f"excluded:{r.exclusion}"


def dimension_key(r: Result, dim: str) -> str:
    """The key a result is counted under for one dimension."""
    s = r.subject
    if dim == "region":
        return s.region or NONE_KEY
    if dim == "group":
        return f"{r.ruleset.id}/{r.group or NONE_KEY}"
    if dim == "category":
        return s.category or NONE_KEY
    if dim == "level":
        return s.level or NONE_KEY
    if dim == "ruleset":
        return r.ruleset.id
    if dim == "grade":
        return r.grade or NONE_KEY
    raise ValueError(f"unknown dimension {dim!r}; one of {', '.join(DIMENSIONS)}")


def analyze(run: Run, by: Sequence[str] = DEFAULT_BY, top: int = 10) -> Analysis:
    """The analysis of a run's results. ``by``: the dimensions to count by (of
    ``DIMENSIONS``); ``top``: how many of the subjects furthest from their peers to list."""
    if not isinstance(run, Run):
        raise TypeError(f"run must be a Run (what evaluate returns), not {type(run).__name__}")
    results = list(run)  # a Run is sorted by subject id: the input's order is gone
    ctx = run.context
    codes = tuple(p.code for p in run.warnings)
    if isinstance(by, str):  # one dimension given as text, not its letters
        by = (by,)
    for dim in by:
        choice_argument("by", dim, DIMENSIONS)
    if not isinstance(top, int) or isinstance(top, bool) or top < 1:
        raise ValueError(f"top must be a whole number of at least 1, not {top!r}")
    plan = ctx.plan
    notes: list[Text] = []
    dims = tuple(dict.fromkeys(by))
    if "group" in dims and not any(rs.groups for rs in plan.rulesets.values()):
        dims = tuple(d for d in dims if d != "group")
        notes.append(
            Text(
                zh="本包没有评价分组:未按评价分组统计。",
                en="The pack has no evaluation groups: nothing is counted by group.",
            )
        )
    outcomes, grades = _grade_counts(results, plan.rulesets.values(), dims)
    rulesets = []
    by_ruleset: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_ruleset[r.ruleset.id].append(r)
    for rs in plan.rulesets.values():
        ra = _ruleset_analysis(rs, by_ruleset.get(rs.id, []), dims, ctx)
        rulesets.append(ra)
        if rs.score is None:
            notes.append(
                Text(
                    zh=f"规则集{rs.id}按标准评定等级,没有得分:不统计得分,也不比较同组得分。",
                    en=f"Ruleset {rs.id} grades by criteria and gives no score: no score "
                    "statistics and no comparison with peers.",
                )
            )
    peer_groups, outliers = _outliers(results, top)
    return Analysis(
        policy={"id": plan.id, "version": plan.version, "sha256": plan.sha256},
        as_of=ctx.as_of,
        subjects=len(results),
        by=dims,
        outcomes=outcomes,
        grades=grades,
        rulesets=tuple(rulesets),
        peer_groups=peer_groups,
        outliers=outliers,
        top=top,
        notes=tuple(notes),
        warnings=codes,
    )


def _grade_counts(
    results: Sequence[Result], rulesets: Iterable[CompiledRuleset], dims: Sequence[str]
) -> tuple[tuple[str, ...], dict[str, dict[str, dict[str, int]]]]:
    rank: dict[str, tuple[int, int]] = {}
    for i, rs in enumerate(rulesets):  # a label two rulesets share keeps its first place
        for j, label in enumerate(rs.grades):
            rank.setdefault(label, (i, j))
    counts: dict[str, dict[str, Counter[str]]] = {"all": {"all": Counter()}}
    for dim in dims:
        counts[dim] = {}
    for r in results:
        label = _label(r)
        counts["all"]["all"][label] += 1
        for dim in dims:
            counts[dim].setdefault(dimension_key(r, dim), Counter())[label] += 1
    seen = {label for keys in counts.values() for c in keys.values() for label in c}
    outcomes = tuple(sorted(seen, key=lambda g: (rank.get(g, (99, 0)), g)))
    ordered = {
        dim: {key: {g: c[g] for g in outcomes if c[g]} for key, c in sorted(keys.items())}
        for dim, keys in counts.items()
    }
    return outcomes, ordered


def _indicators(rs: CompiledRuleset) -> tuple[list[Indicator], list[Indicator], list[Indicator]]:
    """(categories, items, facts) of a ruleset, in the pack's order."""
    cats: list[Indicator] = []
    items: list[Indicator] = []
    if rs.score is not None:
        for cat in rs.score.categories:
            cats.append(Indicator("category", cat.id, cat.step.title, cat.slot))
            items.extend(
                Indicator("item", i.id, i.step.title, i.slot, category=cat.id) for i in cat.items
            )
    facts = [Indicator("fact", f.name, f.step.title, f.slot) for f in rs.facts]
    return cats, items, facts


def _value_type(values: Iterable[Any]) -> str | None:
    """``number``, ``bool``, or None when some value is neither (a date, a text)."""
    kinds = set()
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool):
            kinds.add("bool")
        elif isinstance(v, int | float | Decimal):
            kinds.add("number")
        else:
            return None
    return "bool" if kinds == {"bool"} else "number"


def _type_name(values: Iterable[Any]) -> str:
    for v in values:
        if v is not None and not isinstance(v, bool | int | float | Decimal):
            return "date" if isinstance(v, dt.date) else "text" if isinstance(v, str) else "other"
    return "other"


def _stats(
    ind: Indicator,
    results: Sequence[Result],
    places: int,
    dims: Sequence[str],
) -> IndicatorStats | None:
    raw = [ind.value(r) for r in results]
    vtype = _value_type(raw)
    if vtype is None:
        return None

    def of(rows: Iterable[tuple[Result, Any]]) -> Stats:
        present: list[Decimal] = []
        missing = 0
        for _, v in rows:
            if v is None:
                missing += 1
            else:
                present.append(decimal_of(v))
        return Stats.of(present, missing, places)

    pairs = list(zip(results, raw, strict=True))
    by: dict[str, dict[str, Stats]] = {}
    rank = results[0].ruleset.rank if results else {}
    for dim in dims:
        groups: dict[str, list[tuple[Result, Any]]] = defaultdict(list)
        for r, v in pairs:
            groups[dimension_key(r, dim)].append((r, v))
        order = (
            sorted(groups, key=lambda g: (rank.get(g, 99), g)) if dim == "grade" else sorted(groups)
        )
        by[dim] = {k: of(groups[k]) for k in order}
    return IndicatorStats(ind, vtype, of(pairs), by)


def _ruleset_analysis(
    rs: CompiledRuleset, results: Sequence[Result], dims: Sequence[str], ctx: RunContext
) -> RulesetAnalysis:
    graded = [r for r in results if r.status == "graded"]
    places = rs.score.precision if rs.score is not None else DEFAULT_PLACES
    # The ruleset dimension has one key within a ruleset; grade is added for 四(三) 按等级.
    inner = (*(d for d in dims if d != "ruleset"), "grade")
    cats, items, facts = _indicators(rs)
    score_stats = None
    histogram = None
    scored = [r for r in graded if r.score is not None]
    if rs.score is not None:
        total = Indicator("score", "score", Text(zh="总分", en="score"), None)
        score_stats = _stats(total, scored, places, inner)
        histogram = _histogram(rs.score, rs, [decimal_of(r.score) for r in scored], ctx)
    not_numeric: list[tuple[Indicator, str]] = []

    def each(
        indicators: Sequence[Indicator], rows: Sequence[Result], d: Sequence[str]
    ) -> tuple[IndicatorStats, ...]:
        out = []
        for ind in indicators:
            s = _stats(ind, rows, places, d)
            if s is None:
                not_numeric.append((ind, _type_name(ind.value(r) for r in rows)))
            else:
                out.append(s)
        return tuple(out)

    cat_stats = each(cats, scored, inner)
    item_stats = each(items, scored, ())
    fact_stats = each(facts, graded, ())
    key = None
    if rs.analysis is not None:
        named = rs.analysis.key_indicators
        chosen = [
            (ind, scored if ind.kind != "fact" else graded)
            for ind in (*cats, *items, *facts)
            if ind.name in named
        ]
        chosen.sort(
            key=lambda p: (named.index(p[0].name), ("fact", "category", "item").index(p[0].kind))
        )
        key_stats = tuple(
            s for ind, rows in chosen if (s := _stats(ind, rows, places, inner)) is not None
        )
        step = rs.analysis.step
        key = KeyIndicators(named, step.clause, step.note, step.provisional, key_stats)
    return RulesetAnalysis(
        ruleset=rs,
        graded=len(graded),
        excluded=sum(1 for r in results if r.status != "graded"),
        places=places,
        score=score_stats,
        categories=cat_stats,
        items=item_stats,
        facts=fact_stats,
        not_numeric=tuple(not_numeric),
        key=key,
        histogram=histogram,
    )


def _histogram(
    score: CompiledScore, rs: CompiledRuleset, scores: Sequence[Decimal], ctx: RunContext
) -> Histogram | None:
    """The range is the score's floor..ceiling when the pack sets both, else the scores'
    own range widened to whole tens; twenty bins (5 points on 0–100)."""
    if score.floor is not None and score.ceiling is not None and score.ceiling > score.floor:
        low, high = float(score.floor), float(score.ceiling)
    elif scores:
        low = float(min(scores) // 10 * 10)
        high = float(-(-max(scores) // 10) * 10)
        if high <= low:
            high = low + 10
    else:
        return None
    set_by_groups = {name for g in rs.groups for name in g.params}
    marks: list[tuple[float, str]] = []
    for band in score.bands:
        edge = band.low
        if isinstance(edge, str):
            if edge in set_by_groups or edge not in ctx.params:
                continue  # each group has its own edge, or none in force: no one line
            edge = float(ctx.params[edge].value)
        if low < edge <= high:
            marks.append((float(edge), band.grade))
    return Histogram(tuple(sorted(scores)), low, high, (high - low) / 20, tuple(sorted(marks)))


def _outliers(
    results: Sequence[Result], top: int
) -> tuple[tuple[PeerGroup, ...], tuple[Outlier, ...]]:
    """Per peer group (ruleset, group, category, level), each score's deviation from the
    median over 1.4826 × the median absolute deviation; the ``top`` furthest overall."""
    members: dict[tuple[str, str, str, str], list[Result]] = defaultdict(list)
    for r in results:
        if r.ruleset.score is None or r.status != "graded" or r.score is None:
            continue
        s = r.subject
        members[(r.ruleset.id, r.group or "", s.category or "", s.level or "")].append(r)
    groups: list[PeerGroup] = []
    found: list[Outlier] = []
    for key in sorted(members):
        rows = members[key]
        rid, group, category, level = (k or None for k in key)
        assert rid is not None
        scores = [decimal_of(r.score) for r in rows]
        if len(rows) < MIN_PEERS:
            groups.append(PeerGroup(rid, group, category, level, len(rows), None, None, "skipped"))
            continue
        med = exact_median(scores)
        dev = [abs(x - med) for x in scores]
        mad = exact_median(dev)
        if mad:
            scale, how = MAD_FACTOR * mad, "mad"
        elif any(dev):
            scale, how = MEAN_AD_FACTOR * sum(dev, Decimal(0)) / len(dev), "mean_ad"
        else:
            scale, how = Decimal(0), "uniform"
        peers = PeerGroup(rid, group, category, level, len(rows), med, mad, how)
        groups.append(peers)
        if not scale:
            continue
        for r, x in zip(rows, scores, strict=True):
            if x != med:
                z = _round((x - med) / scale, Z_PLACES)
                found.append(Outlier(r.subject.id, r.subject.name, peers, x, x - med, z))
    found.sort(key=lambda o: (-abs(o.z), -abs(o.deviation), o.subject_id))
    return tuple(groups), tuple(found[:top])


# -- JSON ------------------------------------------------------------------------------------


def analysis_to_dict(a: Analysis, lang: str = "zh") -> dict[str, Any]:
    """The analysis as one JSON object (keys in a fixed order)."""
    choice_argument("lang", lang, LANGS)
    rulesets: dict[str, Any] = {}
    for ra in a.rulesets:
        rs = ra.ruleset
        out: dict[str, Any] = {
            "title": rs.title.get(lang),
            "graded": ra.graded,
            "excluded": ra.excluded,
            "places": ra.places,
            "score": ra.score.to_dict(lang) if ra.score else None,
            "categories": [s.to_dict(lang) for s in ra.categories],
            "items": [s.to_dict(lang) for s in ra.items],
            "facts": [s.to_dict(lang) for s in ra.facts],
            "not_numeric": [
                {"kind": ind.kind, "name": ind.name, "type": t} for ind, t in ra.not_numeric
            ],
            "key_indicators": _key_dict(ra.key, lang),
        }
        rulesets[rs.id] = out
    return {
        "policy": dict(a.policy),
        "as_of": a.as_of.isoformat(),
        "subjects": a.subjects,
        "by": list(a.by),
        "outcomes": list(a.outcomes),
        "grades": {dim: {k: dict(c) for k, c in keys.items()} for dim, keys in a.grades.items()},
        "rulesets": rulesets,
        "outliers": {
            "method": "median absolute deviation",
            "min_peers": MIN_PEERS,
            "top": a.top,
            "peer_groups": [g.to_dict() for g in a.peer_groups],
            "subjects": [o.to_dict() for o in a.outliers],
        },
        "notes": [n.get(lang) for n in a.notes],
        "warnings": list(a.warnings),
    }


def _key_dict(key: KeyIndicators | None, lang: str) -> dict[str, Any] | None:
    if key is None:
        return None
    return {
        "names": list(key.names),
        "clause": key.clause,
        "note": key.note.get(lang) if key.note else None,
        "provisional": key.provisional.get(lang) if key.provisional else None,
        "indicators": [s.to_dict(lang) for s in key.stats],
    }


def write_json(a: Analysis, out: TextIO, lang: str = "zh") -> None:
    out.write(json.dumps(analysis_to_dict(a, lang), ensure_ascii=False, indent=2) + "\n")


# -- rows shared by the table, CSV and HTML --------------------------------------------------


def grade_rows(a: Analysis, lang: str) -> list[list[str]]:
    """[by, key, each outcome…, total] for every dimension, ``all`` first."""
    w = WORDS[lang]
    rows = []
    for dim, keys in a.grades.items():
        for key, counts in keys.items():
            rows.append(
                [
                    w.get(dim, dim),
                    w["all"] if key == "all" else key,
                    *(str(counts.get(o, 0)) for o in a.outcomes),
                    str(sum(counts.values())),
                ]
            )
    return rows


def stat_rows(stats: Sequence[IndicatorStats], lang: str) -> list[list[str]]:
    """[indicator, title, by, key, count, missing, mean, median, min, max]."""
    w = WORDS[lang]
    rows = []
    for s in stats:
        ind = s.indicator
        name = ind.name if ind.category is None else f"{ind.category}.{ind.name}"
        title = ind.title.get(lang) + (f" ({w['bool']})" if s.value_type == "bool" else "")
        rows.append([name, title, w["all"], w["all"], *s.all.cells()])
        for dim, keys in s.by.items():
            for key, st in keys.items():
                rows.append([name, title, w.get(dim, dim), key, *st.cells()])
    return rows


STAT_HEADER = ("indicator", "name", "by", "key", "count", "missing", "mean", "median", "min", "max")


def _stat_header(lang: str) -> list[str]:
    return [WORDS[lang][h] for h in STAT_HEADER]


def peer_rows(a: Analysis, lang: str) -> list[list[str]]:
    w = WORDS[lang]
    status = {"mad": "examined", "mean_ad": "examined", "uniform": "uniform", "skipped": "skipped"}
    return [
        [
            g.label,
            str(g.size),
            fmt(g.median),
            fmt(g.mad),
            w[status[g.scale]] + ("" if g.scale != "mean_ad" else " (MAD 0: mean AD)"),
        ]
        for g in a.peer_groups
    ]


def outlier_rows(a: Analysis) -> list[list[str]]:
    return [
        [
            o.subject_id,
            o.name or "",
            o.peers.label,
            str(o.peers.size),
            fmt(o.score),
            fmt(o.peers.median),
            fmt(o.deviation),
            fmt(o.z),
        ]
        for o in a.outliers
    ]


def _key_lines(ra: RulesetAnalysis, lang: str) -> list[str]:
    """What the pack says of its key indicators: the names (or that it names none), the
    clause and its reading."""
    w = WORDS[lang]
    key = ra.key
    if key is None:
        return [w["no_analysis"]]
    lines = [f"{w['key_indicators']}: " + (", ".join(key.names) if key.names else w["none_named"])]
    if key.clause:
        lines.append(f"{w['clause']}: {key.clause}")
    if key.provisional:
        lines.append(f"{w['provisional']}: {key.provisional.get(lang)}")
    if key.note:
        lines.append(f"{w['reading']}: {key.note.get(lang)}")
    return lines


# -- table -----------------------------------------------------------------------------------


def analysis_table(a: Analysis, lang: str = "zh") -> str:
    """The analysis as aligned text for a terminal, section by section."""
    choice_argument("lang", lang, LANGS)
    w = WORDS[lang]
    out = io.StringIO()
    p = a.policy
    out.write(
        f"{p['id']} {p['version']}  {w['as_of']} {a.as_of.isoformat()}  "
        f"{w['subjects']} {a.subjects}\nsha256 {p['sha256']}\n"
    )

    def section(title: str) -> None:
        out.write(f"\n== {title} ==\n")

    def table(header: Sequence[str], rows: Sequence[Sequence[str]], first_numeric: int) -> None:
        if not rows:
            out.write(f"({w['none']})\n")
            return
        write_aligned([list(header), *rows], out, right=range(first_numeric, len(header)))

    section(w["grades"])
    table([w["by"], w["key"], *a.outcomes, w["total"]], grade_rows(a, lang), 2)
    stat_header = _stat_header(lang)
    for ra in a.rulesets:
        rs = ra.ruleset
        head = f"{rs.id} {rs.title.get(lang)}"
        if ra.score is not None:
            section(f"{head}: {w['score']} / {w['categories']}")
            table(stat_header, stat_rows([ra.score, *ra.categories], lang), 4)
            section(f"{head}: {w['items']}")
            table(stat_header, stat_rows(ra.items, lang), 4)
        section(f"{head}: {w['facts']}")
        table(stat_header, stat_rows(ra.facts, lang), 4)
        if ra.not_numeric:
            out.write(
                f"{w['not_numeric']}: "
                + ", ".join(f"{ind.name} ({t})" for ind, t in ra.not_numeric)
                + "\n"
            )
        section(f"{head}: {w['key_indicators']}")
        for line in _key_lines(ra, lang):
            out.write(line + "\n")
        if ra.key is not None and ra.key.stats:
            table(stat_header, stat_rows(ra.key.stats, lang), 4)
    section(f"{w['outliers']} (top {a.top})")
    out.write(_method_text(lang) + "\n")
    if a.outliers:
        table(_outlier_header(lang), outlier_rows(a), 3)
    else:
        out.write(_no_outliers(a, lang) + "\n")
    section(w["peer_groups"])
    table(_peer_header(lang), peer_rows(a, lang), 1)
    if a.notes or a.warnings:
        section(w["notes"])
        for n in a.notes:
            out.write(n.get(lang) + "\n")
        if a.warnings:
            out.write(f"{w['warnings']}: {', '.join(a.warnings)}\n")
    return out.getvalue()


def _outlier_header(lang: str) -> list[str]:
    w = WORDS[lang]
    return [
        w["subject"],
        w["name"],
        w["peer_group"],
        w["peers"],
        w["value"],
        w["median"],
        w["deviation"],
        w["z"],
    ]


def _peer_header(lang: str) -> list[str]:
    w = WORDS[lang]
    return [w["peer_group"], w["peers"], w["median"], "MAD", w["status"]]


def _no_outliers(a: Analysis, lang: str) -> str:
    """Why the list is empty: no peer group was large enough, or no score deviates."""
    examined = [g for g in a.peer_groups if g.scale != "skipped"]
    if lang == "en":
        if not a.peer_groups:
            return "None: no graded result has a score."
        if not examined:
            return f"None: no peer group has {MIN_PEERS} or more subjects (see peer groups)."
        return "None: every score equals its peers' median."
    if not a.peer_groups:
        return "无:没有已评定且有得分的结果。"
    if not examined:
        return f"无:没有评价对象数达到{MIN_PEERS}个的同组(见同组评价对象)。"
    return "无:所有得分均等于同组中位数。"


def _method_text(lang: str) -> str:
    if lang == "en":
        return (
            f"Peers: same ruleset, group, category and level (ruleset/group/category/level); "
            f"z = (score − peers' median) / (1.4826 × median absolute deviation); groups of "
            f"fewer than {MIN_PEERS} are skipped."
        )
    return (
        f"同组:规则集、评价分组、机构类别和级别均相同(规则集/分组/类别/级别);"
        f"z =(得分 − 同组中位数)/(1.4826 × 中位数绝对偏差);少于{MIN_PEERS}个的同组不比较。"
    )


# -- CSV -------------------------------------------------------------------------------------

CSV_COLUMNS = [
    "section",
    "ruleset",
    "by",
    "key",
    "indicator",
    "kind",
    "outcome",
    "count",
    "missing",
    "mean",
    "median",
    "min",
    "max",
    "subject_id",
    "value",
    "deviation",
    "z",
    "note",
]
"""One long table: each row fills the columns its section has (docs/cli.md, analyze)."""


def write_csv(a: Analysis, out: TextIO, lang: str = "zh") -> None:
    """The analysis as one CSV table (contract column names, whatever the language)."""
    choice_argument("lang", lang, LANGS)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)

    def row(**cells: Any) -> None:
        writer.writerow(["" if cells.get(c) is None else cells[c] for c in CSV_COLUMNS])

    for dim, keys in a.grades.items():
        for key, counts in keys.items():
            for outcome in a.outcomes:
                if counts.get(outcome):
                    row(section="grades", by=dim, key=key, outcome=outcome, count=counts[outcome])

    def stats(section: str, rid: str, items: Sequence[IndicatorStats]) -> None:
        for s in items:
            ind = s.indicator
            name = ind.name if ind.category is None else f"{ind.category}.{ind.name}"
            cells: list[tuple[str, str, Stats]] = [("all", "all", s.all)]
            cells += [(d, k, st) for d, keys in s.by.items() for k, st in keys.items()]
            for d, k, st in cells:
                row(
                    section=section,
                    ruleset=rid,
                    by=d,
                    key=k,
                    indicator=name,
                    kind=ind.kind if s.value_type == "number" else f"{ind.kind}:bool",
                    count=st.count,
                    missing=st.missing,
                    mean=_csv(st.mean),
                    median=_csv(st.median),
                    min=_csv(st.min),
                    max=_csv(st.max),
                )

    for ra in a.rulesets:
        rid = ra.ruleset.id
        if ra.score is not None:
            stats("score", rid, [ra.score])
        stats("category", rid, ra.categories)
        stats("item", rid, ra.items)
        stats("fact", rid, ra.facts)
        for ind, t in ra.not_numeric:
            row(section="not_numeric", ruleset=rid, indicator=ind.name, kind=ind.kind, note=t)
        named = ra.key
        if named is None:
            row(section="key_indicators", ruleset=rid, outcome="no_analysis")
        else:
            readings = (named.provisional, named.note)
            row(
                section="key_indicators",
                ruleset=rid,
                key=named.clause,
                indicator=" ".join(named.names),
                outcome="named" if named.names else "none_named",
                note=" ".join(t.get(lang) for t in readings if t is not None),
            )
            stats("key_indicator", rid, named.stats)
    for g in a.peer_groups:
        row(
            section="peer_group",
            ruleset=g.ruleset,
            key=g.label,
            outcome=g.scale,
            count=g.size,
            median=_csv(g.median),
            deviation=_csv(g.mad),
        )
    for o in a.outliers:
        row(
            section="outlier",
            ruleset=o.peers.ruleset,
            key=o.peers.label,
            count=o.peers.size,
            median=_csv(o.peers.median),
            subject_id=o.subject_id,
            value=_csv(o.score),
            deviation=_csv(o.deviation),
            z=_csv(o.z),
        )
    for n in a.notes:
        row(section="note", note=n.get(lang))
    for code in a.warnings:
        row(section="warning", note=code)


def _csv(value: Decimal | None) -> str:
    return "" if value is None else fmt(value)


def write_analysis(a: Analysis, out: TextIO, fmt_: str = "table", lang: str = "zh") -> None:
    """Write the analysis in one of ``FORMATS``."""
    choice_argument("format", fmt_, FORMATS)
    if fmt_ == "json":
        write_json(a, out, lang)
    elif fmt_ == "csv":
        write_csv(a, out, lang)
    else:
        out.write(analysis_table(a, lang))


# -- HTML ------------------------------------------------------------------------------------


def analysis_html(a: Analysis, lang: str = "zh", name: str | None = None) -> str:
    """The self-contained HTML report: the pack's identity, grade distributions as bar
    charts, score histograms, every table of ``analyze`` and the outliers."""
    choice_argument("lang", lang, LANGS)
    w = WORDS[lang]
    p = a.policy
    title = f"{name or p['id']} — {w['title']} ({w['as_of']} {a.as_of.isoformat()})"
    sections: list[tuple[str, str]] = []
    identity = [
        (w["policy"], p["id"]),
        (w["name"], name or ""),
        (w["version"], p["version"]),
        ("sha256", p["sha256"]),
        (w["as_of"], a.as_of.isoformat()),
        (w["subjects"], str(a.subjects)),
    ]
    cells = "".join(
        f"<dt>{escape(k)}</dt><dd>"
        + (f"<code>{escape(v)}</code>" if k == "sha256" else escape(v))
        + "</dd>"
        for k, v in identity
        if v
    )
    ident = f'<dl class="identity">{cells}</dl>'
    extra = "".join(f'<p class="note">{escape(n.get(lang))}</p>' for n in a.notes)
    if a.warnings:
        extra += f'<p class="note">{escape(w["warnings"])}: {escape(", ".join(a.warnings))}</p>'
    sections.append((w["identity"], ident + extra))

    colours = series_colours(a.outcomes)
    grade_html = [
        table_html(
            [w["by"], w["key"], *a.outcomes, w["total"]],
            grade_rows(a, lang),
            numeric=range(2, len(a.outcomes) + 3),
        )
    ]
    for dim in a.by:
        keys = a.grades.get(dim, {})
        counts = {(k, o): c for k, cs in keys.items() for o, c in cs.items()}
        caption = f"{w['grades']} — {w[dim]}"
        grade_html.append(
            f"<figure><figcaption>{escape(caption)}</figcaption>"
            + bar_svg(list(keys), list(a.outcomes), counts, caption, lang, colours)
            + "</figure>"
        )
    sections.append((w["grades"], "\n".join(grade_html)))

    header = _stat_header(lang)
    for ra in a.rulesets:
        rs = ra.ruleset
        head = f"{rs.title.get(lang)} ({rs.id})"
        parts: list[str] = []
        if ra.histogram is not None:
            hist = ra.histogram
            caption = f"{w['histogram']} — {head}"
            parts.append(
                f"<figure><figcaption>{escape(caption)}</figcaption>"
                + histogram_svg(
                    hist.scores, hist.low, hist.high, hist.width, caption, lang, hist.marks
                )
                + "</figure>"
            )
        if ra.score is not None:
            parts.append(
                table_html(
                    header,
                    stat_rows([ra.score, *ra.categories], lang),
                    range(4, 10),
                    caption=f"{w['score']} / {w['categories']}",
                )
            )
            parts.append(
                table_html(header, stat_rows(ra.items, lang), range(4, 10), caption=w["items"])
            )
        parts.append(
            table_html(header, stat_rows(ra.facts, lang), range(4, 10), caption=w["facts"])
        )
        if ra.not_numeric:
            parts.append(
                f'<p class="note">{escape(w["not_numeric"])}: '
                + escape(", ".join(f"{i.name} ({t})" for i, t in ra.not_numeric))
                + "</p>"
            )
        sections.append((head, "\n".join(parts)))
        key_parts = [f"<p>{escape(line)}</p>" for line in _key_lines(ra, lang)]
        if ra.key is not None and ra.key.stats:
            key_parts.append(table_html(header, stat_rows(ra.key.stats, lang), range(4, 10)))
        sections.append((f"{w['key_indicators']} — {head}", "\n".join(key_parts)))

    outliers = [f'<p class="note">{escape(_method_text(lang))}</p>']
    if a.outliers:
        outliers.append(table_html(_outlier_header(lang), outlier_rows(a), range(3, 8)))
    else:
        outliers.append(f"<p>{escape(_no_outliers(a, lang))}</p>")
    outliers.append(
        table_html(_peer_header(lang), peer_rows(a, lang), range(1, 4), caption=w["peer_groups"])
    )
    sections.append((f"{w['outliers']} (top {a.top})", "\n".join(outliers)))
    return html_page(title, sections, lang)
