"""The logic types of audit rules, each as SQL over the run's claims.

A logic type (审核逻辑) is the generic half of a rule: what it reads, which spans and
parameters it takes, which knowledge columns it needs, and a query. The pack supplies the
other half (scope, span, thresholds, table). Every query is written once, in DuckDB's dialect,
with SQL only in it (no Python function inside a plan), so that the same text runs on Spark
after sqlglot's translation.

Each query yields *evidence rows*, one per claim line (or claim) behind a finding, with the
columns of ``EVIDENCE``: the rows of one finding share ``hit_key`` and the finding's fields;
``amount`` is the money at issue carried by that row (0 for a row that is only context). The
runner (``audit.plan``) groups them into hits, so every logic type gets the same hit shape.

Conventions, taken from the published texts and stated in docs/audit.md:
- 以上、以下、以内 include the number (《民法典》第1259条): "within 15 days" hits on day 15, a
  limit of 3 is kept by 3 and broken by 4.
- A day of a stay is counted as the national 住院天数 counts it: the admission day counts, the
  discharge day does not (a stay of 03-05 .. 03-12 is 7 days).
- Refunds (lines of negative quantity) net against the lines they refund: a finding needs a
  positive quantity or amount after refunds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from yibao_credit.audit.schema import AuditRule

EVIDENCE: tuple[tuple[str, str], ...] = (
    ("hit_key", "VARCHAR"),
    ("institution_id", "VARCHAR"),
    ("insured_id", "VARCHAR"),
    ("practitioner_id", "VARCHAR"),
    ("claim_id", "VARCHAR"),
    ("line_id", "VARCHAR"),
    ("amount", "DECIMAL(18,2)"),
    ("period_start", "DATE"),
    ("period_end", "DATE"),
    ("item_code", "VARCHAR"),
    ("observed", "VARCHAR"),
    ("threshold", "VARCHAR"),
)
"""The columns every logic type's query yields, in this order."""

ParamType = Literal["int", "decimal", "bool", "enum"]


@dataclass(frozen=True)
class ParamSpec:
    """A parameter a logic type takes: its type and bound."""

    type: ParamType
    zh: str
    en: str
    min: int | None = None
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleSql:
    """What a query is built from: the rule, its checked parameters and its tables."""

    rule: AuditRule
    params: Mapping[str, Any]
    """Parameter name → value, typed (int, Decimal, bool, str)."""
    knowledge: str | None
    """The table of the rule's knowledge points in the run (``_k_<name>``), if it has one."""

    def scope(self, alias: str) -> str:
        """The rule's scope as a condition on a row of ``_a_claims`` or ``_a_lines``."""
        s = self.rule.scope
        parts = [f"{alias}.setting IN ({_list(s.settings)})"]
        if s.institution_categories is not None:
            parts.append(f"{alias}.inst_category IN ({_list(s.institution_categories)})")
        if s.institution_levels is not None:
            parts.append(f"{alias}.inst_level IN ({_list(s.institution_levels)})")
        return " AND ".join(parts)

    def p(self, name: str) -> str:
        """A parameter as a SQL literal."""
        return literal(self.params[name])


