"""YAML with positions: every key path of a document mapped to its line and column.

Packs are written by hand, so every later error — an unknown key, an undefined name in an
expression, a gap between score bands — must point at the line an analyst will edit. The loader
keeps PyYAML's marks for each node, rejects duplicate keys (which PyYAML would otherwise let
silently override), and exposes ``locate(path)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from yibao_credit.errors import Location, PackError, Problem

PathKey = tuple[str | int, ...]


TextPosition = Callable[[int, int], tuple[int, int]]


@dataclass
class YamlDocument:
    """A parsed YAML document and the position of each of its nodes."""

    file: str
    data: Any
    positions: dict[PathKey, tuple[int, int]]
    """key path → (line, column), 1-based, of the value (or of the key for mapping entries)."""
    key_positions: dict[PathKey, tuple[int, int]]
    scalars: dict[PathKey, tuple[str, list[tuple[int, int, int]]]] = field(default_factory=dict)
    """key path → (scalar style, its content lines as (line, column, length)), for pointing
    inside a text: an expression in quotes or in a block (``>-``, ``|``) included."""

    def text_position(self, path: Sequence[str | int]) -> TextPosition | None:
        """A function from (line, column) inside a scalar's text to (line, column) in the file."""
        entry = self.scalars.get(tuple(path))
        if entry is None:
            return None
        style, lines = entry

        def position(lineno: int, offset: int) -> tuple[int, int]:
            if style == "|" and 0 < lineno <= len(lines):
                line, col, _ = lines[lineno - 1]
                return line, col + offset
            for line, col, length in lines:  # folded or single-line: one joined text
                if offset <= length:
                    return line, col + offset
                offset -= length + 1
            line, col, _ = lines[-1]
            return line, col

        return position

    files: dict[PathKey, str] = field(default_factory=dict)
    """Where a path was written, for a document merged from several files (``extends``):
    the file of the deepest prefix listed; ``file`` otherwise."""

    def file_of(self, path: PathKey) -> str:
        p = path
        while True:
            if p in self.files:
                return self.files[p]
            if not p:
                return self.file
            p = p[:-1]

    def locate(self, path: Sequence[str | int], key: bool = False) -> Location:
        """The closest known position for a path: the deepest prefix that exists."""
        table = self.key_positions if key else self.positions
        p = tuple(path)
        while p:
            for t in (table, self.positions):
                if p in t:
                    line, col = t[p]
                    return Location(self.file_of(p), line, col, format_path(path))
            p = p[:-1]
        line, col = self.positions.get((), (1, 1))
        return Location(self.file, line, col, format_path(path) or None)


def format_path(path: Sequence[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _scalar_lines(node: yaml.ScalarNode, text_lines: list[str]) -> list[tuple[int, int, int]]:
    """The (line, column, length) of each line of a scalar's content, 1-based."""
    start, end = node.start_mark, node.end_mark
    style = node.style or ""
    if style in ("|", ">"):
        out = []
        for index in range(start.line + 1, min(end.line + 1, len(text_lines))):
            raw = text_lines[index]
            body = raw.strip()
            if body:
                out.append((index + 1, len(raw) - len(raw.lstrip()) + 1, len(body)))
        return out or [(start.line + 1, start.column + 1, 0)]
    shift = 1 if style in ('"', "'") else 0
    first = (start.line + 1, start.column + 1 + shift, len(str(node.value)))
    if end.line == start.line:
        return [first]
    out = [
        (
            start.line + 1,
            start.column + 1 + shift,
            len(text_lines[start.line]) - start.column - shift,
        )
    ]
    for index in range(start.line + 1, end.line + 1):
        raw = text_lines[index]
        out.append((index + 1, len(raw) - len(raw.lstrip()) + 1, len(raw.strip())))
    return out


def _walk(
    node: yaml.Node,
    path: PathKey,
    doc: YamlDocument,
    text_lines: list[str],
    problems: list[Problem],
) -> None:
    positions, key_positions, file = doc.positions, doc.key_positions, doc.file
    positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.ScalarNode) and isinstance(node.value, str):
        doc.scalars[path] = (node.style or "", _scalar_lines(node, text_lines))
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    Problem(
                        "pack.yaml.duplicate-key",
                        f"duplicate key {key!r} (first on line {seen[key]})",
                        Location(
                            file, line, key_node.start_mark.column + 1, format_path((*path, key))
                        ),
                    )
                )
            seen[key] = line
            child = (*path, key)
            key_positions[child] = (line, key_node.start_mark.column + 1)
            _walk(value_node, child, doc, text_lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), doc, text_lines, problems)


class _Loader(yaml.SafeLoader):
    """SafeLoader: no Python object construction from pack files, ever."""


def _stringify_keys(data: Any) -> Any:
    """YAML turns some keys into dates or numbers; packs address everything by text."""
    if isinstance(data, dict):
        return {
            (
                k if isinstance(k, str) else k.isoformat() if hasattr(k, "isoformat") else str(k)
            ): _stringify_keys(v)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_stringify_keys(v) for v in data]
    return data


