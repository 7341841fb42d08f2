"""Windows: a rolling length must be a period or a period parameter, a ``since`` window must
start on a date field of the subject, and ``version_by`` must name a window with a fixed start."""

from __future__ import annotations

from yibao_credit.compile.context import CompileContext, is_period
from yibao_credit.compile.expressions import suggest_name
from yibao_credit.compile.plan import StepSpec


def check_windows(ctx: CompileContext) -> None:
    model = ctx.model
    by = model.pack.version_by
    if by is not None:
        chosen = model.windows.get(by)
        if chosen is None:
            ctx.error(
                ("pack", "version_by"),
                f"version_by names no window of this pack: {by!r}"
                + suggest_name(by, frozenset(model.windows)),
            )
        elif chosen.type not in ("calendar_year", "rolling"):
            ctx.error(
                ("pack", "version_by"),
                f"version_by must name a window with a start fixed by as_of (calendar_year "
                f"or rolling); {by!r} is a window of type {chosen.type}",
            )
    for name, window in model.windows.items():
        if window.type == "rolling" and window.length is not None:
            if not is_period(window.length):
                param = model.parameters.get(window.length)
                if param is None or param.type != "period":
                    ctx.error(
                        ("windows", name, "length"),
                        f"{window.length!r} is neither a period (1y, 6m, 30d) "
                        "nor a parameter of type period",
                    )
        if window.type == "since" and window.field is not None:
            if ctx.subject_fields.get(window.field) != "date":
                ctx.error(
                    ("windows", name, "field"),
                    f"{window.field!r} is not a date field of the subject",
                )


def window_steps(ctx: CompileContext, names: list[str]) -> dict[str, StepSpec]:
    """The trace step of each window a ruleset reads."""
    return {
        w: ctx.step(
            f"window.{w}",
            "window",
            ctx.model.windows[w].title,
            ctx.model.windows[w],
            ("windows", w),
        )
        for w in names
    }
