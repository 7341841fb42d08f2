"""Readers of the records files (JSON Lines or CSV, chosen by extension) and of records given
as Python dicts: each row validated against the contract, each problem located at its file,
line and field; nothing dropped silently."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel, ValidationError

from yibao_credit.bulk import paused_gc
from yibao_credit.errors import Location, Problem, RecordError
from yibao_credit.records.checks import check_references
from yibao_credit.records.contract import MAX_PROBLEMS, Event, Records, Subject


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


def validation_problems(exc: ValidationError, file: str, line: int, code: str) -> list[Problem]:
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


def read_rows(
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
                        problems.extend(validation_problems(exc, name, lineno, code))
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
                    problems.extend(validation_problems(exc, name, lineno, code))
                except ValueError as exc:
                    problems.append(Problem(f"{code}.csv", str(exc), Location(name, lineno)))
    return rows, lines, problems


def read_subjects(path: str | Path) -> Records:
    """Read a subjects file; raises RecordError listing every problem found."""
    rows, lines, problems = read_rows(Path(path), Subject, "subject")
    if problems:
        raise RecordError(problems)
    return Records(rows, [], lines, {"subject": str(path)})


def read_events(path: str | Path) -> Records:
    """Read an events file; raises RecordError listing every problem found."""
    rows, lines, problems = read_rows(Path(path), Event, "event")
    if problems:
        raise RecordError(problems)
    return Records([], rows, lines, {"event": str(path)})


def load_records(subjects: str | Path, events: str | Path | None = None) -> Records:
    """Read subjects and events files and check they refer to each other correctly."""
    s_rows, lines, problems = read_rows(Path(subjects), Subject, "subject")
    e_rows: list[Event] = []
    files = {"subject": str(subjects)}
    if events is not None:
        e_rows, e_lines, e_problems = read_rows(Path(events), Event, "event")
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
                problems.extend(validation_problems(exc, label, index, f"record.{what}"))
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


def dump_jsonl(records: Iterable[BaseModel]) -> str:
    """Records as JSON Lines, absent fields left out: the inverse of reading a .jsonl file."""
    return "".join(
        json.dumps(r.model_dump(mode="json", exclude_none=True), ensure_ascii=False) + "\n"
        for r in records
    )
