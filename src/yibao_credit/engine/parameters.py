"""Dated parameters: each value holds from its date until the next value's date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from yibao_credit.errors import EvaluationError, Location, Problem
from yibao_credit.pack.schema import Parameter, ParamValue


@dataclass(frozen=True, slots=True)
class InForce:
    """The value of a parameter on a date, with the entry it came from."""

    name: str
    since: dt.date
    entry: ParamValue

    @property
    def value(self) -> Any:
        return self.entry.value


def value_on(name: str, param: Parameter, day: dt.date, file: str | None = None) -> InForce:
    """The value in force on ``day``; an error when the first value starts later."""
    dated = sorted((dt.date.fromisoformat(k), v) for k, v in param.values.items())
    chosen: tuple[dt.date, ParamValue] | None = None
    for since, entry in dated:
        if since <= day:
            chosen = (since, entry)
    if chosen is None:
        raise EvaluationError(
            Problem(
                "eval.parameter-not-in-force",
                f"parameter {name!r} has no value in force on {day.isoformat()}; "
                f"its first value starts {dated[0][0].isoformat()}",
                Location(file, None, None, f"parameters.{name}"),
            )
        )
    return InForce(name, chosen[0], chosen[1])
