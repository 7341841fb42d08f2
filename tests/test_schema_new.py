"""Editor support (issue 15 item 9): ``yibao-credit schema`` and ``yibao-credit new``.

The JSON Schema is generated from the pydantic models ``validate`` checks a pack against, so an
editor flags while the analyst types what loading would refuse (pack-format.md §13, "Starting a
pack"): every shipped pack, version, tests file and manifest validates against it, and a
misspelt key is rejected. ``new`` writes a skeleton pack and tests file that validate and pass
as written, every value provisional (design.md principle 2: a value no text sets says so).

The schema is checked with ``jsonschema_rs`` (Draft 2020-12, formats asserted), which the test
extra installs with schemathesis; the library itself never imports it.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import string
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import yibao_credit as yc
from yibao_credit.audit.schema import AuditPackModel
from yibao_credit.cli.authoring import json_schema, skeleton
from yibao_credit.cli.main import main
from yibao_credit.pack.schema import PackModel
from yibao_credit.packtest.cases import check_tests, read_tests, run_case

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
SCHEMA = json_schema()
VALIDATOR = jsonschema_rs.Draft202012Validator(SCHEMA, validate_formats=True)


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def plain(node: Any) -> Any:
    """A YAML document as an editor's YAML server hands it to the schema: dates (values and
    the dated keys of a parameter's ``values``) are the text they were written as."""
    if isinstance(node, dict):
        return {
            (k.isoformat() if isinstance(k, dt.date) else str(k)): plain(v) for k, v in node.items()
        }
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, dt.date):
        return node.isoformat()
    return node


def load(path: Path | str) -> Any:
    return plain(yaml.safe_load(Path(path).read_text("utf-8")))


def errors(data: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in VALIDATOR.iter_errors(data)
    ]


SHIPPED = sorted(p for p in POLICIES.rglob("*.yaml"))
AUDIT_PACKS = [p for p in SHIPPED if p.name == "audit.yaml"]
PACKS = [
    p
    for p in SHIPPED
    if not p.name.endswith(".tests.yaml") and p.name != "jiangsu_perf.yaml" and p not in AUDIT_PACKS
]


