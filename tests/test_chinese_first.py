"""Issue 14 item 12, "Chinese first": a pack's readings in the users' language.

``note:`` and ``provisional:`` take ``{zh, en}`` as titles do (a plain string stays valid and
reads the same in both languages); every note and provisional text of the shipped packs has a
Chinese version, and ``--lang zh`` shows it — in ``validate --provisional``, in the trace of
``evaluate`` and ``explain`` and in ``allocate`` — while ``--lang en`` shows the English. A
clause reference that names a document's subject rather than a clause number (医保发〔2024〕23号
as the seeds summarise it) says so with ``kind: subject``, and the trace marks it.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import yibao_credit as yc
from yibao_credit.cli.main import main
from yibao_credit.pack.manifest import is_manifest
from yibao_credit.pack.schema import ClauseRef, MaybeProvisional, Provenance, Text
from yibao_credit.pack.sourcemap import format_path
from yibao_credit.render.results import write_results
from yibao_credit.render.trace import render_text

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"
SHIPPED = sorted(
    p
    for p in [*POLICIES.glob("*.yaml"), *(POLICIES / "jiangsu_perf").glob("*.yaml")]
    if not p.name.endswith(".tests.yaml") and not is_manifest(p)
)
"""Every pack file the project ships (the manifest policies/jiangsu_perf.yaml names versions
and holds no reading)."""
SHENZHEN = POLICIES / "shenzhen.yaml"
ZHENJIANG = POLICIES / "zhenjiang.yaml"
SZ_EXAMPLES = ROOT / "examples" / "shenzhen"
CJK = re.compile(r"[\u4e00-\u9fff]")

CITY = """\
pack:
  id: city
  name: {zh: 测试市医保信用评价, en: test city credit evaluation}
  jurisdiction: {name: 测试市}
  version: "1"
  effective: {from: 2024-01-01}
  sources:
    - {id: doc, number: 测医保〔2024〕1号, title: 测试市医保信用评价办法, issuer: 测试市医疗保障局}
windows:
  year:
    title: {zh: 评价年度, en: evaluation year}
    type: calendar_year
    cycle: completed
    clause: 一
    note: NOTE
rulesets:
  institution:
    title: {zh: 定点医药机构, en: institutions}
    applies_to: {type: institution}
    facts:
      violations:
        title: {zh: 评价年度内违法次数, en: violations in the year}
        op: count
        where: kind == 'violation'
        window: year
        clause: 二
    grading:
      type: criteria
      grades:
        - {label: A, title: {zh: 守信, en: trustworthy}}
        - {label: B, title: {zh: 失信, en: untrustworthy}}
      rules:
        - grade: B
          clause: 三
          provisional: PROV
          any:
            - id: one_violation
              title: {zh: 有违法记录, en: a violation}
              when: violations >= 1
              clause: {source: doc, ref: 三(一), kind: KIND}
      default: {grade: A, clause: 三}
