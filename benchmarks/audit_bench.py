"""Benchmark the claims audit (huzhou_audit, 14 rules) on synthetic cities; numbers go in the
issue notes.

    python benchmarks/audit_bench.py [--sizes 100000,300000,1000000] [--work DIR]
        [--repeat R] [--json FILE] [--no-stages]

For each size (claims; the lines are about 10 a claim) a city is generated once into
``WORK/city-N`` by benchmarks/claims_city.py, as CSV, and reused while its planted.json says it
is that city. Then, each in a fresh child process so that its peak resident memory is its own
(``getrusage(RUSAGE_CHILDREN).ru_maxrss`` read by a wrapper process):

1. end to end: ``yibao-credit audit huzhou_audit`` over the five files, hits written to a file
   — wall time and peak RSS; the hits are checked against planted.json (every planted
   anomaly found, nothing else);
2. stages: the same audit through ``audit.run``'s pieces, loading once (``load_claims``: read,
   check, type) and then timing each rule's table of hits alone;
3. the hand-written baseline: DuckDB reading the same claims and lines CSV files and summing
   the lines' amounts per institution (one join, one GROUP BY) — and the ratio of the audit's
   wall time to it.

Timings are the best of R runs; the machine has 2 cores shared with other work, so they are
rough. Never used as assertions in tests.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.claims_city import generate  # noqa: E402

SEED = 0

PROBE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE, "
    "text=True); w = time.perf_counter() - t; "
    "sys.stderr.write(done.stderr[-4000:]) if done.returncode else None; "
    "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(done.returncode, w, u.ru_utime + u.ru_stime, u.ru_maxrss); "
    "print(done.stdout, end='')"
)
"""A wrapper process: runs one command, then prints its exit code, wall seconds, CPU seconds
(user + system, every thread) and peak RSS (KiB, Linux), then what the command printed."""


@dataclass
class Measure:
    wall: float
    cpu: float
    """CPU seconds of every thread: less disturbed than wall time by other work."""
    rss_mib: float
    stdout: str

    def cells(self) -> dict[str, float]:
        return {
            "seconds": round(self.wall, 2),
            "cpu_s": round(self.cpu, 2),
            "peak_rss_mib": round(self.rss_mib),
        }


def measured(cmd: list[str]) -> Measure:
    """Wall and CPU seconds, peak RSS and standard output of ``cmd`` in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *cmd], check=True, capture_output=True, text=True
    )
    head, _, out = done.stdout.partition("\n")
    code, wall, cpu, kib = head.split()
    if code != "0":
        raise SystemExit(f"{' '.join(cmd)} failed ({code}):\n{done.stderr}")
    return Measure(float(wall), float(cpu), float(kib) / 1024, out)


def best(repeat: int, cmd: list[str]) -> Measure:
    """The fastest of ``repeat`` runs (other work on a small machine only ever adds time)."""
    return min((measured(cmd) for _ in range(repeat)), key=lambda m: m.wall)


