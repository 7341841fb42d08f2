"""Subjects and events: the records other systems exchange with the library.

Files are JSON Lines or CSV (chosen by extension), one record a line. Every record keeps the
file and line it came from, so that any later problem — a duplicate id, an event for an unknown
subject, an attribute of the wrong type for its kind — names the exact place. Columns the
contract does not name are kept as attributes; nothing is dropped silently.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TextIO

from pydantic import BaseModel, BeforeValidator, ConfigDict, TypeAdapter, ValidationError

from .bulk import paused_gc
from .errors import Location, Problem, RecordError

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


class Subject(BaseModel):
    """Who is graded: an institution, a practitioner or an insured person."""

    model_config = ConfigDict(extra="allow")

    id: str
    type: str
    category: str | None = None
    name: str | None = None
    region: str | None = None
    level: str | None = None
    beds: int | None = None
    inpatient: bool | None = None
    chain_id: str | None = None
    designated_on: IsoDate | None = None

    def attr(self, name: str) -> Any:
        """A contract field or a free attribute, None when absent."""
        if name in _SUBJECT_NAMES:
            return getattr(self, name)
        extra = self.__pydantic_extra__
        return extra.get(name) if extra else None


class Event(BaseModel):
    """One established fact about a subject on the date it was established."""

    model_config = ConfigDict(extra="allow")

    id: str
    subject_id: str
    kind: str
    date: IsoDate
    verified: bool | None = None
    severity: str | None = None
    amount: float | None = None
    nonperformance: bool | None = None
    reason: str | None = None
    points: float | None = None
    repairs: str | None = None
    indicator: str | None = None
    value: float | None = None
    period: str | None = None

    def attr(self, name: str) -> Any:
        """A contract field or a free attribute, None when absent."""
        if name in _EVENT_NAMES:
            return getattr(self, name)
        extra = self.__pydantic_extra__
        return extra.get(name) if extra else None


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


def _clean_csv_row(row: Mapping[str | None, Any]) -> dict[str, Any]:
    """Empty CSV cells mean absent, so that optional fields stay None rather than ''."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key is None:
            raise ValueError("more cells than header columns")
        if value is None:
            continue
        value = value.strip()
        if value:
            out[key] = value
    return out


def _validation_problems(exc: ValidationError, file: str, line: int, code: str) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        path = ".".join(str(p) for p in err["loc"]) or None
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "required field is missing"
        elif "input" in err and err["type"] != "value_error" and not isinstance(err["input"], dict):
            msg = f"{msg} (got {err['input']!r})"
        problems.append(Problem(code, msg, Location(file, line, None, path)))
    return problems


@contextmanager
def record_file(path: Path, file_code: str = "record.file") -> Iterator[tuple[str, TextIO]]:
    """An input file of the data contract, open: its type (``.jsonl`` or ``.csv``) and its
    text. An unknown type or an unreadable file is an error naming the file."""
    name = str(path)
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        raise RecordError(
            Problem(
                "record.format",
                f"unknown file type {suffix or '(none)'!r}: use .jsonl (JSON Lines) or .csv",
                Location(name),
            )
        )
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise RecordError(
            Problem(file_code, f"cannot read: {exc.strerror}", Location(name))
        ) from exc
    with handle:
        yield suffix, handle


def _read_rows(
    path: Path, model: type[BaseModel], what: str
) -> tuple[list[Any], dict[tuple[str, str], int], list[Problem]]:
    """Read and validate one file; collect problems instead of stopping at the first."""
    name = str(path)
    rows: list[Any] = []
    lines: dict[tuple[str, str], int] = {}
    problems: list[Problem] = []
    code = f"record.{what}"

    def add(record: Any, line: int) -> None:
        key = (what, record.id)
        first = lines.setdefault(key, line)
        if first != line:
            problems.append(
                Problem(
                    f"{code}.duplicate-id",
                    f"duplicate id {record.id!r} (first on line {first})",
                    Location(name, line, None, "id"),
                )
            )
            return
        rows.append(record)

    with record_file(path) as (suffix, handle), paused_gc():
        if suffix == ".jsonl":
            validate_json = model.model_validate_json
            for lineno, text in enumerate(handle, 1):
                if len(problems) >= MAX_PROBLEMS:
                    break
                if not text.strip():
                    continue
                try:
                    add(validate_json(text), lineno)
                except ValidationError as exc:
                    if exc.errors()[0]["type"] == "json_invalid":
                        problems.append(
                            Problem(
                                f"{code}.json",
                                f"not a JSON object: {exc.errors()[0]['msg']}",
                                Location(name, lineno),
                            )
                        )
                    elif exc.errors()[0]["type"] == "model_type":
                        problems.append(
                            Problem(
                                f"{code}.json",
                                "each line must be a JSON object",
                                Location(name, lineno),
                            )
                        )
                    else:
                        problems.extend(_validation_problems(exc, name, lineno, code))
        else:
            reader = csv.DictReader(handle)
            validate = model.model_validate
            if reader.fieldnames is None:
                raise RecordError(
                    Problem(f"{code}.csv", "empty file: no header row", Location(name, 1))
                )
            for row in reader:
                if len(problems) >= MAX_PROBLEMS:
                    break
                lineno = reader.line_num
                try:
                    add(validate(_clean_csv_row(row)), lineno)
                except ValidationError as exc:
                    problems.extend(_validation_problems(exc, name, lineno, code))
                except ValueError as exc:
                    problems.append(Problem(f"{code}.csv", str(exc), Location(name, lineno)))
    return rows, lines, problems


