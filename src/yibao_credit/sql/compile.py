"""A plan and a run's date as SQL statements: one program, built as sqlglot trees, printed for
DuckDB (``dialect="duckdb"``) or Spark SQL from the same source.

The run's date fixes window bounds and the parameter values in force, so they enter the SQL as
literals (an evaluation group's own values as a ``CASE`` on the subject's group). Tables read:
``subjects`` and ``events`` (``sql.tables``), ``_history`` (history readings, one row per
subject that has history facts). Tables written, in order:

- ``_assigned``: each subject with the ruleset that grades it and how many rulesets claim it;
- ``_live`` and ``_aside``: events up to ``as_of`` that still count, and those set aside
  (expired under ``validity``, or neutralised by a ``repair``), with why;
- ``_r_<ruleset>``: one row per graded subject of the ruleset: its group, every slot of the
  plan's values tuple (facts, evidence, exclusions, criteria, score items, categories, total,
  vetoes) and the decision (exclusion, rule or band, score, veto, grade);
- ``_g0`` … ``_g<n>``: every result's grade before and after each roll-up, and
  ``_o<k>`` the outcome of roll-up ``k`` for each head;
- ``_m_<ruleset>``: the conditions of conditional measures on the final grade.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlglot import exp

from yibao_credit.compile.plan import (
    CompiledFact,
    CompiledRollup,
    CompiledRuleset,
    CompiledScore,
    Plan,
    ScoreNumber,
)
from yibao_credit.engine.context import RunContext
from yibao_credit.records.contract import EVENT_FIELDS, SUBJECT_FIELDS
from yibao_credit.sql.dialect import for_spark
from yibao_credit.sql.expr import literal, node_to_sql, paren, to_sql, truth
from yibao_credit.time.periods import parse_period

SUBJECT_COLUMNS = tuple(SUBJECT_FIELDS)
EVENT_CORE = tuple(EVENT_FIELDS)


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table, quoted=True)


def fact_col(name: str) -> str:
    return f"_f_{name}"


def evidence_col(name: str) -> str:
    return f"_ev_{name}"


def history_col(name: str) -> str:
    return f"_h_{name}"


def slot_col(slot: int) -> str:
    return f"_c{slot}"


def measure_col(index: int) -> str:
    return f"_m{index}"


@dataclass(frozen=True)
class Statement:
    """One table of the program: its name and the query that fills it."""

    table: str
    query: exp.Query

    def sql(self, dialect: str = "duckdb", pretty: bool = False) -> str:
        create = exp.Create(
            this=exp.to_table(self.table), kind="TABLE", expression=self.query, replace=True
        )
        if dialect == "duckdb":
            create.set("properties", exp.Properties(expressions=[exp.TemporaryProperty()]))
            return create.sql(dialect=dialect, pretty=pretty)
        # Spark: a temporary view per table; ordered aggregates made to keep their order.
        query = for_spark(self.query).sql(dialect=dialect, pretty=pretty)
        return (
            f"CREATE OR REPLACE TEMPORARY VIEW {self.table} AS{chr(10) if pretty else ' '}{query}"
        )


@dataclass
class SqlProgram:
    """The statements of one run, and where each slot of each ruleset's values is found."""

    statements: list[Statement] = field(default_factory=list)
    slot_columns: dict[str, list[str]] = field(default_factory=dict)
    """Per ruleset: the column of each slot of the values tuple, in slot order."""
    measure_columns: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    """Per ruleset: the conditional measures (index in ruleset order of pack measures, column)."""
    rollups: list[tuple[CompiledRuleset, CompiledRollup, str]] = field(default_factory=list)
    """Each roll-up in the order applied, with the table of its outcomes."""
    final_grades: str = "_g0"
    _texts: dict[int, str] = field(default_factory=dict, repr=False)

    def text(self, index: int) -> str:
        """Statement ``index`` printed for DuckDB (printed once: programs are reused)."""
        text = self._texts.get(index)
        if text is None:
            text = self._texts[index] = self.statements[index].sql("duckdb")
        return text

    def add(self, table: str, query: exp.Query) -> None:
        self.statements.append(Statement(table, query))

    def sql(self, dialect: str = "duckdb", pretty: bool = False) -> str:
        return ";\n\n".join(s.sql(dialect, pretty) for s in self.statements) + ";\n"


