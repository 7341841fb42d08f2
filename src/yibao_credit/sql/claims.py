"""Claims records as DuckDB tables ``insured``, ``claims``, ``claim_lines`` and ``stock``, read
and checked by DuckDB itself: the audit of a million claims must not read them row by row.

Each file is read by DuckDB's own readers (``read_json`` / ``read_csv`` with every column
read as text, as ``sql.tables`` stages subjects and events: the same guards against anything
Python's readers would read differently, which scan the file a chunk at a time, a JSON Lines
file's in a thread while DuckDB reads it), and every check of the contract
(``records.claims``) runs as SQL over the whole file: one pass from the file builds the typed
table and a flag per row, with no table of text cells kept; only when a row is flagged is the
file staged as text and a second query lists the problems, located by file, line and field,
with the messages of the Python reference reader. When DuckDB cannot vouch for a file (a
blank line, a JSON key given twice, a CSV cell over several lines, text in another encoding
that does not decode…) that file alone is read by the Python reference reader
(``records.claims.read_claim_file``), which names the problem or hands over checked records;
``ClaimTables.python_read`` says which files took that way.

Problems are reported in two rounds: first those of each record on its own (types, money,
dates, values, signs, inpatient stays, days_supply, amount = quantity × unit_price), in file
order (insured, claims, claim lines, stock), then — when every record is sound — those between
records (duplicate ids, a line naming no claim, a claim naming no insured person or no known
institution). At most ``MAX_PROBLEMS`` are raised in one ``RecordError``.

Every table has the contract's fields with their column types (money ``DECIMAL(18,2)``,
quantities ``DECIMAL(18,4)``, dates ``DATE``), ``attributes`` (a JSON object of the fields the
contract does not name, NULL when there are none: nothing is dropped) and ``_line`` (the
physical line of the record in its file).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from yibao_credit.errors import Location, Problem, RecordError
from yibao_credit.records.claims import (
    ATTRIBUTES,
    CLAIM_KINDS,
    CLAIMS,
    DAYS_TEXT,
    EMPTY_TEXT,
    INSURED,
    JSON_FLOAT,
    LINES,
    MISSING,
    MISSING_INPATIENT,
    MONEY_FLOAT,
    MONEY_INTEGER,
    MONEY_TEXT,
    MONEY_TOO_FINE,
    QUANTITY_TEXT,
    STOCK,
    ClaimKind,
    FieldSpec,
    amount_message,
    clean_value,
    days_supply_message,
    decimals_message,
    enum_message,
    read_claim_file,
    sign_message,
    stay_message,
    type_message,
)
from yibao_credit.records.contract import MAX_PROBLEMS
from yibao_credit.records.readers import text_encoding
from yibao_credit.sql.tables import (
    _Background,
    _count,
    _drop,
    _duckdb_path,
    _Fallback,
    _ident,
    _insertion_order,
    _literal,
    _open_csv,
    _open_jsonl,
    _Reader,
    _scan_jsonl,
    _settle,
    _Source,
    _stage_csv,
    _stage_jsonl,
    _transcoded,
)

__all__ = ["ClaimTables", "load_claims"]

_HOLE = "\x00"
"""Where a value goes in a message template (``type_message(spec, _HOLE)``)."""


@dataclass
class ClaimTables:
    """The claims records as tables in ``con``, with what was read and how."""

    con: duckdb.DuckDBPyConnection
    files: dict[str, str]
    """``"insured"`` / ``"claim"`` / ``"line"`` / ``"stock"`` → the file as given."""
    counts: dict[str, int]
    """table name → rows."""
    python_read: tuple[str, ...] = ()
    """The files (by ``what``) DuckDB could not vouch for, read by the Python reader."""
    warnings: list[Problem] = field(default_factory=list)

    @property
    def fast(self) -> bool:
        """Whether every file was read and checked by DuckDB alone."""
        return not self.python_read

    def where(self, what: str, record_id: str, path: str | None = None) -> Location:
        """Where a record came from, for messages."""
        kind = {k.what: k for k in CLAIM_KINDS}[what]
        row = self.con.execute(
            f"SELECT _line FROM {kind.table} WHERE id = ? LIMIT 1", [record_id]
        ).fetchone()
        return Location(self.files.get(what), None if row is None else row[0], None, path)


# -- SQL pieces -----------------------------------------------------------------------------


def _message(template: str, *values: str) -> str:
    """A message template from ``records.claims`` as SQL, each hole filled by an expression."""
    parts = template.split(_HOLE)
    out = [_literal(parts[0])]
    for value, part in zip(values, parts[1:], strict=False):  # a message may show no value
        out += [f"coalesce({value}, '')", _literal(part)]
    return "(" + " || ".join(out) + ")"


def _match(cell: str, pattern: str) -> str:
    return f"regexp_full_match({cell}, {_literal(pattern)})"


@dataclass(frozen=True)
class _Check:
    """One check: where the problem shows, its code, the condition (SQL) and message (SQL)."""

    order: int
    field: str | None
    code: str
    condition: str
    message: str


_NO_ATTRIBUTES = "CAST(NULL AS VARCHAR)"


@dataclass(frozen=True)
class _Staged:
    """A file staged as text cells, with how to read each record's other fields.

    ``reader`` is set when ``src`` reads the file itself rather than a staged table: ``_fill``
    then builds the typed table in that one pass (no table of text cells is kept), and stages
    the file as a table only when a row is flagged, to list the problems."""

    src: _Source
    attributes: str = _NO_ATTRIBUTES
    join: str = ""
    reader: _Reader | None = None
    path: Path | None = None
    columns: tuple[str, ...] = ()


class _Fields:
    """The SQL of one kind's fields over a staged source: values, shapes and checks.

    Each field's shape (``ok``) and typed value are worked out once per row, as columns
    ``_yc_ok<i>`` and ``_yc_v<i>`` of the layered source (``layered``), which every check
    and message then reads: written out in each check instead, the regular expressions and
    casts of a field ran once per check that names it."""

    def __init__(self, kind: ClaimKind, src: _Source) -> None:
        self.kind = kind
        self.src = src
        self.specs = {f.name: f for f in kind.fields}
        self.index = {f.name: i for i, f in enumerate(kind.fields)}

    def layered(self, staged: _Staged) -> str:
        """The staged rows with their cells, ``_line`` (but from a file read directly),
        ``_yc_wide``, ``_yc_attributes`` (the other fields as JSON) and each date cell cast
        (``_yc_d<i>``), then each field's shape, then each typed value."""
        cells = "".join(f"{_ident(n)}, " for n in self.kind.names if n in self.src.cells)
        for i, spec in enumerate(self.kind.fields):
            if spec.type == "date":
                c = self.src.cell(spec.name)
                # the 10 characters inside the quotes (when they are all there is: checked)
                day = f"substr({c}, 2, 10)" if self.src.json else c
                cells += f"TRY_CAST({day} AS DATE) AS _yc_d{i}, "
        if staged.reader is None:
            cells += "_line, "
        base = (
            f"SELECT {cells}_yc_wide, CAST({staged.attributes} AS JSON) AS _yc_attributes "
            f"FROM {self.src.query} AS _yc_s{staged.join}"
        )
        shapes = ", ".join(
            f"coalesce({self._ok(spec)}, FALSE) AS _yc_ok{i}"
            for i, spec in enumerate(self.kind.fields)
        )
        values = ", ".join(
            f"{self._value(spec.name)} AS _yc_v{i}" for i, spec in enumerate(self.kind.fields)
        )
        return f"(SELECT *, {values} FROM (SELECT *, {shapes} FROM ({base})))"

    def got(self, name: str) -> str:
        """The value as the message shows it: as JSON writes it."""
        c = self.src.cell(name)
        return c if self.src.json else f"CAST(to_json({c}) AS VARCHAR)"

    def ok(self, spec: FieldSpec) -> str:
        """Whether a present cell holds a value of the field's type (never NULL)."""
        return f"_yc_ok{self.index[spec.name]}"

    def sound(self) -> str:
        """Whether no field check holds (never NULL): each field is of its type, or absent
        and not required; what ``_any(field_checks())`` says, from the shapes alone."""
        return " AND ".join(
            f"_yc_ok{i}" if spec.required else f"(_yc_ok{i} OR {self.src.cell(spec.name)} IS NULL)"
            for i, spec in enumerate(self.kind.fields)
        )

    def string(self, name: str) -> str:
        """The cell as text (a JSON string's value: without escapes, the text inside the
        quotes, which then holds no quote)."""
        c = self.src.cell(name)
        if not self.src.json:
            return c
        return (
            f"(CASE WHEN contains({c}, '\\') THEN json_extract_string({c}, '$') "
            f"ELSE substr({c}, 2, length({c}) - 2) END)"
        )

    def _ok(self, spec: FieldSpec) -> str:
        c, src = self.src.cell(spec.name), self.src
        if spec.type == "enum" and src.json:  # without escapes, the JSON text is the choice's
            choices = ", ".join(_literal(x) for x in spec.choices)
            quoted = ", ".join(_literal(json.dumps(x, ensure_ascii=False)) for x in spec.choices)
            escaped = (
                f"left({c}, 1) = '\"' AND {c} <> '\"\"' "
                f"AND json_extract_string({c}, '$') IN ({choices})"
            )
            return f"(CASE WHEN contains({c}, '\\') THEN {escaped} ELSE {c} IN ({quoted}) END)"
        if spec.type in ("text", "enum"):
            good = f"{c} <> '\"\"'" if src.json else "TRUE"
            if src.json:
                good = f"left({c}, 1) = '\"' AND {good}"
            if spec.type == "enum":
                choices = ", ".join(_literal(x) for x in spec.choices)
                good = f"{good} AND {self.string(spec.name)} IN ({choices})"
            return f"({good})"
        if spec.type == "date":
            # a calendar day written back as given: YYYY-MM-DD, no year 0 (1 BC to DuckDB)
            day = f"_yc_d{self.index[spec.name]}"
            if src.json:
                return (
                    f"(strlen({c}) = 12 AND strftime({day}, '\"%Y-%m-%d\"') = {c} "
                    f"AND NOT starts_with({c}, '\"0000'))"
                )
            return (
                f"(strlen({c}) = 10 AND strftime({day}, '%Y-%m-%d') = {c} "
                f"AND NOT starts_with({c}, '0000'))"
            )
        if spec.type == "money":
            if src.json:  # one expression for both forms: a decimal string, or an integer
                return _match(c, f'(?:"{MONEY_TEXT}"|{MONEY_INTEGER})')
            return _match(c, MONEY_TEXT)
        if spec.type == "quantity":
            if src.json:
                return _match(c, f'(?:{QUANTITY_TEXT}|"{QUANTITY_TEXT}")')
            return _match(c, QUANTITY_TEXT)
        return _match(c, DAYS_TEXT)

    def value(self, name: str) -> str:
        """The typed value, NULL when absent or not of its type."""
        return f"_yc_v{self.index[name]}"

    def _value(self, name: str) -> str:
        spec = self.specs[name]
        c, src = self.src.cell(name), self.src
        if spec.type in ("text", "enum"):
            raw = self.string(name)
        elif spec.type == "date":
            raw = f"_yc_d{self.index[name]}"
        elif spec.type in ("money", "quantity"):
            # of its shape, a decimal string or a JSON number: the text inside the quotes
            text = c
            if src.json:
                inside = f"substr({c}, 2, length({c}) - 2)"
                text = f"CASE WHEN left({c}, 1) = '\"' THEN {inside} ELSE {c} END"
            raw = f"TRY_CAST({text} AS {spec.sql_type})"
        else:
            raw = f"TRY_CAST({c} AS INTEGER)"
        return f"CAST(CASE WHEN {self.ok(spec)} THEN {raw} END AS {spec.sql_type})"

    def shown(self, name: str) -> str:
        """A typed value as text, as ``records.claims`` writes it in messages."""
        spec = self.specs[name]
        text = f"CAST({self.value(name)} AS VARCHAR)"
        if spec.type == "quantity":
            return f"regexp_replace({text}, '\\.?0+$', '')"
        return text

    def field_checks(self) -> list[_Check]:
        """Each field's presence and type, one problem per field at most."""
        out: list[_Check] = []
        kind, src = self.kind, self.src
        for i, spec in enumerate(kind.fields):
            c = src.cell(spec.name)
            present = f"{c} IS NOT NULL"
            got = self.got(spec.name)
            base = i * 10
            if spec.required:
                out.append(
                    _Check(base, spec.name, kind.code("missing"), f"{c} IS NULL", _literal(MISSING))
                )
            bad = f"{present} AND NOT {self.ok(spec)}"
            if spec.type in ("text", "enum"):
                not_text = f"left({c}, 1) <> '\"'" if src.json else "FALSE"
                empty = f"{c} = '\"\"'" if src.json else "FALSE"
                out.append(
                    _Check(
                        base + 1,
                        spec.name,
                        kind.code("type"),
                        f"{present} AND {not_text}",
                        _message(type_message(spec, _HOLE), got),
                    )
                )
                out.append(
                    _Check(
                        base + 2,
                        spec.name,
                        kind.code("type"),
                        f"{present} AND {empty}",
                        _literal(EMPTY_TEXT),
                    )
                )
                if spec.type == "enum":
                    out.append(
                        _Check(
                            base + 3,
                            spec.name,
                            kind.code("enum"),
                            f"{bad} AND NOT ({not_text}) AND NOT ({empty})",
                            _message(enum_message(spec, _HOLE), got),
                        )
                    )
            elif spec.type == "money":
                fine = (
                    _match(c, chr(34) + MONEY_TOO_FINE + chr(34))
                    if src.json
                    else _match(c, MONEY_TOO_FINE)
                )
                floating = (
                    f"({_match(c, JSON_FLOAT)} AND regexp_matches({c}, '[.eE]'))"
                    if src.json
                    else "FALSE"
                )
                out.append(
                    _Check(
                        base + 1,
                        spec.name,
                        kind.code("money-float"),
                        f"{bad} AND {floating}",
                        _literal(MONEY_FLOAT),
                    )
                )
                out.append(
                    _Check(
                        base + 2,
                        spec.name,
                        kind.code("money-decimals"),
                        f"{bad} AND {fine}",
                        _message(decimals_message(_HOLE), got),
                    )
                )
                out.append(
                    _Check(
                        base + 3,
                        spec.name,
                        kind.code("type"),
                        f"{bad} AND NOT {floating} AND NOT {fine}",
                        _message(type_message(spec, _HOLE), got),
                    )
                )
            else:
                code = kind.code("date" if spec.type == "date" else "type")
                out.append(
                    _Check(base + 1, spec.name, code, bad, _message(type_message(spec, _HOLE), got))
                )
        return out

    def row_checks(self) -> list[_Check]:
        """The checks of a record whose fields are sound, in the Python reader's order."""
        kind, src = self.kind, self.src
        out: list[_Check] = []
        order = 1000
        for spec in kind.fields:
            if spec.sign == "any":
                continue
            v = self.value(spec.name)
            bad = {"nonneg": f"{v} < 0", "nonzero": f"{v} = 0", "positive": f"{v} <= 0"}
            out.append(
                _Check(
                    order,
                    spec.name,
                    kind.code("range"),
                    bad[spec.sign],
                    _message(sign_message(spec, _HOLE), self.shown(spec.name)),
                )
            )
            order += 1
        if kind is CLAIMS:
            for name in ("admitted_on", "discharged_on"):
                out.append(
                    _Check(
                        order,
                        name,
                        kind.code("missing"),
                        f"{self.value('setting')} = 'inpatient' AND {src.cell(name)} IS NULL",
                        _literal(MISSING_INPATIENT),
                    )
                )
                order += 1
            out.append(
                _Check(
                    order,
                    "discharged_on",
                    kind.code("stay"),
                    f"{self.value('discharged_on')} < {self.value('admitted_on')}",
                    _message(
                        stay_message(_HOLE, _HOLE),
                        self.shown("discharged_on"),
                        self.shown("admitted_on"),
                    ),
                )
            )
        if kind is LINES:
            item_type = self.value("item_type")
            out.append(
                _Check(
                    order,
                    "days_supply",
                    kind.code("days-supply"),
                    f"{src.cell('days_supply')} IS NOT NULL AND {item_type} <> 'drug'",
                    _message(days_supply_message(_HOLE), item_type),
                )
            )
            q = f"CAST({self.value('quantity')} AS DECIMAL(38,4))"
            p = f"CAST({self.value('unit_price')} AS DECIMAL(38,2))"
            product = (
                f"regexp_replace(CAST({q} * {p} AS VARCHAR), '([.][0-9]{{2}}[0-9]*?)0*$', '\\1')"
            )
            out.append(
                _Check(
                    order + 1,
                    "amount",
                    kind.code("amount"),
                    f"CAST({self.value('amount')} AS DECIMAL(38,2)) <> {q} * {p}",
                    _message(
                        amount_message(_HOLE, _HOLE, _HOLE, _HOLE),
                        self.shown("amount"),
                        self.shown("quantity"),
                        self.shown("unit_price"),
                        product,
                    ),
                )
            )
        return out