def literal(value: Any) -> str:
    """A value as a SQL literal that means the same in DuckDB and Spark."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return f"CAST('{value}' AS DECIMAL(18,4))"
    text = str(value).replace("'", "''")
    return f"'{text}'"


def _list(values: Sequence[str]) -> str:
    return ", ".join(literal(v) for v in values)


Builder = Callable[[RuleSql], str]


@dataclass(frozen=True)
class LogicType:
    """A logic type: what a rule of it may say, and its query."""

    name: str
    zh: str
    en: str
    spans: tuple[str, ...]
    build: Builder
    explain_zh: str
    explain_en: str
    parameters: Mapping[str, ParamSpec] = field(default_factory=dict)
    columns: Mapping[str, str] = field(default_factory=dict)
    """Knowledge columns the query reads → their type; empty: no table."""
    table: Literal["required", "optional", "none"] = "required"
    settings: tuple[str, ...] = ("outpatient", "inpatient", "pharmacy")
    """The scenarios the logic can apply to."""
    needs: frozenset[str] = frozenset()
    """``subjects`` (institution attributes) or ``stock`` (进销存 records)."""


# -- pieces ---------------------------------------------------------------------------------


def _claim_period(span: str, alias: str) -> str:
    """period_start, period_end of a finding about one claim."""
    if span == "stay":
        return f"{alias}.admitted_on AS period_start, {alias}.discharged_on AS period_end"
    return f"{alias}.claim_date AS period_start, {alias}.claim_date AS period_end"


def _span_start(span: str, day: str) -> str:
    """The first day of the calendar span holding ``day``; its last day is worked out by the
    runner (``plan.period_end``)."""
    return {
        "day": day,
        "month": f"MAKE_DATE(YEAR({day}), MONTH({day}), 1)",
        "quarter": f"MAKE_DATE(YEAR({day}), (QUARTER({day}) - 1) * 3 + 1, 1)",
        "year": f"MAKE_DATE(YEAR({day}), 1, 1)",
    }[span]


def _text(expr: str) -> str:
    return f"CAST({expr} AS VARCHAR)"


def _age(day: str, birth: str) -> str:
    """Whole years of age on ``day``: a birthday is reached on its day (29 February: on 1 March
    in a common year)."""
    return (
        f"(YEAR({day}) - YEAR({birth}) - CASE WHEN MONTH({day}) * 100 + DAY({day}) "
        f"< MONTH({birth}) * 100 + DAY({birth}) THEN 1 ELSE 0 END)"
    )


def _line_finding(r: RuleSql, condition: str, observed: str, threshold: str, join: str) -> str:
    """A finding per claim and item whose lines break a condition on the line alone (sex, age,
    level): every such line is evidence, all of its amount at issue."""
    return f"""
SELECT l.claim_id || '|' || l.item_code || '|' || {observed} AS hit_key, l.institution_id,
  l.insured_id, l.practitioner_id, l.claim_id, l.id AS line_id, l.amount,
  {_claim_period(r.rule.span, "l")}, l.item_code, {observed} AS observed,
  {threshold} AS threshold
FROM _a_lines l {join}
WHERE {r.scope("l")} AND {condition}"""


# -- the logic types ------------------------------------------------------------------------


def _sex_limited(r: RuleSql) -> str:
    return _line_finding(
        r, "l.sex <> k.sex", "l.sex", "k.sex", f"JOIN {r.knowledge} k ON k.item_code = l.item_code"
    )


def _age_limited(r: RuleSql) -> str:
    age = _age("l.date", "l.birth_date")
    limits = (
        "COALESCE(CAST(k.min_age AS VARCHAR), '') || '..' "
        "|| COALESCE(CAST(k.max_age AS VARCHAR), '')"
    )
    return _line_finding(
        r,
        f"((k.min_age IS NOT NULL AND {age} < k.min_age) "
        f"OR (k.max_age IS NOT NULL AND {age} > k.max_age))",
        _text(age),
        limits,
        f"JOIN {r.knowledge} k ON k.item_code = l.item_code",
    )


def _level_limited(r: RuleSql) -> str:
    return _line_finding(
        r,
        "l.inst_rank IS NOT NULL AND l.inst_rank < k.min_level",
        "l.inst_level",
        "CAST(k.min_level AS VARCHAR)",
        f"JOIN {r.knowledge} k ON k.item_code = l.item_code",
    )


def _group_key(span: str) -> tuple[str, str, str]:
    """(partition, hit key, period columns) of a finding per item in a span, at one
    institution for one insured person."""
    if span in ("visit", "stay"):
        return "l.claim_id, l.item_code", "l.claim_id", _claim_period(span, "l")
    start = _span_start(span, "l.date" if span == "day" else "l.claim_date")
    part = f"l.institution_id, l.insured_id, l.item_code, {start}"
    key = f"l.institution_id || '|' || l.insured_id || '|' || CAST({start} AS VARCHAR)"
    return part, key, f"{start} AS period_start, CAST(NULL AS DATE) AS period_end"


def _excess(
    r: RuleSql,
    lines: str,
    partition: str,
    limit: str,
    key: str,
    period: str,
    evidence: str,
    insured: str = "l.insured_id",
) -> str:
    """Findings where a running total of quantity, in (date, line id) order, passes a limit
    within each partition: the part of each line above the limit is at issue, at its unit
    price, rounded to the fen. Refunds are counted first, so that they net against the
    quantity before any line passes the limit: the quantity at issue is the total after
    refunds less the limit, whatever the lines' order. ``evidence``: ``all`` lines of the
    partition, or ``excess`` only (a long history of stock). ``insured``: the finding's
    insured person, NULL when the partition is not one person's (one finding, one hit)."""
    keep = "" if evidence == "all" else "AND over_qty > 0"
    return f"""
SELECT * FROM (
  SELECT hit_key, institution_id, insured_id, practitioner_id, claim_id, line_id,
    CAST(ROUND(over_qty * unit_price, 2) AS DECIMAL(18,2)) AS amount, period_start,
    period_end, item_code, CAST(total AS VARCHAR) AS observed,
    CAST(lim AS VARCHAR) AS threshold, total, lim, over_qty
  FROM (
    SELECT g.*, CASE WHEN g.quantity > 0
        THEN GREATEST(LEAST(g.quantity, g.running - g.lim), 0) ELSE 0 END AS over_qty
    FROM (
      SELECT {key} || '|' || l.item_code AS hit_key, l.institution_id, {insured} AS insured_id,
        l.practitioner_id, l.claim_id, l.id AS line_id, l.quantity, l.unit_price,
        {period}, l.item_code, {limit} AS lim,
        SUM(l.quantity) OVER (PARTITION BY {partition}
          ORDER BY CASE WHEN l.quantity < 0 THEN 0 ELSE 1 END, l.date, l.id
          ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running,
        SUM(l.quantity) OVER (PARTITION BY {partition}) AS total
      FROM {lines}
    ) g
  ) e
) x WHERE total > lim {keep}"""


