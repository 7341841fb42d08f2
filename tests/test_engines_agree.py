"""Differential tests: the DuckDB engine gives what the Python engine (the reference model)
gives — the same results, as parsed JSON in the same order, and the same warnings and errors.

As Cedar tests its implementation against its model: on every bundled example with the
variants docs/cli.md shows (history, procedures, review stages, versions), on generated
provinces of 20,000 subjects (Zhenjiang and Shenzhen), and on random worlds drawn by
hypothesis around each example. The packs' own YAML cases run on both engines too (the
pytest plugin runs each case on each engine).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_properties import AS_OFS, PACK, worlds

import yibao_credit as yc
from yibao_credit.errors import YibaoError
from yibao_credit.policy import Policy, load_policies
from yibao_credit.records.history import read_history
from yibao_credit.records.procedures import read_procedures
from yibao_credit.records.readers import load_records
from yibao_credit.render.results import result_to_dict
from yibao_credit.sql.session import evaluate_files

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ROOT / "tests" / "golden" / "inputs"
ZJ = ROOT / "examples" / "zhenjiang"


def as_json(run: yc.Run, lang: str = "zh", trace: str = "full") -> list[Any]:
    """The results as the contract's JSON objects (compared as parsed JSON: 3 equals 3.0)."""
    return [result_to_dict(r, lang, trace) for r in run]


def warnings_of(run: yc.Run) -> list[str]:
    return [str(w) for w in run.warnings]


EXAMPLES = [
    ("zhenjiang", "zhenjiang.yaml", ZJ / "subjects.jsonl", ZJ / "events.jsonl", "2024-12-31", {}),
    ("zhenjiang-csv", "zhenjiang.yaml", ZJ / "subjects.csv", ZJ / "events.csv", "2024-12-31", {}),
    (
        "zhenjiang-history",
        "zhenjiang.yaml",
        ZJ / "subjects.jsonl",
        ZJ / "events.jsonl",
        "2024-12-31",
        {"history": INPUTS / "zj-2023.jsonl"},
    ),
    (
        "zhenjiang-procedures",
        "zhenjiang.yaml",
        ZJ / "subjects.jsonl",
        ZJ / "events.jsonl",
        "2024-12-31",
        {"procedures": INPUTS / "zj-proc.jsonl", "on": "2025-01-31"},
    ),
    (
        "zhenjiang-2024-03-31",
        "zhenjiang.yaml",
        ZJ / "subjects.jsonl",
        ZJ / "events.jsonl",
        "2024-03-31",
        {},
    ),
    *(
        (
            f"{name}-{as_of}",
            pack,
            ROOT / "examples" / folder / "subjects.jsonl",
            ROOT / "examples" / folder / "events.jsonl",
            as_of,
            extra,
        )
        for name, pack, folder, as_of, extra in [
            ("shenzhen", "shenzhen.yaml", "shenzhen", "2024-12-31", {}),
            ("jinan", "jinan.yaml", "jinan", "2023-12-31", {}),
            (
                "jinan",
                "jinan.yaml",
                "jinan",
                "2024-12-31",
                {"history": INPUTS / "jinan-2023.jsonl"},
            ),
            ("jiangsu", "jiangsu_perf", "jiangsu", "2025-03-31", {}),
            ("jiangsu", "jiangsu_perf", "jiangsu", "2024-03-31", {}),
            ("suqian", "suqian_perf_2024.yaml", "jiangsu", "2025-03-31", {}),
        ]
    ),
]


def both(
    pack: str, subjects: Path, events: Path | None, as_of: dt.date, **extra: Any
) -> tuple[yc.Run, yc.Run]:
    """The run of each engine on the same files."""
    policy = load_policies(ROOT / "policies" / pack).for_as_of(as_of)
    history = (
        read_history(extra["history"], policy.id, policy.grade_labels)
        if "history" in extra
        else None
    )
    procedures = read_procedures(extra["procedures"]) if "procedures" in extra else None
    on = dt.date.fromisoformat(extra["on"]) if "on" in extra else None
    model = yc.evaluate(
        policy,
        load_records(subjects, events),
        as_of,
        history=history,
        procedures=procedures,
        on=on,
    )
    run, _ids = evaluate_files(
        policy.plan, subjects, events, as_of, history=history, procedures=procedures, on=on
    )
    return model, run


