"""What a call asks and what it answers, without HTTP: the service runs these, and
``decisions replay`` runs them again on a logged input, so a replay is the same code path.

A call's records come as JSON arrays of the data contract's objects; each is checked as a line
of a file would be, its 1-based position standing in for the line (``request[subjects]:3``).
The answer's ``canonical`` bytes are what the decision log hashes: for ``evaluate`` exactly the
CLI's JSON Lines for the same records, trace and language.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from yibao_credit.bulk import checkpoint, paused_gc
from yibao_credit.engine.allocation import allocate
from yibao_credit.engine.outlook import Outlooks
from yibao_credit.engine.results import Run
from yibao_credit.errors import EvaluationError, Problem, YibaoError
from yibao_credit.policy import Policy, PolicySet
from yibao_credit.records.deposits import deposit_rows_from_python
from yibao_credit.records.history import history_from_python
from yibao_credit.records.procedures import procedures_from_python
from yibao_credit.records.readers import records_from_python
from yibao_credit.render.results import render
from yibao_credit.render.summary import summarize
from yibao_credit.render.trace import render_text

SOURCE = "request"
"""How located problems name a call's records: ``request[subjects]:3: kind: …``."""

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(text: str) -> str:
    """As the CLI's ``--as-of``: only ``YYYY-MM-DD``, and a real calendar day."""
    if not _ISO_DATE.fullmatch(text):
        raise ValueError(f"{text!r} is not a date written YYYY-MM-DD")
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date: no such calendar day") from None
    return text


IsoDate = Annotated[
    str,
    Field(pattern=r"^\d{4}-\d{2}-\d{2}$", json_schema_extra={"format": "date"}),
    AfterValidator(_iso_date),
]
Record = dict[str, Any]


class Call(BaseModel):
    """The inputs every call takes: the records of the data contract and the run's dates."""

    model_config = ConfigDict(extra="forbid")

    subjects: list[Record] = Field(
        description="subjects as design.md's data contract writes them, one object each"
    )
    events: list[Record] = Field(default=[], description="events of the data contract")
    as_of: IsoDate = Field(description="the evaluation date, YYYY-MM-DD")
    history: list[Record] | None = Field(
        default=None, description="earlier cycles' results, as evaluate writes them"
    )
    procedures: list[Record] | None = Field(
        default=None, description="notification / objection / decision records"
    )
    on: IsoDate | None = Field(default=None, description="judge the lifecycle as of this day")
    lang: Literal["zh", "en"] = "zh"
    strict: bool = Field(default=False, description="every warning is an error: 422 and no result")


class EvaluateCall(Call):
    trace: Literal["full", "decisive", "none"] = "full"


class ExplainCall(Call):
    subject_ids: list[str] = Field(min_length=1, description="the subjects to explain")
    trace: Literal["full", "decisive"] = "full"
    notes: bool = True


class SummaryCall(Call):
    pass


class AllocateCall(Call):
    deposits: list[Record] = Field(description="one {subject_id, deposit} row per subject")
    exclude_pending: bool = False


CALLS: dict[str, type[Call]] = {
    "evaluate": EvaluateCall,
    "explain": ExplainCall,
    "summary": SummaryCall,
    "allocate": AllocateCall,
}
"""Each endpoint under ``/v1/packs/{id}/`` and the body it takes."""


class StrictWarnings(YibaoError):
    """Warnings of a call made with ``strict``: reported as errors, no result."""


def plain(value: Any) -> Any:
    """A pack value as JSON holds it: a model (a ``{zh, en}`` text, a source) as its fields."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json", exclude_none=True) if callable(dump) else value


@dataclass
class Answer:
    """What a call decided: the body to send, the bytes the log hashes, and per subject its
    outcome (status, grade, score) for the log line."""

    policy: Policy
    canonical: str
    payload: dict[str, Any]
    """The JSON answer's fields; for ``evaluate``, ``results`` is spliced in from
    ``canonical``'s lines (parsing 10,000 results back only to write them again would double
    the call's time)."""
    outcomes: list[dict[str, Any]]
    warnings: list[Problem] = field(default_factory=list)


