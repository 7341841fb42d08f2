"""``analyze`` and ``report``: the analysis of a trial evaluation (济医保字〔2023〕19号 四(二)5,
四(三)) as tables, JSON or CSV, and as one self-contained HTML file.

Both evaluate as ``evaluate`` does (the same options and engines); ``cli.main`` hands over its
argument setup, its run and its output check, so that this module imports nothing of it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from yibao_credit.cli.output import Output
from yibao_credit.engine.results import Run
from yibao_credit.policy import Policy
from yibao_credit.render.analysis import (
    DEFAULT_BY,
    DIMENSIONS,
    FORMATS,
    analysis_html,
    analyze,
    write_analysis,
)

EvaluateArgs = Callable[[argparse.ArgumentParser], None]
RunArgs = Callable[..., tuple[Policy, frozenset[str], Run]]
OutputOf = Callable[[argparse.Namespace], Output]


def _top(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"--top must be at least 1, not {n}")
    return n


def _analysis_args(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--by",
        nargs="+",
        choices=DIMENSIONS,
        default=list(DEFAULT_BY),
        metavar="DIM",
        help="count and compare by these: region, group, category, level, ruleset "
        f"(default: {' '.join(DEFAULT_BY)}); results are always also analysed by grade",
    )
    sub.add_argument(
        "--top",
        type=_top,
        default=10,
        help="how many subjects furthest from their peers' median to list (default 10)",
    )
    sub.add_argument("--output", help="write here instead of standard output")


def register(subs: Any, evaluate_args: EvaluateArgs, run: RunArgs, output_of: OutputOf) -> None:
    """Add ``analyze`` and ``report`` to the command's subparsers. ``evaluate_args``,
    ``run`` and ``output_of`` are ``cli.main``'s option setup, evaluation and ``--output``
    check (passed in: importing them would make an import cycle)."""

    def cmd_analyze(args: argparse.Namespace) -> int:
        output = output_of(args)
        _policy, _ids, result = run(args, evidence=False)
        analysis = analyze(result, args.by, args.top)
        with output.open() as out:
            write_analysis(analysis, out, args.format, args.lang)
        return 0

    def cmd_report(args: argparse.Namespace) -> int:
        output = output_of(args)
        policy, _ids, result = run(args, evidence=False)
        analysis = analyze(result, args.by, args.top)
        page = analysis_html(analysis, args.lang, policy.model.pack.name.get(args.lang))
        with output.open() as out:
            out.write(page)
        return 0

    an = subs.add_parser(
        "analyze",
        help="distributions by region, group, category and grade; score and indicator "
        "statistics; key indicators; subjects furthest from their peers",
    )
    evaluate_args(an)
    an.add_argument("--format", choices=FORMATS, default="table")
    _analysis_args(an)
    an.set_defaults(func=cmd_analyze)

    rp = subs.add_parser(
        "report",
        help="the analysis as one self-contained HTML file (inline SVG charts, no scripts, "
        "nothing fetched)",
    )
    evaluate_args(rp)
    _analysis_args(rp)
    rp.set_defaults(func=cmd_report)
