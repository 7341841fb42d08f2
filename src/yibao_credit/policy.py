"""A loaded pack, for callers: read and validate (``pack``), compile to one plan
(``compile``), evaluate on the Python back-end (``engine``).

``load_policy`` is the one entry point: it returns a ``Policy`` ready to evaluate, or raises
``PackError`` listing every problem with its file, line, column and path in the pack.
``load_policies`` takes a folder of dated versions of one pack too, or the manifest that names
the folder (``policies/jiangsu_perf.yaml``, pack-format.md §17).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from yibao_credit.arguments import choice_argument, date_argument, iterable_argument
from yibao_credit.compile.compiler import compile_pack
from yibao_credit.compile.overrides import override_plan
from yibao_credit.compile.plan import (
    CompiledProcedure,
    CompiledReview,
    CompiledRuleset,
    Plan,
    ValidityRules,
)
from yibao_credit.engine.program import PythonProgram, program_for
from yibao_credit.engine.results import Run
from yibao_credit.engine.run import evaluate as run_plan
from yibao_credit.errors import EvaluationError, Location, PackError, Problem
from yibao_credit.pack.bundled import resolve_pack
from yibao_credit.pack.load import ProvisionalValue, provisional_values, read_pack
from yibao_credit.pack.manifest import (
    Manifest,
    is_manifest,
    period_problems,
    read_manifest,
    version_files,
    version_problems,
)
from yibao_credit.pack.schema import PackModel
from yibao_credit.pack.sourcemap import YamlDocument, given_sources, recorded_sources
from yibao_credit.records.contract import AttributeSpec, EventKind, Records, Subject
from yibao_credit.records.history import HistoryRecords, history_from_python
from yibao_credit.records.procedures import ProcedureRecords, procedures_from_python
from yibao_credit.records.readers import records_from_python
from yibao_credit.sql.session import evaluate_records
from yibao_credit.time.calendar import WorkingCalendar, YearArrangement


class Policy:
    """A compiled policy pack: its plan, evaluated on the Python back-end; its provisional
    values listed with the file and line that wrote them."""

    def __init__(self, model: PackModel, doc: YamlDocument, plan: Plan) -> None:
        self.model = model
        self.doc = doc
        self.plan = plan
        self.file = doc.file
        self.sources: dict[str, bytes] = {}
        """The bytes of each file the pack was read from (``load_policy``), to pickle it."""
        self.base: Policy = self
        """The pack as published, which ``with_overrides`` made this one from (itself)."""
        self.override_warnings: list[Problem] = []
        """What ``with_overrides`` reported: a group that keeps its own value of a parameter."""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickled as its source bytes, not its generated code (which cannot be pickled): a
        policy goes to another process — a Spark executor, a process pool — and is compiled
        there again, checked against its sha256."""
        base = self.base
        if not base.sources:
            raise TypeError(
                "this Policy was not made by load_policy (no source bytes): it cannot be pickled"
            )
        return _rebuilt, (base.file, base.sources, base.sha256, self.overrides)

    @property
    def overrides(self) -> dict[str, Any]:
        """The parameter values set for every run of this policy (``--set``), by name; empty
        for the pack as published."""
        return {name: o.value for name, o in self.plan.overrides.items()}

    def with_overrides(self, overrides: Mapping[str, Any]) -> Policy:
        """This pack with dated parameters holding other values for every run: the Python
        side of ``--set NAME=VALUE`` (a calibration tried without editing the pack).

        Each value replaces the parameter's dated values, is checked against its type and
        compiled with the pack (bands, weights and caps checked as at load time), and counts
        as provisional. The new policy keeps the pack's id, version and sha256; its results
        name the values set (``policy.overrides``) and its trace marks each step that read
        one. Values set on a policy with overrides are added to its own. Raises PackError
        (``cli.set-unknown-parameter``, ``cli.set-bad-value``); ``override_warnings`` lists
        the groups that keep their own value (``cli.set-group-value``)."""
        if not isinstance(overrides, Mapping) or not all(isinstance(k, str) for k in overrides):
            raise TypeError("overrides must be a mapping of parameter names to values")
        if not overrides:
            return self
        base = self.base
        merged = {**self.overrides, **overrides}
        model, plan, warnings = override_plan(base.model, base.doc, base.sha256, merged)
        policy = Policy(model, base.doc, plan)
        policy.base = base
        policy.override_warnings = warnings
        program_for(plan)  # generated now: any failure is a failure of the values set
        return policy

    @property
    def program(self) -> PythonProgram:
        """The Python back-end's generated code for the plan."""
        return program_for(self.plan)

    @property
    def id(self) -> str:
        return self.plan.id

    @property
    def version(self) -> str:
        return self.plan.version

    @property
    def sha256(self) -> str:
        """The pack file's SHA-256 (for a pack that extends another: of the whole chain)."""
        return self.plan.sha256

    @property
    def rulesets(self) -> Mapping[str, CompiledRuleset]:
        return self.plan.rulesets

    @property
    def event_kinds(self) -> Mapping[str, EventKind]:
        return self.plan.event_kinds

    @property
    def subject_attributes(self) -> Mapping[str, AttributeSpec]:
        return self.plan.subject_attributes

    @property
    def procedures(self) -> Mapping[str, CompiledProcedure]:
        return self.plan.procedures

    @property
    def arrangements(self) -> tuple[YearArrangement, ...]:
        return self.plan.arrangements

    @property
    def validity(self) -> ValidityRules:
        return self.plan.validity

    @property
    def review(self) -> CompiledReview | None:
        return self.plan.review

    @property
    def calendar(self) -> WorkingCalendar:
        return self.plan.calendar

    @property
    def grade_labels(self) -> frozenset[str]:
        """Every grade label of every ruleset (what an earlier result may hold)."""
        return self.plan.grade_labels

    def selection_date(self, as_of: dt.date) -> dt.date:
        """The date that picks this pack among its versions (see ``Plan.selection_date``)."""
        return self.plan.selection_date(as_of)

    def ruleset_for(self, subject: Subject) -> CompiledRuleset | None:
        """The one ruleset that grades a subject; two would be a contradiction in the pack."""
        return self.program.ruleset_for(subject)

    def provisional(self) -> list[ProvisionalValue]:
        """Every provisional rule or value, in file order."""
        return provisional_values(self.model, self.doc)

    def evaluate(
        self,
        subjects: Iterable[Subject | Mapping[str, Any]] | Records,
        events: Iterable[Any] | None = None,
        *,
        as_of: dt.date,
        history: HistoryRecords | Iterable[Mapping[str, Any]] | None = None,
        procedures: ProcedureRecords | Iterable[Mapping[str, Any]] | None = None,
        on: dt.date | None = None,
        engine: str = "python",
    ) -> Run:
        """Evaluate subjects and their events as of a date; see ``engine.run.evaluate``.

        ``history``: earlier results (a HistoryRecords, or dicts as ``result_to_dict`` gives
        them); ``procedures``: notification/objection/decision records; ``on``: the day the
        lifecycle is judged on; ``engine``: ``python`` (the default for records in memory: no
        tables to build) or ``duckdb`` — the results are the same.

        Records come one way: a ``Records`` (from ``load_records``) alone, or ``subjects`` and
        ``events`` as iterables of objects or dicts; anything else is a ``TypeError``.
        """
        choice_argument("engine", engine, ("python", "duckdb"))
        date_argument("as_of", as_of)
        date_argument("on", on, optional=True)
        if isinstance(subjects, Records):
            if events is not None:
                raise TypeError(
                    "events must not be given with a Records as subjects: the Records holds "
                    "its events already (pass records alone, or subjects and events as lists)"
                )
            records = subjects
        else:
            iterable_argument("subjects", subjects, "Subject objects or dicts, or a Records")
            if events is not None:
                iterable_argument("events", events, "Event objects or dicts")
            records = records_from_python(subjects, () if events is None else events)
        if history is not None and not isinstance(history, HistoryRecords):
            history = history_from_python(history, self.id, self.grade_labels)
        if procedures is not None and not isinstance(procedures, ProcedureRecords):
            procedures = procedures_from_python(procedures)
        if engine == "duckdb":
            return evaluate_records(
                self.plan, records, as_of, history=history, procedures=procedures, on=on
            )
        return run_plan(self.plan, records, as_of, history=history, procedures=procedures, on=on)


