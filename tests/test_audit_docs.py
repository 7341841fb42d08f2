"""docs/errors.md lists every code the audit raises, and docs/audit.md names every logic type
and span an audit pack may use (湖政办函〔2019〕14号 四(三): the analyst writes audit packs
from the docs alone)."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from yibao_credit.audit.logic import LOGIC_TYPES
from yibao_credit.audit.schema import Span

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [*(ROOT / "src" / "yibao_credit" / "audit").glob("*.py")]


def _section(text: str, heading: str) -> str:
    return text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]


def test_every_audit_code_is_in_errors_md() -> None:
    errors = _section((ROOT / "docs" / "errors.md").read_text("utf-8"), "## Audit pack errors")
    codes = set()
    for path in SOURCES:
        codes |= set(
            re.findall(r'"((?:audit|record\.review)\.[a-z][a-z.-]*)"', path.read_text("utf-8"))
        )
    codes.discard("audit.yaml")  # the pack's file name, not a code
    assert codes, "the pattern must find the codes"
    missing = sorted(c for c in codes if f"`{c}`" not in errors)
    assert missing == []


def test_audit_md_names_every_logic_type_and_span() -> None:
    doc = (ROOT / "docs" / "audit.md").read_text("utf-8")
    table = _section(doc, "## The logic types")
    assert sorted(n for n in LOGIC_TYPES if f"| `{n}` |" not in table) == []
    spans = _section(doc, "## An audit pack")
    assert sorted(s for s in typing.get_args(Span) if f"`{s}`" not in spans) == []
