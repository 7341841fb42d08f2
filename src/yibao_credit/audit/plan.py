"""An audit run as SQL: the base views over the period's claims, then one table of hits per
rule — the statements a database runs, in order (Catala's "pipeline of intermediate forms":
the pack → checked rules → this program → hits).

Every logic type's evidence query (``audit.logic``) is wrapped in the same grouping: one row
per finding, with its claim and line ids in order and the money at issue summed. The program
is text in DuckDB's dialect and nothing else: ``AuditProgram.sql()`` prints it for a reader, a
Spark session runs it after translation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from yibao_credit.audit.compile import AuditPack, CompiledRule
from yibao_credit.audit.logic import EVIDENCE

POSITIVE_AMOUNT = frozenset(
    {
        "sex_limited",
        "age_limited",
        "level_limited",
        "quantity_limit",
        "frequency_limit",
        "exclusive_items",
        "duplicate_medication",
        "stock_mismatch",
    }
)
"""Logic types whose finding is money billed: after refunds, something must remain at issue.
The others (a readmission, idle days, a trajectory, an outlier) are findings in themselves."""

HIT_COLUMNS = (
    "hit_key",
    "institution_id",
    "insured_id",
    "item_code",
    "period_start",
    "period_end",
    "observed",
    "threshold",
    "practitioner_id",
    "claim_ids",
    "line_ids",
    "amount",
)


@dataclass(frozen=True)
class Step:
    """One statement: a view or a table, its name and its query."""

    kind: str  # "view" or "table"
    name: str
    query: str
    rule: str | None = None


@dataclass
class AuditProgram:
    """The statements of one audit run, in order."""

    steps: list[Step] = field(default_factory=list)

    def sql(self) -> str:
        kinds = {"view": "TEMPORARY VIEW", "table": "TEMPORARY TABLE"}
        return (
            ";\n\n".join(
                f"CREATE OR REPLACE {kinds[s.kind]} {s.name} AS{s.query}" for s in self.steps
            )
            + ";\n"
        )


def _date(day: dt.date) -> str:
    return f"DATE '{day.isoformat()}'"


def base_views(period_from: dt.date, period_to: dt.date) -> list[Step]:
    """The period's claims with what rules read of the insured person and the institution,
    and their lines with the claim's fields; and the same over every claim settled up to the
    period's end (``_all``, ``in_period`` marking the period's), for rules that look back
    from a claim of the period: an earlier stay, an earlier prescription still running."""
    claims = f"""
SELECT c.id, c.institution_id, c.insured_id, c.practitioner_id, c.setting, c.date,
  c.date AS claim_date, c.admitted_on, c.discharged_on, c.diagnosis, c.total, c.fund_paid,
  i.sex, i.birth_date, s.category AS inst_category, s.level AS inst_level,
  s.region AS inst_region, v.rank AS inst_rank, c.date >= {_date(period_from)} AS in_period
FROM claims c
JOIN insured i ON i.id = c.insured_id
LEFT JOIN _a_institutions s ON s.id = c.institution_id
LEFT JOIN _a_levels v ON v.level = s.level
WHERE c.date <= {_date(period_to)}"""
    lines = """
SELECT l.id, l.claim_id, l.item_code, l.item_type, l.date, l.quantity, l.unit_price,
  l.amount, l.days_supply, c.institution_id, c.insured_id, c.practitioner_id, c.setting,
  c.claim_date, c.admitted_on, c.discharged_on, c.sex, c.birth_date, c.inst_category,
  c.inst_level, c.inst_region, c.inst_rank, c.in_period
FROM claim_lines l JOIN _a_claims_all c ON c.id = l.claim_id"""
    stock = f"""
SELECT s.institution_id, s.item_code, s.date, s.direction, s.quantity,
  {_date(period_from)} AS period_from, {_date(period_to)} AS period_to
FROM stock s WHERE s.date <= {_date(period_to)}"""
    return [
        Step("view", "_a_claims_all", claims),
        Step("view", "_a_lines_all", lines),
        Step("view", "_a_claims", "\nSELECT * FROM _a_claims_all WHERE in_period"),
        Step("view", "_a_lines", "\nSELECT * FROM _a_lines_all WHERE in_period"),
        Step("view", "_a_stock", stock),
    ]


def hits_query(rule: CompiledRule) -> str:
    """The rule's evidence rows grouped into findings."""
    evidence = rule.logic.build(rule.sql())
    cols = ", ".join(name for name, _ in EVIDENCE)
    having = "HAVING SUM(amount) > 0" if rule.logic.name in POSITIVE_AMOUNT else ""
    return f"""
SELECT hit_key, institution_id, insured_id, item_code, period_start, period_end, observed,
  threshold,
  CASE WHEN COUNT(DISTINCT practitioner_id) = 1 THEN MIN(practitioner_id) END
    AS practitioner_id,
  ARRAY_AGG(claim_id ORDER BY claim_id) FILTER (WHERE first_of_claim) AS claim_ids,
  ARRAY_AGG(line_id ORDER BY line_id) FILTER (WHERE line_id IS NOT NULL) AS line_ids,
  CAST(SUM(amount) AS DECIMAL(18,2)) AS amount
FROM (
  SELECT {cols}, claim_id IS NOT NULL AND ROW_NUMBER() OVER (
      PARTITION BY hit_key, claim_id ORDER BY line_id) = 1 AS first_of_claim
  FROM ({evidence}
  ) e
) w
GROUP BY hit_key, institution_id, insured_id, item_code, period_start, period_end, observed,
  threshold
{having}"""


def hits_table(rule: CompiledRule) -> str:
    return f"_h_{rule.order}"


def program(
    pack: AuditPack,
    period_from: dt.date,
    period_to: dt.date,
    rules: tuple[CompiledRule, ...] | None = None,
) -> AuditProgram:
    """The statements of an audit of ``pack`` over the claims settled in the period."""
    out = AuditProgram(base_views(period_from, period_to))
    for rule in rules if rules is not None else pack.rules:
        out.steps.append(Step("table", hits_table(rule), hits_query(rule), rule.rule.id))
    return out