def evaluate(
    policy: Policy | Plan,
    records: Records,
    as_of: dt.date,
    *,
    history: HistoryRecords | None = None,
    procedures: ProcedureRecords | None = None,
    on: dt.date | None = None,
) -> Run:
    """Evaluate every subject in ``records`` as of ``as_of`` against a loaded pack (or its plan).

    ``history``: earlier cycles' results, for history facts; ``procedures``: notification,
    objection and decision records, for each result's lifecycle, judged as of ``on``.
    """
    if not isinstance(policy, Policy | Plan):
        raise TypeError(f"policy must be a Policy (from load_policy), not {type(policy).__name__}")
    if not isinstance(records, Records):
        raise TypeError(
            "records must be a Records (from load_records or records_from_python), "
            f"not {type(records).__name__}"
        )
    date_argument("as_of", as_of)
    date_argument("on", on, optional=True)
    plan = policy.plan if isinstance(policy, Policy) else policy
    return run_plan(plan, records, as_of, history=history, procedures=procedures, on=on)


def load_policy(path: str | Path) -> Policy:
    """Read, validate and compile a pack file; raises PackError with every problem found.

    ``path`` may be a bundled pack's id (``"zhenjiang"``; a path that exists wins). A folder
    of dated versions, or the manifest that names one, holds several packs: that is an error
    saying to use ``load_policies`` (which picks the version for a date)."""
    file = resolve_pack(path)
    if file.is_dir():
        raise PackError(
            Problem(
                "pack.file",
                "this is a folder of dated versions of a pack: load it with load_policies "
                "(which picks the version in force), or name one version's file",
                Location(str(file)),
            )
        )
    if is_manifest(file):
        manifest = read_manifest(file)
        raise PackError(
            Problem(
                "pack.file",
                "this is a folder of dated versions of a pack: load it with load_policies "
                "(which picks the version in force), or name one version's file (this manifest "
                f"names the folder {manifest.folder})",
                manifest.locate(key=True),
            )
        )
    with recorded_sources() as sources:
        model, doc, digest = read_pack(file)
    policy = Policy(model, doc, compile_pack(model, doc, digest))
    policy.sources = sources
    program_for(policy.plan)  # generate the Python code now: any failure is a load failure
    return policy


