"""Claims records (issue 12 item 1): the design's "Claims data contract" read by DuckDB.

The records are those 湖州's plan audits by machine (《湖州市医疗保障基金监管方式创新试点实施
方案》 四(三)一是 智能审核全覆盖) and by the pharmacies' 药品进销存 (四(三)四是). The example set
is ``examples/huzhou/claims/``. Each check has its test, located by file, line and field, on
the DuckDB path and — the same problem, word for word — on the Python reference reader.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yibao_credit.errors import RecordError
from yibao_credit.records.claims import CLAIMS, INSURED, LINES, STOCK, ClaimLine, read_claim_file
from yibao_credit.sql import claims as sql_claims
from yibao_credit.sql import tables as sql_tables
from yibao_credit.sql.claims import ClaimTables, load_claims
from yibao_credit.sql.tables import _Fallback

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "huzhou" / "claims"
INSTITUTIONS = {"H3305010001", "C3305020001", "Y3305030001"}
FILES = {"insured": "insured", "claim": "claims", "line": "lines", "stock": "stock"}


def rows(name: str) -> list[dict[str, Any]]:
    text = (EXAMPLE / f"{name}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


def write_set(folder: Path, **changed: list[dict[str, Any]]) -> dict[str, Path]:
    """The example set in ``folder`` as JSON Lines, with the files named in ``changed``
    replaced."""
    return write_files(folder, "jsonl", changed)


def write_csv_set(folder: Path, **changed: list[dict[str, Any]]) -> dict[str, Path]:
    """The same as CSV files."""
    return write_files(folder, "csv", changed)


def write_files(
    folder: Path, ext: str, changed: dict[str, list[dict[str, Any]]]
) -> dict[str, Path]:
    out = {}
    for what, name in FILES.items():
        records = changed.get(what, rows(name))
        path = folder / f"{name}.{ext}"
        if ext == "jsonl":
            write_jsonl(path, records)
        else:
            fields = list(dict.fromkeys(k for r in records for k in r)) or ["id"]
            with path.open("w", encoding="utf-8", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
                writer.writeheader()
                writer.writerows(records)
        out[what] = path
    return out


def load(
    files: dict[str, Path], subjects: set[str] | None = INSTITUTIONS
) -> tuple[duckdb.DuckDBPyConnection, ClaimTables]:
    con = duckdb.connect()
    tables = load_claims(
        con,
        claims=files["claim"],
        lines=files["line"],
        insured=files["insured"],
        stock=files.get("stock"),
        subjects_ids=subjects,
    )
    return con, tables


@pytest.fixture(params=["duckdb", "python"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Every check on both paths: DuckDB's, and the Python reference reader's (which takes
    any file DuckDB cannot vouch for)."""
    if request.param == "python":

        def refuse(*_: Any) -> Any:
            raise _Fallback

        monkeypatch.setattr(sql_claims, "_stage", refuse)
    yield request.param


def problem(files: dict[str, Path], subjects: set[str] | None = INSTITUTIONS) -> tuple[str, ...]:
    """The one problem the files hold: (code, file name, line, field, message)."""
    with pytest.raises(RecordError) as caught:
        load(files, subjects)
    assert len(caught.value.problems) == 1, caught.value.problems
    p = caught.value.problems[0]
    loc = p.location
    return (p.code, Path(loc.file or "").name, str(loc.line), str(loc.path), p.message)


def changed(name: str, index: int, **values: Any) -> list[dict[str, Any]]:
    """The example file ``name`` with record ``index`` changed (a value None: left out)."""
    records = rows(name)
    record = {**records[index], **values}
    records[index] = {k: v for k, v in record.items() if v is not None}
    return records


# -- valid records read back exactly --------------------------------------------------------