class Scope:
    """How names of an expression read in SQL, for one ruleset and one evaluation context."""

    def __init__(
        self,
        context: RunContext,
        rs: CompiledRuleset | None,
        table: str | None = None,
        extra: Mapping[str, exp.Expr] | None = None,
    ) -> None:
        self.context = context
        self.rs = rs
        self.table = table
        self.extra = dict(extra or {})
        self.facts = {f.name for f in rs.facts} if rs else set()
        self.history = {h.name for h in rs.history} if rs else set()

    def param(self, name: str) -> exp.Expr:
        """A parameter's value in force, or per evaluation group where a group sets it."""
        base = self.context.params[name].value
        groups = [g for g in (self.rs.groups if self.rs else ()) if name in g.params]
        if not groups:
            return literal(base)
        return exp.Case(
            this=col("_group", self.table),
            ifs=[
                exp.If(this=exp.Literal.string(g.id), true=literal(g.params[name])) for g in groups
            ],
            default=literal(base),
        )

    def subject(self, name: str) -> exp.Expr:
        if name in self.extra:
            return self.extra[name]
        if name == "as_of":
            return literal(self.context.as_of)
        if name in self.context.params:
            return self.param(name)
        if name in self.facts:
            return col(fact_col(name), self.table)
        if name in self.history:
            return col(history_col(name), self.table)
        return col(name, self.table)

    def event(self, name: str) -> exp.Expr:
        if name == "as_of":
            return literal(self.context.as_of)
        if name in self.context.params:
            return self.param(name)
        return col(name, "e")


def compile_run(
    plan: Plan,
    context: RunContext,
    evidence: bool = True,
    history_defaults: Mapping[str, Mapping[str, Any]] | None = None,
) -> SqlProgram:
    """The SQL program of one run; ``evidence``: collect the event ids each fact counted
    (the trace shows them; a run without traces need not); ``history_defaults``: per ruleset,
    the history readings of a subject with no earlier result (``_history_<ruleset>`` holds
    the others)."""
    defaults = history_defaults or {}
    program = SqlProgram()
    program.add("_assigned", _assigned(plan, context))
    program.add("_repairs", _repairs(plan, context))
    program.add("_aside", _aside(plan, context))
    program.add("_live", _live(context))
    stages = plan.review.stages if plan.review is not None else ("",)
    if plan.review is not None:
        program.add("_staged", _staged(plan))
        for i in range(len(stages)):
            program.add(f"_live_{i}", _stage_events(plan, i))
    for rs in plan.rulesets.values():
        program.add(f"_s_{rs.id}", _ruleset_subjects(context, rs))
        for i in range(len(stages)):
            events = "_live" if plan.review is None else f"_live_{i}"
            query, columns = _ruleset(plan, context, rs, evidence, defaults.get(rs.id, {}), events)
            final = i == len(stages) - 1
            program.add(f"_r_{rs.id}" if final else f"_r_{rs.id}__{i}", query)
        program.slot_columns[rs.id] = columns
    program.add("_g0", _grades(plan))
    last = "_g0"
    k = 0
    for rs in plan.rulesets.values():
        for rollup in rs.rollups:
            k += 1
            outcomes = f"_o{k}"
            program.add(outcomes, _rollup_outcomes(context, rs, rollup, last))
            program.add(f"_g{k}", _apply_rollup(plan, last, outcomes))
            program.rollups.append((rs, rollup, outcomes))
            last = f"_g{k}"
    program.final_grades = last
    for rs in plan.rulesets.values():
        mquery, mcols = _measures(context, rs, last)
        if mquery is not None:
            program.add(f"_m_{rs.id}", mquery)
            program.measure_columns[rs.id] = mcols
    return program


# -- assignment -----------------------------------------------------------------------------
def _applies(context: RunContext, rs: CompiledRuleset) -> exp.Expr:
    test: exp.Expr = exp.EQ(this=col("type"), expression=exp.Literal.string(rs.type))
    if rs.categories is not None:
        cats = [exp.Literal.string(c) for c in sorted(rs.categories)]
        test = exp.And(this=test, expression=truth(exp.In(this=col("category"), expressions=cats)))
    if rs.condition is not None:
        cond = truth(to_sql(rs.condition, Scope(context, None).subject))
        test = exp.And(this=paren(test), expression=paren(cond))
    return truth(test)


def _assigned(plan: Plan, context: RunContext) -> exp.Query:
    """Each subject, the first ruleset that claims it, and a flag per ruleset that does."""
    rulesets = list(plan.rulesets.values())
    flags = [_applies(context, rs).as_(f"_claims_{i}") for i, rs in enumerate(rulesets)]
    inner = exp.select(exp.Star(), *flags).from_(exp.to_table("subjects"), copy=False)
    which = exp.Case(
        ifs=[
            exp.If(this=col(f"_claims_{i}"), true=exp.Literal.string(rs.id))
            for i, rs in enumerate(rulesets)
        ]
    )
    count: exp.Expr = exp.Literal.number(0)
    for i in range(len(rulesets)):
        flag = exp.Case(
            ifs=[exp.If(this=col(f"_claims_{i}"), true=exp.Literal.number(1))],
            default=exp.Literal.number(0),
        )
        count = exp.Add(this=count, expression=flag)
    return exp.select(exp.Star(), which.as_("_ruleset"), count.as_("_claims")).from_(
        inner.subquery("c", copy=False)
    )


# -- validity and repair --------------------------------------------------------------------
def _known(context: RunContext) -> exp.Expr:
    return exp.LTE(this=col("date", "e"), expression=literal(context.as_of))


