"""The manifest of a pack kept as dated versions (issue 14 item 14; docs/pack-format.md §17).

苏医保办发〔2023〕26号 二(二): 指标体系根据年度工作进行动态调整,省局每年4月底前形成年度评价指标体系
— one indicator table per evaluated year, so ``jiangsu_perf`` is a folder of dated versions
(``policies/jiangsu_perf/``). The project's layout promises ``policies/jiangsu_perf.yaml``: that
file is the pack's manifest, naming the folder, so that the pack is named like every other one
— ``evaluate``, ``validate``, ``test``, ``load_policies`` and the bundled id — and the version is
still picked by the evaluated year (三(一) 评价年度为上一年度, ``version_by: evaluation_year``).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

import yibao_credit as yc
from yibao_credit.cli.main import main
from yibao_credit.pack import bundled
from yibao_credit.pack.manifest import is_manifest, read_manifest
from yibao_credit.policy import load_policies

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "policies" / "jiangsu_perf.yaml"
FOLDER = ROOT / "policies" / "jiangsu_perf"
EXAMPLES = ROOT / "examples" / "jiangsu"
RECORDS = [
    "--subjects",
    str(EXAMPLES / "subjects.jsonl"),
    "--events",
    str(EXAMPLES / "events.jsonl"),
]


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write(path: Path, text: str) -> Path:
    path.write_text(text, "utf-8")
    return path


def copy_folder(tmp_path: Path) -> Path:
    """A copy of the versions folder (without its tests files) under tmp_path/jiangsu_perf."""
    folder = tmp_path / "jiangsu_perf"
    folder.mkdir()
    for f in FOLDER.glob("*.yaml"):
        if not f.name.endswith(".tests.yaml"):
            shutil.copy(f, folder)
    return folder


MANIFEST_TEXT = """\
manifest:
  id: jiangsu_perf
  folder: jiangsu_perf
  version_by: evaluation_year
