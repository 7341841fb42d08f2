"""A manifest: the one file a user names for a pack kept as dated versions in a folder.

A pack whose rules change each year (Jiangsu's indicator table, 二(二)) is a folder of dated
versions (pack-format.md §17). The manifest beside it is a small YAML file with one key,
``manifest:``, naming the pack's id and the folder, so that the pack is named like any other
(``policies/jiangsu_perf.yaml``)::

    manifest:
      id: jiangsu_perf
      folder: jiangsu_perf            # relative to this file, or absolute
      version_by: evaluation_year     # optional: every version must pick by this window

Which version is used is decided as for the folder itself: the one whose ``effective`` period
holds the selection date (``as_of``, or the start of the ``version_by`` window). The manifest
is validated like a pack (unknown or missing keys, wrong types: ``pack.schema.*``, located),
its folder must exist and hold versions (``pack.manifest.folder``), and the versions must be
of the manifest's pack (``pack.manifest.id``) and pick as it says (``pack.manifest.version_by``).
The versions' ``effective`` periods are checked together, manifest or not
(``period_problems``): two claiming a day are an error, days none covers a warning.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from yibao_credit.errors import Location, PackError, Problem
from yibao_credit.pack.load import schema_problems
from yibao_credit.pack.schema import Effective, Identifier, PackModel, Strict, Text
from yibao_credit.pack.sourcemap import YamlDocument, read_yaml

_TOP = re.compile(r"^manifest[ \t]*:", re.MULTILINE)
"""A top-level ``manifest:`` key (at column 0): what marks a file as a manifest. A pack may not
have this key (its schema forbids it), so the test never takes a pack for a manifest."""


class ManifestBody(Strict):
    id: Identifier
    """The pack's id: every version's ``pack.id``."""
    folder: str
    """The folder of the versions, relative to the manifest (or absolute)."""
    version_by: Identifier | None = None
    """When given, every version's ``pack.version_by`` must be this window."""
    name: Text | None = None
    description: str | None = None


class ManifestModel(Strict):
    manifest: ManifestBody


_KEYS = sorted(
    {f.alias or n for m in (ManifestModel, ManifestBody) for n, f in m.model_fields.items()}
)


@dataclass(frozen=True)
class Manifest:
    """A validated manifest: the pack id, the folder and its version files."""

    file: str
    doc: YamlDocument
    id: str
    folder: Path
    version_by: str | None
    versions: tuple[Path, ...]
    """The folder's ``*.yaml`` files except ``*.tests.yaml``, sorted by name."""

    def locate(self, *path: str, key: bool = False) -> Location:
        """Where a key of the ``manifest:`` section is (its value; with ``key``, the key)."""
        return self.doc.locate(("manifest", *path), key=key)


def is_tests(path: Path) -> bool:
    return path.name.endswith(".tests.yaml")


def version_files(folder: Path) -> list[Path]:
    """A folder's versions: every ``*.yaml`` but the ``*.tests.yaml`` beside them."""
    return sorted(f for f in folder.glob("*.yaml") if not is_tests(f))


def is_manifest(path: str | Path) -> bool:
    """Whether a path is a manifest file: a file whose top level has the key ``manifest``.
    Cheap (no YAML parse); a file that cannot be read is not one (reading it as a pack says
    why)."""
    p = Path(path)
    if is_tests(p) or not p.is_file():
        return False
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return False
    return _TOP.search(text) is not None


def read_manifest(path: str | Path) -> Manifest:
    """Read and validate a manifest; raises PackError with every problem located."""
    doc, _ = read_yaml(path)
    if not isinstance(doc.data, dict):
        raise PackError(
            Problem(
                "pack.schema",
                "a manifest is a mapping with one key, manifest: (id, folder)",
                doc.locate(()),
            )
        )
    try:
        model = ManifestModel.model_validate(doc.data)
    except ValidationError as exc:
        raise PackError(schema_problems(exc, doc, _KEYS)) from None
    body = model.manifest
    folder = Path(body.folder)
    if not folder.is_absolute():
        folder = Path(doc.file).parent / folder
    where = doc.locate(("manifest", "folder"))
    if not folder.exists():
        raise PackError(
            Problem("pack.manifest.folder", f"the folder {folder} does not exist", where)
        )
    if not folder.is_dir():
        raise PackError(
            Problem(
                "pack.manifest.folder",
                f"{folder} is not a folder: name the folder of the pack's dated versions",
                where,
            )
        )
    versions = version_files(folder)
    if not versions:
        raise PackError(
            Problem(
                "pack.manifest.folder",
                f"the folder {folder} holds no version (a *.yaml file other than *.tests.yaml)",
                where,
            )
        )
    me = Path(doc.file).resolve()
    if any(v.resolve() == me for v in versions):
        raise PackError(
            Problem(
                "pack.manifest.folder",
                "the manifest is inside the folder it lists: keep it beside the folder",
                where,
            )
        )
    return Manifest(doc.file, doc, body.id, folder, body.version_by, tuple(versions))


