"""Claims records for claims audit (智能审核): insured persons, claims, claim lines and stock
movements, as the design's "Claims data contract" defines them.

湖州 plans machine audit of every settlement (智能审核全覆盖) and real-time monitoring of the
pharmacies' 药品进销存 (《湖州市医疗保障基金监管方式创新试点实施方案》 四(三)一是、四是): the
records here are what those audits read. The contract is written once, as data
(``INSURED``, ``CLAIMS``, ``LINES``, ``STOCK``): the columnar reader (``sql.claims``) builds its
SQL checks from it, and the Python reference reader here (``read_claim_file``, for small files
and for files DuckDB cannot vouch for) validates each record with the pydantic models built on
the same specs, with the same codes and messages.

Money is yuan written as a decimal string (``"12.30"``) or an integer, with at most two
decimals, never a JSON float (a binary float is not exact to the fen). It is held as whole fen
(``int``) in Python and as ``DECIMAL(18,2)`` (whole fen inside) in DuckDB, so sums are exact.
Quantities are decimals with at most four decimals (``DECIMAL(18,4)``); a claim line's
``amount`` must be exactly ``quantity × unit_price``. A claim line may have a negative quantity
(a refund, 退费, with a negative amount) but not 0; a stock movement's quantity is > 0 (its
``direction`` gives the sign).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, ValidationInfo
from pydantic_core import PydanticCustomError

from yibao_credit.errors import Location, Problem, RecordError
from yibao_credit.records.contract import MAX_PROBLEMS
from yibao_credit.records.readers import (
    UTF8,
    StopReading,
    csv_field_limit,
    csv_rows,
    decoding_problem,
    duplicate_key,
    duplicate_key_problem,
    record_file,
)

__all__ = [
    "CLAIMS",
    "CLAIM_KINDS",
    "INSURED",
    "LINES",
    "STOCK",
    "Claim",
    "ClaimKind",
    "ClaimLine",
    "FieldSpec",
    "Insured",
    "StockMovement",
    "read_claim_file",
]

FieldType = Literal["text", "enum", "date", "money", "quantity", "days"]
Sign = Literal["any", "nonneg", "nonzero", "positive"]

SQL_TYPES: dict[str, str] = {
    "text": "VARCHAR",
    "enum": "VARCHAR",
    "date": "DATE",
    "money": "DECIMAL(18,2)",
    "quantity": "DECIMAL(18,4)",
    "days": "INTEGER",
}
"""Field type → DuckDB column type: money in whole fen, quantities to 1/10000."""

MONEY_DIGITS = 16
"""Digits before the decimal point of an amount of yuan (``DECIMAL(18,2)``)."""
QUANTITY_DIGITS = 14
"""Digits before the decimal point of a quantity (``DECIMAL(18,4)``)."""
DAYS_DIGITS = 9
"""Digits of a ``days_supply`` (an ``INTEGER``)."""

MONEY_TEXT = rf"-?[0-9]{{1,{MONEY_DIGITS}}}(\.[0-9]{{1,2}})?"
"""An amount of yuan as text: at most two decimals."""
MONEY_TOO_FINE = rf"-?[0-9]{{1,{MONEY_DIGITS}}}\.[0-9]{{3,}}"
"""An amount of yuan with more than two decimals (finer than a fen)."""
MONEY_INTEGER = rf"-?[0-9]{{1,{MONEY_DIGITS}}}"
JSON_FLOAT = r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?"
"""A JSON number (as DuckDB writes it back): one that is not an integer is a float."""
QUANTITY_TEXT = rf"-?[0-9]{{1,{QUANTITY_DIGITS}}}(\.[0-9]{{1,4}})?"
DAYS_TEXT = rf"-?[0-9]{{1,{DAYS_DIGITS}}}"


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a claims record: its type, whether it is required, its allowed values
    (``enum``) and the sign its value must have (money, quantities, days)."""

    name: str
    type: FieldType
    required: bool = False
    choices: tuple[str, ...] = ()
    sign: Sign = "any"

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.type]


