"""Benchmark the Shenzhen pack on a synthetic city; numbers go in the issue notes.

    python benchmarks/bench_shenzhen.py [N] [--data DIR] [--repeat R] [--compare BENCH.json]

For N institutions, 4N practitioners and N/50 insured persons (generated once into DIR by
benchmarks/generate_shenzhen.py) it measures:

1. end to end: ``python -m yibao_credit.cli evaluate`` in a child process, from JSONL files to
   results written to a file with ``--trace full``, ``decisive`` and ``none`` — wall time and
   the child's peak resident memory;
2. inside one process: pack load, record load (``load_records``), preparation
   (``yibao_credit.engine.prepare``: checks, groups, repairs), the evaluation step
   (``yibao_credit.engine.run``) and rendering with full traces
   (``yibao_credit.render.write_jsonl``).

Every figure is also given per subject (microseconds). With ``--compare`` (the JSON that
benchmarks/bench_zhenjiang.py writes) the Zhenjiang figures per subject are set beside them.
Timings are the best of R repeats (other work on a small machine only ever adds time). Never
used as assertions in tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.generate_shenzhen import generate  # noqa: E402
from benchmarks.timing import TRACES, end_to_end_by_trace, in_process  # noqa: E402

AS_OF = dt.date(2024, 12, 31)


def per_subject_us(seconds: float, subjects: int) -> float:
    return round(seconds / max(subjects, 1) * 1e6, 2)


def compare(ours: dict[str, Any], path: Path) -> dict[str, Any]:
    """Per-subject figures beside those of a Zhenjiang bench.json."""
    zj = json.loads(path.read_text(encoding="utf-8"))
    n_zj = zj["n_subjects"]
    n_sz = ours["n_subjects"]
    rows: dict[str, Any] = {}
    for trace in TRACES:
        a, b = ours["end_to_end_by_trace"][trace], zj["end_to_end_by_trace"][trace]
        rows[f"end_to_end_{trace}_us"] = {
            "shenzhen": per_subject_us(a["seconds"], n_sz),
            "zhenjiang": per_subject_us(b["seconds"], n_zj),
        }
        rows[f"end_to_end_{trace}_peak_rss_kib"] = {
            "shenzhen": round(a["peak_rss_mib"] * 1024 / n_sz, 2),
            "zhenjiang": round(b["peak_rss_mib"] * 1024 / n_zj, 2),
        }
        rows[f"end_to_end_{trace}_output_bytes"] = {
            "shenzhen": round(a["output_mib"] * 2**20 / n_sz),
            "zhenjiang": round(b["output_mib"] * 2**20 / n_zj),
        }
    pairs = {
        "load_records": "load_records",
        "prepare": "prepare_check_and_group",
        "run": "evaluate_step",
        "render_jsonl_full": "render_jsonl_with_traces",
    }
    for mine, theirs in pairs.items():
        rows[f"{mine}_us"] = {
            "shenzhen": ours["per_subject_us"][mine],
            "zhenjiang": per_subject_us(zj["in_process_s"][theirs], n_zj),
        }
    return {
        "file": str(path),
        "zhenjiang_subjects": n_zj,
        "zhenjiang_events": zj["n_events"],
        "events_per_subject": {
            "shenzhen": round(ours["n_events"] / n_sz, 3),
            "zhenjiang": round(zj["n_events"] / n_zj, 3),
        },
        "per_subject": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("n", nargs="?", type=int, default=100_000, help="institutions")
    parser.add_argument("--data", type=Path, help="data folder (default benchmarks/out/sz-N)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--policy", type=Path, default=ROOT / "policies" / "shenzhen.yaml")
    parser.add_argument("--compare", type=Path, help="a Zhenjiang bench.json to compare with")
    args = parser.parse_args(argv)
    data = args.data or ROOT / "benchmarks" / "out" / f"sz-{args.n}"
    if not (data / "events.jsonl").exists():
        print(f"generating {args.n} institutions into {data} …", file=sys.stderr)
        generate(args.n, data, seed=0, as_of=AS_OF)
    e2e = end_to_end_by_trace(args.policy, data, args.repeat, AS_OF)
    stages = in_process(args.policy, data, args.repeat, AS_OF)
    records, result = stages.records, stages.result
    t_pack, t_load, t_prep = stages.load_pack, stages.load_records, stages.prepare
    t_run, t_render = stages.run, stages.render_full

    n = len(records.subjects)
    by_type = Counter(s.type for s in records.subjects)
    grades: dict[str, Counter[str]] = {}
    groups: Counter[str] = Counter()
    for r in result:
        grades.setdefault(r.ruleset.id, Counter())[r.grade or f"excluded:{r.exclusion}"] += 1
        if r.group:
            groups[r.group] += 1
    raw = {
        "load_pack": t_pack,
        "load_records": t_load,
        "prepare": t_prep,
        "run": t_run,
        "render_jsonl_full": t_render,
    }
    stage_s = {k: round(v, 3 if k == "load_pack" else 2) for k, v in raw.items()}
    report: dict[str, Any] = {
        "n_subjects": n,
        "subjects_by_type": dict(sorted(by_type.items())),
        "n_events": len(records.events),
        "end_to_end_by_trace": e2e,
        "in_process_s": stage_s,
        "per_subject_us": {
            **{f"end_to_end_{t}": per_subject_us(e2e[t]["seconds"], n) for t in TRACES},
            **{k: per_subject_us(v, n) for k, v in raw.items() if k != "load_pack"},
        },
        "warnings": [w.code for w in result.warnings],
        "grades": {rs: dict(sorted(c.items())) for rs, c in sorted(grades.items())},
        "groups": dict(sorted(groups.items())),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    if args.compare is not None:
        report["compare_zhenjiang"] = compare(report, args.compare)
    text = json.dumps(report, ensure_ascii=False, indent=2)
    print(text)
    (data / "bench.json").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
