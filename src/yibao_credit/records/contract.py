"""Subjects and events: the records other systems exchange with the library.

Files are JSON Lines or CSV (chosen by extension), one record a line. Every record keeps the
file and line it came from, so that any later problem — a duplicate id, an event for an unknown
subject, an attribute of the wrong type for its kind — names the exact place. Columns the
contract does not name are kept as attributes; nothing is dropped silently.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from yibao_credit.errors import Location

MAX_PROBLEMS = 50


"""Stop collecting after this many problems: a broken file reports enough to act on."""


def _iso_date(value: Any) -> Any:
    """Dates are ISO ``YYYY-MM-DD`` (the data contract); no timestamps, no times of day."""
    if isinstance(value, str):
        if len(value) != 10 or value[4] != "-" or value[7] != "-":
            raise ValueError(f"a date is written YYYY-MM-DD, got {value!r}")
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a calendar date") from None
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise ValueError(f"a date is written YYYY-MM-DD, got {value!r}")
    return value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]

RecordId = Annotated[str, Field(min_length=1)]
"""An id (of a record, or naming one): text, never empty."""

Count = Annotated[int, Field(ge=0)]
"""A whole number ≥ 0 (beds)."""

Finite = Annotated[float, Field(allow_inf_nan=False)]
"""A number that is finite: no NaN, no infinity (JSON ``NaN``, ``Infinity``, ``1e999``)."""


class Subject(BaseModel):
    """Who is graded: an institution, a practitioner or an insured person.

    The types are the data contract's. A JSON line is read strictly (``beds`` a JSON integer,
    ``inpatient`` ``true``/``false``, text a JSON string); a CSV cell is text, converted."""

    model_config = ConfigDict(extra="allow")

    id: RecordId
    type: str
    category: str | None = None
    name: str | None = None
    region: str | None = None
    level: str | None = None
    beds: Count | None = None
    inpatient: bool | None = None
    chain_id: RecordId | None = None
    designated_on: IsoDate | None = None

    def attr(self, name: str) -> Any:
        """A contract field or a free attribute, None when absent."""
        if name in _SUBJECT_NAMES:
            return getattr(self, name)
        extra = self.__pydantic_extra__
        return extra.get(name) if extra else None


class Event(BaseModel):
    """One established fact about a subject on the date it was established (typed as
    ``Subject`` is: strictly from JSON, converted from CSV text)."""

    model_config = ConfigDict(extra="allow")

    id: RecordId
    subject_id: RecordId
    kind: str
    date: IsoDate
    verified: bool | None = None
    severity: str | None = None
    amount: Finite | None = None
    nonperformance: bool | None = None
    reason: str | None = None
    points: Finite | None = None
    repairs: RecordId | None = None
    indicator: str | None = None
    value: Finite | None = None
    period: str | None = None

    def attr(self, name: str) -> Any:
        """A contract field or a free attribute, None when absent."""
        if name in _EVENT_NAMES:
            return getattr(self, name)
        extra = self.__pydantic_extra__
        return extra.get(name) if extra else None


class EventLike(Protocol):
    """What a trace shows of an event: an ``Event``, or a back-end's lighter reference."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def date(self) -> dt.date: ...


_SUBJECT_NAMES = frozenset(Subject.model_fields)


_EVENT_NAMES = frozenset(Event.model_fields)


SUBJECT_FIELDS: dict[str, str] = {
    "id": "str",
    "type": "str",
    "category": "str",
    "name": "str",
    "region": "str",
    "level": "str",
    "beds": "int",
    "inpatient": "bool",
    "chain_id": "str",
    "designated_on": "date",
}


"""Contract fields of a subject and their expression types."""


EVENT_FIELDS: dict[str, str] = {
    "id": "str",
    "subject_id": "str",
    "kind": "str",
    "date": "date",
}


"""Fields every event has, whatever its kind."""


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    """A typed attribute of an event kind: required, or with a default when absent."""

    type: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class EventKind:
    """An event kind with its attributes; the core kinds are shared by every pack."""

    name: str
    attributes: Mapping[str, AttributeSpec] = field(default_factory=dict)
    title_zh: str = ""
    title_en: str = ""


CORE_EVENT_KINDS: dict[str, EventKind] = {
    k.name: k
    for k in [
        EventKind(
            "violation",
            {"severity": AttributeSpec("str"), "amount": AttributeSpec("number")},
            "违法违规记录",
            "violation of medical-insurance law or rules",
        ),
        EventKind(
            "complaint",
            {"verified": AttributeSpec("bool", default=False)},
            "举报投诉",
            "report or complaint",
        ),
        EventKind(
            "price_interview", {}, "因药品价格明显异常被约谈", "interview over abnormal drug prices"
        ),
        EventKind("fraud", {"amount": AttributeSpec("number")}, "恶意欺诈骗保", "malicious fraud"),
        EventKind(
            "agreement_breach",
            {"nonperformance": AttributeSpec("bool", default=False)},
            "协议违约",
            "breach of the service agreement",
        ),
        EventKind("serious_violation", {}, "其他严重违法违规", "other serious violation"),
        EventKind(
            "agreement_terminated",
            {
                "reason": AttributeSpec(
                    "str", required=True, choices=("voluntary", "renewal_failed", "other")
                )
            },
            "服务协议解除",
            "service agreement ended",
        ),
        EventKind("license_suspended", {}, "暂停执业许可", "practice licence suspended"),
        EventKind("license_revoked", {}, "吊销执业许可", "practice licence revoked"),
        EventKind("commitment", {}, "信用承诺", "credit commitment signed"),
        EventKind("commitment_breach", {}, "违反信用承诺", "credit commitment broken"),
        EventKind(
            "reward", {"points": AttributeSpec("number", required=True)}, "守信加分", "reward"
        ),
        EventKind(
            "points", {"points": AttributeSpec("number", required=True)}, "记分", "penalty points"
        ),
        EventKind(
            "repair", {"repairs": AttributeSpec("str", required=True)}, "信用修复", "credit repair"
        ),
        EventKind(
            "indicator",
            {
                "indicator": AttributeSpec("str", required=True),
                "value": AttributeSpec("number", required=True),
                "period": AttributeSpec("str"),
            },
            "指标值",
            "indicator value",
        ),
    ]
}


@dataclass
class Records:
    """Subjects and events read together, with the place each record came from."""

    subjects: list[Subject]
    events: list[Event]
    lines: dict[tuple[str, str], int] = field(default_factory=dict)
    """(``"subject"`` or ``"event"``, id) → the line (or position) the record was read from."""
    files: dict[str, str] = field(default_factory=dict)
    """``"subject"`` / ``"event"`` → the file (or label) those records were read from."""

    def where(self, what: str, record_id: str, path: str | None = None) -> Location:
        """Where a record came from, for messages; built only when a message needs it."""
        return Location(self.files.get(what), self.lines.get((what, record_id)), None, path)
