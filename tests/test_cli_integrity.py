"""Issue 13, "Data integrity and bad input": what the command line and the API do with output
that would destroy an input, interrupted or failed writes, empty inputs, ``--strict``,
dates not written ``YYYY-MM-DD`` (the data contract's only form) and wrong API arguments.

Each test asserts the message, the exit status and, where files are involved, that no input
byte changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import yibao_credit as yc
from yibao_credit.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
PACK = ROOT / "policies" / "zhenjiang.yaml"
EXAMPLES = ROOT / "examples" / "zhenjiang"
AS_OF = dt.date(2024, 12, 31)
ENGINES = ("duckdb", "python")


@pytest.fixture()
def inputs(tmp_path: Path) -> Path:
    """A copy of the Zhenjiang example and its pack in a folder of the test's own."""
    shutil.copytree(EXAMPLES, tmp_path / "ex")
    shutil.copy(PACK, tmp_path / "ex" / "zhenjiang.yaml")
    return tmp_path / "ex"


def digests(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.iterdir())
        if p.is_file()
    }


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def evaluate(folder: Path, *extra: str | Path, events: str | Path | None = None) -> list[Any]:
    return [
        "evaluate",
        folder / "zhenjiang.yaml",
        "--subjects",
        folder / "subjects.jsonl",
        "--events",
        events if events is not None else folder / "events.jsonl",
        "--as-of",
        "2024-12-31",
        *extra,
    ]


def script() -> str:
    path = shutil.which("yibao-credit")
    assert path is not None, "the yibao-credit script is not installed (pip install -e .)"
    return path


# -- --output never overwrites an input ------------------------------------------------------


@pytest.mark.parametrize("which", ["subjects.jsonl", "events.jsonl", "zhenjiang.yaml"])
def test_output_naming_an_input_is_refused_before_any_work(
    inputs: Path, capsys: pytest.CaptureFixture[str], which: str
) -> None:
    """Issue 13: ``--output`` naming the subjects, the events or even the pack: exit 1 with
    the reason, and every input byte as it was."""
    before = digests(inputs)
    code, out, err = cli(capsys, *evaluate(inputs, "--output", inputs / which))
    assert code == 1
    assert out == ""
    assert f"is an input of this command ({inputs / which})" in err
    assert "results never overwrite an input" in err
    assert digests(inputs) == before


def test_output_naming_an_input_by_another_path_is_refused(
    inputs: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same file written another way (relative, through ``..``, a symbolic link) is
    still the input."""
    monkeypatch.chdir(inputs)
    (inputs / "link.jsonl").symlink_to(inputs / "events.jsonl")
    before = digests(inputs)
    for target in ("../ex/events.jsonl", "link.jsonl", "./events.jsonl"):
        code, _out, err = cli(capsys, *evaluate(inputs, "--output", target))
        assert code == 1, target
        assert "is an input of this command" in err
    assert digests(inputs) == before


def test_output_inside_a_pack_folder_naming_a_version_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder of dated versions is an input file by file."""
    folder = tmp_path / "jiangsu"
    shutil.copytree(ROOT / "policies" / "jiangsu_perf", folder)
    version = sorted(folder.glob("*.yaml"))[0]
    before = version.read_bytes()
    code, _out, err = cli(
        capsys,
        "evaluate",
        folder,
        "--subjects",
        ROOT / "examples" / "jiangsu" / "subjects.jsonl",
        "--as-of",
        "2025-03-31",
        "--output",
        version,
    )
    assert code == 1
    assert "is an input of this command" in err
    assert version.read_bytes() == before


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("missing/out.jsonl", "folder missing does not exist"),
        (".", "is a folder: name a file in it"),
        ("/proc/out.jsonl", "cannot write --output /proc/out.jsonl"),
    ],
    ids=["missing-folder", "a-folder", "unwritable-folder"],
)
def test_an_output_that_cannot_be_written_is_refused_before_evaluating(
    inputs: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    message: str,
) -> None:
    """Issue 13: a missing, unwritable or wrong output place is found before the run, not
    after it (the run never starts: no warnings of the run are printed)."""
    monkeypatch.chdir(inputs.parent)
    code, out, err = cli(capsys, *evaluate(inputs, "--output", target))
    assert code == 1
    assert out == ""
    assert message in err
    assert "eval.no-history" not in err  # the run did not start
    assert len(err.strip().splitlines()) == 1