def _repairs(plan: Plan, context: RunContext) -> exp.Query:
    """Repairs up to as_of, each with the event it names (same subject, up to as_of) if any;
    the last repair of an event (in date, id order) is the one that neutralised it."""
    e = exp.to_table("events").as_("e")
    t = exp.to_table("events").as_("t")
    query = (
        exp.select(
            col("id", "e").as_("repair_id"),
            col("date", "e").as_("repair_date"),
            col("subject_id", "e").as_("subject_id"),
            col("repairs", "e").as_("repairs"),
            col("id", "t").as_("target_id"),
            col("kind", "t").as_("target_kind"),
            col("_line", "e").as_("_line"),
        )
        .from_(e, copy=False)
        .join(
            t,
            copy=False,
            on=exp.and_(
                exp.EQ(this=col("id", "t"), expression=col("repairs", "e")),
                exp.EQ(this=col("subject_id", "t"), expression=col("subject_id", "e")),
                exp.LTE(this=col("date", "t"), expression=literal(context.as_of)),
            ),
            join_type="left",
        )
        .where(
            exp.and_(
                exp.EQ(this=col("kind", "e"), expression=exp.Literal.string("repair")),
                _known(context),
            ),
            copy=False,
        )
    )
    if plan.validity.repair_step is None:
        query = query.where(exp.false(), copy=False)
    return query


def _aside(plan: Plan, context: RunContext) -> exp.Query:
    """Events that no longer count: repaired (by the last valid repair naming them), or
    expired (counted until the end of their validity period, 《民法典》第201、202条)."""
    rules = plan.validity
    repairable: list[exp.Expr] = [exp.Literal.string(k) for k in sorted(rules.repairable)]
    repairable = repairable or [exp.Null()]
    valid = (
        exp.select(
            col("target_id"),
            col("repair_id"),
            col("repair_date"),
            exp.Window(
                this=exp.RowNumber(),
                partition_by=[col("target_id")],
                order=exp.Order(
                    expressions=[
                        exp.Ordered(this=col("repair_date"), desc=True),
                        exp.Ordered(this=col("repair_id"), desc=True),
                    ]
                ),
            ).as_("_last"),
        )
        .from_("_repairs", copy=False)
        .where(truth(exp.In(this=col("target_kind"), expressions=repairable)), copy=False)
    )
    last = exp.select("*").from_(valid.subquery("v", copy=False)).where("_last = 1", copy=False)
    until_cases = [
        exp.If(
            this=exp.EQ(this=col("kind", "e"), expression=exp.Literal.string(kind)),
            true=_shift(col("date", "e"), period),
        )
        for kind, (period, _step) in sorted(rules.periods.items())
    ]
    until: exp.Expr = exp.Case(ifs=until_cases) if until_cases else exp.Null()
    inner = (
        exp.select(
            col("id", "e"),
            col("subject_id", "e"),
            col("kind", "e"),
            col("date", "e"),
            col("repair_id", "r"),
            col("repair_date", "r"),
            exp.cast(until, "DATE").as_("_until"),
        )
        .from_(exp.to_table("events").as_("e"), copy=False)
        .join(
            last.subquery("r", copy=False),
            copy=False,
            on=exp.EQ(this=col("target_id", "r"), expression=col("id", "e")),
            join_type="left",
        )
        .where(_known(context), copy=False)
    )
    expired = exp.GT(this=literal(context.as_of), expression=col("_until"))
    return (
        exp.select(
            "*",
            exp.Case(
                ifs=[exp.If(this=exp.Not(this=col("repair_id").is_(exp.Null())), true=exp.Null())],
                default=col("_until"),
            ).as_("expired_on"),
        )
        .from_(inner.subquery("a", copy=False))
        .where(
            exp.or_(
                exp.Not(this=col("repair_id").is_(exp.Null())),
                truth(expired),
            ),
            copy=False,
        )
    )


def _shift(day: exp.Expr, period: str) -> exp.Expr:
    n, unit = parse_period(period)
    unit_name = {"y": "YEAR", "m": "MONTH", "d": "DAY"}[unit]
    interval = exp.Interval(this=exp.Literal.string(str(n)), unit=exp.var(unit_name))
    return exp.cast(exp.Add(this=day, expression=interval), "DATE")


def _live(context: RunContext) -> exp.Query:
    """Events up to as_of that still count."""
    aside = exp.select(col("id")).from_("_aside", copy=False)
    return (
        exp.select(exp.Star())
        .from_(exp.to_table("events").as_("e"), copy=False)
        .where(
            exp.and_(
                _known(context),
                exp.Not(this=paren(col("id", "e").isin(query=aside))),
            ),
            copy=False,
        )
    )


# -- review stages --------------------------------------------------------------------------
def stage_rank(plan: Plan) -> exp.Expr:
    assert plan.review is not None
    review = plan.review
    return exp.Case(
        this=col(review.attribute),
        ifs=[
            exp.If(this=exp.Literal.string(s), true=exp.Literal.number(i))
            for i, s in enumerate(review.stages)
        ],
    )


