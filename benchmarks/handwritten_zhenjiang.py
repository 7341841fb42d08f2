"""The Zhenjiang rules (镇医保〔2024〕82号 三(一)) as one plain Python function: the baseline.

The engine's evaluation time is compared against ``grade_all`` on the same records (the target
is the engine within 3x of it). This is the fastest straightforward Python for the rules: one
pass over each subject's events, counters instead of lists, the window bounds computed once.
It is a yardstick, not a second implementation of the library: nothing here explains, cites or
validates, and nothing outside the benchmarks should import it.

Readings (the project's, see ``policies/``):

- "1年之内" as of D: ``lo <= date <= D`` with ``lo = (D - relativedelta(years=1)) + 1 day``;
- the agreement window: ``designated_on <= date <= D`` (all events when ``designated_on`` is
  unknown);
- exclusions, the first that holds: ``agreement_under_1y`` (三(一)5(1), ``designated_on + 1 year
  > D``, never for an unknown ``designated_on``), ``voluntary_termination`` (5(2)),
  ``renewal_failed`` (5(3)), ``licence`` (5(4): a suspension in the lookback or a revocation in
  the agreement window), ``statutory`` (5(5));
- grades over the lookback, first match: ★ (2+ violations, 2+ verified complaints, 2+ price
  interviews, any fraud, any non-performance breach, any serious violation), ★★ (exactly one
  violation, verified complaint or price interview), ★★★ (no violation, no complaint at all, no
  agreement breach), otherwise ★★;
- chain roll-up (三(一)4): a graded headquarters with 1–3 graded stores at ★ is capped at ★★,
  with 4 or more it gets ★.

Repairs (``repair`` events) play no part in these rules.

    python benchmarks/handwritten_zhenjiang.py SUBJECTS EVENTS [--as-of YYYY-MM-DD]

times ``load_records``, ``group_events`` and ``grade_all`` on the files and prints the grade
distribution.
"""

from __future__ import annotations

import argparse
import importlib
import resource
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Any, Protocol, TypeVar

from dateutil.relativedelta import relativedelta

__all__ = ["STAR1", "STAR2", "STAR3", "grade_all", "group_events", "main", "under_one_year_cutoff"]

STAR1, STAR2, STAR3 = "★", "★★", "★★★"

Result = tuple[str, str | None, str | None]
"""(status ``graded``/``excluded``, grade label or None, exclusion id or None)."""


