"""Bulk work without the cyclic garbage collector.

Reading a province means creating hundreds of thousands of record objects, none of which form
reference cycles; the collector would rescan all of them again and again while they are made
(measured: it doubles load and evaluation time). Bulk phases pause it and restore it after.

The same loops are where a deadline is checked (``checkpoint``): the service stops a request
that runs past its time there, instead of leaving a worker thread busy with it.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause automatic collection for the block; restore the caller's setting after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class DeadlineExceeded(Exception):
    """The work ran past the time set for it (a service request's ``--timeout``)."""


_limit = threading.local()


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Give the work in this block (in this thread) ``seconds`` to finish: past them, the next
    ``checkpoint`` raises ``DeadlineExceeded``. A thread cannot be killed from outside, so
    long loops (records read, subjects evaluated, results written) call ``checkpoint``."""
    earlier = getattr(_limit, "until", None)
    _limit.until = None if seconds is None else time.monotonic() + seconds
    try:
        yield
    finally:
        _limit.until = earlier


def checkpoint() -> None:
    """Raise ``DeadlineExceeded`` when this thread's deadline has passed (cheap otherwise)."""
    until = getattr(_limit, "until", None)
    if until is not None and time.monotonic() > until:
        raise DeadlineExceeded(f"past the deadline by {time.monotonic() - until:.3f} s")
