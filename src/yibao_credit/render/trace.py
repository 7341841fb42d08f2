"""The explanation trace: every step that decided a result, with inputs, evidence and clause.

Steps are built from a result only when it is rendered, so evaluation stays fast. The same
steps render as JSON (for systems, and for archiving with the result) and as readable text in
Chinese or English (for the institution and the reviewer).
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Generator, Iterable, Iterator, Sequence
from typing import Any

from yibao_credit.arguments import LANGS, choice_argument
from yibao_credit.compile.overrides import shown as set_text
from yibao_credit.compile.plan import CompiledFact, CompiledHistoryFact, CompiledRuleset, StepSpec
from yibao_credit.engine.lifecycle import Lifecycle
from yibao_credit.engine.outlook import Outlook
from yibao_credit.engine.parameters import value_on
from yibao_credit.engine.results import Result
from yibao_credit.errors import EvaluationError
from yibao_credit.pack.schema import Text
from yibao_credit.records.contract import Event
from yibao_credit.render.explain import cuts, exclusion_end, outlook_lines

WORDS = {
    "zh": {
        True: "是",
        False: "否",
        "graded": "已评定",
        "excluded": "不参与评测",
        "window": "窗口",
        "fact": "事实",
        "exclusion": "排除情形",
        "criterion": "认定标准",
        "grade": "评定",
        "rollup": "连锁汇总",
        "measure": "监管措施",
        "evidence": "证据",
        "clause": "依据",
        "provisional": "暂定(待确认)",
        "note": "解读",
        "by_subject": "按主题引用,非条款号",
        "default": "默认",
        "policy": "政策包",
        "as_of": "评测日",
        "period": "评价期间",
        "rule": "规则",
        "matched": "成立的标准",
        "none": "无",
        "result": "结果",
        "measures": "监管措施",
        "reason": "原因",
        "subject": "评测对象",
        "history": "历史",
        "procedure": "期限",
        "lifecycle": "异议处理",
        "item": "评分项",
        "category": "评分类别",
        "score": "总分",
        "veto": "一票否决",
        "group": "评价分组",
        "validity": "有效期届满",
        "repair": "信用修复",
        "review": "审核阶段",
    },
    "en": {
        True: "yes",
        False: "no",
        "graded": "graded",
        "excluded": "excluded",
        "window": "window",
        "fact": "fact",
        "exclusion": "exclusion",
        "criterion": "criterion",
        "grade": "grade",
        "rollup": "roll-up",
        "measure": "measure",
        "evidence": "evidence",
        "clause": "clause",
        "provisional": "provisional",
        "note": "reading",
        "by_subject": "cited by subject, not a clause number",
        "default": "default",
        "policy": "policy",
        "as_of": "as of",
        "period": "period",
        "rule": "rule",
        "matched": "criteria met",
        "none": "none",
        "result": "result",
        "measures": "measures",
        "reason": "reason",
        "subject": "subject",
        "history": "history",
        "procedure": "deadline",
        "lifecycle": "objection",
        "item": "item",
        "category": "category",
        "score": "score",
        "veto": "veto",
        "group": "group",
        "validity": "expired",
        "repair": "repair",
        "review": "review",
    },
}


def jsonable(value: Any, lang: str = "zh") -> Any:
    """A value as JSON shows it: dates in ISO form, whole floats as integers, tuples as lists,
    a text in both languages (a pack's reading) in ``lang`` (all the way down, so a trace
    step is always JSON-safe)."""
    if isinstance(value, (tuple, list)):
        return [jsonable(v, lang) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v, lang) for k, v in value.items()}
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Text):
        return value.get(lang)
    return value


def _name_value(result: Result, name: str) -> Any:
    values = result.ruleset.fact_slots
    if name in values:
        return result.values[values[name]]
    if name == "as_of":
        return result.context.as_of
    if result.group is not None:
        group = next(g for g in result.ruleset.groups if g.id == result.group)
        if name in group.params:
            return group.params[name]
    params = result.context.params
    if name in params:
        return params[name].value
    if result.history and name in result.history:
        return result.history[name]
    if name == "grade":
        return result.grade
    if name == "rank":
        return result.ruleset.rank.get(result.grade) if result.grade else None
    return result.subject.attr(name)


def _evidence_of(result: Result, names: Iterable[str]) -> tuple[str, ...]:
    """The events behind the facts an expression reads, in (date, id) order."""
    evidence = result.ruleset.evidence_slots
    seen: dict[str, Event] = {}
    for name in names:
        slot = evidence.get(name)
        if slot is not None:
            for e in result.values[slot]:
                seen[e.id] = e
    if not seen:
        return ()
    return tuple(e.id for e in sorted(seen.values(), key=lambda e: (e.date, e.id)))


Step = tuple[StepSpec, Any, tuple[tuple[str, Any], ...], tuple[str, ...], bool]


"""(what the step is, its outcome, its inputs as (name, value) pairs, evidence ids, decisive)."""


def step_dict(step: Step, lang: str) -> dict[str, Any]:
    """One step as the contract's JSON object (keys in a fixed order)."""
    spec, outcome, inputs, evidence, decisive = step
    out: dict[str, Any] = {
        "step": spec.id,
        "title": spec.title.get(lang),
        "outcome": jsonable(outcome),
        "inputs": {k: jsonable(v, lang) for k, v in inputs},
        "evidence": list(evidence),
        "clause": spec.clause,
    }
    if spec.clause_kind != "article":
        out["clause_kind"] = spec.clause_kind
    if spec.provisional:
        out["provisional"] = spec.provisional.get(lang)
    if decisive:
        out["decisive"] = True
    return out


