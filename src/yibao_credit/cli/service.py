"""``serve`` and ``decisions verify|replay``: the HTTP service and its log (docs/service.md).

FastAPI and uvicorn are the ``service`` extra: only ``serve`` imports them, and without them
it says which extra to install. The log commands need the core alone.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from typing import Any

from yibao_credit.errors import Problem
from yibao_credit.service.config import ServiceConfig
from yibao_credit.service.decisions import DEFAULT_ROTATE_BYTES, verify
from yibao_credit.service.replay import replay

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def add_service_commands(subs: Any) -> None:
    se = subs.add_parser("serve", help="the HTTP API (FastAPI on uvicorn; the service extra)")
    se.add_argument(
        "--packs",
        nargs="+",
        default=[],
        metavar="DIR|ID",
        help="bundled pack ids, pack files, folders of versions or folders of packs "
        "(default: every bundled pack)",
    )
    se.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    se.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    se.add_argument(
        "--token-file",
        help="bearer tokens, one ID:TOKEN per line (mode 600); required unless the host is "
        "a loopback address",
    )
    se.add_argument("--decision-log", required=True, help="folder of the hash-chained decision log")
    se.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    se.add_argument(
        "--max-body-bytes",
        type=int,
        default=32 * 1024 * 1024,
        help="larger bodies get 413 (default 32 MiB)",
    )
    se.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="seconds a call may run before it is stopped with 503 (default 30)",
    )
    se.add_argument(
        "--personal",
        action="append",
        default=[],
        metavar="FIELD",
        help="mask this input field in the log (subjects.name, events.attributes.*); repeat",
    )
    se.add_argument(
        "--rotate-bytes",
        type=int,
        default=DEFAULT_ROTATE_BYTES,
        help="start a new log file past this size (default 64 MiB); the chain runs on",
    )
    se.add_argument(
        "--no-fsync",
        action="store_true",
        help="do not fsync each log line (faster; a power cut may lose the last lines)",
    )
    se.set_defaults(func=cmd_serve)

    de = subs.add_parser("decisions", help="check or replay the service's decision log")
    de_subs = de.add_subparsers(dest="decisions_cmd", required=True)
    ve = de_subs.add_parser("verify", help="check the hash chain; exit 1 at any break")
    ve.add_argument("folder", help="the --decision-log folder")
    ve.add_argument("--expect-head", help="the head sha256 recorded elsewhere, to compare")
    ve.set_defaults(func=cmd_verify)
    re_ = de_subs.add_parser(
        "replay", help="evaluate a logged decision again; exit 1 unless identical"
    )
    re_.add_argument("folder", help="the --decision-log folder")
    re_.add_argument("--id", required=True, dest="decision_id", help="the decision id")
    re_.set_defaults(func=cmd_replay)


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from yibao_credit.service.app import ENV, start
    except ImportError as exc:
        sys.stderr.write(
            f"error: serve needs the service extra ({exc.name} is missing): "
            "pip install 'yibao-credit[service]'\n"
        )
        return 1
    if args.token_file is None and args.host not in LOOPBACK:
        sys.stderr.write(
            f"error: --host {args.host} is reachable from other machines: give --token-file "
            "(without tokens the service listens only on a loopback address)\n"
        )
        return 2
    config = ServiceConfig(
        packs=args.packs,
        decision_log=os.path.abspath(args.decision_log),
        token_file=os.path.abspath(args.token_file) if args.token_file else None,
        max_body_bytes=args.max_body_bytes,
        timeout=args.timeout,
        personal=args.personal,
        rotate_bytes=args.rotate_bytes,
        fsync=not args.no_fsync,
    )
    service = start(config)  # every problem of packs, tokens and log, before listening
    names = ", ".join(f"{p.id} ({len(p.versions)} version(s))" for p in service.packs.values())
    sys.stderr.write(f"serving {names} on http://{args.host}:{args.port}\n")
    if service.callers is None:
        sys.stderr.write("warning: no --token-file: every caller is let in (loopback only)\n")
    del service
    os.environ[ENV] = config.model_dump_json()
    gc.enable()  # the CLI turns the collector off for batch runs; a server runs for months
    uvicorn.run(
        "yibao_credit.service.app:from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
    )
    return 0


def _print_problems(problems: list[Problem]) -> None:
    for p in problems:
        sys.stderr.write(f"error: {p}\n")


def cmd_verify(args: argparse.Namespace) -> int:
    result = verify(args.folder, args.expect_head)
    _print_problems(result.problems)
    state = "BROKEN" if result.problems else "intact"
    print(f"{result.count} decision(s); chain {state}; head {result.head}")
    return 1 if result.problems else 0


def cmd_replay(args: argparse.Namespace) -> int:
    outcome = replay(args.folder, args.decision_id)
    line = outcome.decision
    pack = line["pack"]
    print(
        json.dumps(
            {
                "decision_id": line["decision_id"],
                "endpoint": line["endpoint"],
                "pack": pack,
                "as_of": line["as_of"],
                "identical": outcome.identical,
                "same_outcomes": outcome.same_outcomes,
                "input_intact": outcome.input_intact,
                "logged_result_sha256": line["result_sha256"],
                "replayed_result_sha256": outcome.result_sha256,
            },
            ensure_ascii=False,
            indent=2,
        )
    )
    if outcome.input_intact is False:
        sys.stderr.write("error: the logged input does not hash to the logged input_sha256\n")
        return 1
    if outcome.identical:
        return 0
    if line.get("masked"):
        sys.stderr.write(
            f"note: {line['masked']} personal field(s) were masked in the log, so the replay "
            "ran on the masked input; "
            + (
                "every subject's outcome is the same"
                if outcome.same_outcomes
                else "outcomes differ"
            )
            + "\n"
        )
        return 0 if outcome.same_outcomes else 1
    sys.stderr.write("error: the replayed result differs from the logged one\n")
    return 1
