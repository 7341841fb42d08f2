"""Two runs over the same records compared, and one parameter swept over a range.

济医保字〔2023〕19号 四(二)5 has the trial evaluation 进行权重及分值配置 and 四(三) analyses the
results 按不同区划、等级以及重点指标 and revises the indicators 如有明显偏离; 苏医保办发〔2023〕26号
二(二) has the indicator table change every year. Both ask the same question: what does a change
of the rules do to the grades? ``compare_runs`` answers it for two runs (two packs, two dated
versions, or one pack and the same pack with ``--set`` values): a grade-migration matrix, every
subject that moved with the step that decided it before and after, the mean score and category
deltas, and the same per region and per evaluation group. ``sensitivity_of`` answers it for
one parameter over a range: the grade counts at each value, and where any subject changes grade.

Everything here is data built from ``Run``s and rendered as JSON, CSV, a table or HTML, in a
fixed order: subjects by id, labels in the pack's grade order, regions and groups by name.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from yibao_credit.compile.overrides import shown
from yibao_credit.compile.plan import Plan
from yibao_credit.engine.results import Result, Run
from yibao_credit.render.html import escape, html_page, migration_svg, table_html
from yibao_credit.render.results import csv_value, policy_block, write_aligned
from yibao_credit.render.trace import build_trace, jsonable

NOT_GRADED = "not graded"
"""The outcome of a subject the other run grades and this one does not (no ruleset of its
pack applies to it: ``eval.out-of-scope``)."""

COMPARE_FORMATS = ("table", "json", "csv")


def outcome_label(result: Result | None) -> str:
    """A result's outcome as a row or column of the matrix: its grade, ``excluded:<reason>``
    (as ``summary`` counts it), or ``not graded``."""
    if result is None:
        return NOT_GRADED
    if result.status == "graded" and result.grade is not None:
        return result.grade
    return f"excluded:{result.exclusion}"


def grade_order(plan: Plan) -> list[str]:
    """Every grade label of a pack, best first, ruleset by ruleset (each label once)."""
    return list(dict.fromkeys(g for rs in plan.rulesets.values() for g in rs.grades))


def _labels(plan: Plan, seen: Iterable[str]) -> tuple[str, ...]:
    """The pack's grades in its order, then the exclusions that occur (by name), then
    ``not graded`` if it occurs."""
    grades = grade_order(plan)
    seen = set(seen)
    extra = sorted(label for label in seen if label not in grades and label != NOT_GRADED)
    return (*grades, *extra, *([NOT_GRADED] if NOT_GRADED in seen else []))


def _tidy(value: float) -> float:
    """A difference of scores as a person reads it: no float noise, no -0."""
    return round(value, 9) + 0.0


def _mean(values: Sequence[float]) -> float | None:
    return round(math.fsum(values) / len(values), 2) + 0.0 if values else None


@dataclass(frozen=True)
class Side:
    """One subject's result in one of the two runs, as the comparison reads it."""

    label: str
    score: float | None = None
    ruleset: str | None = None
    group: str | None = None
    decided_by: tuple[str, ...] = ()
    """The steps marked decisive in the result's trace."""
    steps: Mapping[str, Any] = field(default_factory=dict)
    """Each step of the decisive trace and its outcome, in trace order."""
    categories: Mapping[str, float] = field(default_factory=dict)
    """Score categories and their values (score packs)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.label,
            "score": None if self.score is None else jsonable(self.score),
            "ruleset": self.ruleset,
            "group": self.group,
            "decided_by": list(self.decided_by),
        }


def _side(result: Result | None, lang: str) -> Side:
    if result is None:
        return Side(NOT_GRADED)
    steps = build_trace(result, lang, "decisive")
    score = result.ruleset.score
    categories = (
        {c.id: result.values[c.slot] for c in score.categories}
        if score is not None and result.score is not None
        else {}
    )
    return Side(
        label=outcome_label(result),
        score=result.score,
        ruleset=result.ruleset.id,
        group=result.group,
        decided_by=tuple(s["step"] for s in steps if s.get("decisive")),
        steps={s["step"]: s["outcome"] for s in steps},
        categories=categories,
    )


@dataclass(frozen=True)
class SubjectChange:
    """One subject in both runs."""

    subject_id: str
    name: str | None
    region: str
    old: Side
    new: Side

    @property
    def moved(self) -> bool:
        return self.old.label != self.new.label

    @property
    def group_key(self) -> str | None:
        """``ruleset/group`` as ``summary`` names groups; ``old → new`` when they differ."""
        keys = [
            f"{s.ruleset}/{s.group}" if s.group is not None else None for s in (self.old, self.new)
        ]
        old, new = keys
        if old == new or new is None:
            return old
        return new if old is None else f"{old} → {new}"

    @property
    def score_delta(self) -> float | None:
        if self.old.score is None or self.new.score is None:
            return None
        return _tidy(self.new.score - self.old.score)

    @property
    def changed_steps(self) -> tuple[str, ...]:
        """The steps of the decisive traces whose outcome differs, or that only one has."""
        old, new = self.old.steps, self.new.steps
        ids = list(dict.fromkeys([*old, *new]))
        return tuple(i for i in ids if i not in old or i not in new or old[i] != new[i])

    def category_deltas(self) -> dict[str, float]:
        """Each category both sides scored, new minus old."""
        old, new = self.old.categories, self.new.categories
        return {c: _tidy(new[c] - old[c]) for c in old if c in new}

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject_id": self.subject_id,
            "name": self.name,
            "region": self.region,
            "group": self.group_key,
            "old": self.old.to_dict(),
            "new": self.new.to_dict(),
            "score_delta": None if self.score_delta is None else jsonable(self.score_delta),
            "changed_steps": list(self.changed_steps),
        }


@dataclass(frozen=True)
class Matrix:
    """Counts of subjects by old outcome (rows) and new outcome (columns)."""

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    counts: Mapping[tuple[str, str], int]

    def count(self, old: str, new: str) -> int:
        return self.counts.get((old, new), 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": list(self.rows),
            "columns": list(self.columns),
            "counts": [[self.count(r, c) for c in self.columns] for r in self.rows],
        }


@dataclass(frozen=True)
class ScoreDelta:
    """Mean score and mean of each category, before and after, over the subjects that the
    same score ruleset scored in both runs."""

    ruleset: str
    subjects: int
    parts: tuple[tuple[str, float | None, float | None], ...]
    """(``score`` or a category id, old mean, new mean), the score first."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "subjects": self.subjects,
            **{
                name: {"old": old, "new": new, "delta": _delta(old, new)}
                for name, old, new in self.parts
            },
        }


