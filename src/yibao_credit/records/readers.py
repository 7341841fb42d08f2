"""Readers of the records files (JSON Lines or CSV, chosen by extension) and of records given
as Python dicts: each row validated against the contract, each problem located at its file,
line and field; nothing dropped silently."""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel, ValidationError

from yibao_credit.bulk import checkpoint, paused_gc
from yibao_credit.errors import Location, Problem, RecordError
from yibao_credit.records.checks import check_references
from yibao_credit.records.contract import MAX_PROBLEMS, Event, Records, Subject

CSV_FIELD_LIMIT = 1 << 24
"""The longest CSV cell read, in characters (16,777,216; Python's ``csv`` stops at 131,072 by
default). A longer cell is an error naming its line: in practice a quote left open, which
makes the rest of the file one cell."""

UTF8 = "utf-8"


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


# -- encodings ------------------------------------------------------------------------------


def text_encoding(encoding: str, file: str | None = None) -> str:
    """The codec to read a records file with: ``utf-8`` (the contract's, under any spelling)
    accepts a byte-order mark; another name must be a text encoding Python knows."""
    try:
        name = codecs.lookup(encoding).name
        io.TextIOWrapper(io.BytesIO(), encoding=name)  # refuses 'base64' and other non-text codecs
    except (LookupError, TypeError):
        raise RecordError(
            Problem(
                "record.encoding",
                f"unknown encoding {encoding!r}: name a text encoding Python knows, such as "
                "utf-8, gb18030 or utf-16",
                Location(file),
            )
        ) from None
    return "utf-8-sig" if name in ("utf-8", "utf-8-sig") else name


def _first_undecodable(path: Path, codec: str) -> tuple[int, int | None]:
    """The line of the first byte the codec cannot decode (lines end at LF, CRLF or a lone
    CR, as the readers count them) and that byte; read in chunks, never the whole file."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    breaks = 0
    after_cr = False

    def count(text: str) -> None:
        nonlocal breaks, after_cr
        if not text:
            return
        breaks += text.count("\n") + text.count("\r") - text.count("\r\n")
        if after_cr and text[0] == "\n":
            breaks -= 1
        after_cr = text[-1] == "\r"

    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 16):
                state = decoder.getstate()
                try:
                    count(decoder.decode(chunk))
                    continue
                except UnicodeDecodeError:
                    decoder.setstate(state)
                for i in range(len(chunk)):  # the failing chunk again, byte by byte
                    try:
                        count(decoder.decode(chunk[i : i + 1]))
                    except UnicodeDecodeError as exc:
                        return breaks + 1, exc.object[exc.start]
            decoder.decode(b"", True)
    except UnicodeDecodeError as exc:  # a sequence cut off by the end of the file
        return breaks + 1, exc.object[exc.start] if exc.start < len(exc.object) else None
    except OSError:
        pass
    return breaks + 1, None


def _looks_utf16(path: Path) -> bool:
    """A UTF-16 byte-order mark, or the NUL bytes of UTF-16 text, at the start of the file."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head


def decoding_problem(path: Path, encoding: str) -> Problem:
    """The file does not decode: where its first undecodable byte is, and what to do."""
    codec = text_encoding(encoding, str(path))
    line, byte = _first_undecodable(path, codec)
    what = f"byte 0x{byte:02x}" if byte is not None else "the end of the file"
    if codec == "utf-8-sig":
        option = "utf-16" if _looks_utf16(path) else "gb18030"
        exported = "UTF-16" if option == "utf-16" else "GBK or GB18030"
        message = (
            f"not UTF-8 text: {what} cannot be read as UTF-8; a file exported as {exported} "
            f"is read with --encoding {option} (encoding={option!r} in Python)"
        )
    else:
        message = (
            f"not {encoding} text: {what} cannot be read as {encoding}; give the encoding the "
            "file was written in (--encoding)"
        )
    return Problem("record.encoding", message, Location(str(path), line))


# -- files ----------------------------------------------------------------------------------


