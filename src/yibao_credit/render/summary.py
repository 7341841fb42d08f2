"""The batch summary: how many subjects got each grade, by region and ruleset, and which
measures and lifecycle stages follow — the analysis Jinan 四(三) asks for and Shenzhen
二(三) publishes."""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from typing import Any

from yibao_credit.arguments import LANGS, choice_argument
from yibao_credit.compile.overrides import shown
from yibao_credit.engine.results import Run
from yibao_credit.render.results import policy_block, write_aligned


def _label(status: str, grade: str | None, exclusion: str | None) -> str:
    return grade if status == "graded" and grade is not None else f"excluded:{exclusion}"


def summarize(run: Run, lang: str = "zh") -> dict[str, Any]:
    """Counts over a run's results, every mapping sorted so the output is deterministic."""
    choice_argument("lang", lang, LANGS)
    by_outcome: Counter[str] = Counter()
    by_region: dict[str, Counter[str]] = defaultdict(Counter)
    by_ruleset: dict[str, Counter[str]] = defaultdict(Counter)
    measures: Counter[str] = Counter()
    titles: dict[str, str] = {}
    policy = run.context.plan
    # A measure id two rulesets share (Shenzhen's publication, for institutions and for
    # practitioners) may be two different measures: those are counted as "ruleset/id".
    owners: dict[str, set[str]] = defaultdict(set)
    for rs in policy.rulesets.values():
        for ms in rs.measures.values():
            for m in ms:
                owners[m.id].add(rs.id)
    rank = {
        label: (i, j)
        for i, rs in enumerate(policy.rulesets.values())
        for j, label in enumerate(rs.grades)
    }
    stages: Counter[str] = Counter()
    by_group: dict[str, Counter[str]] = defaultdict(Counter)
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    counts: Counter[str] = Counter()
    for r in run:
        label = _label(r.status, r.grade, r.exclusion)
        by_outcome[label] += 1
        by_region[r.subject.region or "(none)"][label] += 1
        by_ruleset[r.ruleset.id][label] += 1
        for m in r.measures:
            key = m.id if len(owners[m.id]) == 1 else f"{r.ruleset.id}/{m.id}"
            measures[key] += 1
            titles[key] = m.title.get(lang)
        if r.lifecycle is not None:
            stages[r.lifecycle.stage] += 1
        if r.group is not None:
            by_group[f"{r.ruleset.id}/{r.group}"][label] += 1
        score = r.ruleset.score
        if score is not None and r.score is not None:
            counts[r.ruleset.id] += 1
            sums[r.ruleset.id]["score"] += r.score
            for cat in score.categories:
                sums[r.ruleset.id][cat.id] += r.values[cat.slot]

    def ordered(counts: Counter[str]) -> dict[str, int]:
        """Grades best first, in the pack's order; then exclusions by name."""
        return dict(sorted(counts.items(), key=lambda kv: (rank.get(kv[0], (99, 0)), kv[0])))

    return {
        "policy": policy_block(policy),
        "as_of": run.context.as_of.isoformat(),
        "subjects": len(run),
        "by_outcome": ordered(by_outcome),
        "by_region": {k: ordered(v) for k, v in sorted(by_region.items())},
        "by_ruleset": {k: ordered(v) for k, v in sorted(by_ruleset.items())},
        "measures": {k: {"title": titles[k], "subjects": n} for k, n in sorted(measures.items())},
        "lifecycle_stages": dict(sorted(stages.items())),
        "by_group": {k: ordered(v) for k, v in sorted(by_group.items())},
        "score_means": {
            rid: {name: round(total / counts[rid], 2) for name, total in parts.items()}
            for rid, parts in sorted(sums.items())
        },
        "warnings": [p.code for p in run.warnings],
    }


def summary_table(summary: dict[str, Any]) -> str:
    """The summary as aligned text for a terminal."""
    outcomes = list(summary["by_outcome"])
    lines = [
        f"{summary['policy']['id']} {summary['policy']['version']}  as of {summary['as_of']}  "
        f"subjects {summary['subjects']}",
        "",
    ]
    if summary["policy"].get("overrides"):
        given = ";".join(f"{k}={shown(v)}" for k, v in summary["policy"]["overrides"].items())
        lines[1:1] = [f"--set {given}"]

    def table(title: str, rows: dict[str, dict[str, int]]) -> None:
        header = [title, *outcomes, "total"]
        body = [
            [k, *(str(v.get(o, 0)) for o in outcomes), str(sum(v.values()))]
            for k, v in rows.items()
        ]
        out = io.StringIO()
        write_aligned([header, *body], out)
        lines.extend(out.getvalue().splitlines())
        lines.append("")

    table("outcome", {"all": summary["by_outcome"]})
    table("region", summary["by_region"])
    table("ruleset", summary["by_ruleset"])
    if summary["by_group"]:
        table("group", summary["by_group"])
    for rid, means in summary["score_means"].items():
        lines.append(f"mean scores ({rid}): " + ", ".join(f"{k} {v:g}" for k, v in means.items()))
        lines.append("")
    if summary["measures"]:
        lines.append("measure  subjects  title")
        for mid, m in summary["measures"].items():
            lines.append(f"{mid}  {m['subjects']}  {m['title']}")
        lines.append("")
    if summary["lifecycle_stages"]:
        lines.append(
            "lifecycle: " + ", ".join(f"{k} {v}" for k, v in summary["lifecycle_stages"].items())
        )
    return "\n".join(lines).rstrip() + "\n"