def _quantity_limit(r: RuleSql) -> str:
    partition, key, period = _group_key(r.rule.span)
    lines = f"_a_lines l JOIN {r.knowledge} k ON k.item_code = l.item_code WHERE {r.scope('l')}"
    return _excess(r, lines, partition, "k.max_quantity", key, period, "all")


def _frequency_limit(r: RuleSql) -> str:
    # A visit bills the item when its lines of it, refunds netted, leave a positive quantity.
    span = r.rule.span
    start = _span_start(span, "l.claim_date")
    part = f"l.institution_id, l.insured_id, l.item_code, {start}"
    return f"""
SELECT hit_key, institution_id, insured_id, practitioner_id, claim_id, line_id,
  CASE WHEN visit > lim THEN amount ELSE CAST(0 AS DECIMAL(18,2)) END AS amount,
  period_start, CAST(NULL AS DATE) AS period_end, item_code,
  CAST(visits AS VARCHAR) AS observed, CAST(lim AS VARCHAR) AS threshold
FROM (
  SELECT v.*, MAX(visit) OVER (PARTITION BY hit_key) AS visits
  FROM (
    SELECT l.institution_id || '|' || l.insured_id || '|' || CAST({start} AS VARCHAR) || '|'
        || l.item_code AS hit_key, l.institution_id, l.insured_id, l.practitioner_id,
      l.claim_id, l.id AS line_id, l.amount, {start} AS period_start, l.item_code,
      l.max_times AS lim,
      DENSE_RANK() OVER (PARTITION BY {part} ORDER BY l.claim_date, l.claim_id) AS visit
    FROM (
      SELECT l.*, k.max_times,
        SUM(l.quantity) OVER (PARTITION BY l.claim_id, l.item_code) AS net
      FROM _a_lines l JOIN {r.knowledge} k ON k.item_code = l.item_code
      WHERE {r.scope("l")}
    ) l
    WHERE l.net > 0
  ) v
) w WHERE visits > lim"""


