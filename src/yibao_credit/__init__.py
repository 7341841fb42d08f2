"""yibao-credit: medical-insurance credit rules as executable, auditable YAML policy packs.

import yibao_credit as yc
pack = yc.load_policy("policies/zhenjiang.yaml")
run = pack.evaluate(subjects, events, as_of=date(2024, 12, 31))
for result in run:
    print(result.subject_id, result.grade)
"""

from .engine import Result, Run, evaluate
from .errors import (
    CalendarError,
    EvaluationError,
    Location,
    PackError,
    Problem,
    RecordError,
    YibaoError,
)
from .pack import Policy, load_policy
from .records import Event, Records, Subject, load_records, records_from_python
from .render import render, result_to_dict, write_results
from .trace import build_trace, render_text

__all__ = [
    "CalendarError",
    "EvaluationError",
    "Event",
    "Location",
    "PackError",
    "Policy",
    "Problem",
    "RecordError",
    "Records",
    "Result",
    "Run",
    "Subject",
    "YibaoError",
    "build_trace",
    "evaluate",
    "load_policy",
    "load_records",
    "records_from_python",
    "render",
    "render_text",
    "result_to_dict",
    "write_results",
]

__version__ = "0.1.0"
