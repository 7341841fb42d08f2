"""Results as the data contract gives them: JSON Lines, CSV, or a table for people.

Output is deterministic: results are sorted by subject id, keys come in a fixed order, and
nothing depends on the order of the input files. Each result names the pack id, version and
content hash, so it can be replayed and audited later.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from typing import Any, TextIO

from .engine import Result, Run
from .trace import build_trace, measures_of

FORMATS = ("jsonl", "csv", "table")

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
]


def result_to_dict(result: Result, lang: str = "zh", trace: bool = True) -> dict[str, Any]:
    """One result as the contract's JSON object."""
    policy = result.context.policy
    out: dict[str, Any] = {
        "subject_id": result.subject.id,
        "status": result.status,
        "grade": result.grade,
        "score": None,
        "exclusion": result.exclusion,
        "policy": {"id": policy.id, "version": policy.version, "sha256": policy.sha256},
        "as_of": result.context.as_of.isoformat(),
        "ruleset": result.ruleset.id,
        "measures": measures_of(result, lang),
    }
    if trace:
        out["trace"] = build_trace(result, lang)
    return out


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def write_jsonl(results: Iterable[Result], out: TextIO, lang: str = "zh") -> None:
    write = out.write
    for r in results:
        write(dumps(result_to_dict(r, lang)))
        write("\n")


def write_csv(results: Iterable[Result], out: TextIO, lang: str = "zh") -> None:
    """One row per subject; the decisive steps and their clauses stand in for the trace."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in results:
        d = result_to_dict(r, lang)
        decisive = [s for s in d["trace"] if s.get("decisive")]
        policy = d["policy"]
        writer.writerow(
            [
                d["subject_id"],
                d["status"],
                d["grade"] or "",
                "",
                d["exclusion"] or "",
                d["ruleset"],
                ";".join(m["id"] for m in d["measures"]),
                ";".join(s["step"] for s in decisive),
                ";".join(s["clause"] or "" for s in decisive),
                policy["id"],
                policy["version"],
                policy["sha256"],
                d["as_of"],
            ]
        )


def write_table(results: Iterable[Result], out: TextIO, lang: str = "zh") -> None:
    """Aligned columns for reading in a terminal."""
    rows = [["subject_id", "name", "status", "grade", "exclusion", "decided by"]]
    for r in results:
        d = result_to_dict(r, lang)
        decisive = [s["step"] for s in d["trace"] if s.get("decisive")]
        rows.append(
            [
                d["subject_id"],
                r.subject.name or "",
                d["status"],
                d["grade"] or "",
                d["exclusion"] or "",
                ", ".join(decisive),
            ]
        )
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [c + " " * (widths[i] - _width(c)) for i, c in enumerate(row)]
        out.write("  ".join(cells).rstrip() + "\n")


def _width(text: str) -> int:
    """Display width: CJK characters take two columns in a terminal."""
    return sum(2 if ord(ch) > 0x2E80 and ch not in "★" else 1 for ch in text)


def write_results(
    run: Run | Iterable[Result], out: TextIO, fmt: str = "jsonl", lang: str = "zh"
) -> None:
    writers = {"jsonl": write_jsonl, "csv": write_csv, "table": write_table}
    if fmt not in writers:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    writers[fmt](iter(run), out, lang)


def render(run: Run | Iterable[Result], fmt: str = "jsonl", lang: str = "zh") -> str:
    buf = io.StringIO()
    write_results(run, buf, fmt, lang)
    return buf.getvalue()
