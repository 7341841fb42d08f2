"""Results as the data contract gives them: JSON Lines, CSV, or a table for people.

Output is deterministic: results are sorted by subject id, keys come in a fixed order, and
nothing depends on the order of the input files. Each result names the pack id, version and
content hash, so it can be replayed and audited later.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, TextIO

from yibao_credit.arguments import LANGS, choice_argument
from yibao_credit.bulk import checkpoint, paused_gc
from yibao_credit.compile.overrides import shown
from yibao_credit.compile.plan import Plan, StepSpec
from yibao_credit.engine.outlook import Outlook
from yibao_credit.engine.results import Result, Run
from yibao_credit.render.trace import (
    DETAILS,
    Step,
    build_trace,
    iter_steps,
    jsonable,
    measures_of,
    period_of,
    provisional_count,
)

FORMATS = ("jsonl", "csv", "table")

TABLE_WORDS = {
    "zh": {
        "subject_id": "评测对象",
        "name": "名称",
        "status": "状态",
        "grade": "等级",
        "score": "得分",
        "exclusion": "排除情形",
        "decided_by": "决定步骤",
        "next_improvement": "下次改善",
        "graded": "已评定",
        "excluded": "不参与评测",
    },
    "en": {
        "subject_id": "subject_id",
        "name": "name",
        "status": "status",
        "grade": "grade",
        "score": "score",
        "exclusion": "exclusion",
        "decided_by": "decided by",
        "next_improvement": "next improvement",
        "graded": "graded",
        "excluded": "excluded",
    },
}
"""The table format is for people: its headers and statuses in the language asked for. CSV
keeps the contract's column names, as JSON keeps its keys: ``--history`` reads them back."""


CSV_COLUMNS = [
    "subject_id",
    "status",
    "grade",
    "score",
    "exclusion",
    "ruleset",
    "measures",
    "decided_by",
    "clauses",
    "policy_id",
    "policy_version",
    "policy_sha256",
    "as_of",
    "period_from",
    "period_to",
]


def policy_block(plan: Plan) -> dict[str, Any]:
    """The pack a result names: id, version, sha256 — and, only for a run with parameter
    values set (``--set``), those values: such a result never passes for the pack's own."""
    out: dict[str, Any] = {"id": plan.id, "version": plan.version, "sha256": plan.sha256}
    if plan.overrides:
        out["overrides"] = {n: jsonable(o.value) for n, o in plan.overrides.items()}
    return out


def overrides_text(plan: Plan) -> str:
    """The values set for a run, as written after ``--set`` (``a=1;b=2``); empty without."""
    return ";".join(f"{n}={shown(o.value)}" for n, o in plan.overrides.items())


def result_to_dict(
    result: Result, lang: str = "zh", trace: str = "full", next_improvement: Outlook | None = None
) -> dict[str, Any]:
    """One result as the contract's JSON object; with ``next_improvement`` (its outlook,
    ``engine.outlook``), the ``next_improvement`` key (``evaluate --next-improvement``)."""
    choice_argument("lang", lang, LANGS)
    choice_argument("trace", trace, DETAILS)
    out: dict[str, Any] = {
        "subject_id": result.subject.id,
        "status": result.status,
        "grade": result.grade,
        "score": jsonable(result.score),
        "exclusion": result.exclusion,
        "policy": policy_block(result.context.plan),
        "as_of": result.context.as_of.isoformat(),
        "period": period_of(result),
        "ruleset": result.ruleset.id,
        "group": result.group,
        "measures": measures_of(result, lang),
        "provisional": provisional_count(result),
    }
    if result.lifecycle is not None:
        out["lifecycle"] = result.lifecycle.to_dict()
    if next_improvement is not None:
        out["next_improvement"] = next_improvement.to_dict()
    if trace != "none":
        out["trace"] = build_trace(result, lang, trace)
    return out


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


_encode_str: Callable[[str], str] = json.encoder.encode_basestring


"""The C string encoder json.dumps uses with ensure_ascii=False."""