def _exclusive_items(r: RuleSql) -> str:
    if r.rule.span == "visit":
        key, period = "l.claim_id", _claim_period("visit", "l")
    else:
        key = "l.institution_id || '|' || l.insured_id || '|' || CAST(l.date AS VARCHAR)"
        period = "l.date AS period_start, l.date AS period_end"
    return f"""
SELECT hit_key, institution_id, insured_id, practitioner_id, claim_id, line_id,
  CASE WHEN role = 'b' THEN amount ELSE CAST(0 AS DECIMAL(18,2)) END AS amount,
  period_start, period_end, item_b AS item_code, item_a AS observed,
  CAST(NULL AS VARCHAR) AS threshold
FROM (
  SELECT x.*,
    SUM(CASE WHEN role = 'a' THEN quantity ELSE 0 END) OVER (PARTITION BY hit_key) AS qa,
    SUM(CASE WHEN role = 'b' THEN quantity ELSE 0 END) OVER (PARTITION BY hit_key) AS qb
  FROM (
    SELECT {key} || '|' || k.item_a || '|' || k.item_b AS hit_key, 'a' AS role,
      l.institution_id, l.insured_id, l.practitioner_id, l.claim_id, l.id AS line_id,
      l.amount, l.quantity, {period}, k.item_a, k.item_b
    FROM _a_lines l JOIN {r.knowledge} k ON k.item_a = l.item_code WHERE {r.scope("l")}
    UNION ALL
    SELECT {key} || '|' || k.item_a || '|' || k.item_b AS hit_key, 'b' AS role,
      l.institution_id, l.insured_id, l.practitioner_id, l.claim_id, l.id AS line_id,
      l.amount, l.quantity, {period}, k.item_a, k.item_b
    FROM _a_lines l JOIN {r.knowledge} k ON k.item_b = l.item_code WHERE {r.scope("l")}
  ) x
) y WHERE qa > 0 AND qb > 0"""


def _duplicate_medication(r: RuleSql) -> str:
    ingredient = "COALESCE(k.ingredient, l.item_code)" if r.knowledge else "l.item_code"
    join = f"LEFT JOIN {r.knowledge} k ON k.item_code = l.item_code" if r.knowledge else ""
    least = r.p("min_overlap_days")
    # A prescription's days run from its lines of days' supply; its refunds (which may not
    # say their days) net its quantity and amount: a prescription refunded whole is none.
    return f"""
WITH dl AS (
  SELECT l.id AS line_id, l.claim_id, l.insured_id, l.date, l.days_supply, l.amount,
    l.quantity, l.in_period, {ingredient} AS ingredient
  FROM _a_lines_all l {join}
  WHERE {r.scope("l")} AND l.item_type = 'drug'
    AND (l.days_supply IS NOT NULL OR l.quantity < 0)
), d AS (
  SELECT insured_id, claim_id, ingredient, in_period,
    MIN(CASE WHEN quantity > 0 THEN date END) AS first_day,
    MAX(CASE WHEN quantity > 0 THEN date + (days_supply - 1) END) AS last_day
  FROM dl GROUP BY insured_id, claim_id, ingredient, in_period
  HAVING SUM(quantity) > 0
), o AS (
  SELECT b.claim_id, b.ingredient, b.first_day, b.last_day, a.claim_id AS earlier,
    DATE_DIFF('day', b.first_day, LEAST(a.last_day, b.last_day)) + 1 AS overlap
  FROM d b JOIN d a ON a.insured_id = b.insured_id AND a.ingredient = b.ingredient
    AND (a.first_day < b.first_day OR (a.first_day = b.first_day AND a.claim_id < b.claim_id))
    AND a.last_day >= b.first_day
  WHERE b.in_period
), f AS (
  SELECT claim_id, ingredient, first_day, last_day, earlier,
    MAX(overlap) OVER (PARTITION BY claim_id, ingredient) AS most
  FROM o WHERE overlap >= {least}
), e AS (
  SELECT DISTINCT claim_id AS hit, ingredient, first_day, last_day, most, claim_id AS source
  FROM f
  UNION ALL
  SELECT claim_id AS hit, ingredient, first_day, last_day, most, earlier AS source FROM f
)
SELECT e.hit || '|' || e.ingredient AS hit_key, c.institution_id, c.insured_id,
  c.practitioner_id, dl.claim_id, dl.line_id,
  CASE WHEN dl.claim_id = e.hit THEN dl.amount ELSE CAST(0 AS DECIMAL(18,2)) END AS amount,
  e.first_day AS period_start, e.last_day AS period_end, e.ingredient AS item_code,
  CAST(e.most AS VARCHAR) AS observed, {_text(least)} AS threshold
FROM e JOIN dl ON dl.claim_id = e.source AND dl.ingredient = e.ingredient
JOIN _a_claims c ON c.id = e.hit"""


