"""Windows: a rolling length must be a period or a period parameter, a ``since`` window must
start on a date field of the subject, and ``version_by`` must name a window with a fixed start."""

from __future__ import annotations

from dataclasses import replace

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
    """The trace step of each window a ruleset reads. A length given by a parameter is read
    by the step, so a provisional length counts among the result's provisional values."""
    out = {}
    for w in names:
        window = ctx.model.windows[w]
        spec = ctx.step(f"window.{w}", "window", window.title, window, ("windows", w))
        length = window.length
        if window.type == "rolling" and length is not None and not is_period(length):
            spec = replace(spec, reads=(*spec.reads, length))
        out[w] = spec
    return out