def _rebuilt(
    file: str, sources: dict[str, bytes], sha256: str, overrides: dict[str, Any]
) -> Policy:
    """A pickled ``Policy`` again: compiled from the bytes it was loaded from (the files need
    not be here), which must still hash to its sha256."""
    with given_sources(sources):
        model, doc, digest = read_pack(file)
    if digest != sha256:
        raise PackError(
            Problem(
                "pack.pickle",
                f"the pickled pack's bytes hash to {digest}, not to its sha256 {sha256}",
                Location(file),
            )
        )
    policy = Policy(model, doc, compile_pack(model, doc, digest))
    policy.sources = sources
    program_for(policy.plan)
    return policy.with_overrides(overrides) if overrides else policy


class PolicySet:
    """The dated versions of one pack (a new indicator table each year): evaluation uses the
    version in force for the evaluated period, and the result names it."""

    def __init__(self, versions: list[Policy], manifest: Manifest | None = None) -> None:
        self.manifest = manifest
        """The manifest that named the versions' folder, if one did."""
        if not versions:
            raise PackError(Problem("pack.versions", "no pack found"))
        ids = sorted({v.id for v in versions})
        if len(ids) > 1:
            # The id most versions carry is taken as the pack's; each other one is located.
            counts = Counter(v.id for v in versions)
            usual = max(ids, key=lambda i: (counts[i], -ids.index(i)))
            raise PackError(
                [
                    Problem(
                        "pack.versions",
                        f"versions of one pack share its id; this file says {v.id!r}, "
                        f"{counts[usual]} other(s) say {usual!r} ({', '.join(ids)} found)",
                        v.doc.locate(("pack", "id")),
                    )
                    for v in sorted(versions, key=lambda v: v.file)
                    if v.id != usual
                ]
            )
        self.versions = sorted(versions, key=lambda v: v.model.pack.effective.from_)
        problems, warnings = period_problems(self.id, [(v.model, v.doc) for v in self.versions])
        self.warnings: list[Problem] = warnings
        """Days between the first version and the last that no version covers
        (``pack.versions.gap``): ``validate`` reports them; a run on such a day stops with
        ``eval.no-version``."""
        if manifest is not None:
            problems += version_problems(manifest, [(v.model, v.doc) for v in self.versions])
        if problems:
            raise PackError(problems)

    @property
    def id(self) -> str:
        return self.versions[0].id

    def for_as_of(self, as_of: dt.date) -> Policy:
        """The version in force on the date that picks versions (see ``Meta.version_by``).

        A single pack is always used: evaluating it outside its effective period is the
        ``eval.pack-not-in-force`` warning, not an error (one may test a pack on older data)."""
        if len(self.versions) == 1:
            return self.versions[0]
        for policy in self.versions:
            day = policy.selection_date(as_of)
            eff = policy.model.pack.effective
            if eff.from_ <= day and (eff.to is None or day <= eff.to):
                return policy
        periods = "; ".join(
            f"{v.version}: {v.model.pack.effective.from_} .. {v.model.pack.effective.to or 'open'}"
            for v in self.versions
        )
        raise EvaluationError(
            Problem(
                "eval.no-version",
                f"no version of pack {self.id!r} is in force for as_of {as_of} ({periods})",
                Location(self.manifest.file if self.manifest else self.versions[0].file),
            )
        )


def load_policies(path: str | Path) -> PolicySet:
    """A pack file, a folder of dated versions of one pack (``*.yaml``, tests left out), or a
    manifest naming such a folder (pack-format.md §17); any may be given by a bundled pack's
    id."""
    p = resolve_pack(path)
    if p.is_dir():
        return PolicySet([load_policy(f) for f in version_files(p)])
    if is_manifest(p):
        manifest = read_manifest(p)
        return PolicySet([load_policy(f) for f in manifest.versions], manifest)
    return PolicySet([load_policy(p)])