def _readmission(r: RuleSql) -> str:
    match = {
        "any": "",
        "category": ", LEFT(COALESCE(c.diagnosis, ''), 3)",
        "code": ", COALESCE(c.diagnosis, '')",
    }[str(r.params["diagnosis_match"])]
    same = ", c.institution_id" if r.params["same_institution"] else ""
    return f"""
WITH s AS (
  SELECT c.id, c.institution_id, c.insured_id, c.practitioner_id, c.admitted_on,
    c.fund_paid, c.in_period, LAG(c.id) OVER w AS prev_id,
    LAG(c.discharged_on) OVER w AS prev_out
  FROM _a_claims_all c
  WHERE {r.scope("c")} AND c.setting = 'inpatient'
  WINDOW w AS (PARTITION BY c.insured_id{same}{match} ORDER BY c.admitted_on, c.id)
), h AS (
  SELECT s.*, DATE_DIFF('day', prev_out, admitted_on) AS gap FROM s
  WHERE prev_id IS NOT NULL AND in_period
)
SELECT h.id AS hit_key, h.institution_id, h.insured_id, h.practitioner_id, e.claim_id,
  CAST(NULL AS VARCHAR) AS line_id, e.amount, h.prev_out AS period_start,
  h.admitted_on AS period_end, CAST(NULL AS VARCHAR) AS item_code,
  CAST(h.gap AS VARCHAR) AS observed, {_text(r.p("days"))} AS threshold
FROM h
JOIN (SELECT id AS claim_id, id AS hit, fund_paid AS amount FROM h
      UNION ALL
      SELECT prev_id AS claim_id, id AS hit, CAST(0 AS DECIMAL(18,2)) AS amount FROM h) e
  ON e.hit = h.id
WHERE h.gap >= 0 AND h.gap <= {r.p("days")}"""


def _idle_bed_days(r: RuleSql) -> str:
    # A day is treated when a treatment item, its refunds that day netted, is left billed.
    return f"""
WITH s AS (
  SELECT c.id, c.institution_id, c.insured_id, c.practitioner_id, c.admitted_on,
    c.discharged_on
  FROM _a_claims c WHERE {r.scope("c")} AND c.setting = 'inpatient'
), t AS (
  SELECT claim_id, date, MAX(CASE WHEN bed = 0 AND net > 0 THEN 1 ELSE 0 END) AS treated
  FROM (
    SELECT l.claim_id, l.date, l.item_code, SUM(l.quantity) AS net,
      MAX(CASE WHEN k.item_code IS NULL THEN 0 ELSE 1 END) AS bed
    FROM _a_lines l LEFT JOIN {r.knowledge} k ON k.item_code = l.item_code
    WHERE l.setting = 'inpatient' AND l.date >= l.admitted_on AND l.date < l.discharged_on
    GROUP BY l.claim_id, l.date, l.item_code
  ) n
  GROUP BY claim_id, date
), d AS (
  SELECT s.id, DATE_DIFF('day', s.admitted_on, s.discharged_on)
    - COALESCE(SUM(t.treated), 0) AS idle
  FROM s LEFT JOIN t ON t.claim_id = s.id
  GROUP BY s.id, s.admitted_on, s.discharged_on
), h AS (
  SELECT s.*, d.idle FROM s JOIN d ON d.id = s.id WHERE d.idle >= {r.p("min_idle_days")}
)
SELECT h.id AS hit_key, h.institution_id, h.insured_id, h.practitioner_id, h.id AS claim_id,
  e.line_id, COALESCE(e.amount, CAST(0 AS DECIMAL(18,2))) AS amount,
  h.admitted_on AS period_start, h.discharged_on AS period_end,
  CAST(NULL AS VARCHAR) AS item_code, CAST(h.idle AS VARCHAR) AS observed,
  {_text(r.p("min_idle_days"))} AS threshold
FROM h LEFT JOIN (
  SELECT l.claim_id, l.id AS line_id, l.amount
  FROM _a_lines l JOIN t ON t.claim_id = l.claim_id AND t.date = l.date AND t.treated = 0
  WHERE l.setting = 'inpatient'
) e ON e.claim_id = h.id"""