def _delta(old: float | None, new: float | None) -> float | None:
    return None if old is None or new is None else round(new - old, 2) + 0.0


def score_deltas(changes: Sequence[SubjectChange]) -> tuple[ScoreDelta, ...]:
    """Per score ruleset, by id: the subjects it scored on both sides, their means."""
    paired: dict[str, list[SubjectChange]] = defaultdict(list)
    for c in changes:
        if c.old.score is not None and c.new.score is not None and c.old.ruleset == c.new.ruleset:
            assert c.old.ruleset is not None
            paired[c.old.ruleset].append(c)
    out = []
    for rid in sorted(paired):
        group = paired[rid]
        names = list(
            dict.fromkeys(n for c in group for n in (*c.old.categories, *c.new.categories))
        )
        parts: list[tuple[str, float | None, float | None]] = [
            (
                "score",
                _mean([c.old.score for c in group if c.old.score is not None]),
                _mean([c.new.score for c in group if c.new.score is not None]),
            )
        ]
        for n in names:
            parts.append(
                (
                    n,
                    _mean([c.old.categories[n] for c in group if n in c.old.categories]),
                    _mean([c.new.categories[n] for c in group if n in c.new.categories]),
                )
            )
        out.append(ScoreDelta(rid, len(group), tuple(parts)))
    return tuple(out)


@dataclass(frozen=True)
class Breakdown:
    """The comparison restricted to one region or one evaluation group."""

    key: str
    subjects: int
    moved: int
    matrix: Matrix
    score_deltas: tuple[ScoreDelta, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "subjects": self.subjects,
            "moved": self.moved,
            "matrix": self.matrix.to_dict(),
            "score_deltas": {d.ruleset: d.to_dict() for d in self.score_deltas},
        }