def _staged(plan: Plan) -> exp.Query:
    """Each assessed value (an event of the review kind) with its stage's rank, and whether it
    is the first value its stage gives for its key (a second one is an input error)."""
    assert plan.review is not None
    review = plan.review
    keys = [col("subject_id"), *(col(k) for k in review.key)]
    inner = (
        exp.select(exp.Star(), stage_rank(plan).as_("_rank"))
        .from_("_live", copy=False)
        .where(exp.EQ(this=col("kind"), expression=exp.Literal.string(review.kind)), copy=False)
    )
    first = exp.Window(
        this=exp.RowNumber(),
        partition_by=[*keys, col("_rank")],
        order=exp.Order(expressions=[exp.Ordered(this=col("date")), exp.Ordered(this=col("id"))]),
    )
    return exp.select(exp.Star(), first.as_("_nth")).from_(inner.subquery("k", copy=False))


def _stage_events(plan: Plan, stage: int) -> exp.Query:
    """The events as of a stage: each assessed value as the latest stage up to it gives it."""
    assert plan.review is not None
    review = plan.review
    keys = [col("subject_id"), *(col(k) for k in review.key)]
    latest = exp.Window(
        this=exp.RowNumber(),
        partition_by=keys,
        order=exp.Order(expressions=[exp.Ordered(this=col("_rank"), desc=True)]),
    )
    candidates = (
        exp.select(col("id"), latest.as_("_latest"))
        .from_("_staged", copy=False)
        .where(f"_rank <= {stage} AND _nth = 1", copy=False)
    )
    kept = (
        exp.select(col("id"))
        .from_(candidates.subquery("c", copy=False))
        .where("_latest = 1", copy=False)
    )
    return (
        exp.select(exp.Star())
        .from_(exp.to_table("_live").as_("e"), copy=False)
        .where(
            exp.or_(
                exp.NEQ(this=col("kind", "e"), expression=exp.Literal.string(review.kind)),
                col("id", "e").isin(query=kept),
            ),
            copy=False,
        )
    )


# -- one ruleset ----------------------------------------------------------------------------
def _ruleset(
    plan: Plan,
    context: RunContext,
    rs: CompiledRuleset,
    evidence: bool,
    history_defaults: Mapping[str, Any],
    events: str = "_live",
) -> tuple[exp.Query, list[str]]:
    """Facts as filtered aggregates over the subject's events, then compute facts, checks,
    score items, categories, total, vetoes and the decision, layer by layer."""
    query: exp.Query = _aggregate(plan, context, rs, evidence, history_defaults, events)
    columns: dict[int, str] = {}
    for f in rs.facts:
        columns[f.slot] = fact_col(f.name)
        if f.evidence_slot is not None:
            columns[f.evidence_slot] = evidence_col(f.name)
    scope = Scope(context, rs)
    for f in rs.facts:
        if f.op == "compute":
            assert f.expr is not None
            query = _layer(query, [(to_sql(f.expr, scope.subject), fact_col(f.name))])
    checks = [*rs.exclusions, *(c for r in rs.rules for c in r.criteria)]
    new = [(truth(to_sql(c.expr, scope.subject)), slot_col(c.slot)) for c in checks]
    columns.update({c.slot: slot_col(c.slot) for c in checks})
    if rs.score is not None:
        new += _items(rs.score, scope)
        query = _layer(query, new)
        query = _score_layers(rs.score, scope, query, columns)
    else:
        query = _layer(query, new)
    query = _decision(rs, query, scope)
    ordered = [columns[i] for i in sorted(columns)]
    return query, ordered


def _layer(query: exp.Query, columns: Sequence[tuple[exp.Expr, str]]) -> exp.Select:
    """``SELECT *, <new columns> FROM (query)``: each layer may read the columns before it."""
    if not columns:
        return exp.select(exp.Star()).from_(query.subquery("l", copy=False))
    return exp.select(exp.Star(), *(e.as_(name, quoted=True) for e, name in columns)).from_(
        query.subquery("l", copy=False)
    )


def _ruleset_subjects(context: RunContext, rs: CompiledRuleset) -> exp.Select:
    """The ruleset's subjects, each with its evaluation group (the first that matches)."""
    base = (
        exp.select(exp.Star())
        .from_("_assigned", copy=False)
        .where(exp.EQ(this=col("_ruleset"), expression=exp.Literal.string(rs.id)), copy=False)
    )
    if not rs.groups:
        return exp.select(exp.Star(), exp.Null().as_("_group")).from_(
            base.subquery("a", copy=False)
        )
    scope = Scope(context, None)
    group = exp.Case(
        ifs=[
            exp.If(this=truth(to_sql(g.when, scope.subject)), true=exp.Literal.string(g.id))
            for g in rs.groups
        ]
    )
    return exp.select(exp.Star(), group.as_("_group")).from_(base.subquery("a", copy=False))