def _run(policy: Policy, call: Call) -> Run:
    subjects = records_from_python(call.subjects, call.events, source=SOURCE)
    checkpoint()
    history = (
        history_from_python(call.history, policy.id, policy.grade_labels, source=SOURCE)
        if call.history is not None
        else None
    )
    procedures = (
        procedures_from_python(call.procedures, source=SOURCE)
        if call.procedures is not None
        else None
    )
    run = policy.evaluate(
        subjects,
        as_of=dt.date.fromisoformat(call.as_of),
        history=history,
        procedures=procedures,
        on=None if call.on is None else dt.date.fromisoformat(call.on),
    )
    if call.strict and run.warnings:
        raise StrictWarnings(run.warnings)
    return run


def _outcomes(run: Run) -> list[dict[str, Any]]:
    return [
        {
            "subject_id": r.subject.id,
            "status": r.status,
            "grade": r.grade,
            "score": r.score,
            "exclusion": r.exclusion,
        }
        for r in run
    ]


def _evaluate(policy: Policy, call: Call) -> Answer:
    assert isinstance(call, EvaluateCall)
    run = _run(policy, call)
    lines = render(run, "jsonl", call.lang, call.trace)
    return Answer(policy, lines, {}, _outcomes(run), list(run.warnings))


def _explain(policy: Policy, call: Call) -> Answer:
    assert isinstance(call, ExplainCall)
    run = _run(policy, call)
    ahead = Outlooks(records_from_python(call.subjects, call.events, source=SOURCE), run)
    known = {s.get("id") for s in call.subjects}
    problems = []
    texts = []
    for sid in call.subject_ids:
        result = run.get(sid)
        if result is None:
            why = (
                "is graded by no ruleset of this pack"
                if sid in known
                else "is not among the subjects"
            )
            problems.append(Problem("request.unknown-subject", f"subject {sid!r} {why}"))
            continue
        checkpoint()
        texts.append(
            {
                "subject_id": sid,
                "text": render_text(
                    result, call.lang, notes=call.notes, detail=call.trace, outlook=ahead.of(result)
                ),
            }
        )
    if problems:
        raise EvaluationError(problems)
    canonical = "".join(f"{t['text']}\n\n" for t in texts)
    outcomes = [o for o in _outcomes(run) if o["subject_id"] in set(call.subject_ids)]
    return Answer(policy, canonical, {"explanations": texts}, outcomes, list(run.warnings))


def _summary(policy: Policy, call: Call) -> Answer:
    run = _run(policy, call)
    summary = summarize(run, call.lang)
    canonical = json.dumps(summary, ensure_ascii=False, indent=2) + "\n"
    return Answer(policy, canonical, {"summary": summary}, _outcomes(run), list(run.warnings))


def _allocate(policy: Policy, call: Call) -> Answer:
    assert isinstance(call, AllocateCall)
    if call.exclude_pending and call.procedures is None:
        raise EvaluationError(
            Problem(
                "eval.allocation-not-final",
                "exclude_pending leaves out the results that are not final, which needs "
                "procedures (and on, the day they are judged on)",
            )
        )
    run = _run(policy, call)
    deposits = deposit_rows_from_python(call.deposits, source=SOURCE)
    result = allocate(run, deposits, exclude_pending=call.exclude_pending)
    warnings = [*run.warnings, *result.warnings]
    if call.strict and result.warnings:
        raise StrictWarnings(list(result.warnings))
    rows = [s.to_dict() for s in result.shares]
    canonical = "".join(
        json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n" for row in rows
    )
    payload = {
        "shares": rows,
        "pool": result.pool,
        "allocated": result.allocated,
        "pending": [
            {"subject_id": p.subject_id, "stage": p.stage, "deposit": p.deposit}
            for p in result.pending
        ],
        "provisional": plain(result.provisional),
    }
    return Answer(policy, canonical, payload, _outcomes(run), warnings)


RUNNERS: dict[str, Callable[[Policy, Call], Answer]] = {
    "evaluate": _evaluate,
    "explain": _explain,
    "summary": _summary,
    "allocate": _allocate,
}


def answer(endpoint: str, packs: PolicySet, body: Mapping[str, Any] | Call) -> Answer:
    """Run one call on the version of the pack in force for its ``as_of``."""
    call = body if isinstance(body, Call) else CALLS[endpoint].model_validate(body)
    policy = packs.for_as_of(dt.date.fromisoformat(call.as_of))
    with paused_gc():  # as the CLI runs: a call makes many objects and no cycles
        return RUNNERS[endpoint](policy, call)
