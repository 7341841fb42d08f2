"""Roll-ups, after every member is graded: each head is capped by how many of its members
count (joined on the head field). A cap never improves a grade, and an excluded head is
left as it is."""

from __future__ import annotations

from collections import defaultdict

from yibao_credit.engine.context import RunContext
from yibao_credit.engine.program import PythonProgram
from yibao_credit.engine.results import Result, RollupOutcome
from yibao_credit.errors import EvaluationError, Location, Problem


def roll_up(
    program: PythonProgram, results: list[Result], warnings: list[Problem], context: RunContext
) -> None:
    """Apply each ruleset's roll-ups once all members are graded; a cap never improves."""
    by_id = {r.subject.id: r for r in results}
    for prog in program.rulesets.values():
        rs = prog.rules
        for rollup in rs.rollups:
            params = {name: p.value for name, p in context.params.items()}
            members_of = prog.rollup_members[rollup.step](context.as_of, params)
            counts = prog.rollup_counts[rollup.step](context.as_of, params)
            counted: dict[str, list[str]] = defaultdict(list)
            heads: set[str] = set()
            for r in results:
                s = r.subject
                head = s.attr(rollup.head)
                try:
                    if head is None or not members_of(s):
                        continue
                    heads.add(head)
                    if counts(s, r.grade, r.status, r.exclusion):
                        counted[head].append(s.id)
                except Exception as exc:
                    raise EvaluationError(
                        Problem(
                            "eval.step-failed",
                            f"subject {s.id!r}: roll-up {rollup.id!r} failed on this member: "
                            f"{type(exc).__name__}: {exc}",
                        )
                    ) from exc
            for head_id in sorted(heads):
                head_result = by_id.get(head_id)
                if head_result is None:
                    warnings.append(
                        Problem(
                            "eval.rollup-head-missing",
                            f"roll-up {rollup.id!r}: head {head_id!r} has members but no result "
                            "(not graded by this pack)",
                            Location(None),
                        )
                    )
                    continue
                if head_result.ruleset is not rs:
                    warnings.append(
                        Problem(
                            "eval.rollup-head-elsewhere",
                            f"roll-up {rollup.id!r}: head {head_id!r} is graded by ruleset "
                            f"{head_result.ruleset.id!r}, not {rs.id!r}; no cap applied",
                        )
                    )
                    continue
                ids = tuple(counted.get(head_id, ()))
                band = next((b for b in rollup.caps if b.interval.contains(len(ids))), None)
                before = head_result.grade
                if head_result.status != "graded":
                    outcome = RollupOutcome(
                        rollup, ids, band, before, before, False, "head excluded"
                    )
                elif band is None:
                    outcome = RollupOutcome(rollup, ids, None, before, before, False, "no cap")
                else:
                    assert before is not None
                    worse = before if rs.rank[before] >= rs.rank[band.cap] else band.cap
                    reason = "capped" if worse != before else "already at or below cap"
                    outcome = RollupOutcome(
                        rollup, ids, band, before, worse, worse != before, reason
                    )
                    head_result.grade = worse
                head_result.rollups = (*head_result.rollups, outcome)
