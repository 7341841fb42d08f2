"""Replay a logged decision: the same call, on the same pack bytes (the log's copy, checked
against the logged sha256), through the same code as the service; then say whether the result
is byte-identical to what was answered (its sha256 is in the log line)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yibao_credit.errors import Location, Problem
from yibao_credit.policy import PolicySet, load_policy
from yibao_credit.service.calls import CALLS, answer
from yibao_credit.service.decisions import (
    DecisionLogError,
    canonical_json,
    find,
    kept_pack,
    sha256_text,
)


@dataclass
class Replay:
    decision: dict[str, Any]
    identical: bool
    """The replayed result's sha256 is the logged one."""
    same_outcomes: bool
    """Every subject's status, grade, score and exclusion are the logged ones."""
    input_intact: bool | None
    """The logged input hashes to the logged ``input_sha256`` (None: fields were masked, so
    the logged input is not the input and cannot be checked)."""
    result_sha256: str


def replay(folder: str | Path, decision_id: str) -> Replay:
    root = Path(folder)
    line = find(root, decision_id)
    pack = line["pack"]
    main = kept_pack(root, str(pack["sha256"]))
    if main is None:
        raise DecisionLogError(
            Problem(
                "decisions.no-pack",
                f"the log keeps no copy of pack {pack['id']!r} {pack['version']!r} "
                f"(sha256 {pack['sha256']}): packs/{pack['sha256']}/ is missing",
                Location(str(root)),
            )
        )
    policy = load_policy(main)
    if policy.sha256 != pack["sha256"]:
        raise DecisionLogError(
            Problem(
                "decisions.pack-changed",
                f"the kept copy of pack {pack['id']!r} now hashes to {policy.sha256}, not the "
                f"logged {pack['sha256']}: it was changed after the decision",
                Location(str(main)),
            )
        )
    endpoint = str(line["endpoint"])
    if endpoint not in CALLS:
        raise DecisionLogError(
            Problem("decisions.json", f"unknown endpoint {endpoint!r} in the log line")
        )
    logged = line["input"]
    masked = int(line.get("masked", 0))
    intact = None if masked else sha256_text(canonical_json(logged)) == line["input_sha256"]
    again = answer(endpoint, PolicySet([policy]), logged)
    digest = sha256_text(again.canonical)
    return Replay(
        line,
        digest == line["result_sha256"],
        again.outcomes == line["outcomes"],
        intact,
        digest,
    )
