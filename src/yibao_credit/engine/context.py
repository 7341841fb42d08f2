"""What is fixed for a whole run: the plan, the date, the window bounds and the parameter
values in force on it, and the earlier results and procedure records given with the run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from operator import attrgetter
from types import MappingProxyType
from typing import Any

from yibao_credit.compile.plan import Plan
from yibao_credit.engine.parameters import InForce, value_on
from yibao_credit.records.history import HistoryRecords
from yibao_credit.records.procedures import ProcedureRecords
from yibao_credit.time.windows import Bounds, window_bounds

EMPTY: Mapping[str, Any] = MappingProxyType({})


EVENT_ORDER = attrgetter("date", "id")


"""Events are ordered by date, then id: evidence lists are the same whatever the input order."""


@dataclass(frozen=True)
class RunContext:
    """What is fixed for a whole run: the plan, the date, windows and parameters in force."""

    plan: Plan
    as_of: dt.date
    bounds: Mapping[str, Bounds]
    params: Mapping[str, InForce]
    history: HistoryRecords | None = None
    procedures: ProcedureRecords | None = None
    on: dt.date | None = None
    """The day the lifecycle is judged on (is an objection window closed?)."""
    provisional_params: frozenset[str] = frozenset()
    """Parameters whose value in force on as_of is provisional."""


def resolve(plan: Plan, as_of: dt.date) -> RunContext:
    """Parameters in force and window bounds on ``as_of``."""
    params = {name: value_on(name, p, as_of, plan.file) for name, p in plan.parameters.items()}
    bounds: dict[str, Bounds] = {}
    for name, window in plan.windows.items():
        length = window.length
        if length is not None and length in params:
            length = str(params[length].value)
        bounds[name] = window_bounds(window, as_of, length)
    provisional = frozenset(n for n, p in params.items() if p.entry.provisional)
    return RunContext(plan, as_of, bounds, params, provisional_params=provisional)
