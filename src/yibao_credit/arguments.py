"""Checks of the arguments callers pass to the public API, made at the call.

A wrong argument (``as_of="2024-12-31"``, ``lang="fr"``, records passed twice) would otherwise
fail deep inside the engine with an ``AttributeError`` or a ``KeyError`` that names nothing
the caller wrote; these raise a ``TypeError`` or ``ValueError`` naming the argument and what
it accepts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

LANGS = ("zh", "en")


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def date_argument(name: str, value: Any, *, optional: bool = False) -> dt.date | None:
    """A calendar day: a ``datetime.date``, never a ``datetime`` (whose time and zone would
    be dropped without a word) nor a string."""
    if value is None and optional:
        return None
    if isinstance(value, dt.datetime):
        raise TypeError(
            f"{name} must be a datetime.date, not a datetime ({value!r}): "
            f"pass {name}={name}.date() if the day is what you mean"
        )
    if not isinstance(value, dt.date):
        hint = (
            f"; for text use datetime.date.fromisoformat({value!r})"
            if isinstance(value, str)
            else ""
        )
        raise TypeError(f"{name} must be a datetime.date, not {_shown(value)}{hint}")
    return value


def choice_argument(name: str, value: Any, choices: Collection[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(
            f"{name} must be one of {', '.join(repr(c) for c in choices)}, not {value!r}"
        )
    return value


def iterable_argument(name: str, value: Any, what: str) -> None:
    """Records given as an iterable of objects or dicts: not None, not a string, not a dict
    (iterating those gives characters or keys, not records)."""
    if value is None or isinstance(value, str | bytes | dict) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name} must be an iterable of {what}, not {_shown(value)}")
