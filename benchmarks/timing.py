"""Timing shared by the benchmarks: best of R runs in process, and the command line end to
end in a child process with its own peak memory."""

from __future__ import annotations

import datetime as dt
import gc
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

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