def test_example_reads_back_exactly_on_the_fast_path(tmp_path: Path) -> None:
    con, tables = load(write_set(tmp_path))
    assert tables.fast and tables.python_read == () and tables.warnings == []
    assert tables.counts == {"insured": 4, "claims": 6, "claim_lines": 13, "stock": 5}
    line = con.execute(
        "SELECT id, claim_id, item_code, item_type, date, quantity, unit_price, amount, "
        "days_supply, attributes, _line FROM claim_lines WHERE id = 'L0006'"
    ).fetchone()
    assert line is not None
    assert line[:9] == (
        "L0006",
        "C0003",
        "XR05CBA036A001010103201",
        "drug",
        dt.date(2024, 4, 10),
        Decimal("1.5"),
        Decimal("21.20"),
        Decimal("31.80"),
        5,
    )
    assert line[9] is None and line[10] == 6
    types = dict(
        con.execute("SELECT column_name, column_type FROM (DESCRIBE claim_lines)").fetchall()
    )
    assert types["amount"] == "DECIMAL(18,2)" and types["quantity"] == "DECIMAL(18,4)"
    assert types["date"] == "DATE" and types["_line"] == "INTEGER"


def test_money_sums_exact_to_the_fen(tmp_path: Path) -> None:
    """Design "Claims data contract": sums are exact to the fen — 3 × "0.10" is 0.30."""
    con, _ = load(write_set(tmp_path))
    total = con.execute("SELECT sum(amount) FROM claim_lines WHERE claim_id = 'C0004'").fetchone()
    assert total == (Decimal("0.30"),)
    assert str(total[0]) == "0.30"


def test_money_integer_yuan_accepted(tmp_path: Path) -> None:
    """Money may be an integer of yuan (claim C0006: total 24, unit_price 12)."""
    con, _ = load(write_set(tmp_path))
    assert con.execute("SELECT total FROM claims WHERE id = 'C0006'").fetchone() == (
        Decimal("24.00"),
    )


def test_jsonl_and_csv_give_the_same_tables(tmp_path: Path) -> None:
    j = tmp_path / "j"
    c = tmp_path / "c"
    j.mkdir()
    c.mkdir()
    con_j, _ = load(write_set(j))
    con_c, tables_c = load(write_csv_set(c))
    assert tables_c.fast
    for table in ("insured", "claims", "claim_lines", "stock"):
        sql = f"SELECT * EXCLUDE (_line) FROM {table} ORDER BY id"
        assert con_j.execute(sql).fetchall() == con_c.execute(sql).fetchall()
    shipped = (
        load({w: EXAMPLE / f"{n}.csv" for w, n in FILES.items()})[0]
        .execute("SELECT * EXCLUDE (_line) FROM claim_lines ORDER BY id")
        .fetchall()
    )
    assert (
        shipped == con_j.execute("SELECT * EXCLUDE (_line) FROM claim_lines ORDER BY id").fetchall()
    )


def test_other_fields_kept_as_attributes(tmp_path: Path, reader: str) -> None:
    """Nothing dropped silently: a field the contract does not name is kept."""
    files = write_set(tmp_path, claim=changed("claims", 1, medical_type="21"))
    con, tables = load(files)
    assert tables.fast == (reader == "duckdb")
    got = con.execute("SELECT id, attributes FROM claims ORDER BY id").fetchall()
    assert [(i, None if a is None else json.loads(a)) for i, a in got][:3] == [
        ("C0001", None),
        ("C0002", {"medical_type": "21"}),
        ("C0003", None),
    ]


def test_other_csv_columns_kept_as_attributes(tmp_path: Path) -> None:
    files = write_csv_set(tmp_path, insured=changed("insured", 0, card_type="01"))
    con, tables = load(files)
    assert tables.fast
    got = con.execute("SELECT id, attributes FROM insured ORDER BY id").fetchall()
    assert [(i, None if a is None else json.loads(a)) for i, a in got][:2] == [
        ("P0001", {"card_type": "01"}),
        ("P0002", None),
    ]