DETAILS = ("full", "decisive", "none")


"""How much of the trace to give: every step, only what decided the result, or nothing."""


def build_trace(result: Result, lang: str = "zh", detail: str = "full") -> list[dict[str, Any]]:
    """The steps of one result, in the order they were decided."""
    choice_argument("lang", lang, LANGS)
    choice_argument("detail", detail, DETAILS)
    return [step_dict(step, lang) for step in iter_steps(result, detail)]


def _decisive_checks(result: Result) -> set[str]:
    """Ids of the exclusions and criteria that decided a result.

    Excluded: the exclusion that fired. Graded by a rule: its criteria that held (``any``) or
    all of them (``all``). Graded by default: for each rule, the criteria that kept it from
    matching.
    """
    rs, values = result.ruleset, result.values
    if result.status == "excluded":
        return {f"exclusion.{result.exclusion}"}
    life = result.lifecycle
    if life is not None and life.evaluated_exclusion is not None:
        return {f"exclusion.{life.evaluated_exclusion}"}  # excluded, then corrected
    if rs.score is not None:
        items = [i.step.id for c in rs.score.categories for i in c.items if values[i.slot]]
        vetoes = [v.step.id for v in rs.score.vetoes if values[v.slot]]
        return set(items) | set(vetoes)
    assert result.rule is not None
    if result.rule >= 0:
        rule = rs.rules[result.rule]
        chosen = [c for c in rule.criteria if rule.mode == "all" or values[c.slot]]
    else:
        chosen = [c for r in rs.rules for c in r.criteria if r.mode == "any" or not values[c.slot]]
    return {c.step.id for c in chosen}


def _needed_facts(result: Result, checks: set[str]) -> set[str]:
    """Facts the chosen checks read, with the facts those compute facts read in turn."""
    rs = result.ruleset
    names = {n for spec in _check_specs(rs) if spec.id in checks for n in spec.reads}
    by_name = {f.name: f for f in rs.facts}
    todo = [n for n in names if n in by_name]
    needed: set[str] = set()
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        todo.extend(n for n in by_name[name].step.reads if n in by_name)
    return needed


_MEMO: weakref.WeakKeyDictionary[CompiledRuleset, dict[str, dict[Any, Any]]] = (
    weakref.WeakKeyDictionary()
)


def memo(rs: CompiledRuleset, name: str) -> dict[Any, Any]:
    """A rendering cache kept per ruleset of a plan (and dropped with it), never in the plan."""
    caches = _MEMO.get(rs)
    if caches is None:
        caches = _MEMO[rs] = {}
    return caches.setdefault(name, {})


DecisivePlan = tuple[frozenset[str], list[CompiledFact], list[str], frozenset[str]]


