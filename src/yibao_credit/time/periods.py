"""Periods of years, months and days (``1y``, ``6m``, ``30d``) and date arithmetic with them:
a period of years or months ends on the corresponding day of the final month, or on that
month's last day when it has none (《民法典》第202条)."""

from __future__ import annotations

import datetime as dt
from calendar import monthrange
from functools import lru_cache

PERIOD_RE_TEXT = r"\d+[ymd]"


@lru_cache(maxsize=256)
def parse_period(text: str) -> tuple[int, str]:
    """``1y``, ``6m``, ``30d`` → (1, "y"), (6, "m"), (30, "d")."""
    text = text.strip()
    unit = text[-1:]
    amount = text[:-1]
    if not amount.isdigit() or not unit or unit not in "ymd":
        raise ValueError(f"{text!r} is not a period: write a number and y, m or d (e.g. 1y)")
    return int(amount), unit


def shift_period(day: dt.date, period: str, sign: int = 1) -> dt.date:
    """Move a date by a period forward (sign 1) or back (sign -1).

    Years and months land on the same day of the target month, or on its last day when it has
    none (《民法典》第202条): 2024-02-29 plus one year is 2025-02-28; 2025-06-30 plus six months
    is 2025-12-30. Days are plain days.
    """
    n, unit = parse_period(period)
    if unit == "d":
        return day + dt.timedelta(days=sign * n)
    months = sign * (n * 12 if unit == "y" else n)
    carry, month0 = divmod(day.month - 1 + months, 12)
    year, month = day.year + carry, month0 + 1
    if day.day <= 28:
        return dt.date(year, month, day.day)
    return dt.date(year, month, min(day.day, monthrange(year, month)[1]))


@lru_cache(maxsize=65536)
def add_period(day: dt.date, period: str) -> dt.date:
    """The day a period of years, months or days from ``day`` ends (《民法典》第202条).
    Memoized: a province's agreement dates repeat, one call per subject."""
    return shift_period(day, period)
