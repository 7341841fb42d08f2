"""What one tree needs to mean the same in Spark SQL as in DuckDB.

sqlglot prints most of the program for Spark as it is. An ordered aggregate is the exception:
``ARRAY_AGG(id ORDER BY date, id)`` prints as ``COLLECT_LIST(id)``, whose order Spark does not
define — and the order of evidence ids is part of every result. Spark sorts an array of
structs field by field, so the ordered aggregate becomes
``TRANSFORM(ARRAY_SORT(COLLECT_LIST(NAMED_STRUCT(k0, date, k1, id, v, id))), x -> x.v)``, with
any ``FILTER`` kept on the inner aggregate: SQL still, nothing of Python on the executors.
Strings compare by their UTF-8 bytes in both databases, which is code point order, as Python.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

_SORTED = "TRANSFORM(ARRAY_SORT(_yc_agg), _yc_x -> _yc_x._yc_v)"


def for_spark(query: exp.Expr) -> exp.Expr:
    """A copy of ``query`` whose ordered aggregates keep their order in Spark."""
    tree = query.copy()
    for agg in list(tree.find_all(exp.ArrayAgg)):
        order = agg.this
        if not isinstance(order, exp.Order):
            continue
        keys = []
        for i, ordered in enumerate(order.expressions):
            if ordered.args.get("desc"):
                raise ValueError("an ARRAY_AGG ordered descending has no Spark translation here")
            keys += [exp.Literal.string(f"_yc_k{i}"), ordered.this.copy()]
        keys += [exp.Literal.string("_yc_v"), order.this.copy()]
        collected = exp.ArrayAgg(this=exp.Anonymous(this="NAMED_STRUCT", expressions=keys))
        outer = agg.parent if isinstance(agg.parent, exp.Filter) else agg
        inner: exp.Expr = collected
        if outer is not agg:
            inner = exp.Filter(this=collected, expression=outer.args["expression"].copy())
        sorted_ = sqlglot.parse_one(_SORTED, read="spark")
        placeholder = next(c for c in sorted_.find_all(exp.Column) if c.name == "_yc_agg")
        placeholder.replace(inner)
        outer.replace(sorted_)
    return tree