@dataclass(frozen=True)
class Comparison:
    """Two runs over the same records (compare OLD NEW)."""

    old_policy: Mapping[str, Any]
    new_policy: Mapping[str, Any]
    as_of: str
    subjects: tuple[SubjectChange, ...]
    matrix: Matrix
    score_deltas: tuple[ScoreDelta, ...]
    by_region: tuple[Breakdown, ...]
    by_group: tuple[Breakdown, ...]
    warnings: tuple[str, ...] = ()
    """Codes of the warnings of the two runs, each once."""

    @property
    def moved(self) -> tuple[SubjectChange, ...]:
        return tuple(c for c in self.subjects if c.moved)

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": {"policy": dict(self.old_policy)},
            "new": {"policy": dict(self.new_policy)},
            "as_of": self.as_of,
            "subjects": len(self.subjects),
            "moved": len(self.moved),
            "matrix": self.matrix.to_dict(),
            "moved_subjects": [c.to_dict() for c in self.moved],
            "score_deltas": {d.ruleset: d.to_dict() for d in self.score_deltas},
            "by_region": {b.key: b.to_dict() for b in self.by_region},
            "by_group": {b.key: b.to_dict() for b in self.by_group},
            "warnings": list(self.warnings),
        }


def _matrix(
    changes: Sequence[SubjectChange], rows: tuple[str, ...], cols: tuple[str, ...]
) -> Matrix:
    counts = Counter((c.old.label, c.new.label) for c in changes)
    return Matrix(rows, cols, dict(sorted(counts.items())))


def _breakdowns(
    keyed: Mapping[str, list[SubjectChange]], rows: tuple[str, ...], cols: tuple[str, ...]
) -> tuple[Breakdown, ...]:
    return tuple(
        Breakdown(
            key,
            len(group),
            sum(c.moved for c in group),
            _matrix(group, rows, cols),
            score_deltas(group),
        )
        for key, group in sorted(keyed.items())
    )


def compare_runs(old: Run, new: Run, lang: str = "zh") -> Comparison:
    """Each subject either run graded (or excluded), matched by id; whatever order the runs
    hold them in, the comparison is the same."""
    olds = {r.subject.id: r for r in old}
    news = {r.subject.id: r for r in new}
    changes: list[SubjectChange] = []
    for sid in sorted(olds.keys() | news.keys()):
        a, b = olds.get(sid), news.get(sid)
        subject = (a or b).subject  # type: ignore[union-attr]
        changes.append(
            SubjectChange(
                sid, subject.name, subject.region or "(none)", _side(a, lang), _side(b, lang)
            )
        )
    rows = _labels(old.context.plan, (c.old.label for c in changes))
    cols = _labels(new.context.plan, (c.new.label for c in changes))
    by_region: dict[str, list[SubjectChange]] = defaultdict(list)
    by_group: dict[str, list[SubjectChange]] = defaultdict(list)
    for c in changes:
        by_region[c.region].append(c)
        if c.group_key is not None:
            by_group[c.group_key].append(c)
    warnings = tuple(dict.fromkeys(p.code for p in (*old.warnings, *new.warnings)))
    return Comparison(
        old_policy=policy_block(old.context.plan),
        new_policy=policy_block(new.context.plan),
        as_of=new.context.as_of.isoformat(),
        subjects=tuple(changes),
        matrix=_matrix(changes, rows, cols),
        score_deltas=score_deltas(changes),
        by_region=_breakdowns(by_region, rows, cols),
        by_group=_breakdowns(by_group, rows, cols),
        warnings=warnings,
    )


# -- rendering a comparison -------------------------------------------------------------------


def _policy_line(policy: Mapping[str, Any]) -> str:
    line = f"{policy['id']} {policy['version']}  sha256 {policy['sha256'][:12]}…"
    if policy.get("overrides"):
        line += "  --set " + ";".join(f"{k}={shown(v)}" for k, v in policy["overrides"].items())
    return line


def _number(value: float | None) -> str:
    return "" if value is None else f"{jsonable(value)}"


def _signed(value: float | None) -> str:
    if value is None:
        return ""
    text = _number(value)
    return text if text.startswith("-") or value == 0 else f"+{text}"