@pytest.mark.parametrize(
    ("pack", "subjects", "events", "as_of", "extra"),
    [pytest.param(*e[1:], id=e[0]) for e in EXAMPLES],
)
def test_engines_agree_on_every_bundled_example(
    pack: str, subjects: Path, events: Path, as_of: str, extra: dict[str, Any]
) -> None:
    model, run = both(pack, subjects, events, dt.date.fromisoformat(as_of), **extra)
    assert len(run) == len(model) > 0
    for lang in ("zh", "en"):
        assert as_json(run, lang) == as_json(model, lang)
    assert as_json(run, "zh", "decisive") == as_json(model, "zh", "decisive")
    assert warnings_of(run) == warnings_of(model)
    assert [r.measures for r in run] == [r.measures for r in model]


# -- generated provinces -------------------------------------------------------------------
@pytest.fixture(scope="module")
def provinces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    base = tmp_path_factory.mktemp("provinces")
    made = {}
    for name, script, n in [
        ("zhenjiang", "generate.py", 20_000),
        # the Shenzhen generator counts institutions; 4,000 of them make about 20,000 subjects
        ("shenzhen", "generate_shenzhen.py", 4_000),
    ]:
        out = base / name
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / script), str(n), str(out), "--seed", "7"],
            check=True,
            capture_output=True,
        )
        made[name] = out
    yield made


@pytest.mark.parametrize("name", ["zhenjiang", "shenzhen"])
def test_engines_agree_on_a_generated_province(name: str, provinces: dict[str, Path]) -> None:
    folder = provinces[name]
    model, run = both(
        f"{name}.yaml", folder / "subjects.jsonl", folder / "events.jsonl", dt.date(2024, 12, 31)
    )
    assert len(model) >= 19_000
    assert as_json(run) == as_json(model)
    assert warnings_of(run) == warnings_of(model)


# -- random worlds --------------------------------------------------------------------------
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)


def outcome(policy: Policy, subjects: Any, events: Any, as_of: dt.date, engine: str) -> Any:
    """Results as parsed JSON and warnings, or the error's problems (engines must agree on
    either)."""
    try:
        run = policy.evaluate(subjects, events, as_of=as_of, engine=engine)
    except YibaoError as exc:
        return ("error", [str(p) for p in exc.problems])
    return (as_json(run), warnings_of(run))


@SETTINGS
@given(world=worlds(), as_of=st.sampled_from(AS_OFS))
def test_engines_agree_on_random_zhenjiang_worlds(world: Any, as_of: dt.date) -> None:
    """镇医保〔2024〕82号 三(一): criteria, exclusions and the chain roll-up of 三(一)4."""
    model = outcome(PACK, world.subjects, world.events, as_of, "python")
    assert outcome(PACK, world.subjects, world.events, as_of, "duckdb") == model


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


PERTURBED = [
    ("shenzhen.yaml", "shenzhen", "2024-12-31"),
    ("jinan.yaml", "jinan", "2024-12-31"),
    ("jiangsu_perf", "jiangsu", "2025-03-31"),
    ("zhenjiang.yaml", "zhenjiang", "2024-12-31"),
]


@pytest.mark.parametrize(("pack", "folder", "as_of"), PERTURBED)
@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), keep=st.floats(0.2, 1.0), copies=st.integers(0, 30))
def test_engines_agree_around_each_example(
    pack: str, folder: str, as_of: str, seed: int, keep: float, copies: int
) -> None:
    """Each example with events left out, moved in time across window and validity bounds,
    copied onto other subjects: scores, caps, vetoes, bands, groups, validity and repair,
    review stages and roll-ups must come out the same on both engines."""
    day = dt.date.fromisoformat(as_of)
    policy = load_policies(ROOT / "policies" / pack).for_as_of(day)
    subjects = _rows(ROOT / "examples" / folder / "subjects.jsonl")
    events = _rows(ROOT / "examples" / folder / "events.jsonl")
    rng = random.Random(seed)
    kept = [dict(e) for e in events if rng.random() < keep]
    for e in kept:
        if rng.random() < 0.3:
            shift = rng.choice([-366, -365, -364, -1, 1, 30, -180])
            e["date"] = (dt.date.fromisoformat(e["date"]) + dt.timedelta(days=shift)).isoformat()
    for i in range(copies):
        if not kept:
            break
        copy = dict(rng.choice(kept))
        copy["id"] = f"COPY{i}"
        if copy.get("kind") != "repair":
            copy["subject_id"] = rng.choice(subjects)["id"]
        kept.append(copy)
    rng.shuffle(kept)
    model = outcome(policy, subjects, kept, day, "python")
    assert outcome(policy, subjects, kept, day, "duckdb") == model