def _plan_key(result: Result) -> tuple[Any, ...]:
    """What decides which steps a decisive trace shows: the outcome, which criteria or items
    held, which measures were checked, and an exclusion a decision corrected."""
    rs, values = result.ruleset, result.values
    measured = tuple(id(m) for m, _ in result.measure_checks)
    corrected = result.lifecycle.evaluated_exclusion if result.lifecycle is not None else None
    if rs.score is not None and result.status != "excluded":
        flags = tuple(bool(values[i.slot]) for c in rs.score.categories for i in c.items)
        return ("s", flags, result.veto, measured, corrected)
    if result.status == "excluded":
        return ("x", result.exclusion, measured)
    if result.rule is not None and result.rule >= 0:
        rule = rs.rules[result.rule]
        held = tuple(bool(values[c.slot]) for c in rule.criteria)
        return ("r", result.rule, held, measured, corrected)
    held = tuple(bool(values[c.slot]) for r in rs.rules for c in r.criteria)
    return ("d", held, measured, corrected)


def _decisive_plan(result: Result) -> DecisivePlan:
    """The checks, facts and windows a decisive trace shows; the same for every result with
    the same outcome and the same criteria met, so it is worked out once per such shape."""
    rs = result.ruleset
    key = _plan_key(result)
    plans = memo(rs, "plans")
    plan: DecisivePlan | None = plans.get(key)
    if plan is None:
        checks = frozenset(_decisive_checks(result))
        needed = _needed_facts(result, set(checks))
        facts = [f for f in rs.facts if f.name in needed]
        windows = [w for w in rs.windows if any(f.window == w for f in facts)]
        reads = {n for spec in _check_specs(rs) if spec.id in checks for n in spec.reads}
        reads |= {n for f in facts for n in f.step.reads}
        reads |= {n for m, _ in result.measure_checks for n in m.step.reads}
        history = frozenset(h.name for h in rs.history if h.name in reads)
        if len(plans) > 10_000:
            plans.clear()
        plan = plans[key] = (checks, facts, windows, history)
    return plan


def _check_specs(rs: Any) -> list[StepSpec]:
    """Every step that reads facts: exclusions, criteria, score items and vetoes."""
    specs = [c.step for c in rs.exclusions] + [c.step for r in rs.rules for c in r.criteria]
    if rs.score is not None:
        specs += [i.step for c in rs.score.categories for i in c.items]
        specs += [v.step for v in rs.score.vetoes]
    return specs


def iter_steps(
    result: Result, detail: str = "full", only: frozenset[StepSpec] | None = None
) -> Iterator[Step]:
    """The steps of one result: windows, facts, exclusions, criteria, grade, roll-ups.

    ``only``: yield just these steps (in their places), skipping the work of the others — for
    a renderer that already has the text of every other step of a result of the same shape."""
    if detail == "none":
        return
    steps = _steps(result, detail, only)
    if result.context.plan.overrides:
        steps = _mark_overrides(result, steps)
    if only is None:
        yield from steps
    else:
        for step in steps:
            if step[0] in only:
                yield step


def _mark_overrides(result: Result, steps: Iterator[Step]) -> Iterator[Step]:
    """Each step that read a parameter given another value for the run (``--set``) says so:
    ``overridden``, with the value set and the pack's own value in force. A parameter the
    result's evaluation group sets itself is the group's value, not overridden."""
    overrides = result.context.plan.overrides
    own = next((g.params for g in result.ruleset.groups if g.id == result.group), {})
    for step in steps:
        spec, outcome, inputs, evidence, decisive = step
        names = [*spec.reads, *(v for k, v in inputs if k == "length" and isinstance(v, str))]
        hit = [n for n in dict.fromkeys(names) if n in overrides and n not in own]
        if hit:
            marked = {n: {"set": overrides[n].value, "pack": _pack_value(result, n)} for n in hit}
            step = (spec, outcome, (*inputs, ("overridden", marked)), evidence, decisive)
        yield step


_PACK_VALUE = {"zh": "包内取值", "en": "the pack's value"}


def _pack_value(result: Result, name: str) -> Any:
    """The value the pack itself gives a parameter on the run's date (None before its first)."""
    try:
        return value_on(name, result.context.plan.overrides[name].pack, result.context.as_of).value
    except EvaluationError:
        return None