def _any(checks: Sequence[_Check]) -> str:
    if not checks:
        return "FALSE"
    return "(" + " OR ".join(f"coalesce({c.condition}, FALSE)" for c in checks) + ")"


def _columns(kind: ClaimKind) -> str:
    cols = ", ".join(f"{_ident(f.name)} {f.sql_type}" for f in kind.fields)
    return f"{cols}, {ATTRIBUTES} JSON, _line INTEGER"


def _create_empty(con: duckdb.DuckDBPyConnection, kind: ClaimKind) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {kind.table} ({_columns(kind)})")


def _raw(kind: ClaimKind) -> str:
    return f"_yc_raw_{kind.what}"


def _attrs(kind: ClaimKind) -> str:
    return f"_yc_attrs_{kind.what}"


# -- staging --------------------------------------------------------------------------------


def _header(path: Path) -> list[str]:
    try:
        with path.open("rb") as handle:
            first = handle.readline()
    except OSError:
        raise _Fallback from None
    try:
        text = first.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        raise _Fallback from None
    return text.split(",") if text else []


def _stage(con: duckdb.DuckDBPyConnection, kind: ClaimKind, path: Path) -> _Staged:
    """A UTF-8 file opened by DuckDB, or ``_Fallback`` at the first doubt: read directly by
    ``_fill`` unless it is a JSON Lines file with keys beyond the contract's in its first
    lines (their values are then read apart, from a staged table)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        extras = [h for h in _header(path) if h and h not in kind.names]
        columns = (*kind.names, *extras)
        reader = _open_csv(con, path, kind.what, columns)
        pairs = ", ".join(f"{_literal(h)}, {_ident(h)}" for h in extras if h in reader.cells)
        attributes = _NO_ATTRIBUTES
        if pairs:
            merged = f"nullif(json_merge_patch('{{}}', json_object({pairs})), '{{}}')"
            attributes = f"CAST({merged} AS VARCHAR)"
    elif suffix == ".jsonl":  # its guards scan it while DuckDB reads it (``_fill_direct``)
        columns = kind.names
        reader = _open_jsonl(con, path, kind.what, columns, guards=False)
        attributes = _NO_ATTRIBUTES
        if reader.extras:
            return _stage_table(con, kind, path, reader, columns, attributes)
    else:
        raise _Fallback  # the Python reader names the file type
    if not reader.rows:
        return _Staged(_Source("", reader.json, reader.cells, 0))
    # rows: as the guards count them, -1 until a pending reader's are in
    src = _Source(f"({reader.select})", reader.json, reader.cells, reader.rows, reader.kind)
    return _Staged(src, attributes, reader=reader, path=path, columns=columns)


def _stage_table(
    con: duckdb.DuckDBPyConnection,
    kind: ClaimKind,
    path: Path,
    reader: _Reader,
    columns: Sequence[str],
    attributes: str,
) -> _Staged:
    """The file opened as ``reader`` staged as a table of text cells: a row's problems are
    listed from it, and a JSON Lines file's other keys read (one more pass over the file,
    for files whose keys are not all the contract's)."""
    if not reader.json:
        return _Staged(_stage_csv(con, path, kind.what, columns, reader), attributes)
    src = _stage_jsonl(con, path, kind.what, columns, reader)
    if not src.rows:
        return _Staged(src)
    counted = " + ".join(f"count({_ident(n)})" for n in kind.names)
    values = _count(con, f"SELECT {counted} FROM {_raw(kind)}")
    if src.colons == values:  # no key beyond the contract's (each key is one ':' outside texts)
        return _Staged(src)
    nulls = json.dumps({n: None for n in kind.names})
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_attrs(kind)} AS SELECT nullif(CAST(json_merge_patch("
        f"json, {_literal(nulls)}) AS VARCHAR), '{{}}') AS a FROM read_json_objects("
        f"{_duckdb_path(path)}, format = 'newline_delimited')"
    )
    if _count(con, f"SELECT count(*) FROM {_attrs(kind)}") != src.rows:
        raise _Fallback
    join = (
        f" LEFT JOIN (SELECT CAST(rowid + 1 AS INTEGER) AS _line, a FROM {_attrs(kind)}) "
        "AS _yc_a USING (_line)"
    )
    return _Staged(src, "_yc_a.a", join)


def _stage_clean(
    con: duckdb.DuckDBPyConnection,
    kind: ClaimKind,
    rows: Sequence[Any],
    lines: dict[str, int],
    folder: str,
) -> _Staged:
    """Records checked by the Python reader, staged as the SQL reader stages a JSON file: each
    value written as the contract writes it, with its line and its other fields."""
    path = Path(folder) / f"{kind.what}.clean.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            record: dict[str, Any] = {}
            for spec in kind.fields:
                value = clean_value(spec, getattr(row, spec.name))
                if value is not None:
                    record[spec.name] = value
            if row.attributes:
                record["_yc_attrs"] = row.attributes
            record["_line"] = lines[row.id]
            out.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    if not rows:
        return _Staged(_Source("", True, frozenset(), 0))
    cols = ", ".join(f"{_literal(n)}: 'JSON'" for n in kind.names)
    cells = ", ".join(f"CAST({_ident(n)} AS VARCHAR) AS {_ident(n)}" for n in kind.names)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_raw(kind)} AS SELECT {cells}, "
        f"CAST(_yc_attrs AS VARCHAR) AS _yc_attrs, _line FROM read_json({_duckdb_path(path)}, "
        f"format = 'newline_delimited', records = 'true', "
        f"columns = {{{cols}, '_yc_attrs': 'JSON', '_line': 'INTEGER'}})"
    )
    query = f"(SELECT *, FALSE AS _yc_wide FROM {_raw(kind)})"
    return _Staged(_Source(query, True, frozenset(kind.names), len(rows)), "_yc_attrs")


