"""``evaluate --next-improvement`` and the outlook ``explain`` shows: when each counted event
leaves its window or expires, the grade then, the next improvement, the day an exclusion ends
(``engine.outlook``).

Whichever engine evaluated, the outlook re-evaluates on the Python reference engine from the
records as the Python reader reads them (the same files, read once more: the DuckDB engine
keeps no Python records), and only for the results that need it (a counted event that can
leave, or an exclusion).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from yibao_credit.engine.outlook import Outlook, Outlooks
from yibao_credit.engine.results import Result, Run
from yibao_credit.errors import EvaluationError, Problem
from yibao_credit.records.readers import load_records


def add_next_improvement(parser: argparse.ArgumentParser) -> None:
    """The option of ``evaluate``."""
    parser.add_argument(
        "--next-improvement",
        action="store_true",
        help="add each result's outlook if nothing new happens: when each counted event "
        "leaves its window or expires, the grade then, the next improvement and the day an "
        "exclusion ends (the key next_improvement; columns in csv and table)",
    )


def outlooks(
    args: argparse.Namespace, run: Run, results: Iterable[Result], required: bool = True
) -> dict[str, Outlook]:
    """The outlook of each of ``results`` (of ``run``), by subject id. Records read from
    tables rather than files (``--subjects-table``) have no Python copy to re-evaluate: an
    error when the outlook was asked for (``required``), else no outlook."""
    if getattr(args, "subjects", None) is None:
        if not required:
            return {}
        raise EvaluationError(
            Problem(
                "eval.outlook-records",
                "--next-improvement re-evaluates from the records files with the Python "
                "reader: give --subjects (and --events) files, not tables",
            )
        )
    records = load_records(args.subjects, args.events, encoding=args.encoding)
    source = Outlooks(records, run)
    return {r.subject.id: source.of(r) for r in results}
