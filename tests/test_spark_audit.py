"""The audit program on Spark (issue 12: "compiled to SQL on the columnar engine (DuckDB here,
Spark on a cluster — same plan)"): the example of 湖政办函〔2019〕14号 四(三), where every rule
HZA01..HZA14 hits, gives byte-identical hits on Spark and on DuckDB; DuckDB is the model."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from yibao_credit.audit.compile import load_audit_pack
from yibao_credit.audit.hits import hits_jsonl
from yibao_credit.audit.run import audit_files
from yibao_credit.cli.main import main
from yibao_credit.spark.audit import audit_files_on_spark
from yibao_credit.spark.session import local_session

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "huzhou" / "audit"
FILES = {
    "claims": EXAMPLE / "claims.jsonl",
    "lines": EXAMPLE / "lines.jsonl",
    "insured": EXAMPLE / "insured.jsonl",
    "stock": EXAMPLE / "stock.jsonl",
    "subjects": ROOT / "examples" / "huzhou" / "subjects.jsonl",
}
PERIOD = {"period_from": dt.date(2020, 1, 1), "period_to": dt.date(2020, 11, 30)}


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    session = local_session("local[2]")
    yield session
    session.stop()


def test_every_rule_gives_the_same_hits_on_spark_as_on_duckdb(spark: SparkSession) -> None:
    pack = load_audit_pack("huzhou_audit")
    model = audit_files(pack, **FILES, **PERIOD)  # type: ignore[arg-type]
    assert sorted({h.rule for h in model.hits}) == [r.rule.id for r in pack.rules]
    on_spark = audit_files_on_spark(spark, pack, **FILES, **PERIOD)  # type: ignore[arg-type]
    assert hits_jsonl(pack, on_spark.hits) == hits_jsonl(pack, model.hits)
    assert on_spark.audited == model.audited
    assert on_spark.counts == model.counts
    # the run's views and tables are gone: two runs in one session never meet
    assert [t.name for t in spark.catalog.listTables() if t.name.startswith("_yc_")] == []


def test_the_cli_engine_spark_writes_the_duckdb_hits(
    spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["audit", "huzhou_audit", "--rule", "HZA04", "--rule", "HZA08"]
    for name in ("claims", "lines", "insured"):
        argv += [f"--{name}", str(FILES[name])]
    argv += ["--from", "2020-01-01", "--to", "2020-11-30"]
    assert main([*argv, "--output", str(tmp_path / "duck.jsonl")]) == 0
    assert main([*argv, "--engine", "spark", "--output", str(tmp_path / "spark.jsonl")]) == 0
    capsys.readouterr()
    duck = (tmp_path / "duck.jsonl").read_bytes()
    assert duck.count(b"\n") == 2
    assert (tmp_path / "spark.jsonl").read_bytes() == duck
