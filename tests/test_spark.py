"""The Spark engine: the DuckDB engine's SQL program run by Spark in local mode gives the same
output, byte for byte; DataFrames in the data contract's columns are checked by Spark queries;
a loaded pack pickles.

One Spark session serves the module (local[2], as on the CI machine's two cores): Spark runs
for real, with a Java runtime `.ci/run` installs. The DuckDB engine is the model here, as the
Python engine is the DuckDB engine's (tests/test_engines_agree.py).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import pickle
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from test_engines_agree import EXAMPLES

import yibao_credit as yc
from yibao_credit.cli.main import main
from yibao_credit.errors import PackError, RecordError
from yibao_credit.policy import Policy, load_policies, load_policy
from yibao_credit.records.history import read_history
from yibao_credit.records.procedures import read_procedures
from yibao_credit.render.results import write_jsonl
from yibao_credit.spark import RESULT_COLUMNS, evaluate, local_session
from yibao_credit.spark.evaluate import run_files
from yibao_credit.sql.session import evaluate_files

ROOT = Path(__file__).resolve().parents[1]
ZJ = ROOT / "examples" / "zhenjiang"
AS_OF = dt.date(2024, 12, 31)


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    session = local_session("local[2]")
    yield session
    session.stop()


def jsonl(run: yc.Run, lang: str = "zh", trace: str = "full") -> str:
    out = io.StringIO()
    write_jsonl(run, out, lang, trace)
    return out.getvalue()


def records_options(policy: Policy, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "history": (
            read_history(extra["history"], policy.id, policy.grade_labels)
            if "history" in extra
            else None
        ),
        "procedures": read_procedures(extra["procedures"]) if "procedures" in extra else None,
        "on": dt.date.fromisoformat(extra["on"]) if "on" in extra else None,
    }


# -- the same output as DuckDB ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("pack", "subjects", "events", "as_of", "extra"),
    [pytest.param(*e[1:], id=e[0]) for e in EXAMPLES],
)
def test_spark_equals_duckdb_on_every_bundled_example(
    spark: SparkSession,
    pack: str,
    subjects: Path,
    events: Path,
    as_of: str,
    extra: dict[str, Any],
) -> None:
    """Every bundled example (history, procedures, dated versions, CSV) as the CLI writes it:
    JSON Lines with the full trace in both languages and the decisive trace, the same warnings."""
    day = dt.date.fromisoformat(as_of)
    policy = load_policies(ROOT / "policies" / pack).for_as_of(day)
    options = records_options(policy, extra)
    duck, duck_ids = evaluate_files(policy.plan, subjects, events, day, **options)
    run, ids = run_files(spark, policy, subjects, events, day, **options)
    assert ids == duck_ids
    assert len(run) == len(duck) > 0
    for lang, trace in (("zh", "full"), ("en", "full"), ("zh", "decisive")):
        assert jsonl(run, lang, trace) == jsonl(duck, lang, trace)
    assert [str(w) for w in run.warnings] == [str(w) for w in duck.warnings]


@pytest.fixture(scope="module")
def provinces(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("spark-provinces")
    made = {}
    for name, script, n in [
        ("zhenjiang", "generate.py", 20_000),
        ("shenzhen", "generate_shenzhen.py", 4_000),  # about 20,000 subjects
    ]:
        out = base / name
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / script), str(n), str(out), "--seed", "11"],
            check=True,
            capture_output=True,
        )
        made[name] = out
    return made


@pytest.mark.parametrize("name", ["zhenjiang", "shenzhen"])
def test_spark_dataframes_equal_duckdb_on_a_generated_province(
    spark: SparkSession, provinces: dict[str, Path], name: str
) -> None:
    """20,000 subjects read by Spark's own JSON reader (types inferred: dates as text), evaluated
    through the DataFrame API: each row's result_json is DuckDB's line for that subject."""
    folder = provinces[name]
    policy = load_policy(ROOT / "policies" / f"{name}.yaml")
    subjects = spark.read.json(str(folder / "subjects.jsonl"))
    events = spark.read.json(str(folder / "events.jsonl"))
    frame = evaluate(spark, subjects, events, policy, AS_OF, on_warning=lambda _p: None)
    assert tuple(frame.columns) == RESULT_COLUMNS
    rows = frame.collect()
    duck, _ids = evaluate_files(
        policy.plan, folder / "subjects.jsonl", folder / "events.jsonl", AS_OF
    )
    assert len(rows) == len(duck) >= 19_000
    assert "\n".join(r.result_json for r in rows) + "\n" == jsonl(duck, trace="decisive")
    first, result = rows[0], duck.results[0]
    assert (first.subject_id, first.status, first.grade, first.exclusion, first.ruleset) == (
        result.subject.id,
        result.status,
        result.grade,
        result.exclusion,
        result.ruleset.id,
    )
    assert (first.policy_id, first.policy_sha256, first.as_of) == (
        policy.id,
        policy.sha256,
        AS_OF,
    )


def test_spark_cli_engine_spark_writes_what_duckdb_writes(
    spark: SparkSession, tmp_path: Path
) -> None:
    """`evaluate --engine spark` on files: the same bytes as the default engine."""
    common = [
        "evaluate",
        str(ROOT / "policies" / "zhenjiang.yaml"),
        "--subjects",
        str(ZJ / "subjects.csv"),
        "--events",
        str(ZJ / "events.csv"),
        "--as-of",
        "2024-12-31",
        "--quiet",
    ]
    assert main([*common, "--output", str(tmp_path / "duck.jsonl")]) == 0
    assert main([*common, "--engine", "spark", "--output", str(tmp_path / "spark.jsonl")]) == 0
    assert (tmp_path / "spark.jsonl").read_bytes() == (tmp_path / "duck.jsonl").read_bytes()


def test_spark_cli_reads_tables_of_the_session_catalog(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--subjects-table` / `--events-table`: tables by name, as a metastore gives them."""
    spark.read.json(str(ZJ / "subjects.jsonl")).createOrReplaceTempView("zj_subjects")
    spark.read.json(str(ZJ / "events.jsonl")).createOrReplaceTempView("zj_events")
    args = ["--as-of", "2024-12-31", "--quiet", "--trace", "decisive"]
    pack = str(ROOT / "policies" / "zhenjiang.yaml")
    out = tmp_path / "tables.jsonl"
    assert (
        main(
            [
                "evaluate",
                pack,
                "--engine",
                "spark",
                "--subjects-table",
                "zj_subjects",
                "--events-table",
                "zj_events",
                "--output",
                str(out),
                *args,
            ]
        )
        == 0
    )
    files = tmp_path / "files.jsonl"
    assert (
        main(
            [
                "evaluate",
                pack,
                "--subjects",
                str(ZJ / "subjects.jsonl"),
                "--events",
                str(ZJ / "events.jsonl"),
                "--output",
                str(files),
                *args,
            ]
        )
        == 0
    )
    assert out.read_bytes() == files.read_bytes()
    capsys.readouterr()
    with pytest.raises(SystemExit) as usage:
        main(["evaluate", pack, "--subjects-table", "zj_subjects", *args])
    assert usage.value.code == 2
    assert "--subjects-table and --events-table need --engine spark" in capsys.readouterr().err


