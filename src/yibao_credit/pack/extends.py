"""Packs that extend other packs: a city's part of a provincial system.

Jiangsu sets 90 of 100 points and each city adds its own 10 (苏医保办发〔2023〕26号 二(二)). A
city pack says ``extends: jiangsu_perf.yaml`` and writes only its part. The two documents are
merged before validation:

- mappings merge key by key, the extending pack's value winning;
- lists whose items all have an ``id`` (sources, categories, items, measures, exclusions…)
  merge by id: an item with an id the base has is merged into it, a new id is appended;
- anything else (a number, a text, a list of labels) is replaced whole.

Every merged path remembers the file and line it came from, so errors still point at the
file an analyst must edit. The result's hash covers every file of the chain.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from yibao_credit.errors import PackError, Problem
from yibao_credit.pack.sourcemap import PathKey, YamlDocument, read_yaml, source_exists

_MISSING: Any = object()


MAX_DEPTH = 8


def _copy(src: YamlDocument, src_path: PathKey, out: YamlDocument, out_path: PathKey) -> None:
    """Copy the positions of a subtree of ``src`` to ``out`` under another path."""
    n = len(src_path)

    def moved(path: PathKey) -> PathKey | None:
        return (*out_path, *path[n:]) if path[:n] == src_path else None

    for path, pos in src.positions.items():
        if (to := moved(path)) is not None:
            out.positions[to] = pos
    for path, pos in src.key_positions.items():
        if (to := moved(path)) is not None:
            out.key_positions[to] = pos
    for path, scalar in src.scalars.items():
        if (to := moved(path)) is not None:
            out.scalars[to] = scalar
    out.files[out_path] = src.file_of(src_path)
    for path, file in src.files.items():
        if path[:n] == src_path and len(path) > n:
            out.files[(*out_path, *path[n:])] = file


def _by_id(items: Any) -> bool:
    return (
        isinstance(items, list)
        and bool(items)
        and all(isinstance(i, dict) and isinstance(i.get("id"), str) for i in items)
    )


def _merge(
    base: YamlDocument,
    bv: Any,
    bpath: PathKey,
    ext: YamlDocument,
    ev: Any,
    epath: PathKey,
    out: YamlDocument,
    opath: PathKey,
) -> Any:
    if ev is _MISSING:
        _copy(base, bpath, out, opath)
        return bv
    if bv is _MISSING:
        _copy(ext, epath, out, opath)
        return ev
    if isinstance(bv, dict) and isinstance(ev, dict):
        _copy_node(ext, epath, out, opath)
        merged: dict[str, Any] = {}
        for key in [*bv, *(k for k in ev if k not in bv)]:
            merged[key] = _merge(
                base,
                bv.get(key, _MISSING),
                (*bpath, key),
                ext,
                ev.get(key, _MISSING),
                (*epath, key),
                out,
                (*opath, key),
            )
        return merged
    if _by_id(bv) and _by_id(ev):
        _copy_node(ext, epath, out, opath)
        ext_index = {item["id"]: i for i, item in enumerate(ev)}
        result: list[Any] = []
        for bi, item in enumerate(bv):
            ei = ext_index.pop(item["id"], None)
            oi = len(result)
            if ei is None:
                result.append(
                    _merge(base, item, (*bpath, bi), ext, _MISSING, (), out, (*opath, oi))
                )
            else:
                result.append(
                    _merge(base, item, (*bpath, bi), ext, ev[ei], (*epath, ei), out, (*opath, oi))
                )
        for ei in sorted(ext_index.values()):
            result.append(
                _merge(base, _MISSING, (), ext, ev[ei], (*epath, ei), out, (*opath, len(result)))
            )
        return result
    _copy(ext, epath, out, opath)
    return ev


def _copy_node(src: YamlDocument, src_path: PathKey, out: YamlDocument, out_path: PathKey) -> None:
    """The position of a merged mapping or list itself: where the extending pack wrote it."""
    if src_path in src.positions:
        out.positions[out_path] = src.positions[src_path]
    if src_path in src.key_positions:
        out.key_positions[out_path] = src.key_positions[src_path]
    out.files[out_path] = src.file_of(src_path)


def read_pack_document(path: str | Path, _chain: tuple[str, ...] = ()) -> tuple[YamlDocument, str]:
    """Read a pack file, following ``extends`` (relative to the file), merged and located;
    returns the document and a hash over every file of the chain."""
    doc, raw = read_yaml(path)
    here = str(Path(path).resolve())
    if here in _chain:
        cycle = " → ".join([*_chain, here])
        raise PackError(
            Problem(
                "pack.extends.cycle",
                f"packs extend each other in a cycle: {cycle}",
                doc.locate(("extends",)),
            )
        )
    digest = hashlib.sha256(raw).hexdigest()
    if not isinstance(doc.data, dict) or "extends" not in doc.data:
        return doc, digest
    target = doc.data["extends"]
    if not isinstance(target, str):
        raise PackError(
            Problem(
                "pack.extends", "extends names the pack file to extend", doc.locate(("extends",))
            )
        )
    if len(_chain) >= MAX_DEPTH:
        raise PackError(
            Problem(
                "pack.extends",
                f"more than {MAX_DEPTH} packs extend each other",
                doc.locate(("extends",)),
            )
        )
    base_path = Path(path).parent / target
    if not source_exists(base_path):
        raise PackError(
            Problem(
                "pack.extends.missing",
                f"the pack to extend, {target!r}, does not exist (looked for {base_path})",
                doc.locate(("extends",)),
            )
        )
    base, base_digest = read_pack_document(base_path, (*_chain, here))
    own = {k: v for k, v in doc.data.items() if k != "extends"}
    out = YamlDocument(doc.file, None, {}, {})
    out.data = _merge(base, base.data, (), doc, own, (), out, ())
    out.files[()] = doc.file
    chain_digest = hashlib.sha256(f"{base_digest}\n{digest}".encode()).hexdigest()
    return out, chain_digest


def chain_files(path: str | Path) -> list[Path]:
    """The files a pack is read from: the file, then what it extends, and so on (the bytes
    its sha256 covers). A decision log keeps a copy of them, to replay with the same bytes."""
    files: list[Path] = []
    current: Path | None = Path(path)
    while current is not None and current.resolve() not in files and len(files) <= MAX_DEPTH:
        files.append(current.resolve())
        doc, _ = read_yaml(current)
        target = doc.data.get("extends") if isinstance(doc.data, dict) else None
        current = current.parent / target if isinstance(target, str) else None
    return files