"""


# --- the shipped manifest --------------------------------------------------------------------


def test_the_manifest_names_the_folder_of_versions_2_2() -> None:
    """二(二) one table per year: ``policies/jiangsu_perf.yaml`` is a manifest naming the folder
    ``jiangsu_perf/``; loading it gives the same versions as the folder, byte for byte (the
    same hashes)."""
    assert is_manifest(MANIFEST) and not is_manifest(FOLDER / "jiangsu_perf_2023.yaml")
    manifest = read_manifest(MANIFEST)
    assert (manifest.id, manifest.folder.resolve(), manifest.version_by) == (
        "jiangsu_perf",
        FOLDER.resolve(),
        "evaluation_year",
    )
    by_manifest, by_folder = load_policies(MANIFEST), load_policies(FOLDER)
    assert by_manifest.id == "jiangsu_perf"
    assert [(v.version, v.sha256) for v in by_manifest.versions] == [
        (v.version, v.sha256) for v in by_folder.versions
    ]
    assert [v.version for v in by_manifest.versions] == ["2023评价版", "2024"]
    assert by_manifest.manifest is not None and by_folder.manifest is None


@pytest.mark.parametrize(
    ("as_of", "version"),
    [
        (dt.date(2024, 3, 31), "2023评价版"),
        (dt.date(2024, 12, 31), "2023评价版"),
        (dt.date(2025, 1, 1), "2024"),
        (dt.date(2025, 3, 31), "2024"),
    ],
)
def test_the_manifest_picks_the_version_by_the_evaluated_year_3_1(
    as_of: dt.date, version: str
) -> None:
    """三(一) 评价年度为上一年度1月1日至12月31日: through the manifest, as through the folder, the
    version is the one for the evaluated year (as of 2025-03-31: 2024)."""
    assert yc.load_policies(MANIFEST).for_as_of(as_of).version == version


def test_no_version_for_the_evaluated_year_names_the_manifest_3_1() -> None:
    """三(一), 五(一) 2023年起: as of 2023-12-31 the evaluated year is 2022, which no version
    covers — ``eval.no-version``, located at the manifest the user named."""
    with pytest.raises(yc.EvaluationError) as info:
        load_policies(MANIFEST).for_as_of(dt.date(2023, 12, 31))
    [p] = info.value.problems
    assert p.code == "eval.no-version" and p.location.file == str(MANIFEST)


def test_cli_evaluate_the_manifest_as_the_folder_2_2(capsys: pytest.CaptureFixture[str]) -> None:
    """二(二), 三(一): ``yibao-credit evaluate policies/jiangsu_perf.yaml`` on the example data,
    as of 2025-03-31, writes exactly what the folder gives — the 2024 version named in every
    line."""
    argv = [*RECORDS, "--as-of", "2025-03-31"]
    code, by_manifest, err = cli(capsys, "evaluate", MANIFEST, *argv)
    assert code == 0 and "[eval.out-of-scope]" in err
    code, by_folder, _ = cli(capsys, "evaluate", FOLDER, *argv)
    assert code == 0 and by_manifest == by_folder
    rows = [json.loads(line) for line in by_manifest.splitlines()]
    assert {r["policy"]["version"] for r in rows} == {"2024"}
    assert {r["policy"]["id"] for r in rows} == {"jiangsu_perf"}


def test_cli_validate_the_manifest_on_one_line_2_2(capsys: pytest.CaptureFixture[str]) -> None:
    """二(二): ``validate policies/jiangsu_perf.yaml`` checks the manifest, its folder and every
    version together and says so on one line; ``--provisional`` lists the provisional values
    of every version, each once, in the file that wrote it."""
    code, out, err = cli(capsys, "validate", MANIFEST)
    assert (code, err) == (0, "")
    [line] = out.splitlines()
    assert line.startswith(f"{MANIFEST}: ok — manifest of pack jiangsu_perf, 2 version(s) in ")
    assert "2023评价版 (2023-01-01 .. 2023-12-31), 2024 (2024-01-01 .. 2024-12-31)" in line
    code, out, _ = cli(capsys, "validate", "--provisional", MANIFEST)
    assert code == 0
    listed = out.splitlines()[1:]
    assert len(listed) == len(set(listed)) > 0
    assert any(
        "jiangsu_perf_2024.yaml:" in item and ": pack: provisional:" in item for item in listed
    )
    assert any(
        "jiangsu_perf_2023.yaml:" in item and "city_default_points" in item for item in listed
    )
    assert f"; {len(listed)} provisional value(s)" in out.splitlines()[0]


def test_cli_test_the_manifest_runs_the_cases_beside_the_versions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """二(二) yearly versions: ``yibao-credit test policies/jiangsu_perf.yaml`` runs the YAML
    cases kept beside the versions, as the folder does."""
    code, by_manifest, _ = cli(capsys, "test", MANIFEST)
    assert code == 0 and by_manifest.strip().endswith(" 0 failed")
    code, by_folder, _ = cli(capsys, "test", FOLDER)
    assert code == 0 and by_manifest == by_folder


def test_the_bundled_id_resolves_to_the_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """二(二): the bundled id ``jiangsu_perf`` is the manifest (the pack a user names), from any
    folder; its versions are listed once by ``packs``."""
    monkeypatch.chdir(tmp_path)
    root = bundled.policies_dir()
    assert root is not None
    assert bundled.bundled_ids()["jiangsu_perf"] == root / "jiangsu_perf.yaml"
    assert [v.version for v in load_policies("jiangsu_perf").versions] == ["2023评价版", "2024"]
    [pack] = [p for p in bundled.bundled_packs() if p.id == "jiangsu_perf"]
    assert pack.path.name == "jiangsu_perf.yaml"
    assert [v.file.name for v in pack.versions] == [
        "jiangsu_perf_2023.yaml",
        "jiangsu_perf_2024.yaml",
    ]
    code, out, _ = cli(capsys, "packs")
    assert code == 0 and out.count("jiangsu_perf  ") == 2


def test_load_policy_on_the_manifest_points_to_load_policies() -> None:
    """A manifest names several versions: ``load_policy`` (one pack) refuses it with
    ``pack.file``, located at the manifest's ``manifest:`` line, saying to use
    ``load_policies`` (which picks the version for a date) or to name one version's file."""
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(MANIFEST)
    [p] = info.value.problems
    assert p.code == "pack.file"
    assert p.message.startswith("this is a folder of dated versions of a pack: load it with")
    assert "load_policies" in p.message and "this manifest names the folder" in p.message
    line = MANIFEST.read_text("utf-8").splitlines().index("manifest:") + 1
    assert (p.location.file, p.location.line) == (str(MANIFEST), line)