@contextmanager
def record_file(
    path: Path, file_code: str = "record.file", encoding: str = UTF8
) -> Iterator[tuple[str, TextIO]]:
    """An input file of the data contract, open: its type (``.jsonl`` or ``.csv``) and its
    text. An unknown type, an unknown encoding or an unreadable file is an error naming the
    file. (Text that does not decode raises ``UnicodeDecodeError`` while it is read: the
    reader turns it into ``decoding_problem``.)"""
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
    codec = text_encoding(encoding, name)
    try:
        handle = path.open(encoding=codec, newline="")
    except OSError as exc:
        raise RecordError(
            Problem(file_code, f"cannot read: {exc.strerror}", Location(name))
        ) from exc
    with handle:
        yield suffix, handle


class StopReading(Exception):
    """The rest of a file cannot be read: the problem says where and why."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@contextmanager
def csv_field_limit() -> Iterator[None]:
    """Python's ``csv`` reads cells up to ``CSV_FIELD_LIMIT`` characters in the block."""
    old = csv.field_size_limit(CSV_FIELD_LIMIT)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _csv_message(exc: csv.Error) -> str:
    if "field limit" in str(exc):
        return (
            f"a cell longer than {CSV_FIELD_LIMIT:,} characters (a quote left open makes the "
            "rest of the file one cell)"
        )
    return f"cannot be read as CSV: {exc}"


def csv_rows(
    handle: TextIO, name: str, code: str, *, empty_ok: bool = False
) -> Iterator[tuple[int, dict[str | None, Any]]]:
    """The rows of a CSV file (under ``csv_field_limit``) with the line each ends on. A file
    without a header row is an error (``RecordError``) unless ``empty_ok``; a header naming a
    column twice, or a row Python's ``csv`` cannot read, raises ``StopReading`` at its line."""
    reader = csv.DictReader(handle)
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise StopReading(Problem(f"{code}.csv", _csv_message(exc), Location(name, 1))) from None
    if header is None:
        if empty_ok:
            return
        raise RecordError(Problem(f"{code}.csv", "empty file: no header row", Location(name, 1)))
    seen: set[str] = set()
    for column in header:
        if column in seen and column:
            raise StopReading(
                Problem(
                    f"{code}.csv",
                    f"the header names column {column!r} twice: each column once",
                    Location(name, 1, None, column),
                )
            )
        seen.add(column)
    rows = iter(reader)
    while True:
        start = reader.line_num + 1
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            raise StopReading(
                Problem(f"{code}.csv", _csv_message(exc), Location(name, start))
            ) from None
        yield reader.line_num, row