def test_stock_is_optional(tmp_path: Path) -> None:
    files = write_set(tmp_path)
    del files["stock"]
    con, tables = load(files)
    assert tables.counts["stock"] == 0 and "stock" not in tables.files
    assert con.execute("SELECT count(*) FROM stock").fetchone() == (0,)


def test_empty_file_warns(tmp_path: Path) -> None:
    """Nothing dropped silently: an empty stock file is said, not taken as no movements."""
    files = write_set(tmp_path, stock=[])
    _, tables = load(files)
    assert [(w.code, Path(w.location.file or "").name) for w in tables.warnings] == [
        ("record.stock.empty", "stock.jsonl")
    ]


def test_blank_line_read_by_python_with_true_lines(tmp_path: Path) -> None:
    """A blank line (DuckDB would skip it and number the rest differently) is read by the
    Python reader; every record keeps its physical line."""
    files = write_set(tmp_path)
    text = files["line"].read_text(encoding="utf-8").splitlines(keepends=True)
    files["line"].write_text("".join([text[0], "\n", *text[1:]]), encoding="utf-8")
    con, tables = load(files)
    assert tables.python_read == ("line",) and not tables.fast
    assert con.execute("SELECT _line FROM claim_lines WHERE id = 'L0002'").fetchone() == (3,)
    assert tables.counts["claim_lines"] == 13


def test_python_path_gives_the_same_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    con_fast, _ = load(write_set(tmp_path))

    def refuse(*_: Any) -> Any:
        raise _Fallback

    monkeypatch.setattr(sql_claims, "_stage", refuse)
    con_py, tables = load(write_set(tmp_path))
    assert tables.python_read == ("insured", "claim", "line", "stock")
    for table in ("insured", "claims", "claim_lines", "stock"):
        sql = f"SELECT * FROM {table} ORDER BY id"
        assert con_fast.execute(sql).fetchall() == con_py.execute(sql).fetchall()


def test_reference_reader_holds_money_in_fen() -> None:
    records, lines, problems = read_claim_file(EXAMPLE / "lines.jsonl", LINES)
    assert problems == [] and lines["L0009"] == 9
    line = next(r for r in records if r.id == "L0009")
    assert isinstance(line, ClaimLine) and line.amount == 10 and line.unit_price == 10
    assert (
        sum(r.amount for r in records if isinstance(r, ClaimLine) and r.claim_id == "C0004") == 30
    )


# -- each check, located --------------------------------------------------------------------


def test_missing_required_field(tmp_path: Path, reader: str) -> None:
    files = write_set(tmp_path, claim=changed("claims", 2, setting=None))
    assert problem(files) == (
        "record.claim.missing",
        "claims.jsonl",
        "3",
        "setting",
        "required field is missing",
    )


def test_text_field_of_wrong_type(tmp_path: Path, reader: str) -> None:
    files = write_set(tmp_path, insured=changed("insured", 1, id=12))
    assert problem(files)[:4] == ("record.insured.type", "insured.jsonl", "2", "id")
    assert problem(files)[4] == "must be text (a JSON string), got 12"


def test_empty_text_refused(tmp_path: Path, reader: str) -> None:
    files = write_set(tmp_path, claim=changed("claims", 0, diagnosis=""))
    assert problem(files) == (
        "record.claim.type",
        "claims.jsonl",
        "1",
        "diagnosis",
        "is empty: leave the field out, or give a value",
    )


def test_money_as_json_float_refused(tmp_path: Path, reader: str) -> None:
    """Design "Claims data contract": money is never a float, even 12.5."""
    files = write_set(tmp_path, claim=changed("claims", 0, total=3120.5))
    assert problem(files)[:4] == ("record.claim.money-float", "claims.jsonl", "1", "total")


