"""Procedures: dated steps after a result. A deadline in days or working days after a trigger
(notification, objection; at most one per trigger), or a fixed calendar day (``by: MM-DD``)
in the year the evaluated period ends or a later one (Jiangsu 三(一) 3月底前确认评价结果)."""

from __future__ import annotations

import datetime as dt

from yibao_credit.compile.context import CompileContext
from yibao_credit.compile.plan import CompiledDatedProcedure, CompiledProcedure
from yibao_credit.pack.schema import Procedure, Text
from yibao_credit.pack.sourcemap import PathKey

OUTCOME_STEPS = {
    "notification": (
        "lifecycle.objection",
        "lifecycle",
        Text(zh="异议申请是否在期限内", en="objection in time"),
    ),
    "objection": (
        "lifecycle.decision",
        "lifecycle",
        Text(zh="异议处理决定", en="decision on the objection"),
    ),
}
"""What a deadline decides: after a notification, whether an objection came in time; after
an objection, the decision on it."""

STEP_TITLES = {
    "notification": Text(zh="结果告知(公示)", en="notification"),
    "objection": Text(zh="异议(申诉)", en="objection"),
    "decision": Text(zh="异议处理决定", en="decision"),
}

RELATIVE = ("trigger", "days", "unit")
DATED = ("by", "window", "years_after", "step")


def compile_procedures(ctx: CompileContext) -> dict[str, CompiledProcedure]:
    """The pack's procedures counted from a trigger, by trigger."""
    out: dict[str, CompiledProcedure] = {}
    for i, p in enumerate(ctx.model.procedures):
        path: PathKey = ("procedures", i)
        if p.by is not None or not _shape_ok(ctx, p, path, RELATIVE, DATED):
            continue
        assert p.trigger is not None and p.days is not None and p.unit is not None
        if p.trigger in out:
            ctx.error(
                (*path, "trigger"),
                f"a second procedure triggered by {p.trigger!r} ({out[p.trigger].id!r} "
                "is the first)",
            )
            continue
        out[p.trigger] = CompiledProcedure(
            p.id,
            p.trigger,
            p.days,
            p.unit,
            ctx.step(f"procedure.{p.id}", "procedure", p.title, p, path),
            ctx.step(*OUTCOME_STEPS[p.trigger], p, path),
        )
    return out


def compile_dated_procedures(ctx: CompileContext) -> tuple[CompiledDatedProcedure, ...]:
    """The pack's procedures on a fixed calendar day, in the pack's order."""
    out: list[CompiledDatedProcedure] = []
    ids: set[str] = set()
    for i, p in enumerate(ctx.model.procedures):
        path: PathKey = ("procedures", i)
        if p.id in ids:
            ctx.error((*path, "id"), f"a second procedure with the id {p.id!r}")
        ids.add(p.id)
        if p.by is None or not _shape_ok(ctx, p, path, DATED, RELATIVE):
            continue
        month_day = _month_day(ctx, p.by, (*path, "by"))
        if p.window is None:
            ctx.error(
                (*path, "window"),
                "a procedure on a fixed day ('by') names the window whose end year the day "
                "is counted from (the evaluated period)",
            )
            continue
        if p.window not in ctx.model.windows:
            known = ", ".join(sorted(ctx.model.windows)) or "none"
            ctx.error((*path, "window"), f"no window {p.window!r} (the pack's windows: {known})")
            continue
        if month_day is None:
            continue
        outcome = None
        if p.step is not None:
            title = Text(
                zh=f"{STEP_TITLES[p.step].zh}是否按期({p.title.zh})",
                en=f"{STEP_TITLES[p.step].get('en')} by the day ({p.title.get('en')})",
            )
            outcome = ctx.step(f"lifecycle.{p.id}", "lifecycle", title, p, path)
        out.append(
            CompiledDatedProcedure(
                p.id,
                *month_day,
                p.window,
                p.years_after,
                p.step,
                ctx.step(f"procedure.{p.id}", "procedure", p.title, p, path),
                outcome,
            )
        )
    return tuple(out)


def _shape_ok(
    ctx: CompileContext,
    p: Procedure,
    path: PathKey,
    needs: tuple[str, ...],
    other: tuple[str, ...],
) -> bool:
    """A procedure is one form or the other: keys of the other form are errors, and the
    counted form needs all of trigger, days and unit."""
    ok = True
    written = p.model_fields_set
    form = "on a fixed day ('by')" if "by" in needs else "counted from a trigger"
    for key in other:
        if key in written:
            ctx.error(
                (*path, key),
                f"{key!r} does not apply to a procedure {form}: write either trigger, days "
                "and unit, or by and window",
            )
            ok = False
    if "trigger" in needs:
        for key in needs:
            if getattr(p, key) is None:
                ctx.error(
                    path,
                    f"a procedure needs {key!r} (trigger, days and unit), or a fixed day "
                    "('by', with 'window')",
                )
                ok = False
    return ok


def _month_day(ctx: CompileContext, text: str, path: PathKey) -> tuple[int, int] | None:
    """``MM-DD`` as a day that every year has (02-29 is refused: write 02-28)."""
    month, day = int(text[:2]), int(text[3:])
    try:
        dt.date(2023, month, day)  # not a leap year: 02-29 does not exist every year
    except ValueError:
        ctx.error(
            path,
            f"{text!r} is not a day of every year (MM-DD, month 01-12; 02-29 is not: write 02-28)",
        )
        return None
    return month, day
