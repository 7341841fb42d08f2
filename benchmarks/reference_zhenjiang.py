"""The hand-written reference, end to end: read the JSONL files with ``json``, grade the
Zhenjiang rules (``handwritten_zhenjiang.grade_all``) and write one JSON line per subject.

    python benchmarks/reference_zhenjiang.py SUBJECTS EVENTS OUTPUT [--as-of YYYY-MM-DD]

The yardstick the engines' end-to-end times are divided by: the plainest Python that gets from
the same files to the same grades (no checks, no trace, no citations).
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.handwritten_zhenjiang import grade_all, group_events

SUBJECT_KEYS = ("id", "category", "chain_id")
EVENT_KEYS = ("id", "subject_id", "kind", "verified", "nonperformance", "reason")


def read(path: Path, keys: tuple[str, ...], dated: str) -> list[SimpleNamespace]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            item = SimpleNamespace(**{k: row.get(k) for k in keys})
            day = row.get(dated)
            setattr(item, dated, date.fromisoformat(day) if day else None)
            out.append(item)
    return out


def main(argv: list[str]) -> int:
    as_of = date.fromisoformat(argv[argv.index("--as-of") + 1]) if "--as-of" in argv else None
    subjects_path, events_path, output = (Path(a) for a in argv[:3])
    as_of = as_of or date(2024, 12, 31)
    subjects = read(subjects_path, SUBJECT_KEYS, "designated_on")
    events = read(events_path, EVENT_KEYS, "date")
    graded = grade_all(subjects, group_events(events, as_of), as_of)  # type: ignore[arg-type]
    with output.open("w", encoding="utf-8") as out:
        for sid in sorted(graded):
            status, grade, exclusion = graded[sid]
            out.write(
                json.dumps(
                    {"subject_id": sid, "status": status, "grade": grade, "exclusion": exclusion},
                    ensure_ascii=False,
                )
                + "\n"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
