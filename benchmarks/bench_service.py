"""The HTTP service on loopback: one-subject latency and throughput, and a batch end to end.

    python benchmarks/bench_service.py [--requests 5000] [--clients 8] [--batch 10000]

Starts ``yibao-credit serve`` on 127.0.0.1 (a free port, a fresh decision log, fsync on as in
production) with 1 and then 2 workers and sends ``--requests`` one-subject ``evaluate`` calls
from ``--clients`` threads, each with its own keep-alive connection: p50 / p95 / p99 latency
and requests per second. The baseline, measured in the same run, is the same call made in
process (``Policy.evaluate`` and the JSON Lines renderer, no HTTP, no log). Then one
``--batch``-subject call (benchmarks/generate.py's province) against the CLI on the same
records written as files. Only loopback is touched, and the counts are bounded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from yibao_credit import load_policy
from yibao_credit.render.results import render

ROOT = Path(__file__).resolve().parent.parent
SUBJECT = {
    "id": "ZJH900",
    "name": "样例医院",
    "type": "institution",
    "category": "hospital",
    "level": "二级",
    "beds": 300,
    "inpatient": True,
    "region": "321102",
    "designated_on": "2015-03-01",
}
EVENTS = [
    {
        "id": "E1",
        "subject_id": "ZJH900",
        "kind": "violation",
        "date": "2024-05-06",
        "severity": "一般",
        "amount": 12800,
    }
]
CALL = {"subjects": [SUBJECT], "events": EVENTS, "as_of": "2024-12-31", "trace": "decisive"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(workers: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "yibao_credit",
            "serve",
            "--packs",
            "zhenjiang",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--decision-log",
            str(log),
        ],
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("serve did not start")


def load(url: str, requests: int, clients: int) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = requests // clients

    def client() -> None:
        mine = []
        with httpx.Client(timeout=30) as http:
            for _ in range(per_client):
                start = time.perf_counter()
                answer = http.post(f"{url}/v1/packs/zhenjiang/evaluate", json=CALL)
                mine.append(time.perf_counter() - start)
                assert answer.status_code == 200, answer.text
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "p50_ms": q[49] * 1000,
        "p95_ms": q[94] * 1000,
        "p99_ms": q[98] * 1000,
        "rps": len(latencies) / wall,
    }


def sequential(url: str, n: int) -> dict[str, float]:
    """One client, one call at a time: latency without queueing."""
    with httpx.Client(timeout=30) as http:
        times = []
        for _ in range(n):
            start = time.perf_counter()
            http.post(f"{url}/v1/packs/zhenjiang/evaluate", json=CALL).raise_for_status()
            times.append(time.perf_counter() - start)
    q = statistics.quantiles(times, n=100)
    return {"p50_ms": q[49] * 1000, "p95_ms": q[94] * 1000}


def in_process(n: int) -> dict[str, float]:
    policy = load_policy("zhenjiang")
    as_of = dt.date(2024, 12, 31)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        render(policy.evaluate([SUBJECT], EVENTS, as_of=as_of), "jsonl", "zh", "decisive")
        times.append(time.perf_counter() - start)
    q = statistics.quantiles(times, n=100)
    return {"p50_ms": q[49] * 1000, "p95_ms": q[94] * 1000}


def batch(url: str, size: int, work: Path) -> dict[str, float]:
    data = work / "province"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "generate.py"),
            str(size),
            str(data),
            "--as-of",
            "2024-12-31",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subjects = data / "subjects.jsonl"
    events = data / "events.jsonl"
    started = time.perf_counter()
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "yibao_credit",
            "evaluate",
            "zhenjiang",
            "--subjects",
            str(subjects),
            "--events",
            str(events),
            "--as-of",
            "2024-12-31",
            "--trace",
            "decisive",
        ],
        check=True,
        capture_output=True,
    )
    cli_s = time.perf_counter() - started
    started = time.perf_counter()
    body = {
        "subjects": [json.loads(line) for line in subjects.read_text("utf-8").splitlines()],
        "events": [json.loads(line) for line in events.read_text("utf-8").splitlines()],
        "as_of": "2024-12-31",
        "trace": "decisive",
    }
    answer = httpx.post(
        f"{url}/v1/packs/zhenjiang/evaluate",
        json=body,
        headers={"Accept": "application/x-ndjson"},
        timeout=600,
    )
    service_s = time.perf_counter() - started
    assert answer.status_code == 200, answer.text[:500]
    return {
        "subjects": size,
        "body_mb": len(json.dumps(body).encode()) / 2**20,
        "cli_s": cli_s,
        "service_s": service_s,
        "ratio": service_s / cli_s,
        "same_bytes": answer.content == cli.stdout,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=10000)
    args = parser.parse_args()
    report: dict[str, Any] = {"cores": os.cpu_count()}
    report["in_process"] = in_process(500)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for workers in (1, 2):
            proc, url = serve(workers, work / f"log{workers}")
            try:
                sequential(url, 50)  # warm up every worker
                report[f"sequential_{workers}w"] = sequential(url, 500)
                report[f"load_{workers}w"] = load(url, args.requests, args.clients)
                if workers == 1 and args.batch:
                    report["batch"] = batch(url, args.batch, work)
            finally:
                proc.terminate()
                proc.wait(30)
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