def read_subjects(path: str | Path) -> Records:
    """Read a subjects file; raises RecordError listing every problem found."""
    rows, lines, problems = _read_rows(Path(path), Subject, "subject")
    if problems:
        raise RecordError(problems)
    return Records(rows, [], lines, {"subject": str(path)})


def read_events(path: str | Path) -> Records:
    """Read an events file; raises RecordError listing every problem found."""
    rows, lines, problems = _read_rows(Path(path), Event, "event")
    if problems:
        raise RecordError(problems)
    return Records([], rows, lines, {"event": str(path)})


def load_records(subjects: str | Path, events: str | Path | None = None) -> Records:
    """Read subjects and events files and check they refer to each other correctly."""
    s_rows, lines, problems = _read_rows(Path(subjects), Subject, "subject")
    e_rows: list[Event] = []
    files = {"subject": str(subjects)}
    if events is not None:
        e_rows, e_lines, e_problems = _read_rows(Path(events), Event, "event")
        problems += e_problems
        lines.update(e_lines)
        files["event"] = str(events)
    if problems:
        raise RecordError(problems[:MAX_PROBLEMS])
    records = Records(s_rows, e_rows, lines, files)
    check_references(records)
    return records


def records_from_python(
    subjects: Iterable[Subject | Mapping[str, Any]],
    events: Iterable[Event | Mapping[str, Any]] = (),
    source: str = "<python>",
) -> Records:
    """Build Records from objects or dicts, with the same checks as for files.

    The position in each iterable (1-based) stands in for the line number.
    """
    problems: list[Problem] = []
    lines: dict[tuple[str, str], int] = {}
    out_s: list[Subject] = []
    out_e: list[Event] = []
    for what, items, model, out in (
        ("subject", subjects, Subject, out_s),
        ("event", events, Event, out_e),
    ):
        label = f"{source}[{what}s]"
        for index, item in enumerate(items, 1):
            try:
                record = item if isinstance(item, model) else model.model_validate(item)
            except ValidationError as exc:
                problems.extend(_validation_problems(exc, label, index, f"record.{what}"))
                continue
            key = (what, record.id)
            if key in lines:
                problems.append(
                    Problem(
                        f"record.{what}.duplicate-id",
                        f"duplicate id {record.id!r} (first at {lines[key]})",
                        Location(label, index, None, "id"),
                    )
                )
                continue
            lines[key] = index
            out.append(record)  # type: ignore[arg-type]
    if problems:
        raise RecordError(problems[:MAX_PROBLEMS])
    records = Records(
        out_s, out_e, lines, {"subject": f"{source}[subjects]", "event": f"{source}[events]"}
    )
    check_references(records)
    return records


def check_references(records: Records) -> None:
    """Events must name a known subject; a chain store must name a known headquarters."""
    problems: list[Problem] = []
    ids = {s.id for s in records.subjects}
    for s in records.subjects:
        if s.chain_id is not None and s.chain_id not in ids:
            problems.append(
                Problem(
                    "record.subject.unknown-chain",
                    f"chain_id {s.chain_id!r} names no subject in the subjects file",
                    records.where("subject", s.id, "chain_id"),
                )
            )
        if s.chain_id == s.id:
            problems.append(
                Problem(
                    "record.subject.self-chain",
                    "a subject cannot be its own chain headquarters",
                    records.where("subject", s.id, "chain_id"),
                )
            )
    for e in records.events:
        if len(problems) >= MAX_PROBLEMS:
            break
        if e.subject_id not in ids:
            problems.append(
                Problem(
                    "record.event.unknown-subject",
                    f"subject_id {e.subject_id!r} names no subject in the subjects file",
                    records.where("event", e.id, "subject_id"),
                )
            )
    if problems:
        raise RecordError(problems[:MAX_PROBLEMS])