def _steps(result: Result, detail: str, only: frozenset[StepSpec] | None) -> Iterator[Step]:
    """iter_steps' work; where ``only`` is given, the costly steps not in it are not built
    (iter_steps filters the rest)."""
    rs = result.ruleset
    full = detail == "full"
    if full:
        checks: frozenset[str] = frozenset()
        facts: Sequence[CompiledFact] = rs.facts
        windows: Sequence[str] = rs.windows
        history_shown: frozenset[str] = frozenset()
    else:
        checks, facts, windows, history_shown = _decisive_plan(result)
    histories: Sequence[CompiledHistoryFact] = rs.history
    if only is not None:  # skip at C speed what is not wanted
        facts = [f for f in facts if f.step in only]
        windows = [w for w in windows if rs.window_steps[w] in only]
        histories = [h for h in histories if h.step in only]
    histories = [h for h in histories if full or h.name in history_shown]
    yield from _setting_steps(result)
    yield from _window_steps(result, windows)
    yield from _history_steps(result, histories)
    yield from _fact_steps(result, facts)
    excluded = yield from _exclusion_steps(result, full, checks, only)
    if not excluded:
        if rs.score is not None:
            yield from _score_steps(result, full, checks, only)
        else:
            yield from _criteria_steps(result, full, checks, only)
    yield from _after_grading(result, only)


def _setting_steps(result: Result) -> Iterator[Step]:
    """What the evaluation was set up with: the group, events set aside, review stages."""
    rs = result.ruleset
    if result.group is not None:
        group = next(g for g in rs.groups if g.id == result.group)
        yield (
            group.step,
            group.id,
            (*_inputs(result, group.step.reads), ("params", tuple(group.params.items()))),
            (),
            False,
        )
    yield from _set_aside_steps(result)
    review = result.context.plan.review
    if review is not None and result.stages:
        yield (
            review.step,
            len(result.review_changes),
            (
                (
                    "stages",
                    tuple({"stage": s, "score": sc, "grade": g} for s, sc, g in result.stages),
                ),
                ("changes", tuple(c.to_dict(review.key) for c in result.review_changes)),
            ),
            tuple(eid for c in result.review_changes for _, _, eid in c.values),
            False,
        )


def _window_steps(result: Result, windows: Sequence[str]) -> Iterator[Step]:
    context = result.context
    rs = result.ruleset
    for wname in windows:
        window = context.plan.windows[wname]
        bounds = context.bounds[wname]
        start = bounds.start
        if window.type == "since" and window.field:
            start = result.subject.attr(window.field)
        inputs: tuple[tuple[str, Any], ...] = (("as_of", context.as_of), ("type", window.type))
        if window.length:
            inputs += (("length", window.length),)
        if window.field:
            inputs += (("field", window.field),)
        yield (
            rs.window_steps[wname],
            {"from": jsonable(start), "to": jsonable(bounds.end)},
            inputs,
            (),
            False,
        )


def _history_steps(result: Result, histories: Sequence[CompiledHistoryFact]) -> Iterator[Step]:
    for h in histories:
        cycles = (result.history_cycles or {}).get(h.name, ())
        yield (
            h.step,
            (result.history or {}).get(h.name),
            (
                ("cycle", result.ruleset.history_cycle),
                ("cycles", tuple(c.to_dict() for c in cycles)),
            ),
            (),
            False,
        )


def _fact_steps(result: Result, facts: Sequence[CompiledFact]) -> Iterator[Step]:
    values = result.values
    for f in facts:
        if f.op == "compute":
            yield (
                f.step,
                values[f.slot],
                _inputs(result, f.step.reads),
                _evidence_of(result, f.step.reads),
                False,
            )
        else:
            assert f.evidence_slot is not None
            yield (
                f.step,
                values[f.slot],
                f.step.fixed_inputs,
                tuple(e.id for e in values[f.evidence_slot]),
                False,
            )


def _exclusion_steps(
    result: Result, full: bool, checks: frozenset[str], only: frozenset[StepSpec] | None
) -> Generator[Step, None, bool]:
    """Exclusions in order, up to the one that excluded the subject; True if one did."""
    values = result.values
    life = result.lifecycle
    excluded_by = life.evaluated_exclusion if life is not None else result.exclusion
    for check in result.ruleset.exclusions:
        fired = bool(values[check.slot])
        this = fired and excluded_by == check.id
        if (full or check.step.id in checks) and (only is None or check.step in only):
            yield (
                check.step,
                fired,
                _inputs(result, check.step.reads),
                _evidence_of(result, check.step.reads) if fired else (),
                this and result.status == "excluded",
            )
        if this:
            return True
    return False