def _fill(
    con: duckdb.DuckDBPyConnection, kind: ClaimKind, staged: _Staged, file: str
) -> list[Problem]:
    """The typed table from a staged file, and the problems of its records (none, usually:
    then one pass over the file did everything)."""
    src = staged.src
    if not src.rows:
        _create_empty(con, kind)
        return []
    if staged.reader is not None and staged.path is not None:
        reader = _fill_direct(con, kind, staged, staged.reader, staged.path)
        if reader is None:
            return []
        # a row is flagged, or the file has keys beyond the contract's: staged to be read again
        staged = _stage_table(con, kind, staged.path, reader, staged.columns, staged.attributes)
        src = staged.src
    fields = _Fields(kind, src)
    field_checks, row_checks = fields.field_checks(), fields.row_checks()
    values = ", ".join(f"{fields.value(f.name)} AS {_ident(f.name)}" for f in kind.fields)
    source = f"{fields.layered(staged)} AS _yc_l"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {kind.table} AS SELECT {values}, "
        f"_yc_attributes AS {ATTRIBUTES}, _line, _yc_wide AS _wide, "
        f"NOT ({fields.sound()}) OR {_any(row_checks)} AS _bad FROM {source}"
    )
    if _count(con, f"SELECT count(*) FROM {kind.table} WHERE _wide"):
        raise _Fallback  # more cells than the header names, or a cell too long: Python says
    problems: list[Problem] = []
    if _count(con, f"SELECT count(*) FROM {kind.table} WHERE _bad"):
        sound = f"NOT {_any(field_checks)}"
        selects = [
            f"SELECT _line, {c.order} AS o, {_literal(c.field or '')} AS f, "
            f"{_literal(c.code)} AS code, {c.message} AS m FROM {source} "
            f"WHERE coalesce({c.condition}, FALSE)" + ("" if c.order < 1000 else f" AND {sound}")
            for c in [*field_checks, *row_checks]
        ]
        found = con.execute(
            f"SELECT _line, f, code, m FROM ({' UNION ALL '.join(selects)}) "
            f"ORDER BY _line, o LIMIT {MAX_PROBLEMS}"
        ).fetchall()
        problems = [
            Problem(code, message, Location(file, line, None, path or None))
            for line, path, code, message in found
        ]
    con.execute(f"ALTER TABLE {kind.table} DROP COLUMN _bad")
    con.execute(f"ALTER TABLE {kind.table} DROP COLUMN _wide")
    return problems