def test_output_replaces_an_earlier_file_whole(
    inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A finished run replaces the earlier file and leaves nothing else in the folder."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "results.jsonl"
    target.write_text("old\n", encoding="utf-8")
    code, _out, _err = cli(capsys, *evaluate(inputs, "--trace", "none", "--output", target))
    assert code == 0
    assert [p.name for p in out_dir.iterdir()] == ["results.jsonl"]
    lines = target.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 42
    assert json.loads(lines[0])["subject_id"] == "ZJC001"


# -- interrupted and failed writes -----------------------------------------------------------


@pytest.fixture(scope="module")
def province(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated province big enough that writing its full traces takes a while."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.generate import generate

    folder = tmp_path_factory.mktemp("province")
    generate(6000, folder, seed=3, as_of=AS_OF)
    return folder


def _partial(folder: Path) -> list[Path]:
    return sorted(folder.glob(".results.jsonl.*.partial"))


def _writing(folder: Path) -> bool:
    """Whether results are being written: the temporary file exists and has text in it."""
    for path in _partial(folder):
        try:
            if path.stat().st_size > 0:
                return True
        except FileNotFoundError:
            continue
    return False


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_an_interrupted_run_leaves_the_earlier_output_as_it_was(
    province: Path, tmp_path: Path, signum: int
) -> None:
    """Issue 13: Ctrl-C or ``kill`` while ``--output`` is being written: the earlier file is
    unchanged, no partial file is left, one line is printed and no traceback."""
    target = tmp_path / "results.jsonl"
    target.write_text("the earlier results\n", encoding="utf-8")
    proc = subprocess.Popen(
        [
            script(),
            "evaluate",
            str(PACK),
            "--subjects",
            str(province / "subjects.jsonl"),
            "--events",
            str(province / "events.jsonl"),
            "--as-of",
            "2024-12-31",
            "--engine",
            "python",
            "--output",
            str(target),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ, PYTHONUTF8="1"),
    )
    deadline = time.monotonic() + 120
    while not _writing(tmp_path):
        assert proc.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signum)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum
    text = err.decode()
    assert "Traceback" not in text
    interrupted = [line for line in text.splitlines() if line.startswith("interrupted")]
    assert interrupted == [
        f"interrupted ({signal.Signals(signum).name}): stopped; no output was written and any "
        "earlier output file is unchanged"
    ]
    assert target.read_text(encoding="utf-8") == "the earlier results\n"
    assert _partial(tmp_path) == []


def _limit_file_size() -> None:
    """A file-size limit makes a write fail as a full disk does (EFBIG instead of ENOSPC)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


def test_a_full_disk_is_one_line_and_leaves_no_partial_file(inputs: Path, tmp_path: Path) -> None:
    """Issue 13: a write that fails for want of space: a one-line error, exit 1, the
    earlier file unchanged and no partial file."""
    target = tmp_path / "results.jsonl"
    target.write_text("the earlier results\n", encoding="utf-8")
    done = subprocess.run(
        [script(), *map(str, evaluate(inputs, "--output", target))],
        capture_output=True,
        preexec_fn=_limit_file_size,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    err = done.stderr.decode()
    assert "Traceback" not in err
    assert (
        f"error: cannot write --output {target}: File too large (nothing was written; any "
        "earlier file is unchanged)"
    ) in err
    assert target.read_text(encoding="utf-8") == "the earlier results\n"
    assert _partial(tmp_path) == []


# -- empty inputs, dropped subjects and --strict ---------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("content", ["", "\n\n"], ids=["empty", "blank-lines"])
def test_an_empty_events_file_is_a_warning_naming_it(
    inputs: Path, capsys: pytest.CaptureFixture[str], engine: str, content: str
) -> None:
    """Issue 13: an events file with no events (a failed export) grades everyone as having
    no adverse event; that is said, naming the file."""
    empty = inputs / "none.jsonl"
    empty.write_text(content, encoding="utf-8")
    code, _out, err = cli(capsys, *evaluate(inputs, "--engine", engine, events=empty))
    assert code == 0
    assert (
        f"warning: {empty}: the events file holds no events: every subject is evaluated as "
        "having none [record.event.empty]"
    ) in err.splitlines()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_header_only_csv_events_file_is_a_warning(
    inputs: Path, capsys: pytest.CaptureFixture[str], engine: str
) -> None:
    header = (inputs / "events.csv").read_text(encoding="utf-8").splitlines()[0]
    empty = inputs / "none.csv"
    empty.write_text(header + "\n", encoding="utf-8")
    code, _out, err = cli(capsys, *evaluate(inputs, "--engine", engine, events=empty))
    assert code == 0
    assert f"warning: {empty}: the events file holds no events" in err


@pytest.mark.parametrize("engine", ENGINES)
def test_zero_subjects_is_a_warning_and_strict_makes_it_an_error(
    inputs: Path, capsys: pytest.CaptureFixture[str], engine: str, tmp_path: Path
) -> None:
    empty = inputs / "subjects.jsonl"
    empty.write_text("", encoding="utf-8")
    argv = evaluate(inputs, "--engine", engine)
    del argv[4:6]  # no --events: zero subjects and zero events
    code, out, err = cli(capsys, *argv, "--trace", "none")
    assert code == 0
    assert out == ""
    assert (
        f"warning: {empty}: no subjects: there is nothing to evaluate [record.subject.empty]"
    ) in err.splitlines()
    target = tmp_path / "out.jsonl"
    code, out, err = cli(capsys, *argv, "--strict", "--output", target)
    assert code == 1
    assert f"error: {empty}: no subjects: there is nothing to evaluate" in err
    assert not target.exists()


@pytest.mark.parametrize("engine", ENGINES)
def test_a_typo_in_type_names_each_dropped_subject_and_fails_under_strict(
    inputs: Path, capsys: pytest.CaptureFixture[str], engine: str, tmp_path: Path
) -> None:
    """Issue 13: subjects no ruleset grades (``type: instituion``) are each named in the
    warning; ``--strict`` turns it into an error and writes nothing."""
    path = inputs / "subjects.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for row in rows[:3]:
        row["type"] = "instituion"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    ids = sorted(r["id"] for r in rows[:3])
    code, _out, err = cli(capsys, *evaluate(inputs, "--engine", engine, "--trace", "none"))
    assert code == 0
    warning = next(line for line in err.splitlines() if "[eval.out-of-scope]" in line)
    assert "3 subject(s) are graded by no ruleset of this pack" in warning
    assert ": " + ", ".join(repr(i) for i in ids) + " [eval.out-of-scope]" in warning
    target = tmp_path / "out.jsonl"
    code, out, err = cli(
        capsys, *evaluate(inputs, "--engine", engine, "--strict", "--output", target)
    )
    assert code == 1
    assert out == ""
    assert "error: " in err and "[eval.out-of-scope]" in err
    assert err.splitlines()[-1].startswith("error: --strict: ")
    assert err.splitlines()[-1].endswith("warning(s) taken as errors; nothing written")
    assert not target.exists()


def test_out_of_scope_lists_twenty_ids_then_counts_the_rest() -> None:
    from yibao_credit.engine.prepare import out_of_scope_problem
    from yibao_credit.errors import Location

    rows = [(f"S{i:02d}", "institution", "spa") for i in range(25)]
    problem = out_of_scope_problem(rows, Location("s.jsonl", 1))
    assert problem.message.endswith("'S18', 'S19' and 5 more")
    assert "(institution/spa: 25)" in problem.message


# -- --as-of is YYYY-MM-DD -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("20241231", "'20241231' is not a date written YYYY-MM-DD"),
        ("2024-W52-2", "'2024-W52-2' is not a date written YYYY-MM-DD"),
        ("2024-12-31T00:00", "'2024-12-31T00:00' is not a date written YYYY-MM-DD"),
        ("2024-02-30", "'2024-02-30' is not a date: no such calendar day"),
    ],
)
def test_as_of_is_only_iso_year_month_day(
    inputs: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    """Issue 13 and the data contract: ``2024-W52-2`` would otherwise mean 2024-12-24."""
    argv = evaluate(inputs)
    argv[argv.index("2024-12-31")] = text
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    assert info.value.code == 2
    assert f"argument --as-of: {message}" in capsys.readouterr().err


# -- API arguments ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def policy() -> yc.Policy:
    return yc.load_policy(PACK)


@pytest.fixture(scope="module")
def records() -> yc.Records:
    return yc.load_records(EXAMPLES / "subjects.jsonl", EXAMPLES / "events.jsonl")


@pytest.mark.parametrize(
    ("as_of", "error", "message"),
    [
        (None, TypeError, "as_of must be a datetime.date, not NoneType None"),
        ("2024-12-31", TypeError, "use datetime.date.fromisoformat('2024-12-31')"),
        (dt.datetime(2024, 12, 31), TypeError, "as_of must be a datetime.date, not a datetime"),
        (
            dt.datetime(2024, 12, 31, tzinfo=dt.UTC),
            TypeError,
            "pass as_of=as_of.date() if the day is what you mean",
        ),
        (20241231, TypeError, "as_of must be a datetime.date, not int 20241231"),
    ],
)
def test_api_as_of_must_be_a_date(
    policy: yc.Policy, records: yc.Records, as_of: Any, error: type[Exception], message: str
) -> None:
    """Issue 13: the error is raised at the call and names the argument."""
    with pytest.raises(error, match=re.escape(message)):
        policy.evaluate(records, as_of=as_of)
    with pytest.raises(error, match=r"as_of must be a datetime\.date"):
        yc.evaluate(policy, records, as_of)


def test_api_records_come_one_way(policy: yc.Policy, records: yc.Records) -> None:
    """Issue 13: a Records with events beside it used to ignore the events silently."""
    with pytest.raises(TypeError, match="events must not be given with a Records"):
        policy.evaluate(records, [{"id": "E1"}], as_of=AS_OF)
    with pytest.raises(TypeError, match="subjects must be an iterable of"):
        policy.evaluate(None, as_of=AS_OF)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"subjects must be an iterable of .*not str"):
        policy.evaluate("subjects.jsonl", as_of=AS_OF)
    with pytest.raises(TypeError, match="events must be an iterable of Event"):
        policy.evaluate([], {"id": "E1"}, as_of=AS_OF)
    with pytest.raises(TypeError, match="records must be a Records"):
        yc.evaluate(policy, [], AS_OF)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="policy must be a Policy"):
        yc.evaluate("policies/zhenjiang.yaml", records, AS_OF)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="engine must be one of 'python', 'duckdb', not 'spark'"):
        policy.evaluate(records, as_of=AS_OF, engine="spark")


def test_api_lang_must_be_zh_or_en(policy: yc.Policy, records: yc.Records) -> None:
    run = policy.evaluate(records, as_of=AS_OF)
    result = next(iter(run))
    for call in (
        lambda: yc.result_to_dict(result, lang="fr"),
        lambda: yc.render(run, lang="fr"),
        lambda: yc.render_text(result, lang="fr"),
        lambda: yc.build_trace(result, lang="fr"),
    ):
        with pytest.raises(ValueError, match="lang must be one of 'zh', 'en', not 'fr'"):
            call()
    with pytest.raises(ValueError, match="trace must be one of 'full', 'decisive', 'none'"):
        yc.result_to_dict(result, trace="all")


def test_keyboard_interrupt_inside_main_is_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, inputs: Path
) -> None:
    """Ctrl-C where no signal handler is installed (``main`` called from Python)."""
    cli_main = sys.modules["yibao_credit.cli.main"]

    def interrupted(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_main, "evaluate_files", interrupted)
    code, _out, err = cli(capsys, *evaluate(inputs))
    assert code == 130
    assert err.splitlines() == [
        "interrupted (SIGINT): stopped; no output was written and any earlier output file "
        "is unchanged"
    ]


# -- text for people -------------------------------------------------------------------------


def test_table_cells_are_cut_at_a_sane_width(
    inputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 13: a ten-megabyte name made a 300 MB table; the table cuts the cell (JSON Lines
    and CSV never cut anything)."""
    path = inputs / "subjects.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    rows[0]["name"] = "医" * 5_000_000
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    code, out, _err = cli(capsys, *evaluate(inputs, "--format", "table"))
    assert code == 0
    assert len(out) < 20_000
    first = next(line for line in out.splitlines() if line.startswith(rows[0]["id"]))
    assert "医" * 29 + "…" in first and "医" * 30 not in first


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_table_headers_follow_lang(
    inputs: Path, capsys: pytest.CaptureFixture[str], lang: str
) -> None:
    """Issue 13: ``--lang`` changes the table's headers and statuses."""
    code, out, _err = cli(capsys, *evaluate(inputs, "--format", "table", "--lang", lang))
    assert code == 0
    header = out.splitlines()[0].split()
    if lang == "zh":
        assert header[:4] == ["评测对象", "名称", "状态", "等级"]
        assert "不参与评测" in out and "excluded" not in out
    else:
        assert header[:4] == ["subject_id", "name", "status", "grade"]
        assert "excluded" in out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_explain_shows_no_python_reprs(
    inputs: Path, capsys: pytest.CaptureFixture[str], lang: str
) -> None:
    """Issue 13: readable text never shows ``matched=['one_violation']`` or ``interview=True``."""
    ids = [
        json.loads(line)["id"]
        for line in (inputs / "subjects.jsonl").read_text("utf-8").splitlines()
    ]
    argv = evaluate(inputs, "--lang", lang)
    argv[0] = "explain"
    for sid in ids:
        argv += ["--subject", sid]
    code, out, _err = cli(capsys, *argv)
    assert code == 0
    for bad in ("['", "=True", "=False", "=None", "{'"):
        assert bad not in out, bad
    yes = "是" if lang == "zh" else "yes"
    assert f"interview={yes}" in out
    assert "matched=one_violation" in out


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("encoding", ["gb18030", "utf-16"])
def test_encoding_reads_files_exported_by_other_systems(
    inputs: Path, capsys: pytest.CaptureFixture[str], engine: str, encoding: str
) -> None:
    """Issue 13: GBK / GB18030 / UTF-16 exports are read with ``--encoding``; without it the
    error names the file and the line and suggests the option."""
    code, utf8, _err = cli(capsys, *evaluate(inputs, "--engine", engine, "--trace", "none"))
    assert code == 0
    for name in ("subjects.jsonl", "events.jsonl"):
        path = inputs / name
        path.write_bytes(path.read_text(encoding="utf-8").encode(encoding))
    code, out, _err = cli(
        capsys, *evaluate(inputs, "--engine", engine, "--trace", "none", "--encoding", encoding)
    )
    assert code == 0
    assert out == utf8
    code, out, err = cli(capsys, *evaluate(inputs, "--engine", engine, "--trace", "none"))
    assert code == 1
    assert out == ""
    option = "gb18030" if encoding == "gb18030" else "utf-16"
    assert f"{inputs / 'subjects.jsonl'}:1: not UTF-8 text" in err
    assert f"is read with --encoding {option}" in err


def test_an_unknown_encoding_is_said_before_anything_is_read(
    inputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = cli(capsys, *evaluate(inputs, "--encoding", "gbkk"))
    assert code == 1
    assert err == (
        "error: unknown encoding 'gbkk': name a text encoding Python knows, such as utf-8, "
        "gb18030 or utf-16 [record.encoding]\n"
    )
