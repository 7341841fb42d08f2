"""The decision log: one JSON line per decision, each carrying the sha256 of the line before,
so that changing or deleting any line breaks the chain (OPA's decision logs, made
tamper-evident).

Layout of a log folder::

    decisions-000001.jsonl   lines, oldest first; a new file when one passes --rotate-bytes,
    decisions-000002.jsonl   the chain running on from the last line of the file before
    head.json                {"file", "seq", "sha256"} of the newest line, rewritten whole
    packs/<sha256>/          a copy of the files each pack version was read from, for replay
    .lock                    held while a line is appended (workers are processes)

A line's hash is the sha256 of its UTF-8 bytes, newline excluded; the first line's ``prev`` is
64 zeros. The chain shows an edit or a deletion anywhere but at the very end; ``head.json``
shows the end's, unless it is rewritten too — anchor the head elsewhere (``decisions verify``
prints it; ``--expect-head`` checks it) for a guarantee against someone who can write the
folder.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yibao_credit.errors import Location, Problem, YibaoError
from yibao_credit.pack.extends import chain_files
from yibao_credit.policy import Policy

GENESIS = "0" * 64
FILE = re.compile(r"^decisions-(\d{6})\.jsonl$")
MASK = "***"
DEFAULT_ROTATE_BYTES = 64 * 1024 * 1024


class DecisionLogError(YibaoError):
    """The decision log folder cannot be used, or a logged decision cannot be replayed."""


class RawJson(str):
    """A value of a log line already written as canonical JSON (a call's input, of megabytes:
    written once, for its hash and for the line)."""


def canonical_json(value: Any) -> str:
    """One text per value: sorted keys, no spaces, UTF-8 kept, so equal inputs hash equal.
    A top-level ``RawJson`` value is put in as it is written."""
    if isinstance(value, dict) and any(isinstance(v, RawJson) for v in value.values()):
        raw = {k: v for k, v in value.items() if isinstance(v, RawJson)}
        marks = {k: f"\x00raw:{k}\x00" for k in raw}
        text = canonical_json({k: marks.get(k, v) for k, v in value.items()})
        for k, v in raw.items():
            text = text.replace(json.dumps(marks[k]), v, 1)
        return text
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- masking --------------------------------------------------------------------------------


def check_personal(paths: Sequence[str]) -> list[str]:
    """``subjects.name``, ``events.attributes.*``: the record array, then keys into each
    record (``*`` any key at that level). Returns them, or raises naming the bad one."""
    arrays = {"subjects", "events", "history", "procedures", "deposits"}
    for p in paths:
        parts = p.split(".")
        if len(parts) < 2 or parts[0] not in arrays or not all(parts):
            raise DecisionLogError(
                Problem(
                    "service.personal",
                    f"{p!r} is not a personal field: write the record array "
                    f"({', '.join(sorted(arrays))}) and the key path in each record, as in "
                    "subjects.name or events.attributes.*",
                )
            )
    return list(paths)


def mask(body: dict[str, Any], paths: Sequence[str]) -> tuple[dict[str, Any], int]:
    """A copy of a call's input with each personal field's value replaced by ``***``, and how
    many values were replaced (0: the logged input is the input)."""
    out = json.loads(json.dumps(body))
    count = 0

    def walk(node: Any, keys: list[str]) -> None:
        nonlocal count
        if not isinstance(node, dict):
            return
        head, rest = keys[0], keys[1:]
        names = list(node) if head == "*" else [head] if head in node else []
        for name in names:
            if rest:
                walk(node[name], rest)
            elif node[name] is not None:
                node[name] = MASK
                count += 1

    for p in paths:
        array, *keys = p.split(".")
        for record in out.get(array) or ():
            walk(record, keys)
    return out, count


# -- pack copies ----------------------------------------------------------------------------


def keep_pack(folder: Path, policy: Policy) -> Path:
    """Copy the files a pack version was read from into ``packs/<sha256>/`` (once: the name
    is the content's hash), keeping their relative places (``extends`` paths resolve)."""
    target = folder / "packs" / policy.sha256
    if (target / "pack.json").is_file():
        return target
    files = chain_files(policy.file)
    root = Path(os.path.commonpath([f.parent for f in files]))
    (folder / "packs").mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{policy.sha256[:12]}.", dir=folder / "packs"))
    try:
        for f in files:
            dest = staging / f.relative_to(root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dest)
        main = Path(policy.file).resolve().relative_to(root).as_posix()
        meta = {"id": policy.id, "version": policy.version, "sha256": policy.sha256, "main": main}
        (staging / "pack.json").write_text(canonical_json(meta) + "\n", encoding="utf-8")
        try:
            staging.rename(target)
        except OSError:  # another worker kept it first: the same bytes
            if not (target / "pack.json").is_file():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return target


def kept_pack(folder: Path, sha256: str) -> Path | None:
    """The main file of the pack copy with this sha256, or None if the log kept none."""
    meta_file = folder / "packs" / sha256 / "pack.json"
    if not meta_file.is_file():
        return None
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    return meta_file.parent / str(meta["main"])


# -- writing --------------------------------------------------------------------------------


def _files(folder: Path) -> list[tuple[int, Path]]:
    out = []
    for p in folder.iterdir():
        m = FILE.match(p.name)
        if m:
            out.append((int(m.group(1)), p))
    return sorted(out)


def _last_line(path: Path) -> bytes:
    """The file's last line, newline included (b"" for an empty file)."""
    with path.open("rb") as f:
        f.seek(0, os.SEEK_END)
        end = f.tell()
        pos, chunk, tail = end, 8192, b""
        while pos > 0:
            step = min(chunk, pos)
            pos -= step
            f.seek(pos)
            tail = f.read(step) + tail
            if tail.count(b"\n") >= 2 or (pos == 0):
                break
        cut = tail.rstrip(b"\n").rfind(b"\n")
        return tail[cut + 1 :]


@dataclass
class _Tip:
    number: int
    path: Path | None
    size: int
    seq: int
    sha256: str


class DecisionLog:
    """Appends decisions to a log folder, the chain unbroken across files and workers."""

    def __init__(
        self, folder: str | Path, *, rotate_bytes: int = DEFAULT_ROTATE_BYTES, fsync: bool = True
    ) -> None:
        self.folder = Path(folder)
        self.rotate_bytes = rotate_bytes
        self.fsync = fsync
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / ".lock").touch()
        except OSError as exc:
            raise DecisionLogError(
                Problem(
                    "service.decision-log",
                    f"cannot use {self.folder} as the decision log folder: {exc.strerror}",
                    Location(str(self.folder)),
                )
            ) from None
        self._cached: _Tip | None = None
        with self._locked():
            self._tip()  # a torn last line stops the start, not the first decision

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.folder / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _tip(self) -> _Tip:
        """The newest line's file, seq and hash: read from the file unless this process wrote
        it last (same file, same size)."""
        files = _files(self.folder)
        if not files:
            return _Tip(0, None, 0, 0, GENESIS)
        number, path = files[-1]
        size = path.stat().st_size
        cached = self._cached
        if cached is not None and cached.path == path and cached.size == size:
            return cached
        line = _last_line(path)
        if not line.endswith(b"\n"):
            raise DecisionLogError(
                Problem(
                    "decisions.torn-line",
                    "the last line has no newline (a write was cut off): check the log with "
                    "'yibao-credit decisions verify' and move the torn line out before "
                    "logging more",
                    Location(str(path)),
                )
            )
        try:
            seq = int(json.loads(line)["seq"])
        except (ValueError, KeyError, TypeError):
            raise DecisionLogError(
                Problem(
                    "decisions.json",
                    "the last line is not a decision: check the log with "
                    "'yibao-credit decisions verify'",
                    Location(str(path)),
                )
            ) from None
        return _Tip(number, path, size, seq, hashlib.sha256(line[:-1]).hexdigest())

    def append(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Write one decision (``entry`` without ``seq`` and ``prev``) at the end of the
        chain; returns the line as written, with ``seq``, ``prev`` and its own ``sha256``."""
        with self._locked():
            tip = self._tip()
            line = {**entry, "seq": tip.seq + 1, "prev": tip.sha256}
            text = canonical_json(line)
            data = (text + "\n").encode("utf-8")
            number, path, size = tip.number, tip.path, tip.size
            if path is None or (size > 0 and size + len(data) > self.rotate_bytes):
                number, size = number + 1, 0
                path = self.folder / f"decisions-{number:06d}.jsonl"
            with path.open("ab") as f:
                f.write(data)
                f.flush()
                if self.fsync:
                    os.fsync(f.fileno())
            digest = hashlib.sha256(data[:-1]).hexdigest()
            self._cached = _Tip(number, path, size + len(data), line["seq"], digest)
            _write_head(self.folder, path.name, line["seq"], digest)
        return {**line, "sha256": digest}


def _write_head(folder: Path, name: str, seq: int, digest: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".head.", dir=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(canonical_json({"file": name, "seq": seq, "sha256": digest}) + "\n")
    os.replace(tmp, folder / "head.json")


# -- reading --------------------------------------------------------------------------------


@dataclass
class Verification:
    """What ``decisions verify`` found: the lines checked, the head, every break located."""

    count: int = 0
    head: str = GENESIS
    problems: list[Problem] = field(default_factory=list)


def read_lines(folder: Path) -> Iterator[tuple[Path, int, bytes]]:
    """Every line of the log, in order: its file, line number and bytes (newline kept)."""
    for _, path in _files(folder):
        with path.open("rb") as f:
            for number, raw in enumerate(f, 1):
                yield path, number, raw


def verify(folder: str | Path, expect_head: str | None = None) -> Verification:
    """Check the chain from the first line to ``head.json`` (and to ``expect_head``)."""
    root = Path(folder)
    if not root.is_dir():
        raise DecisionLogError(
            Problem("service.decision-log", "no such decision log folder", Location(str(root)))
        )
    out = Verification()
    numbers = [n for n, _ in _files(root)]
    for a, b in itertools.pairwise(numbers):
        if b != a + 1:
            out.problems.append(
                Problem(
                    "decisions.file-gap",
                    f"decisions-{a + 1:06d}.jsonl is missing: files run {a:06d} then {b:06d}",
                    Location(str(root)),
                )
            )
    prev, seq, last_file = GENESIS, 0, None
    for path, number, raw in read_lines(root):
        where = Location(str(path), number)
        last_file = path.name
        if not raw.endswith(b"\n"):
            out.problems.append(
                Problem("decisions.torn-line", "the line has no newline: a cut-off write", where)
            )
        body = raw.rstrip(b"\n")
        try:
            line = json.loads(body)
            line_prev, line_seq = str(line["prev"]), int(line["seq"])
        except (ValueError, KeyError, TypeError):
            out.problems.append(Problem("decisions.json", "not a decision line", where))
            prev, seq = hashlib.sha256(body).hexdigest(), seq + 1
            continue
        if line_prev != prev:
            out.problems.append(
                Problem(
                    "decisions.chain",
                    f"prev is {line_prev[:12]}…, but the line before hashes to {prev[:12]}…: "
                    "a line before this one was changed or deleted",
                    where,
                )
            )
        if line_seq != seq + 1:
            out.problems.append(
                Problem(
                    "decisions.seq",
                    f"seq {line_seq} follows {seq}: "
                    + ("lines are missing" if line_seq > seq + 1 else "a line was repeated"),
                    where,
                )
            )
        prev, seq = hashlib.sha256(body).hexdigest(), line_seq
        out.count += 1
    out.head = prev
    head_file = root / "head.json"
    if head_file.is_file():
        try:
            head = json.loads(head_file.read_text(encoding="utf-8"))
            known = (str(head["file"]), int(head["seq"]), str(head["sha256"]))
        except (ValueError, KeyError, TypeError):
            known = None
        if known != (last_file, seq, prev):
            out.problems.append(
                Problem(
                    "decisions.head",
                    "head.json does not name the last line (its file, seq and sha256): the "
                    "end of the log was changed or cut",
                    Location(str(head_file)),
                )
            )
    elif out.count:
        out.problems.append(
            Problem("decisions.head", "head.json is missing", Location(str(head_file)))
        )
    if expect_head is not None and expect_head != prev:
        out.problems.append(
            Problem(
                "decisions.head",
                f"the log ends at {prev}, not at the expected head {expect_head}",
                Location(str(root)),
            )
        )
    return out


def find(folder: str | Path, decision_id: str) -> dict[str, Any]:
    """The logged line of one decision."""
    root = Path(folder)
    for path, number, raw in read_lines(root):
        if decision_id.encode() not in raw:
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            raise DecisionLogError(
                Problem("decisions.json", "not a decision line", Location(str(path), number))
            ) from None
        if line.get("decision_id") == decision_id:
            return dict(line)
    raise DecisionLogError(
        Problem(
            "decisions.unknown-id",
            f"no decision {decision_id!r} in this log",
            Location(str(root)),
        )
    )
