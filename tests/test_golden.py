"""Golden outputs of the ``yibao-credit`` command: the code reproduces them byte for byte.

tests/golden/manifest.json lists each case (written by tests/golden/record.py): the argv,
with paths relative to the repository root, the exit code, and the files holding the exact
bytes of standard output and standard error (warnings are part of the output contract). Each
case runs in-process, as in tests/test_cli.py: the command's ``main`` is called with the argv,
the working directory at the repository root, and its output read through ``capsys``; a usage
error (argparse's ``SystemExit``) gives exit code 2. ``main`` is found through the console
script that pyproject.toml names, so the test follows the command wherever its module moves.

The generated provinces (benchmarks/generate.py and benchmarks/generate_shenzhen.py, 20,000
institutions each) are made again in a temporary folder; only the sha256 of ``evaluate
--trace full`` is kept in the manifest, and ``{data}`` in the argv and in standard error
stands for that folder.

After an intended change of output: ``python tests/golden/record.py``, and review the diff.
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import hashlib
import importlib
import io
import json
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
MANIFEST: dict[str, Any] = json.loads((GOLDEN / "manifest.json").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = MANIFEST["cases"]
PROVINCES: list[dict[str, Any]] = MANIFEST["provinces"]

Main = Callable[[Sequence[str]], int]


@pytest.fixture(scope="module")
def main() -> Main:
    """The ``main`` beside the ``entry`` that pyproject.toml names as ``yibao-credit``."""
    with open(ROOT / "pyproject.toml", "rb") as fh:
        target: str = tomllib.load(fh)["project"]["scripts"]["yibao-credit"]
    module_name, _, entry_name = target.partition(":")
    module = importlib.import_module(module_name)
    home = sys.modules[getattr(module, entry_name).__module__]  # where entry is defined
    fn: Main = getattr(home, "main", None) or module.main
    return fn


@contextlib.contextmanager
def as_the_script_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The recorded environment, the repository root as working directory, and the cyclic
    garbage collector off, as the console script (``entry``) has it."""
    monkeypatch.chdir(ROOT)
    for key, value in MANIFEST["env"].items():
        monkeypatch.setenv(key, value)
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def call(main: Main, argv: Sequence[str]) -> int:
    try:
        return main(list(argv))
    except SystemExit as exc:  # argparse: usage errors (2) and --help (0)
        return exc.code if isinstance(exc.code, int) else 1


def cli(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    main: Main,
    argv: Sequence[str],
) -> tuple[int, bytes, bytes]:
    """Exit code, standard output and standard error (UTF-8 bytes) of one command."""
    capsys.readouterr()  # drop anything printed before
    with as_the_script_runs(monkeypatch):
        code = call(main, argv)
    out, err = capsys.readouterr()
    return code, out.encode("utf-8"), err.encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def golden(entry: dict[str, Any] | None) -> bytes:
    """A recorded output (empty when the case wrote nothing there), checked against the
    manifest's sha256 so that a hand-edited golden file is not taken for the truth."""
    if entry is None:
        return b""
    data = (GOLDEN / str(entry["file"])).read_bytes()
    assert sha256(data) == entry["sha256"], f"{entry['file']} does not match the manifest"
    return data


def difference(what: str, expected: bytes, actual: bytes) -> str | None:
    """None when the bytes are equal, else where they first differ and the start of a
    unified diff, each line cut to 160 characters (JSON Lines results are long)."""
    if actual == expected:
        return None
    at = next(
        (i for i, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b),
        min(len(expected), len(actual)),
    )
    line = expected.count(b"\n", 0, at) + 1
    diff = difflib.unified_diff(
        expected.decode("utf-8", "replace").splitlines(keepends=True),
        actual.decode("utf-8", "replace").splitlines(keepends=True),
        f"{what} (golden)",
        f"{what} (now)",
    )
    shown = "".join(d if len(d) <= 160 else d[:160] + " …\n" for d in islice(diff, 30))

    def around(data: bytes) -> str:
        return repr(data[max(0, at - 60) : at + 60].decode("utf-8", "replace"))

    return (
        f"{what} differs from byte {at} (line {line}; {len(expected)} bytes recorded, "
        f"{len(actual)} now)\n  golden: {around(expected)}\n  now:    {around(actual)}\n"
        f"{shown}"
    )


def environment_note(main: Main) -> str:
    recorded = MANIFEST.get("environment", {})
    module = sys.modules[main.__module__]
    return (
        f"recorded with {recorded} at commit {MANIFEST.get('recorded_from_commit')}; "
        f"tested: {module.__file__}"
    )


EVALUATING = {"evaluate", "explain", "summary", "allocate", "review"}
"""Commands that evaluate: recorded once, checked on both engines (DuckDB is the default)."""

ENGINE_CASES = [
    pytest.param(case, engine, id=case["name"] + (f"[{engine}]" if engine else ""))
    for case in CASES
    for engine in (
        [None, "python"]
        if case["argv"][:1]
        and case["argv"][0] in EVALUATING
        and case["exit_code"] != 2
        and "--help" not in case["argv"]
        else [None]
    )
]


@pytest.mark.parametrize(("case", "engine"), ENGINE_CASES)
def test_golden_case(
    case: dict[str, Any],
    engine: str | None,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    main: Main,
) -> None:
    argv = [*case["argv"], "--engine", engine] if engine else case["argv"]
    code, out, err = cli(capsys, monkeypatch, main, argv)
    problems = [
        p
        for p in (
            None
            if code == case["exit_code"]
            else f"exit code {code}, recorded {case['exit_code']}",
            difference("stdout", golden(case["stdout"]), out),
            difference("stderr", golden(case.get("stderr")), err),
        )
        if p
    ]
    if problems:
        pytest.fail(
            f"yibao-credit {' '.join(argv)}\n"
            + "\n".join(problems)
            + "\n"
            + environment_note(main),
            pytrace=False,
        )


def test_golden_inputs_are_as_recorded() -> None:
    """The input files the cases read (tests/golden/inputs) are the ones recorded with."""
    for rel, digest in MANIFEST["inputs"].items():
        assert sha256((ROOT / rel).read_bytes()) == digest, f"{rel} changed since recording"


class HashingWriter(io.TextIOBase):
    """A text stream that keeps only the sha256 and length of the UTF-8 bytes written
    (a province's full trace is some 300 MB)."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        data = s.encode("utf-8")
        self.digest.update(data)
        self.size += len(data)
        return len(s)


@pytest.mark.parametrize("engine", ["duckdb", "python"])
@pytest.mark.parametrize("province", PROVINCES, ids=[p["name"] for p in PROVINCES])
def test_golden_province(
    province: dict[str, Any],
    engine: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    main: Main,
) -> None:
    data = tmp_path / "data"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / province["generator"]),
            *(a.replace("{data}", str(data)) for a in province["generator_args"]),
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        generated = {f.name: sha256(f.read_bytes()) for f in sorted(data.iterdir())}
        assert generated == province["generated_sha256"], (
            f"{province['generator']} no longer writes the recorded province"
        )
        out, err = HashingWriter(), io.StringIO()
        argv = [a.replace("{data}", str(data)) for a in province["argv"]] + ["--engine", engine]
        with (
            as_the_script_runs(monkeypatch),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            code = call(main, argv)
    finally:
        shutil.rmtree(data)
    assert code == province["exit_code"]
    assert err.getvalue().replace(str(data), "{data}") == province["stderr"]
    assert (out.size, out.digest.hexdigest()) == (
        province["stdout_bytes"],
        province["stdout_sha256"],
    ), f"evaluate output of {province['name']} differs; {environment_note(main)}"
