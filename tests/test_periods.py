"""Issue 14, items 3 and 5: which period a result evaluates, and earlier results dated off
their cycle.

Item 3 (深圳市医保局 2023-12-22 信用评价工作方案, the 2021年度/2022年度 cycles of 首段 and 二(三)):
results are published after their year, so an evaluation run as of a day of the next year
must not silently evaluate part of that next year. Every result says its period; a
calendar-year period that has not ended on ``as_of`` is a warning; a window can state that the
year evaluated is the last completed one (``cycle: completed``) or the running one on purpose
(``cycle: to_date``).

Item 5 (镇医保〔2024〕82号 三(二)1(4), ★★★ twice in a row): an earlier result dated one day off
its cycle (2023-12-30 for a 2023-12-31 cycle) is never read; that is now a warning, not a
streak lost without a word.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

import yibao_credit as yc
from yibao_credit.render.results import result_to_dict
from yibao_credit.time.windows import window_bounds

ROOT = Path(__file__).resolve().parents[1]
ENGINES = ("python", "duckdb")

PACK = """\
pack:
  id: periods
  name: {zh: 期间, en: periods}
  jurisdiction: {name: 测试市, region: "000000"}
  version: "1"
  effective: {from: 2020-01-01}
  sources:
    - {id: doc, number: 测试〔2020〕1号, title: 测试文件, issuer: 测试局}
windows:
  year:
    title: {zh: 评价年度, en: evaluation year}
    type: calendar_year
    clause: 一
CYCLE
rulesets:
  institution:
    title: {zh: 机构, en: institutions}
    applies_to: {type: institution}
    facts:
      violations:
        title: {zh: 违规次数, en: violations}
        window: year
        op: count
        where: kind == 'violation'
        clause: 一
    grading:
      type: criteria
      grades:
        - {label: A, title: {zh: 好, en: good}}
        - {label: B, title: {zh: 差, en: poor}}
      rules:
        - grade: B
          clause: 一
          any:
            - {id: violated, title: {zh: 有违规, en: violated}, when: violations >= 1, clause: 一}
      default: {grade: A, clause: 一}
