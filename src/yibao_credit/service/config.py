"""What a service is started with, and the packs and callers it knows, checked before it
listens: a pack that does not validate, a token file with a bad line or a log folder that
cannot be written stops the start with located errors, not the first request."""

from __future__ import annotations

import hashlib
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from yibao_credit.errors import Location, PackError, Problem, YibaoError
from yibao_credit.pack.bundled import bundled_ids, is_pack_id, packs_in, resolve_pack
from yibao_credit.pack.manifest import is_manifest
from yibao_credit.policy import PolicySet, load_policies


class ServiceConfig(BaseModel):
    """``yibao-credit serve``'s options; passed to each worker process as JSON."""

    model_config = ConfigDict(extra="forbid")

    packs: list[str] = Field(default_factory=list)
    """Bundled pack ids, pack files, folders of dated versions, or folders of packs laid out
    as ``policies/`` is; none: every bundled pack."""
    decision_log: str
    token_file: str | None = None
    max_body_bytes: int = Field(default=32 * 1024 * 1024, gt=0)
    timeout: float = Field(default=30.0, gt=0)
    personal: list[str] = Field(default_factory=list)
    rotate_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    fsync: bool = True


class ServiceError(YibaoError):
    """The service cannot start as configured."""


_TOKEN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MIN_TOKEN = 16


@dataclass(frozen=True)
class Callers:
    """Bearer tokens by their sha256 (the tokens themselves are not kept), each with the id
    the decision log records for its caller."""

    by_digest: dict[str, str]

    def caller(self, token: str) -> str | None:
        return self.by_digest.get(hashlib.sha256(token.encode("utf-8")).hexdigest())


def read_tokens(path: str | Path) -> Callers:
    """A token file: one ``ID:TOKEN`` per line (``#`` comments and blank lines allowed); the
    id names the caller in the log, the token is at least 16 characters."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
        mode = file.stat().st_mode
    except (OSError, UnicodeDecodeError) as exc:
        raise ServiceError(
            Problem("service.token-file", f"cannot read the token file: {exc}", Location(str(file)))
        ) from None
    problems: list[Problem] = []
    by_digest: dict[str, str] = {}
    ids: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = Location(str(file), number)
        token_id, sep, token = line.partition(":")
        token_id, token = token_id.strip(), token.strip()
        if not sep or not _TOKEN_ID.match(token_id):
            problems.append(
                Problem(
                    "service.token-file",
                    "a line is ID:TOKEN, the id letters, digits, '_', '.' or '-' (at most 64)",
                    where,
                )
            )
            continue
        if len(token) < MIN_TOKEN:
            problems.append(
                Problem(
                    "service.token-file",
                    f"the token of {token_id!r} has {len(token)} characters; at least "
                    f"{MIN_TOKEN} are needed (e.g. python -c 'import secrets; "
                    "print(secrets.token_urlsafe(32))')",
                    where,
                )
            )
            continue
        if token_id in ids:
            problems.append(
                Problem(
                    "service.token-file",
                    f"token id {token_id!r} again (first on line {ids[token_id]})",
                    where,
                )
            )
            continue
        digest = hashlib.sha256(token.encode("utf-8")).hexdigest()
        if digest in by_digest:
            problems.append(
                Problem("service.token-file", f"the same token as {by_digest[digest]!r}", where)
            )
            continue
        ids[token_id] = number
        by_digest[digest] = token_id
    if not problems and not by_digest:
        problems.append(
            Problem("service.token-file", "the token file holds no token", Location(str(file)))
        )
    if mode & (stat.S_IRWXG | stat.S_IRWXO) and not problems:
        problems.append(
            Problem(
                "service.token-file",
                f"the token file may be read by others (mode {stat.S_IMODE(mode):o}): "
                f"chmod 600 {file}",
                Location(str(file)),
            )
        )
    if problems:
        raise ServiceError(problems)
    return Callers(by_digest)


def _paths(target: str) -> list[Path]:
    """The packs one ``--packs`` argument names: a pack (file, manifest or folder of dated
    versions) or a folder of packs laid out as ``policies/`` is."""
    path = resolve_pack(target) if is_pack_id(target) else Path(target)
    if not path.exists():
        raise PackError(Problem("pack.file", "no such pack file or folder", Location(target)))
    if not path.is_dir():
        return [path]
    found = packs_in(path)
    subfolders = [d for d in path.iterdir() if d.is_dir() and any(d.glob("*.yaml"))]
    manifests = [f for f in path.glob("*.yaml") if is_manifest(f)]
    if len(found) <= 1 and not subfolders and not manifests:
        return [path]  # one pack's dated versions
    return list(found.values())


def load_packs(targets: list[str]) -> dict[str, PolicySet]:
    """Every pack the service serves, loaded and compiled, by id; every problem of every
    pack is reported at once."""
    paths = [p for target in targets or list(bundled_ids()) for p in _paths(target)]
    packs: dict[str, PolicySet] = {}
    where: dict[str, Path] = {}
    problems: list[Problem] = []
    for path in paths:
        try:
            loaded = load_policies(path)
        except YibaoError as exc:
            problems += exc.problems
            continue
        if loaded.id in packs:
            if where[loaded.id].resolve() == path.resolve():
                continue
            problems.append(
                Problem(
                    "service.packs",
                    f"two packs have the id {loaded.id!r}: {where[loaded.id]} and {path}",
                    Location(str(path)),
                )
            )
            continue
        packs[loaded.id], where[loaded.id] = loaded, path
    if problems:
        raise ServiceError(problems)
    if not packs:
        raise ServiceError(Problem("service.packs", "no pack to serve"))
    return dict(sorted(packs.items()))