@dataclass(frozen=True, slots=True)
class ClaimKind:
    """One file of the claims contract: ``what`` names it in codes (``record.claim.*``),
    ``table`` in DuckDB; ``label`` says what a record is, for messages."""

    what: str
    table: str
    label: str
    fields: tuple[FieldSpec, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def code(self, check: str) -> str:
        return f"record.{self.what}.{check}"


SETTINGS = ("outpatient", "inpatient", "pharmacy")
SEXES = ("M", "F")
ITEM_TYPES = ("drug", "service", "material")
DIRECTIONS = ("in", "out")

INSURED = ClaimKind(
    "insured",
    "insured",
    "insured persons",
    (
        FieldSpec("id", "text", True),
        FieldSpec("sex", "enum", True, SEXES),
        FieldSpec("birth_date", "date", True),
        FieldSpec("region", "text"),
    ),
)
CLAIMS = ClaimKind(
    "claim",
    "claims",
    "claims",
    (
        FieldSpec("id", "text", True),
        FieldSpec("institution_id", "text", True),
        FieldSpec("insured_id", "text", True),
        FieldSpec("practitioner_id", "text"),
        FieldSpec("setting", "enum", True, SETTINGS),
        FieldSpec("date", "date", True),
        FieldSpec("admitted_on", "date"),
        FieldSpec("discharged_on", "date"),
        FieldSpec("diagnosis", "text"),
        FieldSpec("total", "money", True, sign="nonneg"),
        FieldSpec("fund_paid", "money", True, sign="nonneg"),
    ),
)
LINES = ClaimKind(
    "line",
    "claim_lines",
    "claim lines",
    (
        FieldSpec("id", "text", True),
        FieldSpec("claim_id", "text", True),
        FieldSpec("item_code", "text", True),
        FieldSpec("item_type", "enum", True, ITEM_TYPES),
        FieldSpec("date", "date", True),
        FieldSpec("quantity", "quantity", True, sign="nonzero"),
        FieldSpec("unit_price", "money", True, sign="nonneg"),
        FieldSpec("amount", "money", True),
        FieldSpec("days_supply", "days", sign="positive"),
    ),
)
STOCK = ClaimKind(
    "stock",
    "stock",
    "stock movements",
    (
        FieldSpec("id", "text", True),
        FieldSpec("institution_id", "text", True),
        FieldSpec("item_code", "text", True),
        FieldSpec("date", "date", True),
        FieldSpec("direction", "enum", True, DIRECTIONS),
        FieldSpec("quantity", "quantity", True, sign="positive"),
    ),
)
CLAIM_KINDS: tuple[ClaimKind, ...] = (INSURED, CLAIMS, LINES, STOCK)
"""The files in the order their problems are reported."""

ATTRIBUTES = "attributes"
"""The column holding a record's fields the contract does not name (a JSON object)."""


# -- messages, shared by both readers -------------------------------------------------------

MISSING = "required field is missing"
MISSING_INPATIENT = "required on an inpatient claim (setting inpatient)"
EMPTY_TEXT = "is empty: leave the field out, or give a value"
MONEY_FLOAT = (
    "money is never a JSON float (a binary float is not exact to the fen): write the yuan as "
    'a decimal string, such as "12.30", or an integer'
)


def type_message(spec: FieldSpec, got: str) -> str:
    """The value has the wrong type or shape for its field."""
    if spec.type in ("text", "enum"):
        return f"must be text (a JSON string), got {got}"
    if spec.type == "date":
        return f"a date is written YYYY-MM-DD (a calendar day), got {got}"
    if spec.type == "money":
        return f'an amount of yuan is a decimal string ("12.30") or an integer, got {got}'
    if spec.type == "quantity":
        return f"a quantity is a decimal number with at most four decimals, got {got}"
    return f"{spec.name} is a whole number of days, got {got}"


def enum_message(spec: FieldSpec, got: str) -> str:
    return f"unknown value {got}: one of {', '.join(spec.choices)}"


def decimals_message(got: str) -> str:
    return f"money has at most two decimals (a fen), got {got}"


def sign_message(spec: FieldSpec, got: str) -> str:
    if spec.sign == "nonneg":
        return f"must not be negative, got {got}"
    if spec.sign == "nonzero":
        return "a quantity of 0 bills nothing: a refund has a negative quantity"
    return f"must be greater than 0, got {got}"


def stay_message(discharged: str, admitted: str) -> str:
    return f"discharged_on {discharged} is before admitted_on {admitted}"


def days_supply_message(item_type: str) -> str:
    return f"days_supply is given on drug lines only (this line's item_type is {item_type})"


def amount_message(amount: str, quantity: str, price: str, product: str) -> str:
    return f"amount {amount} is not quantity × unit_price: {quantity} × {price} = {product}"


def yuan(fen: int) -> str:
    """Whole fen as yuan with two decimals: 1230 → ``12.30``."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def decimal_text(value: Decimal, places: int = 0) -> str:
    """A decimal in plain notation, trailing zeros cut down to ``places`` decimals."""
    text = format(value, "f")
    if "." not in text:
        return text + ("." + "0" * places if places else "")
    whole, frac = text.split(".")
    frac = frac.rstrip("0").ljust(places, "0")
    return f"{whole}.{frac}" if frac else whole


# -- the Python reference reader: pydantic models on the specs ------------------------------


def _got(value: Any) -> str:
    """A value as the message shows it: as JSON writes it."""
    if isinstance(value, Decimal):
        return repr(float(value))
    if isinstance(value, dt.date):
        return json.dumps(value.isoformat())
    return json.dumps(value, ensure_ascii=False)


def _csv(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("csv"))


def _fail(check: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(check, message)


def _validator(spec: FieldSpec) -> Callable[[Any, ValidationInfo], Any]:
    """The check of one field's value: the same accepted shapes as the SQL reader's."""

    def check(value: Any, info: ValidationInfo) -> Any:
        text = isinstance(value, str)
        if spec.type in ("text", "enum"):
            if not text:
                raise _fail("type", type_message(spec, _got(value)))
            if not value:
                raise _fail("type", EMPTY_TEXT)
            if spec.type == "enum" and value not in spec.choices:
                raise _fail("enum", enum_message(spec, _got(value)))
            return value
        if spec.type == "date":
            if text and len(value) == 10 and not value.startswith("0000"):
                try:
                    day = dt.date.fromisoformat(value)
                except ValueError:
                    pass
                else:
                    if day.isoformat() == value:
                        return day
            raise _fail("date", type_message(spec, _got(value)))
        if spec.type == "money":
            return _money(spec, value, _csv(info))
        if spec.type == "quantity":
            if text and re.fullmatch(QUANTITY_TEXT, value):
                return Decimal(value)
            if not _csv(info) and isinstance(value, (int, Decimal)) and not isinstance(value, bool):
                shown = _got(value)
                if re.fullmatch(QUANTITY_TEXT, shown):
                    return Decimal(shown)
            raise _fail("type", type_message(spec, _got(value)))
        if _csv(info) and text and re.fullmatch(DAYS_TEXT, value):
            return int(value)
        if not _csv(info) and type(value) is int and re.fullmatch(DAYS_TEXT, str(value)):
            return value
        raise _fail("type", type_message(spec, _got(value)))

    return check


def _money(spec: FieldSpec, value: Any, from_csv: bool) -> int:
    """Yuan as whole fen: a decimal string or an integer (a JSON integer), never a float."""
    if isinstance(value, str):
        if re.fullmatch(MONEY_TEXT, value):
            whole, _, frac = value.lstrip("-").partition(".")
            fen = int(whole) * 100 + int(frac.ljust(2, "0") or "0")
            return -fen if value.startswith("-") else fen
        if re.fullmatch(MONEY_TOO_FINE, value):
            raise _fail("money-decimals", decimals_message(_got(value)))
    elif not from_csv and type(value) is int and re.fullmatch(MONEY_INTEGER, str(value)):
        return value * 100
    elif not from_csv and isinstance(value, Decimal):
        raise _fail("money-float", MONEY_FLOAT)
    raise _fail("type", type_message(spec, _got(value)))


def _annotated(spec: FieldSpec) -> Any:
    python = {
        "text": str,
        "enum": str,
        "date": dt.date,
        "money": int,
        "quantity": Decimal,
        "days": int,
    }[spec.type]
    return Annotated[python, BeforeValidator(_validator(spec))]


class _ClaimRecord(BaseModel):
    """A claims record: the contract's fields typed, any other field kept as an attribute."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str

    @property
    def attributes(self) -> dict[str, Any]:
        return dict(self.__pydantic_extra__ or {})


class Insured(_ClaimRecord):
    """参保人: the person a claim was settled for."""

    id: _annotated(INSURED.fields[0])  # type: ignore[valid-type]
    sex: _annotated(INSURED.fields[1])  # type: ignore[valid-type]
    birth_date: _annotated(INSURED.fields[2])  # type: ignore[valid-type]
    region: _annotated(INSURED.fields[3]) | None = None  # type: ignore[valid-type]


class Claim(_ClaimRecord):
    """一次就诊或购药的结算: money in whole fen (``total`` 1230 is 12.30 yuan)."""

    id: _annotated(CLAIMS.fields[0])  # type: ignore[valid-type]
    institution_id: _annotated(CLAIMS.fields[1])  # type: ignore[valid-type]
    insured_id: _annotated(CLAIMS.fields[2])  # type: ignore[valid-type]
    practitioner_id: _annotated(CLAIMS.fields[3]) | None = None  # type: ignore[valid-type]
    setting: _annotated(CLAIMS.fields[4])  # type: ignore[valid-type]
    date: _annotated(CLAIMS.fields[5])  # type: ignore[valid-type]
    admitted_on: _annotated(CLAIMS.fields[6]) | None = None  # type: ignore[valid-type]
    discharged_on: _annotated(CLAIMS.fields[7]) | None = None  # type: ignore[valid-type]
    diagnosis: _annotated(CLAIMS.fields[8]) | None = None  # type: ignore[valid-type]
    total: _annotated(CLAIMS.fields[9])  # type: ignore[valid-type]
    fund_paid: _annotated(CLAIMS.fields[10])  # type: ignore[valid-type]


class ClaimLine(_ClaimRecord):
    """费用明细: one drug, service or material of a claim; money in whole fen."""

    id: _annotated(LINES.fields[0])  # type: ignore[valid-type]
    claim_id: _annotated(LINES.fields[1])  # type: ignore[valid-type]
    item_code: _annotated(LINES.fields[2])  # type: ignore[valid-type]
    item_type: _annotated(LINES.fields[3])  # type: ignore[valid-type]
    date: _annotated(LINES.fields[4])  # type: ignore[valid-type]
    quantity: _annotated(LINES.fields[5])  # type: ignore[valid-type]
    unit_price: _annotated(LINES.fields[6])  # type: ignore[valid-type]
    amount: _annotated(LINES.fields[7])  # type: ignore[valid-type]
    days_supply: _annotated(LINES.fields[8]) | None = None  # type: ignore[valid-type]


class StockMovement(_ClaimRecord):
    """药品进销存: goods in or out of an institution's stock."""

    id: _annotated(STOCK.fields[0])  # type: ignore[valid-type]
    institution_id: _annotated(STOCK.fields[1])  # type: ignore[valid-type]
    item_code: _annotated(STOCK.fields[2])  # type: ignore[valid-type]
    date: _annotated(STOCK.fields[3])  # type: ignore[valid-type]
    direction: _annotated(STOCK.fields[4])  # type: ignore[valid-type]
    quantity: _annotated(STOCK.fields[5])  # type: ignore[valid-type]


MODELS: dict[str, type[_ClaimRecord]] = {
    "insured": Insured,
    "claim": Claim,
    "line": ClaimLine,
    "stock": StockMovement,
}


def _check_models() -> None:
    """The models declare exactly the specs' fields, in order (the specs are the contract)."""
    for kind in CLAIM_KINDS:
        if tuple(MODELS[kind.what].model_fields) != kind.names:
            raise AssertionError(f"{MODELS[kind.what].__name__} does not follow {kind.what}")


_check_models()


def _sign_ok(spec: FieldSpec, value: int | Decimal) -> bool:
    if spec.sign == "nonneg":
        return value >= 0
    if spec.sign == "nonzero":
        return value != 0
    if spec.sign == "positive":
        return value > 0
    return True


def _shown(spec: FieldSpec, value: int | Decimal) -> str:
    if spec.type == "money":
        return yuan(int(value))
    return decimal_text(Decimal(value))


def row_problems(kind: ClaimKind, record: _ClaimRecord) -> list[tuple[str, str, str]]:
    """The checks of a record beyond each field's type, as (check, field, message): signs,
    an inpatient stay, days_supply on drug lines only, amount = quantity × unit_price."""
    out: list[tuple[str, str, str]] = []
    for spec in kind.fields:
        value = getattr(record, spec.name)
        if spec.sign != "any" and value is not None and not _sign_ok(spec, value):
            out.append(("range", spec.name, sign_message(spec, _shown(spec, value))))
    if isinstance(record, Claim) and record.setting == "inpatient":
        for name in ("admitted_on", "discharged_on"):
            if getattr(record, name) is None:
                out.append(("missing", name, MISSING_INPATIENT))
    if isinstance(record, Claim) and record.admitted_on and record.discharged_on:
        if record.discharged_on < record.admitted_on:
            out.append(
                (
                    "stay",
                    "discharged_on",
                    stay_message(record.discharged_on.isoformat(), record.admitted_on.isoformat()),
                )
            )
    if isinstance(record, ClaimLine):
        if record.days_supply is not None and record.item_type != "drug":
            out.append(("days-supply", "days_supply", days_supply_message(record.item_type)))
        product = record.quantity * Decimal(record.unit_price) / 100
        if product != Decimal(record.amount) / 100:
            out.append(
                (
                    "amount",
                    "amount",
                    amount_message(
                        yuan(record.amount),
                        decimal_text(record.quantity),
                        yuan(record.unit_price),
                        decimal_text(product, 2),
                    ),
                )
            )
    return out


def _model_problems(exc: ValidationError, kind: ClaimKind, file: str, line: int) -> list[Problem]:
    out = []
    for err in exc.errors(include_url=False):
        path = ".".join(str(p) for p in err["loc"]) or None
        check = err["type"]
        message = MISSING if check == "missing" else err["msg"]
        if check not in ("missing", "type", "enum", "date", "money-float", "money-decimals"):
            check = "type"
        out.append(Problem(kind.code(check), message, Location(file, line, None, path)))
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _parse_json_line(text: str) -> Any:
    """A JSON line as Python values, a JSON float kept as the ``Decimal`` written (so that
    money given as a float is told apart from an integer); NaN and Infinity refused."""
    return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)


