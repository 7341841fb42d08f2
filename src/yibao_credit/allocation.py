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
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .engine import Result, Run
from .errors import EvaluationError, Location, Problem, RecordError
from .records import MAX_PROBLEMS, _read_rows


class DepositRecord(BaseModel):
    """One subject's withheld deposit, in fen (分)."""

    model_config = ConfigDict(extra="forbid")

    id: str = ""
    subject_id: str
    deposit: int = Field(ge=0)


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
    total = sum(weights.values(), Fraction(0))
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
    params = {n: p.value for n, p in context.params.items()}
    problems: list[Problem] = []
    weights: dict[str, Fraction] = {}
    chosen: list[Result] = []
    made: dict[int, Any] = {}
    spec = None
    for r in run:
        alloc = r.ruleset.allocation
        if alloc is None:
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
            weight = fn(r.subject, deposit, r.score, r.grade, r.status)
        if (
            not isinstance(weight, (int, float))
            or isinstance(weight, bool)
            or not math.isfinite(weight)
            or weight < 0
        ):
            problems.append(
                Problem(
                    "eval.allocation-weight",
                    f"{sid!r}: the weight must be a finite number ≥ 0, got {weight!r}",
                    Location(deposits.file, deposits.lines.get(sid)),
                )
            )
            continue
        weights[sid] = (
            Fraction(repr(float(weight))) if isinstance(weight, float) else Fraction(weight)
        )
        chosen.append(r)
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
    if spec is None:
        raise EvaluationError(
            Problem("eval.no-allocation", "no ruleset of this pack defines an allocation")
        )
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
