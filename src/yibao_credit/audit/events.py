"""From audit hits to credit events (the data contract's events), so that credit packs read
what the audit found and a credit result's trace reaches from grade to event to claim line.

- A definite hit (明确) is a ``violation`` as it stands, with the money at issue as ``amount``.
- A suspicious hit (可疑) is an ``audit_flag``, awaiting review; a credit pack that reads it
  declares the kind (``policies/huzhou.yaml``).
- A review (人工核查: a record with the hit, the decision ``confirmed`` or ``dismissed`` and
  its date, kept like a procedures record) turns a flag into a ``violation`` dated the day of
  the decision, or into nothing.

Each event's id is the hit's id, and it carries the hit's rule, clause, claim and line ids as
its evidence. A review of a hit that is not among the hits, of a definite hit, or a second
review of one hit, is a located error: a decision never goes missing.

Given the subjects a credit pack evaluates, a hit about someone else — an insured person whose
card was used at many places (card_velocity) — is set aside rather than written: a credit
evaluation over those subjects refuses an event naming no subject of its file
(``record.event.unknown-subject``). ``set_aside`` names those hits, for a warning.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from yibao_credit.audit.hits import Hit
from yibao_credit.errors import Location, Problem, RecordError
from yibao_credit.records.contract import IsoDate, RecordId
from yibao_credit.records.readers import UTF8, read_rows

FLAG_KIND = "audit_flag"


class Review(BaseModel):
    """A reviewer's decision on a suspicious hit."""

    model_config = ConfigDict(extra="allow")

    id: RecordId
    hit: RecordId
    decision: Literal["confirmed", "dismissed"]
    date: IsoDate
    reviewer: str | None = None
    note: str | None = None


def read_reviews(path: str | Path, *, encoding: str = UTF8) -> tuple[list[Review], dict[str, int]]:
    """The reviews in a file (JSON Lines or CSV), checked; and the line of each."""
    rows, lines, problems = read_rows(Path(path), Review, "review", encoding=encoding)
    if problems:
        raise RecordError(problems)
    return rows, {rid: line for (_, rid), line in lines.items()}


def _number(amount: Decimal) -> int | float:
    """The amount as the events contract takes it (a JSON number)."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def _event(hit: Hit, kind: str, day: dt.date, **extra: Any) -> dict[str, Any]:
    clause = " ".join(v for v in (hit.clause.get("document"), hit.clause.get("ref")) if v)
    event: dict[str, Any] = {
        "id": hit.id,
        "subject_id": hit.subject_id,
        "kind": kind,
        "date": day.isoformat(),
        "amount": _number(hit.amount),
        "source": "audit",
        "hit": hit.id,
        "rule": hit.rule,
        "logic": hit.logic,
        "result_type": hit.result_type,
        "clause": clause,
        "period": hit.period,
        "claim_ids": list(hit.claim_ids),
        "line_ids": list(hit.line_ids),
    }
    if not hit.period:  # a finding over the whole audit period (peer_outlier, stock_mismatch)
        del event["period"]
    if not clause:  # text is never empty in the data contract: an absent field instead
        del event["clause"]
    event.update(extra)
    return event


def hits_to_events(
    hits: list[Hit],
    established: dt.date,
    reviews: list[Review] | None = None,
    review_lines: dict[str, int] | None = None,
    reviews_file: str | None = None,
    subjects: Collection[str] | None = None,
) -> list[dict[str, Any]]:
    """Events for credit packs: one per hit, but none for a dismissed flag, nor (given the
    credit subjects) for a hit about someone not among them."""
    by_id = {h.id: h for h in hits}
    decided: dict[str, Review] = {}
    problems = []
    for review in reviews or []:
        where = Location(reviews_file, (review_lines or {}).get(review.id), None, "hit")
        hit = by_id.get(review.hit)
        if hit is None:
            problems.append(
                Problem(
                    "record.review.hit", f"hit {review.hit!r} is not among this audit's hits", where
                )
            )
        elif hit.result_type != "suspicious":
            problems.append(
                Problem(
                    "record.review.definite",
                    f"hit {review.hit!r} is definite (明确): it is a violation as it stands, "
                    "with nothing to review",
                    where,
                )
            )
        elif review.hit in decided:
            first = decided[review.hit]
            problems.append(
                Problem(
                    "record.review.twice",
                    f"hit {review.hit!r} is reviewed twice (first by review {first.id!r})",
                    where,
                )
            )
        else:
            decided[review.hit] = review
    if problems:
        raise RecordError(problems)
    events = []
    for hit in hits:
        if subjects is not None and hit.subject_id not in subjects:
            continue
        if hit.result_type == "definite":
            events.append(_event(hit, "violation", established))
            continue
        decision = decided.get(hit.id)
        if decision is None:
            events.append(_event(hit, FLAG_KIND, established))
        elif decision.decision == "confirmed":
            events.append(
                _event(
                    hit,
                    "violation",
                    decision.date,
                    review=decision.id,
                    reviewed_on=decision.date.isoformat(),
                )
            )
    return events


def set_aside(hits: list[Hit], subjects: Collection[str]) -> Problem | None:
    """A warning naming the hits about someone not among the subjects, if there are any."""
    out = [h for h in hits if h.subject_id not in subjects]
    if not out:
        return None
    return Problem(
        "audit.event.not-a-subject",
        f"{len(out)} hit(s) about someone not in the subjects file are kept in the hits but "
        "not written as events (a credit evaluation over those subjects refuses them): "
        + ", ".join(f"{h.id} ({h.subject_id})" for h in out),
    )


def events_jsonl(events: list[dict[str, Any]]) -> str:
    return "".join(
        json.dumps(e, ensure_ascii=False, separators=(", ", ": ")) + "\n" for e in events
    )
