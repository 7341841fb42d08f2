"""A pack's dated parameters given other values for one run (``--set NAME=VALUE``).

An analyst calibrating a pack (济医保字〔2023〕19号 四(二)5 试评价 进行权重及分值配置, 四(三)
如有明显偏离,再进行指标修订) asks "what if this value were that?" without editing the pack.
Each value is checked against the parameter's declared type, then the pack is compiled again
with it, so every check a dated value passes at load time — a weight or cap kept positive,
score bands covering the range exactly once, weights adding up to their total — holds for the
value set too. The value holds for the whole run: it replaces every dated value, from the
parameter's first date. It is no published number, so it is provisional, and the plan records
each override (``Plan.overrides``) for the result's ``policy`` block and its trace.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from yibao_credit.compile.compiler import compile_pack
from yibao_credit.compile.context import value_fits
from yibao_credit.compile.expressions import suggest_name
from yibao_credit.compile.plan import ParamOverride, Plan
from yibao_credit.errors import PackError, Problem
from yibao_credit.pack.schema import PackModel, Parameter, ParamValue, Text
from yibao_credit.pack.sourcemap import YamlDocument

OVERRIDE_READING = Text(
    zh="本次运行以--set设定的取值,并非公布的数值",
    en="a value set for this run by --set, not a published number",
)
"""The provisional reading of a value set for a run: it counts as provisional in results."""

TYPE_WORDS = {
    "int": "an integer",
    "number": "a number",
    "bool": "true or false",
    "date": "a date YYYY-MM-DD",
    "period": "a period such as 1y, 6m or 30d",
    "str": "text",
}


def shown(value: Any) -> str:
    """A value as it is written after ``--set NAME=`` (never a Python repr)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value))
    return str(value)


def _read_as(value: Any) -> str:
    """What YAML made of the text, for a message saying why it does not fit."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, dt.date):
        return "a date"
    if isinstance(value, str):
        return "text"
    return "a list or mapping"


def check_value(param: Parameter, value: Any) -> str | None:
    """Why ``value`` cannot be the parameter's value, or None when it can."""
    kind = param.type
    written = str(value) if isinstance(value, float) else shown(value)  # 5.0 stays 5.0
    if isinstance(value, float) and not math.isfinite(value) and kind in ("int", "number"):
        return f"{written} is not a finite number"
    if value_fits(kind, value):
        return None
    why = f"the parameter is of type {kind}: the value must be {TYPE_WORDS[kind]}"
    if kind == "str":
        return f"{why}; YAML reads {written or 'it'} as {_read_as(value)}: quote it"
    return f"{why}, and YAML reads {written or 'an empty value'} as {_read_as(value)}"


def override_plan(
    model: PackModel, doc: YamlDocument, sha256: str, overrides: Mapping[str, Any]
) -> tuple[PackModel, Plan, list[Problem]]:
    """The pack with each named parameter holding the value given, compiled; and the
    warnings to report (a group setting its own value keeps it for its subjects).

    Raises PackError: ``cli.set-unknown-parameter`` for a name the pack has no parameter by
    (listing those it has), ``cli.set-bad-value`` for a value of the wrong type, or one the
    compiler refuses (a band gap, a weight total), located where the pack declares the
    parameter or writes the rule the value breaks."""
    params = model.parameters
    problems: list[Problem] = []
    for name, value in overrides.items():
        param = params.get(name)
        if param is None:
            known = (
                f"; its parameters are: {', '.join(sorted(params))}"
                if params
                else " (it has no parameters: its numbers are written in its rules)"
            )
            problems.append(
                Problem(
                    "cli.set-unknown-parameter",
                    f"--set {name}: pack {model.pack.id!r} has no parameter {name!r}"
                    + suggest_name(name, frozenset(params))
                    + known,
                    doc.locate(("parameters",), key=True) if params else doc.locate(("pack",)),
                )
            )
            continue
        why = check_value(param, value)
        if why is not None:
            problems.append(
                Problem(
                    "cli.set-bad-value",
                    f"--set {name}={shown(value)}: {why}",
                    doc.locate(("parameters", name, "type")),
                )
            )
    if problems:
        raise PackError(problems)
    replaced = dict(params)
    for name, value in overrides.items():
        param = params[name]
        first = min(param.values)  # ISO dates: text order is date order
        entry = ParamValue(value=value, provisional=OVERRIDE_READING)
        replaced[name] = param.model_copy(update={"values": {first: entry}})
    changed = model.model_copy(update={"parameters": replaced})
    try:
        plan = compile_pack(changed, doc, sha256)
    except PackError as exc:
        given = ", ".join(f"{n}={shown(v)}" for n, v in sorted(overrides.items()))
        raise PackError(
            [
                Problem("cli.set-bad-value", f"with --set {given}: {p.message}", p.location)
                for p in exc.problems
            ]
        ) from None
    plan = replace(
        plan,
        overrides={n: ParamOverride(overrides[n], params[n]) for n in sorted(overrides)},
    )
    return changed, plan, _shadowed(model, doc, overrides)


def _shadowed(model: PackModel, doc: YamlDocument, overrides: Mapping[str, Any]) -> list[Problem]:
    """A warning for each evaluation group that sets its own value of a parameter given by
    ``--set``: its subjects keep the group's value (pack-format.md §9.6)."""
    out: list[Problem] = []
    for rid, rs in model.rulesets.items():
        for i, group in enumerate(rs.groups):
            for name in sorted(set(group.params) & set(overrides)):
                out.append(
                    Problem(
                        "cli.set-group-value",
                        f"--set {name}: group {group.id!r} of ruleset {rid!r} sets its own value "
                        f"({shown(group.params[name])}); its subjects keep it",
                        doc.locate(("rulesets", rid, "groups", i, "params", name)),
                    )
                )
    return out