def _window(plan: Plan, context: RunContext, name: str) -> exp.Expr:
    window = plan.windows[name]
    bounds = context.bounds[name]
    day = col("date", "e")
    high = exp.LTE(this=day, expression=literal(bounds.end))
    if window.type == "since":
        assert window.field is not None
        return exp.and_(exp.GTE(this=day, expression=col(window.field, "s")), high)
    if bounds.start is None:
        return high
    return exp.and_(exp.GTE(this=day, expression=literal(bounds.start)), high)


def _fact_filter(plan: Plan, context: RunContext, rs: CompiledRuleset, f: CompiledFact) -> exp.Expr:
    scope = Scope(context, rs, "s")
    parts: list[exp.Expr] = []
    if f.kinds is not None:
        kinds = [exp.Literal.string(k) for k in sorted(f.kinds)]
        parts.append(exp.In(this=col("kind", "e"), expressions=kinds))
    assert f.window is not None
    parts.append(_window(plan, context, f.window))
    if f.residual is not None:
        parts.append(truth(node_to_sql(f.residual, scope.event)))
    return exp.and_(*(paren(p) for p in parts))


def _aggregate(
    plan: Plan,
    context: RunContext,
    rs: CompiledRuleset,
    evidence: bool,
    history_defaults: Mapping[str, Any],
    events: str,
) -> exp.Select:
    """One row per subject: every event fact's value and evidence, and its history readings."""
    aggs: list[exp.Expr] = []
    for f in rs.facts:
        if f.op == "compute":
            continue
        where = exp.Where(this=_fact_filter(plan, context, rs, f))
        value: exp.Expr
        if f.op in ("count", "exists"):
            value = exp.Filter(this=exp.Count(this=exp.Star()), expression=where)
            if f.op == "exists":
                value = exp.GT(this=value, expression=exp.Literal.number(0))
        else:
            assert f.of is not None
            agg = {"sum": exp.Sum, "max": exp.Max, "min": exp.Min}[f.op]
            value = exp.Filter(this=agg(this=col(f.of, "e")), expression=where.copy())
            if f.op == "sum":
                value = exp.Coalesce(this=value, expressions=[exp.Literal.number(0)])
        aggs.append(value.as_(fact_col(f.name), quoted=True))
        if evidence:
            ids = exp.ArrayAgg(
                this=exp.Order(
                    this=col("id", "e"),
                    expressions=[
                        exp.Ordered(this=col("date", "e")),
                        exp.Ordered(this=col("id", "e")),
                    ],
                )
            )
            dates = exp.ArrayAgg(
                this=exp.Order(
                    this=col("date", "e"),
                    expressions=[
                        exp.Ordered(this=col("date", "e")),
                        exp.Ordered(this=col("id", "e")),
                    ],
                )
            )
            aggs.append(exp.Filter(this=ids, expression=where.copy()).as_(evidence_col(f.name)))
            aggs.append(
                exp.Filter(this=dates, expression=where.copy()).as_(evidence_col(f.name) + "_d")
            )
        else:
            aggs.append(exp.Null().as_(evidence_col(f.name)))
            aggs.append(exp.Null().as_(evidence_col(f.name) + "_d"))
    joined = (
        exp.select(col("id", "s").as_("_sid"), *aggs)
        .from_(exp.to_table(f"_s_{rs.id}").as_("s"), copy=False)
        .join(
            exp.to_table(events).as_("e"),
            copy=False,
            on=exp.EQ(this=col("subject_id", "e"), expression=col("id", "s")),
            join_type="left",
        )
        .group_by(col("id", "s"), copy=False)
    )
    if rs.groups:
        joined = joined.where(exp.Not(this=col("_group", "s").is_(exp.Null())), copy=False)
    select = exp.select(*(col(n, "s") for n in subject_columns(plan))).select(
        col("_group", "s"), col("_line", "s")
    )
    select = select.select(exp.Column(this=exp.Star(), table=exp.to_identifier("g")))
    query = select.from_(exp.to_table(f"_s_{rs.id}").as_("s"), copy=False).join(
        joined.subquery("g", copy=False),
        on=exp.EQ(this=col("_sid", "g"), expression=col("id", "s")),
    )
    if rs.history:
        cols = [
            exp.Coalesce(
                this=col(history_col(h.name), "h"),
                expressions=[literal(history_defaults.get(h.name))],
            ).as_(history_col(h.name), quoted=True)
            for h in rs.history
        ]
        query = query.select(*cols).join(
            exp.to_table(f"_history_{rs.id}").as_("h"),
            copy=False,
            on=exp.EQ(this=col("subject_id", "h"), expression=col("id", "s")),
            join_type="left",
        )
    return query


def subject_columns(plan: Plan) -> list[str]:
    """The subject columns a result carries: the contract's and the pack's declared ones."""
    return [*SUBJECT_COLUMNS, *(n for n in plan.subject_attributes if n not in SUBJECT_FIELDS)]


