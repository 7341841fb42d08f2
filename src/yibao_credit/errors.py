"""Errors that say exactly what is wrong and where.

Every error a user can cause carries a location: the file, the line (1-based), the column where
known, and the path inside the document (``facts.violations.where``) or the record field. The
CLI prints them one per line as ``file:line:col: path: message`` so editors can jump to them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Location:
    """Where a problem is: a file, a line and column (1-based), and a path inside it."""

    file: str | None = None
    line: int | None = None
    column: int | None = None
    path: str | None = None

    def __str__(self) -> str:
        parts = [self.file or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        head = ":".join(parts)
        return f"{head}: {self.path}" if self.path else head


@dataclass(frozen=True, slots=True)
class Problem:
    """One error or warning, with its location and a stable code for documentation."""

    code: str
    message: str
    location: Location = Location()

    def __str__(self) -> str:
        if self.location == Location():
            return f"{self.message} [{self.code}]"
        return f"{self.location}: {self.message} [{self.code}]"

    def to_dict(self) -> dict[str, object]:
        loc = self.location
        return {
            "code": self.code,
            "message": self.message,
            "file": loc.file,
            "line": loc.line,
            "column": loc.column,
            "path": loc.path,
        }


class YibaoError(Exception):
    """Base of the library's errors; carries one or more located problems."""

    def __init__(self, problems: list[Problem] | Problem) -> None:
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class PackError(YibaoError):
    """A policy pack (or its test file) is not valid: caught at load time, before any run."""


class RecordError(YibaoError):
    """Input records (subjects, events, history) do not fit the data contract or the pack."""


class EvaluationError(YibaoError):
    """A rule failed on a particular subject; names the subject, the step and the clause."""


class CalendarError(YibaoError):
    """A date falls in a year whose official holiday arrangement is not known."""
