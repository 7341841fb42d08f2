"""What the readable explanation adds to the steps: where a cap, a category's bounds or the
total's floor or ceiling cut points (raw 106 → 100), and the outlook if nothing new happens
(``engine.outlook``): when each counted event leaves, the grade then, the next improvement and
the day an exclusion ends.

Nothing here changes a JSON result: the raw points are worked out from the values tuple the
result already carries (the capped item points, the fact each item counts per, the numbers
its points expression reads), never stored in it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from yibao_credit.compile.expressions import Expr
from yibao_credit.compile.plan import StepSpec
from yibao_credit.engine.outlook import Outlook, Standing
from yibao_credit.engine.pyexpr import to_python
from yibao_credit.engine.results import Result
from yibao_credit.engine.runtime import RUNTIME, _cap, _round

WORDS = {
    "zh": {
        "cap": "上限",
        "max": "上限",
        "min": "下限",
        "ceiling": "上限",
        "floor": "下限",
        "outlook": "展望(如无新情况)",
        "leaves": "离开窗口“{window}”",
        "expires": "有效期届满",
        "stays": "{events} 计入“{window}”,不会离开",
        "ends": "排除情形 {exclusion} 于 {day} 结束",
        "never_ends": "排除情形 {exclusion} 如无新情况不会结束",
        "ends_short": "于 {day} 结束",
        "next": "下次改善",
        "none": "无",
        "nothing": "无计入的事件会离开窗口或届满失效:结果维持不变",
        "excluded": "不参与评测",
        "unassessed": "未评测",
    },
    "en": {
        "cap": "cap",
        "max": "max",
        "min": "min",
        "ceiling": "ceiling",
        "floor": "floor",
        "outlook": "outlook (if nothing new happens)",
        "leaves": 'leaves the window "{window}"',
        "expires": "its validity ends",
        "stays": '{events}: counted in "{window}" for good',
        "ends": "exclusion {exclusion} ends on {day}",
        "never_ends": "exclusion {exclusion} does not end if nothing new happens",
        "ends_short": "ends on {day}",
        "next": "next improvement",
        "none": "none",
        "nothing": "no counted event leaves a window or expires: the result holds as it is",
        "excluded": "excluded",
        "unassessed": "not evaluated",
    },
}


def number(value: Any) -> str:
    """A number as a person adds it: no float noise, no ``.0`` on a whole number."""
    if isinstance(value, float):
        value = round(value, 9)
        if value.is_integer():
            return str(int(value))
    return str(value)


Cut = tuple[str, str]
"""What a step's outcome gains: the raw value before it and the limits after it."""


def cuts(result: Result, value_of: Callable[[str], Any], lang: str) -> dict[StepSpec, Cut]:
    """The score steps whose points a cap, a category's min or max, or the total's floor or
    ceiling cut, with the raw value and the limits that cut it."""
    score = result.ruleset.score
    if score is None or result.status != "graded":
        return {}
    words = WORDS[lang]
    values = result.values

    def resolve(n: Any) -> Any:
        return value_of(n) if isinstance(n, str) else n

    out: dict[StepSpec, Cut] = {}
    for cat in score.categories:
        for item in cat.items:
            cap = resolve(item.cap)
            v = values[item.slot]
            if cap is None or v is None or abs(v) < cap:
                continue
            points: Any = item.points
            if item.points_expr is not None:
                points = _evaluate(item.points_expr, value_of)
            raw = points * value_of(item.per) if item.per is not None else points
            if abs(raw) > cap:
                out[item.step] = (number(raw), f"{words['cap']} {number(cap)}")
        total = sum(values[i.slot] for i in cat.items)
        cap = resolve(cat.cap)
        limits: list[str] = []
        after = cat.base + (total if cap is None else _cap(total, cap))
        if cap is not None and abs(total) > cap:
            limits.append(f"{words['cap']} {number(cap)}")
        if cat.min is not None and after < cat.min:
            limits.append(f"{words['min']} {number(cat.min)}")
        if cat.max is not None and after > cat.max:
            limits.append(f"{words['max']} {number(cat.max)}")
        if limits:
            out[cat.step] = (number(cat.base + total), "; ".join(limits))
    weighted = score.base + sum(resolve(c.weight) * values[c.slot] for c in score.categories)
    limits = []
    if score.floor is not None and weighted < score.floor:
        limits.append(f"{words['floor']} {number(score.floor)}")
    if score.ceiling is not None and weighted > score.ceiling:
        limits.append(f"{words['ceiling']} {number(score.ceiling)}")
    if limits:
        out[score.step] = (number(_round(weighted, score.precision)), "; ".join(limits))
    return out