def test_money_two_decimals_accepted_three_refused(tmp_path: Path, reader: str) -> None:
    """At most two decimals: "129.50" reads, "129.505" (finer than a fen) does not."""
    ok = changed("lines", 0, unit_price="18.5", amount="129.50")
    load(write_set(tmp_path, line=ok))
    files = write_set(tmp_path, line=changed("lines", 0, amount="129.505"))
    assert problem(files) == (
        "record.line.money-decimals",
        "lines.jsonl",
        "1",
        "amount",
        'money has at most two decimals (a fen), got "129.505"',
    )


def test_money_not_a_number(tmp_path: Path, reader: str) -> None:
    files = write_set(tmp_path, claim=changed("claims", 3, fund_paid="0,30"))
    assert problem(files) == (
        "record.claim.type",
        "claims.jsonl",
        "4",
        "fund_paid",
        'an amount of yuan is a decimal string ("12.30") or an integer, got "0,30"',
    )


@pytest.mark.parametrize("day", ["2024/03/12", "2024-3-12", "2024-02-30", "20240312"])
def test_non_iso_date_refused(tmp_path: Path, reader: str, day: str) -> None:
    files = write_set(tmp_path, claim=changed("claims", 0, date=day))
    assert problem(files) == (
        "record.claim.date",
        "claims.jsonl",
        "1",
        "date",
        f'a date is written YYYY-MM-DD (a calendar day), got "{day}"',
    )


@pytest.mark.parametrize(
    ("what", "name", "field", "value", "choices"),
    [
        ("insured", "insured", "sex", "X", "M, F"),
        ("claim", "claims", "setting", "emergency", "outpatient, inpatient, pharmacy"),
        ("line", "lines", "item_type", "device", "drug, service, material"),
        ("stock", "stock", "direction", "return", "in, out"),
    ],
)
def test_unknown_enum_value(
    tmp_path: Path, reader: str, what: str, name: str, field: str, value: str, choices: str
) -> None:
    files = write_set(tmp_path, **{what: changed(name, 1, **{field: value})})
    assert problem(files) == (
        f"record.{what}.enum",
        f"{name}.jsonl",
        "2",
        field,
        f'unknown value "{value}": one of {choices}',
    )


def test_duplicate_id(tmp_path: Path, reader: str) -> None:
    records = rows("claims")
    records.append({**records[1], "insured_id": "P0002"})
    assert problem(write_set(tmp_path, claim=records)) == (
        "record.claim.duplicate-id",
        "claims.jsonl",
        "7",
        "id",
        'duplicate id "C0002" (first on line 2)',
    )


def test_line_naming_no_claim(tmp_path: Path, reader: str) -> None:
    files = write_set(tmp_path, line=changed("lines", 4, claim_id="C9999"))
    assert problem(files) == (
        "record.line.claim",
        "lines.jsonl",
        "5",
        "claim_id",
        'claim "C9999" is not in the claims file',
    )


def test_claim_naming_no_insured_person(tmp_path: Path, reader: str) -> None:
    files = write_set(tmp_path, claim=changed("claims", 5, insured_id="P9999"))
    assert problem(files) == (
        "record.claim.insured",
        "claims.jsonl",
        "6",
        "insured_id",
        'insured person "P9999" is not in the insured file',
    )


def test_claim_naming_no_institution_when_subjects_given(tmp_path: Path, reader: str) -> None:
    files = write_set(tmp_path, claim=changed("claims", 4, institution_id="Y9999999999"))
    assert problem(files) == (
        "record.claim.institution",
        "claims.jsonl",
        "5",
        "institution_id",
        'institution "Y9999999999" is not among the subjects',
    )
    load(files, subjects=None)  # no subjects given: institutions are not checked


def test_stock_naming_no_institution(tmp_path: Path, reader: str) -> None:
    files = write_set(tmp_path, stock=changed("stock", 2, institution_id="Y0"))
    assert problem(files)[:4] == ("record.stock.institution", "stock.jsonl", "3", "institution_id")