def _criteria_steps(
    result: Result, full: bool, checks: frozenset[str], only: frozenset[StepSpec] | None
) -> Iterator[Step]:
    """Criteria of the rules up to the one that matched, the grade it gives, the roll-ups."""
    rs = result.ruleset
    values = result.values
    assert result.rule is not None
    last = result.rule if result.rule >= 0 else len(rs.rules) - 1
    for rule in rs.rules[: last + 1]:
        for c in rule.criteria:
            if (only is not None and c.step not in only) or not (full or c.step.id in checks):
                continue
            met = bool(values[c.slot])
            yield (
                c.step,
                met,
                _inputs(result, c.step.reads),
                _evidence_of(result, c.step.reads) if met else (),
                False,
            )
    life = result.lifecycle
    corrected = (
        life is not None and life.decision is not None and life.decision.outcome == "corrected"
    )
    decisive = not corrected and not any(o.applied for o in result.rollups)
    if result.rule >= 0:
        rule = rs.rules[result.rule]
        matched = tuple(c.id for c in rule.criteria if values[c.slot])
        reads = tuple(n for c in rule.criteria if values[c.slot] for n in c.step.reads)
        yield (
            rule.step,
            result.own_grade,
            (("rule", rule.grade), ("mode", rule.mode), ("matched", matched)),
            _evidence_of(result, reads),
            decisive,
        )
    else:
        yield (rs.default, result.own_grade, (("rule", "default"),), (), decisive)
    for o in result.rollups:
        spec = o.band.step if o.band else o.rollup.step
        yield (
            spec,
            o.after,
            (
                ("counted", len(o.counted)),
                ("members", o.rollup.members_expr),
                ("counts", o.rollup.counts_expr),
                ("grade_before", o.before),
                ("band", o.band.interval.describe() if o.band else None),
                ("cap", o.band.cap if o.band else None),
                ("effect", o.reason),
            ),
            o.counted,
            o.applied and not corrected,
        )


def provisional_count(result: Result) -> int:
    """How many provisional values (rules, or parameters in force) the result depended on:
    those of the steps a decisive trace shows. Counted once per shape of result."""
    rs = result.ruleset
    if not rs.has_provisional and not result.context.provisional_params:
        return 0
    life = result.lifecycle
    key = (
        result.context.provisional_params,
        _plan_key(result),
        result.group,
        tuple(id(a.step) for a in result.set_aside),
        tuple(id(o.band.step) if o.band else id(o.rollup.step) for o in result.rollups),
        None
        if life is None
        else (
            tuple(id(d.procedure) for d in life.deadlines),
            life.objection is not None,
            life.decision is not None,
        ),
    )
    counts = memo(rs, "provisional")
    count: int | None = counts.get(key)
    if count is None:
        specs: set[StepSpec] = set()
        names: set[str] = set()
        for spec, *_ in iter_steps(result, "decisive"):
            if spec.provisional:
                specs.add(spec)
            names.update(spec.reads)
        count = len(specs) + len(names & result.context.provisional_params)
        if len(counts) > 10_000:
            counts.clear()
        counts[key] = count
    return count


def _set_aside_steps(result: Result) -> Iterator[Step]:
    """One step per rule that set events aside: which, and until when or by which repair."""
    by_step: dict[StepSpec, list[dict[str, Any]]] = {}
    ids: dict[StepSpec, list[str]] = {}
    for a in result.set_aside:
        detail: dict[str, Any] = {"id": a.event.id, "kind": a.event.kind, "date": a.event.date}
        if a.expired_on is not None:
            detail["counted_until"] = a.expired_on
        if a.repaired_by is not None:
            detail["repaired_by"] = a.repaired_by.id
            detail["repaired_on"] = a.repaired_by.date
        by_step.setdefault(a.step, []).append(detail)
        ids.setdefault(a.step, []).append(a.event.id)
    for spec, details in by_step.items():
        evidence = tuple(ids[spec])
        yield (spec, len(details), (("set_aside", tuple(details)),), evidence, False)


