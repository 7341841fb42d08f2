"""Timing shared by the benchmarks: best of R runs in process, and the command line end to
end in a child process with its own peak memory."""

from __future__ import annotations

import datetime as dt
import gc
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from yibao_credit import Records, Run, load_policy, load_records
from yibao_credit.engine.prepare import Prepared, prepare
from yibao_credit.engine.run import run
from yibao_credit.render.results import write_jsonl

T = TypeVar("T")


def best_of(repeat: int, fn: Callable[[], T]) -> tuple[float, T]:
    """The fastest of ``repeat`` runs (other work on a small machine only ever adds time)."""
    best = float("inf")
    value: Any = None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def end_to_end(
    policy: Path, data: Path, out: Path, trace: str, as_of: dt.date
) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of the CLI, each run in a fresh child process so that
    the peak is that run's own."""
    cmd = [
        sys.executable, "-m", "yibao_credit.cli", "evaluate", str(policy),
        "--subjects", str(data / "subjects.jsonl"), "--events", str(data / "events.jsonl"),
        "--as-of", as_of.isoformat(), "--output", str(out), "--trace", trace,
    ]  # fmt: skip
    probe = (
        "import resource, subprocess, sys, time; t = time.perf_counter(); "
        "subprocess.run(sys.argv[1:], check=True, stderr=subprocess.DEVNULL); "
        "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    done = subprocess.run([sys.executable, "-c", probe, *cmd], check=True,
                          capture_output=True, text=True)  # fmt: skip
    wall, peak_kib = done.stdout.split()
    return float(wall), float(peak_kib) / 1024


TRACES = ("full", "decisive", "none")


def end_to_end_by_trace(
    policy: Path, data: Path, repeat: int, as_of: dt.date
) -> dict[str, dict[str, float]]:
    """For each trace level: the best wall time, its peak RSS and the size of what it wrote."""
    out = data / "results"
    e2e: dict[str, dict[str, float]] = {}
    for trace in TRACES:
        target = out.with_suffix(f".{trace}.jsonl")
        wall, rss = min(end_to_end(policy, data, target, trace, as_of) for _ in range(repeat))
        e2e[trace] = {
            "seconds": round(wall, 2),
            "peak_rss_mib": round(rss),
            "output_mib": round(target.stat().st_size / 2**20, 1),
        }
    return e2e


@dataclass
class Stages:
    """One pass through the library in process, each stage timed (best of R where cheap)."""

    load_pack: float
    load_records: float
    prepare: float
    run: float
    render_full: float
    records: Records
    prepared: Prepared
    result: Run


def in_process(policy_path: Path, data: Path, repeat: int, as_of: dt.date) -> Stages:
    t_pack, policy = best_of(1, lambda: load_policy(policy_path))
    t_load, records = best_of(
        1, lambda: load_records(data / "subjects.jsonl", data / "events.jsonl")
    )
    t_prep, prepared = best_of(repeat, lambda: prepare(policy.plan, records, as_of))
    t_run, result = best_of(repeat, lambda: run(prepared))

    def render() -> None:
        with open(os.devnull, "w", encoding="utf-8") as sink:
            write_jsonl(result, sink)

    t_render, _ = best_of(1, render)
    return Stages(t_pack, t_load, t_prep, t_run, t_render, records, prepared, result)