_CODE: dict[int, tuple[Expr, Any]] = {}


def _evaluate(expr: Expr, value_of: Callable[[str], Any]) -> Any:
    """A points expression on the values the result read (compiled once per expression)."""
    found = _CODE.get(id(expr))
    if found is None or found[0] is not expr:
        source = to_python(expr, lambda name: f"_V[{name!r}]")
        found = _CODE[id(expr)] = (expr, compile(source, "<points>", "eval"))
    return eval(found[1], {**RUNTIME, "_V": {n: value_of(n) for n in expr.names}})


def exclusion_end(outlook: Outlook | None, spec: StepSpec, lang: str) -> str | None:
    """For the exclusion step that excluded the result: the day it ends, if it does."""
    if outlook is None or outlook.exclusion is None or outlook.exclusion_ends_on is None:
        return None
    if spec.id != f"exclusion.{outlook.exclusion}":
        return None
    return WORDS[lang]["ends_short"].format(day=outlook.exclusion_ends_on.isoformat())


def standing(s: Standing, lang: str) -> str:
    """A grade (with its score), an exclusion, or no result, for people."""
    words = WORDS[lang]
    if s.status == "graded":
        return f"{s.grade}" + (f" ({number(s.score)})" if s.score is not None else "")
    if s.status == "excluded":
        return f"{words['excluded']}: {s.exclusion}"
    return words["unassessed"]


def outlook_lines(outlook: Outlook, result: Result, lang: str) -> list[str]:
    """The outlook section of a readable explanation."""
    words = WORDS[lang]
    windows = result.context.plan.windows
    lines = [f"{words['outlook']}:"]
    for d in outlook.departures:
        how = (
            words["leaves"].format(window=windows[d.window].title.get(lang))
            if d.window is not None
            else words["expires"]
        )
        lines.append(
            f"  - {_day(d.leaves_on)} {d.event} ({d.kind}, {_day(d.date)}) {how} → "
            f"{standing(d.then, lang)}" + (f"  [{d.clause}]" if d.clause else "")
        )
    by_window: dict[str, list[str]] = {}
    for s in outlook.stays:  # one line per window: a pack reading many indicators has many
        by_window.setdefault(s.window, []).append(f"{s.event} ({s.kind})")
    for wname, stays in by_window.items():
        title = windows[wname].title.get(lang)
        events = _LIST[lang].join(stays)
        lines.append("  - " + words["stays"].format(events=events, window=title))
    if outlook.exclusion is not None:
        if outlook.exclusion_ends_on is not None and outlook.after_exclusion is not None:
            text = words["ends"].format(
                exclusion=outlook.exclusion, day=_day(outlook.exclusion_ends_on)
            )
            lines.append(f"  - {text} → {standing(outlook.after_exclusion, lang)}")
        else:
            lines.append("  - " + words["never_ends"].format(exclusion=outlook.exclusion))
    elif not outlook.departures and not outlook.stays:
        lines.append(f"  {words['nothing']}")
    if outlook.exclusion is None and (outlook.departures or outlook.stays):
        if outlook.improvement is not None:
            on, grade = outlook.improvement
            lines.append(f"  {words['next']}: {_day(on)} → {grade}")
        else:
            lines.append(f"  {words['next']}: {words['none']}")
    return lines


_LIST = {"zh": "、", "en": ", "}


def _day(day: dt.date) -> str:
    return day.isoformat()