def test_amount_exactly_quantity_times_unit_price(tmp_path: Path, reader: str) -> None:
    """amount = quantity × unit_price, exact: 1.5 × 21.20 = 31.80 reads; 31.81 (one fen
    off) and 31.79 do not."""
    load(write_set(tmp_path))
    for amount in ("31.81", "31.79"):
        files = write_set(tmp_path, line=changed("lines", 5, amount=amount))
        assert problem(files) == (
            "record.line.amount",
            "lines.jsonl",
            "6",
            "amount",
            f"amount {amount} is not quantity × unit_price: 1.5 × 21.20 = 31.80",
        )


def test_amount_product_finer_than_a_fen(tmp_path: Path, reader: str) -> None:
    files = write_set(tmp_path, line=changed("lines", 5, quantity="0.333", amount="7.06"))
    assert problem(files)[4] == ("amount 7.06 is not quantity × unit_price: 0.333 × 21.20 = 7.0596")


def test_refund_line_with_negative_quantity_accepted(tmp_path: Path, reader: str) -> None:
    """A refund (退费) is a line of negative quantity and amount (L0007: -0.5 × 21.20)."""
    con, _ = load(write_set(tmp_path))
    assert con.execute(
        "SELECT quantity, amount FROM claim_lines WHERE id = 'L0007'"
    ).fetchone() == (
        Decimal("-0.5"),
        Decimal("-10.60"),
    )


def test_line_quantity_zero_refused(tmp_path: Path, reader: str) -> None:
    files = write_set(tmp_path, line=changed("lines", 7, quantity=0, amount="0"))
    assert problem(files)[:4] == ("record.line.range", "lines.jsonl", "8", "quantity")


@pytest.mark.parametrize(
    ("what", "name", "index", "field", "value", "message"),
    [
        ("claim", "claims", 2, "total", "-0.01", "must not be negative, got -0.01"),
        ("line", "lines", 1, "unit_price", "-40.00", "must not be negative, got -40.00"),
        ("stock", "stock", 0, "quantity", 0, "must be greater than 0, got 0"),
        ("stock", "stock", 0, "quantity", "-100", "must be greater than 0, got -100"),
        ("line", "lines", 0, "days_supply", 0, "must be greater than 0, got 0"),
    ],
)
def test_sign_refused(
    tmp_path: Path,
    reader: str,
    what: str,
    name: str,
    index: int,
    field: str,
    value: Any,
    message: str,
) -> None:
    record = changed(name, index, **{field: value})
    if field == "unit_price":
        record[index]["amount"] = "-280.00"
    files = write_set(tmp_path, **{what: record})
    assert problem(files) == (
        f"record.{what}.range",
        f"{name}.jsonl",
        str(index + 1),
        field,
        message,
    )


def test_zero_money_accepted(tmp_path: Path, reader: str) -> None:
    """fund_paid 0 (C0006: nothing paid by the fund) is not negative."""
    load(write_set(tmp_path))


@pytest.mark.parametrize("field", ["admitted_on", "discharged_on"])
def test_inpatient_claim_without_stay_dates(tmp_path: Path, reader: str, field: str) -> None:
    files = write_set(tmp_path, claim=changed("claims", 0, **{field: None}))
    assert problem(files) == (
        "record.claim.missing",
        "claims.jsonl",
        "1",
        field,
        "required on an inpatient claim (setting inpatient)",
    )


def test_discharged_on_the_admission_day_accepted_the_day_before_refused(
    tmp_path: Path, reader: str
) -> None:
    """C0002 is admitted and discharged on 2024-04-02 (a day case): read. Discharged on
    2024-04-01, the day before its admission: refused."""
    load(write_set(tmp_path))
    files = write_set(tmp_path, claim=changed("claims", 1, discharged_on="2024-04-01"))
    assert problem(files) == (
        "record.claim.stay",
        "claims.jsonl",
        "2",
        "discharged_on",
        "discharged_on 2024-04-01 is before admitted_on 2024-04-02",
    )


