"""Knowledge tables (审核知识点): CSV files beside an audit pack, read and checked at load.

Local bureaus publish knowledge points as tables — item code, limit, … (北京's third batch,
京医保中心发〔2025〕23号, lists 366 services limited to women and 119 to men). A pack declares
each table's columns and key; every row is checked against them when the pack loads, so a
typo in a limit is a located error (``file:line: column: message``), never a rule that
silently matches nothing.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from yibao_credit.audit.schema import KnowledgeColumn, KnowledgeTable
from yibao_credit.errors import Location, Problem

_INT = re.compile(r"^-?[0-9]+$")
_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]{1,4})?$")

SQL_TYPES = {
    "code": "VARCHAR",
    "text": "VARCHAR",
    "enum": "VARCHAR",
    "int": "BIGINT",
    "decimal": "DECIMAL(18,4)",
}


@dataclass(frozen=True)
class Knowledge:
    """A checked knowledge table: its rows, typed, in file order."""

    name: str
    file: str
    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    raw: bytes
    """The file's bytes, for the pack's digest."""

    def column(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [row[i] for row in self.rows]


def _cell(text: str, spec: KnowledgeColumn) -> tuple[Any, str | None]:
    """A cell's value, or why it is not one."""
    if spec.type in ("code", "enum") and text != text.strip():
        return None, f"{text!r} has spaces around it"
    if spec.type == "enum":
        if spec.choices is not None and text not in spec.choices:
            return None, f"unknown value {text!r}: one of {', '.join(spec.choices)}"
        return text, None
    if spec.type == "int":
        if not _INT.match(text):
            return None, f"{text!r} is not a whole number"
        value: Any = int(text)
    elif spec.type == "decimal":
        if not _DECIMAL.match(text):
            return None, f"{text!r} is not a decimal number with at most four decimals"
        try:
            value = Decimal(text)
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
            return None, f"{text!r} is not a decimal number"
    else:
        return text, None
    if spec.min is not None and value < spec.min:
        return None, f"must be at least {spec.min}, got {text}"
    return value, None


def read_knowledge(
    name: str, table: KnowledgeTable, folder: Path, declared_at: Location
) -> tuple[Knowledge | None, list[Problem]]:
    """The table ``name`` of a pack in ``folder``, checked; or the problems found."""
    path = folder / table.file
    shown = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        message = f"knowledge table {name!r}: cannot read {shown}: {exc.strerror}"
        return None, [Problem("audit.knowledge.file", message, declared_at)]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [
            Problem("audit.knowledge.encoding", "the file is not UTF-8", Location(shown, line))
        ]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    problems: list[Problem] = []
    try:
        header = next(reader, None)
    except csv.Error as exc:
        return None, [Problem("audit.knowledge.csv", str(exc), Location(shown, 1))]
    if not header:
        return None, [
            Problem("audit.knowledge.header", "the file has no header row", Location(shown, 1))
        ]
    declared = list(table.columns)
    for col in header:
        if col not in table.columns:
            close = difflib.get_close_matches(col, declared, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                Problem(
                    "audit.knowledge.column",
                    f"column {col!r} is not declared for knowledge table {name!r}{hint}",
                    Location(shown, 1, None, col),
                )
            )
    for col in declared:
        if header.count(col) > 1:
            problems.append(
                Problem(
                    "audit.knowledge.column",
                    f"column {col!r} is given twice",
                    Location(shown, 1, None, col),
                )
            )
        if col not in header:
            problems.append(
                Problem(
                    "audit.knowledge.column",
                    f"the header has no column {col!r} (declared in the pack)",
                    Location(shown, 1, None, col),
                )
            )
    if problems:
        return None, problems
    index = {col: header.index(col) for col in declared}
    rows: list[tuple[Any, ...]] = []
    seen: dict[tuple[Any, ...], int] = {}
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(
                Problem("audit.knowledge.csv", str(exc), Location(shown, reader.line_num))
            )
            break
        line = reader.line_num
        if not cells:
            problems.append(Problem("audit.knowledge.blank", "a blank line", Location(shown, line)))
            continue
        if len(cells) != len(header):
            problems.append(
                Problem(
                    "audit.knowledge.cells",
                    f"{len(cells)} cells, the header names {len(header)}",
                    Location(shown, line),
                )
            )
            continue
        values: list[Any] = []
        for col in declared:
            spec = table.columns[col]
            text = cells[index[col]]
            if text == "":
                if spec.required:
                    problems.append(
                        Problem(
                            "audit.knowledge.missing",
                            "empty: this column is required",
                            Location(shown, line, None, col),
                        )
                    )
                values.append(None)
                continue
            value, why = _cell(text, spec)
            if why is not None:
                problems.append(
                    Problem("audit.knowledge.value", why, Location(shown, line, None, col))
                )
            values.append(value)
        key = tuple(values[declared.index(k)] for k in table.key)
        if key in seen and None not in key:
            shown_key = ", ".join(f"{k}={v}" for k, v in zip(table.key, key, strict=True))
            problems.append(
                Problem(
                    "audit.knowledge.duplicate",
                    f"duplicate key {shown_key} (first on line {seen[key]})",
                    Location(shown, line, None, table.key[0]),
                )
            )
        seen.setdefault(key, line)
        rows.append(tuple(values))
    if not rows and not problems:
        problems.append(
            Problem(
                "audit.knowledge.empty",
                f"knowledge table {name!r} has no rows: a rule reading it could never "
                "find anything",
                Location(shown, line),
            )
        )
    if problems:
        return None, problems
    types = tuple(table.columns[c].type for c in declared)
    return Knowledge(name, shown, tuple(declared), types, tuple(rows), raw), []
