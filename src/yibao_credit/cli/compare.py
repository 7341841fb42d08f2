"""``compare OLD NEW`` and ``sensitivity PACK --param NAME --range A:B:STEP``.

The trial evaluation and its re-calibration (济医保字〔2023〕19号 四(二)5 进行权重及分值配置,
四(三) 如有明显偏离,再进行指标修订) and a province's yearly indicator tables (苏医保办发〔2023〕26号
二(二)) ask what a change of the rules does to the grades. ``compare`` evaluates the same
records with two packs (or dated versions, or one pack and its ``--set`` values) and prints the
grade migration (render/compare.py); ``sensitivity`` evaluates them once per value of one parameter
and marks where any subject changes grade. Records are read once per command where the engine
allows (the Python engine always; DuckDB once for every value of a sweep).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO

from yibao_credit.cli.output import Output, OutputError
from yibao_credit.cli.overrides import add_set_argument, apply_overrides
from yibao_credit.cli.spark import run_on_spark
from yibao_credit.engine.parameters import value_on
from yibao_credit.engine.results import Run
from yibao_credit.engine.run import evaluate
from yibao_credit.errors import PackError, Problem
from yibao_credit.pack.bundled import resolve_pack
from yibao_credit.pack.manifest import is_manifest, read_manifest
from yibao_credit.policy import Policy, load_policies
from yibao_credit.records.contract import Records
from yibao_credit.records.history import HistoryRecords, read_history
from yibao_credit.records.procedures import ProcedureRecords, read_procedures
from yibao_credit.records.readers import load_records, text_encoding
from yibao_credit.render.compare import (
    COMPARE_FORMATS,
    compare_runs,
    comparison_html,
    sensitivity_of,
    write_comparison,
    write_sensitivity,
)
from yibao_credit.render.results import policy_block
from yibao_credit.render.trace import jsonable
from yibao_credit.sql.run import evaluate_tables
from yibao_credit.sql.session import connect, evaluate_files
from yibao_credit.sql.tables import load_tables

MAX_VALUES = 1000
"""The most values one sweep evaluates: a range that yields more is a usage error (a typo
in STEP, 0.0001 for 0.1, would otherwise run for hours)."""

RecordArgs = Callable[[argparse.ArgumentParser], None]


def register(subs: Any, record_args: RecordArgs) -> None:
    """Add ``compare`` and ``sensitivity``. ``record_args``: ``cli.main``'s options of every
    command that evaluates records (passed in: importing them would make an import cycle)."""
    cp = subs.add_parser(
        "compare",
        help="the same records under two packs, two dated versions or --set values: grade "
        "migration, the subjects that moved and why, score deltas, by region and group",
    )
    cp.add_argument(
        "old",
        metavar="OLD",
        help="the pack before: a file, a folder of dated "
        "versions, a manifest or a bundled pack's id",
    )
    cp.add_argument(
        "new",
        metavar="NEW",
        nargs="?",
        help="the pack after (left out: OLD again, for a reform given by --set)",
    )
    record_args(cp)
    add_set_argument(cp, "NEW's run (OLD keeps the pack's values)")
    cp.add_argument("--format", choices=COMPARE_FORMATS, default="table")
    cp.add_argument("--output", help="write here instead of standard output")
    cp.add_argument(
        "--html", metavar="FILE", help="also write the comparison as one self-contained HTML page"
    )
    cp.set_defaults(func=cmd_compare)

    se = subs.add_parser(
        "sensitivity",
        help="grade counts for each value of one parameter over a range; where grades flip",
    )
    se.add_argument(
        "policy",
        metavar="PACK",
        help="the pack file, a folder of its dated versions, a manifest or a bundled pack's id",
    )
    record_args(se)
    se.add_argument("--param", required=True, metavar="NAME", help="the dated parameter to sweep")
    se.add_argument(
        "--range",
        required=True,
        type=parse_range,
        metavar="A:B:STEP",
        help="from A to B (included when a step lands on it) by STEP, in exact decimals; "
        "a negative A is written --range=-10:0:1",
    )
    add_set_argument(se, "every value's run (other parameters)")
    se.add_argument("--format", choices=COMPARE_FORMATS, default="table")
    se.add_argument("--output", help="write here instead of standard output")
    se.set_defaults(func=cmd_sensitivity)


def parse_range(text: str) -> tuple[Decimal, ...]:
    """``A:B:STEP`` as the exact decimals it names: A, A+STEP, … up to B (0.1 steps never
    drift to 0.30000000000000004). STEP may be negative when B is below A."""
    parts = text.split(":")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"{text!r} is not A:B:STEP (for example 0:100:10)")
    try:
        start, stop, step = (Decimal(p.strip()) for p in parts)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r}: A, B and STEP must be numbers") from None
    if not all(d.is_finite() for d in (start, stop, step)):
        raise argparse.ArgumentTypeError(f"{text!r}: A, B and STEP must be finite numbers")
    if step == 0:
        raise argparse.ArgumentTypeError(f"{text!r}: STEP must not be 0")
    if (stop - start) * step < 0:
        raise argparse.ArgumentTypeError(
            f"{text!r}: STEP {step} goes away from B; use {-step} to go from {start} to {stop}"
        )
    count = int((stop - start) / step) + 1
    if count > MAX_VALUES:
        raise argparse.ArgumentTypeError(
            f"{text!r} gives {count} values; at most {MAX_VALUES} are evaluated: take a "
            "larger STEP or a narrower range"
        )
    return tuple(start + i * step for i in range(count))


# -- running ---------------------------------------------------------------------------------


class _Inputs:
    """The records, earlier results and procedure records a command reads, each read once."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        text_encoding(args.encoding)  # an unknown name is said before anything is read
        self._records: Records | None = None
        self._procedures: ProcedureRecords | None = None
        self._progress = _progress(args)

    def progress(self, stage: str) -> None:
        if self._progress is not None:
            self._progress(stage)

    def records(self) -> Records:
        if self._records is None:
            a = self.args
            self._records = load_records(a.subjects, a.events, encoding=a.encoding)
        return self._records

    def history(self, policy: Policy) -> HistoryRecords | None:
        a = self.args
        if not a.history:
            return None
        return read_history(a.history, policy.id, policy.grade_labels, encoding=a.encoding)

    def procedures(self) -> ProcedureRecords | None:
        a = self.args
        if a.procedures and self._procedures is None:
            self._procedures = read_procedures(a.procedures, encoding=a.encoding)
        return self._procedures

    def run(self, policy: Policy) -> Run:
        """One evaluation, as ``evaluate`` makes it with the same options."""
        a = self.args
        history, procedures = self.history(policy), self.procedures()
        if a.engine == "spark":
            run, _ids = run_on_spark(a, policy, history, procedures, False, None)
            return run
        if a.engine == "python":
            return evaluate(
                policy.plan,
                self.records(),
                a.as_of,
                history=history,
                procedures=procedures,
                on=a.on,
            )
        run, _ids = evaluate_files(
            policy.plan,
            a.subjects,
            a.events,
            a.as_of,
            history=history,
            procedures=procedures,
            on=a.on,
            evidence=False,
            memory_limit=a.memory_limit,
            temp_directory=a.temp_directory,
            encoding=a.encoding,
        )
        return run

    def sweep(self, policies: Sequence[Policy]) -> list[Run]:
        """One evaluation per policy; all are one pack with other values, so the records are
        read once (on DuckDB: into one session, the tables evaluated by each plan)."""
        a = self.args
        if a.engine == "spark":  # each value's program on the session: no tables to share
            return [self.run(p) for p in policies]
        history, procedures = self.history(policies[0]), self.procedures()
        if a.engine == "python":
            records = self.records()
            return [
                evaluate(p.plan, records, a.as_of, history=history, procedures=procedures, on=a.on)
                for p in policies
            ]
        with connect(a.memory_limit, a.temp_directory) as con:
            tables = load_tables(con, policies[0].plan, a.subjects, a.events, encoding=a.encoding)
            return [
                evaluate_tables(
                    p.plan,
                    tables,
                    a.as_of,
                    history=history,
                    procedures=procedures,
                    on=a.on,
                    evidence=False,
                )
                for p in policies
            ]


