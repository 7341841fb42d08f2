"""Checks across records: every event names a subject of the file, and every event's and
subject's attributes have the types their kind (core or declared by the pack) gives them, with
each problem located at the file, line and field."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from yibao_credit.errors import Location, Problem, RecordError
from yibao_credit.records.contract import (
    _EVENT_NAMES,
    MAX_PROBLEMS,
    AttributeSpec,
    Event,
    EventKind,
    Finite,
    Records,
)


def _chain_cycles(records: Records) -> dict[str, list[str]]:
    """Subjects whose ``chain_id`` links lead back to themselves, each cycle once: its first
    subject in the file → the cycle from it (``[A, B, A]``). A subject naming itself is
    ``self-chain``, not a cycle here."""
    head = {s.id: s.chain_id for s in records.subjects if s.chain_id is not None}
    order = {s.id: i for i, s in enumerate(records.subjects)}
    done: set[str] = set()
    cycles: dict[str, list[str]] = {}
    for s in records.subjects:
        path: list[str] = []
        on_path: dict[str, int] = {}
        node: str | None = s.id
        while node is not None and node not in done and node not in on_path:
            on_path[node] = len(path)
            path.append(node)
            node = head.get(node)
        if node is not None and node in on_path:
            cycle = path[on_path[node] :]
            if len(cycle) > 1:
                first = min(cycle, key=order.__getitem__)
                at = cycle.index(first)
                cycles[first] = [*cycle[at:], *cycle[:at], first]
        done.update(path)
    return cycles


def check_references(records: Records) -> None:
    """Events must name a known subject; a chain store must name a known headquarters, which
    is not itself a chain store (chains do not nest, so ``chain_id`` links never loop)."""
    problems: list[Problem] = []
    by_id = {s.id: s for s in records.subjects}
    cycles = _chain_cycles(records) if any(s.chain_id for s in records.subjects) else {}
    in_cycle = {member for cycle in cycles.values() for member in cycle}
    for s in records.subjects:
        if s.chain_id is None:
            continue
        where = records.where("subject", s.id, "chain_id")
        head = by_id.get(s.chain_id)
        if head is None:
            problems.append(
                Problem(
                    "record.subject.unknown-chain",
                    f"chain_id {s.chain_id!r} names no subject in the subjects file",
                    where,
                )
            )
        elif head is s:
            problems.append(
                Problem(
                    "record.subject.self-chain",
                    "a subject cannot be its own chain headquarters",
                    where,
                )
            )
        elif s.id in cycles:
            problems.append(
                Problem(
                    "record.subject.chain-cycle",
                    "chain_id links go round in a cycle: " + " → ".join(cycles[s.id]),
                    where,
                )
            )
        elif head.chain_id is not None and s.id not in in_cycle:
            problems.append(
                Problem(
                    "record.subject.chain-head",
                    f"chain_id {s.chain_id!r} names a chain store (its own chain_id is "
                    f"{head.chain_id!r}), not a headquarters: chains do not nest",
                    where,
                )
            )
    for e in records.events:
        if len(problems) >= MAX_PROBLEMS:
            break
        if e.subject_id not in by_id:
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
    "number": TypeAdapter(Finite),
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
    """Whether a value already has an attribute type (a bool is not a number here, nor is
    NaN or an infinity)."""
    if isinstance(value, bool):
        return kind == "bool"
    if kind == "number" and isinstance(value, float):
        return math.isfinite(value)
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
            if isinstance(value, bool) and spec.type in ("int", "number"):
                raise ValueError("true/false is not a number")
            converted = _ADAPTERS[spec.type].validate_python(value)
        except (ValidationError, ValueError):
            expected = "a finite number" if spec.type == "number" else spec.type
            return _MISSING, Problem(
                f"record.{what}.attribute-type",
                f"{name!r} must be {expected} for {owner}, got {value!r}",
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
