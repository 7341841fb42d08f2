"""The public API of 0.1 keeps working after the layout by stage (issue: layout by stage, item
4): the names README documents, and the old flat module names with a DeprecationWarning that
says where each moved."""

from __future__ import annotations

import datetime as dt
import importlib
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import yibao_credit as yc
from yibao_credit._compat import MOVED

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "zhenjiang"


def test_readme_python_api_runs_as_documented() -> None:
    pack = yc.load_policy(ROOT / "policies" / "zhenjiang.yaml")
    records = yc.load_records(EXAMPLE / "subjects.jsonl", EXAMPLE / "events.jsonl")
    run = pack.evaluate(records, as_of=dt.date(2024, 12, 31))
    result = run.get("ZJH001")
    assert result is not None
    assert yc.result_to_dict(result)["subject_id"] == "ZJH001"
    assert "ZJH001" in yc.render_text(result, "en")
    # the module-level evaluate of 0.1 takes the loaded pack, as before
    again = yc.evaluate(pack, records, dt.date(2024, 12, 31))
    assert [r.grade for r in again] == [r.grade for r in run]


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_module_names_import_with_a_deprecation_warning(old: str) -> None:
    sys.modules.pop(f"yibao_credit.{old}", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(f"yibao_credit.{old}")
    messages = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    assert any(f"yibao_credit.{old} is deprecated" in m for m in messages), messages
    first = importlib.import_module(f"yibao_credit.{MOVED[old][0]}")
    public = [n for n in vars(first) if not n.startswith("_")]
    assert public and all(getattr(module, n) is getattr(first, n) for n in public)


def test_a_split_module_answers_for_both_parts() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        history = importlib.import_module("yibao_credit.history")
    from yibao_credit.engine.history import history_fact
    from yibao_credit.records.history import read_history

    assert history.read_history is read_history
    assert history.history_fact is history_fact
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = history.nothing_here


def test_old_names_as_attributes_of_the_package() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert yc.pack_schema.ScoreGrading.__name__ == "ScoreGrading"  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        _ = yc.no_such_module  # type: ignore[attr-defined]


def test_the_old_cli_module_still_runs() -> None:
    """``python -m yibao_credit.cli`` (what 0.1's scripts called) is the command line still."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "yibao_credit.cli",
            "calendar",
            "add-working-days",
            "2025-01-06",
            "10",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "2025-01-20"
    main = subprocess.run(
        [sys.executable, "-m", "yibao_credit", "calendar", "add-working-days", "2025-01-06", "10"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert main.stdout == proc.stdout