def _items(score: CompiledScore, scope: Scope) -> list[tuple[exp.Expr, str]]:
    out: list[tuple[exp.Expr, str]] = []
    for cat in score.categories:
        for item in cat.items:
            points: exp.Expr = (
                paren(to_sql(item.points_expr, scope.subject))
                if item.points_expr is not None
                else literal(item.points)
            )
            if item.per is not None:
                points = exp.Mul(this=paren(points), expression=col(fact_col(item.per)))
            if item.when is not None:
                points = exp.Case(
                    ifs=[exp.If(this=truth(to_sql(item.when, scope.subject)), true=points)],
                    default=exp.Literal.number(0),
                )
            if item.cap is not None:
                points = _cap(points, item.cap, scope)
            out.append((points, slot_col(item.slot)))
    return out


def _number(value: ScoreNumber, scope: Scope) -> exp.Expr:
    """A weight, cap or band edge: the number, or the parameter's value as a literal of the
    run (a ``CASE`` on the group where an evaluation group sets its own)."""
    return scope.param(value) if isinstance(value, str) else literal(value)


def _cap(value: exp.Expr, cap: ScoreNumber, scope: Scope) -> exp.Expr:
    """At most ``cap`` points either way (扣分/加分上限), as ``engine.runtime._cap``."""
    v = paren(value)
    high = _number(cap, scope)
    low = literal(-cap) if not isinstance(cap, str) else exp.Neg(this=exp.Paren(this=high.copy()))
    return exp.Case(
        ifs=[
            exp.If(this=exp.GT(this=v, expression=high), true=high.copy()),
            exp.If(this=exp.LT(this=v.copy(), expression=low), true=low.copy()),
        ],
        default=v.copy(),
    )


def _clamp(value: exp.Expr, low: float | None, high: float | None) -> exp.Expr:
    v = paren(value)
    ifs = []
    if low is not None:
        ifs.append(exp.If(this=exp.LT(this=v, expression=literal(low)), true=literal(low)))
    if high is not None:
        ifs.append(exp.If(this=exp.GT(this=v.copy(), expression=literal(high)), true=literal(high)))
    if not ifs:
        return value
    return exp.Case(ifs=ifs, default=v.copy())


def _sum(terms: Iterable[exp.Expr]) -> exp.Expr:
    items = list(terms)
    out = items[0]
    for t in items[1:]:
        out = exp.Add(this=out, expression=t)
    return out


def _score_layers(
    score: CompiledScore, scope: Scope, query: exp.Query, columns: dict[int, str]
) -> exp.Query:
    """Categories from their items, the total from the categories, then the vetoes."""
    cats: list[tuple[exp.Expr, str]] = []
    weighted: list[exp.Expr] = []
    for cat in score.categories:
        for item in cat.items:
            columns[item.slot] = slot_col(item.slot)
        total: exp.Expr = (
            _sum(col(slot_col(i.slot)) for i in cat.items) if cat.items else exp.Literal.number(0)
        )
        if cat.cap is not None:
            total = _cap(total, cat.cap, scope)
        value: exp.Expr = exp.Add(this=literal(cat.base), expression=paren(total))
        if cat.min is not None or cat.max is not None:
            value = _clamp(value, cat.min, cat.max)
        cats.append((value, slot_col(cat.slot)))
        columns[cat.slot] = slot_col(cat.slot)
        ref = col(slot_col(cat.slot))
        weighted.append(
            ref
            if cat.weight == 1.0
            else exp.Mul(
                this=paren(scope.param(cat.weight))
                if isinstance(cat.weight, str)
                else literal(cat.weight),
                expression=ref,
            )
        )
    query = _layer(query, cats)
    raw = _clamp(_sum([literal(score.base), *weighted]), score.floor, score.ceiling)
    rounded = exp.cast(
        exp.Round(
            this=exp.cast(raw, "DECIMAL(38, 12)"),
            decimals=exp.Literal.number(score.precision),
        ),
        "DOUBLE",
    )
    query = _layer(query, [(rounded, slot_col(score.total_slot))])
    columns[score.total_slot] = slot_col(score.total_slot)
    vetoes = [(truth(to_sql(v.expr, scope.subject)), slot_col(v.slot)) for v in score.vetoes]
    columns.update({v.slot: slot_col(v.slot) for v in score.vetoes})
    return _layer(query, vetoes)


def _first(conditions: Sequence[exp.Expr], none: exp.Expr) -> exp.Expr:
    """The index of the first condition that holds, else ``none``."""
    if not conditions:
        return none
    return exp.Case(
        ifs=[exp.If(this=c, true=exp.Literal.number(i)) for i, c in enumerate(conditions)],
        default=none,
    )