def _cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def city(work: Path, n: int) -> tuple[Path, dict[str, Any]]:
    """The city of ``n`` claims in ``work``, generated when absent or not the same city."""
    folder = work / f"city-{n}"
    planted = folder / "planted.json"
    if planted.exists():
        data: dict[str, Any] = json.loads(planted.read_text(encoding="utf-8"))
        if (data["seed"], data["format"], data["counts"]["claims"]) == (SEED, "csv", n):
            return folder, data
    print(f"generating {n} claims into {folder} …", file=sys.stderr)
    t = time.perf_counter()
    data = generate(n, folder, seed=SEED, fmt="csv")
    print(f"  {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return folder, data


def _files(folder: Path, data: dict[str, Any]) -> dict[str, str]:
    return {k: str(folder / v) for k, v in data["files"].items()}


def audit_command(folder: Path, data: dict[str, Any], out: Path) -> list[str]:
    f = _files(folder, data)
    cmd = [sys.executable, "-m", "yibao_credit.cli", "audit", "huzhou_audit"]
    for name in ("claims", "lines", "insured", "subjects", "stock"):
        cmd += [f"--{name}", f[name]]
    period = data["period"]
    return [*cmd, "--from", period["from"], "--to", period["to"], "--output", str(out)]


def check_hits(out: Path, data: dict[str, Any]) -> dict[str, int]:
    """How many planted anomalies the hits file names, and how many hits are not planted."""
    hits = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    got = {(h["rule"], tuple(h["claim_ids"])) for h in hits}
    want = {(a["rule"], tuple(a["claim_ids"])) for a in data["anomalies"]}
    return {"planted": len(want), "found": len(want & got), "not_planted": len(got - want)}


# -- the child processes --------------------------------------------------------------------


def stages(folder: Path) -> dict[str, Any]:
    """Load once, then each rule's table of hits alone (run in a child process)."""
    import duckdb

    from yibao_credit.audit.compile import load_audit_pack
    from yibao_credit.audit.plan import hits_table, program
    from yibao_credit.audit.run import DuckAudit, prepare, read_institutions
    from yibao_credit.sql.claims import load_claims

    data = json.loads((folder / "planted.json").read_text(encoding="utf-8"))
    f = _files(folder, data)
    start = dt.date.fromisoformat(data["period"]["from"])
    end = dt.date.fromisoformat(data["period"]["to"])
    t0, c0 = time.perf_counter(), _cpu()
    pack = load_audit_pack("huzhou_audit")
    institutions = read_institutions(f["subjects"])
    con = duckdb.connect()
    tables = load_claims(
        con,
        claims=f["claims"],
        lines=f["lines"],
        insured=f["insured"],
        stock=f["stock"],
        subjects_ids={s["id"] for s in institutions},
    )
    t_load, c_load = time.perf_counter() - t0, _cpu() - c0
    rss_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    db = DuckAudit(con)
    prepare(db, pack, institutions)
    plan = program(pack, start, end, pack.rules)
    by_id = {r.rule.id: r for r in pack.rules}
    rules: dict[str, dict[str, Any]] = {}
    for step in plan.steps:
        if step.kind == "view":
            db.view(step.name, step.query)
            continue
        t, c = time.perf_counter(), _cpu()
        db.table(step.name, step.query)
        seconds, cpu = time.perf_counter() - t, _cpu() - c
        rule = by_id[step.rule or ""]
        n = db.rows(f"SELECT COUNT(*) FROM {hits_table(rule)}")[0][0]
        rules[rule.rule.id] = {
            "logic": rule.logic.name,
            "seconds": round(seconds, 3),
            "cpu_s": round(cpu, 3),
            "hits": n,
        }
    return {
        "load_s": round(t_load, 2),
        "load_cpu_s": round(c_load, 2),
        "peak_rss_after_load_mib": round(rss_load),
        "rules_s": round(sum(r["seconds"] for r in rules.values()), 2),
        "rules_cpu_s": round(sum(r["cpu_s"] for r in rules.values()), 2),
        "fast": tables.fast,
        "rules": rules,
    }


BASELINE = """
SELECT c.institution_id, SUM(CAST(l.amount AS DECIMAL(18,2))) AS amount
FROM read_csv(?, header = true, all_varchar = true) l
JOIN read_csv(?, header = true, all_varchar = true) c ON c.id = l.claim_id
GROUP BY c.institution_id"""


def baseline(folder: Path) -> dict[str, Any]:
    """The hand-written baseline: one join and one GROUP BY over the same CSV files."""
    import duckdb

    data = json.loads((folder / "planted.json").read_text(encoding="utf-8"))
    f = _files(folder, data)
    t, c = time.perf_counter(), _cpu()
    rows = duckdb.connect().execute(BASELINE, [f["lines"], f["claims"]]).fetchall()
    return {
        "seconds": round(time.perf_counter() - t, 2),
        "cpu_s": round(_cpu() - c, 2),
        "institutions": len(rows),
    }


# -- the benchmark --------------------------------------------------------------------------


def bench(work: Path, n: int, repeat: int, with_stages: bool) -> dict[str, Any]:
    folder, data = city(work, n)
    me = [sys.executable, str(Path(__file__).resolve())]
    out = folder / "hits.jsonl"
    audit = best(repeat, audit_command(folder, data, out))
    report: dict[str, Any] = {
        "claims": data["counts"]["claims"],
        "lines": data["counts"]["lines"],
        "csv_mib": round(sum((folder / v).stat().st_size for v in data["files"].values()) / 2**20),
        "audit": audit.cells(),
        "hits": check_hits(out, data),
    }
    base = best(repeat, [*me, "--baseline", str(folder)])
    report["baseline"] = {**base.cells(), "in_process": json.loads(base.stdout)}
    report["ratio_audit_to_baseline"] = round(audit.wall / base.wall, 1)
    report["ratio_audit_to_baseline_cpu"] = round(audit.cpu / base.cpu, 1)
    if with_stages:
        st = measured([*me, "--stages", str(folder)])
        report["stages"] = {**json.loads(st.stdout), **st.cells()}
    return report


def table(reports: list[dict[str, Any]]) -> str:
    """Wall seconds (CPU seconds in brackets) and peak RSS; then each rule's table alone."""
    head = (
        f"{'claims':>9} {'lines':>10} {'CSV MiB':>7} {'audit s (cpu)':>14} {'RSS MiB':>7} "
        f"{'baseline s (cpu)':>16} {'ratio':>5} {'load s (cpu)':>13} {'rules s (cpu)':>13} "
        f"{'found':>6}"
    )
    out = [head]

    def pair(wall: Any, cpu: Any) -> str:
        return f"{wall} ({cpu})"

    for r in reports:
        s = r.get("stages", {})
        h, a, b = r["hits"], r["audit"], r["baseline"]
        out.append(
            f"{r['claims']:>9} {r['lines']:>10} {r['csv_mib']:>7} "
            f"{pair(a['seconds'], a['cpu_s']):>14} {a['peak_rss_mib']:>7} "
            f"{pair(b['seconds'], b['cpu_s']):>16} {r['ratio_audit_to_baseline']:>5} "
            f"{pair(s.get('load_s', '-'), s.get('load_cpu_s', '-')):>13} "
            f"{pair(s.get('rules_s', '-'), s.get('rules_cpu_s', '-')):>13} "
            f"{h['found']:>3}/{h['planted']}"
            + (f" +{h['not_planted']} not planted" if h["not_planted"] else "")
        )
    rules = [r for r in reports if "stages" in r]
    if rules:
        ids = list(rules[0]["stages"]["rules"])
        out.append("")
        out.append(f"{'per rule, s (cpu)':<27} " + " ".join(f"{r['lines']:>14}" for r in rules))
        for rid in ids:
            logic = rules[0]["stages"]["rules"][rid]["logic"]
            cells = " ".join(
                f"{pair(x['seconds'], x['cpu_s']):>14}"
                for x in (r["stages"]["rules"][rid] for r in rules)
            )
            out.append(f"{rid} {logic:<21} {cells}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,300000,1000000", help="claims, comma-separated")
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "out" / "audit")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--json", type=Path, help="report file (default WORK/audit_bench.json)")
    parser.add_argument("--no-stages", action="store_true", help="skip the per-rule timings")
    parser.add_argument("--stages", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stages:
        print(json.dumps(stages(args.stages)))
        return 0
    if args.baseline:
        print(json.dumps(baseline(args.baseline)))
        return 0
    args.work.mkdir(parents=True, exist_ok=True)
    reports = []
    for n in (int(x) for x in args.sizes.split(",")):
        reports.append(bench(args.work, n, args.repeat, not args.no_stages))
        print(table(reports[-1:]), file=sys.stderr)
    target = args.json or args.work / "audit_bench.json"
    target.write_text(json.dumps(reports, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    sys.stdout.write(table(reports))
    print(f"→ {target}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