def _progress(args: argparse.Namespace) -> Callable[[str], None] | None:
    """Progress on standard error when it is a terminal and not ``--quiet``."""
    if args.quiet or not sys.stderr.isatty():
        return None
    started = time.monotonic()

    def report(stage: str) -> None:
        sys.stderr.write(f"[{time.monotonic() - started:6.1f} s] {stage}\n")
        sys.stderr.flush()

    return report


def _warned(args: argparse.Namespace, warnings: Sequence[Problem]) -> bool:
    """Print the warnings, each once; under ``--strict`` as errors, and say nothing is
    written (True: stop)."""
    unique = list(dict.fromkeys(warnings))
    if args.strict and unique:
        for p in unique:
            sys.stderr.write(f"error: {p}\n")
        sys.stderr.write(
            f"error: --strict: {len(unique)} warning(s) taken as errors; nothing written\n"
        )
        return True
    for p in unique:
        sys.stderr.write(f"warning: {p}\n")
    return False


def _pack_inputs(paths: Sequence[str]) -> list[str]:
    """The pack files a command reads, with the folder a manifest names."""
    out: list[str] = []
    for path in paths:
        pack = resolve_pack(path)
        out.append(str(pack))
        if is_manifest(pack):
            with contextlib.suppress(PackError):  # if unreadable, loading it reports it
                out.append(str(read_manifest(pack).folder))
    return out


