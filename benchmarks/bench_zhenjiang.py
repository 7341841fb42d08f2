"""Benchmark the Zhenjiang pack on a synthetic province; numbers go in the issue notes.

    python benchmarks/bench_zhenjiang.py [N] [--data DIR] [--repeat R]

Measures, for N subjects (generated once into DIR by benchmarks/generate.py):

1. end to end: ``yibao-credit evaluate`` in a child process, from JSONL files to results with
   traces written to a file — wall time and the child's peak resident memory;
2. inside one process: pack load, record load, preparation (checks and grouping), the
   evaluation step alone, and rendering with traces;
3. the hand-written baseline (benchmarks/handwritten_zhenjiang.py) over the same records, and
   the ratio of the engine's evaluation step to it. It also checks that both give the same
   status, grade and exclusion for every subject.

Timings are the best of R repeats (other work on a 2-core machine only ever adds time). Never
used as assertions in tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.generate import generate  # noqa: E402
from benchmarks.handwritten_zhenjiang import grade_all, group_events  # noqa: E402
from benchmarks.timing import best_of, end_to_end_by_trace, in_process  # noqa: E402
from yibao_credit.engine.run import run  # noqa: E402

AS_OF = dt.date(2024, 12, 31)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=100_000)
    parser.add_argument("--data", type=Path, help="data folder (default benchmarks/out/N)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--policy", type=Path, default=ROOT / "policies" / "zhenjiang.yaml")
    args = parser.parse_args(argv)
    data = args.data or ROOT / "benchmarks" / "out" / str(args.n)
    if not (data / "events.jsonl").exists():
        print(f"generating {args.n} subjects into {data} …", file=sys.stderr)
        generate(args.n, data, seed=0, as_of=AS_OF)
    e2e = end_to_end_by_trace(args.policy, data, args.repeat, AS_OF)
    stages = in_process(args.policy, data, args.repeat, AS_OF)
    records, prepared, result = stages.records, stages.prepared, stages.result
    t_pack, t_load, t_prep = stages.load_pack, stages.load_records, stages.prepare
    t_eval, t_render = stages.run, stages.render_full

    t_group, grouped = best_of(args.repeat, lambda: group_events(records.events, AS_OF))
    t_hand, hand = best_of(args.repeat, lambda: grade_all(records.subjects, grouped, AS_OF))
    # As the command line runs (the cyclic collector off for the process), for both.
    gc.disable()
    try:
        t_eval_nogc, _ = best_of(args.repeat, lambda: run(prepared))
        t_hand_nogc, _ = best_of(args.repeat, lambda: grade_all(records.subjects, grouped, AS_OF))
    finally:
        gc.enable()

    mismatches = [
        r.subject.id for r in result if hand[r.subject.id] != (r.status, r.grade, r.exclusion)
    ]
    grades = Counter(r.grade or f"excluded:{r.exclusion}" for r in result)
    report = {
        "n_subjects": len(records.subjects),
        "n_events": len(records.events),
        "end_to_end_by_trace": e2e,
        "in_process_s": {
            "load_pack": round(t_pack, 3),
            "load_records": round(t_load, 2),
            "prepare_check_and_group": round(t_prep, 2),
            "evaluate_step": round(t_eval, 2),
            "render_jsonl_with_traces": round(t_render, 2),
        },
        "handwritten_s": {"group": round(t_group, 2), "grade_all": round(t_hand, 2)},
        "evaluate_vs_handwritten": round(t_eval / t_hand, 2),
        "without_cyclic_gc_s": {
            "evaluate_step": round(t_eval_nogc, 2),
            "handwritten_grade_all": round(t_hand_nogc, 2),
            "ratio": round(t_eval_nogc / t_hand_nogc, 2),
        },
        "prepare_plus_evaluate_vs_handwritten_group_plus_grade": round(
            (t_prep + t_eval) / (t_group + t_hand), 2
        ),
        "mismatches_with_handwritten": len(mismatches),
        "grades": dict(sorted(grades.items())),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    print(json.dumps(report, ensure_ascii=False, indent=2))
    (data / "bench.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    if mismatches:
        print(f"MISMATCH with the hand-written rules, first: {mismatches[:5]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
