"""A local Spark session for files and tests: the settings a one-machine run needs."""

from __future__ import annotations

import os

from pyspark.sql import SparkSession

from yibao_credit.errors import EvaluationError, Problem


def local_session(
    master: str = "local[2]", *, driver_memory: str = "2g", app: str = "yibao-credit"
) -> SparkSession:
    """A Spark session on this machine (``local[N]``: N worker threads), or the session
    already running in this process. Spark's web UI is off (a batch job, often on a shared
    host); shuffles use as many partitions as worker threads, not Spark's 200, which on one
    machine cost more in task overhead than they give in parallelism; dates are UTC."""
    if SparkSession.getActiveSession() is not None:
        return SparkSession.builder.getOrCreate()
    threads = _threads(master)
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no network lookup of the host
    try:
        session = (
            SparkSession.builder.master(master)
            .appName(app)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", driver_memory)
            .config("spark.sql.shuffle.partitions", str(max(2, threads * 2)))
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )
    except Exception as exc:  # py4j / Java start-up: no Java runtime, bad master URL…
        raise EvaluationError(
            Problem(
                "eval.spark-session",
                f"could not start Spark ({master}): {str(exc).strip().splitlines()[0]}; "
                "Spark needs a Java runtime (17 or later) on PATH or in JAVA_HOME",
            )
        ) from None
    session.sparkContext.setLogLevel("ERROR")
    return session


def _threads(master: str) -> int:
    inner = master.removeprefix("local").strip("[]")
    if inner in ("", "*"):
        return os.cpu_count() or 2
    try:
        return int(inner.split(",")[0])
    except ValueError:
        return 2
