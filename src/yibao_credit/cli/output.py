"""Where a command writes: standard output, or a file written whole or not at all.

A file named by ``--output`` is checked before any work (it must not be an input, its folder
must exist and be writable), written to a temporary file beside it, and renamed over the
target only when everything has been written and flushed to disk. An interrupted run (Ctrl-C,
``kill``, a full disk) leaves the previous file as it was and no partial file behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO


class OutputError(Exception):
    """The output cannot be written where asked: a one-line message, exit status 1."""


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def input_files(paths: Iterable[str | None]) -> list[Path]:
    """The files a command reads: each path given, and every file in a folder given."""
    out: list[Path] = []
    for text in paths:
        if text is None or text == "-":
            continue
        path = Path(text)
        out.append(path)
        if path.is_dir():
            out.extend(p for p in sorted(path.rglob("*")) if p.is_file())
    return out


class Output:
    """A command's output target, checked when made (before the run) and opened by
    ``open()`` once there is something to write."""

    def __init__(self, path: str | None, inputs: Iterable[str | None] = ()) -> None:
        self.path = None if path is None or path == "-" else Path(path)
        if self.path is None:
            return
        target = self.path
        for source in input_files(inputs):
            if _same(target, source):
                raise OutputError(
                    f"--output {target} is an input of this command ({source}); "
                    "results never overwrite an input: name another file"
                )
        if target.is_dir():
            raise OutputError(f"--output {target} is a folder: name a file in it")
        folder = target.parent
        if not folder.is_dir():
            raise OutputError(f"cannot write --output {target}: folder {folder} does not exist")
        if target.exists() and not os.access(target, os.W_OK):
            raise OutputError(f"cannot write --output {target}: permission denied")
        try:  # a file made and removed now, so that nothing is evaluated for nowhere to go
            fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".probe")
        except OSError as exc:
            raise OutputError(f"cannot write --output {target}: {exc.strerror}") from None
        os.close(fd)
        _remove(probe)

    @contextlib.contextmanager
    def open(self) -> Iterator[TextIO]:
        """The stream to write to. For a file: a temporary file in the target's folder,
        renamed over the target when the block ends normally, removed when it does not."""
        if self.path is None:
            yield sys.stdout
            return
        target = self.path
        # Ctrl-C between the file's creation and ``name`` being known would leave it behind:
        # the signals wait (blocked) until the file is in the hands of the cleanup below.
        held = _block_signals()
        try:
            fd, name = tempfile.mkstemp(
                dir=target.parent, prefix=f".{target.name}.", suffix=".partial"
            )
        except OSError as exc:
            _restore_signals(held)
            raise OutputError(f"cannot write --output {target}: {exc.strerror}") from None
        try:
            _restore_signals(held)
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            if target.exists():
                with contextlib.suppress(OSError):
                    os.chmod(name, target.stat().st_mode & 0o7777)
            else:
                os.chmod(name, 0o666 & ~_umask())
            os.replace(name, target)
        except OSError as exc:
            _remove(name)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise OutputError(
                    f"cannot write --output {target}: {exc.strerror} "
                    "(nothing was written; any earlier file is unchanged)"
                ) from None
            raise OutputError(f"cannot write --output {target}: {exc.strerror}") from None
        except BaseException:
            _remove(name)
            raise


def _block_signals() -> set[int | signal.Signals] | None:
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no signal masks
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _restore_signals(held: set[int | signal.Signals] | None) -> None:
    if held is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _remove(name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