def _value_json(value: Any, lang: str = "zh") -> str:
    """A value as json.dumps(jsonable(value, lang)) writes it, without the generic encoder."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    kind = type(value)
    if kind is str:
        return _encode_str(value)
    if kind is int:
        return int.__repr__(value)
    if kind is dt.date:
        return f'"{value.isoformat()}"'
    return dumps(jsonable(value, lang))


def _score_json(score: float | None) -> str:
    return "null" if score is None else dumps(jsonable(score))


class JsonlWriter:
    """Writes results as JSON Lines, byte for byte what ``dumps(result_to_dict(r))`` gives.

    A province has a hundred thousand subjects and forty steps each, most of them repeated
    word for word (a criterion not met, with the same inputs). Each step's fixed text is
    encoded once, and a step without evidence is encoded once per distinct outcome and inputs.

    Results of the same shape (the same values, the same facts with and without evidence)
    have the same trace but for the steps that show evidence or read the subject's own
    fields: the trace of the first is kept as a template, and for the others only those
    steps are built.
    """

    MEMO_LIMIT = 100_000

    def __init__(
        self,
        lang: str = "zh",
        trace: str = "full",
        next_improvement: Mapping[str, Outlook] | None = None,
    ) -> None:
        self.lang = lang
        self.trace = trace
        self.outlooks = next_improvement
        """Each subject's outlook, for the ``next_improvement`` key; None: no such key."""
        self._heads: dict[StepSpec, tuple[str, str]] = {}
        self._memo: dict[Any, tuple[str, str, str]] = {}
        self._measures: dict[tuple[int, ...], str] = {}
        self._templates: dict[tuple[Any, ...], tuple[list[str | None], frozenset[StepSpec]]] = {}
        self._policies: dict[int, str] = {}
        self._periods: dict[tuple[int, int], str] = {}
        self._contexts: list[Any] = []  # kept alive: their ids key the caches
        self._fixed_names: dict[int, tuple[frozenset[str], frozenset[StepSpec]]] = {}
        self._getters: dict[int, tuple[Callable[[Any], Any], tuple[int, ...]]] = {}

    def _fixed(self, spec: StepSpec) -> tuple[str, str]:
        parts = self._heads.get(spec)
        if parts is None:
            head = (
                '{"step":'
                + _encode_str(spec.id)
                + ',"title":'
                + _encode_str(spec.title.get(self.lang))
                + ',"outcome":'
            )
            tail = ',"clause":' + _value_json(spec.clause)
            if spec.clause_kind != "article":
                tail += ',"clause_kind":' + _encode_str(spec.clause_kind)
            if spec.provisional:
                tail += ',"provisional":' + _encode_str(spec.provisional.get(self.lang))
            parts = self._heads[spec] = (head, tail)
        return parts

    def _around(self, step: Step) -> tuple[str, str, str]:
        """A step's text before and after its evidence ids, and without evidence."""
        spec, outcome, inputs, _evidence, decisive = step
        head, tail = self._fixed(spec)
        lang = self.lang
        body = ",".join(_encode_str(k) + ":" + _value_json(v, lang) for k, v in inputs)
        before = head + _value_json(outcome) + ',"inputs":{' + body + '},"evidence":['
        after = "]" + tail + (',"decisive":true}' if decisive else "}")
        return before, after, before + after

    def step(self, step: Step) -> str:
        """A step's text; what surrounds the evidence is encoded once per distinct outcome
        and inputs."""
        outcome = step[1]
        key = (
            step[0],
            tuple(outcome.items()) if type(outcome) is dict else outcome,
            step[2],
            step[4],
        )
        try:
            around = self._memo.get(key)
        except TypeError:  # an unhashable input value: build it each time
            around = self._around(step)
        else:
            if around is None:
                if len(self._memo) >= self.MEMO_LIMIT:
                    self._memo.clear()
                around = self._memo[key] = self._around(step)
        evidence = step[3]
        if not evidence:
            return around[2]
        return around[0] + ",".join([_encode_str(i) for i in evidence]) + around[1]

    def _shape_key(self, result: Result) -> tuple[Any, ...] | None:
        """What fixes every step of a trace but those with evidence or subject fields: the
        values (not the evidence lists), which facts have evidence, and how it was decided.
        None for results with roll-ups, a lifecycle, set-aside events or review stages."""
        if result.rollups or result.lifecycle is not None or result.set_aside or result.stages:
            return None
        rs, values = result.ruleset, result.values
        getters = self._getters.get(id(rs))
        if getters is None:
            ev = set(rs.evidence_slots.values())
            plain = [i for i in range(len(values)) if i not in ev]
            getters = self._getters[id(rs)] = (
                itemgetter(*plain) if len(plain) > 1 else lambda v: tuple(v[i] for i in plain),
                tuple(sorted(ev)),
            )
        plain_values, ev_slots = getters
        key = (
            id(result.context),
            id(rs),
            plain_values(values),
            tuple([not values[i] for i in ev_slots]),
            result.exclusion,
            result.rule,
            result.own_grade,
            result.group,
            tuple(result.history_cycles.items()) if result.history_cycles else (),
            tuple(result.history.items()) if result.history else (),
            tuple([(id(m), held) for m, held in result.measure_checks]),
        )
        try:
            hash(key)
        except TypeError:
            return None
        return key

    def _subject_steps(self, result: Result) -> tuple[frozenset[str], frozenset[StepSpec]]:
        """The names a step may read that are not the subject's own fields, and the window
        steps that show a subject's date: a step reading anything else varies by subject."""
        rs, context = result.ruleset, result.context
        found = self._fixed_names.get(id(rs))
        if found is None:
            names = {*rs.fact_slots, *context.params, "as_of", "grade", "rank"}
            names |= {h.name for h in rs.history}
            names |= {p for g in rs.groups for p in g.params}
            windows = context.plan.windows
            since = frozenset(rs.window_steps[w] for w in rs.windows if windows[w].type == "since")
            found = self._fixed_names[id(rs)] = (frozenset(names), since)
        return found

    def _trace_text(self, result: Result) -> str:
        step = self.step
        key = self._shape_key(result)
        if key is None:
            return ",".join([step(s) for s in iter_steps(result, self.trace)])
        template = self._templates.get(key)
        if template is None:
            fixed, since = self._subject_steps(result)
            parts: list[str | None] = []
            varying: set[StepSpec] = set()
            texts = []
            for s in iter_steps(result, self.trace):
                text = step(s)
                texts.append(text)
                spec = s[0]
                if s[3] or spec in since or any(n not in fixed for n in spec.reads):
                    parts.append(None)
                    varying.add(spec)
                else:
                    parts.append(text)
            if len(self._templates) >= self.MEMO_LIMIT:
                self._templates.clear()
            self._templates[key] = (parts, frozenset(varying))
            return ",".join(texts)
        parts, only = template
        if not only:
            return ",".join(parts)  # type: ignore[arg-type]
        built = iter([step(s) for s in iter_steps(result, self.trace, only)])
        return ",".join([p if p is not None else next(built) for p in parts])

    def line(self, result: Result) -> str:
        rs = result.ruleset
        context = result.context
        policy = self._policies.get(id(context))
        if policy is None:
            self._contexts.append(context)
            policy = self._policies[id(context)] = (
                ',"policy":'
                + dumps(policy_block(context.plan))
                + ',"as_of":"'
                + context.as_of.isoformat()
                + '"'
            )
        pkey = (id(context), id(rs))
        period = self._periods.get(pkey)
        if period is None:
            period = self._periods[pkey] = ',"period":' + dumps(period_of(result))
        mkey = tuple([id(m) for m in result.measures])  # ids repeat across rulesets
        measures = self._measures.get(mkey)
        if measures is None:
            measures = self._measures[mkey] = dumps(measures_of(result, self.lang))
        parts = [
            '{"subject_id":',
            _encode_str(result.subject.id),
            ',"status":',
            _encode_str(result.status),
            ',"grade":',
            _value_json(result.grade),
            ',"score":',
            _score_json(result.score),
            ',"exclusion":',
            _value_json(result.exclusion),
            policy,
            period,
            ',"ruleset":',
            _encode_str(rs.id),
            ',"group":',
            _value_json(result.group),
            ',"measures":',
            measures,
            ',"provisional":',
            str(provisional_count(result)),
        ]
        if result.lifecycle is not None:
            parts += (',"lifecycle":', dumps(result.lifecycle.to_dict()))
        if self.outlooks is not None:
            outlook = self.outlooks.get(result.subject.id)
            parts += (',"next_improvement":', dumps(outlook.to_dict()) if outlook else "null")
        if self.trace == "none":
            parts.append("}\n")
        else:
            parts += (',"trace":[', self._trace_text(result), "]}\n")
        return "".join(parts)


