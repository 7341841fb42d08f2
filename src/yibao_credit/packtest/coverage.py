"""Clause coverage: which clauses a pack cites, and which of them its test cases reach.

A pack encodes a published text clause by clause (design.md, principle 2); its worked
examples (``*.tests.yaml``) are how a reviewer checks the encoding. ``yibao-credit test PACK
--coverage`` lists every clause the pack cites and whether any case reaches a step citing it.

What the pack cites: every ``clause`` of its compiled plan — each trace step's ``StepSpec``
(windows, facts, exclusions, criteria, grade rules and the default, score items, categories,
the total, vetoes, bands, groups, history facts, roll-ups and their caps, measures,
procedures and their lifecycle steps, validity, repair, review, allocation), the lapse of
earlier results, and each dated value of a parameter. Citations are grouped by the clause as
the trace prints it (``镇医保〔2024〕82号 三(一)1(1)``). Steps that cite no clause (provisional
only) are counted apart: there is no clause to cover.

What a case reaches — the reading taken here — is a step that appears in the **full trace of a
result the case expects** (a subject named under ``expect``): the rule was evaluated for a
subject whose result the case checks, whatever its outcome (a criterion found false pins the
reading as much as one found true). Results of subjects the case does not name under
``expect`` are not counted: nothing checks them. A measure is reached when such a result lists
it (or its condition appears in the trace); the lapse of earlier results when one of the
result's earlier cycles lapsed; a dated parameter value when it was in force on the case's
``as_of`` (and not replaced by the subject's evaluation group) and a reached step read the
parameter. Each clause also counts the cases in which a step citing it **decided** a result
(``decisive`` in the trace): a stronger measure, reported beside the first, never required.
Steps no case can reach (an allocation's weight is read only by ``allocate``) stay uncovered:
the report says what is not tested, not what could be.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from yibao_credit.compile.plan import CompiledRuleset, StepSpec
from yibao_credit.engine.results import Result
from yibao_credit.pack.schema import ClauseRef, ParamValue
from yibao_credit.packtest.cases import CaseOutcome, LoadedTests
from yibao_credit.policy import Policy
from yibao_credit.render.trace import iter_steps


@dataclass(frozen=True)
class Citation:
    """One element of the pack citing a clause: a step of the plan, a history lapse, or one
    dated value of a parameter."""

    clause: str
    kind: str
    """``article`` or ``subject`` (a clause cited by subject, pack-format.md §3.2)."""
    label: str
    """How the report names it: ``fact.violations``, ``inpatient/fact.x`` in a pack of several
    rulesets, ``parameters.weight (from 2024-01-01)``."""


@dataclass
class ClauseCoverage:
    """One clause: what cites it, how many cases reach it and in how many it decided."""

    clause: str
    kind: str
    cited_by: list[str] = field(default_factory=list)
    cases: int = 0
    decisive: int = 0

    @property
    def covered(self) -> bool:
        return self.cases > 0


@dataclass
class Coverage:
    """The clause coverage of one pack by its test cases."""

    policy: Policy
    tests: list[str]
    """The tests files whose cases ran against the pack."""
    cases: int
    passed: int
    clauses: list[ClauseCoverage]
    uncited: int
    """Steps that cite no clause (provisional only): not counted."""

    @property
    def covered(self) -> int:
        return sum(1 for c in self.clauses if c.covered)

    @property
    def total(self) -> int:
        return len(self.clauses)

    @property
    def ratio(self) -> Fraction | None:
        """Covered clauses over cited clauses, exact; None when the pack cites no clause."""
        return Fraction(self.covered, self.total) if self.total else None

    def percent(self) -> Decimal | None:
        """The percentage rounded **down** to two decimals, so that a number shown is never
        more than the coverage (``--fail-under`` compares the exact ratio)."""
        ratio = self.ratio
        if ratio is None:
            return None
        hundredths = math.floor(ratio * 10000)
        return Decimal(hundredths).scaleb(-2)

    def meets(self, threshold: Decimal) -> bool:
        """Whether the coverage is at least ``threshold`` percent, compared exactly (2 of 3
        clauses is 66.666…%: it meets 66.66 and not 66.67). A pack that cites no clause has
        nothing covered: it meets only 0."""
        ratio = self.ratio
        wanted = Fraction(threshold) / 100
        if ratio is None:
            return wanted == 0
        return ratio >= wanted


def _cite(policy: Policy, clause: str | ClauseRef) -> tuple[str, str]:
    """A parameter value's clause as the trace prints a step's (``CompileContext.cite``)."""
    sources = {s.id: s for s in policy.model.pack.sources}
    if isinstance(clause, ClauseRef):
        source = sources.get(clause.source)
        return (f"{source.number} {clause.ref}" if source else clause.ref), clause.kind
    return f"{policy.model.pack.sources[0].number} {clause}", "article"


def _walk(node: Any, label: str | None, out: dict[int, tuple[StepSpec, str | None]]) -> None:
    """Every StepSpec reachable from a plan node (dataclasses, tuples, mappings), once."""
    seen: set[int] = set()

    def visit(n: Any) -> None:
        if isinstance(n, StepSpec):
            out.setdefault(id(n), (n, label))
            return
        if id(n) in seen:
            return
        if dataclasses.is_dataclass(n) and not isinstance(n, type):
            seen.add(id(n))
            for f in dataclasses.fields(n):
                visit(getattr(n, f.name))
        elif isinstance(n, Mapping):
            seen.add(id(n))
            for v in n.values():
                visit(v)
        elif isinstance(n, tuple | list | frozenset | set):
            seen.add(id(n))
            for v in n:
                visit(v)

    visit(node)


class _Index:
    """The plan's citations, keyed so that what a run shows can be looked up: each step by
    identity, each ruleset's lapse, each dated parameter value."""

    def __init__(self, policy: Policy) -> None:
        plan = policy.plan
        several = len(plan.rulesets) > 1
        specs: dict[int, tuple[StepSpec, str | None]] = {}
        for rid, rs in plan.rulesets.items():
            _walk(rs, rid if several else None, specs)
        _walk(plan, None, specs)  # procedures, validity, review…: steps of no one ruleset
        self.steps: dict[int, Citation] = {}
        self.uncited = 0
        for spec, owner in specs.values():
            if spec.clause is None:
                self.uncited += 1
                continue
            label = f"{owner}/{spec.id}" if owner else spec.id
            self.steps[id(spec)] = Citation(spec.clause, spec.clause_kind, label)
        self.lapses: dict[int, Citation] = {}
        for rid, rs in plan.rulesets.items():
            lapse = rs.history_lapse
            if lapse is not None and lapse.clause is not None:
                label = f"{rid}/history.lapse" if several else "history.lapse"
                self.lapses[id(rs)] = Citation(lapse.clause, "article", label)
        self.values: dict[int, Citation] = {}
        """Each dated parameter value with a clause, by the identity of its ``ParamValue``."""
        for name, param in plan.parameters.items():
            for since, entry in sorted(param.values.items()):
                if entry.clause is not None:
                    clause, kind = _cite(policy, entry.clause)
                    label = f"parameters.{name} (from {since})"
                    self.values[id(entry)] = Citation(clause, kind, label)
        self.order: list[Citation] = [
            *self.steps.values(),
            *self.lapses.values(),
            *self.values.values(),
        ]