def read_claim_file(
    path: str | Path, kind: ClaimKind, *, encoding: str = UTF8
) -> tuple[list[_ClaimRecord], dict[str, int], list[Problem]]:
    """Read one claims file record by record (JSON Lines or CSV, by extension): the records,
    the line of each id (the first, when an id repeats) and the problems found, at most
    ``MAX_PROBLEMS``, each located by file, line and field. Duplicate ids are problems here
    too; references between files are checked by ``sql.claims.load_claims``."""
    file = Path(path)
    name = str(path)
    model = MODELS[kind.what]
    rows: list[_ClaimRecord] = []
    lines: dict[str, int] = {}
    problems: list[Problem] = []

    def add(data: Mapping[str, Any], line: int, from_csv: bool) -> None:
        try:
            record = model.model_validate(data, context={"csv": from_csv})
        except ValidationError as exc:
            problems.extend(_model_problems(exc, kind, name, line))
            return
        found = row_problems(kind, record)
        for check, field, message in found:
            problems.append(Problem(kind.code(check), message, Location(name, line, None, field)))
        first = lines.setdefault(record.id, line)
        if first != line:
            problems.append(
                Problem(
                    kind.code("duplicate-id"),
                    f"duplicate id {_got(record.id)} (first on line {first})",
                    Location(name, line, None, "id"),
                )
            )
        elif not found:
            rows.append(record)

    try:
        with record_file(file, encoding=encoding) as (suffix, handle):
            try:
                if suffix == ".jsonl":
                    for lineno, text in enumerate(handle, 1):
                        if len(problems) >= MAX_PROBLEMS:
                            break
                        if not text.strip():
                            continue
                        _json_record(text, lineno, kind, name, add, problems)
                else:
                    with csv_field_limit():
                        for lineno, row in csv_rows(handle, name, f"record.{kind.what}"):
                            if len(problems) >= MAX_PROBLEMS:
                                break
                            if None in row:
                                problems.append(
                                    Problem(
                                        kind.code("csv"),
                                        "more cells than header columns",
                                        Location(name, lineno),
                                    )
                                )
                                continue
                            cells = {k: v.strip() for k, v in row.items() if k and v is not None}
                            add({k: v for k, v in cells.items() if v}, lineno, True)
            except StopReading as stop:
                problems.append(stop.problem)
            except UnicodeDecodeError:
                problems[:] = [decoding_problem(file, encoding)]
    except RecordError as exc:
        problems.extend(exc.problems)
    return rows, lines, problems[:MAX_PROBLEMS]


def _json_record(
    text: str,
    lineno: int,
    kind: ClaimKind,
    name: str,
    add: Callable[[Mapping[str, Any], int, bool], None],
    problems: list[Problem],
) -> None:
    code = kind.code("json")
    try:
        data = _parse_json_line(text)
    except (ValueError, RecursionError) as exc:
        problems.append(Problem(code, f"not a JSON object: {exc}", Location(name, lineno)))
        return
    if not isinstance(data, dict):
        problems.append(Problem(code, "each line must be a JSON object", Location(name, lineno)))
        return
    if (key := duplicate_key(text)) is not None:
        problems.append(duplicate_key_problem(key, name, lineno, code))
        return
    add({k: v for k, v in data.items() if v is not None}, lineno, False)


def clean_value(spec: FieldSpec, value: Any) -> Any:
    """A checked value as the SQL reader reads it back unchanged (money as yuan text)."""
    if value is None:
        return None
    if spec.type == "money":
        return yuan(value)
    if spec.type == "quantity":
        return decimal_text(value)
    if spec.type == "date":
        return value.isoformat()
    return value