def _fill_direct(
    con: duckdb.DuckDBPyConnection,
    kind: ClaimKind,
    staged: _Staged,
    reader: _Reader,
    path: Path,
) -> _Reader | None:
    """The typed table in one pass over the file, when every row is sound and (JSON Lines)
    every key is the contract's: None then; else no table, and the reader with what its
    guards found. ``_line`` is the row's position (DuckDB keeps the file's order), written
    once the rows are in. A pending reader's guards scan the file meanwhile, in a thread."""
    fields = _Fields(kind, staged.src)
    values = ", ".join(f"{fields.value(f.name)} AS {_ident(f.name)}" for f in kind.fields)
    build = (
        f"CREATE OR REPLACE TEMP TABLE {kind.table} AS SELECT {values}, "
        f"_yc_attributes AS {ATTRIBUTES}, _yc_wide AS _wide, "
        f"NOT ({fields.sound()}) OR {_any(fields.row_checks())} AS _bad "
        f"FROM {fields.layered(staged)} AS _yc_l"
    )
    if reader.pending:
        with _Background(_scan_jsonl, path) as scan:
            con.execute(build)
            reader = _settle(reader, scan.result())
    else:
        con.execute(build)
    present = " + ".join(f"count({_ident(f.name)})" for f in kind.fields)
    row = con.execute(
        f"SELECT count(*), count_if(_wide), count_if(_bad), {present} FROM {kind.table}"
    ).fetchone()
    rows, wide, bad, keys = row if row else (0, 0, 0, 0)
    if rows != reader.rows:  # a blank line skipped, or a quoted cell over several lines
        raise _Fallback
    if wide:
        raise _Fallback  # more cells than the header names, or a cell too long: Python says
    # a sound row's value is read for each cell present: as many as the ':' (the keys), unless
    # the file has other keys, null values, or ':' in texts
    if bad or (reader.json and keys != reader.colons):
        _drop(con, kind.table)
        return reader
    con.execute(f"ALTER TABLE {kind.table} ADD COLUMN _line INTEGER")
    con.execute(f"UPDATE {kind.table} SET _line = CAST(rowid + {reader.first} AS INTEGER)")
    con.execute(f"ALTER TABLE {kind.table} DROP COLUMN _bad")
    con.execute(f"ALTER TABLE {kind.table} DROP COLUMN _wide")
    return None


