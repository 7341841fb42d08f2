"""The monitoring report: each result's monitoring indicators, their values and their trend.

苏医保办发〔2023〕26号 二(二) 确定部分指标为全省监测指标: some indicators are provincial monitoring
indicators, there to be watched across institutions and years. A pack marks them on its score
items (``monitoring: true``); such an item is scored like any other, and its indicator is the
fact it reads. The report lists, per result and monitoring indicator, the value, the points the
item gave, the events behind the value and, given earlier results, the value in the subject's
latest earlier result and how it moved.

Earlier values come from a file of earlier results as ``evaluate`` writes them in JSON Lines
with the full trace (``--trace full``): the outcome of the step ``fact.<indicator>``. The same
file feeds history rules (``--history``); a CSV file, or results written with ``--trace
decisive`` or ``none``, hold no indicator values, and the report says so (warning
``eval.monitoring-no-earlier-values``) rather than showing a trend it cannot know.

A trend is a direction only: ``up``, ``down`` or ``same``; ``new`` when the earlier result had
no value and this one has, ``missing`` the other way round; None when there is no earlier value
to compare with. Whether up is better is not the report's to say: a satisfaction rate should
rise, a budget execution rate should stay near 100 %.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from yibao_credit.engine.results import Result, Run
from yibao_credit.errors import Location, Problem
from yibao_credit.records.readers import UTF8, record_file
from yibao_credit.render.results import csv_value, dumps, write_aligned
from yibao_credit.render.trace import jsonable

FORMATS = ("table", "jsonl", "csv")

COLUMNS = (
    "subject_id",
    "name",
    "ruleset",
    "status",
    "item",
    "indicator",
    "title",
    "value",
    "points",
    "events",
    "previous",
    "previous_as_of",
    "change",
    "trend",
    "clause",
)


@dataclass(frozen=True)
class Earlier:
    """One earlier result of a subject, with the fact values its trace shows (None: the
    result carries no trace to read them from)."""

    as_of: dt.date
    facts: Mapping[str, Any] | None
    line: int


@dataclass(frozen=True)
class MonitoringRow:
    subject_id: str
    name: str | None
    ruleset: str
    status: str
    item: str
    """The score item, ``<category>.<item>``."""
    indicator: str
    """The fact the item reads: the indicator's name in the records."""
    title: str
    value: Any
    points: Any
    events: tuple[str, ...]
    previous: Any
    previous_as_of: str | None
    change: Any
    trend: str | None
    clause: str | None

    def to_dict(self) -> dict[str, Any]:
        return {name: jsonable(getattr(self, name)) for name in COLUMNS}


def read_earlier(path: str | Path, encoding: str = UTF8) -> dict[str, list[Earlier]]:
    """Earlier results by subject (JSON Lines: the fact values of each trace; CSV: none).
    The file was checked as history already (``records.history``); lines that are not
    results are skipped here."""
    out: dict[str, list[Earlier]] = {}
    with record_file(Path(path), "record.history.file", encoding) as (suffix, handle):
        if suffix == ".csv":
            for line, row in enumerate(csv.DictReader(handle), 2):
                sid, as_of = row.get("subject_id"), row.get("as_of")
                if sid and as_of:
                    out.setdefault(sid, []).append(Earlier(_date(as_of), None, line))
            return out
        for line, text in enumerate(handle, 1):
            if not text.strip():
                continue
            data = json.loads(text)
            sid, as_of = data.get("subject_id"), data.get("as_of")
            if not isinstance(sid, str) or not isinstance(as_of, str):
                continue
            trace = data.get("trace")
            facts = None
            if isinstance(trace, list):
                facts = {
                    s["step"].split(".", 1)[1]: s.get("outcome")
                    for s in trace
                    if isinstance(s, dict) and str(s.get("step", "")).startswith("fact.")
                }
            out.setdefault(sid, []).append(Earlier(_date(as_of), facts, line))
    return out


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text.strip())