"""
"""A small pack whose window note, rule provisional and criterion clause kind a test fills in."""

NOTE_ZH = "评价年度为评测日已经结束的最近一个自然年度。"
NOTE_EN = "The year evaluated is the last calendar year that has ended on as_of."
PROV_ZH = "以一次违法认定失信,待测试市医疗保障局确定。"
PROV_EN = "One violation makes an institution untrustworthy, until the bureau decides."
BILINGUAL = {
    "NOTE": f"{{zh: {NOTE_ZH}, en: {NOTE_EN}}}",
    "PROV": f"\n            zh: {PROV_ZH}\n            en: {PROV_EN}",
    "KIND": "article",
}


def city(tmp_path: Path, **parts: str) -> Path:
    text = CITY
    for key, value in {**BILINGUAL, **parts}.items():
        assert text.count(key) == 1, key
        text = text.replace(key, value)
    path = tmp_path / "city.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def graded(pack: yc.Policy, *, violation: bool = True) -> yc.Result:
    events = [{"id": "v1", "subject_id": "C", "kind": "violation", "date": "2024-05-10"}]
    run = pack.evaluate(
        [{"id": "C", "type": "institution", "category": "clinic"}],
        events if violation else [],
        as_of=dt.date(2025, 3, 1),
    )
    result = run.get("C")
    assert result is not None
    return result


def cli(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def trace_step(result: yc.Result, name: str, lang: str) -> dict[str, Any]:
    (found,) = [s for s in yc.result_to_dict(result, lang)["trace"] if s["step"] == name]
    return dict(found)


# -- the schema: a plain string, or {zh, en} ---------------------------------------------------


def test_issue14_item12_a_plain_note_stays_valid_and_reads_the_same_in_both_languages(
    tmp_path: Path,
) -> None:
    """Issue 14 item 12: packs written before — every reading a plain string — load as they
    did; a plain string is shown as written whatever the language."""
    pack = yc.load_policy(
        city(tmp_path, NOTE="a plain reading", PROV="a plain provisional decision")
    )
    window = pack.model.windows["year"]
    assert window.note == "a plain reading"
    result = graded(pack)
    for lang in ("zh", "en"):
        text = render_text(result, lang)
        assert "  * a plain reading" in text
        assert trace_step(result, "grade.B", lang)["provisional"] == "a plain provisional decision"
    (listed,) = pack.provisional()
    assert listed.get("zh") == listed.get("en") == listed.note == "a plain provisional decision"


def test_issue14_item12_note_and_provisional_take_zh_and_en_like_titles(tmp_path: Path) -> None:
    """Issue 14 item 12: ``{zh, en}`` as titles have it; the trace and the readable
    explanation give the Chinese under ``zh`` and the English under ``en``, for the window's
    note and the rule's provisional alike."""
    pack = yc.load_policy(city(tmp_path))
    assert pack.model.windows["year"].note == Text(zh=NOTE_ZH, en=NOTE_EN)
    result = graded(pack)
    zh, en = render_text(result, "zh"), render_text(result, "en")
    assert f"解读:\n  * {NOTE_ZH}" in zh and NOTE_EN not in zh
    assert f"暂定(待确认): {PROV_ZH}" in zh and PROV_EN not in zh
    assert f"reading:\n  * {NOTE_EN}" in en and NOTE_ZH not in en
    assert f"provisional: {PROV_EN}" in en and PROV_ZH not in en
    assert trace_step(result, "grade.B", "zh")["provisional"] == PROV_ZH
    assert trace_step(result, "grade.B", "en")["provisional"] == PROV_EN


def test_issue14_item12_a_chinese_only_reading_stands_in_for_english(tmp_path: Path) -> None:
    """Issue 14 item 12, "Chinese first": ``zh`` is required and ``en`` is not; as for a
    title, the Chinese is shown in English output when no English is given."""
    pack = yc.load_policy(city(tmp_path, PROV=f'{{zh: "{PROV_ZH}"}}'))
    result = graded(pack)
    assert trace_step(result, "grade.B", "en")["provisional"] == PROV_ZH


