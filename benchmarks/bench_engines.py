"""The engines against the hand-written reference, end to end, interleaved in one run.

    python benchmarks/bench_engines.py [N …] [--repeat R] [--traces full,decisive,none]

For each N (subjects of a generated Zhenjiang province, benchmarks/generate.py, seed 0):
``yibao-credit evaluate`` in a child process with ``--engine duckdb`` and ``--engine python``
at each trace level, and the reference script (benchmarks/reference_zhenjiang.py) on the same
files, taking turns so that machine noise falls on all of them alike. Reports the best wall
time and peak RSS of each, and each engine's ratio to the reference. Also checks that every
engine gives the reference's status and grade for every subject. Numbers go in the issue
notes; nothing here is a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.generate import generate  # noqa: E402

AS_OF = dt.date(2024, 12, 31)
PROBE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, "
    "stderr=subprocess.DEVNULL); "
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of ``cmd`` in a fresh child process."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *cmd], check=True, capture_output=True, text=True
    )
    wall, kib = done.stdout.split()
    return float(wall), float(kib) / 1024


def grades(path: Path) -> dict[str, tuple[str, str | None]]:
    out = {}
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            out[r["subject_id"]] = (r["status"], r["grade"])
    return out


def bench(n: int, repeat: int, traces: list[str], engines: list[str]) -> dict[str, object]:
    data = ROOT / "benchmarks" / "out" / str(n)
    if not (data / "events.jsonl").exists():
        print(f"generating {n} subjects into {data} …", file=sys.stderr)
        generate(n, data, seed=0, as_of=AS_OF)
    subjects, events = data / "subjects.jsonl", data / "events.jsonl"
    reference_out = data / "reference.jsonl"
    runs: dict[str, list[tuple[float, float]]] = {"reference": []}
    commands: dict[str, tuple[list[str], Path]] = {
        "reference": (
            [sys.executable, str(ROOT / "benchmarks" / "reference_zhenjiang.py"),
             str(subjects), str(events), str(reference_out), "--as-of", AS_OF.isoformat()],
            reference_out,
        )
    }  # fmt: skip
    for engine in engines:
        for trace in traces:
            out = data / f"{engine}.{trace}.jsonl"
            commands[f"{engine}/{trace}"] = (
                [sys.executable, "-m", "yibao_credit", "evaluate",
                 str(ROOT / "policies" / "zhenjiang.yaml"), "--subjects", str(subjects),
                 "--events", str(events), "--as-of", AS_OF.isoformat(), "--engine", engine,
                 "--trace", trace, "--output", str(out), "--quiet"],
                out,
            )  # fmt: skip
            runs[f"{engine}/{trace}"] = []
    for _ in range(repeat):  # interleaved: each round runs every command once
        for name, (cmd, _out) in commands.items():
            runs[name].append(timed(cmd))
    expected = grades(reference_out)
    report: dict[str, object] = {"subjects": n, "events": sum(1 for _ in events.open())}
    ref_wall, ref_rss = min(runs["reference"])
    report["reference"] = {"seconds": round(ref_wall, 2), "peak_rss_mib": round(ref_rss)}
    for name, samples in runs.items():
        if name == "reference":
            continue
        wall, rss = min(samples)
        out = commands[name][1]
        mismatches = sum(1 for sid, g in grades(out).items() if expected.get(sid) != g)
        report[name] = {
            "seconds": round(wall, 2),
            "ratio": round(wall / ref_wall, 2),
            "peak_rss_mib": round(rss),
            "output_mib": round(out.stat().st_size / 2**20, 1),
            "grade_mismatches": mismatches,
        }
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="*", type=int, default=[100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--traces", default="full,decisive,none")
    parser.add_argument("--engines", default="duckdb,python")
    args = parser.parse_args(argv)
    for n in args.n:
        report = bench(n, args.repeat, args.traces.split(","), args.engines.split(","))
        print(json.dumps(report, ensure_ascii=False))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
