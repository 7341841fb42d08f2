"""Spark local[N] against DuckDB and the hand-written reference, on generated provinces.

    python benchmarks/bench_spark.py [N …] [--master local[2]] [--driver-memory 6g] [--repeat R]

For each N (subjects of a generated Zhenjiang province, benchmarks/generate.py, seed 0, about
5 events each): the hand-written reference (benchmarks/reference_zhenjiang.py) and
``yibao-credit evaluate --engine duckdb`` end to end in child processes, then the Spark engine
in this process on one session, phase by phase — Spark's start (once), reading the files and
handing them to Spark, the SQL program, building the results on the driver, rendering — so the
report says where Spark's fixed cost goes. Every engine's output is compared with DuckDB's
byte for byte. Numbers go in the issue notes; nothing here is a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_engines import timed  # noqa: E402
from benchmarks.generate import generate  # noqa: E402
from yibao_credit import load_policy  # noqa: E402
from yibao_credit.render.results import write_jsonl  # noqa: E402

AS_OF = dt.date(2024, 12, 31)
TRACE = "decisive"


def bench(n: int, master: str, memory: str, repeat: int) -> dict[str, object]:
    from yibao_credit.spark.evaluate import run_files
    from yibao_credit.spark.session import local_session

    data = ROOT / "benchmarks" / "out" / str(n)
    if not (data / "events.jsonl").exists():
        print(f"generating {n} subjects into {data} …", file=sys.stderr)
        generate(n, data, seed=0, as_of=AS_OF)
    subjects, events = data / "subjects.jsonl", data / "events.jsonl"
    pack = ROOT / "policies" / "zhenjiang.yaml"
    duck_out, ref_out = data / f"duckdb.{TRACE}.jsonl", data / "reference.jsonl"
    reference = [sys.executable, str(ROOT / "benchmarks" / "reference_zhenjiang.py"),
                 str(subjects), str(events), str(ref_out), "--as-of", AS_OF.isoformat()]
    duck = [sys.executable, "-m", "yibao_credit", "evaluate", str(pack), "--subjects",
            str(subjects), "--events", str(events), "--as-of", AS_OF.isoformat(),
            "--trace", TRACE, "--output", str(duck_out), "--quiet"]  # fmt: skip
    ref_runs = [timed(reference) for _ in range(repeat)]
    duck_runs = [timed(duck) for _ in range(repeat)]

    started = time.perf_counter()
    spark = local_session(master, driver_memory=memory)
    spark.range(1).count()  # the first job starts the executors' threads
    session_s = time.perf_counter() - started
    policy = load_policy(pack)
    phases: dict[str, float] = {}
    best_total = float("inf")
    text = ""
    for _ in range(repeat):
        marks: list[tuple[str, float]] = []
        t0 = time.perf_counter()
        run, _ids = run_files(
            spark,
            policy,
            subjects,
            events,
            AS_OF,
            evidence=True,
            progress=lambda stage, marks=marks: marks.append((stage, time.perf_counter())),
        )
        t_run = time.perf_counter()
        out = io.StringIO()
        write_jsonl(run, out, "zh", TRACE)
        t_end = time.perf_counter()
        total = t_end - t0
        if total < best_total:
            best_total, text = total, out.getvalue()
            stamps = dict(marks)
            phases = {
                "read_and_hand_to_spark": stamps["evaluating"] - t0,
                "sql_program_and_checks": stamps["building results"] - stamps["evaluating"],
                "results_on_driver": t_run - stamps["building results"],
                "render_jsonl": t_end - t_run,
            }
    same = text.encode() == duck_out.read_bytes()
    ref_wall, _ref_rss = min(ref_runs)
    duck_wall, duck_rss = min(duck_runs)
    return {
        "subjects": n,
        "events": sum(1 for _ in events.open()),
        "master": master,
        "reference_s": round(ref_wall, 2),
        "duckdb_s": round(duck_wall, 2),
        "duckdb_peak_rss_mib": round(duck_rss),
        "spark_session_start_s": round(session_s, 2),
        "spark_run_s": round(best_total, 2),
        "spark_phases_s": {k: round(v, 2) for k, v in phases.items()},
        "spark_over_duckdb": round(best_total / duck_wall, 2),
        "spark_with_start_over_duckdb": round((best_total + session_s) / duck_wall, 2),
        "duckdb_over_reference": round(duck_wall / ref_wall, 2),
        "spark_output_equals_duckdb": same,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="*", type=int, default=[100_000])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="6g")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    for n in args.n:
        report = bench(n, args.master, args.driver_memory, args.repeat)
        print(json.dumps(report, ensure_ascii=False))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
