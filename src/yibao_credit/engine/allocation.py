"""Share a pooled fund out by result, to the fen: Jiangsu's quality-deposit allocation.

苏医保办发〔2023〕26号 四: the quality deposits every institution had withheld are pooled and the
whole pool is distributed according to the evaluation result. Money is exact: amounts are
integer fen, each share is computed as an exact fraction, rounded down, and the fen left over
go one each to the largest remainders (ties to the smaller subject id), so the allocations add
up to the pool exactly and each is within one fen of its exact share. Bad input — a negative
deposit, a subject with no deposit row, a weight that is not a finite non-negative number — is
an error, never a skewed allocation.

四 also says when: 公示无异议后, once the results are final. A pack says so with
``allocation.requires_final``. Given procedure records (a run with a lifecycle), a result
whose lifecycle is not ``final`` — not yet notified, its objection window still open, an
objection not yet decided — stops the allocation (``eval.allocation-not-final``), or, with
``exclude_pending``, is left out with its deposit and reported (``eval.allocation-pending``):
the pool is then the final results' deposits only. Without procedure records finality cannot
be known: the allocation is made as a draft, with the warning ``eval.allocation-unchecked``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from yibao_credit.compile.plan import CompiledAllocation
from yibao_credit.engine.program import program_for
from yibao_credit.engine.results import Result, Run
from yibao_credit.errors import EvaluationError, Location, Problem, RecordError
from yibao_credit.pack.schema import Text
from yibao_credit.records.contract import MAX_PROBLEMS
from yibao_credit.records.deposits import Deposits


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
class Pending:
    """A subject left out of the pool because its result is not final yet."""

    subject_id: str
    stage: str
    """Its lifecycle stage: ``pre_evaluation``, ``notified`` or ``under_review``."""
    deposit: int

    def to_dict(self) -> dict[str, Any]:
        return {"subject_id": self.subject_id, "stage": self.stage, "deposit": self.deposit}


@dataclass(frozen=True)
class AllocationResult:
    pool: int
    shares: tuple[Share, ...]
    clause: str | None
    provisional: Text | None
    """Why the weight formula is provisional, in both languages (``Text.get``)."""
    pending: tuple[Pending, ...] = ()
    """Subjects left out because their result is not final (``exclude_pending``)."""
    warnings: tuple[Problem, ...] = ()
    """``eval.allocation-pending``, ``eval.allocation-unchecked``."""

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


def allocate(run: Run, deposits: Deposits, *, exclude_pending: bool = False) -> AllocationResult:
    """Pool the deposits of every subject whose ruleset allocates, and share the pool out.

    ``exclude_pending``: leave out (with their deposits) the subjects whose result is not
    final, instead of refusing; it needs a run with procedure records."""
    context = run.context
    if not any(rs.allocation is not None for rs in context.plan.rulesets.values()):
        raise EvaluationError(
            Problem("eval.no-allocation", "no ruleset of this pack defines an allocation")
        )
    if exclude_pending and context.procedures is None:
        raise EvaluationError(
            Problem(
                "eval.allocation-not-final",
                "leaving out the results that are not final needs the procedure records "
                "(--procedures, and --on for the day they are judged on)",
            )
        )
    weigh = _Weigher(run)
    problems: list[Problem] = []
    weights: dict[str, Fraction] = {}
    chosen: list[Result] = []
    pending: list[Result] = []
    unchecked: list[Result] = []
    spec = None
    not_allocated: list[str] = []
    for r in run:
        alloc = r.ruleset.allocation
        if alloc is None:
            if r.subject.id in deposits.amounts:
                not_allocated.append(r.subject.id)
            continue
        spec = alloc.step
        if alloc.requires_final is not None or exclude_pending:
            if r.lifecycle is None:
                unchecked.append(r)
            elif not r.lifecycle.is_final:
                if r.subject.id not in deposits.amounts:
                    problems.append(_missing(r.subject.id, deposits))
                elif exclude_pending:
                    pending.append(r)
                else:
                    problems.append(_not_final(r, context.on, deposits))
                continue
        weight = _weight(r, alloc, deposits, weigh, problems)
        if weight is not None:
            weights[r.subject.id] = weight
            chosen.append(r)
    problems += _deposit_problems(run, deposits, not_allocated)
    if problems:
        # Problems with the deposits file are record errors; a pool that may not be shared
        # yet (results not final, an excluded subject the pack refuses) is an evaluation one.
        error = (
            EvaluationError if all(p.code.startswith("eval.") for p in problems) else RecordError
        )
        raise error(problems[:MAX_PROBLEMS])
    left_out = tuple(
        Pending(
            r.subject.id, r.lifecycle.stage if r.lifecycle else "?", deposits.amounts[r.subject.id]
        )
        for r in pending
    )
    warnings = _finality_warnings(unchecked, left_out)
    if spec is None:  # an allocating ruleset graded nobody
        return AllocationResult(0, (), None, None)
    if not chosen:  # every result is still pending: nothing to share yet
        return AllocationResult(0, (), spec.clause, spec.provisional, left_out, warnings)
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
    result = AllocationResult(pool, shares, spec.clause, spec.provisional, left_out, warnings)
    assert result.allocated == pool
    return result


def _missing(sid: str, deposits: Deposits) -> Problem:
    return Problem(
        "record.deposit.missing",
        f"no deposit row for {sid!r}: write 0 if nothing was withheld",
        Location(deposits.file),
    )


_STAGE_WHY = {
    "pre_evaluation": "not yet notified: no notification record",
    "notified": "the objection window is open",
    "under_review": "an objection is not yet decided",
}


def _not_final(r: Result, on: Any, deposits: Deposits) -> Problem:
    """A result that is not final, where 四 shares the pool only once results are final."""
    life = r.lifecycle
    assert life is not None
    why = _STAGE_WHY.get(life.stage, life.stage)
    if life.stage == "notified":
        due = next((d.due for d in life.deadlines if d.procedure.trigger == "notification"), None)
        if due is not None:
            why += f" until {due.isoformat()}"
        if on is None:
            why += " (without --on no window is taken as closed)"
    elif life.stage == "under_review" and life.objection is not None:
        why = f"the objection of {life.objection.date.isoformat()} is not yet decided"
    return Problem(
        "eval.allocation-not-final",
        f"{r.subject.id!r}: its result is not final ({life.stage}: {why}); the pack shares "
        "the pool only among final results (allocation.requires_final); leave it out with "
        "--exclude-pending",
        Location(deposits.file, deposits.lines.get(r.subject.id), None, "subject_id"),
    )


def _finality_warnings(
    unchecked: list[Result], left_out: tuple[Pending, ...]
) -> tuple[Problem, ...]:
    out: list[Problem] = []
    if unchecked:
        spec = unchecked[0].ruleset.allocation
        clause = spec.requires_final.clause if spec and spec.requires_final else None
        out.append(
            Problem(
                "eval.allocation-unchecked",
                f"the pack shares the pool only among final results ({clause or 'requires_final'}"
                "), but no procedure records were given (--procedures): whether each result is "
                f"final was not checked for {len(unchecked)} subject(s); this allocation is a "
                "draft",
            )
        )
    if left_out:
        held = sum(p.deposit for p in left_out)
        listed = ", ".join(f"{p.subject_id} ({p.stage})" for p in left_out[:20])
        more = f" and {len(left_out) - 20} more" if len(left_out) > 20 else ""
        out.append(
            Problem(
                "eval.allocation-pending",
                f"{len(left_out)} subject(s) left out, their result not final: {listed}{more}; "
                f"their deposits ({held} fen) are not in this pool, so it is not the whole "
                "pool shared among all results, which needs every result final",
            )
        )
    return tuple(out)


class _Weigher:
    """Each ruleset's weight function with the run's date and parameters bound, made once.

    Exact arithmetic: deposits, scores and decimal parameters enter the weight as fractions.
    """

    def __init__(self, run: Run) -> None:
        self.context = run.context
        self.params = {n: _exact(p.value) for n, p in run.context.params.items()}
        self.made: dict[str, Any] = {}

    def __call__(self, r: Result, deposit: int) -> Any:
        fn = self.made.get(r.ruleset.id)
        if fn is None:
            weight_of = program_for(self.context.plan).rulesets[r.ruleset.id].allocation
            assert weight_of is not None
            fn = self.made[r.ruleset.id] = weight_of(self.context.as_of, self.params)
        try:
            return fn(r.subject, Fraction(deposit), _exact(r.score), r.grade, r.status)
        except Exception as exc:  # a pack's arithmetic: division by zero and the like
            return exc


def _weight(
    r: Result,
    alloc: CompiledAllocation,
    deposits: Deposits,
    weigh: _Weigher,
    problems: list[Problem],
) -> Fraction | None:
    """A result's weight in the pool; None (with the problem recorded) when it has none."""
    sid = r.subject.id
    deposit = deposits.amounts.get(sid)
    if deposit is None:
        problems.append(_missing(sid, deposits))
        return None
    if r.status != "graded" and alloc.excluded == "error":
        problems.append(
            Problem(
                "eval.allocation-excluded",
                f"{sid!r} is excluded ({r.exclusion}) and the pack allows "
                "no allocation for an excluded subject",
                Location(deposits.file, deposits.lines.get(sid)),
            )
        )
        return None
    weight: Any = 0 if r.status != "graded" else weigh(r, deposit)
    problem = _weight_problem(weight)
    if problem is not None:
        problems.append(
            Problem(
                "eval.allocation-weight",
                f"{sid!r}: {problem}",
                Location(deposits.file, deposits.lines.get(sid)),
            )
        )
        return None
    exact: Fraction = _exact(weight)
    return exact


def _deposit_problems(run: Run, deposits: Deposits, not_allocated: list[str]) -> list[Problem]:
    """Deposits that would be left out of the pool: for a subject whose ruleset allocates
    nothing, or for a subject with no result in the run."""
    problems = [
        Problem(
            "record.deposit.not-allocated",
            f"a deposit for {sid!r}, whose ruleset allocates nothing: it would be left out "
            "of the pool",
            Location(deposits.file, deposits.lines.get(sid), None, "subject_id"),
        )
        for sid in not_allocated
    ]
    graded_ids = {r.subject.id for r in run}
    problems += [
        Problem(
            "record.deposit.unknown-subject",
            f"a deposit for {sid!r}, which has no result in this run",
            Location(deposits.file, deposits.lines.get(sid), None, "subject_id"),
        )
        for sid in sorted(set(deposits.amounts) - graded_ids)
    ]
    return problems


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