def _score_steps(
    result: Result, full: bool, checks: frozenset[str], only: frozenset[StepSpec] | None = None
) -> Iterator[Step]:
    """Each item's points with the events behind them, each category, the total, the vetoes
    and the band (or veto) that gave the grade."""
    score = result.ruleset.score
    assert score is not None
    values = result.values
    for cat in score.categories:
        for item in cat.items:
            if not (full or item.step.id in checks) or (only is not None and item.step not in only):
                continue
            inputs = _inputs(result, item.reads)
            if item.points is not None:
                inputs += (("points", item.points),)
            if item.cap is not None:
                inputs += _number_inputs(result, "cap", item.cap)
            if item.monitoring:
                inputs += (("monitoring", True),)
            points = values[item.slot]
            yield (
                item.step,
                _tidy(points),
                inputs,
                _evidence_of(result, item.reads) if points else (),
                False,
            )
        yield (
            cat.step,
            _tidy(values[cat.slot]),
            (
                ("items", tuple((i.id, _tidy(values[i.slot])) for i in cat.items)),
                ("base", cat.base),
                *_number_inputs(result, "cap", cat.cap),
                *_number_inputs(result, "weight", cat.weight),
            ),
            (),
            False,
        )
    yield (
        score.step,
        result.score,
        (
            ("base", score.base),
            ("categories", tuple((c.id, _tidy(values[c.slot])) for c in score.categories)),
            ("floor", score.floor),
            ("ceiling", score.ceiling),
            ("precision", score.precision),
        ),
        (),
        False,
    )
    corrected = (
        result.lifecycle is not None
        and result.lifecycle.decision is not None
        and result.lifecycle.decision.outcome == "corrected"
    )
    vetoed = result.veto is not None and result.veto >= 0
    for i, veto in enumerate(score.vetoes):
        fired = bool(values[veto.slot])
        if full or fired:
            yield (
                veto.step,
                fired,
                _inputs(result, veto.step.reads),
                _evidence_of(result, veto.step.reads) if fired else (),
                i == result.veto and not corrected,
            )
    if not vetoed and result.rule is not None and result.rule >= 0:
        band = score.bands[result.rule]
        interval = band.interval(lambda name: _name_value(result, name))
        yield (
            band.step,
            band.grade,
            (
                ("score", result.score),
                ("range", interval.describe()),
                *((f"{side}_parameter", e) for side, e in band.named_edges),
            ),
            (),
            not corrected,
        )


def _number_inputs(result: Result, key: str, number: Any) -> tuple[tuple[str, Any], ...]:
    """A weight or cap as the step shows it: the number, or the value of the parameter that
    gives it (for this result's group) followed by the parameter's name."""
    if isinstance(number, str):
        return ((key, _name_value(result, number)), (f"{key}_parameter", number))
    return ((key, number),)


def _tidy(value: Any) -> Any:
    """Points as a person adds them: 0.1 + 0.2 shows as 0.3, not 0.30000000000000004 (the
    score itself is rounded by the pack's precision; items and categories are shown to 9
    decimals, which no pack's points need more than)."""
    return round(value, 9) if type(value) is float else value


def _after_grading(result: Result, only: frozenset[StepSpec] | None = None) -> Iterator[Step]:
    """What follows the grade: the lifecycle's deadlines and decision, conditional measures."""
    if result.lifecycle is not None:
        yield from _lifecycle_steps(result, result.lifecycle)
    for m, held in result.measure_checks:
        if only is None or m.step in only:
            yield (m.step, held, _inputs(result, m.step.reads), (), False)


def _lifecycle_steps(result: Result, life: Lifecycle) -> Iterator[Step]:
    """Each deadline with how it was counted, whether the objection came in time, and the
    decision with the grade before and after."""
    calendar = result.context.plan.calendar
    for d in life.deadlines:
        proc = d.procedure
        inputs: tuple[tuple[str, Any], ...] = (
            ("trigger", proc.trigger),
            ("from", d.trigger_date),
            ("days", proc.days),
            ("unit", proc.unit),
            ("counting", "from the day after the trigger (《民法典》第201条)"),
        )
        if proc.unit == "working_days":
            inputs += (("calendar", calendar.source(d.due.year)),)
        if d.moved_from is not None:
            inputs += (("moved_from", d.moved_from),)
        yield (proc.step, d.due, inputs, (), False)
        if proc.trigger == "notification" and life.objection is not None:
            yield (
                proc.outcome_step,
                life.objection_in_time,
                (("received", life.objection.date), ("due", d.due)),
                (life.objection.id,),
                False,
            )
        if proc.trigger == "objection" and life.decision is not None:
            yield _decision_step(result, life, proc.outcome_step, d.due)
    review = result.context.plan.procedures.get("objection")
    reviewed = any(d.procedure.trigger == "objection" for d in life.deadlines)
    if life.decision is not None and review is not None and not reviewed:
        # A decision with no review window counted (the objection came late): shown all the
        # same, since it changed (or upheld) the result.
        yield _decision_step(result, life, review.outcome_step, None)
    for dd in life.dated:
        fixed = dd.procedure
        yield (
            fixed.step,
            dd.due,
            (
                ("by", f"{fixed.month:02d}-{fixed.day:02d}"),
                ("window", fixed.window),
                ("period_end", dd.period_end),
                ("years_after", fixed.years_after),
            ),
            (),
            False,
        )
        if fixed.outcome_step is not None:
            yield (
                fixed.outcome_step,
                dd.in_time,
                (
                    ("record", fixed.step_due),
                    ("dated", dd.record.date if dd.record is not None else None),
                    ("due", dd.due),
                ),
                (dd.record.id,) if dd.record is not None else (),
                False,
            )