def test_the_schema_is_a_valid_draft_2020_12_schema_with_an_id() -> None:
    assert jsonschema_rs.meta.is_valid(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"].startswith("urn:yibao-credit:pack-schema:")
    assert SCHEMA["title"] and "yaml-language-server" in SCHEMA["description"]
    defs = SCHEMA["$defs"]
    # extra="forbid" in every model: no key is ever ignored
    assert all(d.get("additionalProperties") is False for n, d in defs.items() if "properties" in d)
    assert defs["PackModel"]["required"] == ["pack", "rulesets"]


@pytest.mark.parametrize("path", PACKS, ids=lambda p: str(p.relative_to(POLICIES)))
def test_every_shipped_pack_and_version_validates(path: Path) -> None:
    """Including ``jiangsu_perf_2024.yaml`` and ``suqian_perf_2024.yaml``, which ``extends:``
    another pack and write only what they change."""
    assert errors(load(path)) == []


@pytest.mark.parametrize("path", AUDIT_PACKS, ids=lambda p: str(p.relative_to(POLICIES)))
def test_every_shipped_audit_pack_fits_the_audit_schema(path: Path) -> None:
    """An audit pack (``audit.yaml``, 湖政办函〔2019〕14号 四(三)) is not a credit pack: it fits
    the audit pack's own schema, and the credit pack's schema refuses it."""
    audit = jsonschema_rs.Draft202012Validator(AuditPackModel.model_json_schema(by_alias=True))
    data = load(path)
    assert [e.message for e in audit.iter_errors(data)] == []
    assert errors(data) != []


@pytest.mark.parametrize(
    "path",
    [p for p in SHIPPED if p not in PACKS and p not in AUDIT_PACKS],
    ids=lambda p: str(p.relative_to(POLICIES)),
)
def test_every_shipped_tests_file_and_the_manifest_validate(path: Path) -> None:
    assert errors(load(path)) == []


def zhenjiang() -> Any:
    return load(POLICIES / "zhenjiang.yaml")


def test_a_misspelt_top_level_key_is_rejected() -> None:
    data = zhenjiang()
    data["rulsets"] = data.pop("rulesets")
    found = errors(data)
    assert any("'rulsets' was unexpected" in e for e in found)
    assert any('"rulesets" is a required property' in e for e in found)


def test_a_misspelt_key_deep_in_a_pack_is_rejected_where_it_is() -> None:
    """镇医保〔2024〕82号 三(一)1(1)'s fact with ``wehre:`` for ``where:``."""
    data = zhenjiang()
    fact = data["rulesets"]["institution"]["facts"]["violations"]
    fact["wehre"] = fact.pop("where")
    assert errors(data) == [
        "rulesets/institution/facts/violations: Additional properties are not allowed "
        "('wehre' was unexpected)"
    ]


def test_a_rule_without_clause_or_provisional_is_rejected() -> None:
    """design.md principle 2: every rule cites its clause or says it is provisional."""
    data = zhenjiang()
    del data["rulesets"]["institution"]["facts"]["violations"]["clause"]
    assert errors(data) != []
    data["rulesets"]["institution"]["facts"]["violations"]["provisional"] = "待确认"
    assert errors(data) == []


def test_a_bare_string_title_is_rejected() -> None:
    data = zhenjiang()
    data["windows"]["lookback_1y"]["title"] = "1年之内"
    assert any("lookback_1y/title" in e for e in errors(data))


def test_a_misspelt_key_in_a_pack_that_extends_another_is_rejected() -> None:
    """An extending pack needs no required key, but its keys are still checked."""
    data = load(POLICIES / "suqian_perf_2024.yaml")
    data["rulesets"]["inpatient"]["fatcs"] = data["rulesets"]["inpatient"].pop("facts")
    assert errors(data) == [
        "rulesets/inpatient: Additional properties are not allowed ('fatcs' was unexpected)"
    ]
    data = load(POLICIES / "suqian_perf_2024.yaml")
    data["pack"]["provisional"] = None  # ``key: null`` removes the base's value
    assert errors(data) == []


def test_expect_score_in_a_tests_file_is_rejected() -> None:
    data = load(POLICIES / "jinan.tests.yaml")
    data["cases"][0]["expect"]["H1"]["score"] = 92
    assert errors(data) == [
        "cases/0/expect/H1: Additional properties are not allowed ('score' was unexpected)"
    ]


def score_item(**extra: Any) -> dict[str, Any]:
    return {"id": "x", "title": {"zh": "项"}, "points": -5, "provisional": "示例", **extra}


@pytest.mark.parametrize("cap", [0, -1, 0.5, 3, "1 0", "violation_cap", "5", "cap two", None])
def test_an_items_cap_is_accepted_by_the_schema_iff_by_the_model(cap: Any) -> None:
    """A cap is a number > 0 or a parameter's name (``number_or_parameter``), in both."""
    item = score_item(cap=cap)
    sub = jsonschema_rs.Draft202012Validator(
        {"$ref": "#/$defs/ScoreItem", "$defs": SCHEMA["$defs"]}, validate_formats=True
    )
    from yibao_credit.pack.schema import ScoreItem

    try:
        ScoreItem.model_validate(item)
        model_ok = True
    except ValidationError:
        model_ok = False
    assert sub.is_valid(item) == model_ok


@pytest.mark.parametrize("weight", [0, -1, 0.5, "fund_weight", "w x"])
def test_a_categorys_weight_is_accepted_by_the_schema_iff_by_the_model(weight: Any) -> None:
    from yibao_credit.pack.schema import ScoreCategory

    category = {
        "id": "c",
        "title": {"zh": "类"},
        "items": [score_item()],
        "weight": weight,
        "provisional": "示例",
    }
    sub = jsonschema_rs.Draft202012Validator(
        {"$ref": "#/$defs/ScoreCategory", "$defs": SCHEMA["$defs"]}, validate_formats=True
    )
    try:
        ScoreCategory.model_validate(category)
        model_ok = True
    except ValidationError:
        model_ok = False
    assert sub.is_valid(category) == model_ok


def _mappings(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(node, dict):
        out.append(path)
        for k, v in node.items():
            out += _mappings(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _mappings(v, (*path, i))
    return out


_BASES = {name: load(POLICIES / name) for name in ("zhenjiang.yaml", "jinan.yaml")}
_PATHS = [(name, p) for name, data in _BASES.items() for p in _mappings(data)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    where=st.sampled_from(_PATHS),
    key=st.text(string.ascii_lowercase, min_size=1, max_size=6).map(lambda t: "zz" + t),
    value=st.sampled_from([1, "x", True, None]),
)
def test_an_unknown_key_anywhere_is_refused_by_the_schema_iff_by_the_model(
    where: tuple[str, tuple[Any, ...]], key: str, value: Any
) -> None:
    """Always: a key no model has, added to any mapping of a shipped pack, is accepted by the
    schema exactly when the pack's model accepts it (a measure's free ``params`` take any key;
    a section keyed by identifiers takes a new one only with a value of the right shape)."""
    name, path = where
    data = copy.deepcopy(_BASES[name])
    node = data
    for part in path:
        node = node[part]
    node[key] = value
    try:
        PackModel.model_validate(data)
        model_ok = True
    except ValidationError:
        model_ok = False
    assert VALIDATOR.is_valid(data) == model_ok, (name, path, key, value)


def test_schema_command_writes_the_same_schema_to_a_file_or_to_standard_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = cli(capsys, "schema")
    assert (code, err) == (0, "")
    assert json.loads(out) == SCHEMA
    target = tmp_path / "pack.schema.json"
    code, out2, _ = cli(capsys, "schema", "--output", target)
    assert (code, out2) == (0, "")
    assert target.read_text("utf-8") == out
    assert [p.name for p in tmp_path.iterdir()] == ["pack.schema.json"]  # no temporary left
    code, _, err = cli(capsys, "schema", "--output", tmp_path)
    assert code == 1 and err == f"error: --output {tmp_path} is a folder: name a file in it\n"


# -- new ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["criteria", "score"])
def test_new_writes_a_skeleton_that_validates_and_whose_tests_pass(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    code, out, err = cli(capsys, "new", f"--{kind}", "demo", "--dir", tmp_path)
    assert (code, err) == (0, "")
    pack, tests = tmp_path / "demo.yaml", tmp_path / "demo.tests.yaml"
    assert out.startswith(f"wrote {pack} ({kind} grading) and {tests} (2 cases)")
    for f in (pack, tests):
        assert f.read_text("utf-8").startswith(
            "# yaml-language-server: $schema=./pack.schema.json\n"
        )
        assert errors(load(f)) == []
    code, out, err = cli(capsys, "validate", pack, tests)
    assert (code, err) == (0, "")
    assert f"{tests}: ok — 2 test case(s) of pack demo 0.1" in out
    code, out, err = cli(capsys, "test", pack, "-v")
    assert (code, err) == (0, "")
    assert out.endswith("2 passed, 0 failed\n")


@pytest.mark.parametrize("kind", ["criteria", "score"])
def test_every_value_of_the_skeleton_is_provisional(tmp_path: Path, kind: str) -> None:
    """design.md principle 2: nothing in a skeleton is published, so nothing cites a clause;
    each placeholder says what must replace it."""
    pack_text, _ = skeleton("demo", kind, 2025)
    assert "clause" not in _keys(yaml.safe_load(pack_text))
    (tmp_path / "demo.yaml").write_text(pack_text, "utf-8")
    policy = yc.load_policy(tmp_path / "demo.yaml")
    assert all(step.clause is None for rs in policy.rulesets.values() for step in _steps(rs))
    notes = policy.provisional()
    assert notes and all("TODO" in p.get("zh") and "TODO" in p.get("en") for p in notes)


def _keys(node: Any) -> set[str]:
    if isinstance(node, dict):
        return {str(k) for k in node} | {k for v in node.values() for k in _keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in _keys(v)}
    return set()


def _steps(rs: Any) -> list[Any]:
    out = [f.step for f in rs.facts] + [rs.default] + list(rs.window_steps.values())
    out += [r.step for r in rs.rules] + [c.step for r in rs.rules for c in r.criteria]
    if rs.score is not None:
        out += [rs.score.step] + [b.step for b in rs.score.bands]
        out += [c.step for c in rs.score.categories]
        out += [i.step for c in rs.score.categories for i in c.items]
    return out


def test_new_never_overwrites_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    existing = tmp_path / "demo.yaml"
    existing.write_text("# my own work\n", "utf-8")
    code, out, err = cli(capsys, "new", "--score", "demo", "--dir", tmp_path)
    assert (code, out) == (1, "")
    assert err == f"error: {existing} exists already: new never overwrites a file\n"
    assert existing.read_text("utf-8") == "# my own work\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.yaml"]  # no tests file either
    (tmp_path / "other.tests.yaml").write_text("cases: []\n", "utf-8")
    code, _, err = cli(capsys, "new", "--criteria", "other", "--dir", tmp_path)
    assert code == 1 and "other.tests.yaml exists already" in err
    assert not (tmp_path / "other.yaml").exists()


def test_new_refuses_an_id_that_is_not_an_identifier_and_a_missing_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["new", "--criteria", "镇江-2025", "--dir", str(tmp_path)])
    assert info.value.code == 2
    assert "is not an identifier" in capsys.readouterr().err
    code, _, err = cli(capsys, "new", "--criteria", "x", "--dir", tmp_path / "nope")
    assert (
        code == 1 and err == f"error: --dir {tmp_path / 'nope'} is not a folder (it must exist)\n"
    )
    assert list(tmp_path.iterdir()) == []


_IDS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,11}", fullmatch=True)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pack_id=_IDS, kind=st.sampled_from(["criteria", "score"]), year=st.integers(1995, 2090))
def test_a_skeleton_validates_and_passes_whatever_its_id_and_year(
    tmp_path_factory: pytest.TempPathFactory, pack_id: str, kind: str, year: int
) -> None:
    """Always: ``new`` for any identifier and any year gives a pack that loads, a tests file
    that checks, and cases that pass (the 1年之内 edge across a leap day included)."""
    folder = tmp_path_factory.mktemp("skeleton")
    pack_text, tests_text = skeleton(pack_id, kind, year)
    (folder / f"{pack_id}.yaml").write_text(pack_text, "utf-8")
    (folder / f"{pack_id}.tests.yaml").write_text(tests_text, "utf-8")
    tests, policy = check_tests(folder / f"{pack_id}.tests.yaml")
    assert policy.id == pack_id
    loaded = read_tests(folder / f"{pack_id}.tests.yaml")
    for i in range(len(loaded.model.cases)):
        outcome = run_case(policy, loaded, i)
        assert outcome.passed, outcome.failures
    assert len(tests.model.cases) == 2