def _decision(rs: CompiledRuleset, query: exp.Query, scope: Scope) -> exp.Query:
    """The exclusion that holds, else the first rule (or band) that matches, the score and
    the veto; then the status and grade they give."""
    minus = exp.Neg(this=exp.Literal.number(1))
    x = _first([col(slot_col(c.slot)) for c in rs.exclusions], minus)
    query = _layer(query, [(x, "_x")])
    graded = exp.LT(this=col("_x"), expression=exp.Literal.number(0))
    if rs.score is None:
        rules = []
        for rule in rs.rules:
            checks = [col(slot_col(c.slot)) for c in rule.criteria]
            rules.append(exp.or_(*checks) if rule.mode == "any" else exp.and_(*checks))
        r: exp.Expr = exp.Case(ifs=[exp.If(this=graded, true=_first(rules, minus))])
        query = _layer(
            query,
            [
                (r, "_r"),
                (exp.cast(exp.Null(), "DOUBLE"), "_s"),
                (exp.cast(exp.Null(), "BIGINT"), "_v"),
            ],
        )
        labels = [
            exp.If(
                this=exp.EQ(this=col("_r"), expression=exp.Literal.number(i)),
                true=exp.Literal.string(rule.grade),
            )
            for i, rule in enumerate(rs.rules)
        ]
        grade = exp.Case(
            ifs=[exp.If(this=exp.Not(this=paren(graded.copy())), true=exp.Null()), *labels],
            default=exp.Literal.string(rs.default_grade),
        )
    else:
        score = rs.score
        total = col(slot_col(score.total_slot))
        bands = []
        for band in score.bands:
            parts: list[exp.Expr] = []
            op: type[exp.Binary]
            if band.low != float("-inf"):
                op = exp.GTE if band.low_inclusive else exp.GT
                parts.append(op(this=total.copy(), expression=_edge(band.low, scope)))
            if band.high != float("inf"):
                op = exp.LTE if band.high_inclusive else exp.LT
                parts.append(op(this=total.copy(), expression=_edge(band.high, scope)))
            bands.append(exp.and_(*parts) if parts else exp.true())
        vetoes = [col(slot_col(v.slot)) for v in score.vetoes]
        query = _layer(
            query,
            [
                (exp.Case(ifs=[exp.If(this=graded, true=_first(bands, exp.Null()))]), "_r"),
                (exp.Case(ifs=[exp.If(this=graded.copy(), true=total)]), "_s"),
                (exp.Case(ifs=[exp.If(this=graded.copy(), true=_first(vetoes, minus))]), "_v"),
            ],
        )
        by_veto = [
            exp.If(
                this=exp.EQ(this=col("_v"), expression=exp.Literal.number(i)),
                true=exp.Literal.string(g),
            )
            for i, g in enumerate(score.veto_grades)
        ]
        by_band = [
            exp.If(
                this=exp.EQ(this=col("_r"), expression=exp.Literal.number(i)),
                true=exp.Literal.string(b.grade),
            )
            for i, b in enumerate(score.bands)
        ]
        grade = exp.Case(
            ifs=[
                exp.If(this=exp.Not(this=paren(graded.copy())), true=exp.Null()),
                *by_veto,
                *by_band,
            ]
        )
    exclusion = _label(col("_x"), [c.id for c in rs.exclusions])
    status = exp.Case(
        ifs=[exp.If(this=graded.copy(), true=exp.Literal.string("graded"))],
        default=exp.Literal.string("excluded"),
    )
    return _layer(query, [(grade, "_grade"), (status, "_status"), (exclusion, "_exclusion")])


def _edge(value: ScoreNumber, scope: Scope) -> exp.Expr:
    """A band edge, compared as a DOUBLE with the score."""
    return paren(scope.param(value)) if isinstance(value, str) else literal(float(value))


def _label(index: exp.Expr, labels: Sequence[str]) -> exp.Expr:
    if not labels:
        return exp.cast(exp.Null(), "VARCHAR")
    return exp.Case(
        ifs=[
            exp.If(
                this=exp.EQ(this=index.copy(), expression=exp.Literal.number(i)),
                true=exp.Literal.string(v),
            )
            for i, v in enumerate(labels)
        ]
    )


# -- roll-ups and measures ------------------------------------------------------------------
def _rank(rs: CompiledRuleset, grade: exp.Expr) -> exp.Expr:
    return exp.Case(
        ifs=[
            exp.If(
                this=exp.EQ(this=grade.copy(), expression=exp.Literal.string(g)),
                true=exp.Literal.number(i),
            )
            for g, i in rs.rank.items()
        ]
    )


def _grades(plan: Plan) -> exp.Query:
    """Every result of the run: subject fields, ruleset, status, exclusion and grade."""
    parts = [
        exp.select(
            *(col(n) for n in subject_columns(plan)),
            exp.Literal.string(rs.id).as_("_ruleset"),
            col("_status"),
            col("_exclusion"),
            col("_grade"),
        ).from_(f"_r_{rs.id}", copy=False)
        for rs in plan.rulesets.values()
    ]
    out: exp.Query = parts[0]
    for p in parts[1:]:
        out = exp.union(out, p, distinct=False)
    return out