class SubjectLike(Protocol):
    """What the baseline reads of a subject (``yibao_credit.records.Subject`` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def category(self) -> str | None: ...
    @property
    def chain_id(self) -> str | None: ...
    @property
    def designated_on(self) -> date | None: ...


class EventLike(Protocol):
    """What the baseline reads of an event (``yibao_credit.records.Event`` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def subject_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def date(self) -> date: ...
    @property
    def verified(self) -> bool | None: ...
    @property
    def nonperformance(self) -> bool | None: ...
    @property
    def reason(self) -> str | None: ...


E = TypeVar("E", bound=EventLike)


def group_events(events: Iterable[E], as_of: date) -> dict[str, list[E]]:
    """Events by subject id, each list sorted by (date, id), events after ``as_of`` left out."""
    groups: dict[str, list[E]] = {}
    get = groups.get
    for e in events:
        if e.date <= as_of:
            sid = e.subject_id
            bucket = get(sid)
            if bucket is None:
                groups[sid] = [e]
            else:
                bucket.append(e)
    key = attrgetter("date", "id")
    for bucket in groups.values():
        bucket.sort(key=key)
    return groups


def under_one_year_cutoff(as_of: date) -> date:
    """The latest designation date whose first agreement year has ended by ``as_of``.

    ``designated_on + relativedelta(years=1) > as_of`` exactly when ``designated_on`` is after
    this date (adding a year is monotonic), so one comparison per subject replaces a
    relativedelta addition per subject.
    """
    one_day = timedelta(days=1)
    year = relativedelta(years=1)
    cutoff = as_of - year
    while cutoff + year > as_of:
        cutoff -= one_day
    while cutoff + one_day + year <= as_of:
        cutoff += one_day
    return cutoff


def grade_all(
    subjects: Sequence[SubjectLike],
    events_by_subject: Mapping[str, Sequence[EventLike]],
    as_of: date,
) -> dict[str, Result]:
    """Grade every subject; ``events_by_subject`` as made by ``group_events``."""
    lo = as_of - relativedelta(years=1) + timedelta(days=1)
    cutoff = under_one_year_cutoff(as_of)
    no_events: Sequence[EventLike] = ()
    get_events = events_by_subject.get
    results: dict[str, Result] = {}

    for s in subjects:
        sid = s.id
        designated = s.designated_on
        if designated is not None and designated > cutoff:
            results[sid] = ("excluded", None, "agreement_under_1y")
            continue
        voluntary = renewal = licence = statutory = False
        violations = verified = complaints = prices = breaches = 0
        severe = False
        for e in get_events(sid, no_events):
            d = e.date
            kind = e.kind
            if d >= lo:  # in the lookback
                if kind == "violation":
                    violations += 1
                elif kind == "complaint":
                    complaints += 1
                    if e.verified:
                        verified += 1
                elif kind == "price_interview":
                    prices += 1
                elif kind == "agreement_breach":
                    breaches += 1
                    if e.nonperformance:
                        severe = True
                elif kind == "fraud" or kind == "serious_violation":
                    severe = True
                elif kind == "agreement_terminated":
                    if designated is None or d >= designated:
                        reason = e.reason
                        if reason == "voluntary":
                            voluntary = True
                        elif reason == "renewal_failed":
                            renewal = True
                elif kind == "license_suspended":
                    licence = True
                elif kind == "license_revoked":
                    if designated is None or d >= designated:
                        licence = True
                elif kind == "statutory_exclusion":
                    statutory = True
            elif kind == "agreement_terminated":
                if designated is None or d >= designated:
                    reason = e.reason
                    if reason == "voluntary":
                        voluntary = True
                    elif reason == "renewal_failed":
                        renewal = True
            elif kind == "license_revoked" and (designated is None or d >= designated):
                licence = True

        if voluntary:
            results[sid] = ("excluded", None, "voluntary_termination")
        elif renewal:
            results[sid] = ("excluded", None, "renewal_failed")
        elif licence:
            results[sid] = ("excluded", None, "licence")
        elif statutory:
            results[sid] = ("excluded", None, "statutory")
        elif severe or violations >= 2 or verified >= 2 or prices >= 2:
            results[sid] = ("graded", STAR1, None)
        elif violations == 1 or verified == 1 or prices == 1:
            results[sid] = ("graded", STAR2, None)
        elif violations == 0 and complaints == 0 and breaches == 0:
            results[sid] = ("graded", STAR3, None)
        else:
            results[sid] = ("graded", STAR2, None)

    # 三(一)4: a chain headquarters is capped by how many of its stores got ★.
    star_stores: dict[str, int] = {}
    for s in subjects:
        hq = s.chain_id
        if hq is not None and s.category == "pharmacy" and results[s.id][1] == STAR1:
            star_stores[hq] = star_stores.get(hq, 0) + 1
    for hq, count in star_stores.items():
        current = results.get(hq)
        if current is None or current[0] != "graded":
            continue
        if count >= 4:
            results[hq] = ("graded", STAR1, None)
        elif current[1] == STAR3:
            results[hq] = ("graded", STAR2, None)
    return results


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time the hand-written Zhenjiang baseline.")
    parser.add_argument("subjects", type=Path)
    parser.add_argument("events", type=Path)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2024, 12, 31))
    args = parser.parse_args(argv)

    try:
        records_module = importlib.import_module("yibao_credit.records")
    except ImportError:  # run from a checkout without the package installed
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
        records_module = importlib.import_module("yibao_credit.records")
    load_records: Callable[[Path, Path], Any] = records_module.load_records

    t0 = time.perf_counter()
    records = load_records(args.subjects, args.events)
    t1 = time.perf_counter()
    grouped = group_events(records.events, args.as_of)
    t2 = time.perf_counter()
    results = grade_all(records.subjects, grouped, args.as_of)
    t3 = time.perf_counter()

    print(f"subjects {len(records.subjects)}, events {len(records.events)}")
    print(f"load_records  {t1 - t0:8.3f} s")
    print(f"group_events  {t2 - t1:8.3f} s")
    print(f"grade_all     {t3 - t2:8.3f} s")
    print(f"peak RSS      {_peak_rss_mb():8.1f} MiB")
    counts = Counter(grade or f"excluded:{excl}" for _, grade, excl in results.values())
    for label, count in sorted(counts.items()):
        print(f"  {label:32s} {count:8d}  {100 * count / max(1, len(results)):5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
