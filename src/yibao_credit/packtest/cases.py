"""Pack test cases: worked examples in YAML beside the pack they check (OpenFisca style).

A tests file (``zhenjiang.tests.yaml`` beside ``zhenjiang.yaml``) lists cases: records in, the
expected status, grade, exclusion, measures and key trace steps out. They run with
``yibao-credit test`` and are collected by pytest. A mistyped key in a test file is a located
error like any pack error, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ConfigDict, Field, ValidationError

from yibao_credit.engine.results import Run
from yibao_credit.errors import Location, PackError, Problem, YibaoError
from yibao_credit.pack.bundled import bundled_ids, is_pack_id
from yibao_credit.pack.load import schema_problems
from yibao_credit.pack.schema import Strict
from yibao_credit.pack.sourcemap import YamlDocument, format_path, read_yaml
from yibao_credit.policy import Policy, load_policy
from yibao_credit.records.readers import records_from_python
from yibao_credit.render.results import result_to_dict
from yibao_credit.render.trace import jsonable

_UNSET = object()
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Expected(Strict):
    """What one subject's result must show; keys left out are not checked."""

    status: str | None = None
    grade: str | None = None
    exclusion: str | None = None
    measures: list[str] | None = None
    steps: dict[str, Any] = Field(default_factory=dict)
    """step id → expected outcome; ``rollup.<id>`` matches that roll-up's step whatever band."""
    evidence: dict[str, list[str]] = Field(default_factory=dict)
    """step id → the event (or member) ids it must cite, in order."""
    decided_by: str | None = None
    """the id of the decisive step (the last one, when a roll-up changed the grade)."""
    lifecycle: dict[str, Any] = Field(default_factory=dict)
    """keys of the result's ``lifecycle`` object and their expected values (stage, deadlines…)."""