def _rollup_outcomes(
    context: RunContext, rs: CompiledRuleset, rollup: CompiledRollup, grades: str
) -> exp.Query:
    """Per head named by a member: the members counted (in id order), the band that holds,
    and the head's grade before and after (a cap never improves a grade)."""
    extra = {
        "grade": col("_grade"),
        "status": col("_status"),
        "exclusion": col("_exclusion"),
    }
    scope = Scope(context, None, extra=extra)
    members = truth(to_sql(rollup.members, Scope(context, None).subject))
    counts = truth(to_sql(rollup.counts, scope.subject))
    head = col(rollup.head)
    per_head = (
        exp.select(
            head.as_("head"),
            exp.Filter(
                this=exp.ArrayAgg(
                    this=exp.Order(this=col("id"), expressions=[exp.Ordered(this=col("id"))])
                ),
                expression=exp.Where(this=counts),
            ).as_("counted"),
            exp.Filter(
                this=exp.Count(this=exp.Star()), expression=exp.Where(this=counts.copy())
            ).as_("n"),
        )
        .from_(grades, copy=False)
        .where(exp.and_(exp.Not(this=head.copy().is_(exp.Null())), members), copy=False)
        .group_by(head.copy(), copy=False)
    )
    band = _first(
        [
            exp.and_(
                exp.GTE(this=col("n", "m"), expression=exp.Literal.number(c.interval.low)),
                *(
                    [exp.LTE(this=col("n", "m"), expression=exp.Literal.number(c.interval.high))]
                    if c.interval.high is not None
                    else []
                ),
            )
            for c in rollup.caps
        ],
        exp.Null(),
    )
    return (
        exp.select(
            col("head", "m"),
            exp.Coalesce(this=col("counted", "m"), expressions=[exp.Array()]).as_("counted"),
            band.as_("band"),
            col("_ruleset", "g").as_("head_ruleset"),
            col("_status", "g").as_("head_status"),
            col("_grade", "g").as_("before"),
        )
        .from_(per_head.subquery("m", copy=False))
        .join(
            exp.to_table(grades).as_("g"),
            copy=False,
            on=exp.EQ(this=col("id", "g"), expression=col("head", "m")),
            join_type="left",
        )
    ).select(*_after(rs, rollup))


def _after(rs: CompiledRuleset, rollup: CompiledRollup) -> list[exp.Expr]:
    """The head's grade after the cap: the worse of its grade and the band's cap."""
    caps = [
        exp.If(
            this=exp.EQ(this=col("band"), expression=exp.Literal.number(i)),
            true=exp.Literal.string(c.cap),
        )
        for i, c in enumerate(rollup.caps)
    ]
    cap = exp.Case(ifs=caps) if caps else exp.cast(exp.Null(), "VARCHAR")
    applies = exp.and_(
        exp.EQ(this=col("_ruleset", "g"), expression=exp.Literal.string(rs.id)),
        exp.EQ(this=col("_status", "g"), expression=exp.Literal.string("graded")),
        exp.Not(this=col("band").is_(exp.Null())),
    )
    worse = exp.GT(this=_rank(rs, cap), expression=_rank(rs, col("_grade", "g")))
    after = exp.Case(
        ifs=[exp.If(this=exp.and_(applies, worse), true=cap.copy())],
        default=col("_grade", "g"),
    )
    return [after.as_("after"), cap.copy().as_("cap")]


def _apply_rollup(plan: Plan, grades: str, outcomes: str) -> exp.Query:
    applied = (
        exp.select(col("head"), col("after"))
        .from_(outcomes, copy=False)
        .where("head_ruleset IS NOT NULL", copy=False)
    )
    kept = [*subject_columns(plan), "_ruleset", "_status", "_exclusion"]
    return (
        exp.select(
            *(col(n, "g") for n in kept),
            exp.Coalesce(this=col("after", "o"), expressions=[col("_grade", "g")]).as_("_grade"),
        )
        .from_(exp.to_table(grades).as_("g"), copy=False)
        .join(
            applied.subquery("o", copy=False),
            copy=False,
            on=exp.EQ(this=col("head", "o"), expression=col("id", "g")),
            join_type="left",
        )
    )


def _measures(
    context: RunContext, rs: CompiledRuleset, grades: str
) -> tuple[exp.Query | None, list[tuple[int, str]]]:
    """Each conditional measure's condition on the subject's final grade."""
    conditional = []
    seen: set[int] = set()
    for ms in rs.measures.values():
        for m in ms:
            if m.when is not None and id(m.step) not in seen:
                seen.add(id(m.step))
                conditional.append(m)
    if not conditional:
        return None, []
    extra = {"grade": col("_grade", "g"), "rank": _rank(rs, col("_grade", "g"))}
    scope = Scope(context, rs, "r", extra=extra)
    columns = []
    select = exp.select(col("id", "g"))
    for i, m in enumerate(conditional):
        assert m.when is not None
        name = measure_col(i)
        select = select.select(truth(to_sql(m.when, scope.subject)).as_(name))
        columns.append((i, name))
    query = (
        select.from_(exp.to_table(grades).as_("g"), copy=False)
        .join(
            exp.to_table(f"_r_{rs.id}").as_("r"),
            copy=False,
            on=exp.EQ(this=col("id", "r"), expression=col("id", "g")),
        )
        .where(exp.EQ(this=col("_ruleset", "g"), expression=exp.Literal.string(rs.id)), copy=False)
    )
    return query, columns
