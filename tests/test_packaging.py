"""Issue 13, "Packaging": the wheel ships the packs, their tests and the examples; a pack is
found by its id (``yibao-credit evaluate zhenjiang …``, ``yc.load_policy("zhenjiang")``);
``yibao-credit packs`` lists the bundled packs; ``yibao-credit --version``; and the README's
Python snippet runs as printed.

The wheel is built from a copy of the project's sources (the files a build reads) into a
temporary folder, and its file list read with ``zipfile``: nothing is installed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pytest

import yibao_credit as yc
from yibao_credit.cli.main import main
from yibao_credit.pack import bundled
from yibao_credit.packtest.cases import read_tests
from yibao_credit.policy import load_policies

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "yibao_credit"
EXAMPLES = ROOT / "examples" / "zhenjiang"
IDS = ["huzhou", "jiangsu_perf", "jinan", "shenzhen", "suqian_perf", "zhenjiang"]
"""The bundled packs (policies/), by id."""


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse: --version, usage errors
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def digests(paths: Iterable[Path]) -> dict[Path, str]:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def data_files(folder: str) -> list[Path]:
    """The files of policies/ or examples/ a wheel must carry (not editor or cache files)."""
    return sorted(
        p
        for p in (ROOT / folder).rglob("*")
        if p.is_file() and not any(part.startswith((".", "__")) for part in p.parts)
    )


# -- the wheel --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """A wheel built (``pip wheel --no-deps``) from a copy of what the build reads."""
    base = tmp_path_factory.mktemp("wheel")
    copy = base / "project"
    copy.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".*")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, copy / name)
    for name in ("src", "policies", "examples"):
        shutil.copytree(ROOT / name, copy / name, ignore=ignore)
    out = base / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(copy), "-w", str(out), "--no-deps", "-q"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [whl] = out.glob("yibao_credit-*.whl")
    return zipfile.ZipFile(whl)


def test_the_wheel_holds_every_pack_tests_file_and_example_byte_for_byte(
    wheel: zipfile.ZipFile,
) -> None:
    """issue 13: the wheel held no policies, so after ``pip install`` no pack could be found.
    Every file of policies/ (packs, ``*.tests.yaml``, the jiangsu_perf/ folder of versions)
    and of examples/ is in it, under ``yibao_credit/policies`` and ``yibao_credit/examples``,
    with the same bytes (so the same sha256 in every result)."""
    names = set(wheel.namelist())
    for folder in ("policies", "examples"):
        files = data_files(folder)
        assert files
        for f in files:
            name = f"yibao_credit/{f.relative_to(ROOT).as_posix()}"
            assert name in names, f"{name} is not in the wheel"
            assert wheel.read(name) == f.read_bytes(), name
    assert "yibao_credit/policies/jiangsu_perf/jiangsu_perf_2024.yaml" in names
    assert "yibao_credit/policies/zhenjiang.tests.yaml" in names


def test_the_wheel_holds_every_module_and_nothing_else(wheel: zipfile.ZipFile) -> None:
    """issue 13: the packages are listed by hand in pyproject.toml (the two data folders are
    mapped in from outside src/): a package left off the list would be missing from the
    wheel. Every module under src/ is in it; nothing but modules, ``py.typed`` and the data."""
    names = {n for n in wheel.namelist() if not n.startswith("yibao_credit-")}
    modules = {
        f"yibao_credit/{p.relative_to(SRC).as_posix()}"
        for p in SRC.rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert modules <= names, sorted(modules - names)
    data = {
        f"yibao_credit/{f.relative_to(ROOT).as_posix()}"
        for folder in ("policies", "examples")
        for f in data_files(folder)
    }
    assert names == modules | data | {"yibao_credit/py.typed"}


def test_pyproject_lists_every_package_under_src() -> None:
    """issue 13: the hand-written package list matches the packages under src/, plus the
    two data folders."""
    with open(ROOT / "pyproject.toml", "rb") as fh:
        config = tomllib.load(fh)["tool"]["setuptools"]
    found = {
        ".".join(("yibao_credit", *p.parent.relative_to(SRC).parts))
        for p in SRC.rglob("__init__.py")
    }
    assert set(config["packages"]) == found | {"yibao_credit.policies", "yibao_credit.examples"}
    assert config["package-dir"]["yibao_credit.policies"] == "policies"
    assert config["package-dir"]["yibao_credit.examples"] == "examples"


# -- a pack by id -------------------------------------------------------------------------------


def evaluate_argv(pack: str | Path, events: Path = EXAMPLES / "events.jsonl") -> list[str]:
    return [
        "evaluate",
        str(pack),
        "--subjects",
        str(EXAMPLES / "subjects.jsonl"),
        "--events",
        str(events),
        "--as-of",
        "2024-12-31",
        "--trace",
        "decisive",
    ]


def test_evaluate_a_pack_by_id_gives_the_results_of_the_pack_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """issue 13: ``yibao-credit evaluate zhenjiang …`` (an id, not a path; here from a folder
    with no policies/ in it) finds the bundled pack: the same results, byte for byte, as
    ``evaluate policies/zhenjiang.yaml``."""
    inputs = [EXAMPLES / "subjects.jsonl", EXAMPLES / "events.jsonl"]
    before = digests(inputs)
    code, by_path, _ = cli(capsys, *evaluate_argv(ROOT / "policies" / "zhenjiang.yaml"))
    assert code == 0
    monkeypatch.chdir(tmp_path)
    code, by_id, err = cli(capsys, *evaluate_argv("zhenjiang"))
    assert code == 0
    assert by_id == by_path
    assert '"policy":{"id":"zhenjiang","version":"2024.1"' in by_id
    assert "[eval.no-history]" in err
    assert digests(inputs) == before


def test_load_policy_and_load_policies_take_an_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """issue 13: ``yc.load_policy("zhenjiang")`` is the bundled pack; ``load_policies`` takes
    the id of a folder of versions (``jiangsu_perf``) and of a pack that extends another."""
    monkeypatch.chdir(tmp_path)
    policy = yc.load_policy("zhenjiang")
    assert policy.id == "zhenjiang"
    assert policy.sha256 == yc.load_policy(ROOT / "policies" / "zhenjiang.yaml").sha256
    assert Path(policy.file) == bundled.bundled_ids()["zhenjiang"]
    versions = load_policies("jiangsu_perf").versions
    assert [v.version for v in versions] == ["2023评价版", "2024"]
    assert load_policies("suqian_perf").id == "suqian_perf"


def test_a_path_that_exists_wins_over_an_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """issue 13: a file named like an id is read as the file."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(ROOT / "policies" / "jinan.yaml", tmp_path / "zhenjiang")
    assert yc.load_policy("zhenjiang").id == "jinan"