def _decision_step(result: Result, life: Lifecycle, spec: StepSpec, due: Any) -> Step:
    decision = life.decision
    assert decision is not None
    before = life.evaluated_grade or (
        f"excluded: {life.evaluated_exclusion}" if life.evaluated_exclusion else None
    )
    return (
        spec,
        decision.outcome,
        (
            ("decided", decision.date),
            ("due", due),
            ("in_time", life.decision_in_time),
            ("objection_in_time", life.objection_in_time),
            ("grade_before", before),
            ("grade_after", result.grade),
        ),
        (decision.id,),
        decision.outcome == "corrected",
    )


def _inputs(result: Result, names: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    return tuple((n, _name_value(result, n)) for n in names)


def period_of(result: Result) -> dict[str, str | None] | None:
    """The period a result evaluates: the bounds of its ruleset's period window on as_of
    (a ``since`` window's start is each subject's own date, so it is not given here)."""
    name = result.ruleset.period
    if name is None:
        return None
    bounds = result.context.bounds[name]
    return {
        "from": bounds.start.isoformat() if bounds.start else None,
        "to": bounds.end.isoformat(),
    }


def measures_of(result: Result, lang: str = "zh") -> list[dict[str, Any]]:
    if result.grade is None:
        return []
    return [
        {
            "id": m.id,
            "title": m.title.get(lang),
            "params": {k: jsonable(v) for k, v in m.params.items()},
            "clause": m.step.clause,
            **({"clause_kind": m.step.clause_kind} if m.step.clause_kind != "article" else {}),
            **({"provisional": m.step.provisional.get(lang)} if m.step.provisional else {}),
        }
        for m in result.measures
    ]


_LIST_SEP = {"zh": "、", "en": "; "}


def _fmt(value: Any, lang: str) -> str:
    """A value for people: words for yes and no, lists and mappings spelled out, never a
    Python repr (``['one_violation']``, ``True``)."""
    if isinstance(value, bool):
        return str(WORDS[lang][value])
    if isinstance(value, dict) and set(value) == {"from", "to"}:
        return f"{value['from'] or '…'} .. {value['to']}"
    if value is None:
        return "—"
    value = jsonable(value)
    if isinstance(value, list | tuple):
        return _LIST_SEP[lang].join(_fmt(v, lang) for v in value) if value else WORDS[lang]["none"]
    if isinstance(value, dict):
        return _LIST_SEP[lang].join(f"{k}: {_fmt(v, lang)}" for k, v in value.items())
    if isinstance(value, bool):
        return str(WORDS[lang][value])
    return str(value)


def render_text(
    result: Result,
    lang: str = "zh",
    notes: bool = True,
    detail: str = "full",
    outlook: Outlook | None = None,
) -> str:
    """A readable explanation of one result: each step, its inputs, evidence and clause;
    where a cap or bound cut points, raw → kept; with ``outlook`` (``engine.outlook``), the
    day a date exclusion ends on its step and the outlook after the measures."""
    choice_argument("lang", lang, LANGS)
    choice_argument("detail", detail, DETAILS)
    w = WORDS[lang]
    policy = result.context.plan
    s = result.subject
    head = f"{s.id}" + (f"  {s.name}" if s.name else "")
    if result.status == "graded":
        title = result.ruleset.grade_titles.get(result.grade or "")
        verdict = f"{result.grade}" + (f" ({title.get(lang)})" if title else "")
    else:
        verdict = f"{w['excluded']}: {result.exclusion}"
    lines = [
        f"{head} — {verdict}",
        f"{w['policy']}: {policy.id} {policy.version} (sha256 {policy.sha256[:12]}…)  "
        f"{w['as_of']}: {result.context.as_of.isoformat()}  [{result.ruleset.id}]",
    ]
    period = period_of(result)
    if period is not None:
        lines[-1] += f"  {w['period']}: {_fmt(period, lang)}"
    if policy.overrides:
        given = ", ".join(f"{n}={set_text(o.value)}" for n, o in policy.overrides.items())
        lines.append(f"--set {given}")
    raw = list(iter_steps(result, detail))
    steps = [step_dict(st, lang) for st in raw]
    cut = cuts(result, lambda name: _name_value(result, name), lang)
    for spec, step in zip((st[0] for st in raw), steps, strict=True):
        kind = step["step"].split(".", 1)[0]
        mark = "➤" if step.get("decisive") else " "
        outcome = _fmt(step["outcome"], lang)
        if spec in cut:  # raw 106 → 100 (上限 100)
            outcome = f"{cut[spec][0]} → {outcome} ({cut[spec][1]})"
        line = f"{mark} {w.get(kind, kind)} {step['title']}: {outcome}"
        shown = {
            k: v
            for k, v in step["inputs"].items()
            if kind
            in ("exclusion", "criterion", "rollup", "grade", "lifecycle", "measure", "veto", "item")
            or (kind == "procedure" and k in ("from", "days", "unit", "moved_from", "by"))
            or (kind == "procedure" and k == "period_end")
            or (kind == "fact" and k not in ("op", "window", "where", "of"))
        }
        shown.pop("overridden", None)  # a line of its own, below
        if kind == "history":
            shown = {
                c["as_of"]: c["grade"] or c["status"] for c in step["inputs"].get("cycles", [])
            }
        if shown:
            line += "  (" + ", ".join(f"{k}={_fmt(v, lang)}" for k, v in shown.items()) + ")"
        ends = exclusion_end(outlook, spec, lang) if kind == "exclusion" else None
        if ends:
            line += f" — {ends}"
        lines.append(line)
        for name, o in step["inputs"].get("overridden", {}).items():
            lines.append(
                f"      --set {name}={set_text(o['set'])} "
                f"({_PACK_VALUE[lang]}: {set_text(o['pack'])})"
            )
        if kind == "review":
            stages = step["inputs"].get("stages", [])
            lines.append(
                "      "
                + " → ".join(f"{s['stage']} {_fmt(s['score'], lang)} {s['grade']}" for s in stages)
            )
            for change in step["inputs"].get("changes", []):
                key = ", ".join(f"{k}={_fmt(v, lang)}" for k, v in change["key"].items())
                values = " → ".join(f"{st} {_fmt(v, lang)}" for st, v in change["stages"].items())
                lines.append(f"      {key}: {values}")
        if step["evidence"]:
            lines.append(f"      {w['evidence']}: {', '.join(step['evidence'])}")
        if step["clause"]:
            by_subject = f" ({w['by_subject']})" if step.get("clause_kind") == "subject" else ""
            lines.append(f"      {w['clause']}: {step['clause']}{by_subject}")
        if step.get("provisional"):
            lines.append(f"      {w['provisional']}: {step['provisional']}")
    measures = measures_of(result, lang)
    if measures:
        lines.append(f"{w['measures']}:")
        for m in measures:
            params = ", ".join(f"{k}={_fmt(v, lang)}" for k, v in m["params"].items())
            by_subject = f" ({w['by_subject']})" if m.get("clause_kind") == "subject" else ""
            lines.append(
                f"  - {m['title']}"
                + (f" ({params})" if params else "")
                + (f"  [{m['clause']}{by_subject}]" if m["clause"] else "")
            )
    if outlook is not None:
        lines.extend(outlook_lines(outlook, result, lang))
    if notes:
        readings = list(
            dict.fromkeys(st[0].note.get(lang).strip() for st in raw if st[0].note is not None)
        )
        if readings:
            lines.append(f"{w['note']}:")
            lines.extend(f"  * {n}" for n in readings)
    return "\n".join(lines)