# -- checks between records -----------------------------------------------------------------


def _between(
    con: duckdb.DuckDBPyConnection, files: dict[str, str], subjects: bool
) -> list[Problem]:
    """Duplicate ids and the references between files, as SQL over the typed tables."""
    queries: list[tuple[ClaimKind, str, str]] = []
    for kind in CLAIM_KINDS:
        queries.append(
            (
                kind,
                "duplicate-id",
                f"WITH d AS (SELECT id, min(_line) AS first FROM {kind.table} GROUP BY id "
                f"HAVING count(*) > 1) SELECT t._line, 'id', 'duplicate id ' || "
                f"CAST(to_json(t.id) AS VARCHAR) || ' (first on line ' || d.first || ')' "
                f"FROM {kind.table} t JOIN d ON t.id = d.id WHERE t._line > d.first",
            )
        )

    def missing(kind: ClaimKind, column: str, table: str, what: str) -> str:
        return (
            f"SELECT t._line, {_literal(column)}, {_literal(what.split(_HOLE)[0])} || "
            f"CAST(to_json(t.{column}) AS VARCHAR) || {_literal(what.split(_HOLE)[1])} "
            f"FROM {kind.table} t WHERE t.{column} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {table} x WHERE x.id = t.{column})"
        )

    queries.append(
        (
            CLAIMS,
            "insured",
            missing(
                CLAIMS,
                "insured_id",
                "insured",
                f"insured person {_HOLE} is not in the insured file",
            ),
        )
    )
    if subjects:
        institution = f"institution {_HOLE} is not among the subjects"
        queries.append(
            (
                CLAIMS,
                "institution",
                missing(CLAIMS, "institution_id", "_yc_subject_ids", institution),
            )
        )
        queries.append(
            (STOCK, "institution", missing(STOCK, "institution_id", "_yc_subject_ids", institution))
        )
    queries.append(
        (
            LINES,
            "claim",
            missing(LINES, "claim_id", "claims", f"claim {_HOLE} is not in the claims file"),
        )
    )
    found: list[tuple[int, int, int, Problem]] = []
    for n, (kind, check, sql) in enumerate(queries):
        # no id given twice (as usual): one count, without each id's first line to keep
        distinct = f"SELECT count(*) - count(DISTINCT id) FROM {kind.table}"
        if check == "duplicate-id" and not _count(con, distinct):
            continue
        rank = CLAIM_KINDS.index(kind)
        for line, path, message in con.execute(f"{sql} ORDER BY 1 LIMIT {MAX_PROBLEMS}").fetchall():
            where = Location(files.get(kind.what), line, None, path)
            found.append((rank, line, n, Problem(kind.code(check), message, where)))
    found.sort(key=lambda item: item[:3])
    return [p for *_, p in found[:MAX_PROBLEMS]]