@pytest.mark.parametrize(
    ("part", "value", "code", "path", "message"),
    [
        (
            "NOTE",
            f"{{zh: {NOTE_ZH}, fr: une lecture}}",
            "pack.schema.extra_forbidden",
            "windows.year.note.fr",
            "unknown key 'fr'",
        ),
        (
            "PROV",
            f"\n            zh: {PROV_ZH}\n            english: {PROV_EN}",
            "pack.schema.extra_forbidden",
            "rulesets.institution.grading.rules[0].provisional.english",
            "unknown key 'english'",
        ),
        (
            "PROV",
            f'{{en: "{PROV_EN}"}}',
            "pack.schema.missing",
            "rulesets.institution.grading.rules[0].provisional.zh",
            "required key 'zh' is missing",
        ),
        (
            "NOTE",
            "42",
            "pack.schema.reading",
            "windows.year.note",
            "a mapping {zh: ..., en: ...}",
        ),
    ],
    ids=["unknown-key-flow", "unknown-key-block", "no-zh", "not-a-text"],
)
def test_issue14_item12_a_wrong_reading_mapping_is_a_located_error(
    tmp_path: Path, part: str, value: str, code: str, path: str, message: str
) -> None:
    """Issue 14 item 12: the ``{zh, en}`` mapping is checked as a title is — an unknown key
    (``fr``, a misspelt ``english``), a missing ``zh`` or a value that is no text is one error
    with file, line, column and the path inside the pack, never ignored."""
    pack_path = city(tmp_path, **{part: value})
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(pack_path)
    (problem,) = info.value.problems
    assert problem.code == code
    assert message in problem.message
    loc = problem.location
    assert loc.path == path and loc.file == str(pack_path)
    assert loc.line is not None and loc.column is not None
    lines = pack_path.read_text(encoding="utf-8").splitlines()
    key = path.rsplit(".", 1)[-1]
    if code == "pack.schema.extra_forbidden":  # at the unknown key itself
        assert lines[loc.line - 1][loc.column - 1 :].startswith(key)
    else:  # at the reading
        assert "note" in lines[loc.line - 1] or "provisional" in lines[loc.line - 1]


# -- --lang in every command that prints a reading --------------------------------------------