def test_days_supply_only_on_drug_lines(tmp_path: Path, reader: str) -> None:
    files = write_set(tmp_path, line=changed("lines", 1, days_supply=7))
    assert problem(files) == (
        "record.line.days-supply",
        "lines.jsonl",
        "2",
        "days_supply",
        "days_supply is given on drug lines only (this line's item_type is service)",
    )


def test_quantity_with_five_decimals_refused(tmp_path: Path, reader: str) -> None:
    files = write_set(tmp_path, stock=changed("stock", 4, quantity="12.50001"))
    assert problem(files)[:4] == ("record.stock.type", "stock.jsonl", "5", "quantity")


def test_days_supply_as_text_refused_in_json(tmp_path: Path, reader: str) -> None:
    files = write_set(tmp_path, line=changed("lines", 0, days_supply="7"))
    assert problem(files)[:4] == ("record.line.type", "lines.jsonl", "1", "days_supply")


def test_csv_money_with_three_decimals(tmp_path: Path, reader: str) -> None:
    files = write_csv_set(tmp_path, claim=changed("claims", 1, total="868.001"))
    assert problem(files) == (
        "record.claim.money-decimals",
        "claims.csv",
        "3",
        "total",
        'money has at most two decimals (a fen), got "868.001"',
    )


def test_not_json_located_by_the_python_reader(tmp_path: Path) -> None:
    files = write_set(tmp_path)
    text = files["claim"].read_text(encoding="utf-8").splitlines(keepends=True)
    text[2] = text[2].replace('"setting"', "setting")
    files["claim"].write_text("".join(text), encoding="utf-8")
    code, name, line, _, _ = problem(files)
    assert (code, name, line) == ("record.claim.json", "claims.jsonl", "3")


def test_first_problems_of_every_file_in_one_error(tmp_path: Path) -> None:
    files = write_set(
        tmp_path,
        insured=changed("insured", 3, sex="U"),
        line=changed("lines", 2, amount="2711.01"),
    )
    with pytest.raises(RecordError) as caught:
        load(files)
    assert [(p.code, p.location.line) for p in caught.value.problems] == [
        ("record.insured.enum", 4),
        ("record.line.amount", 3),
    ]
    assert str(caught.value.problems[0]).endswith(
        'insured.jsonl:4: sex: unknown value "U": one of M, F [record.insured.enum]'
    )


def test_many_problems_capped(tmp_path: Path) -> None:
    records = [{**rows("lines")[0], "id": f"L{i}", "amount": "1.001"} for i in range(80)]
    with pytest.raises(RecordError) as caught:
        load(write_set(tmp_path, line=records))
    assert len(caught.value.problems) == 50
    assert [p.location.line for p in caught.value.problems] == list(range(1, 51))


# -- properties -----------------------------------------------------------------------------


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.randoms(use_true_random=False))
def test_shuffled_lines_give_the_same_tables(
    tmp_path_factory: pytest.TempPathFactory, rnd: random.Random
) -> None:
    """Deterministic whatever the order of the input (design, principle 5)."""
    folder = tmp_path_factory.mktemp("shuffle")
    base = {w: rows(n) for w, n in FILES.items()}
    shuffled = {w: rnd.sample(r, len(r)) for w, r in base.items()}
    con_a, _ = load(write_set(folder, **base))
    con_b, tables = load(write_set(folder, **shuffled))
    assert tables.fast
    for table in ("insured", "claims", "claim_lines", "stock"):
        sql = f"SELECT * EXCLUDE (_line) FROM {table} ORDER BY id"
        assert con_a.execute(sql).fetchall() == con_b.execute(sql).fetchall()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.integers(-(10**6), 10**6),
    st.integers(0, 10**6),
)
def test_amount_check_is_exact(tmp_path_factory: pytest.TempPathFactory, q: int, fen: int) -> None:
    """Whatever the quantity (to 1/1000) and price: the amount that is their product to the
    fen reads, one fen more does not; both readers agree."""
    if q == 0:
        return
    quantity = Decimal(q) / 1000
    price = Decimal(fen) / 100
    product = quantity * price
    folder = tmp_path_factory.mktemp("amount")
    line = {**rows("lines")[1], "quantity": str(quantity), "unit_price": f"{price:.2f}"}
    exact = product == product.quantize(Decimal("0.01"))
    amount = product.quantize(Decimal("0.01"))
    for value, fine in ((amount, exact), (amount + Decimal("0.01"), False)):
        path = write_jsonl(folder / "lines.jsonl", [{**line, "amount": f"{value:.2f}"}])
        _, _, problems = read_claim_file(path, LINES)
        assert (problems == []) == fine
        try:
            load({**write_set(folder, line=[{**line, "amount": f"{value:.2f}"}])}, None)
        except RecordError as exc:
            assert not fine
            assert [p.code for p in exc.problems] == [p.code for p in problems]
        else:
            assert fine