"""


def load(tmp_path: Path, cycle: str | None) -> yc.Policy:
    text = PACK.replace("CYCLE", f"    cycle: {cycle}" if cycle else "")
    path = tmp_path / f"periods-{cycle or 'unset'}.yaml"
    path.write_text(text, encoding="utf-8")
    return yc.load_policy(path)


SUBJECTS = [{"id": "H1", "type": "institution"}]
EVENTS = [{"id": "v1", "subject_id": "H1", "kind": "violation", "date": "2024-06-01"}]


def evaluate(policy: yc.Policy, as_of: dt.date, engine: str) -> tuple[dict[str, Any], list[str]]:
    run = policy.evaluate(SUBJECTS, EVENTS, as_of=as_of, engine=engine)
    return result_to_dict(run.results[0], "en", "decisive"), [w.code for w in run.warnings]


class _Window:
    type = "calendar_year"
    length = None

    def __init__(self, offset: int = 0, cycle: str | None = None) -> None:
        self.offset = offset
        self.cycle = cycle


@pytest.mark.parametrize(
    ("as_of", "cycle", "offset", "period"),
    [
        (dt.date(2025, 3, 31), None, 0, ("2025-01-01", "2025-03-31")),
        (dt.date(2025, 3, 31), "to_date", 0, ("2025-01-01", "2025-03-31")),
        (dt.date(2025, 3, 31), "completed", 0, ("2024-01-01", "2024-12-31")),
        (dt.date(2025, 1, 1), "completed", 0, ("2024-01-01", "2024-12-31")),
        (dt.date(2024, 12, 31), "completed", 0, ("2024-01-01", "2024-12-31")),  # it has ended
        (dt.date(2024, 12, 30), "completed", 0, ("2023-01-01", "2023-12-31")),  # the day before
        (dt.date(2025, 3, 31), "completed", -1, ("2023-01-01", "2023-12-31")),
    ],
)
def test_which_year_a_calendar_year_window_is(
    as_of: dt.date, cycle: str | None, offset: int, period: tuple[str, str]
) -> None:
    """``cycle: completed`` is the last year that has ended on as_of: as of its 31 December
    the year itself, the day before that the year before; ``offset`` applies after it."""
    bounds = window_bounds(_Window(offset, cycle), as_of)
    assert (bounds.start.isoformat() if bounds.start else None, bounds.end.isoformat()) == period


@pytest.mark.parametrize("engine", ENGINES)
def test_a_result_says_its_period_and_an_unfinished_year_warns(tmp_path: Path, engine: str) -> None:
    """Item 3: as of 2025-03-31 an unmarked calendar-year window evaluates 2025 to date —
    the 2024 violation does not count — and the run says so (``eval.unfinished-period``)."""
    result, warnings = evaluate(load(tmp_path, None), dt.date(2025, 3, 31), engine)
    assert result["period"] == {"from": "2025-01-01", "to": "2025-03-31"}
    assert result["grade"] == "A"
    assert "eval.unfinished-period" in warnings
    assert list(result)[:9] == [
        "subject_id",
        "status",
        "grade",
        "score",
        "exclusion",
        "policy",
        "as_of",
        "period",
        "ruleset",
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_the_last_day_of_the_year_is_a_finished_year(tmp_path: Path, engine: str) -> None:
    result, warnings = evaluate(load(tmp_path, None), dt.date(2024, 12, 31), engine)
    assert result["period"] == {"from": "2024-01-01", "to": "2024-12-31"}
    assert result["grade"] == "B"
    assert "eval.unfinished-period" not in warnings


@pytest.mark.parametrize("engine", ENGINES)
def test_cycle_completed_evaluates_the_last_finished_year(tmp_path: Path, engine: str) -> None:
    """Item 3: results published after their year — as of 2025-03-31 the pack evaluates
    2024 (the violation of 2024-06-01 counts: B), with no warning."""
    result, warnings = evaluate(load(tmp_path, "completed"), dt.date(2025, 3, 31), engine)
    assert result["period"] == {"from": "2024-01-01", "to": "2024-12-31"}
    assert result["grade"] == "B"
    assert "eval.unfinished-period" not in warnings


@pytest.mark.parametrize("engine", ENGINES)
def test_cycle_to_date_reads_the_running_year_without_a_warning(
    tmp_path: Path, engine: str
) -> None:
    result, warnings = evaluate(load(tmp_path, "to_date"), dt.date(2025, 3, 31), engine)
    assert result["period"] == {"from": "2025-01-01", "to": "2025-03-31"}
    assert "eval.unfinished-period" not in warnings


def test_cycle_only_applies_to_a_calendar_year_window(tmp_path: Path) -> None:
    text = PACK.replace("type: calendar_year", "type: rolling\n    length: 1y").replace(
        "CYCLE", "    cycle: completed"
    )
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(yc.PackError, match="'cycle' only applies to a calendar_year window"):
        yc.load_policy(path)


def test_period_must_name_a_window_the_facts_read(tmp_path: Path) -> None:
    text = PACK.replace("CYCLE", "").replace(
        "    applies_to: {type: institution}\n",
        "    applies_to: {type: institution}\n    period: yaer\n",
    )
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(yc.PackError) as info:
        yc.load_policy(path)
    problem = info.value.problems[0]
    assert (
        problem.message == "period must name a window this ruleset's facts read (year), not 'yaer'"
    )
    assert problem.location.path == "rulesets.institution.period"


def test_explain_heading_shows_the_period() -> None:
    policy = yc.load_policy(ROOT / "policies" / "zhenjiang.yaml")
    subject = {"id": "H", "type": "institution", "category": "hospital"}
    run = policy.evaluate([{**subject, "designated_on": "2015-01-01"}], as_of=dt.date(2024, 12, 31))
    text = yc.render_text(run.results[0], "zh")
    assert "评价期间: 2024-01-01 .. 2024-12-31" in text.splitlines()[1]


# -- item 5: earlier results dated off their cycle --------------------------------------------


def _past(day: str) -> dict[str, Any]:
    return {
        "subject_id": "A",
        "status": "graded",
        "grade": "★★★",
        "exclusion": None,
        "as_of": day,
        "policy": {"id": "zhenjiang"},
    }


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("day", "warned", "streak"),
    [("2023-12-31", False, 1), ("2023-12-30", True, 0), ("2024-01-01", True, 0)],
    ids=["on-the-cycle", "a-day-before", "a-day-after"],
)
def test_zhenjiang_3_2_1_4_an_earlier_result_a_day_off_its_cycle_is_a_warning(
    engine: str, day: str, warned: bool, streak: int
) -> None:
    """Item 5, 镇医保〔2024〕82号 三(二)1(4) (★★★ twice in a row, read over one-year cycles): the
    result of the cycle before a run as of 2024-12-31 is the one as of 2023-12-31 exactly;
    dated a day off it is not read — the exemption is lost — and the run says why."""
    policy = yc.load_policy(ROOT / "policies" / "zhenjiang.yaml")
    subject = {
        "id": "A",
        "type": "institution",
        "category": "hospital",
        "designated_on": "2015-01-01",
    }
    run = policy.evaluate(
        [subject], as_of=dt.date(2024, 12, 31), history=[_past(day)], engine=engine
    )
    result = run.results[0]
    assert result.history["excellent_before"] == streak
    off = [w for w in run.warnings if w.code == "eval.history-off-cycle"]
    assert bool(off) is warned
    if warned:
        assert off[0].message == (
            "1 earlier result(s) are dated on no cycle's end and are not read (cycles of this "
            "run end on 2023-12-31, 2022-12-31, 2021-12-31, …); first: subject 'A' as of "
            f"{day}, 1 day(s) from the cycle ending 2023-12-31"
        )
        assert off[0].location.path == "as_of"


# -- a fact filter on an attribute the pack declares on its own kind ---------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_a_filter_on_a_declared_event_attribute_runs_on_both_engines(
    tmp_path: Path, engine: str
) -> None:
    """Found while encoding issue 14 item 9: the Python engine's generated function named
    its exclusion index ``_x``, hiding the runtime's reader of declared event attributes, so
    ``where: rating == 'D'`` failed with UnboundLocalError (DuckDB ran it)."""
    text = PACK.replace("CYCLE", "").replace(
        "where: kind == 'violation'", "where: kind == 'rating' and rating == 'D'"
    ) + (
        "event_kinds:\n"
        "  rating:\n"
        "    title: {zh: 公共信用评价, en: public credit rating}\n"
        "    clause: 一\n"
        "    attributes:\n"
        "      rating: {type: str, required: true, choices: [A, B, C, D]}\n"
    )
    path = tmp_path / "rating.yaml"
    path.write_text(text, encoding="utf-8")
    policy = yc.load_policy(path)
    events = [
        {"id": "r1", "subject_id": "H1", "kind": "rating", "date": "2024-05-01", "rating": "D"},
        {"id": "r2", "subject_id": "H2", "kind": "rating", "date": "2024-05-01", "rating": "B"},
    ]
    subjects = [{"id": "H1", "type": "institution"}, {"id": "H2", "type": "institution"}]
    run = policy.evaluate(subjects, events, as_of=dt.date(2024, 12, 31), engine=engine)
    assert {r.subject_id: r.grade for r in run} == {"H1": "B", "H2": "A"}