def test_issue14_item12_validate_provisional_lists_chinese_with_lang_zh(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 14 item 12: ``validate --provisional`` printed English readings whatever the
    users' language. ``--lang zh`` (the default) lists each provisional value's Chinese text,
    ``--lang en`` its English, at the same file, line and path."""
    policy = yc.load_policy(SHENZHEN)
    values = policy.provisional()
    listed = {}
    for lang in ("zh", "en"):
        code, out, _ = cli(capsys, "validate", SHENZHEN, "--provisional", "--lang", lang)
        assert code == 0
        listed[lang] = [line for line in out.splitlines() if line.startswith("  ")]
        assert len(listed[lang]) == len(values)
        for line, value in zip(listed[lang], values, strict=True):
            assert line.endswith(f": provisional: {value.get(lang)}"), line
    _, default, _ = cli(capsys, "validate", SHENZHEN, "--provisional")
    assert [line for line in default.splitlines() if line.startswith("  ")] == listed["zh"]
    repair = next(line for line in listed["zh"] if ": repair: " in line)
    assert "引导达到修复条件的违规定点医药机构主动纠正失信行为" in repair
    assert "credit repair" not in repair
    repair_en = next(line for line in listed["en"] if ": repair: " in line)
    assert "complete a credit repair" in repair_en


def test_issue14_item12_validate_provisional_of_a_manifest_in_both_languages(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 14 item 12: the manifest policies/jiangsu_perf.yaml lists the provisional values of
    every version once, in the language asked for."""
    manifest = POLICIES / "jiangsu_perf.yaml"
    _, zh, _ = cli(capsys, "validate", manifest, "--provisional", "--lang", "zh")
    _, en, _ = cli(capsys, "validate", manifest, "--provisional", "--lang", "en")
    zh_label = "(或设区市依二(二)形成的评价评分标准)须规定等级名称;《办法》未印出任何等级名称"
    en_label = "must name the grades; the 办法 prints no grade label"
    zh_lines, en_lines = zh.splitlines(), en.splitlines()
    assert len(zh_lines) == len(en_lines) > 1
    assert any(f"grades[0]: provisional: 附件1、附件2{zh_label}" in line for line in zh_lines)
    assert any("grades[0]: provisional: 附件1/附件2 (or the" in line for line in en_lines)
    assert any(line.endswith(en_label) for line in en_lines)
    for zh_line, en_line in zip(zh_lines[1:], en_lines[1:], strict=True):
        assert zh_line.split(": provisional: ")[0] == en_line.split(": provisional: ")[0]


def test_issue14_item12_explain_shows_the_chinese_readings_of_a_shipped_pack(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 14 item 12: today's ``explain --lang zh`` printed the English readings. On the
    Shenzhen example (its 2024 results made in 2025): the reading of 首段/二(二) on which year
    is evaluated, and the provisional band, are Chinese under ``--lang zh``, English under
    ``--lang en``."""
    args = [
        "explain",
        SHENZHEN,
        "--subjects",
        SZ_EXAMPLES / "subjects.jsonl",
        "--events",
        SZ_EXAMPLES / "events.jsonl",
        "--as-of",
        "2025-03-01",
        "--subject",
        "SZP004",
    ]
    code, zh, _ = cli(capsys, *args, "--lang", "zh")
    assert code == 0
    assert "故本包评价的年度是评测日已经结束的最近一个自然年度" in zh
    assert "the last calendar year that has ended on as_of" not in zh
    assert "暂定(待确认): 等级分数段待评分细则确定" in zh
    assert "评价期间: 2024-01-01 .. 2024-12-31" in zh
    code, en, _ = cli(capsys, *args, "--lang", "en")
    assert code == 0
    assert "So the year evaluated is the last calendar year that has ended on as_of" in en
    assert "故本包评价的年度" not in en
    assert "provisional: The score bands of the grades to be set by the 评分细则." in en
    assert not [
        line for line in zh.splitlines() if line.startswith("  * ") and not CJK.search(line)
    ]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_issue14_item12_evaluate_jsonl_gives_the_provisional_in_the_language_asked(
    lang: str,
) -> None:
    """Issue 14 item 12: ``evaluate --format jsonl`` (the fast writer) gives each step's
    ``provisional`` in ``--lang``, byte for byte as ``result_to_dict`` does."""
    policy = yc.load_policy(SHENZHEN)
    records = yc.load_records(SZ_EXAMPLES / "subjects.jsonl", SZ_EXAMPLES / "events.jsonl")
    run = policy.evaluate(records, as_of=dt.date(2024, 12, 31))
    out = io.StringIO()
    write_results(run, out, "jsonl", lang, "full")
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rows == [json.loads(json.dumps(yc.result_to_dict(r, lang))) for r in run]
    provisional = [s["provisional"] for row in rows for s in row["trace"] if "provisional" in s]
    if lang == "zh":
        assert "等级分数段待评分细则确定" in provisional
        assert "The score bands of the grades to be set by the 评分细则." not in provisional
    else:
        assert "The score bands of the grades to be set by the 评分细则." in provisional
        assert "等级分数段待评分细则确定" not in provisional


LAPSE_AFTER = (
    "          provisional:\n"
    "            zh: 评测周期为一年,与excellent_before相同。\n"
    "            en: The one-year evaluation cycle, as for excellent_before.\n"
)
LAPSE = (
    "      lapse:\n"
    "        grades: [★★★, ★★]\n"
    "        facts: [violations]\n"
    "        provisional: {zh: 失效规则为测试所设, en: a lapse set for the test}\n"
)


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_issue14_item12_a_lapsed_cycle_gives_its_provisional_in_the_language_asked(
    tmp_path: Path, engine: str
) -> None:
    """Issue 14 item 12: the provisional of ``history.lapse`` travels with each lapsed cycle
    in the trace; it too is Chinese under ``zh`` and English under ``en``, in both the
    contract's JSON and the fast JSONL writer, on both engines."""
    text = ZHENJIANG.read_text(encoding="utf-8")
    assert text.count(LAPSE_AFTER) == 1 and text.count("\nrulesets:\n") == 1
    text = text.replace(LAPSE_AFTER, LAPSE_AFTER + LAPSE).replace(
        "\nrulesets:\n",
        "\nvalidity:\n  violation: {period: 6m, provisional: {zh: 测试, en: test}}\n\nrulesets:\n",
    )
    path = tmp_path / "zj-lapse.yaml"
    path.write_text(text, encoding="utf-8")
    pack = yc.load_policy(path)
    subject = {
        "id": "A",
        "type": "institution",
        "category": "clinic",
        "designated_on": "2020-01-01",
    }
    events = [{"id": "v1", "subject_id": "A", "kind": "violation", "date": "2023-09-01"}]
    history = [{"subject_id": "A", "status": "graded", "grade": "★★★", "as_of": "2023-12-31"}]
    run = pack.evaluate(
        [subject], events, as_of=dt.date(2024, 12, 31), history=history, engine=engine
    )
    (result,) = list(run)
    for lang, want in (("zh", "失效规则为测试所设"), ("en", "a lapse set for the test")):
        step = trace_step(result, "history.previous_grade", lang)
        (cycle,) = step["inputs"]["cycles"]
        assert cycle["status"] == "lapsed" and cycle["provisional"] == want
        out = io.StringIO()
        write_results(run, out, "jsonl", lang, "full")
        assert json.loads(out.getvalue()) == json.loads(json.dumps(yc.result_to_dict(result, lang)))


def test_issue14_item12_allocate_says_the_formula_is_provisional_in_the_language_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Issue 14 item 12: ``allocate`` ends with the formula's provisional note (四, 附件3 not in
    the seed) — in Chinese by default and under ``--lang zh``, in English under ``--lang en``."""
    examples = ROOT / "examples" / "jiangsu"
    args = [
        "allocate",
        POLICIES / "jiangsu_perf",
        "--subjects",
        examples / "subjects.jsonl",
        "--events",
        examples / "events.jsonl",
        "--as-of",
        "2025-03-31",
        "--deposits",
        examples / "deposits.csv",
    ]
    _, _, zh = cli(capsys, *args)
    _, _, en = cli(capsys, *args, "--lang", "en")
    zh_line, en_line = zh.splitlines()[-1], en.splitlines()[-1]
    assert "formula provisional: 四规定“根据绩效综合评价结果" in zh_line
    assert "must be confirmed by 附件3" not in zh_line
    assert (
        "formula provisional: 四 全额统筹分配" in en_line
        and "must be confirmed by 附件3" in en_line
    )


# -- clauses cited by subject ------------------------------------------------------------------


def test_issue14_item12_a_clause_cited_by_subject_is_marked_in_the_trace(tmp_path: Path) -> None:
    """Issue 14 item 12: ``clause: {source, ref, kind: subject}`` says that ``ref`` names what
    the document says, not a clause number; the step's JSON carries ``clause_kind: subject``
    and the readable trace says so in either language. ``article`` (the default) adds
    nothing, so existing outputs are unchanged."""
    subject = yc.load_policy(city(tmp_path, KIND="subject"))
    result = graded(subject)
    step = trace_step(result, "criterion.one_violation", "zh")
    assert step["clause"] == "测医保〔2024〕1号 三(一)" and step["clause_kind"] == "subject"
    assert "依据: 测医保〔2024〕1号 三(一) (按主题引用,非条款号)" in render_text(result, "zh")
    assert "clause: 测医保〔2024〕1号 三(一) (cited by subject, not a clause number)" in (
        render_text(result, "en")
    )
    article = graded(yc.load_policy(city(tmp_path, KIND="article")))
    assert "clause_kind" not in trace_step(article, "criterion.one_violation", "zh")
    assert "按主题引用" not in render_text(article, "zh")


def test_issue14_item12_an_unknown_clause_kind_is_a_located_error(tmp_path: Path) -> None:
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(city(tmp_path, KIND="chapter"))
    (problem,) = info.value.problems
    assert problem.code == "pack.schema.literal_error"
    assert problem.location.path == "rulesets.institution.grading.rules[0].any[0].clause.kind"
    assert problem.location.line is not None


def _clause_refs(node: Any) -> Iterator[ClauseRef]:
    if isinstance(node, ClauseRef):
        yield node
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _clause_refs(getattr(node, name))
    elif isinstance(node, dict):
        for v in node.values():
            yield from _clause_refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _clause_refs(v)


def test_issue14_item12_shenzhen_cites_the_national_points_rules_by_subject() -> None:
    """Issue 14 item 12: the Shenzhen pack knows 医保发〔2024〕23号 only from the summary in the
    seeds' README, which prints no clause number: each of its citations is ``kind: subject``,
    and the practitioners' trace marks them."""
    policy = yc.load_policy(SHENZHEN)
    refs = [r for r in _clause_refs(policy.model) if r.source == "nhsa_2024_23"]
    assert len(refs) >= 5 and {r.kind for r in refs} == {"subject"}
    run = policy.evaluate(
        [{"id": "D", "type": "practitioner", "category": "physician"}],
        [{"id": "p1", "subject_id": "D", "kind": "points", "date": "2024-03-01", "points": 12}],
        as_of=dt.date(2024, 12, 31),
    )
    (result,) = list(run)
    step = trace_step(result, "criterion.payment_termination", "zh")
    assert step["clause"].startswith("医保发〔2024〕23号") and step["clause_kind"] == "subject"
    measure = next(
        m for m in yc.result_to_dict(result)["measures"] if m["id"] == "payment_eligibility"
    )
    assert measure["clause_kind"] == "subject"
    assert "clause_kind" not in trace_step(result, "grade.B", "zh")  # 二(三) is a clause number


# -- every shipped reading has its Chinese --------------------------------------------------------


def readings(node: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str, Any]]:
    """Every ``note`` and ``provisional`` of a validated pack, with its path."""
    if isinstance(node, BaseModel):
        for name, field in type(node).model_fields.items():
            value = getattr(node, name)
            key = field.alias or name
            if name in ("note", "provisional") and isinstance(node, Provenance | MaybeProvisional):
                if value is not None:
                    yield format_path((*path, key)), value
                continue
            yield from readings(value, (*path, key))
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from readings(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from readings(v, (*path, i))


def without_chinese(model: Any) -> list[str]:
    """The readings that are not ``{zh, en}`` with Chinese in ``zh`` and an English ``en``."""
    return [
        path
        for path, value in readings(model)
        if not (
            isinstance(value, Text)
            and CJK.search(value.zh)
            and value.en
            and value.en.strip() != value.zh.strip()
        )
    ]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.relative_to(POLICIES).as_posix())
