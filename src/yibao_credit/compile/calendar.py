"""Holiday arrangements a pack supplies (a year the installed calendar lacks), checked like
the installed ones."""

from __future__ import annotations

from pydantic import ValidationError

from yibao_credit.compile.context import CompileContext
from yibao_credit.time.calendar import YearArrangement


def compile_calendar(ctx: CompileContext) -> tuple[YearArrangement, ...]:
    out: list[YearArrangement] = []
    for i, year in enumerate(ctx.model.calendar):
        try:
            out.append(
                YearArrangement(
                    year=year.year,
                    notice=year.notice,
                    days_off=year.days_off,
                    workdays=year.workdays,
                )
            )
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                ctx.error(("calendar", i, *err["loc"]), err["msg"].removeprefix("Value error, "))
    return tuple(out)
