"""``audit``: an audit pack over claims files — hits as JSON Lines or a table, a summary per
rule and institution, and the hits as credit events (``--as-events``).

Every output is written whole or not at all (``cli.output.Output``), never over an input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from yibao_credit.audit.compile import AuditPack, load_audit_pack
from yibao_credit.audit.events import events_jsonl, hits_to_events, read_reviews, set_aside
from yibao_credit.audit.hits import hits_jsonl, hits_table, summary, summary_table
from yibao_credit.audit.plan import program
from yibao_credit.audit.run import AuditResult, audit_files, select_rules
from yibao_credit.cli.output import Output
from yibao_credit.records.readers import UTF8


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def register(subs: Any) -> None:
    au = subs.add_parser(
        "audit",
        help="audit claims against an audit pack (智能审核): one hit per finding, with its "
        "claims, lines, amount at issue and clause",
    )
    au.add_argument(
        "pack",
        metavar="PACK",
        help="an audit pack: its folder, its audit.yaml or a bundled id (huzhou_audit)",
    )
    au.add_argument("--claims", required=True, help="claims file (.jsonl or .csv)")
    au.add_argument("--lines", required=True, help="claim lines file (.jsonl or .csv)")
    au.add_argument("--insured", required=True, help="insured persons file (.jsonl or .csv)")
    au.add_argument(
        "--subjects",
        help="the institutions (subjects file of the data contract): levels, categories, peers",
    )
    au.add_argument("--stock", help="stock movements file (药品进销存), for stock_mismatch rules")
    au.add_argument(
        "--from", dest="period_from", type=_day, required=True, help="first settlement day audited"
    )
    au.add_argument(
        "--to",
        dest="period_to",
        type=_day,
        required=True,
        help="last settlement day audited (included)",
    )
    au.add_argument(
        "--rule",
        action="append",
        dest="rules",
        metavar="ID",
        help="run only this rule (repeatable)",
    )
    au.add_argument("--format", choices=("jsonl", "table"), default="jsonl")
    au.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of the table")
    au.add_argument("--output", help="hits file (default: standard output)")
    au.add_argument(
        "--summary",
        metavar="FILE",
        help="also write the summary per rule and subject (.json; - for a table on standard error)",
    )
    au.add_argument(
        "--as-events",
        metavar="FILE",
        help="also write the hits as credit events (violation / audit_flag), for a "
        "credit pack's --events; with --subjects, only those about its subjects",
    )
    au.add_argument(
        "--reviews",
        metavar="FILE",
        help="reviews of suspicious hits (confirmed / dismissed), applied to --as-events",
    )
    au.add_argument(
        "--established", type=_day, help="date of the events --as-events writes (default: --to)"
    )
    au.add_argument("--encoding", default=UTF8, help="encoding of the input files (default utf-8)")
    au.add_argument(
        "--sql", action="store_true", help="print the run's SQL program instead of running it"
    )
    au.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default="duckdb",
        help="where the program runs: embedded DuckDB (default) or a Spark session (the same "
        "SQL, translated)",
    )
    au.add_argument(
        "--spark-master",
        default="local[2]",
        help="with --engine spark: the Spark master (default local[2])",
    )
    au.add_argument(
        "--spark-driver-memory",
        default="2g",
        help="with --engine spark on a local master: the driver's memory (default 2g)",
    )
    au.set_defaults(func=_audit)


def _run_on_spark(args: argparse.Namespace, pack: AuditPack, files: dict[str, Any]) -> AuditResult:
    try:
        from yibao_credit.spark.audit import audit_files_on_spark
        from yibao_credit.spark.session import local_session
    except ImportError as exc:
        raise ValueError(
            f"--engine spark needs pyspark ({exc.name} is not installed): "
            "pip install 'yibao-credit[spark]', and a Java runtime"
        ) from None
    spark = local_session(args.spark_master, driver_memory=args.spark_driver_memory)
    return audit_files_on_spark(spark, pack, **files)


def _audit(args: argparse.Namespace) -> int:
    pack = load_audit_pack(args.pack)
    if args.sql:
        chosen = select_rules(pack, args.rules)
        print(program(pack, args.period_from, args.period_to, chosen).sql(), end="")
        return 0
    if args.reviews and not args.as_events:
        raise ValueError("--reviews applies to --as-events: name the events file too")
    if args.as_events and not args.as_events.endswith(".jsonl"):
        raise ValueError(
            f"--as-events writes JSON Lines (claim_ids and line_ids are lists, which CSV cannot "
            f"hold): name a .jsonl file, not {args.as_events!r}"
        )
    inputs = [args.claims, args.lines, args.insured, args.subjects, args.stock, args.reviews]
    out = Output(args.output, inputs)
    events_out = Output(args.as_events, inputs) if args.as_events else None
    summary_out = Output(args.summary, inputs) if args.summary not in (None, "-") else None
    files: dict[str, Any] = dict(
        claims=args.claims,
        lines=args.lines,
        insured=args.insured,
        subjects=args.subjects,
        stock=args.stock,
        period_from=args.period_from,
        period_to=args.period_to,
        rules=args.rules,
        encoding=args.encoding,
    )
    result = (
        _run_on_spark(args, pack, files) if args.engine == "spark" else audit_files(pack, **files)
    )
    events = None
    if events_out is not None:
        reviews, lines = (
            read_reviews(args.reviews, encoding=args.encoding) if args.reviews else ([], {})
        )
        subjects = result.subject_ids  # read once, by the run
        events = hits_to_events(
            result.hits, args.established or args.period_to, reviews, lines, args.reviews, subjects
        )
        aside = set_aside(result.hits, subjects) if subjects is not None else None
        if aside is not None:
            result.warnings.append(aside)

    for w in result.warnings:
        sys.stderr.write(f"warning: {w}\n")
    with out.open() as stream:
        if args.format == "table":
            stream.write(hits_table(pack, result.hits, args.lang))
        else:
            stream.write(hits_jsonl(pack, result.hits))
    if events_out is not None and events is not None:
        with events_out.open() as stream:
            stream.write(events_jsonl(events))
    data = summary(pack, result.hits, select_rules(pack, args.rules))
    if args.summary == "-":
        sys.stderr.write(summary_table(data, args.lang))
    elif summary_out is not None:
        with summary_out.open() as stream:
            stream.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    return 0