def matrix_rows(matrix: Matrix) -> list[list[str]]:
    """The matrix as table cells: a header, a row per old outcome, totals last."""
    head = ["old \\ new", *matrix.columns, "total"]
    body = [
        [
            r,
            *(str(matrix.count(r, c)) for c in matrix.columns),
            str(sum(matrix.count(r, c) for c in matrix.columns)),
        ]
        for r in matrix.rows
    ]
    totals = [sum(matrix.count(r, c) for r in matrix.rows) for c in matrix.columns]
    body.append(["total", *map(str, totals), str(sum(totals))])
    return [head, *body]


def _aligned(rows: Sequence[Sequence[str]], right: Iterable[int] = ()) -> list[str]:
    out = io.StringIO()
    write_aligned(rows, out, right=frozenset(right))
    return out.getvalue().splitlines()


def _delta_rows(delta: ScoreDelta) -> list[list[str]]:
    rows = [[f"{delta.ruleset} ({delta.subjects})", "old", "new", "delta"]]
    rows += [[n, _number(o), _number(w), _signed(_delta(o, w))] for n, o, w in delta.parts]
    return rows


def _breakdown_rows(title: str, breakdowns: Sequence[Breakdown]) -> list[list[str]]:
    """One row per region or group: its matrix as the cells off the diagonal (``moves``) and
    on it (``stayed``), and its nonzero mean deltas (the JSON format has every number)."""
    rows = [[title, "subjects", "moved", "moves", "stayed", "score deltas"]]
    for b in breakdowns:
        m = b.matrix
        cells = [(r, c, m.count(r, c)) for r in m.rows for c in m.columns if m.count(r, c)]
        deltas = []
        for d in b.score_deltas:
            parts = [(n, _delta(o, w)) for n, o, w in d.parts]
            shown_parts = ", ".join(f"{n} {_signed(v)}" for n, v in parts if v) or "0"
            deltas.append(f"{d.ruleset}: {shown_parts}")
        rows.append(
            [
                b.key,
                str(b.subjects),
                str(b.moved),
                "; ".join(f"{r}→{c} {n}" for r, c, n in cells if r != c),
                "; ".join(f"{r} {n}" for r, c, n in cells if r == c),
                "; ".join(deltas),
            ]
        )
    return rows


def comparison_table(cmp: Comparison) -> str:
    """The comparison as aligned text for a terminal."""
    lines = [
        f"compare  as of {cmp.as_of}  subjects {len(cmp.subjects)}  moved {len(cmp.moved)}",
        f"old  {_policy_line(cmp.old_policy)}",
        f"new  {_policy_line(cmp.new_policy)}",
        "",
        "grade migration (rows: old, columns: new)",
    ]
    lines += _aligned(matrix_rows(cmp.matrix), range(1, len(cmp.matrix.columns) + 2))
    lines.append("")
    lines.append(f"moved ({len(cmp.moved)})")
    if cmp.moved:
        rows = [["subject", "name", "old", "new", "score", "delta", "decided by", "changed steps"]]
        for c in cmp.moved:
            score = (
                f"{_number(c.old.score)} → {_number(c.new.score)}"
                if c.old.score is not None or c.new.score is not None
                else ""
            )
            rows.append(
                [
                    c.subject_id,
                    c.name or "",
                    c.old.label,
                    c.new.label,
                    score,
                    _signed(c.score_delta),
                    f"{', '.join(c.old.decided_by) or '-'} → {', '.join(c.new.decided_by) or '-'}",
                    ", ".join(c.changed_steps),
                ]
            )
        lines += _aligned(rows)
    lines.append("")
    if cmp.score_deltas:
        lines.append(
            "score deltas (means over the subjects scored by the same ruleset in both runs)"
        )
        for d in cmp.score_deltas:
            lines += _aligned(_delta_rows(d), (1, 2, 3))
        lines.append("")
    for title, breakdowns in (("region", cmp.by_region), ("group", cmp.by_group)):
        if breakdowns:
            lines.append(f"by {title}")
            lines += _aligned(_breakdown_rows(title, breakdowns), (1, 2))
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


COMPARE_CSV_COLUMNS = [
    "subject_id",
    "name",
    "region",
    "group",
    "old_ruleset",
    "new_ruleset",
    "old",
    "new",
    "moved",
    "old_score",
    "new_score",
    "score_delta",
    "old_decided_by",
    "new_decided_by",
    "changed_steps",
    "category_deltas",
]