def _reached(result: Result, index: _Index) -> tuple[set[Citation], set[Citation]]:
    """The citations one result reaches, and those among them that decided it."""
    reached: set[Citation] = set()
    decided: set[Citation] = set()
    reads: set[str] = set()
    rs: CompiledRuleset = result.ruleset
    windows = {id(spec): name for name, spec in rs.window_steps.items()}
    plan = result.context.plan
    for spec, _outcome, _inputs, _evidence, decisive in iter_steps(result, "full"):
        reads.update(spec.reads)
        window = windows.get(id(spec))
        if window is not None and plan.windows[window].length in plan.parameters:
            reads.add(str(plan.windows[window].length))
        cited = index.steps.get(id(spec))
        if cited is not None:
            reached.add(cited)
            if decisive:
                decided.add(cited)
    for measure in result.measures:
        cited = index.steps.get(id(measure.step))
        if cited is not None:
            reached.add(cited)
    lapse = index.lapses.get(id(rs))
    if lapse is not None and result.history_cycles:
        if any(c.status == "lapsed" for cs in result.history_cycles.values() for c in cs):
            reached.add(lapse)
    group = next((g for g in rs.groups if g.id == result.group), None)
    for name in reads:
        in_force = result.context.params.get(name)
        if in_force is None or (group is not None and name in group.params):
            continue
        entry: ParamValue = in_force.entry
        cited = index.values.get(id(entry))
        if cited is not None:
            reached.add(cited)
    return reached, decided