class Case(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    clause: str | None = None
    note: str | None = None
    as_of: dt.date
    subjects: list[dict[str, Any]] = Field(min_length=1)
    events: list[dict[str, Any]] = Field(default_factory=list)
    history: list[dict[str, Any]] | None = None
    """earlier results (subject_id, status, grade, as_of), as evaluate writes them."""
    procedures: list[dict[str, Any]] | None = None
    """notification / objection / decision records."""
    on: dt.date | None = None
    expect: dict[str, Expected] = Field(min_length=1)


class TestFile(Strict):
    pack: str | None = None
    """The pack file, relative to this file; by default ``<name>.yaml`` beside it."""
    cases: list[Case] = Field(min_length=1)


@dataclass
class CaseOutcome:
    name: str
    location: Location
    failures: list[str] = field(default_factory=list)
    run: Run | None = None
    """The case's run (None when its records or the evaluation failed): what clause coverage
    reads the steps of (``packtest.coverage``)."""

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class LoadedTests:
    file: str
    doc: YamlDocument
    model: TestFile
    pack_path: Path


_TEST_KEYS = sorted({name for model in (TestFile, Case, Expected) for name in model.model_fields})


def default_tests_path(pack_path: str | Path) -> Path:
    p = Path(pack_path)
    return p.with_name(p.name.removesuffix(".yaml").removesuffix(".yml") + ".tests.yaml")


def read_tests(path: str | Path) -> LoadedTests:
    """Read and validate a tests file; raises PackError with located problems."""
    doc, _ = read_yaml(path)
    try:
        model = TestFile.model_validate(doc.data)
    except ValidationError as exc:
        raise PackError(_expect_hints(exc, doc, schema_problems(exc, doc, _TEST_KEYS))) from None
    p = Path(path)
    if model.pack is not None:
        pack_path = (p.parent / model.pack).resolve()
        if not pack_path.exists() and is_pack_id(model.pack) and model.pack in bundled_ids():
            pack_path = bundled_ids()[model.pack]  # a bundled pack, by id
    else:
        pack_path = p.with_name(p.name.removesuffix(".tests.yaml") + ".yaml")
    if not pack_path.exists():
        raise PackError(
            Problem(
                "test.pack-missing",
                f"the pack {str(pack_path)!r} does not exist; name it with 'pack:'",
                doc.locate(("pack",)),
            )
        )
    return LoadedTests(str(p), doc, model, pack_path)


_STEP_KEY = re.compile(
    r"(score|fact|window|exclusion|criterion|grade|item|category|veto|group|history|"
    r"rollup|measure|procedure|lifecycle|validity|repair|review)(\..+)?"
)
"""A key under ``expect.<subject>`` that is a trace step's id (``score``, ``fact.violations``):
its outcome is checked under ``steps``, which an analyst writing ``score: 92`` misses."""


def _expect_hints(
    exc: ValidationError, doc: YamlDocument, problems: list[Problem]
) -> list[Problem]:
    """An unknown key under ``expect.<subject>`` that names a trace step (``score: 92``) says
    how to write it: ``steps: {score: 92}``, the way every step's outcome is checked."""
    hints: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        if err["type"] != "extra_forbidden" or len(loc) != 5 or loc[:1] != ("cases",):
            continue
        key = loc[4]
        if loc[2] != "expect" or not isinstance(key, str) or not _STEP_KEY.fullmatch(key):
            continue
        value = err.get("input")
        plain = isinstance(value, int | float | str) and not isinstance(value, bool)
        hints[format_path(loc)] = (
            f"unknown key {key!r}: {key} is a step of the trace, and a step's outcome is "
            f"checked under 'steps': write steps: {{{key}: {value if plain else '…'}}}"
        )
    if not hints:
        return problems
    return [
        Problem(p.code, hints[p.location.path], p.location)
        if p.code == "pack.schema.extra_forbidden" and p.location.path in hints
        else p
        for p in problems
    ]


def is_tests_file(path: str | Path) -> bool:
    """Whether a file is a tests file rather than a pack: its name ends ``.tests.yaml``, or
    its top level has ``cases`` (and no ``rulesets``). A file that cannot be read or parsed is
    not one (loading it as a pack reports why)."""
    p = Path(path)
    if p.name.endswith(".tests.yaml"):
        return True
    if p.is_dir():
        return False
    try:
        data = yaml.load(p.read_text(encoding="utf-8-sig"), Loader=_YamlLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and "cases" in data and "rulesets" not in data


def check_tests(path: str | Path) -> tuple[LoadedTests, Policy]:
    """Validate a tests file without running its cases: its shape (unknown keys, missing
    ones), its pack (which must load), and each case's subjects and events (which must fit
    the data contract). Raises PackError with every problem located (``record.*`` codes for
    the records)."""
    tests = read_tests(path)
    policy = load_policy(tests.pack_path)
    problems = []
    for index, case in enumerate(tests.model.cases):
        try:
            records_from_python(case.subjects, case.events, source=f"{tests.file}:cases[{index}]")
        except YibaoError as exc:
            problems.extend(exc.problems)
    if problems:
        raise PackError(problems)
    return tests, policy


def run_case(policy: Policy, tests: LoadedTests, index: int, engine: str = "python") -> CaseOutcome:
    """One worked example, evaluated on ``engine`` (``python`` or ``duckdb``)."""
    case = tests.model.cases[index]
    loc = tests.doc.locate(("cases", index, "name"))
    outcome = CaseOutcome(case.name, loc)
    source = f"{tests.file}:cases[{index}]"
    try:
        records = records_from_python(case.subjects, case.events, source=source)
        run = policy.evaluate(
            records,
            as_of=case.as_of,
            history=case.history,
            procedures=case.procedures,
            on=case.on,
            engine=engine,
        )
    except YibaoError as exc:
        outcome.failures.extend(str(p) for p in exc.problems)
        return outcome
    outcome.run = run
    for subject_id, expected in case.expect.items():
        result = run.get(subject_id)
        if result is None:
            outcome.failures.append(f"{subject_id}: no result (is it in scope of the pack?)")
            continue
        _compare(subject_id, result_to_dict(result, "zh"), expected, outcome.failures)
    return outcome


def _compare(sid: str, got: dict[str, Any], want: Expected, failures: list[str]) -> None:
    for key in ("status", "grade", "exclusion"):
        if key in want.model_fields_set and got[key] != getattr(want, key):
            failures.append(f"{sid}: {key} is {got[key]!r}, expected {getattr(want, key)!r}")
    if want.measures is not None:
        ids = sorted(m["id"] for m in got["measures"])
        if ids != sorted(want.measures):
            failures.append(f"{sid}: measures are {ids}, expected {sorted(want.measures)}")
    steps = got.get("trace", [])
    for step_id, value in want.steps.items():
        step = _find(steps, step_id)
        if step is None:
            failures.append(f"{sid}: no step {step_id!r} in the trace")
        elif step["outcome"] != jsonable(value):
            failures.append(
                f"{sid}: step {step_id} is {step['outcome']!r}, expected {jsonable(value)!r}"
                f" (inputs {step['inputs']})"
            )
    for step_id, ids in want.evidence.items():
        step = _find(steps, step_id)
        if step is None:
            failures.append(f"{sid}: no step {step_id!r} in the trace")
        elif step["evidence"] != ids:
            failures.append(f"{sid}: evidence of {step_id} is {step['evidence']}, expected {ids}")
    life = got.get("lifecycle")
    for key, value in want.lifecycle.items():
        if life is None:
            failures.append(f"{sid}: no lifecycle in the result (no procedure records?)")
            break
        if life.get(key) != jsonable(value):
            failures.append(f"{sid}: lifecycle {key} is {life.get(key)!r}, expected {value!r}")
    if want.decided_by is not None:
        decisive = [s["step"] for s in steps if s.get("decisive")]
        last = decisive[-1] if decisive else None
        if last is None or not (last == want.decided_by or last.startswith(want.decided_by + ".")):
            failures.append(f"{sid}: decided by {last!r}, expected {want.decided_by!r}")


def _find(steps: list[dict[str, Any]], step_id: str) -> dict[str, Any] | None:
    for s in steps:
        if s["step"] == step_id:
            return s
    for s in steps:
        if s["step"].startswith(step_id + "."):
            return s
    return None


def run_tests(path: str | Path) -> list[CaseOutcome]:
    """Run every case of a tests file against its pack."""
    tests = read_tests(path)
    policy = load_policy(tests.pack_path)
    return [run_case(policy, tests, i) for i in range(len(tests.model.cases))]
