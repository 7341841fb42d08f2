"""Helpers for the Zhenjiang (镇医保〔2024〕82号) tests: the pack, record builders, grade ranks.

Owned by tests/test_zhenjiang.py and tests/test_properties.py. Records are built as plain dicts,
the way another system would hand them to ``Policy.evaluate``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import yibao_credit as yc

ROOT = Path(__file__).resolve().parents[1]
PACK_PATH = ROOT / "policies" / "zhenjiang.yaml"
DOC = "镇医保〔2024〕82号"

AS_OF = dt.date(2024, 12, 31)
"""The usual evaluation date: 1年之内 is then 2024-01-01 .. 2024-12-31."""
MID = "2024-06-15"
"""A day well inside the lookback as of 2024-12-31."""
OLD = "2015-06-01"
"""A designation date long enough ago that 三(一)5(1) never excludes."""

THREE, TWO, ONE = "★★★", "★★", "★"
RANK = {THREE: 0, TWO: 1, ONE: 2}
"""Higher is worse: ★★★ (信用优秀) < ★★ (信用一般) < ★ (失信)."""

MEASURES = {
    THREE: ["publish_good_record", "convenience_services", "fewer_inspections", "other_incentives"],
    TWO: [
        "credit_reminder_interview",
        "general_monitoring",
        "training_focus",
        "other_supervision_2",
    ],
    ONE: [
        "legal_representative_interview",
        "key_monitoring",
        "publish_violations",
        "joint_discipline",
        "other_supervision_1",
    ],
}
"""三(二)1-3: the measure ids each grade carries, in pack order (三(二)1(4) is a history rule)."""


def load() -> yc.Policy:
    """Load and compile the Zhenjiang pack (the test modules call this once each)."""
    return yc.load_policy(PACK_PATH)


def day(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def inst(
    sid: str,
    category: str = "hospital",
    designated_on: dt.date | str = OLD,
    **attrs: Any,
) -> dict[str, Any]:
    """A designated institution (定点医药机构) as the data contract gives it."""
    out: dict[str, Any] = {
        "id": sid,
        "type": "institution",
        "category": category,
        "designated_on": day(designated_on).isoformat(),
    }
    out.update(attrs)
    return out


def chain(head: str, stores: int, designated_on: dt.date | str = OLD) -> list[dict[str, Any]]:
    """A chain headquarters and its stores ``<head>-S1`` .. ``<head>-Sn`` (三(一)4)."""
    out = [inst(head, "pharmacy_chain", designated_on)]
    out += [
        inst(f"{head}-S{i}", "pharmacy", designated_on, chain_id=head) for i in range(1, stores + 1)
    ]
    return out


def ev(eid: str, subject: str, kind: str, date: dt.date | str, **attrs: Any) -> dict[str, Any]:
    """One event as the data contract gives it."""
    out: dict[str, Any] = {
        "id": eid,
        "subject_id": subject,
        "kind": kind,
        "date": day(date).isoformat(),
    }
    out.update(attrs)
    return out


def evaluate(
    pack: yc.Policy,
    subjects: list[dict[str, Any]],
    events: list[dict[str, Any]] | None = None,
    as_of: dt.date | str = AS_OF,
) -> yc.Run:
    run: yc.Run = pack.evaluate(subjects, events or [], as_of=day(as_of))
    return run


def result(run: yc.Run, sid: str) -> yc.Result:
    r = run.get(sid)
    assert r is not None, f"no result for {sid!r}"
    return r


def grade_of(
    pack: yc.Policy,
    events: list[dict[str, Any]],
    as_of: dt.date | str = AS_OF,
    designated_on: dt.date | str = OLD,
    category: str = "hospital",
) -> str | None:
    """The grade of a lone institution ``X`` with these events."""
    run = evaluate(pack, [inst("X", category, designated_on)], events, as_of)
    return result(run, "X").grade


def trace(r: yc.Result, lang: str = "zh") -> list[dict[str, Any]]:
    """The trace as the JSON contract carries it (so tuples and lists read alike)."""
    steps: list[dict[str, Any]] = contract(r, lang)["trace"]
    return steps


def contract(r: yc.Result, lang: str = "zh") -> dict[str, Any]:
    """``result_to_dict`` through a JSON round trip: what another system receives."""
    out: dict[str, Any] = json.loads(json.dumps(yc.result_to_dict(r, lang), ensure_ascii=False))
    return out


def step(r: yc.Result, name: str) -> dict[str, Any]:
    """The trace step with this exact name (``fact.violations``, ``criterion.fraud``, …)."""
    found = [s for s in trace(r) if s["step"] == name]
    assert len(found) == 1, f"{name!r} occurs {len(found)} times in the trace"
    return found[0]


def decisive(r: yc.Result) -> list[dict[str, Any]]:
    return [s for s in trace(r) if s.get("decisive")]


def measure_ids(r: yc.Result) -> list[str]:
    return [m["id"] for m in contract(r)["measures"]]


def codes(run: yc.Run) -> list[str]:
    return [w.code for w in run.warnings]