# -- DataFrames checked by Spark queries ---------------------------------------------------------
def subjects_frame(spark: SparkSession, rows: list[dict[str, Any]]) -> Any:
    schema = "id string, type string, category string, designated_on string, chain_id string"
    return spark.createDataFrame(
        [
            (r["id"], "institution", r.get("category", "hospital"), "2020-01-01", r.get("chain_id"))
            for r in rows
        ],
        schema,
    )


def events_frame(spark: SparkSession, rows: list[tuple[str, str, str, str]]) -> Any:
    return spark.createDataFrame(rows, "id string, subject_id string, kind string, date string")


def problems_of(exc: pytest.ExceptionInfo[RecordError]) -> list[tuple[str, str, str | None]]:
    return [(p.code, p.message, p.location.path) for p in exc.value.problems]


def test_spark_duplicate_id_and_orphan_event_are_one_error_listing_both(
    spark: SparkSession,
) -> None:
    """A duplicate subject id and an event naming no subject: the checks the CLI makes on a
    file, made over the whole DataFrame, raised together with the ids."""
    subjects = subjects_frame(spark, [{"id": "H1"}, {"id": "H1"}, {"id": "H2"}])
    events = events_frame(
        spark,
        [("E1", "H2", "violation", "2024-05-01"), ("E2", "H9", "violation", "2024-05-02")],
    )
    with pytest.raises(RecordError) as exc:
        evaluate(spark, subjects, events, "zhenjiang", AS_OF)
    assert problems_of(exc) == [
        (
            "record.event.unknown-subject",
            "event 'E2': subject_id 'H9' names no subject in the subjects",
            "subject_id",
        ),
        ("record.subject.duplicate-id", "subject 'H1': duplicate id (2 rows)", "id"),
    ]
    assert {p.location.file for p in exc.value.problems} == {
        "subjects DataFrame",
        "events DataFrame",
    }
    left = [t.name for t in spark.catalog.listTables() if t.name.startswith("_yc_")]
    assert left == []  # the run's views are dropped after an error too


def test_spark_unknown_kind_bad_date_and_column_type(spark: SparkSession) -> None:
    """镇医保〔2024〕82号 event kinds only (a typo is not a new kind); a date that is not
    YYYY-MM-DD; a number where the contract has text is refused, not coerced."""
    subjects = subjects_frame(spark, [{"id": "H1"}])
    events = events_frame(
        spark,
        [("E1", "H1", "violaton", "2024-05-01"), ("E2", "H1", "violation", "2024/05/02")],
    )
    with pytest.raises(RecordError) as exc:
        evaluate(spark, subjects, events, "zhenjiang", AS_OF)
    codes = {(p.code, p.location.path) for p in exc.value.problems}
    assert codes == {("record.event.unknown-kind", "kind"), ("record.event.attribute-type", "date")}
    assert any("'violaton'" in p.message for p in exc.value.problems)
    wrong = spark.createDataFrame([(1, "institution")], "id bigint, type string")
    with pytest.raises(RecordError) as exc2:
        evaluate(spark, wrong, None, "zhenjiang", AS_OF)
    assert problems_of(exc2) == [
        ("record.frame.column-type", "column 'id' is bigint; the contract needs text", "id")
    ]