def _outputs(args: argparse.Namespace, packs: Sequence[str]) -> tuple[Output, Output | None]:
    """``--output`` and ``--html``, checked before any work: never an input, never the same
    file."""
    inputs = [
        *_pack_inputs(packs),
        *(getattr(args, n, None) for n in ("subjects", "events", "history", "procedures")),
    ]
    output = Output(args.output, inputs)
    html = getattr(args, "html", None)
    if html is None:
        return output, None
    if output.path is not None and output.path.resolve() == Path(html).resolve():
        raise OutputError(f"--html {html} is the --output file too: name another file")
    try:
        return output, Output(html, inputs)
    except OutputError as exc:  # its messages name --output
        raise OutputError(str(exc).replace("--output", "--html", 1)) from None


@contextlib.contextmanager
def _open_both(output: Output, html: Output | None) -> Iterator[tuple[TextIO, TextIO | None]]:
    """Both files written whole or neither: the second's failure removes the first."""
    with output.open() as out:
        if html is None:
            yield out, None
        else:
            with html.open() as page:
                yield out, page


# -- the commands ----------------------------------------------------------------------------


def cmd_compare(args: argparse.Namespace) -> int:
    new_path = args.new if args.new is not None else args.old
    output, html = _outputs(args, [args.old, new_path])
    inputs = _Inputs(args)
    old = load_policies(args.old).for_as_of(args.as_of)
    new = load_policies(new_path).for_as_of(args.as_of)
    new, set_warnings = apply_overrides(new, args.set)
    inputs.progress("evaluating OLD")
    old_run = inputs.run(old)
    inputs.progress("evaluating NEW")
    new_run = inputs.run(new)
    if _warned(args, [*set_warnings, *old_run.warnings, *new_run.warnings]):
        return 1
    comparison = compare_runs(old_run, new_run, args.lang)
    with _open_both(output, html) as (out, page):
        write_comparison(comparison, out, args.format)
        if page is not None:
            page.write(comparison_html(comparison, args.lang))
    return 0


def sweep_values(policy: Policy, name: str, values: Sequence[Decimal]) -> list[Any]:
    """The range's decimals as values of the parameter: integers where whole (an ``int``
    parameter takes only those), else the float the decimal prints as. A parameter that is
    not a number is ``cli.sensitivity-not-numeric``."""
    param = policy.model.parameters.get(name)
    if param is not None and param.type not in ("int", "number"):
        raise PackError(
            Problem(
                "cli.sensitivity-not-numeric",
                f"--param {name}: the parameter is of type {param.type}; a range of values "
                "sweeps a parameter of type int or number (give other values with --set)",
                policy.doc.locate(("parameters", name, "type")),
            )
        )
    return [int(d) if d == d.to_integral_value() else float(d) for d in values]


def cmd_sensitivity(args: argparse.Namespace) -> int:
    if args.param in args.set:
        sys.stderr.write(
            f"yibao-credit sensitivity: error: --param {args.param} is also given by --set; "
            "the sweep gives its values\n"
        )
        return 2
    output, _ = _outputs(args, [args.policy])
    inputs = _Inputs(args)
    pack = load_policies(args.policy).for_as_of(args.as_of)
    values = sweep_values(pack, args.param, args.range)
    policies = [pack.with_overrides({**args.set, args.param: v}) for v in values]
    param = pack.model.parameters[args.param]  # known: with_overrides checked the name
    pack_value = value_on(args.param, param, args.as_of, pack.file).value
    inputs.progress(f"evaluating {len(policies)} values")
    runs = inputs.sweep(policies)
    warnings = [*policies[0].override_warnings, *(w for run in runs for w in run.warnings)]
    if _warned(args, warnings):
        return 1
    block = policy_block(pack.plan)
    if args.set:
        block["overrides"] = {n: jsonable(v) for n, v in sorted(args.set.items())}
    result = sensitivity_of(args.param, pack_value, list(zip(values, runs, strict=True)), block)
    with output.open() as out:
        write_sensitivity(result, out, args.format)
    return 0
