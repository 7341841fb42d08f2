"""Deposits withheld from each institution (quality deposits, 质量保证金), the input of an
allocation: integer fen, written as digits, one row per subject, each problem located."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from yibao_credit.errors import Location, Problem, RecordError
from yibao_credit.records.contract import MAX_PROBLEMS
from yibao_credit.records.readers import UTF8, read_rows, validation_problems


class DepositRecord(BaseModel):
    """One subject's withheld deposit, in fen (分)."""

    model_config = ConfigDict(extra="forbid")

    id: str = ""
    subject_id: str
    deposit: int = Field(ge=0)

    @field_validator("deposit", mode="before")
    @classmethod
    def _whole_fen(cls, value: Any) -> Any:
        """Fen are written as digits: not true/false, not 12.0 or 1e3, not '+5' or '1_000'."""
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise ValueError(f"must be a whole number of fen written as digits, got {value!r}")
        if isinstance(value, str) and not _DIGITS.fullmatch(value.strip()):
            raise ValueError(f"must be a whole number of fen written as digits, got {value!r}")
        if int(value) < 0:
            raise ValueError(f"a withheld deposit cannot be negative, got {value!r}")
        return value


_DIGITS = re.compile(r"-?[0-9]+")


@dataclass
class Deposits:
    amounts: dict[str, int]
    lines: dict[str, int]
    file: str


def read_deposits(path: str | Path, *, encoding: str = UTF8) -> Deposits:
    """Deposits file (.jsonl or .csv): ``subject_id``, ``deposit`` (integer fen, ≥ 0).
    ``encoding``: the file's text encoding (UTF-8 by default, as for ``read_subjects``)."""
    rows, lines, problems = read_rows(Path(path), _Keyed, "deposit", encoding=encoding)
    if problems:
        raise RecordError(problems[:MAX_PROBLEMS])
    return Deposits(
        {r.subject_id: r.deposit for r in rows},
        {rid: line for (_, rid), line in lines.items()},
        str(path),
    )


class _Keyed(DepositRecord):
    """A deposit row keyed by its subject, so a second row for a subject is a duplicate."""

    def model_post_init(self, context: Any, /) -> None:
        object.__setattr__(self, "id", self.subject_id)


def deposits_from_python(amounts: Mapping[str, int]) -> Deposits:
    problems = [
        Problem(
            "record.deposit",
            f"deposit of {sid!r} must be a whole number of fen ≥ 0, got {v!r}",
            Location("<python>[deposits]"),
        )
        for sid, v in amounts.items()
        if not isinstance(v, int) or isinstance(v, bool) or v < 0
    ]
    if problems:
        raise RecordError(problems)
    return Deposits(dict(amounts), {}, "<python>[deposits]")


def deposit_rows_from_python(
    rows: Iterable[Mapping[str, Any]], source: str = "<python>"
) -> Deposits:
    """Deposit rows as a file holds them (``subject_id``, ``deposit``), given as dicts (a
    service request's): checked as a file's rows are, the position (1-based) for the line."""
    label = f"{source}[deposits]"
    amounts: dict[str, int] = {}
    lines: dict[str, int] = {}
    problems: list[Problem] = []
    for index, raw in enumerate(rows, 1):
        try:
            row = _Keyed.model_validate(raw)
        except ValidationError as exc:
            problems.extend(validation_problems(exc, label, index, "record.deposit"))
            continue
        if row.subject_id in lines:
            problems.append(
                Problem(
                    "record.deposit.duplicate-id",
                    f"duplicate id {row.subject_id!r} (first at {lines[row.subject_id]})",
                    Location(label, index, None, "subject_id"),
                )
            )
            continue
        amounts[row.subject_id] = int(row.deposit)
        lines[row.subject_id] = index
    if problems:
        raise RecordError(problems[:MAX_PROBLEMS])
    return Deposits(amounts, lines, label)