def test_spark_chain_checks_and_warnings_said_once(spark: SparkSession) -> None:
    """镇医保〔2024〕82号 三(一)4: a chain store names its headquarters; chains do not nest.
    A clean run's warnings come once for the run, not once per partition."""
    nested = subjects_frame(
        spark,
        [
            {"id": "L1", "category": "pharmacy_chain"},
            {"id": "P1", "category": "pharmacy", "chain_id": "L1"},
            {"id": "P2", "category": "pharmacy", "chain_id": "P1"},
            {"id": "P3", "category": "pharmacy", "chain_id": "L9"},
        ],
    )
    with pytest.raises(RecordError) as exc:
        evaluate(spark, nested, None, "zhenjiang", AS_OF)
    assert [(p.code, p.message.split(":")[0]) for p in exc.value.problems] == [
        ("record.subject.chain-head", "subject 'P2'"),
        ("record.subject.unknown-chain", "subject 'P3'"),
    ]
    seen: list[str] = []
    many = subjects_frame(spark, [{"id": f"H{i}"} for i in range(40)]).repartition(8)
    none = events_frame(spark, []).repartition(8)
    evaluate(spark, many, none, "zhenjiang", AS_OF, on_warning=lambda p: seen.append(p.code))
    assert sorted(seen) == ["eval.no-history", "record.event.empty"]


# -- a loaded pack pickles ----------------------------------------------------------------------
def _evaluate_pickled(data: bytes) -> str:
    policy = pickle.loads(data)
    records = yc.load_records(ZJ / "subjects.jsonl", ZJ / "events.jsonl")
    return jsonl(policy.evaluate(records, as_of=AS_OF, engine="python"))


def test_a_pickled_pack_evaluates_identically_in_another_process() -> None:
    """A Policy pickles as its source bytes (not its generated code) and is compiled again
    where it lands — here a spawned process, as on an executor — with the same sha256."""
    policy = load_policy(ROOT / "policies" / "zhenjiang.yaml")
    data = pickle.dumps(policy)
    records = yc.load_records(ZJ / "subjects.jsonl", ZJ / "events.jsonl")
    here = jsonl(policy.evaluate(records, as_of=AS_OF, engine="python"))
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        assert pool.submit(_evaluate_pickled, data).result() == here
    again = pickle.loads(data)
    assert (again.sha256, again.version) == (policy.sha256, policy.version)


def test_a_pickled_extending_pack_keeps_its_chain_and_overrides() -> None:
    """宿迁 extends 江苏 2024, which extends 2023: every file's bytes travel with the pack."""
    policy = load_policy(ROOT / "policies" / "suqian_perf_2024.yaml")
    assert len(policy.sources) == 3
    again = pickle.loads(pickle.dumps(policy))
    assert again.sha256 == policy.sha256
    assert again.plan.rulesets.keys() == policy.plan.rulesets.keys()


def test_a_pickled_pack_whose_bytes_changed_is_refused() -> None:
    policy = load_policy(ROOT / "policies" / "zhenjiang.yaml")
    reduced = policy.__reduce__()
    rebuild, (file, sources, sha256, overrides) = reduced
    changed = {k: v.replace(b"2024.1", b"2024.9") for k, v in sources.items()}
    with pytest.raises(PackError) as exc:
        rebuild(file, changed, sha256, overrides)
    assert exc.value.problems[0].code == "pack.pickle"


def test_a_pickled_pack_runs_inside_spark_tasks(spark: SparkSession) -> None:
    """The Python-side use on executors: the pack travels in a task's closure (cloudpickle
    uses the same reduction) and grades a subject there."""
    policy = load_policy(ROOT / "policies" / "zhenjiang.yaml")

    def grade(sid: str) -> tuple[str, str | None]:
        run = policy.evaluate(
            [
                {
                    "id": sid,
                    "type": "institution",
                    "category": "hospital",
                    "designated_on": "2020-01-01",
                }
            ],
            [],
            as_of=AS_OF,
            engine="python",
        )
        return sid, run.results[0].grade

    got = spark.sparkContext.parallelize(["A", "B"], 2).map(grade).collect()
    assert got == [("A", "★★★"), ("B", "★★★")]


def test_spark_result_json_is_the_contract_object(spark: SparkSession) -> None:
    """result_json parses to the object `evaluate` writes for the subject (decisive trace)."""
    subjects = spark.read.json(str(ZJ / "subjects.jsonl"))
    events = spark.read.json(str(ZJ / "events.jsonl"))
    rows = evaluate(
        spark, subjects, events, "zhenjiang", AS_OF, trace="none", on_warning=lambda _p: None
    ).collect()
    first = json.loads(rows[0].result_json)
    assert first["subject_id"] == rows[0].subject_id
    assert "trace" not in first
    assert first["policy"]["sha256"] == rows[0].policy_sha256
