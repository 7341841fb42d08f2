"""The columnar back-end on Spark: the same SQL program as DuckDB runs, on a cluster.

A pack's plan is printed as Spark SQL from the sqlglot trees ``sql.compile`` builds (the
ordered aggregates made explicit by ``sql.dialect``); records come as DataFrames or tables in
the data contract's columns (``records``: checked by Spark queries) or as files read by the
CLI's own readers (``files``); ``database`` is the seam ``sql.run`` drives; ``evaluate`` gives
the results as a DataFrame. No Python runs inside the plan's queries: the results are built on
the driver from one row per subject, and rendered there by ``render`` as every engine's are.

Needs the ``spark`` extra (``pip install 'yibao-credit[spark]'``) and a Java runtime.
May import every earlier stage, up to ``policy``.
"""

from yibao_credit.spark.evaluate import RESULT_COLUMNS, evaluate, evaluate_run
from yibao_credit.spark.session import local_session

__all__ = ["RESULT_COLUMNS", "evaluate", "evaluate_run", "local_session"]