def test_an_unknown_id_is_an_error_listing_the_bundled_ids(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """issue 13: an id no bundled pack has is ``pack.unknown-id``, with the nearest id and
    the list; a name that is not an id (``zhenjang.yaml``) is still ``pack.file``."""
    monkeypatch.chdir(tmp_path)
    message = (
        "zhenjang: no such file, and no bundled pack has the id 'zhenjang' (did you mean "
        f"'zhenjiang'?); the bundled packs are: {', '.join(IDS)} [pack.unknown-id]"
    )
    with pytest.raises(yc.PackError) as info:
        yc.load_policy("zhenjang")
    assert str(info.value) == message
    inputs = [EXAMPLES / "subjects.jsonl", EXAMPLES / "events.jsonl"]
    before = digests(inputs)
    code, out, err = cli(capsys, *evaluate_argv("zhenjang"))
    assert (code, out, err) == (1, "", f"error: {message}\n")
    code, out, err = cli(capsys, "validate", "zhenjang.yaml")
    assert (code, out) == (1, "")
    assert err == "error: zhenjang.yaml: cannot read: No such file or directory [pack.file]\n"
    assert digests(inputs) == before


def test_load_policy_on_a_folder_of_versions_names_load_policies() -> None:
    """issue 13: ``load_policy`` returns one version; the id of a folder of versions says to
    use ``load_policies``."""
    with pytest.raises(yc.PackError) as info:
        yc.load_policy("jiangsu_perf")
    [p] = info.value.problems
    assert p.code == "pack.file"
    assert p.location.file == str(bundled.bundled_ids()["jiangsu_perf"])
    assert p.message.startswith("this is a folder of dated versions of a pack: load it with")


def test_validate_and_test_take_an_id(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """issue 13: ``validate zhenjiang`` and ``test zhenjiang`` work on the bundled pack and
    its bundled tests; a tests file may name its pack by id (``pack: zhenjiang``)."""
    monkeypatch.chdir(tmp_path)
    pack = bundled.bundled_ids()["zhenjiang"]
    code, out, err = cli(capsys, "validate", "zhenjiang")
    assert (code, err) == (0, "")
    assert out.startswith(f"{pack}: ok — pack zhenjiang 2024.1, ")
    n = len(yc.load_policy("zhenjiang").rulesets)
    assert f"{n} ruleset(s)" in out
    cases = len(read_tests(ROOT / "policies" / "zhenjiang.tests.yaml").model.cases)
    code, out, err = cli(capsys, "test", "zhenjiang")
    assert (code, out, err) == (0, f"{cases} passed, 0 failed\n", "")
    own = tmp_path / "mine.tests.yaml"
    text = (ROOT / "policies" / "zhenjiang.tests.yaml").read_text(encoding="utf-8")
    own.write_text("pack: zhenjiang\n" + text, encoding="utf-8")
    code, out, err = cli(capsys, "test", own)
    assert (code, out, err) == (0, f"{cases} passed, 0 failed\n", "")


# -- yibao-credit packs, --version ---------------------------------------------------------------


def test_packs_lists_each_bundled_version_with_its_dates_and_sha256(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """issue 13: ``yibao-credit packs``: one line per version (id, version, effective
    period, the sha256 every result carries, the file), then where packs and examples are."""
    code, out, err = cli(capsys, "packs")
    assert (code, err) == (0, "")
    table, _, footer = out.partition("\n\n")
    rows = [re.split(r"\s{2,}", line) for line in table.splitlines()]
    assert rows[0] == ["id", "version", "effective", "sha256", "file"]
    root = bundled.policies_dir()
    assert root is not None
    expected = []
    for pack_id in IDS:
        for v in load_policies(pack_id).versions:
            eff = v.model.pack.effective
            period = f"{eff.from_} .. {eff.to or 'open'}"
            file = Path(v.file).relative_to(root).as_posix()
            expected.append([pack_id, v.version, period, v.sha256, file])
    assert rows[1:] == expected
    assert rows[-1][:3] == ["zhenjiang", "2024.1", "2024-01-01 .. open"]
    assert footer == f"packs: {root}\nexamples: {bundled.examples_dir()}\n"


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    """issue 13: ``yibao-credit --version``, the installed distribution's version, which is
    pyproject.toml's and ``yibao_credit.__version__``."""
    code, out, err = cli(capsys, "--version")
    version = importlib.metadata.version("yibao-credit")
    assert (code, out, err) == (0, f"yibao-credit {version}\n", "")
    with open(ROOT / "pyproject.toml", "rb") as fh:
        assert tomllib.load(fh)["project"]["version"] == version == yc.__version__


# -- the README's Python snippet -----------------------------------------------------------------


def test_the_readme_python_snippet_runs_as_printed_from_the_repository_root(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """issue 13: README's Python snippet loaded ``subjects.jsonl`` and ``events.jsonl``,
    which do not exist at the repository root. It is taken from README.md and run there."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    [snippet] = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    monkeypatch.chdir(ROOT)
    capsys.readouterr()
    exec(compile(snippet, "README.md", "exec"), {"__name__": "readme"})
    out = capsys.readouterr().out
    assert "ZJH001 graded ★★★ None\n" in out
    assert "ZJH011 excluded None agreement_under_1y\n" in out
    assert "ZJH001  镇江市示例第一人民医院 — ★★★ (excellent credit)" in out