def write_jsonl(
    results: Iterable[Result],
    out: TextIO,
    lang: str = "zh",
    trace: str = "full",
    next_improvement: Mapping[str, Outlook] | None = None,
) -> None:
    writer = JsonlWriter(lang, trace, next_improvement)
    write = out.write
    with paused_gc():
        for r in results:
            checkpoint()
            write(writer.line(r))


def csv_value(value: Any) -> str:
    """A cell as JSON writes the value (true, 87.9, 100), empty for none."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return dumps(jsonable(value))


def write_csv(
    results: Iterable[Result],
    out: TextIO,
    lang: str = "zh",
    trace: str = "full",
    next_improvement: Mapping[str, Outlook] | None = None,
) -> None:
    """One row per subject; the decisive steps and their clauses stand in for the trace.
    A run with parameter values set (``--set``) adds a last column, ``policy_overrides``."""
    writer = csv.writer(out, lineterminator="\n")
    results = iter(results)
    first = next(results, None)
    overrides = overrides_text(first.context.plan) if first is not None else ""
    writer.writerow(
        CSV_COLUMNS
        + (["policy_overrides"] if overrides else [])
        + (OUTLOOK_COLUMNS if next_improvement is not None else [])
    )
    for r in itertools.chain([] if first is None else [first], results):
        d = result_to_dict(r, lang, "decisive")
        decisive = [s for s in d["trace"] if s.get("decisive")]
        policy = d["policy"]
        writer.writerow(
            [
                d["subject_id"],
                d["status"],
                d["grade"] or "",
                csv_value(d["score"]),
                d["exclusion"] or "",
                d["ruleset"],
                ";".join(m["id"] for m in d["measures"]),
                ";".join(s["step"] for s in decisive),
                ";".join(s["clause"] or "" for s in decisive),
                policy["id"],
                policy["version"],
                policy["sha256"],
                d["as_of"],
                (d["period"] or {}).get("from") or "",
                (d["period"] or {}).get("to") or "",
                *([overrides_text(r.context.plan)] if overrides else []),
                *(_outlook_cells(next_improvement, r) if next_improvement is not None else []),
            ]
        )


OUTLOOK_COLUMNS = ["next_improvement_on", "next_improvement_grade", "exclusion_ends_on"]
"""The CSV columns ``--next-improvement`` adds (after the others)."""


def _outlook_cells(outlooks: Mapping[str, Outlook], result: Result) -> list[str]:
    o = outlooks.get(result.subject.id)
    if o is None:
        return ["", "", ""]
    on, grade = o.improvement if o.improvement else (None, "")
    ends = o.exclusion_ends_on
    return [on.isoformat() if on else "", grade, ends.isoformat() if ends else ""]


def write_table(
    results: Iterable[Result],
    out: TextIO,
    lang: str = "zh",
    trace: str = "full",
    next_improvement: Mapping[str, Outlook] | None = None,
) -> None:
    """Aligned columns for reading in a terminal."""
    results = list(results)
    scored = any(r.score is not None for r in results)
    words = TABLE_WORDS[lang]
    rows = [
        [
            words["subject_id"],
            words["name"],
            words["status"],
            words["grade"],
            *([words["score"]] if scored else []),
            words["exclusion"],
            words["decided_by"],
            *([words["next_improvement"]] if next_improvement is not None else []),
        ]
    ]
    for r in results:
        d = result_to_dict(r, lang, "decisive")
        decisive = [s["step"] for s in d["trace"] if s.get("decisive")]
        score = [] if not scored else [f"{jsonable(r.score)}" if r.score is not None else ""]
        rows.append(
            [
                d["subject_id"],
                r.subject.name or "",
                words.get(d["status"], d["status"]),
                d["grade"] or "",
                *score,
                d["exclusion"] or "",
                ", ".join(decisive),
                *(
                    [" ".join(c for c in _outlook_cells(next_improvement, r)[:2] if c)]
                    if next_improvement is not None
                    else []
                ),
            ]
        )
    if results and results[0].context.plan.overrides:
        out.write(f"--set {overrides_text(results[0].context.plan)}\n")
    write_aligned(rows, out)


def write_aligned(rows: Sequence[Sequence[str]], out: TextIO, right: Collection[int] = ()) -> None:
    """Rows of cells as columns two spaces apart, padded by display width (a CJK character
    takes two columns in a terminal); the columns whose numbers are in ``right`` (numbers)
    are aligned right, the others left."""
    rows = [[_cut(c) for c in row] for row in rows]
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [
            " " * (widths[i] - _width(c)) + c if i in right else c + " " * (widths[i] - _width(c))
            for i, c in enumerate(row)
        ]
        out.write("  ".join(cells).rstrip() + "\n")


CELL_WIDTH = 60
"""The widest cell a table shows, in terminal columns: a ten-megabyte name in a record
would otherwise make every line of the table that wide. JSON Lines and CSV are never cut."""


def _cut(text: str, limit: int = CELL_WIDTH) -> str:
    if len(text) <= limit // 2 or _width(text) <= limit:
        return text
    used = 0
    for i, ch in enumerate(text):
        used += _width(ch)
        if used > limit - 1:
            return text[:i] + "…"
    return text


def _width(text: str) -> int:
    """Display width: CJK characters take two columns in a terminal."""
    return sum(2 if ord(ch) > 0x2E80 and ch not in "★" else 1 for ch in text)


def write_results(
    run: Run | Iterable[Result],
    out: TextIO,
    fmt: str = "jsonl",
    lang: str = "zh",
    trace: str = "full",
    next_improvement: Mapping[str, Outlook] | None = None,
) -> None:
    """Write results in a format of the contract; ``trace`` is full, decisive or none;
    ``next_improvement``: each subject's outlook (a key in JSON, columns in CSV and tables)."""
    writers = {"jsonl": write_jsonl, "csv": write_csv, "table": write_table}
    if fmt not in writers:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if trace not in DETAILS:
        raise ValueError(f"unknown trace detail {trace!r}; choose one of {', '.join(DETAILS)}")
    choice_argument("lang", lang, LANGS)
    writers[fmt](iter(run), out, lang, trace, next_improvement)


def render(
    run: Run | Iterable[Result], fmt: str = "jsonl", lang: str = "zh", trace: str = "full"
) -> str:
    buf = io.StringIO()
    write_results(run, buf, fmt, lang, trace)
    return buf.getvalue()