def write_comparison_csv(cmp: Comparison, out: TextIO) -> None:
    """One row per subject (a pivot of these rows gives every matrix); the policies are in
    the JSON and table formats."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COMPARE_CSV_COLUMNS)
    for c in cmp.subjects:
        writer.writerow(
            [
                c.subject_id,
                c.name or "",
                c.region,
                c.group_key or "",
                c.old.ruleset or "",
                c.new.ruleset or "",
                c.old.label,
                c.new.label,
                csv_value(c.moved),
                csv_value(c.old.score),
                csv_value(c.new.score),
                csv_value(c.score_delta),
                ";".join(c.old.decided_by),
                ";".join(c.new.decided_by),
                ";".join(c.changed_steps),
                ";".join(f"{k}={csv_value(v)}" for k, v in c.category_deltas().items() if v),
            ]
        )


def write_comparison(cmp: Comparison, out: TextIO, fmt: str = "table") -> None:
    if fmt == "json":
        out.write(json.dumps(cmp.to_dict(), ensure_ascii=False, indent=2) + "\n")
    elif fmt == "csv":
        write_comparison_csv(cmp, out)
    elif fmt == "table":
        out.write(comparison_table(cmp))
    else:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(COMPARE_FORMATS)}")


def comparison_html(cmp: Comparison, lang: str = "zh") -> str:
    """The comparison as one self-contained HTML page: the migration heatmap and the tables
    the text format prints."""

    def matrix_html(m: Matrix) -> str:
        rows = matrix_rows(m)
        svg = migration_svg(m.rows, m.columns, m.counts, lang)
        return f"<figure>{svg}</figure>\n" + table_html(rows[0], rows[1:], range(1, len(rows[0])))

    def deltas_html(deltas: Sequence[ScoreDelta]) -> str:
        return "\n".join(
            table_html(rows[0], rows[1:], (1, 2, 3)) for rows in (_delta_rows(d) for d in deltas)
        )

    identity = (
        '<dl class="identity">'
        f"<dt>old</dt><dd>{escape(_policy_line(cmp.old_policy))}</dd>"
        f"<dt>new</dt><dd>{escape(_policy_line(cmp.new_policy))}</dd>"
        f"<dt>as of</dt><dd>{escape(cmp.as_of)}</dd>"
        f"<dt>subjects</dt><dd>{len(cmp.subjects)}</dd>"
        f"<dt>moved</dt><dd>{len(cmp.moved)}</dd></dl>"
    )
    moved = table_html(
        [
            "subject",
            "name",
            "old",
            "new",
            "old score",
            "new score",
            "delta",
            "decided by",
            "changed steps",
        ],
        [
            [
                c.subject_id,
                c.name or "",
                c.old.label,
                c.new.label,
                _number(c.old.score),
                _number(c.new.score),
                _signed(c.score_delta),
                f"{', '.join(c.old.decided_by) or '-'} → {', '.join(c.new.decided_by) or '-'}",
                ", ".join(c.changed_steps),
            ]
            for c in cmp.moved
        ],
        (4, 5, 6),
    )
    sections = [
        ("policies", identity),
        ("grade migration", matrix_html(cmp.matrix)),
        (f"moved ({len(cmp.moved)})", moved),
    ]
    if cmp.score_deltas:
        sections.append(("score deltas", deltas_html(cmp.score_deltas)))
    for title, breakdowns in (("region", cmp.by_region), ("group", cmp.by_group)):
        for b in breakdowns:
            sections.append(
                (
                    f"{title} {b.key} ({b.subjects}, moved {b.moved})",
                    matrix_html(b.matrix) + "\n" + deltas_html(b.score_deltas),
                )
            )
    return html_page(f"compare {cmp.as_of}", sections, lang)


# -- sensitivity -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One value of the parameter: the grade counts, and the subjects whose outcome differs
    from the previous value's."""

    value: Any
    counts: Mapping[str, int]
    flipped: tuple[tuple[str, str, str], ...] = ()
    """(subject id, outcome at the previous value, outcome at this one), by subject id."""
    pack: bool = False
    """Whether this is the value the pack itself gives on the run's date."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": jsonable(self.value),
            "pack_value": self.pack,
            "counts": dict(self.counts),
            "changed": bool(self.flipped),
            "flipped": [{"subject_id": s, "from": a, "to": b} for s, a, b in self.flipped],
        }


@dataclass(frozen=True)
class Sensitivity:
    """One parameter swept over a range of values (``sensitivity``)."""

    policy: Mapping[str, Any]
    """The pack, with the other values set for every run (``--set``), if any."""
    parameter: str
    pack_value: Any
    as_of: str
    subjects: int
    labels: tuple[str, ...]
    points: tuple[Point, ...]

    @property
    def flips(self) -> tuple[Point, ...]:
        return tuple(p for p in self.points if p.flipped)

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": dict(self.policy),
            "parameter": self.parameter,
            "pack_value": jsonable(self.pack_value),
            "as_of": self.as_of,
            "subjects": self.subjects,
            "labels": list(self.labels),
            "values": [p.to_dict() for p in self.points],
            "flips": [jsonable(p.value) for p in self.flips],
        }


def sensitivity_of(
    parameter: str, pack_value: Any, runs: Sequence[tuple[Any, Run]], policy: Mapping[str, Any]
) -> Sensitivity:
    """The grade counts at each value, in the order given; a value is a flip when any
    subject's outcome differs from the one at the value before it."""
    if not runs:
        raise ValueError("sensitivity needs at least one value")
    plan = runs[0][1].context.plan
    outcomes = [{r.subject.id: outcome_label(r) for r in run} for _, run in runs]
    labels = _labels(plan, (label for o in outcomes for label in o.values()))
    points = []
    previous: dict[str, str] | None = None
    for (value, _run), now in zip(runs, outcomes, strict=True):
        counts = Counter(now.values())
        flipped: tuple[tuple[str, str, str], ...] = ()
        if previous is not None:
            flipped = tuple(
                (sid, previous.get(sid, NOT_GRADED), now.get(sid, NOT_GRADED))
                for sid in sorted(previous.keys() | now.keys())
                if previous.get(sid, NOT_GRADED) != now.get(sid, NOT_GRADED)
            )
        points.append(
            Point(
                value,
                {label: counts.get(label, 0) for label in labels},
                flipped,
                _same(value, pack_value),
            )
        )
        previous = now
    return Sensitivity(
        policy=policy,
        parameter=parameter,
        pack_value=pack_value,
        as_of=runs[0][1].context.as_of.isoformat(),
        subjects=len(outcomes[0]),
        labels=labels,
        points=tuple(points),
    )


