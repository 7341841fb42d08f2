"""Integer and real intervals, checked for overlaps and gaps the way DMN tools check tables.

Roll-up caps are integer intervals over a count; score bands (later) are real intervals over a
score. Both must be checked geometrically at load time, with the rows that collide named.
"""

from __future__ import annotations

import itertools
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
