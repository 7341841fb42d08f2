"""Bulk work without the cyclic garbage collector.

Reading a province means creating hundreds of thousands of record objects, none of which form
reference cycles; the collector would rescan all of them again and again while they are made
(measured: it doubles load and evaluation time). Bulk phases pause it and restore it after.
"""

from __future__ import annotations

import gc
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