def test_output_onto_a_version_named_by_the_manifest_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The versions a manifest names are inputs of the command: ``--output`` onto one of them
    is refused before anything is evaluated, and the file is left as it was."""
    folder = copy_folder(tmp_path)
    manifest = write(tmp_path / "jiangsu_perf.yaml", MANIFEST_TEXT)
    version = folder / "jiangsu_perf_2023.yaml"
    before = version.read_bytes()
    argv = ["evaluate", manifest, *RECORDS, "--as-of", "2025-03-31", "--output", version]
    code, _, err = cli(capsys, *argv)
    assert code == 1 and "is an input of this command" in err
    assert version.read_bytes() == before


# --- the manifest is validated, every problem located -----------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "line", "words"),
    [
        (
            MANIFEST_TEXT.replace("  folder:", "  foldr:"),
            "pack.schema.extra_forbidden",
            3,
            "did you mean 'folder'",
        ),
        (
            MANIFEST_TEXT.replace("  folder: jiangsu_perf\n", ""),
            "pack.schema.missing",
            2,
            "'folder' is missing",
        ),
        (
            MANIFEST_TEXT.replace("id: jiangsu_perf", "id: jiangsu-perf"),
            "pack.schema.string_pattern_mismatch",
            2,
            "should match",
        ),
        (
            MANIFEST_TEXT + "rulesets: {}\n",
            "pack.schema.extra_forbidden",
            5,
            "unknown key 'rulesets'",
        ),
        (
            MANIFEST_TEXT.replace("folder: jiangsu_perf", "folder: nowhere"),
            "pack.manifest.folder",
            3,
            "does not exist",
        ),
        (
            MANIFEST_TEXT.replace(
                "folder: jiangsu_perf", "folder: jiangsu_perf/jiangsu_perf_2023.yaml"
            ),
            "pack.manifest.folder",
            3,
            "is not a folder",
        ),
        (
            MANIFEST_TEXT.replace("folder: jiangsu_perf", "folder: empty"),
            "pack.manifest.folder",
            3,
            "holds no version",
        ),
        (
            MANIFEST_TEXT.replace("id: jiangsu_perf", "id: jiangsu"),
            "pack.manifest.id",
            2,
            "not 'jiangsu'",
        ),
    ],
)
def test_a_bad_manifest_is_a_located_error(
    tmp_path: Path, text: str, code: str, line: int, words: str
) -> None:
    """pack-format.md §17: a manifest is checked like a pack — an unknown key (with the nearest
    one), a missing key, an id that is not an identifier, a folder that does not exist, is
    not a folder or holds no version, an id that is not the versions' — each an error at its
    file and line, before anything is evaluated."""
    copy_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.tests.yaml").write_text("cases: []\n", "utf-8")
    manifest = write(tmp_path / "m.yaml", text)
    with pytest.raises(yc.PackError) as info:
        load_policies(manifest)
    # a misspelt key is also a missing one: both are reported; the one tested is located
    [p] = [q for q in info.value.problems if q.code == code]
    assert words in p.message
    assert (p.location.file, p.location.line) == (str(manifest), line)


def test_versions_that_do_not_share_the_id_are_located_at_the_odd_version(tmp_path: Path) -> None:
    """二(二): the versions are the yearly tables of one pack — a version file with another
    pack id is ``pack.versions``, located at that file's ``pack.id``."""
    folder = copy_folder(tmp_path)
    odd = folder / "jiangsu_perf_2024.yaml"
    text = odd.read_text("utf-8").replace("pack:\n  version:", "pack:\n  id: other\n  version:")
    odd.write_text(text, "utf-8")
    manifest = write(tmp_path / "m.yaml", MANIFEST_TEXT)
    with pytest.raises(yc.PackError) as info:
        load_policies(manifest)
    [p] = info.value.problems
    assert p.code == "pack.versions" and "'other'" in p.message
    assert (p.location.file, p.location.line) == (
        str(odd),
        text.splitlines().index("  id: other") + 1,
    )


def test_a_version_picking_otherwise_than_the_manifest_says_is_located(tmp_path: Path) -> None:
    """三(一): the manifest says the versions are picked by the evaluated year
    (``version_by: evaluation_year``); a version that picks by as_of instead is
    ``pack.manifest.version_by``, at that version's ``pack`` section."""
    folder = copy_folder(tmp_path)
    odd = folder / "jiangsu_perf_2024.yaml"
    odd.write_text(
        odd.read_text("utf-8").replace("pack:\n", "pack:\n  version_by: null\n"), "utf-8"
    )
    manifest = write(tmp_path / "m.yaml", MANIFEST_TEXT)
    with pytest.raises(yc.PackError) as info:
        load_policies(manifest)
    [p] = info.value.problems
    assert p.code == "pack.manifest.version_by" and "by as_of" in p.message
    assert p.location.file == str(odd)


def test_a_manifest_inside_the_folder_it_lists_is_an_error(tmp_path: Path) -> None:
    """A manifest kept inside its own folder would be read as one of the versions: it is an
    error at its ``folder`` line."""
    folder = copy_folder(tmp_path)
    manifest = write(folder / "m.yaml", MANIFEST_TEXT.replace("folder: jiangsu_perf", "folder: ."))
    with pytest.raises(yc.PackError) as info:
        load_policies(manifest)
    [p] = info.value.problems
    assert p.code == "pack.manifest.folder" and "inside the folder" in p.message
    assert (p.location.file, p.location.line) == (str(manifest), 3)


def test_cli_validate_a_bad_manifest_reports_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``validate`` prints a bad manifest's located problem and exits 1; ``evaluate`` too."""
    manifest = write(tmp_path / "m.yaml", MANIFEST_TEXT.replace("  folder:", "  foldr:"))
    code, out, err = cli(capsys, "validate", manifest)
    assert (code, out) == (1, "")
    assert f"error: {manifest}:3:3: manifest.foldr: unknown key 'foldr' (did you mean" in err
    code, out, err = cli(capsys, "evaluate", manifest, *RECORDS, "--as-of", "2025-03-31")
    assert code == 1 and out == "" and "unknown key 'foldr'" in err