def measure(policy: Policy, runs: Sequence[tuple[LoadedTests, Sequence[CaseOutcome]]]) -> Coverage:
    """The clause coverage of ``policy`` by the cases that ran against it (each tests file with
    the outcomes of its cases, in order)."""
    index = _Index(policy)
    by_clause: dict[str, ClauseCoverage] = {}
    for c in index.order:
        entry = by_clause.setdefault(c.clause, ClauseCoverage(c.clause, c.kind))
        if c.label not in entry.cited_by:
            entry.cited_by.append(c.label)
        if c.kind == "subject":
            entry.kind = "subject"
    cases = passed = 0
    for tests, outcomes in runs:
        for case, outcome in zip(tests.model.cases, outcomes, strict=True):
            cases += 1
            passed += outcome.passed
            if outcome.run is None:
                continue
            reached: set[Citation] = set()
            decided: set[Citation] = set()
            for subject_id in case.expect:
                result = outcome.run.get(subject_id)
                if result is not None:
                    r, d = _reached(result, index)
                    reached |= r
                    decided |= d
            for clause in {c.clause for c in reached}:
                by_clause[clause].cases += 1
            for clause in {c.clause for c in decided}:
                by_clause[clause].decisive += 1
    return Coverage(
        policy,
        [t.file for t, _ in runs],
        cases,
        passed,
        list(by_clause.values()),
        index.uncited,
    )


def _percent_text(cov: Coverage) -> str:
    percent = cov.percent()
    return "no clause cited" if percent is None else f"{percent}%"


def coverage_dict(cov: Coverage) -> dict[str, Any]:
    """One pack's coverage as JSON: the pack, the cases, each clause, the totals."""
    percent = cov.percent()
    return {
        "pack": {"id": cov.policy.id, "version": cov.policy.version, "file": cov.policy.file},
        "tests": cov.tests,
        "cases": cov.cases,
        "passed": cov.passed,
        "clauses": [
            {
                "clause": c.clause,
                **({"clause_kind": c.kind} if c.kind != "article" else {}),
                "covered": c.covered,
                "cases": c.cases,
                "decisive": c.decisive,
                "cited_by": c.cited_by,
            }
            for c in cov.clauses
        ],
        "covered": cov.covered,
        "total": cov.total,
        "percent": None if percent is None else float(percent),
        "uncited_steps": cov.uncited,
    }


def _width(text: str) -> int:
    """Terminal columns: a CJK character takes two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def coverage_table(cov: Coverage) -> str:
    """One pack's coverage for people: a heading, one line per clause (uncovered ones marked
    ``no``), the totals. No cell is cut: a clause and the steps citing it are read whole."""
    p = cov.policy
    lines = [
        f"clause coverage of pack {p.id} {p.version} ({p.file}) by {cov.cases} case(s) of "
        f"{', '.join(cov.tests)}"
    ]
    rows = [["covered", "cases", "decisive", "clause", "cited by"]] if cov.clauses else []
    for c in cov.clauses:
        clause = c.clause + (" (by subject)" if c.kind == "subject" else "")
        rows.append(
            [
                "yes" if c.covered else "no",
                str(c.cases),
                str(c.decisive),
                clause,
                ", ".join(c.cited_by),
            ]
        )
    widths = [max((_width(r[i]) for r in rows), default=0) for i in range(4)]
    for r in rows:
        cells = [
            r[0] + " " * (widths[0] - _width(r[0])),
            " " * (widths[1] - _width(r[1])) + r[1],
            " " * (widths[2] - _width(r[2])) + r[2],
            r[3] + " " * (widths[3] - _width(r[3])),
            r[4],
        ]
        lines.append("  ".join(cells).rstrip())
    uncovered = cov.total - cov.covered
    summary = f"{cov.covered} of {cov.total} clause(s) covered: {_percent_text(cov)}" + (
        f" ({uncovered} uncovered)" if uncovered else ""
    )
    if cov.uncited:
        summary += f"; {cov.uncited} step(s) cite no clause (provisional only) and are not counted"
    lines.append(summary)
    return "\n".join(lines) + "\n"


def under(covs: Iterable[Coverage], threshold: Decimal) -> list[str]:
    """A message for each pack whose coverage is under ``threshold`` percent."""
    out = []
    for cov in covs:
        if not cov.meets(threshold):
            what = (
                f"{_percent_text(cov)} ({cov.covered} of {cov.total} clauses)"
                if cov.total
                else "nothing: it cites no clause (every rule is provisional)"
            )
            out.append(
                f"clause coverage of pack {cov.policy.id} {cov.policy.version} "
                f"({cov.policy.file}) is {what}, under --fail-under {threshold}"
            )
    return out
