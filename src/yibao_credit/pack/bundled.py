"""The packs shipped with the package, found by id.

The project's ``policies/`` (packs, folders of dated versions, their ``*.tests.yaml``) and
``examples/`` are package data: the wheel installs them as ``yibao_credit/policies`` and
``yibao_credit/examples`` (pyproject.toml maps the two folders into the package, so they stay
where they are in the repository). In a source checkout — an editable install, or ``src`` on
the path — the repository's own folders are used.

A pack may be named by its id (``zhenjiang``) wherever a path is taken: ``resolve_pack``
turns the id into the bundled file or folder — for a folder of dated versions with a manifest
beside it (``jiangsu_perf.yaml`` naming ``jiangsu_perf/``), the manifest. A path that exists
always wins over an id; a name that looks like an id and is neither a file nor a bundled pack
is ``pack.unknown-id``, listing the bundled ids.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from yibao_credit.errors import Location, PackError, Problem
from yibao_credit.pack.load import read_pack
from yibao_credit.pack.manifest import is_manifest, read_manifest

_PACKAGE = Path(__file__).parent.parent
"""The installed ``yibao_credit`` folder (``src/yibao_credit`` in a checkout)."""

_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
"""What a pack id looks like (``pack.id`` in the schema): no dot, no slash, no extension."""

_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _data_dir(name: str) -> Path | None:
    installed = _PACKAGE / name
    if installed.is_dir():
        return installed
    root = _PACKAGE.parent.parent  # src/yibao_credit → the repository
    if _PACKAGE.parent.name == "src" and (root / "pyproject.toml").is_file():
        checkout = root / name
        if checkout.is_dir():
            return checkout
    return None


def policies_dir() -> Path | None:
    """The folder of the bundled packs, or None when this installation has none."""
    return _data_dir("policies")


def examples_dir() -> Path | None:
    """The folder of the bundled example data (one folder per example)."""
    return _data_dir("examples")


def is_pack_id(text: str) -> bool:
    """Whether ``text`` has the form of a pack id (and so is not meant as a path)."""
    return bool(_ID.match(text))


def _is_tests(path: Path) -> bool:
    return path.name.endswith(".tests.yaml")


def _versions_of(folder: Path) -> list[Path]:
    """A folder's credit pack versions; a folder holding an audit pack (``audit.yaml``, read
    by ``yibao-credit audit``) holds none."""
    if (folder / "audit.yaml").is_file():
        return []
    return sorted(f for f in folder.glob("*.yaml") if not _is_tests(f))


def _entries(root: Path) -> list[Path]:
    """The bundled packs as written: each pack file, and each folder of versions."""
    files = [f for f in sorted(root.glob("*.yaml")) if not _is_tests(f)]
    folders = [d for d in sorted(root.iterdir()) if d.is_dir() and _versions_of(d)]
    return sorted([*files, *folders], key=lambda p: p.name)


def _declared_id(entry: Path) -> str | None:
    """``pack.id`` of a pack file (of the first version, for a folder; ``manifest.id`` of a
    manifest), read cheaply."""
    file = _versions_of(entry)[0] if entry.is_dir() else entry
    try:
        data = yaml.load(file.read_text(encoding="utf-8-sig"), Loader=_YamlLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    if isinstance(data, dict) and "manifest" in data:
        data = {"pack": data["manifest"]}
    meta = data.get("pack") if isinstance(data, dict) else None
    pack_id = meta.get("id") if isinstance(meta, dict) else None
    return pack_id if isinstance(pack_id, str) else None


@cache
def _index(root: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    # A manifest first: the id is the manifest's, not that of the folder it names.
    for entry in sorted(_entries(root), key=lambda e: not is_manifest(e)):
        pack_id = _declared_id(entry)
        if pack_id is not None and pack_id not in out:
            out[pack_id] = entry
    return dict(sorted(out.items()))


def packs_in(folder: Path) -> dict[str, Path]:
    """Each pack in a folder laid out as ``policies/`` is (pack files, folders of dated
    versions, manifests naming them), by id: a service serves such a folder."""
    return _index(folder.resolve())


def bundled_ids() -> dict[str, Path]:
    """Each bundled pack's id and its file (or folder of versions), by id."""
    root = policies_dir()
    return _index(root) if root is not None else {}


def resolve_pack(target: str | Path) -> Path:
    """The path a pack argument names: the path itself when it exists (or when it does not
    look like an id: reading it then reports ``pack.file``), else the bundled pack with that
    id. An id no bundled pack has is ``pack.unknown-id``."""
    path = Path(target)
    name = str(target)
    if path.exists() or not is_pack_id(name):
        return path
    packs = bundled_ids()
    if name in packs:
        return packs[name]
    if packs:
        close = difflib.get_close_matches(name, list(packs), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = f"the bundled packs are: {', '.join(packs)}"
    else:
        hint, known = "", "this installation bundles no packs"
    raise PackError(
        Problem(
            "pack.unknown-id",
            f"no such file, and no bundled pack has the id {name!r}{hint}; {known}",
            Location(name),
        )
    )


@dataclass(frozen=True)
class BundledVersion:
    """One version of a bundled pack, as ``yibao-credit packs`` lists it."""

    version: str
    effective_from: dt.date
    effective_to: dt.date | None
    sha256: str
    """As in every result's ``policy.sha256`` (for a pack that extends another: the chain)."""
    file: Path


@dataclass(frozen=True)
class BundledPack:
    id: str
    path: Path
    """The pack file, the folder of its dated versions, or the manifest naming the folder."""
    versions: tuple[BundledVersion, ...]
    """In order of their effective periods."""


def bundled_packs() -> list[BundledPack]:
    """Every bundled pack, read and validated (not compiled), by id."""
    out = []
    for pack_id, entry in bundled_ids().items():
        if entry.is_dir():
            files = _versions_of(entry)
        elif is_manifest(entry):
            files = list(read_manifest(entry).versions)
        else:
            files = [entry]
        versions = []
        for f in files:
            model, _, digest = read_pack(f)
            eff = model.pack.effective
            versions.append(BundledVersion(model.pack.version, eff.from_, eff.to, digest, f))
        versions.sort(key=lambda v: v.effective_from)
        out.append(BundledPack(pack_id, entry, tuple(versions)))
    return out
