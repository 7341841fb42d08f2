"""A pack evaluated on Spark: records as DataFrames, tables or files; results as a DataFrame.

The program runs as Spark SQL (``database``); the results are built on the driver from one row
per graded subject — events never leave the cluster — by the code that builds DuckDB's
(``sql.run``), and rendered by ``render`` as every engine's are, so a Spark run's output is the
DuckDB engine's byte for byte.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TypedDict, TypeVar, Unpack

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession

from yibao_credit.arguments import LANGS, choice_argument, date_argument
from yibao_credit.engine.results import Run
from yibao_credit.errors import Problem
from yibao_credit.policy import Policy, load_policies
from yibao_credit.records.history import HistoryRecords, read_history
from yibao_credit.records.procedures import ProcedureRecords, read_procedures
from yibao_credit.render.results import JsonlWriter
from yibao_credit.render.trace import DETAILS, jsonable
from yibao_credit.spark.database import SparkDatabase, SparkTables
from yibao_credit.spark.files import load_files
from yibao_credit.spark.records import Frame, load_frames
from yibao_credit.sql.run import Progress, evaluate_on

T = TypeVar("T")

RESULT_COLUMNS = (
    "subject_id",
    "status",
    "grade",
    "score",
    "exclusion",
    "ruleset",
    "policy_id",
    "policy_version",
    "policy_sha256",
    "as_of",
    "result_json",
)
"""The columns of ``evaluate``'s DataFrame: the contract's result fields a query filters on,
and the whole result as the contract's JSON object (what ``evaluate`` writes per line)."""


class SparkRunWarning(UserWarning):
    """A warning of a Spark run (``Problem`` text with its code), said once per run."""


def _policy(pack: Policy | str | Path, as_of: dt.date) -> Policy:
    return pack if isinstance(pack, Policy) else load_policies(pack).for_as_of(as_of)


class _Options(TypedDict, total=False):
    history: HistoryRecords | None
    procedures: ProcedureRecords | None
    on: dt.date | None
    evidence: bool
    progress: Progress | None


def _on_spark(
    spark: SparkSession,
    policy: Policy,
    load: Callable[[SparkDatabase], tuple[SparkTables, T]],
    as_of: dt.date,
    options: _Options,
) -> tuple[Run, T]:
    """Load the records into a run's tables, evaluate them there, release the tables."""
    db = SparkDatabase(spark)
    try:
        tables, loaded = load(db)
        run = evaluate_on(db, policy.plan, tables, as_of, **options)
    finally:
        db.close()
    return run, loaded


def run_frames(
    spark: SparkSession,
    policy: Policy,
    subjects: Frame,
    events: Frame | None,
    as_of: dt.date,
    **options: Unpack[_Options],
) -> Run:
    """Evaluate DataFrames (or tables, by name) in the data contract's columns; ``options``
    as for ``sql.run.evaluate_on`` (history, procedures, on, evidence, progress)."""
    run, unread = _on_spark(
        spark, policy, lambda db: load_frames(db, policy.plan, subjects, events), as_of, options
    )
    run.warnings[:0] = unread
    return run


def run_files(
    spark: SparkSession,
    policy: Policy,
    subjects: str | Path,
    events: str | Path | None,
    as_of: dt.date,
    *,
    encoding: str = "utf-8",
    **options: Unpack[_Options],
) -> tuple[Run, frozenset[str]]:
    """Evaluate records files (read and checked as the CLI reads them) on Spark; the run and
    the ids in the subjects file."""
    progress = options.get("progress")
    if progress:
        progress("reading records")
    return _on_spark(
        spark,
        policy,
        lambda db: load_files(db, policy.plan, subjects, events, encoding=encoding),
        as_of,
        options,
    )


def results_frame(
    spark: SparkSession, run: Run, *, lang: str = "zh", trace: str = "decisive"
) -> DataFrame:
    """A run's results as a DataFrame of ``RESULT_COLUMNS``, in subject order."""
    writer = JsonlWriter(lang, trace)
    columns: dict[str, list[object]] = {name: [] for name in RESULT_COLUMNS}
    for r in run:
        plan = r.context.plan
        score = jsonable(r.score)
        for name, value in (
            ("subject_id", r.subject.id),
            ("status", r.status),
            ("grade", r.grade),
            ("score", None if score is None else float(score)),
            ("exclusion", r.exclusion),
            ("ruleset", r.ruleset.id),
            ("policy_id", plan.id),
            ("policy_version", plan.version),
            ("policy_sha256", plan.sha256),
            ("as_of", r.context.as_of),
            ("result_json", writer.line(r).rstrip("\n")),
        ):
            columns[name].append(value)
    types = {name: pa.string() for name in RESULT_COLUMNS}
    types["score"], types["as_of"] = pa.float64(), pa.date32()
    table = pa.table({n: pa.array(v, type=types[n]) for n, v in columns.items()})
    return spark.createDataFrame(table)


def evaluate(
    spark: SparkSession,
    subjects: Frame,
    events: Frame | None,
    pack: Policy | str | Path,
    as_of: dt.date,
    *,
    trace: str = "decisive",
    lang: str = "zh",
    history: HistoryRecords | str | Path | None = None,
    procedures: ProcedureRecords | str | Path | None = None,
    on: dt.date | None = None,
    on_warning: Callable[[Problem], None] | None = None,
) -> DataFrame:
    """Evaluate ``subjects`` and ``events`` (DataFrames, or table names in the session's
    catalog, in the data contract's columns) as of ``as_of`` on Spark; one row per result.

    ``pack``: a loaded ``Policy``, a pack file or folder of dated versions, or a bundled id.
    ``history`` / ``procedures``: records or files, as the CLI's ``--history`` and
    ``--procedures``. Each warning of the run is passed once to ``on_warning`` (default: a
    ``SparkRunWarning``). Bad records raise one ``RecordError`` listing the first problems."""
    date_argument("as_of", as_of)
    choice_argument("trace", trace, DETAILS)
    choice_argument("lang", lang, LANGS)
    policy = _policy(pack, as_of)
    if isinstance(history, str | Path):
        history = read_history(history, policy.id, policy.grade_labels)
    if isinstance(procedures, str | Path):
        procedures = read_procedures(procedures)
    run = run_frames(
        spark,
        policy,
        subjects,
        events,
        as_of,
        history=history,
        procedures=procedures,
        on=on,
        evidence=trace != "none",
    )
    say = on_warning or (lambda p: warnings.warn(str(p), SparkRunWarning, stacklevel=3))
    for problem in run.warnings:
        say(problem)
    return results_frame(spark, run, lang=lang, trace=trace)


def evaluate_run(
    spark: SparkSession,
    subjects: Frame,
    events: Frame | None,
    pack: Policy | str | Path,
    as_of: dt.date,
    **options: Unpack[_Options],
) -> Run:
    """As ``evaluate``, but the ``Run`` itself (results and warnings), for rendering on the
    driver as the CLI does."""
    date_argument("as_of", as_of)
    return run_frames(spark, _policy(pack, as_of), subjects, events, as_of, **options)