def version_problems(
    manifest: Manifest, versions: Sequence[tuple[PackModel, YamlDocument]]
) -> list[Problem]:
    """What the versions (which already share one id) say against the manifest: another
    pack id (located at the manifest's ``id``), or another ``version_by`` (located at each
    version that says so)."""
    problems: list[Problem] = []
    ids = sorted({model.pack.id for model, _ in versions})
    if ids and ids != [manifest.id]:
        problems.append(
            Problem(
                "pack.manifest.id",
                f"the versions in {manifest.folder} are of pack {', '.join(map(repr, ids))}, "
                f"not {manifest.id!r}: the manifest's id is every version's pack.id",
                manifest.locate("id"),
            )
        )
    if manifest.version_by is not None:
        for model, doc in versions:
            said = model.pack.version_by
            if said != manifest.version_by:
                how = f"by the window {said!r}" if said else "by as_of (no version_by)"
                problems.append(
                    Problem(
                        "pack.manifest.version_by",
                        f"the manifest {manifest.file} picks versions by the window "
                        f"{manifest.version_by!r}; this version picks {how}",
                        doc.locate(("pack", "version_by") if said else ("pack",)),
                    )
                )
    return problems


def _period(eff: Effective) -> str:
    return f"{eff.from_} .. {eff.to or 'open'}"


def _days(start: dt.date, end: dt.date) -> str:
    n = (end - start).days + 1
    return f"{n} day{'s' if n != 1 else ''}"


def _at(doc: YamlDocument, *path: str) -> str:
    """``file:line`` of a key of a version, for a message that names another version."""
    where = doc.locate(("pack", "effective", *path))
    return f"{where.file}:{where.line}" if where.line is not None else str(where.file)


def period_problems(
    pack_id: str, versions: Sequence[tuple[PackModel, YamlDocument]]
) -> tuple[list[Problem], list[Problem]]:
    """Overlaps (errors) and gaps (warnings) between the ``effective`` periods of a pack's
    dated versions, each located at the ``effective`` of a version involved and naming the
    other's file and line.

    Two versions that both claim a day are an error (``pack.versions.overlap``): a run whose
    selection date is that day would have two packs to apply, and which one is meant is not
    for the library to guess. Days no version covers between the first version's start and
    the last one's end are a warning (``pack.versions.gap``): a bureau may suspend an
    evaluation for a while, and a run on such a day already stops with ``eval.no-version``;
    ``validate --strict`` makes it an error. ``versions`` are in order of ``effective.from``.
    """
    errors: list[Problem] = []
    for i, (a, adoc) in enumerate(versions):
        ea = a.pack.effective
        for b, bdoc in versions[i + 1 :]:
            eb = b.pack.effective
            if ea.to is not None and ea.to < eb.from_:
                continue
            ends = [e for e in (ea.to, eb.to) if e is not None]
            end = min(ends) if ends else None  # the earlier end; open when both are
            span = f"{eb.from_} .. {end or 'open'}" + (f", {_days(eb.from_, end)}" if end else "")
            errors.append(
                Problem(
                    "pack.versions.overlap",
                    f"versions {a.pack.version!r} ({_at(adoc)}) and {b.pack.version!r} overlap: "
                    f"both claim {span} ({a.pack.version} runs {_period(ea)}, {b.pack.version} "
                    f"runs {_period(eb)}): a day there would have two versions; end "
                    f"{a.pack.version!r} before {eb.from_} (its effective.to) or start "
                    f"{b.pack.version!r} later",
                    bdoc.locate(("pack", "effective")),
                )
            )
    warnings: list[Problem] = []
    reach: tuple[dt.date, PackModel, YamlDocument] | None = None
    for model, doc in versions:
        eff = model.pack.effective
        if reach is not None and eff.from_ > reach[0] + dt.timedelta(days=1):
            start, end = reach[0] + dt.timedelta(days=1), eff.from_ - dt.timedelta(days=1)
            before, bdoc = reach[1], reach[2]
            warnings.append(
                Problem(
                    "pack.versions.gap",
                    f"no version of pack {pack_id!r} covers {start} .. {end} "
                    f"({_days(start, end)}): {before.pack.version!r} ends {reach[0]} and "
                    f"{model.pack.version!r} ({_at(doc, 'from')}) starts {eff.from_}; a run whose "
                    "selection date falls there stops with eval.no-version: if the versions "
                    f"are meant to follow each other, end {before.pack.version!r} on {end} or "
                    f"start {model.pack.version!r} on {start}",
                    bdoc.locate(("pack", "effective", "to")),
                )
            )
        if eff.to is None:
            break  # open-ended: every later day is claimed (a later version overlaps it)
        if reach is None or eff.to > reach[0]:
            reach = (eff.to, model, doc)
    return errors, warnings