def _same(a: Any, b: Any) -> bool:
    return type(a) in (int, float) and type(b) in (int, float) and a == b


def _flipped_text(point: Point) -> str:
    return ", ".join(f"{s} {a}→{b}" for s, a, b in point.flipped)


def sensitivity_table(s: Sensitivity) -> str:
    lines = [
        f"sensitivity  {_policy_line(s.policy)}",
        f"parameter {s.parameter} (the pack's value: {shown(s.pack_value)})  as of {s.as_of}  "
        f"subjects {s.subjects}  flips at: "
        + (", ".join(shown(p.value) for p in s.flips) or "none"),
        "",
    ]
    rows = [[s.parameter, *s.labels, "", "flipped"]]
    for p in s.points:
        rows.append(
            [
                shown(p.value) + (" (pack)" if p.pack else ""),
                *(str(p.counts[label]) for label in s.labels),
                "*" if p.flipped else "",
                _flipped_text(p),
            ]
        )
    lines += _aligned(rows, range(1, len(s.labels) + 1))
    return "\n".join(lines) + "\n"


def write_sensitivity(s: Sensitivity, out: TextIO, fmt: str = "table") -> None:
    if fmt == "json":
        out.write(json.dumps(s.to_dict(), ensure_ascii=False, indent=2) + "\n")
    elif fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([s.parameter, *s.labels, "pack_value", "changed", "flipped"])
        for p in s.points:
            writer.writerow(
                [
                    csv_value(jsonable(p.value)),
                    *(p.counts[label] for label in s.labels),
                    csv_value(p.pack),
                    csv_value(bool(p.flipped)),
                    ";".join(f"{sid}:{a}>{b}" for sid, a, b in p.flipped),
                ]
            )
    elif fmt == "table":
        out.write(sensitivity_table(s))
    else:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(COMPARE_FORMATS)}")