def _card_velocity(r: RuleSql) -> str:
    # Places are counted by a GROUP BY joined back: Spark has no COUNT(DISTINCT) OVER.
    least = r.p("min_institutions")
    return f"""
SELECT c.insured_id || '|' || CAST(c.date AS VARCHAR) AS hit_key,
  CAST(NULL AS VARCHAR) AS institution_id, c.insured_id,
  CAST(NULL AS VARCHAR) AS practitioner_id, c.id AS claim_id,
  CAST(NULL AS VARCHAR) AS line_id, c.fund_paid AS amount, c.date AS period_start,
  c.date AS period_end, CAST(NULL AS VARCHAR) AS item_code,
  CAST(p.places AS VARCHAR) AS observed, {_text(least)} AS threshold
FROM _a_claims c
JOIN (
  SELECT c.insured_id, c.date, COUNT(DISTINCT c.institution_id) AS places
  FROM _a_claims c WHERE {r.scope("c")}
  GROUP BY c.insured_id, c.date
  HAVING COUNT(DISTINCT c.institution_id) >= {least}
) p ON p.insured_id = c.insured_id AND p.date = c.date
WHERE {r.scope("c")}"""


def _peer_outlier(r: RuleSql) -> str:
    fields = [f"inst_{f}" for f in str(r.params["peers_by"]).split("+")]
    peers = ", ".join(fields)
    on = " AND ".join(f"g.{f} = o.{f}" for f in fields)
    cost = r.params["metric"] == "cost_per_case"
    unit = "''" if cost else "LEFT(COALESCE(c.diagnosis, ''), 3)"
    factor = r.p("factor")
    if cost:  # x / n > factor × other_x / other_n, with no division: exact
        outlier = f"o.x * o.other_n > {factor} * o.other_x * o.n AND o.other_n > 0"
        own, other = "o.x, o.n", "o.other_x, o.other_n"
        behind, amount = "c.total * h.other_n > h.other_x", "CAST(0 AS DECIMAL(18,2))"
    else:  # n / cases > factor × other_n / other_cases; a case without a diagnosis is a
        # case (of the denominator) but of no category: never a finding of its own
        outlier = (
            f"o.n * o.other_cases > {factor} * o.other_n * o.cases AND o.other_cases > 0 "
            "AND o.unit <> ''"
        )
        own, other = "o.n, o.cases", "o.other_n, o.other_cases"
        behind, amount = "TRUE", "c.fund_paid"
    return f"""
WITH c AS (
  SELECT c.*, {unit} AS unit FROM _a_claims c
  WHERE {r.scope("c")} AND {" AND ".join(f"c.{f} IS NOT NULL" for f in fields)}
), own AS (
  SELECT institution_id, unit, {peers}, COUNT(*) AS n, {"SUM(total)" if cost else "COUNT(*)"} AS x
  FROM c GROUP BY institution_id, unit, {peers}
), base AS (
  SELECT institution_id, {peers}, COUNT(*) AS cases FROM c GROUP BY institution_id, {peers}
), grp AS (
  SELECT {peers}, SUM(cases) AS total_cases, COUNT(*) AS members FROM base GROUP BY {peers}
), o AS (
  SELECT o.institution_id, o.unit, o.n, o.x, b.cases,
    SUM(o.x) OVER (PARTITION BY {", ".join(f"o.{f}" for f in fields)}, o.unit) - o.x AS other_x,
    SUM(o.n) OVER (PARTITION BY {", ".join(f"o.{f}" for f in fields)}, o.unit) - o.n AS other_n,
    g.total_cases - b.cases AS other_cases, g.members - 1 AS peers
  FROM own o JOIN base b ON b.institution_id = o.institution_id
  JOIN grp g ON {on}
), h AS (
  SELECT o.*, CAST({own.split(", ")[0]} AS VARCHAR) || '/' || CAST({own.split(", ")[1]} AS VARCHAR)
      AS observed,
    CAST({other.split(", ")[0]} AS VARCHAR) || '/' || CAST({other.split(", ")[1]} AS VARCHAR)
      AS threshold
  FROM o
  WHERE o.peers >= {r.p("min_peers")} AND o.n >= {r.p("min_cases")} AND {outlier}
)
SELECT h.institution_id || '|' || h.unit AS hit_key, h.institution_id,
  CAST(NULL AS VARCHAR) AS insured_id, c.practitioner_id, c.id AS claim_id,
  CAST(NULL AS VARCHAR) AS line_id, {amount} AS amount, CAST(NULL AS DATE) AS period_start,
  CAST(NULL AS DATE) AS period_end, NULLIF(h.unit, '') AS item_code, h.observed, h.threshold
FROM h JOIN c ON c.institution_id = h.institution_id AND c.unit = h.unit
WHERE {behind}"""