_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "str": TypeAdapter(str),
    "int": TypeAdapter(int),
    "number": TypeAdapter(float),
    "bool": TypeAdapter(bool),
    "date": TypeAdapter(dt.date),
}


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "number": (int, float),
    "bool": (bool,),
    "date": (dt.date,),
}

_MISSING = object()


def _typed(value: Any, kind: str) -> bool:
    """Whether a value already has an attribute type (a bool is not a number here)."""
    if isinstance(value, bool):
        return kind == "bool"
    return isinstance(value, _PY_TYPES[kind])


def _typed_value(
    spec: AttributeSpec, name: str, value: Any, what: str, where: Location, owner: str
) -> tuple[Any, Problem | None]:
    """A declared attribute's value converted to its type (CSV gives text), its default when
    absent, or the problem with it. ``_MISSING`` stands for "absent, and no default"."""
    if value is None:
        if spec.required:
            return _MISSING, Problem(
                f"record.{what}.missing-attribute", f"{owner} needs {name!r}", where
            )
        return (spec.default if spec.default is not None else _MISSING), None
    converted = value
    if not _typed(value, spec.type):
        try:
            converted = _ADAPTERS[spec.type].validate_python(value)
        except ValidationError:
            return _MISSING, Problem(
                f"record.{what}.attribute-type",
                f"{name!r} must be {spec.type} for {owner}, got {value!r}",
                where,
            )
    if spec.choices is not None and converted not in spec.choices:
        return _MISSING, Problem(
            f"record.{what}.attribute-choice",
            f"{name!r} must be one of {', '.join(spec.choices)}; got {value!r}",
            where,
        )
    return converted, None


def check_event_kinds(records: Records, kinds: Mapping[str, EventKind]) -> None:
    """Check each event against its kind's attributes, and fill in declared defaults.

    Values from CSV arrive as text; a declared attribute is converted to its type here, so
    that a rule never compares a number with a string at run time.
    """
    problems: list[Problem] = []
    known = ", ".join(sorted(kinds))
    plan = {
        k.name: [(name, spec, name in _EVENT_NAMES) for name, spec in k.attributes.items()]
        for k in kinds.values()
    }
    for e in records.events:
        if len(problems) >= MAX_PROBLEMS:
            break
        specs = plan.get(e.kind)
        if specs is None:
            problems.append(
                Problem(
                    "record.event.unknown-kind",
                    f"unknown event kind {e.kind!r}; this pack knows: {known}",
                    records.where("event", e.id, "kind"),
                )
            )
            continue
        if not specs:
            continue
        extra = e.__pydantic_extra__
        for name, spec, core in specs:
            value = getattr(e, name) if core else (extra.get(name) if extra else None)
            if value is None:
                if not spec.required and spec.default is None:
                    continue  # absent and optional, no default: nothing to do
            elif spec.choices is None and _typed(value, spec.type):
                continue  # already typed (the common case): nothing to convert or check
            converted, problem = _typed_value(
                spec,
                name,
                value,
                "event",
                records.where("event", e.id, name),
                f"{'an' if e.kind[:1] in 'aeiou' else 'a'} {e.kind!r} event",
            )
            if problem is not None:
                problems.append(problem)
            elif converted is not _MISSING and converted is not value:
                _set_attr(e, name, converted)
    if problems:
        raise RecordError(problems[:MAX_PROBLEMS])


def check_subject_attributes(records: Records, specs: Mapping[str, AttributeSpec]) -> None:
    """Convert the subject attributes a pack declares to their types; enforce required,
    default and choices, so a CSV "3" compares as the number 3."""
    if not specs:
        return
    problems: list[Problem] = []
    for s in records.subjects:
        extra = s.__pydantic_extra__
        if extra is None:
            extra = {}
            object.__setattr__(s, "__pydantic_extra__", extra)
        for name, spec in specs.items():
            converted, problem = _typed_value(
                spec,
                name,
                extra.get(name),
                "subject",
                records.where("subject", s.id, name),
                f"subject {s.id!r}",
            )
            if problem is not None:
                problems.append(problem)
            elif converted is not _MISSING:
                extra[name] = converted
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise RecordError(problems[:MAX_PROBLEMS])


def _set_attr(e: Event, name: str, value: Any) -> None:
    if name in _EVENT_NAMES:
        object.__setattr__(e, name, value)
    else:
        extra = e.__pydantic_extra__
        if extra is None:
            object.__setattr__(e, "__pydantic_extra__", {name: value})
        else:
            extra[name] = value


def dump_jsonl(records: Iterable[BaseModel]) -> str:
    """Records as JSON Lines, absent fields left out: the inverse of reading a .jsonl file."""
    return "".join(
        json.dumps(r.model_dump(mode="json", exclude_none=True), ensure_ascii=False) + "\n"
        for r in records
    )