# -- the fast path at scale -----------------------------------------------------------------


def test_200k_lines_read_on_the_duckdb_path(tmp_path: Path) -> None:
    """A generated file of 200,000 claim lines is read and checked by DuckDB alone (no
    timing asserted: performance is measured in benchmarks/)."""
    claims = [
        {
            "id": f"C{i:06d}",
            "institution_id": "H3305010001",
            "insured_id": "P0001",
            "setting": "outpatient",
            "date": "2024-05-06",
            "total": "0.30",
            "fund_paid": "0.30",
        }
        for i in range(20_000)
    ]
    files = write_set(tmp_path, claim=claims)
    path = files["line"]
    with path.open("w", encoding="utf-8") as out:
        for i in range(200_000):
            out.write(
                f'{{"id":"L{i:07d}","claim_id":"C{i // 10:06d}","item_code":"002507000020000",'
                f'"item_type":"service","date":"2024-05-06","quantity":3,"unit_price":"0.10",'
                f'"amount":"0.30"}}\n'
            )
    con, tables = load(files)
    assert tables.fast and tables.counts["claim_lines"] == 200_000
    assert con.execute("SELECT sum(amount) FROM claim_lines").fetchone() == (Decimal("60000.00"),)


# -- the guards read a file a chunk at a time ------------------------------------------------

# Chunk sizes that cut each pattern below at every point, and a run of white space longer
# than a chunk and than the window the guards look at first (64 bytes).
CHUNKS = (1, 2, 3, 5, 8, 13, 64, 65, 100)
SPACES = " \t" * 60


def edited(folder: Path, name: str, index: int, edit: Callable[[str], str]) -> dict[str, Path]:
    """The example set in ``folder`` with line ``index`` of file ``name`` rewritten as text."""
    files = write_set(folder)
    path = files[next(k for k, v in FILES.items() if v == name)]
    text = path.read_text(encoding="utf-8").splitlines(keepends=True)
    text[index] = edit(text[index])
    path.write_text("".join(text), encoding="utf-8")
    return files


@pytest.mark.parametrize("size", CHUNKS)
def test_trailing_comma_across_chunks_still_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    """DuckDB takes ``{"a": 1,  }``, the Python reader does not: the guard finds the comma
    and the brace however far apart the chunks put them."""
    monkeypatch.setattr(sql_tables, "_CHUNK", size)
    files = edited(tmp_path, "insured", 1, lambda line: line[:-2] + "," + SPACES + "}\n")
    code, name, line, _, message = problem(files)
    assert (code, name, line) == ("record.insured.json", "insured.jsonl", "2")
    assert message.startswith("not a JSON object: Expecting property name")


@pytest.mark.parametrize("word", ["NaN", "-Infinity"])
@pytest.mark.parametrize("size", CHUNKS)
def test_nan_across_chunks_still_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int, word: str
) -> None:
    """DuckDB reads NaN and Infinity as numbers (here in a field beyond the contract's, kept
    as an attribute), the Python reader refuses them: found wherever a chunk ends."""
    monkeypatch.setattr(sql_tables, "_CHUNK", size)
    files = edited(tmp_path, "claims", 1, lambda line: line[:-2] + f', "score": {word}}}\n')
    code, name, line, _, message = problem(files)
    assert (code, name, line) == ("record.claim.json", "claims.jsonl", "2")
    assert word.lstrip("-") in message