# -- JSON -----------------------------------------------------------------------------------


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs, in the order written, repeats kept."""


def _repeated(value: Any, path: tuple[str, ...]) -> tuple[str, ...] | None:
    if isinstance(value, _Pairs):
        seen: set[str] = set()
        for key, _ in value:
            if key in seen:
                return (*path, key)
            seen.add(key)
        for key, item in value:
            found = _repeated(item, (*path, key))
            if found:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _repeated(item, (*path, str(i)))
            if found:
                return found
    return None


def duplicate_key(text: str) -> str | None:
    """The first key a JSON text gives twice in one object (dotted from the top: ``a.0.b``),
    or None. JSON parsers keep the last value silently; the data contract does not."""
    try:
        parsed = json.loads(text, object_pairs_hook=_Pairs)
    except (ValueError, RecursionError):
        return None
    found = _repeated(parsed, ())
    return ".".join(found) if found else None


def duplicate_key_problem(key: str, file: str, line: int, code: str) -> Problem:
    return Problem(
        code,
        f"duplicate key {key.rsplit('.', 1)[-1]!r}: a key appears once in a record",
        Location(file, line, None, key),
    )


# -- records --------------------------------------------------------------------------------


def read_rows(
    path: Path,
    model: type[BaseModel],
    what: str,
    *,
    encoding: str = UTF8,
    strict: bool = False,
) -> tuple[list[Any], dict[tuple[str, str], int], list[Problem]]:
    """Read and validate one file; collect problems instead of stopping at the first.
    ``strict``: JSON values must have the model's types as JSON writes them (no ``"12"`` for
    a number, no ``1`` for true); CSV text is converted either way."""
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

    with record_file(path, encoding=encoding) as (suffix, handle), paused_gc():
        try:
            if suffix == ".jsonl":
                _read_jsonl(handle, model, name, code, strict, add, problems)
            else:
                with csv_field_limit():
                    validate = model.model_validate
                    for lineno, row in csv_rows(handle, name, code):
                        if len(problems) >= MAX_PROBLEMS:
                            break
                        try:
                            add(validate(_clean_csv_row(row)), lineno)
                        except ValidationError as exc:
                            problems.extend(validation_problems(exc, name, lineno, code))
                        except ValueError as exc:
                            problems.append(
                                Problem(f"{code}.csv", str(exc), Location(name, lineno))
                            )
        except StopReading as stop:
            problems.append(stop.problem)
        except UnicodeDecodeError:  # the file as a whole: whatever its lines read so far gave
            problems[:] = [decoding_problem(path, encoding)]
    return rows, lines, problems


def _read_jsonl(
    handle: TextIO,
    model: type[BaseModel],
    name: str,
    code: str,
    strict: bool,
    add: Callable[[Any, int], None],
    problems: list[Problem],
) -> None:
    validate_json = model.model_validate_json
    strictly = True if strict else None
    for lineno, text in enumerate(handle, 1):
        if len(problems) >= MAX_PROBLEMS:
            break
        if not text.strip():
            continue
        try:
            record = validate_json(text, strict=strictly)
        except ValidationError as exc:
            first = exc.errors()[0]["type"]
            if first == "json_invalid":
                problems.append(
                    Problem(
                        f"{code}.json",
                        f"not a JSON object: {exc.errors()[0]['msg']}",
                        Location(name, lineno),
                    )
                )
            elif first == "model_type":
                problems.append(
                    Problem(
                        f"{code}.json", "each line must be a JSON object", Location(name, lineno)
                    )
                )
            elif (key := duplicate_key(text)) is not None:  # the value read may not be the one
                problems.append(duplicate_key_problem(key, name, lineno, f"{code}.json"))
            else:
                problems.extend(validation_problems(exc, name, lineno, code))
            continue
        # Each key of an object is one ':' outside strings, so as many ':' as distinct keys
        # read means no key is repeated; otherwise look closer (nested objects, ':' in text).
        if (
            text.count(":") != len(record.model_fields_set)
            and (key := duplicate_key(text)) is not None
        ):
            problems.append(duplicate_key_problem(key, name, lineno, f"{code}.json"))
            continue
        add(record, lineno)


def read_subjects(path: str | Path, *, encoding: str = UTF8) -> Records:
    """Read a subjects file; raises RecordError listing every problem found. ``encoding``:
    the file's text encoding (the contract's UTF-8, a byte-order mark accepted, by default;
    ``gb18030`` for GBK and GB18030 exports, ``utf-16``…)."""
    rows, lines, problems = read_rows(
        Path(path), Subject, "subject", encoding=encoding, strict=True
    )
    if problems:
        raise RecordError(problems)
    return Records(rows, [], lines, {"subject": str(path)})


def read_events(path: str | Path, *, encoding: str = UTF8) -> Records:
    """Read an events file; raises RecordError listing every problem found. ``encoding`` as
    for ``read_subjects``."""
    rows, lines, problems = read_rows(Path(path), Event, "event", encoding=encoding, strict=True)
    if problems:
        raise RecordError(problems)
    return Records([], rows, lines, {"event": str(path)})


def load_records(
    subjects: str | Path, events: str | Path | None = None, *, encoding: str = UTF8
) -> Records:
    """Read subjects and events files and check they refer to each other correctly.
    ``encoding``: the files' text encoding, as for ``read_subjects``."""
    s_rows, lines, problems = read_rows(
        Path(subjects), Subject, "subject", encoding=encoding, strict=True
    )
    e_rows: list[Event] = []
    files = {"subject": str(subjects)}
    if events is not None:
        e_rows, e_lines, e_problems = read_rows(
            Path(events), Event, "event", encoding=encoding, strict=True
        )
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

    The position in each iterable (1-based) stands in for the line number. Values are taken
    as typed, as from a JSON line: ``beds`` an int (not True, not "12"), ``inpatient`` a bool.
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
            checkpoint()
            try:
                record = (
                    item if isinstance(item, model) else model.model_validate(item, strict=True)
                )
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
