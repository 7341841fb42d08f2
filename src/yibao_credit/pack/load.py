"""Read a pack and validate it against the schema, with every problem located.

A document that is not a mapping, an unknown key (with the nearest known one suggested), a
missing key or a value of the wrong type is a ``PackError`` naming file, line, column and the
path inside the pack — before anything is compiled.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from yibao_credit.errors import PackError, Problem
from yibao_credit.pack import schema as pack_schema
from yibao_credit.pack.extends import read_pack_document
from yibao_credit.pack.schema import PackModel, Provenance, Text, reading
from yibao_credit.pack.sourcemap import PathKey, YamlDocument, format_path


def _all_field_names() -> list[str]:
    names: set[str] = set()
    for obj in vars(pack_schema).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel):
            for fname, f in obj.model_fields.items():
                names.add(f.alias or fname)
    return sorted(names)


_FIELD_NAMES = _all_field_names()


def _real_path(data: Any, loc: Sequence[str | int]) -> PathKey:
    """Map a pydantic error location onto keys that exist in the document.

    Pydantic inserts union-member tags (``str``, ``ClauseRef``) into locations; those are not
    keys of the YAML and are skipped, so the error points at a line the analyst can find.
    """
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part == node.get("type") and part not in node:
            continue  # a discriminated union's tag (grading type), not a key of the YAML
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and part == "from_" and "from" in node:
            path.append("from")
            node = node["from"]
        elif (
            isinstance(node, dict)
            and isinstance(part, str)
            and not part[:1].isupper()
            and part not in ("str", "int", "float", "bool", "list", "dict", "function-after")
        ):
            path.append(part)  # a missing or unknown key: point at its parent, name it
            node = None
    return tuple(path)


def schema_problems(
    exc: ValidationError, doc: YamlDocument, vocabulary: Sequence[str] | None = None
) -> list[Problem]:
    """Located problems from a validation error; unknown keys get a suggestion from
    ``vocabulary`` (by default every key a pack may use)."""
    words = list(vocabulary) if vocabulary is not None else _FIELD_NAMES
    problems: list[Problem] = []
    seen: set[tuple[PathKey, str]] = set()
    for err in exc.errors(include_url=False):
        path = _real_path(doc.data, err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(path[-1]) if path else "?"
            close = difflib.get_close_matches(key, words, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            message = f"unknown key {key!r}{hint}"
            location = doc.locate(path, key=True)
        elif kind == "missing":
            message = f"required key {str(path[-1])!r} is missing"
            location = doc.locate(path[:-1])
            location = type(location)(
                location.file, location.line, location.column, format_path(path)
            )
        else:
            message = err["msg"].removeprefix("Value error, ")
            location = doc.locate(path)
        if (path, message) in seen:
            continue
        seen.add((path, message))
        problems.append(Problem(f"pack.schema.{kind}", message, location))
    return problems


@dataclass(frozen=True)
class ProvisionalValue:
    """A rule or value not set by a published text, with the decision that must confirm it."""

    path: str
    line: int | None
    text: Text
    """The pack's ``provisional:`` in both languages (a plain string is the same in both)."""
    file: str | None = None
    """The file that wrote it: a pack that extends another has values from several."""

    @property
    def note(self) -> str:
        """The text in Chinese, the default language; ``get`` gives it in another."""
        return self.text.zh

    def get(self, lang: str) -> str:
        return self.text.get(lang)


def walk_provisional(node: Any, path: PathKey) -> Iterator[tuple[PathKey, Text]]:
    """Every element of a validated pack that says ``provisional``: a rule or value (a
    ``Provenance``), or any other model with a ``provisional`` field — pack metadata
    (``pack``, a source, a grade label, …) — whatever section it is in."""
    for where, note, _ in _provisional_nodes(node, path):
        yield where, note


def _provisional_nodes(node: Any, path: PathKey) -> Iterator[tuple[PathKey, Text, BaseModel]]:
    if isinstance(node, BaseModel):
        note = reading(getattr(node, "provisional", None))
        if note is not None and note.zh and "provisional" in type(node).model_fields:
            yield path, note, node
        for name in type(node).model_fields:
            value = getattr(node, name)
            key = type(node).model_fields[name].alias or name
            yield from _provisional_nodes(value, (*path, key))
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _provisional_nodes(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _provisional_nodes(v, (*path, i))


def parse_pack(doc: YamlDocument) -> PackModel:
    """Validate a parsed document against the pack schema, with located errors."""
    if not isinstance(doc.data, dict):
        raise PackError(
            Problem(
                "pack.schema",
                "a pack is a mapping of sections (pack:, rulesets:, …)",
                doc.locate(()),
            )
        )
    try:
        return PackModel.model_validate(doc.data)
    except ValidationError as exc:
        raise PackError(schema_problems(exc, doc)) from None


def read_pack(path: str | Path) -> tuple[PackModel, YamlDocument, str]:
    """The pack at ``path`` (with what it extends merged in), validated; and its sha256."""
    doc, digest = read_pack_document(path)
    return parse_pack(doc), doc, digest


def provisional_values(model: PackModel, doc: YamlDocument) -> list[ProvisionalValue]:
    """Every provisional rule, value or piece of metadata (``walk_provisional``) of a pack, in
    file order: the pack's own file first, then each file it extends, each in line order."""
    out = []
    for path, note, node in _provisional_nodes(model, ()):
        # A rule is located at itself; metadata (``pack``, a source: mappings that an
        # extending pack merges key by key) at its ``provisional`` key, in the file that wrote it.
        if isinstance(node, Provenance):
            where = doc.locate(path)
        else:
            where = doc.locate((*path, "provisional"), key=True)
        out.append(ProvisionalValue(format_path(path), where.line, note, where.file))
    order = {f: i for i, f in enumerate(dict.fromkeys([doc.file, *(p.file for p in out)]))}
    return sorted(out, key=lambda p: (order[p.file], p.line or 0, p.path))
