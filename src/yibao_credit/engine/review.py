"""Values reviewed in stages: self-assessment, county review, city confirmation.

Jiangsu's procedure (苏医保办发〔2023〕26号 三(二)): an institution assesses itself, the county
reviews, the city confirms. Each stage's values are kept. For every stage the engine evaluates
the subject with, for each assessed value (an indicator for a period, say), the latest stage's
value up to that one; the result is the last stage's, and the trace and the review report show
every value that review changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from yibao_credit.compile.plan import CompiledReview
from yibao_credit.errors import Problem, RecordError
from yibao_credit.records.contract import MAX_PROBLEMS, Event, Records


@dataclass(frozen=True, slots=True)
class Change:
    """One assessed value whose stages disagree, or that a review stage supplied first: its
    key and each stage's value."""

    key: tuple[Any, ...]
    values: tuple[tuple[str, Any, str], ...]  # (stage, value, event id)

    def to_dict(self, names: Sequence[str]) -> dict[str, Any]:
        return {
            "key": dict(zip(names, self.key, strict=True)),
            "stages": {stage: value for stage, value, _ in self.values},
            "events": [eid for _, _, eid in self.values],
        }


def stage_lists(
    events: list[Event], review: CompiledReview, records: Records, problems: list[Problem]
) -> tuple[list[list[Event]], tuple[Change, ...]]:
    """For each stage, the subject's events with each assessed value as of that stage (the
    latest stage up to it); and the values that differ between stages."""
    rank = {s: i for i, s in enumerate(review.stages)}
    by_key: dict[tuple[Any, ...], dict[int, Event]] = {}
    for e in events:
        if e.kind != review.kind:
            continue
        stage = e.attr(review.attribute)
        if stage not in rank:
            if len(problems) < MAX_PROBLEMS:
                problems.append(
                    Problem(
                        "record.event.review-stage",
                        f"{review.attribute!r} must be one of {', '.join(review.stages)}; got "
                        f"{stage!r}",
                        records.where("event", e.id, review.attribute),
                    )
                )
            continue
        key = tuple(e.attr(k) for k in review.key)
        slot = by_key.setdefault(key, {})
        if rank[stage] in slot and len(problems) < MAX_PROBLEMS:
            problems.append(
                Problem(
                    "record.event.review-duplicate",
                    f"two {stage!r} values for {dict(zip(review.key, key, strict=True))}: "
                    f"events {slot[rank[stage]].id!r} and {e.id!r}; a stage gives one value",
                    records.where("event", e.id),
                )
            )
            continue
        slot[rank[stage]] = e
    lists: list[list[Event]] = []
    for i in range(len(review.stages)):
        keep = {
            id(stages[max(s for s in stages if s <= i)])
            for stages in by_key.values()
            if any(s <= i for s in stages)
        }
        lists.append([e for e in events if e.kind != review.kind or id(e) in keep])
    changes = []
    for key, stages in sorted(by_key.items(), key=lambda kv: repr(kv[0])):
        values = tuple(
            (review.stages[s], stages[s].attr("value"), stages[s].id) for s in sorted(stages)
        )
        # A change: review gave another value, or a value the institution had not given.
        if len({repr(v) for _, v, _ in values}) > 1 or min(stages) > 0:
            changes.append(Change(key, values))
    return lists, tuple(changes)


def raise_problems(problems: list[Problem]) -> None:
    if problems:
        raise RecordError(problems[:MAX_PROBLEMS])
