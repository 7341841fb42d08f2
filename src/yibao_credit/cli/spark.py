"""``--engine spark``: the evaluating commands on a Spark session, from files or tables.

Files are read and checked by the CLI's own readers and handed to a local Spark session
(``--spark-master``, default ``local[2]``); ``--subjects-table`` / ``--events-table`` read
tables of the session's catalog (a Hive metastore, when the session has one configured:
``spark-submit`` with ``spark.sql.catalogImplementation=hive``). pyspark is imported only here,
when Spark is asked for, so the other engines need neither it nor Java.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from yibao_credit.engine.results import Run
from yibao_credit.policy import Policy
from yibao_credit.records.history import HistoryRecords
from yibao_credit.records.procedures import ProcedureRecords


class SparkUsageError(ValueError):
    """Options that do not go together (said as ``error: …``, exit 1)."""


def add_spark_arguments(sub: argparse.ArgumentParser) -> None:
    sub.set_defaults(records_parser=sub)
    sub.add_argument(
        "--spark-master",
        default="local[2]",
        help="with --engine spark and no running session: the Spark master (default local[2], "
        "two worker threads on this machine)",
    )
    sub.add_argument(
        "--spark-driver-memory",
        default="2g",
        help="with --engine spark on a local master: the driver's memory (default 2g)",
    )
    sub.add_argument(
        "--subjects-table",
        help="with --engine spark: the subjects as a table of the session's catalog (db.table), "
        "instead of --subjects",
    )
    sub.add_argument(
        "--events-table",
        help="with --engine spark: the events as a table of the session's catalog, instead of "
        "--events",
    )


def check_record_sources(args: argparse.Namespace) -> None:
    """Subjects from exactly one of a file and a table; tables only on Spark: a usage error
    (exit 2, with the command's usage) when not."""
    problem = _sources_problem(args)
    if problem is not None:
        args.records_parser.error(problem)


def _sources_problem(args: argparse.Namespace) -> str | None:
    subjects, table = getattr(args, "subjects", None), getattr(args, "subjects_table", None)
    events, events_table = getattr(args, "events", None), getattr(args, "events_table", None)
    if (table or events_table) and args.engine != "spark":
        return "--subjects-table and --events-table need --engine spark"
    if subjects and table:
        return "give the subjects once: --subjects or --subjects-table, not both"
    if events and events_table:
        return "give the events once: --events or --events-table, not both"
    if not subjects and not table:
        return "the following arguments are required: --subjects" + (
            " (or --subjects-table)" if args.engine == "spark" else ""
        )
    if table and events and not events_table:
        return "with --subjects-table, give the events as --events-table too"
    if subjects and events_table:
        return "with --events-table, give the subjects as --subjects-table too"
    return None


def run_on_spark(
    args: argparse.Namespace,
    policy: Policy,
    history: HistoryRecords | None,
    procedures: ProcedureRecords | None,
    evidence: bool,
    progress: Callable[[str], None] | None,
) -> tuple[Run, frozenset[str]]:
    """The run on Spark, and the ids of every subject given."""
    try:
        from yibao_credit.spark.evaluate import run_files, run_frames
        from yibao_credit.spark.session import local_session
    except ImportError as exc:
        raise SparkUsageError(
            f"--engine spark needs pyspark ({exc.name} is not installed): "
            "pip install 'yibao-credit[spark]', and a Java runtime"
        ) from None
    spark = local_session(args.spark_master, driver_memory=args.spark_driver_memory)
    options = {
        "history": history,
        "procedures": procedures,
        "on": args.on,
        "evidence": evidence,
        "progress": progress,
    }
    if args.subjects_table:
        run = run_frames(
            spark,
            policy,
            args.subjects_table,
            args.events_table,
            args.as_of,
            **options,
        )
        column = spark.table(args.subjects_table).select("id").toArrow().column(0)
        ids = frozenset(column.to_pylist())  # through Arrow: no row objects
        return run, ids
    return run_files(
        spark,
        policy,
        args.subjects,
        args.events,
        args.as_of,
        encoding=args.encoding,
        **options,
    )