def _stock_mismatch(r: RuleSql) -> str:
    lines = f"""(
  SELECT l.*, COALESCE(s.available, 0) + {r.p("tolerance")} AS available
  FROM _a_lines l
  JOIN (SELECT DISTINCT institution_id FROM _a_stock) w ON w.institution_id = l.institution_id
  LEFT JOIN (
    SELECT institution_id, item_code,
      SUM(CASE WHEN date < period_from
            THEN CASE WHEN direction = 'in' THEN quantity ELSE -quantity END
          WHEN direction = 'in' THEN quantity ELSE 0 END) AS available
    FROM _a_stock
    GROUP BY institution_id, item_code
  ) s ON s.institution_id = l.institution_id AND s.item_code = l.item_code
  WHERE {r.scope("l")} AND l.item_type = 'drug'
) l"""
    return _excess(
        r,
        lines,
        "l.institution_id, l.item_code",
        "l.available",
        "l.institution_id",
        "CAST(NULL AS DATE) AS period_start, CAST(NULL AS DATE) AS period_end",
        "excess",
        "CAST(NULL AS VARCHAR)",  # a pharmacy's stock, whoever the drug was billed to
    )


_COUNT = ParamSpec("int", "次数", "count", min=1)

LOGIC_TYPES: dict[str, LogicType] = {
    t.name: t
    for t in [
        LogicType(
            "sex_limited",
            "限性别",
            "limited to one sex",
            ("visit", "stay"),
            _sex_limited,
            "{item}限{threshold}性使用,参保人为{observed}性",
            "{item} is for {threshold} patients only; the insured person is {observed}",
            columns={"item_code": "code", "sex": "enum"},
        ),
        LogicType(
            "age_limited",
            "限年龄",
            "limited to an age",
            ("visit", "stay"),
            _age_limited,
            "{item}限{threshold}使用,参保人费用发生时{observed}周岁",
            "{item} is for patients {threshold}; the insured person was {observed}",
            columns={"item_code": "code", "min_age": "int", "max_age": "int"},
        ),
        LogicType(
            "level_limited",
            "限医疗机构级别",
            "limited to an institution level",
            ("visit", "stay"),
            _level_limited,
            "{item}限{threshold}及以上医疗机构使用,本机构为{observed}",
            "{item} is for institutions of level {threshold} and above; this one is {observed}",
            columns={"item_code": "code", "min_level": "int"},
            needs=frozenset({"subjects"}),
        ),
        LogicType(
            "quantity_limit",
            "超限量",
            "quantity above the limit",
            ("visit", "stay", "day"),
            _quantity_limit,
            "{item}{span}内计费数量{observed},超过限量{threshold}",
            "{item}: quantity {observed} in one {span}, above the limit of {threshold}",
            columns={"item_code": "code", "max_quantity": "decimal"},
        ),
        LogicType(
            "frequency_limit",
            "超频次",
            "billed more often than allowed",
            ("day", "month", "quarter", "year"),
            _frequency_limit,
            "{item}{span}内计费{observed}次,超过限定的{threshold}次",
            "{item} billed in {observed} visits in one {span}, more than the {threshold} allowed",
            columns={"item_code": "code", "max_times": "int"},
        ),
        LogicType(
            "exclusive_items",
            "互斥项目",
            "items that may not be billed together",
            ("visit", "day"),
            _exclusive_items,
            "{item}与{observed}不得在{span}内同时收费",
            "{item} may not be billed with {observed} in one {span}",
            columns={"item_a": "code", "item_b": "code"},
        ),
        LogicType(
            "duplicate_medication",
            "重复开药",
            "duplicate medication",
            ("supply",),
            _duplicate_medication,
            "{item}的用药天数与此前同一参保人所开同一药品(成分)重叠{observed}天,达到{threshold}天",
            "{item}: days of supply overlap an earlier prescription of the same drug (ingredient) "
            "for {observed} days, {threshold} or more",
            parameters={"min_overlap_days": ParamSpec("int", "重叠天数", "days of overlap", min=1)},
            columns={"item_code": "code", "ingredient": "code"},
            table="optional",
        ),
        LogicType(
            "readmission",
            "分解住院",
            "readmission (split stay)",
            ("after_discharge",),
            _readmission,
            "出院后第{observed}天再次入院,在{threshold}天以内",
            "readmitted {observed} days after discharge, within {threshold} days",
            parameters={
                "days": ParamSpec("int", "出院后天数", "days after discharge", min=0),
                "same_institution": ParamSpec("bool", "限同一机构", "at the same institution"),
                "diagnosis_match": ParamSpec(
                    "enum",
                    "诊断相同的判断",
                    "how diagnoses must match",
                    choices=("any", "category", "code"),
                ),
            },
            table="none",
            settings=("inpatient",),
        ),
        LogicType(
            "idle_bed_days",
            "挂床住院",
            "idle bed days",
            ("stay",),
            _idle_bed_days,
            "住院期间有{observed}天无诊疗项目,达到{threshold}天",
            "{observed} days of the stay with no treatment, {threshold} or more",
            parameters={"min_idle_days": ParamSpec("int", "无诊疗天数", "idle days", min=1)},
            columns={"item_code": "code"},
            settings=("inpatient",),
        ),
        LogicType(
            "card_velocity",
            "就诊轨迹异常",
            "one card at many places in a day",
            ("day",),
            _card_velocity,
            "同一参保人同日在{observed}家机构结算,达到{threshold}家",
            "the insured person settled at {observed} institutions in one day, {threshold} or more",
            parameters={"min_institutions": ParamSpec("int", "机构数", "institutions", min=2)},
            table="none",
        ),
        LogicType(
            "peer_outlier",
            "偏离同类机构",
            "far above peers",
            ("period",),
            _peer_outlier,
            "{observed_text},为同类同级机构({threshold_text})的{ratio}倍,超过{factor}倍",
            "{observed_text}, {ratio} times that of peers of the same kind ({threshold_text}), "
            "above {factor} times",
            parameters={
                "metric": ParamSpec(
                    "enum", "指标", "metric", choices=("cost_per_case", "diagnosis_share")
                ),
                "factor": ParamSpec("decimal", "倍数", "factor", min=1),
                "min_cases": ParamSpec("int", "最少病例数", "fewest cases", min=1),
                "min_peers": ParamSpec("int", "最少同类机构数", "fewest peers", min=1),
                "peers_by": ParamSpec(
                    "enum",
                    "同类机构的划分",
                    "what makes a peer",
                    choices=("category", "level", "category+level", "category+level+region"),
                ),
            },
            table="none",
            needs=frozenset({"subjects"}),
        ),
        LogicType(
            "stock_mismatch",
            "进销存不符",
            "billed above stock received",
            ("period",),
            _stock_mismatch,
            "{item}期间计费数量{observed},超过进销存记录可供数量{threshold}",
            "{item}: {observed} billed in the period, above the {threshold} the stock records "
            "show available",
            parameters={"tolerance": ParamSpec("decimal", "允许差异数量", "tolerance", min=0)},
            table="none",
            needs=frozenset({"stock"}),
        ),
    ]
}
"""Every logic type, by name."""
