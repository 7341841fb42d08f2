"""Integer and real intervals, checked for overlaps and gaps the way DMN tools check tables.

Roll-up caps are integer intervals over a count; score bands (later) are real intervals over a
score. Both must be checked geometrically at load time, with the rows that collide named.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IntInterval:
    """[low, high], both inclusive; high None means unbounded."""

    low: int
    high: int | None
    row: int  # position in the pack's list, for messages

    def contains(self, n: int) -> bool:
        return self.low <= n and (self.high is None or n <= self.high)

    def describe(self) -> str:
        return f"{self.low} or more" if self.high is None else f"{self.low}..{self.high}"


def int_overlaps(rows: list[IntInterval]) -> list[str]:
    """Messages for each empty interval and each overlapping pair (by row number)."""
    problems = []
    for r in rows:
        if r.high is not None and r.high < r.low:
            problems.append(f"row {r.row}: max {r.high} is below min {r.low}")
    ordered = sorted(rows, key=lambda r: r.low)
    for a, b in itertools.pairwise(ordered):
        if a.high is None or a.high >= b.low:
            problems.append(f"rows {a.row} and {b.row} overlap: {a.describe()} and {b.describe()}")
    return problems


@dataclass(frozen=True, slots=True)
class RealInterval:
    """A score interval with explicit edges, written ``[80, 90)``; ``-inf``/``inf`` allowed."""

    low: float
    low_inclusive: bool
    high: float
    high_inclusive: bool
    row: int

    @classmethod
    def parse(cls, text: str, row: int) -> RealInterval:
        low_inclusive, lo_text, hi_text, high_inclusive = split_interval(text)
        try:
            low, high = float(lo_text), float(hi_text)
        except ValueError:
            raise ValueError(f"{text!r}: the edges must be numbers (or -inf, inf)") from None
        return cls.checked(text, low, low_inclusive, high, high_inclusive, row)

    @classmethod
    def checked(
        cls,
        text: str,
        low: float,
        low_inclusive: bool,
        high: float,
        high_inclusive: bool,
        row: int,
    ) -> RealInterval:
        """The interval of these edges (``text`` as written, for messages), if not empty."""
        if math.isnan(low) or math.isnan(high):
            raise ValueError(f"{text!r}: an edge is not a number")
        if low > high or (low == high and not (low_inclusive and high_inclusive)):
            raise ValueError(f"{text!r} is empty")
        if (low == float("-inf") and low_inclusive) or (high == float("inf") and high_inclusive):
            raise ValueError(f"{text!r}: an infinite edge is always open: write (-inf or inf)")
        return cls(low, low_inclusive, high, high_inclusive, row)

    def contains(self, x: float) -> bool:
        above = x >= self.low if self.low_inclusive else x > self.low
        below = x <= self.high if self.high_inclusive else x < self.high
        return above and below

    def describe(self) -> str:
        def edge(v: float) -> str:
            return "inf" if v == float("inf") else "-inf" if v == float("-inf") else f"{v:g}"

        return (
            f"{'[' if self.low_inclusive else '('}{edge(self.low)}, "
            f"{edge(self.high)}{']' if self.high_inclusive else ')'}"
        )


def split_interval(text: str) -> tuple[bool, str, str, bool]:
    """An interval's text as (low inclusive, low edge, high edge, high inclusive), the edges
    as written (numbers, ``-inf``/``inf``, or names the caller resolves)."""
    t = text.strip()
    if len(t) < 5 or t[0] not in "[(" or t[-1] not in "])" or "," not in t:
        raise ValueError(
            f"{text!r} is not an interval: write it like [90, 100] or [80, 90) or (-inf, 60)"
        )
    lo_text, hi_text = (p.strip() for p in t[1:-1].split(",", 1))
    return t[0] == "[", lo_text, hi_text, t[-1] == "]"


def real_coverage(rows: list[RealInterval], low: float, high: float) -> list[tuple[int, str]]:
    """Gaps and overlaps of intervals over the whole range [low, high] (each value once), as
    (row, message): the row an analyst should look at first."""
    problems: list[tuple[int, str]] = []
    ordered = sorted(rows, key=lambda r: (r.low, not r.low_inclusive))
    first, last = ordered[0], ordered[-1]
    if first.low > low or (first.low == low and not first.low_inclusive and low != -math.inf):
        problems.append(
            (
                first.row,
                f"no band covers the lowest scores: row {first.row} starts "
                f"at {first.describe()} but scores go down to {low:g}",
            )
        )
    if last.high < high or (last.high == high and not last.high_inclusive and high != math.inf):
        problems.append(
            (
                last.row,
                f"no band covers the highest scores: row {last.row} ends at "
                f"{last.describe()} but scores go up to {high:g}",
            )
        )
    for a, b in itertools.pairwise(ordered):
        if a.high < b.low or (a.high == b.low and not a.high_inclusive and not b.low_inclusive):
            problems.append(
                (
                    b.row,
                    f"gap between rows {a.row} {a.describe()} and {b.row} "
                    f"{b.describe()}: a score there has no grade",
                )
            )
        elif a.high > b.low or (a.high == b.low and a.high_inclusive and b.low_inclusive):
            problems.append(
                (
                    b.row,
                    f"rows {a.row} {a.describe()} and {b.row} {b.describe()} "
                    "overlap: a score there has two grades",
                )
            )
    return problems
