"""yibao-credit: medical-insurance credit rules as executable, auditable YAML policy packs.

import yibao_credit as yc
pack = yc.load_policy("policies/zhenjiang.yaml")
run = pack.evaluate(subjects, events, as_of=date(2024, 12, 31))
for result in run:
    print(result.subject_id, result.grade)
"""

from typing import Any

from yibao_credit import _compat
from yibao_credit.engine.results import Result, Run
from yibao_credit.errors import (
    CalendarError,
    EvaluationError,
    Location,
    PackError,
    Problem,
    RecordError,
    YibaoError,
)
from yibao_credit.policy import Policy, PolicySet, evaluate, load_policies, load_policy
from yibao_credit.records.contract import Event, Records, Subject
from yibao_credit.records.readers import load_records, records_from_python
from yibao_credit.render.results import render, result_to_dict, write_results
from yibao_credit.render.trace import build_trace, render_text

__all__ = [
    "CalendarError",
    "EvaluationError",
    "Event",
    "Location",
    "PackError",
    "Policy",
    "PolicySet",
    "Problem",
    "RecordError",
    "Records",
    "Result",
    "Run",
    "Subject",
    "YibaoError",
    "build_trace",
    "evaluate",
    "load_policies",
    "load_policy",
    "load_records",
    "records_from_python",
    "render",
    "render_text",
    "result_to_dict",
    "write_results",
]

__version__ = "0.1.0"

_compat.install()


def __getattr__(name: str) -> Any:
    """Deprecated module names of 0.1 (``yc.pack_schema``), with a warning saying where."""
    return _compat.root_getattr(name)
