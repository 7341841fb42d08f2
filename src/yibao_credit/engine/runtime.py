"""What generated code may call: field access, caps and clamps, half-up rounding, the pack
functions' implementations, and the exception that names the step that failed. Nothing else is
in scope when a ruleset's code runs (its ``__builtins__`` are these few)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from yibao_credit.compile.expressions import FUNCTIONS
from yibao_credit.records.contract import Event, Subject

FUNCTION_IMPLS: dict[str, Callable[..., Any]] = {f"_fn_{k}": v.impl for k, v in FUNCTIONS.items()}


class StepFailed(Exception):
    """Raised by generated code: which step failed, so the error can name its clause.

    Index -1 is the pass over the events; ``event`` is then the event being filtered.
    """

    def __init__(self, index: int, event: Event | None = None) -> None:
        super().__init__(index)
        self.index = index
        self.event = event


def _sx(subject: Subject, name: str) -> Any:
    extra = subject.__pydantic_extra__
    return extra.get(name) if extra else None


def _x(event: Event, name: str) -> Any:
    extra = event.__pydantic_extra__
    return extra.get(name) if extra else None


def _cap(value: float, cap: float) -> float:
    """At most ``cap`` points either way (扣分/加分上限)."""
    return cap if value > cap else -cap if value < -cap else value


def _clamp(value: float, low: float | None, high: float | None) -> float:
    if low is not None and value < low:
        return low
    if high is not None and value > high:
        return high
    return value


def _round(value: float, places: int) -> float:
    """Round half up to ``places`` decimals, so a band edge is decided as a person would."""
    quantum = Decimal(1).scaleb(-places)
    return float(Decimal(repr(value)).quantize(quantum, rounding=ROUND_HALF_UP))


RUNTIME: dict[str, Any] = {
    "__builtins__": {
        "len": len,
        "bool": bool,
        "sum": sum,
        "max": max,
        "min": min,
        "Exception": Exception,
    },
    "_sx": _sx,
    "_x": _x,
    "_StepFailed": StepFailed,
    "_cap": _cap,
    "_clamp": _clamp,
    "_round": _round,
    "_Fraction": Fraction,
    **FUNCTION_IMPLS,
}


def subject_access(name: str) -> str:
    """How generated code reads a subject field: an attribute, or a free attribute."""
    return f"s.{name}" if name in Subject.model_fields else f"_sx(s, {name!r})"
