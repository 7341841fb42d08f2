"""Share a pooled fund out by result, to the fen: Jiangsu's quality-deposit allocation.

苏医保办发〔2023〕26号 四: the quality deposits every institution had withheld are pooled and the
whole pool is distributed according to the evaluation result. Money is exact: amounts are
integer fen, each share is computed as an exact fraction, rounded down, and the fen left over
go one each to the largest remainders (ties to the smaller subject id), so the allocations add
up to the pool exactly and each is within one fen of its exact share. Bad input — a negative
deposit, a subject with no deposit row, a weight that is not a finite non-negative number — is
an error, never a skewed allocation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .engine import Result, Run
from .errors import EvaluationError, Location, Problem, RecordError
from .records import MAX_PROBLEMS, _read_rows


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


def read_deposits(path: str | Path) -> Deposits:
    """Deposits file (.jsonl or .csv): ``subject_id``, ``deposit`` (integer fen, ≥ 0)."""
    rows, lines, problems = _read_rows(Path(path), _Keyed, "deposit")
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


@dataclass(frozen=True)
class Share:
    """One subject's part of the pool, with how it was reached."""

    subject_id: str
    deposit: int
    status: str
    grade: str | None
    score: float | None
    weight: Fraction
    exact: Fraction
    allocated: int
    extra_fen: bool
    """Whether this subject got one of the fen left over after rounding down."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject_id": self.subject_id,
            "deposit": self.deposit,
            "status": self.status,
            "grade": self.grade,
            "score": self.score,
            "weight": str(self.weight),
            "exact_share": str(self.exact),
            "allocated": self.allocated,
            "extra_fen": self.extra_fen,
        }


@dataclass(frozen=True)
class AllocationResult:
    pool: int
    shares: tuple[Share, ...]
    clause: str | None
    provisional: str | None

    @property
    def allocated(self) -> int:
        return sum(s.allocated for s in self.shares)


def largest_remainder(
    pool: int, weights: Mapping[str, Fraction]
) -> dict[str, tuple[Fraction, int, bool]]:
    """Split ``pool`` fen in proportion to ``weights``: exact share, fen allocated, and
    whether the subject received a left-over fen. The fen always add up to the pool."""
    if pool < 0 or any(w < 0 for w in weights.values()):
        raise ValueError("the pool and every weight must be ≥ 0")
    total = sum(weights.values(), Fraction(0))
    if pool == 0 and weights:
        return {k: (Fraction(0), 0, False) for k in weights}
    if total <= 0:
        raise ValueError("the weights add up to nothing: there is no basis to share the pool")
    exact = {k: pool * w / total for k, w in weights.items()}
    floor = {k: math.floor(v) for k, v in exact.items()}
    left = pool - sum(floor.values())
    order = sorted(exact, key=lambda k: (-(exact[k] - floor[k]), k))
    lucky = set(order[:left])
    return {k: (exact[k], floor[k] + (1 if k in lucky else 0), k in lucky) for k in exact}


def allocate(run: Run, deposits: Deposits) -> AllocationResult:
    """Pool the deposits of every subject whose ruleset allocates, and share the pool out."""
    context = run.context
    # Exact arithmetic: deposits, scores and decimal parameters enter the weight as fractions.
    params = {n: _exact(p.value) for n, p in context.params.items()}
    problems: list[Problem] = []
    weights: dict[str, Fraction] = {}
    chosen: list[Result] = []
    made: dict[int, Any] = {}
    spec = None
    if not any(rs.allocation is not None for rs in context.policy.rulesets.values()):
        raise EvaluationError(
            Problem("eval.no-allocation", "no ruleset of this pack defines an allocation")
        )
    not_allocated: list[str] = []
    for r in run:
        alloc = r.ruleset.allocation
        if alloc is None:
            if r.subject.id in deposits.amounts:
                not_allocated.append(r.subject.id)
            continue
        spec = alloc.step
        sid = r.subject.id
        deposit = deposits.amounts.get(sid)
        if deposit is None:
            problems.append(
                Problem(
                    "record.deposit.missing",
                    f"no deposit row for {sid!r}: write 0 if nothing was withheld",
                    Location(deposits.file),
                )
            )
            continue
        if r.status != "graded" and alloc.excluded == "error":
            problems.append(
                Problem(
                    "eval.allocation-excluded",
                    f"{sid!r} is excluded ({r.exclusion}) and the pack allows "
                    "no allocation for an excluded subject",
                    Location(deposits.file, deposits.lines.get(sid)),
                )
            )
            continue
        if r.status != "graded":
            weight: Any = 0
        else:
            fn = made.get(id(alloc))
            if fn is None:
                fn = made[id(alloc)] = alloc.weight(context.as_of, params)
            try:
                weight = fn(r.subject, Fraction(deposit), _exact(r.score), r.grade, r.status)
            except Exception as exc:  # a pack's arithmetic: division by zero and the like
                weight = exc
        problem = _weight_problem(weight)
        if problem is not None:
            problems.append(
                Problem(
                    "eval.allocation-weight",
                    f"{sid!r}: {problem}",
                    Location(deposits.file, deposits.lines.get(sid)),
                )
            )
            continue
        weights[sid] = _exact(weight)
        chosen.append(r)
    for sid in not_allocated:
        problems.append(
            Problem(
                "record.deposit.not-allocated",
                f"a deposit for {sid!r}, whose ruleset allocates nothing: it would be left out "
                "of the pool",
                Location(deposits.file, deposits.lines.get(sid), None, "subject_id"),
            )
        )
    graded_ids = {r.subject.id for r in run}
    for sid in sorted(set(deposits.amounts) - graded_ids):
        problems.append(
            Problem(
                "record.deposit.unknown-subject",
                f"a deposit for {sid!r}, which has no result in this run",
                Location(deposits.file, deposits.lines.get(sid), None, "subject_id"),
            )
        )
    if problems:
        raise RecordError(problems[:MAX_PROBLEMS])
    if spec is None:  # an allocating ruleset graded nobody
        return AllocationResult(0, (), None, None)
    pool = sum(deposits.amounts[r.subject.id] for r in chosen)
    try:
        split = largest_remainder(pool, weights)
    except ValueError as exc:
        raise EvaluationError(Problem("eval.allocation-weight", str(exc))) from None
    shares = tuple(
        Share(
            r.subject.id,
            deposits.amounts[r.subject.id],
            r.status,
            r.grade,
            r.score,
            weights[r.subject.id],
            *split[r.subject.id],
        )
        for r in sorted(chosen, key=lambda r: r.subject.id)
    )
    result = AllocationResult(pool, shares, spec.clause, spec.provisional)
    assert result.allocated == pool
    return result


def _weight_problem(weight: Any) -> str | None:
    """What is wrong with a computed weight (or the exception computing it raised)."""
    if isinstance(weight, Exception):
        return f"the weight could not be computed: {type(weight).__name__}: {weight}"
    if (
        not isinstance(weight, (int, float, Fraction))
        or isinstance(weight, bool)
        or (isinstance(weight, float) and not math.isfinite(weight))
        or weight < 0
    ):
        return f"the weight must be a finite number ≥ 0, got {weight}"
    return None


def _exact(value: Any) -> Any:
    """A float as the decimal it prints as (64.4 → 322/5); an int as a fraction; else as is."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return Fraction(repr(value))
    if isinstance(value, int):
        return Fraction(value)
    return value