def _bad_scalar(loader: _Loader, root: yaml.Node, file: str, exc: ValueError) -> Problem:
    """Find the scalar PyYAML could not construct (it does not say), to point at it."""
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for k, v in reversed(node.value):
                stack.extend((v, k))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(reversed(node.value))
        elif isinstance(node, yaml.ScalarNode):
            fresh = _Loader("")  # the failed loader still holds the bad node as in progress
            try:
                fresh.construct_object(node, deep=True)
            except ValueError as inner:
                mark = node.start_mark
                return Problem(
                    "pack.yaml.value",
                    f"{node.value!r} cannot be read: {inner} (write dates as real YYYY-MM-DD)",
                    Location(file, mark.line + 1, mark.column + 1),
                )
    return Problem("pack.yaml.value", f"a value cannot be read: {exc}", Location(file))


def _indent(lines: list[str], index: int) -> int:
    line = lines[index] if index < len(lines) else ""
    return len(line) - len(line.lstrip(" "))


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str, file: str) -> Problem:
    """PyYAML's error, located where the mistake is to be fixed.

    PyYAML reports where it gave up (``problem_mark``) and the construct it was inside
    (``context_mark``). For a construct that was never closed — an ``[``, ``{`` or quote
    still open at the end of the file, or a flow collection that ran on into the following
    lines of the block (the parser stops at a line indented no deeper than the one that
    opened it) — the place to fix is where it opened: the problem is located there, and the
    place the parser gave up is given in the message."""
    mark, opened = exc.problem_mark, exc.context_mark
    what = exc.problem or "invalid YAML"
    if exc.context:
        what = f"{exc.context}: {what}"
    if mark is None:
        mark = opened
    elif opened is not None and (opened.line, opened.column) < (mark.line, mark.column):
        lines = text.splitlines()
        at_end = not text[mark.index :].strip()
        context = exc.context or ""
        ran_on = (
            "flow" in context
            and opened.line < mark.line
            and _indent(lines, mark.line) <= _indent(lines, opened.line)
        )
        if at_end or ran_on:
            construct = context.removeprefix("while parsing ").removeprefix("while scanning ")
            where = f"{mark.line + 1}:{mark.column + 1}"
            stopped = f"the end of the file, {where}" if at_end else where
            what = (
                f"{construct or 'a construct'} opened here is not closed: "
                f"{exc.problem or 'invalid YAML'} (at {stopped})"
            )
            mark = opened
    line = mark.line + 1 if mark else None
    col = mark.column + 1 if mark else None
    return Problem("pack.yaml.syntax", f"YAML syntax error: {what}", Location(file, line, col))


def parse_yaml(text: str, file: str) -> YamlDocument:
    """Parse one YAML document; syntax errors and duplicate keys become located problems."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise PackError(Problem("pack.yaml.empty", "the file is empty", Location(file, 1, 1)))
        try:
            data = loader.construct_document(node)
        except ValueError as exc:  # an impossible date such as 2024-02-30
            raise PackError(_bad_scalar(loader, node, file, exc)) from None
    except yaml.MarkedYAMLError as exc:
        raise PackError(_syntax_problem(exc, text, file)) from exc
    finally:
        loader.dispose()
    doc = YamlDocument(file, _stringify_keys(data), {}, {})
    problems: list[Problem] = []
    _walk(node, (), doc, text.splitlines(), problems)
    if problems:
        raise PackError(problems)
    return doc


_GIVEN: ContextVar[Mapping[str, bytes] | None] = ContextVar("pack_sources", default=None)
_SEEN: ContextVar[dict[str, bytes] | None] = ContextVar("pack_sources_seen", default=None)


@contextmanager
def given_sources(files: Mapping[str, bytes]) -> Iterator[None]:
    """Read these bytes for these paths (as ``read_yaml`` is given them) instead of the files:
    a pack rebuilt where its files are not (a pickled ``Policy`` on a Spark executor)."""
    token = _GIVEN.set(files)
    try:
        yield
    finally:
        _GIVEN.reset(token)


@contextmanager
def recorded_sources() -> Iterator[dict[str, bytes]]:
    """Every file ``read_yaml`` reads meanwhile, path (as given) → bytes: what a loaded pack
    was built from, to rebuild it from the same bytes."""
    seen: dict[str, bytes] = {}
    token = _SEEN.set(seen)
    try:
        yield seen
    finally:
        _SEEN.reset(token)


def source_exists(path: str | Path) -> bool:
    """Whether ``read_yaml`` can read ``path``: given bytes, or a file."""
    given = _GIVEN.get()
    return (given is not None and str(path) in given) or Path(path).exists()


def read_yaml(path: str | Path) -> tuple[YamlDocument, bytes]:
    """Read and parse a YAML file; returns the document and the raw bytes (for hashing)."""
    p = Path(path)
    given = _GIVEN.get()
    try:
        raw = given[str(path)] if given is not None and str(path) in given else p.read_bytes()
    except OSError as exc:
        raise PackError(
            Problem("pack.file", f"cannot read: {exc.strerror}", Location(str(p)))
        ) from exc
    seen = _SEEN.get()
    if seen is not None:
        seen[str(path)] = raw
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PackError(
            Problem("pack.encoding", "the file is not UTF-8", Location(str(p)))
        ) from exc
    return parse_yaml(text, str(p)), raw
