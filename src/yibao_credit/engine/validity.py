"""Which events still count: validity periods and credit repair.

An adverse event counts until its validity period ends (不良行为信息有效期届满, Jinan 三(五)):
an event of a kind with a period of one year, dated 2023-03-15, counts up to and including
2024-03-15 (the period runs from the day after, 《民法典》第201条, and ends on the
corresponding day, 第202条). A ``repair`` event names the event it repairs (``repairs``) and
neutralises it from the repair's own date. Both are set aside before any rule runs, and both
show in the trace with the rule that set them aside.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from yibao_credit.compile.plan import StepSpec, ValidityRules
from yibao_credit.errors import Problem, RecordError
from yibao_credit.records.contract import MAX_PROBLEMS, Event, EventLike, Records
from yibao_credit.time.periods import shift_period


@dataclass(frozen=True, slots=True)
class SetAside:
    """An event that no longer counts, and why: expired on a day, or repaired by an event."""

    event: EventLike
    step: StepSpec
    expired_on: dt.date | None = None
    repaired_by: EventLike | None = None


def set_aside(
    grouped: dict[str, list[Event]], as_of: dt.date, rules: ValidityRules, records: Records
) -> dict[str, tuple[SetAside, ...]]:
    """Remove expired and repaired events from each subject's list; return what was removed.

    A repair must name an event of the same subject and of a kind the pack lets a repair
    neutralise; anything else is an input error, never a silent no-op.
    """
    out: dict[str, tuple[SetAside, ...]] = {}
    problems: list[Problem] = []
    for sid, events in grouped.items():
        aside: list[SetAside] = []
        repaired: dict[str, Event] = {}
        if rules.repair_step is not None:
            by_id = {e.id: e for e in events}
            for e in events:
                if e.kind != "repair":
                    continue
                target = by_id.get(e.repairs or "")
                if target is None or target.kind not in rules.repairable:
                    what = (
                        "no earlier event of this subject"
                        if target is None
                        else f"a {target.kind!r} event, which a repair cannot neutralise "
                        f"(repairable: {', '.join(sorted(rules.repairable))})"
                    )
                    problems.append(
                        Problem(
                            "record.event.repair-target",
                            f"repair {e.id!r} names {e.repairs!r}: {what}",
                            records.where("event", e.id, "repairs"),
                        )
                    )
                    continue
                repaired[target.id] = e
        kept: list[Event] = []
        for e in events:
            if e.id in repaired:
                assert rules.repair_step is not None
                aside.append(SetAside(e, rules.repair_step, repaired_by=repaired[e.id]))
                continue
            rule = rules.periods.get(e.kind)
            if rule is not None:
                until = shift_period(e.date, rule[0])
                if as_of > until:
                    aside.append(SetAside(e, rule[1], expired_on=until))
                    continue
            kept.append(e)
        if aside:
            grouped[sid] = kept
            out[sid] = tuple(aside)
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise RecordError(problems[:MAX_PROBLEMS])
    return out