def test_issue14_item12_every_note_and_provisional_of_a_shipped_pack_has_chinese(
    path: Path,
) -> None:
    """Issue 14 item 12: every note and provisional text of every shipped pack is ``{zh, en}``
    with a Chinese ``zh`` (and an English ``en`` for the reviewer): an English-only reading
    added to a pack fails here."""
    policy = yc.load_policy(path)
    found = list(readings(policy.model))
    assert found, "a shipped pack with no reading at all"
    assert without_chinese(policy.model) == []


def test_issue14_item12_the_check_catches_an_english_only_reading(tmp_path: Path) -> None:
    """The check above can fail: a plain English note, an English text under ``zh`` and a
    reading with no English are each reported, at their paths."""
    pack = yc.load_policy(
        city(
            tmp_path,
            NOTE="The year evaluated is the last one ended.",
            PROV=f'{{zh: "{PROV_EN}", en: "{PROV_EN}"}}',
        )
    )
    assert without_chinese(pack.model) == [
        "windows.year.note",
        "rulesets.institution.grading.rules[0].provisional",
    ]
    chinese_only = yc.load_policy(city(tmp_path, PROV=f'{{zh: "{PROV_ZH}"}}'))
    assert without_chinese(chinese_only.model) == [
        "rulesets.institution.grading.rules[0].provisional"
    ]
    assert without_chinese(yc.load_policy(city(tmp_path)).model) == []