@pytest.mark.parametrize("size", CHUNKS)
def test_lone_cr_across_chunks_read_by_python_crlf_by_duckdb(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    """A CR alone (the Python reader breaks the line there, DuckDB does not) sends the file to
    the Python reader; a CR LF cut between two chunks is one line break, read by DuckDB."""
    monkeypatch.setattr(sql_tables, "_CHUNK", size)
    files = edited(tmp_path, "insured", 1, lambda line: line[:-1] + "\r" + SPACES + "\n")
    _, tables = load(files)
    assert tables.python_read == ("insured",)
    files = write_set(tmp_path)
    for path in files.values():
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    con, tables = load(files)
    assert tables.fast and tables.counts["claim_lines"] == 13
    assert con.execute("SELECT _line FROM claim_lines WHERE id = 'L0013'").fetchone() == (13,)


@pytest.mark.parametrize("size", CHUNKS)
def test_csv_space_before_quote_across_chunks_read_by_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    """White space then a quote opening a cell: Python's ``csv`` keeps the quote as text,
    DuckDB would read a quoted cell; found across chunks after a long run of white space."""
    monkeypatch.setattr(sql_tables, "_CHUNK", size)
    files = write_csv_set(tmp_path)
    path = files["insured"]
    text = path.read_text(encoding="utf-8").splitlines(keepends=True)
    text[2] = text[2].replace(",330503", "," + SPACES + '"330503"')
    path.write_text("".join(text), encoding="utf-8")
    con, tables = load(files)
    assert tables.python_read == ("insured",)
    got = con.execute("SELECT region FROM insured WHERE id = 'P0002'").fetchone()
    assert got == ('"330503"',)


def test_kinds_cover_the_contract() -> None:
    """The four files of the design's claims data contract, with its fields."""
    assert INSURED.names == ("id", "sex", "birth_date", "region")
    assert "fund_paid" in CLAIMS.names and "days_supply" in LINES.names
    assert STOCK.names == ("id", "institution_id", "item_code", "date", "direction", "quantity")


def test_other_encoding_read_by_duckdb_through_a_utf8_copy(tmp_path: Path) -> None:
    """A GB18030 export (common for 医保 systems) with ``encoding="gb18030"``."""
    records = changed("insured", 0, full_name="张三")
    files = write_set(tmp_path, insured=records)
    for path in files.values():
        path.write_bytes(path.read_text(encoding="utf-8").encode("gb18030"))
    con = duckdb.connect()
    tables = load_claims(
        con,
        claims=files["claim"],
        lines=files["line"],
        insured=files["insured"],
        stock=files["stock"],
        encoding="gb18030",
    )
    assert tables.fast
    got = con.execute("SELECT attributes FROM insured WHERE id = 'P0001'").fetchone()
    assert got is not None and json.loads(got[0]) == {"full_name": "张三"}


def test_codes_are_documented() -> None:
    """Every code the readers raise is in docs/errors.md (section "Claims record errors")."""
    text = (EXAMPLE.parent.parent.parent / "docs" / "errors.md").read_text("utf-8")
    section = text.split("## Claims record errors", 1)[1].split("\n## ", 1)[0]
    for code in (
        "record.*.missing", "record.*.type", "record.*.date", "record.*.enum",
        "record.*.money-float", "record.*.money-decimals", "record.*.range",
        "record.claim.stay", "record.line.days-supply", "record.line.amount",
        "record.*.duplicate-id", "record.line.claim", "record.claim.insured",
        "record.claim.institution", "record.stock.institution", "record.*.empty",
    ):  # fmt: skip
        assert f"`{code}`" in section