def monitoring_rows(
    run: Run,
    lang: str = "zh",
    earlier: Mapping[str, Sequence[Earlier]] | None = None,
    earlier_file: str | None = None,
) -> tuple[list[MonitoringRow], list[Problem]]:
    """One row per result and monitoring indicator, sorted by subject id then the pack's
    order of items; and the warnings (earlier results without values)."""
    rows: list[MonitoringRow] = []
    blind: list[tuple[str, int]] = []
    as_of = run.context.as_of
    for r in run:
        items = _monitoring_items(r)
        if not items:
            continue
        before = _latest_before(earlier.get(r.subject.id, ()) if earlier else (), as_of)
        names = [name for _, name in items]
        if before is not None and (
            before.facts is None or not any(n in before.facts for n in names)
        ):
            blind.append((r.subject.id, before.line))
        for item_id, name in items:
            rows.append(_row(r, lang, item_id, name, before))
    warnings: list[Problem] = []
    if blind:
        first_sid, first_line = blind[0]
        warnings.append(
            Problem(
                "eval.monitoring-no-earlier-values",
                f"{len(blind)} earlier result(s) show no monitoring value (no trace, or not "
                "the full one): their previous values and trends are unknown; first: "
                f"{first_sid!r}. Write the earlier cycle with evaluate --format jsonl "
                "--trace full",
                Location(earlier_file, first_line),
            )
        )
    return rows, warnings


def _monitoring_items(r: Result) -> list[tuple[str, str]]:
    """(``category.item``, fact) for each monitoring item of the result's ruleset and each
    fact it reads, in the pack's order."""
    score = r.ruleset.score
    if score is None:
        return []
    facts = r.ruleset.fact_slots
    return [
        (f"{cat.id}.{item.id}", name)
        for cat in score.categories
        for item in cat.items
        if item.monitoring
        for name in item.reads
        if name in facts
    ]


def _latest_before(rows: Iterable[Earlier], as_of: dt.date) -> Earlier | None:
    before = [e for e in rows if e.as_of < as_of]
    return max(before, key=lambda e: e.as_of) if before else None


def _row(r: Result, lang: str, item_id: str, name: str, before: Earlier | None) -> MonitoringRow:
    rs = r.ruleset
    fact = next(f for f in rs.facts if f.name == name)
    item = next(
        i
        for cat in (rs.score.categories if rs.score else ())
        for i in cat.items
        if f"{cat.id}.{i.id}" == item_id
    )
    value = jsonable(r.values[rs.fact_slots[name]])
    points = jsonable(_tidy(r.values[item.slot])) if r.status == "graded" else None
    slot = rs.evidence_slots.get(name)
    events = (
        tuple(e.id for e in sorted(r.values[slot], key=lambda e: (e.date, e.id)))
        if slot is not None and value is not None
        else ()
    )
    previous = None
    if before is not None and before.facts is not None:
        previous = jsonable(before.facts.get(name))
    known = before is not None and before.facts is not None and name in before.facts
    change, trend = _trend(value, previous, known)
    return MonitoringRow(
        r.subject.id,
        r.subject.name,
        rs.id,
        r.status,
        item_id,
        name,
        fact.step.title.get(lang),
        value,
        points,
        events,
        previous,
        before.as_of.isoformat() if before is not None else None,
        change,
        trend,
        item.step.clause,
    )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _trend(value: Any, previous: Any, known: bool) -> tuple[Any, str | None]:
    """The change and its direction; ``new`` (a value where the earlier result had none),
    ``missing`` (none where it had one); None when there is nothing to compare with."""
    if not known:
        return None, None
    if value is None or previous is None:
        if value is None and previous is None:
            return None, None
        return None, "missing" if value is None else "new"
    if not (_number(value) and _number(previous)):
        return None, None
    change = jsonable(_tidy(value - previous))
    return change, "up" if change > 0 else "down" if change < 0 else "same"


def _tidy(value: Any) -> Any:
    """As a person subtracts: 98.7 − 98.5 is 0.2, not 0.20000000000000284."""
    return round(value, 9) if isinstance(value, float) else value


def write_monitoring(rows: Sequence[MonitoringRow], out: TextIO, fmt: str = "table") -> None:
    if fmt == "jsonl":
        for row in rows:
            out.write(dumps(row.to_dict()) + "\n")
        return
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            d = row.to_dict()
            d["events"] = ";".join(row.events)
            writer.writerow([csv_value(d[c]) for c in COLUMNS])
        return
    table = [["subject_id", "indicator", "value", "points", "previous", "change", "trend"]]
    for row in rows:
        table.append(
            [
                row.subject_id,
                row.indicator,
                csv_value(row.to_dict()["value"]) or "-",
                csv_value(row.to_dict()["points"]),
                csv_value(row.to_dict()["previous"]) or "-",
                csv_value(row.to_dict()["change"]),
                row.trend or "",
            ]
        )
    write_aligned(table, out, right=(2, 3, 4, 5))
