"""Record the golden outputs of the ``yibao-credit`` command, for tests/test_golden.py.

    python tests/golden/record.py [--refresh-inputs]

runs every case below with the working directory at the root of the repository this file
sits in, importing the package found on ``sys.path`` (the repository's own ``src`` first), and
writes:

- ``tests/golden/cases/NAME.out``: the exact bytes the command wrote on standard output, and
  ``NAME.err`` for standard error when it is not empty (warnings are part of the contract);
- ``tests/golden/inputs/``: the few input files the documented commands write to ``/tmp``
  first (docs/cli.md), kept here so that every argument is a path inside the repository;
- ``tests/golden/manifest.json``: each case's name, argv (paths relative to the repository
  root), exit code, and the file name and sha256 of each output; the input files' sha256; and
  the generated provinces (generator arguments and the sha256 of ``evaluate --trace full``).

Each case runs in-process, like tests/test_cli.py: the command's ``main`` (found through the
console script named in pyproject.toml, so that it is found wherever the module moves) is
called with the argv while ``sys.stdout`` and ``sys.stderr`` are captured; an ``argparse``
``SystemExit`` gives the exit code of a usage error. ``COLUMNS`` is set to 80 while a case
runs, so that argparse wraps usage and help text the same on every terminal.

Input files: the static ones (procedure records, the broken city pack, the wrong tests file,
the short deposits file) are written from the text below each time. The history files
(``zj-2023.jsonl``, ``jinan-2023.jsonl``, ``jinan-2023.csv``) are earlier results, so they come
from the command itself (``evaluate`` of the earlier cycle) and are written only when missing
or with ``--refresh-inputs``: a re-recording after a change of the code keeps the inputs as
they were, and the cases ``evaluate-input-*`` that wrote them show whether the code still
writes the same bytes.

    python tests/golden/record.py --no-provinces

keeps the provinces of the old manifest (their recording takes some 20 s).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import importlib
import importlib.metadata
import io
import json
import os
import shlex
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
CASES = GOLDEN / "cases"
INPUTS = GOLDEN / "inputs"
MANIFEST = GOLDEN / "manifest.json"
INPUTS_REL = "tests/golden/inputs"
ENV = {"COLUMNS": "80"}
"""Environment of every case: argparse wraps usage and help text to the terminal's width
(``COLUMNS``, else the terminal's), which would otherwise depend on where it runs."""

# ---------------------------------------------------------------------------- the command


def cli_main() -> Callable[[Sequence[str]], int]:
    """The ``main`` beside the ``entry`` that pyproject.toml names as ``yibao-credit``."""
    with open(ROOT / "pyproject.toml", "rb") as fh:
        target: str = tomllib.load(fh)["project"]["scripts"]["yibao-credit"]
    module_name, _, entry_name = target.partition(":")
    module = importlib.import_module(module_name)
    home = sys.modules[getattr(module, entry_name).__module__]  # where entry is defined
    main: Callable[[Sequence[str]], int] = getattr(home, "main", None) or module.main
    return main


@contextlib.contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """``env`` set, the working directory at ROOT and, as the console script runs
    (``entry``), the cyclic garbage collector off."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    cwd = os.getcwd()
    os.chdir(ROOT)
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
        os.chdir(cwd)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_cli(main: Callable[[Sequence[str]], int], argv: Sequence[str]) -> tuple[int, bytes, bytes]:
    """Exit code, stdout and stderr bytes (UTF-8) of one in-process run, cwd = ROOT."""
    out, err = io.StringIO(), io.StringIO()
    with environment(ENV), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse: usage errors (2) and --help (0)
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue().encode("utf-8"), err.getvalue().encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------- input files

STATIC_INPUTS: dict[str, str] = {
    # docs/cli.md, "--procedures and --on" (written there to /tmp/zj-proc.jsonl)
    "zj-proc.jsonl": (
        '{"id": "N1", "subject_id": "ZJH002", "step": "notification", "date": "2025-01-06"}\n'
        '{"id": "O1", "subject_id": "ZJH002", "step": "objection", "date": "2025-01-10"}\n'
        '{"id": "D1", "subject_id": "ZJH002", "step": "decision", "date": "2025-01-20", '
        '"outcome": "corrected", "grade": "★★★"}\n'
        '{"id": "N2", "subject_id": "ZJH004", "step": "notification", "date": "2025-01-06"}\n'
    ),
    # docs/cli.md, "allocate" errors: head -6 examples/jiangsu/deposits.csv
    "deposits_short.csv": "".join(
        (ROOT / "examples" / "jiangsu" / "deposits.csv")
        .read_text(encoding="utf-8")
        .splitlines(keepends=True)[:6]
    ),
    # docs/cli.md, "validate" error (/tmp/city.yaml), extending by a relative path
    "city.yaml": (
        "extends: ../../../policies/jiangsu_perf/jiangsu_perf_2024.yaml\n"
        "pack:\n"
        "  id: city_example\n"
        '  version: "2024-示例"\n'
        "rulesets:\n"
        "  inpatient:\n"
        "    grading:\n"
        "      points_total: 100\n"
        "      categories:\n"
        "        - id: city\n"
        "          max: 12\n"
        "          items:\n"
        "            - id: city_default\n"
        "              points: city_defualt_points\n"
    ),
    # docs/cli.md, "test": a failing case (/tmp/wrong.tests.yaml), the pack named relatively
    "wrong.tests.yaml": (
        "pack: ../../../policies/zhenjiang.yaml\n"
        "cases:\n"
        "  - name: 三(一)2(1) one violation within 1 year gives ★★ "
        "(deliberately wrong expectation)\n"
        "    as_of: 2024-12-31\n"
        "    subjects:\n"
        "      - {id: H1, type: institution, category: hospital, designated_on: 2018-05-01}\n"
        "    events:\n"
        "      - {id: v1, subject_id: H1, kind: violation, date: 2024-06-01}\n"
        "    expect:\n"
        "      H1:\n"
        "        grade: ★★★\n"
    ),
}

# The data sets as the five evaluating commands take them (docs/cli.md, examples/*/README.md).
ZJ = "policies/zhenjiang.yaml --subjects examples/zhenjiang/subjects.jsonl"
ZJ_EV = f"{ZJ} --events examples/zhenjiang/events.jsonl"
ZJ24 = f"{ZJ_EV} --as-of 2024-12-31"
ZJ24_CSV = (
    "policies/zhenjiang.yaml --subjects examples/zhenjiang/subjects.csv "
    "--events examples/zhenjiang/events.csv --as-of 2024-12-31"
)
SZ = (
    "policies/shenzhen.yaml --subjects examples/shenzhen/subjects.jsonl "
    "--events examples/shenzhen/events.jsonl"
)
JN = (
    "policies/jinan.yaml --subjects examples/jinan/subjects.jsonl "
    "--events examples/jinan/events.jsonl"
)
JS_DATA = "--subjects examples/jiangsu/subjects.jsonl --events examples/jiangsu/events.jsonl"
JS = f"policies/jiangsu_perf {JS_DATA}"
SQ = f"policies/suqian_perf_2024.yaml {JS_DATA}"
HIST_ZJ = f"--history {INPUTS_REL}/zj-2023.jsonl"
HIST_JN = f"--history {INPUTS_REL}/jinan-2023.jsonl"
HIST_JN_CSV = f"--history {INPUTS_REL}/jinan-2023.csv"
PROC = f"--procedures {INPUTS_REL}/zj-proc.jsonl"

DERIVED_INPUTS: dict[str, str] = {
    # docs/cli.md "--history": last cycle's results, written with --trace none
    "zj-2023.jsonl": f"evaluate {ZJ_EV} --as-of 2023-12-31 --trace none",
    # examples/jinan/README.md: the trial evaluation, the history of the year after
    "jinan-2023.jsonl": f"evaluate {JN} --as-of 2023-12-31 --trace none",
    # the same as CSV (--history reads either format)
    "jinan-2023.csv": f"evaluate {JN} --as-of 2023-12-31 --format csv",
}


def write_inputs(main: Callable[[Sequence[str]], int], refresh: bool) -> None:
    INPUTS.mkdir(parents=True, exist_ok=True)
    for name, text in STATIC_INPUTS.items():
        (INPUTS / name).write_bytes(text.encode("utf-8"))
    for name, command in DERIVED_INPUTS.items():
        target = INPUTS / name
        if target.exists() and not refresh:
            continue
        code, out, _err = run_cli(main, shlex.split(command))
        if code != 0:
            raise SystemExit(f"cannot write {target}: {command} exited {code}")
        target.write_bytes(out)


# ---------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Data:
    """A data set for the evaluating commands: its name in case names, the arguments, and
    its subjects file (explain's --subject for each)."""

    name: str
    args: str
    subjects: str

    def subject_options(self) -> str:
        path = ROOT / self.subjects
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if path.suffix == ".csv":
            ids = [line.split(",", 1)[0] for line in lines[1:]]
        else:
            ids = [json.loads(line)["id"] for line in lines]
        return " ".join(f"--subject {sid}" for sid in ids)


MAIN_DATA = (
    Data("zj", ZJ24, "examples/zhenjiang/subjects.jsonl"),
    Data("zjcsv", ZJ24_CSV, "examples/zhenjiang/subjects.csv"),
    Data("sz", f"{SZ} --as-of 2024-12-31", "examples/shenzhen/subjects.jsonl"),
    Data("jn23", f"{JN} --as-of 2023-12-31", "examples/jinan/subjects.jsonl"),
    Data("jn24", f"{JN} --as-of 2024-12-31 {HIST_JN}", "examples/jinan/subjects.jsonl"),
    Data("js25", f"{JS} --as-of 2025-03-31", "examples/jiangsu/subjects.jsonl"),
    Data("sq25", f"{SQ} --as-of 2025-03-31", "examples/jiangsu/subjects.jsonl"),
)
JS25 = MAIN_DATA[5].args
SQ25 = MAIN_DATA[6].args
LANGS = ("zh", "en")
TRACES = ("full", "decisive", "none")
FORMATS = ("jsonl", "csv", "table")


class Cases(dict[str, list[str]]):
    def add(self, name: str, command: str) -> None:
        """One case: its name and the command line after ``yibao-credit``."""
        if name in self:
            raise ValueError(f"two cases named {name!r}")
        self[name] = shlex.split(command)


def build_cases() -> dict[str, list[str]]:
    c = Cases()

    # -- evaluate: every format × trace × language on every bundled data set
    for d in MAIN_DATA:
        for fmt in FORMATS:
            for trace in TRACES:
                for lang in LANGS:
                    c.add(
                        f"evaluate-{d.name}-{fmt}-{trace}-{lang}",
                        f"evaluate {d.args} --format {fmt} --trace {trace} --lang {lang}",
                    )
    # docs/cli.md "--history": the runs that wrote the history inputs, then with them
    for name, command in DERIVED_INPUTS.items():
        c.add(f"evaluate-input-{name}", command)
    c.add("evaluate-zj23-table", f"evaluate {ZJ_EV} --as-of 2023-12-31 --format table")
    c.add(
        "evaluate-zj-history-jsonl-decisive-en",
        f"evaluate {ZJ24} {HIST_ZJ} --trace decisive --lang en",
    )
    c.add("evaluate-zj-history-table", f"evaluate {ZJ24} {HIST_ZJ} --format table")
    c.add(
        "evaluate-jn24-csvhistory-jsonl-decisive",
        f"evaluate {JN} --as-of 2024-12-31 {HIST_JN_CSV} --trace decisive",
    )
    c.add(
        "evaluate-jn24-csvhistory-table",
        f"evaluate {JN} --as-of 2024-12-31 {HIST_JN_CSV} --format table",
    )
    c.add("evaluate-jn24-nohistory-table", f"evaluate {JN} --as-of 2024-12-31 --format table")
    # docs/cli.md "--procedures and --on"
    on15, on31 = f"{PROC} --on 2025-01-15", f"{PROC} --on 2025-01-31"
    c.add("evaluate-zj-proc-on0115-jsonl-none", f"evaluate {ZJ24} {on15} --trace none")
    c.add("evaluate-zj-proc-on0131-jsonl-none", f"evaluate {ZJ24} {on31} --trace none")
    c.add("evaluate-zj-proc-on0131-jsonl-full-en", f"evaluate {ZJ24} {on31} --lang en")
    c.add("evaluate-zj-proc-noon-jsonl-decisive", f"evaluate {ZJ24} {PROC} --trace decisive")
    c.add("evaluate-zj-proc-on0131-csv", f"evaluate {ZJ24} {on31} --format csv")
    c.add("evaluate-zj-proc-on0131-table", f"evaluate {ZJ24} {on31} --format table")
    # examples/zhenjiang/README.md: as of 2025-12-31 ZJP005 becomes ★★; no events file
    c.add("evaluate-zj2025-table", f"evaluate {ZJ_EV} --as-of 2025-12-31 --format table")
    c.add("evaluate-zj-noevents-table", f"evaluate {ZJ} --as-of 2024-12-31 --format table")
    c.add("evaluate-zj-output-stdout", f"evaluate {ZJ24} --format csv --output -")
    # docs/cli.md "Folders of versions"; examples/jiangsu/README.md
    c.add("evaluate-js24-jsonl-none", f"evaluate {JS} --as-of 2024-03-31 --trace none")
    c.add("evaluate-js24-table", f"evaluate {JS} --as-of 2024-03-31 --format table")
    c.add("evaluate-js0310-table", f"evaluate {JS} --as-of 2025-03-10 --format table")
    c.add("evaluate-js0310-jsonl-decisive", f"evaluate {JS} --as-of 2025-03-10 --trace decisive")
    c.add("error-evaluate-js26-no-version", f"evaluate {JS} --as-of 2026-03-31 --format table")
    js_file = "policies/jiangsu_perf/jiangsu_perf_{}.yaml " + JS_DATA
    c.add(
        "evaluate-js-2024file-table",
        f"evaluate {js_file.format(2024)} --as-of 2025-03-31 --format table",
    )
    c.add(
        "evaluate-js-2023file-out-of-force-table",
        f"evaluate {js_file.format(2023)} --as-of 2025-03-31 --format table",
    )
    # examples/shenzhen/README.md: as of 2025-01-01 every practitioner is A+
    c.add("evaluate-sz2025-table", f"evaluate {SZ} --as-of 2025-01-01 --format table")

    # -- explain: every subject of each data set, both languages, both trace levels, notes
    for d in MAIN_DATA:
        if d.name == "zjcsv":
            continue
        every = f"explain {d.args} {d.subject_options()}"
        for lang in LANGS:
            for trace in ("full", "decisive"):
                c.add(
                    f"explain-{d.name}-all-{trace}-{lang}", f"{every} --trace {trace} --lang {lang}"
                )
        c.add(
            f"explain-{d.name}-all-decisive-en-nonotes",
            f"{every} --trace decisive --lang en --no-notes",
        )
    c.add("explain-zjcsv-ZJH004", f"explain {ZJ24_CSV} --subject ZJH004")
    # the documented ones
    c.add("explain-zj-ZJL002-en", f"explain {ZJ24} --subject ZJL002 --lang en")
    c.add(
        "explain-zj-ZJX999-ZJH004-decisive-en",
        f"explain {ZJ24} --subject ZJX999 --subject ZJH004 --trace decisive --lang en",
    )
    c.add(
        "explain-zj-history-ZJH001-decisive-en-nonotes",
        f"explain {ZJ24} {HIST_ZJ} --subject ZJH001 --trace decisive --lang en --no-notes",
    )
    c.add("explain-zj-history-ZJH001-full-zh", f"explain {ZJ24} {HIST_ZJ} --subject ZJH001")
    c.add(
        "explain-zj-proc-on0131-ZJH002-decisive-en-nonotes",
        f"explain {ZJ24} {on31} --subject ZJH002 --trace decisive --lang en --no-notes",
    )
    c.add(
        "explain-zj-proc-on0115-ZJH002-ZJH004-full-zh",
        f"explain {ZJ24} {on15} --subject ZJH002 --subject ZJH004",
    )
    c.add(
        "explain-js25-JS-H02-decisive-nonotes",
        f"explain {JS25} --subject JS-H02 --trace decisive --no-notes",
    )
    c.add("explain-js25-JS-H02-en", f"explain {JS25} --subject JS-H02 --lang en")
    c.add("error-explain-js25-JS-C04-out-of-scope", f"explain {JS25} --subject JS-C04")
    c.add("explain-jn24-JNP002", f"explain {JN} --as-of 2024-12-31 {HIST_JN} --subject JNP002")
    c.add("explain-sz-SZH002", f"explain {SZ} --as-of 2024-12-31 --subject SZH002")

    # -- summary: table and json, both languages
    for d in MAIN_DATA:
        for fmt in ("table", "json"):
            for lang in LANGS:
                c.add(
                    f"summary-{d.name}-{fmt}-{lang}",
                    f"summary {d.args} --format {fmt} --lang {lang}",
                )
    c.add("summary-zj-proc-on0131-table", f"summary {ZJ24} {on31}")
    c.add("summary-zj-history-table", f"summary {ZJ24} {HIST_ZJ}")
    c.add("summary-js0310-table", f"summary {JS} --as-of 2025-03-10")

    # -- review
    for lang in LANGS:
        c.add(f"review-js25-{lang}", f"review {JS25} --lang {lang}")
        c.add(f"review-sq25-{lang}", f"review {SQ25} --lang {lang}")
    c.add("review-js0310", f"review {JS} --as-of 2025-03-10")
    c.add("review-js25-output-stdout", f"review {JS25} --output -")
    c.add("error-review-zj-no-review-stages", f"review {ZJ24}")

    # -- allocate
    for dep in ("csv", "jsonl"):
        for fmt in ("table", "jsonl", "csv"):
            c.add(
                f"allocate-js25-{dep}-{fmt}",
                f"allocate {JS25} --deposits examples/jiangsu/deposits.{dep} --format {fmt}",
            )
    c.add(
        "allocate-js25-csv-table-en",
        f"allocate {JS25} --deposits examples/jiangsu/deposits.csv --lang en",
    )
    c.add("allocate-sq25-csv-table", f"allocate {SQ25} --deposits examples/jiangsu/deposits.csv")
    c.add(
        "allocate-sq25-jsonl-jsonl",
        f"allocate {SQ25} --deposits examples/jiangsu/deposits.jsonl --format jsonl",
    )
    c.add(
        "error-allocate-js25-short-deposits",
        f"allocate {JS25} --deposits {INPUTS_REL}/deposits_short.csv",
    )
    c.add(
        "error-allocate-zj-no-allocation",
        f"allocate {ZJ24} --deposits examples/jiangsu/deposits.csv",
    )

    # -- validate
    packs = {
        "zj": "policies/zhenjiang.yaml",
        "jn": "policies/jinan.yaml",
        "sz": "policies/shenzhen.yaml",
        "sq": "policies/suqian_perf_2024.yaml",
        "js": "policies/jiangsu_perf",  # the folder: the set, then each version on its own
    }
    for key, pack in packs.items():
        c.add(f"validate-{key}", f"validate {pack}")
        c.add(f"validate-{key}-provisional", f"validate {pack} --provisional")
        c.add(f"validate-{key}-show-code", f"validate {pack} --show-code")
    c.add("validate-js2024-file", "validate policies/jiangsu_perf/jiangsu_perf_2024.yaml")
    c.add("validate-js-sq", "validate policies/jiangsu_perf policies/suqian_perf_2024.yaml")
    c.add(
        "validate-zj-jn-sz-provisional-show-code",
        f"validate {packs['zj']} {packs['jn']} {packs['sz']} --provisional --show-code",
    )
    c.add("error-validate-city", f"validate {INPUTS_REL}/city.yaml")
    c.add("error-validate-city-and-zj", f"validate {INPUTS_REL}/city.yaml {packs['zj']}")
    c.add("error-validate-missing-file", "validate policies/no_such_pack.yaml")

    # -- test
    targets = {
        "zj": "policies/zhenjiang.yaml",
        "jn": "policies/jinan.yaml",
        "sz": "policies/shenzhen.yaml",
        "sq": "policies/suqian_perf_2024.yaml",
        "js": "policies/jiangsu_perf",
        "js2023-tests-file": "policies/jiangsu_perf/jiangsu_perf_2023.tests.yaml",
    }
    for key, target in targets.items():
        c.add(f"test-{key}", f"test {target}")
        c.add(f"test-{key}-v", f"test {target} -v")
    c.add(
        "test-zj-jn-sz-verbose",
        f"test {targets['zj']} {targets['jn']} {targets['sz']} --verbose",
    )
    c.add("error-test-wrong-expectation", f"test {INPUTS_REL}/wrong.tests.yaml")
    c.add("error-test-wrong-expectation-v", f"test {INPUTS_REL}/wrong.tests.yaml -v")
    c.add("error-test-no-tests-file", f"test {INPUTS_REL}/city.yaml")
    c.add(
        "error-test-no-tests-beside-version",
        "test policies/jiangsu_perf/jiangsu_perf_2024.yaml",
    )
    c.add("error-test-folder-without-tests", "test examples/zhenjiang")

    # -- calendar (docs/cli.md, and a few more days around the holidays)
    for name, command in (
        ("add-2025-01-06-10", "add-working-days 2025-01-06 10"),
        ("add-2025-01-22-5-explain", "add-working-days 2025-01-22 5 --explain"),
        ("add-2025-01-06-10-explain", "add-working-days 2025-01-06 10 --explain"),
        ("add-2024-09-27-7-explain", "add-working-days 2024-09-27 7 --explain"),
        ("add-2025-01-10-15", "add-working-days 2025-01-10 15"),
        ("between-2025-01-06-2025-01-20", "working-days 2025-01-06 2025-01-20"),
        ("between-2025-02-01-2025-01-01", "working-days 2025-02-01 2025-01-01"),
        ("between-2024-01-01-2024-12-31", "working-days 2024-01-01 2024-12-31"),
    ):
        c.add(f"calendar-{name}", f"calendar {command}")
    c.add("error-calendar-year-not-published", "calendar add-working-days 2035-01-02 3")
    c.add("error-calendar-n-zero", "calendar add-working-days 2025-01-06 0")

    # -- wrong usage (exit 2), --help (exit 0)
    for name, command in (
        ("no-command", ""),
        ("unknown-command", "grade"),
        ("help", "--help"),
        ("evaluate-help", "evaluate --help"),
        ("evaluate-no-subjects", "evaluate policies/zhenjiang.yaml --as-of 2024-12-31"),
        ("evaluate-no-as-of", f"evaluate {ZJ}"),
        ("evaluate-bad-date", f"evaluate {ZJ_EV} --as-of 2024-13-01"),
        ("evaluate-bad-format", f"evaluate {ZJ24} --format xml"),
        ("evaluate-bad-lang", f"evaluate {ZJ24} --lang fr"),
        ("explain-no-subject", f"explain {ZJ24}"),
        ("explain-trace-none", f"explain {ZJ24} --subject ZJH001 --trace none"),
        ("summary-bad-format", f"summary {ZJ24} --format csv"),
        ("allocate-no-deposits", f"allocate {JS25}"),
        ("validate-no-pack", "validate"),
        ("calendar-no-subcommand", "calendar"),
        ("calendar-bad-n", "calendar add-working-days 2025-01-06 ten"),
    ):
        c.add(f"usage-{name}", command)

    # -- missing or unreadable files (exit 1)
    zj_pack, zj_subjects = "policies/zhenjiang.yaml", "--subjects examples/zhenjiang/subjects.jsonl"
    for name, command in (
        ("missing-pack", f"policies/no_such_pack.yaml {zj_subjects} --as-of 2024-12-31"),
        (
            "missing-subjects",
            f"{zj_pack} --subjects examples/zhenjiang/no_such_file.jsonl --as-of 2024-12-31",
        ),
        (
            "missing-events",
            f"{ZJ} --events examples/zhenjiang/no_such_file.csv --as-of 2024-12-31",
        ),
        (
            "events-not-jsonl-or-csv",
            f"{ZJ} --events examples/zhenjiang/README.md --as-of 2024-12-31",
        ),
        (
            "subjects-as-events",
            f"{ZJ} --events examples/zhenjiang/subjects.jsonl --as-of 2024-12-31",
        ),
        (
            "pack-is-not-a-pack",
            f"policies/zhenjiang.tests.yaml {zj_subjects} --as-of 2024-12-31",
        ),
        ("history-of-another-pack", f"{ZJ24} {HIST_JN}"),
        ("missing-history", f"{ZJ24} --history {INPUTS_REL}/no_such_history.jsonl"),
        ("missing-procedures", f"{ZJ24} --procedures {INPUTS_REL}/no_such_procedures.jsonl"),
    ):
        c.add(f"error-evaluate-{name}", f"evaluate {command}")
    return dict(c)


# ---------------------------------------------------------------------------- provinces

PROVINCES: list[dict[str, Any]] = [
    {
        "name": "province-zhenjiang-20000",
        "generator": "benchmarks/generate.py",
        "generator_args": ["20000", "{data}", "--seed", "1"],
        "argv": [
            "evaluate",
            "policies/zhenjiang.yaml",
            "--subjects",
            "{data}/subjects.jsonl",
            "--events",
            "{data}/events.jsonl",
            "--as-of",
            "2024-12-31",
            "--trace",
            "full",
        ],
    },
    {
        "name": "province-shenzhen-20000",
        "generator": "benchmarks/generate_shenzhen.py",
        "generator_args": ["20000", "{data}", "--seed", "1"],
        "argv": [
            "evaluate",
            "policies/shenzhen.yaml",
            "--subjects",
            "{data}/subjects.jsonl",
            "--events",
            "{data}/events.jsonl",
            "--as-of",
            "2024-12-31",
            "--trace",
            "full",
        ],
    },
]
"""``{data}`` is the folder the generator writes to (a temporary one): in the argv, and in
standard error, where the warnings name the files, it stands for that folder."""


class HashingWriter(io.TextIOBase):
    """A text stream that keeps only the sha256 and length of the UTF-8 bytes written."""

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


def generate_province(generator: str, args: Sequence[str], data_dir: Path) -> None:
    argv = [a.replace("{data}", str(data_dir)) for a in args]
    subprocess.run(
        [sys.executable, str(ROOT / generator), *argv],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def run_province(
    main: Callable[[Sequence[str]], int], argv: Sequence[str], data_dir: Path
) -> tuple[int, str, int, str]:
    """Exit code, sha256 and size of standard output, and standard error with the data
    folder written ``{data}``."""
    out, err = HashingWriter(), io.StringIO()
    real = [a.replace("{data}", str(data_dir)) for a in argv]
    with environment(ENV), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(real)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.digest.hexdigest(), out.size, err.getvalue().replace(str(data_dir), "{data}")


def record_provinces(main: Callable[[Sequence[str]], int]) -> list[dict[str, Any]]:
    recorded = []
    for spec in PROVINCES:
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp) / "data"
            generate_province(spec["generator"], spec["generator_args"], data_dir)
            inputs = {
                f.name: sha256(f.read_bytes()) for f in sorted(data_dir.iterdir()) if f.is_file()
            }
            code, digest, size, err = run_province(main, spec["argv"], data_dir)
        recorded.append(
            {
                **spec,
                "generated_sha256": inputs,
                "exit_code": code,
                "stdout_sha256": digest,
                "stdout_bytes": size,
                "stderr": err,
            }
        )
        print(f"{spec['name']}: exit {code}, {size} bytes, sha256 {digest}")
    return recorded


# ---------------------------------------------------------------------------- recording


def git(*args: str) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return proc.stdout.strip()


def environment_versions() -> dict[str, str]:
    """What else the outputs depend on: argparse's wording (Python), the official calendar
    (``holidays``), pydantic's messages in record errors."""
    versions = {"python": ".".join(map(str, sys.version_info[:3]))}
    for dist in ("holidays", "pydantic", "PyYAML", "simpleeval", "python-dateutil"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = "not installed"
    return versions


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--refresh-inputs",
        action="store_true",
        help="write the history input files again from the current code",
    )
    parser.add_argument(
        "--no-provinces", action="store_true", help="keep the provinces of the old manifest"
    )
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT / "src"))  # this repository's code, installed or not
    main_fn = cli_main()
    package = importlib.import_module(main_fn.__module__.split(".")[0])
    print(f"recording from {package.__file__}", file=sys.stderr)

    write_inputs(main_fn, args.refresh_inputs)
    cases = build_cases()
    CASES.mkdir(parents=True, exist_ok=True)
    for old in CASES.iterdir():
        if old.suffix in (".out", ".err"):
            old.unlink()
    entries: list[dict[str, Any]] = []
    for name, case_argv in cases.items():
        code, out, err = run_cli(main_fn, case_argv)
        entry: dict[str, Any] = {"name": name, "argv": case_argv, "exit_code": code}
        (CASES / f"{name}.out").write_bytes(out)
        entry["stdout"] = {"file": f"cases/{name}.out", "sha256": sha256(out), "bytes": len(out)}
        if err:
            (CASES / f"{name}.err").write_bytes(err)
            entry["stderr"] = {
                "file": f"cases/{name}.err",
                "sha256": sha256(err),
                "bytes": len(err),
            }
        entries.append(entry)
    for name in DERIVED_INPUTS:
        if (INPUTS / name).read_bytes() != (CASES / f"evaluate-input-{name}.out").read_bytes():
            print(f"note: {INPUTS_REL}/{name} is not what the code writes now (kept as input)")

    if args.no_provinces and MANIFEST.exists():
        provinces = json.loads(MANIFEST.read_text(encoding="utf-8"))["provinces"]
    else:
        provinces = record_provinces(main_fn)

    manifest = {
        "about": "golden outputs of the yibao-credit command; written by tests/golden/record.py, "
        "checked by tests/test_golden.py",
        "recorded_from_commit": git("rev-parse", "HEAD"),
        "uncommitted_changes_in_src": bool(git("status", "--porcelain", "--", "src")),
        "cwd": "the repository root",
        "env": ENV,
        "environment": environment_versions(),
        "inputs": {
            f"{INPUTS_REL}/{f.name}": sha256(f.read_bytes()) for f in sorted(INPUTS.iterdir())
        },
        "derived_inputs": {f"{INPUTS_REL}/{k}": shlex.split(v) for k, v in DERIVED_INPUTS.items()},
        "cases": entries,
        "provinces": provinces,
    }
    MANIFEST.write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", "utf-8")
    print(f"{len(entries)} cases, {len(provinces)} provinces -> {MANIFEST.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