# -- reading --------------------------------------------------------------------------------


_EMPTY = {
    "insured": "the insured file holds no insured persons: every claim names an unknown one",
    "claim": "the claims file holds no claims: there is nothing to audit",
    "line": "the claim lines file holds no lines: every claim is audited as having none",
    "stock": "the stock file holds no stock movements: every institution is audited as having none",
}


def load_claims(
    con: duckdb.DuckDBPyConnection,
    *,
    claims: str | Path,
    lines: str | Path,
    insured: str | Path,
    stock: str | Path | None = None,
    subjects_ids: Collection[str] | None = None,
    encoding: str = "utf-8",
) -> ClaimTables:
    """Read the claims files into the temporary tables ``insured``, ``claims``,
    ``claim_lines`` and ``stock`` of ``con`` (``stock`` empty when no file is given), checking
    every record; raises one ``RecordError`` with the first problems. ``subjects_ids``: the
    ids of the known institutions, which every claim and stock movement must name.
    ``encoding``: the files' text encoding, as for ``records.readers.load_records``."""
    paths: list[tuple[ClaimKind, str | Path | None]] = [
        (INSURED, insured),
        (CLAIMS, claims),
        (LINES, lines),
        (STOCK, stock),
    ]
    files = {k.what: str(p) for k, p in paths if p is not None}
    codec = text_encoding(encoding)
    problems: list[Problem] = []
    python_read: list[str] = []
    counts: dict[str, int] = {}
    tables = [k.table for k in CLAIM_KINDS]
    staged_tables = [name for k in CLAIM_KINDS for name in (_raw(k), _attrs(k))]
    with _insertion_order(con), tempfile.TemporaryDirectory(prefix="yibao-") as folder:
        try:
            for kind, given in paths:
                if given is None:
                    _create_empty(con, kind)
                    continue
                path = Path(given)
                try:
                    utf8 = (
                        path
                        if codec == "utf-8-sig"
                        else _transcoded(path, codec, folder, kind.what)
                    )
                    found = _fill(con, kind, _stage(con, kind, utf8), str(given))
                except (_Fallback, duckdb.Error):
                    _drop(con, _raw(kind), _attrs(kind), kind.table)
                    python_read.append(kind.what)
                    rows, ids, found = read_claim_file(path, kind, encoding=encoding)
                    if not found:
                        staged = _stage_clean(con, kind, rows, ids, folder)
                        found = _fill(con, kind, staged, str(given))
                _drop(con, _raw(kind), _attrs(kind))
                problems += found
            if not problems:
                if subjects_ids is not None:
                    con.execute(
                        "CREATE OR REPLACE TEMP TABLE _yc_subject_ids AS "
                        "SELECT DISTINCT unnest(CAST(? AS VARCHAR[])) AS id",
                        [sorted(set(subjects_ids))],
                    )
                problems = _between(con, files, subjects_ids is not None)
                _drop(con, "_yc_subject_ids")
            if problems:
                raise RecordError(problems[:MAX_PROBLEMS])
            for kind in CLAIM_KINDS:
                counts[kind.table] = _count(con, f"SELECT count(*) FROM {kind.table}")
        except BaseException:
            _drop(con, *staged_tables, "_yc_subject_ids", *tables)
            raise
    warnings = [
        Problem(k.code("empty"), _EMPTY[k.what], Location(files[k.what]))
        for k in CLAIM_KINDS
        if k.what in files and counts[k.table] == 0
    ]
    return ClaimTables(con, files, counts, tuple(python_read), warnings)
