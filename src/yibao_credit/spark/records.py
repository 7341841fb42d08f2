"""Records given as Spark DataFrames (or tables) in the data contract's columns, checked by
Spark queries.

What the CLI checks across a whole file is checked here across the whole DataFrame, as SQL on
the cluster: a column of the wrong type, a missing id or kind, a duplicate id, an event naming
no subject, an unknown kind, a value a declared attribute cannot hold (type, choices,
required), a ``chain_id`` naming no subject, the subject itself or a chain store. The first
problems (``MAX_PROBLEMS``), ordered by record id, are raised together as one ``RecordError``;
a DataFrame has no lines, so each message names the record's id and the location names the
table and the field. Declared defaults are filled in as the readers fill them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import types as T

from yibao_credit.compile.plan import Plan
from yibao_credit.errors import Location, Problem, RecordError
from yibao_credit.records.contract import MAX_PROBLEMS, AttributeSpec
from yibao_credit.spark.database import SparkDatabase, SparkTables
from yibao_credit.sql.tables import record_schema

SPARK_TYPES = {
    "str": "STRING",
    "int": "BIGINT",
    "number": "DOUBLE",
    "bool": "BOOLEAN",
    "date": "DATE",
}

_INTEGRAL = (T.ByteType, T.ShortType, T.IntegerType, T.LongType)
_ACCEPTS: dict[str, tuple[type, ...]] = {
    "str": (T.StringType,),
    "int": _INTEGRAL,
    "number": (*_INTEGRAL, T.FloatType, T.DoubleType, T.DecimalType),
    "bool": (T.BooleanType,),
    "date": (T.DateType, T.StringType),
}
"""The Spark column types each attribute type takes: no silent coercion (a number where text
belongs is refused, as the JSON reader refuses it); a date may come as ``YYYY-MM-DD`` text."""

_WORDS = {
    "str": "text",
    "int": "a whole number",
    "number": "a number",
    "bool": "true/false",
    "date": "a date (DATE, or YYYY-MM-DD text)",
}

Frame = DataFrame | str


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _s(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return _s(str(value))


class _Input:
    """One DataFrame being checked: its label for messages and its raw view."""

    def __init__(self, db: SparkDatabase, frame: Frame, what: str) -> None:
        self.what = what
        if isinstance(frame, str):
            self.label = frame
            frame = db.spark.table(frame)
        else:
            self.label = f"{what}s DataFrame"
        self.frame = frame
        self.raw = db.name(f"raw_{what}")
        frame.createOrReplaceTempView(self.raw)
        db.made.append(f"raw_{what}")  # dropped with the run's tables, even after an error
        self.types = {f.name: f.dataType for f in frame.schema.fields}
        self.columns = {n.lower(): n for n in self.types}
        """Each column by its name in lower case: names are matched without regard to case."""


def _column_problems(src: _Input, columns: Sequence[tuple[str, str]]) -> list[Problem]:
    problems = []
    for name, kind in columns:
        found = src.columns.get(name.lower())
        if found is None:
            continue
        dtype = src.types[found]
        if not isinstance(dtype, _ACCEPTS[kind]):
            problems.append(
                Problem(
                    "record.frame.column-type",
                    f"column {found!r} is {dtype.simpleString()}; the contract needs "
                    f"{_WORDS[kind]}",
                    Location(src.label, None, None, found),
                )
            )
    return problems


def _typed(src: _Input, name: str, kind: str) -> tuple[str, str | None]:
    """The column's value as its contract type, and a condition that holds where a value is
    given but is not one of that type (None: cannot happen)."""
    found = src.columns.get(name.lower())
    if found is None:
        return f"CAST(NULL AS {SPARK_TYPES[kind]})", None
    col = _q(found)
    dtype = src.types[found]
    if kind == "date" and isinstance(dtype, T.StringType):
        ok = f"{col} RLIKE '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}$'"
        value = f"CASE WHEN {ok} THEN TRY_CAST({col} AS DATE) END"
        return value, f"{col} IS NOT NULL AND ({value}) IS NULL"
    if kind == "number":
        value = f"CAST({col} AS DOUBLE)"
        return value, f"{col} IS NOT NULL AND (isnan({value}) OR abs({value}) = double('inf'))"
    return f"CAST({col} AS {SPARK_TYPES[kind]})", None


def _checked(
    src: _Input,
    columns: Sequence[tuple[str, str]],
    specs: Mapping[str, Sequence[tuple[str | None, AttributeSpec]]],
) -> tuple[str, list[str]]:
    """The typed view's SELECT list and the problem queries over the raw view: each gives
    (id, code, field, message)."""
    select = []
    checks: list[str] = []
    rid = _typed(src, "id", "str")[0]
    for name, kind in columns:
        value, bad = _typed(src, name, kind)
        if bad is not None:
            checks.append(
                f"SELECT {rid}, 'record.{src.what}.attribute-type', {_s(name)}, "
                f"concat({_s(f'{name!r} must be {_WORDS[kind]}, got ')}, "
                f"CAST({_q(name)} AS STRING)) FROM {src.raw} WHERE {bad}"
            )
        for owner, spec in specs.get(name, ()):
            scope = f"kind = {_s(owner)}" if owner is not None else "TRUE"
            who = f"a {owner!r} event" if owner is not None else "every subject"
            if spec.required:
                checks.append(
                    f"SELECT {rid}, 'record.{src.what}.missing-attribute', {_s(name)}, "
                    f"{_s(f'{who} needs {name!r}')} FROM {src.raw} "
                    f"WHERE {scope} AND ({value}) IS NULL"
                )
            if spec.choices is not None:
                listed = ", ".join(_s(c) for c in spec.choices)
                told = _s(f"{name!r} must be one of {', '.join(spec.choices)}; got ")
                checks.append(
                    f"SELECT {rid}, 'record.{src.what}.attribute-choice', {_s(name)}, "
                    f"concat({told}, "
                    f"CAST({value} AS STRING)) FROM {src.raw} "
                    f"WHERE {scope} AND ({value}) IS NOT NULL AND ({value}) NOT IN ({listed})"
                )
            if spec.default is not None:
                value = (
                    f"CASE WHEN {scope} AND ({value}) IS NULL "
                    f"THEN CAST({_value(spec.default)} AS {SPARK_TYPES[kind]}) ELSE {value} END"
                )
        select.append(f"{value} AS {_q(name)}")
    select.append("CAST(NULL AS BIGINT) AS _line")
    return ", ".join(select), checks


def _raise(db: SparkDatabase, src: dict[str, _Input], checks: Sequence[tuple[str, str]]) -> None:
    """Run the problem queries; raise the first problems, by record, as one error."""
    if not checks:
        return
    union = " UNION ALL ".join(f"SELECT {_s(what)} AS what, * FROM ({q})" for what, q in checks)
    rows = db.spark.sql(
        f"SELECT * FROM ({union}) AS p ORDER BY 1, 2, 3, 4 LIMIT {MAX_PROBLEMS}"
    ).collect()
    if rows:
        raise RecordError(
            [
                Problem(
                    code,
                    f"{what} {rid!r}: {message}" if rid is not None else message,
                    Location(src[what].label, None, None, field),
                )
                for what, rid, code, field, message in rows
            ]
        )


def load_frames(
    db: SparkDatabase, plan: Plan, subjects: Frame, events: Frame | None
) -> tuple[SparkTables, list[Problem]]:
    """The DataFrames, checked, as the run's ``subjects`` and ``events``; and a warning for
    columns no rule reads (kept out of the run, said once)."""
    subject_cols, event_cols = record_schema(plan)
    s_in = _Input(db, subjects, "subject")
    given_events = events is not None
    if events is None:
        empty = ", ".join(f"CAST(NULL AS {SPARK_TYPES[k]}) AS {_q(n)}" for n, k in event_cols)
        events = db.spark.sql(f"SELECT {empty} WHERE FALSE")
    e_in = _Input(db, events, "event")
    inputs = {"subject": s_in, "event": e_in}
    problems = _column_problems(s_in, subject_cols) + _column_problems(e_in, event_cols)
    for src, needed in ((s_in, ("id", "type")), (e_in, ("id", "subject_id", "kind", "date"))):
        problems += [
            Problem(
                f"record.{src.what}.missing-field",
                f"the {src.what}s have no column {name!r}, which the contract requires",
                Location(src.label, None, None, name),
            )
            for name in needed
            if name not in src.columns
        ]
    if problems:
        raise RecordError(problems)
    s_specs = {n: [(None, spec)] for n, spec in plan.subject_attributes.items()}
    e_specs: dict[str, list[tuple[str | None, AttributeSpec]]] = {}
    for kind in plan.event_kinds.values():
        for name, spec in kind.attributes.items():
            e_specs.setdefault(name, []).append((kind.name, spec))
    s_select, s_checks = _checked(s_in, subject_cols, s_specs)
    e_select, e_checks = _checked(e_in, event_cols, e_specs)
    s_raw, e_raw = s_in.raw, e_in.raw
    s_checks += [
        f"SELECT id, 'record.subject.missing-field', 'id', 'a subject has no id' "
        f"FROM {s_raw} WHERE id IS NULL OR id = ''",
        f"SELECT id, 'record.subject.missing-field', 'type', 'no type' "
        f"FROM {s_raw} WHERE type IS NULL",
        f"SELECT id, 'record.subject.duplicate-id', 'id', concat('duplicate id (', "
        f"CAST(count(*) AS STRING), ' rows)') FROM {s_raw} WHERE id IS NOT NULL "
        f"GROUP BY id HAVING count(*) > 1",
    ]
    if "beds" in s_in.columns:
        s_checks.append(
            f"SELECT id, 'record.subject.attribute-type', 'beds', "
            f"concat('beds must be a whole number >= 0, got ', CAST(beds AS STRING)) "
            f"FROM {s_raw} WHERE beds < 0"
        )
    if "chain_id" in s_in.columns:
        s_checks += [
            f"SELECT s.id, 'record.subject.unknown-chain', 'chain_id', concat('chain_id ', "
            f"{_s(chr(39))}, s.chain_id, {_s(chr(39))}, ' names no subject') FROM {s_raw} s "
            f"LEFT ANTI JOIN {s_raw} h ON h.id = s.chain_id WHERE s.chain_id IS NOT NULL",
            f"SELECT id, 'record.subject.self-chain', 'chain_id', "
            f"'a subject cannot be its own chain headquarters' FROM {s_raw} WHERE chain_id = id",
            f"SELECT s.id, 'record.subject.chain-head', 'chain_id', concat('chain_id ', "
            f"{_s(chr(39))}, s.chain_id, {_s(chr(39))}, ' names a chain store (its own chain_id "
            f"is ', {_s(chr(39))}, h.chain_id, {_s(chr(39))}, '), not a headquarters: chains do "
            f"not nest') FROM {s_raw} s JOIN {s_raw} h ON h.id = s.chain_id "
            f"WHERE h.chain_id IS NOT NULL AND s.chain_id <> s.id",
        ]
    known = ", ".join(_s(k) for k in sorted(plan.event_kinds))
    e_checks += [
        f"SELECT id, 'record.event.missing-field', 'id', 'an event has no id' "
        f"FROM {e_raw} WHERE id IS NULL OR id = ''",
        *(
            f"SELECT id, 'record.event.missing-field', {_s(f)}, {_s(f'no {f}')} "
            f"FROM {e_raw} WHERE {_q(f)} IS NULL"
            for f in ("subject_id", "kind", "date")
        ),
        f"SELECT id, 'record.event.duplicate-id', 'id', concat('duplicate id (', "
        f"CAST(count(*) AS STRING), ' rows)') FROM {e_raw} WHERE id IS NOT NULL "
        f"GROUP BY id HAVING count(*) > 1",
        f"SELECT e.id, 'record.event.unknown-subject', 'subject_id', concat('subject_id ', "
        f"{_s(chr(39))}, e.subject_id, {_s(chr(39))}, ' names no subject in the subjects') "
        f"FROM {e_raw} e LEFT ANTI JOIN {s_raw} s ON s.id = e.subject_id "
        f"WHERE e.subject_id IS NOT NULL",
        f"SELECT id, 'record.event.unknown-kind', 'kind', concat('unknown event kind ', "
        f"{_s(chr(39))}, kind, {_s(chr(39))}, '; this pack knows: ', "
        f"{_s(', '.join(sorted(plan.event_kinds)))}) FROM {e_raw} "
        f"WHERE kind IS NOT NULL AND kind NOT IN ({known})",
    ]
    _raise(db, inputs, [("subject", q) for q in s_checks] + [("event", q) for q in e_checks])
    db.register("subjects", db.spark.sql(f"SELECT {s_select} FROM {s_raw}"))
    db.register("events", db.spark.sql(f"SELECT {e_select} FROM {e_raw}"))
    warnings = []
    for src, cols in ((s_in, subject_cols), (e_in, event_cols)):
        read = {n.lower() for n, _k in cols}
        unread = sorted(n for n in src.types if n.lower() not in read and n != "_line")
        if unread:
            warnings.append(
                Problem(
                    "eval.unread-column",
                    "columns no rule of this pack reads (left out of the run): "
                    + ", ".join(unread),
                    Location(src.label),
                )
            )
    for src in (s_in, e_in):
        db.drop(f"raw_{src.what}")
    counts = db.rows("SELECT (SELECT count(*) FROM subjects), (SELECT count(*) FROM events)")
    files = {"subject": s_in.label}
    if given_events:
        files["event"] = e_in.label
    return SparkTables(db, files, int(counts[0][0]), int(counts[0][1])), warnings
