"""The package's layout by stage (docs/architecture.md): imports run one way, from later stages
to earlier ones, and no module imports another that imports it back — not at module level, not
under ``if TYPE_CHECKING:``, not inside a function.

The allowed direction is written once, here: ``STAGES`` in order. A module may import modules
of its own stage or of an earlier one, never of a later one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "yibao_credit"
SRC = Path(__file__).resolve().parent.parent / "src" / PACKAGE

STAGES: tuple[tuple[str, ...], ...] = (
    ("errors", "bulk", "arguments"),  # shared by every stage
    ("time",),  # periods, windows, the working-day calendar
    ("records",),  # the data contract: subjects, events, readers, checks
    ("pack",),  # YAML, source map, extends, the schema
    ("compile",),  # expressions and per-concept compilers -> the plan
    ("engine",),  # the Python back-end: generated code, run, roll-ups, measures
    ("sql",),  # the columnar back-end: the plan as SQL, run in DuckDB
    ("audit",),  # claims audit: audit packs, knowledge tables, rules as SQL, hits, events
    ("render",),  # trace, JSONL / CSV / table, text, summary
    ("policy",),  # the loaded pack: load -> compile -> evaluate, for callers
    ("spark",),  # the SQL program on Spark: DataFrames in, a DataFrame of results out
    ("packtest",),  # YAML test cases and the pytest plugin
    ("service",),  # the HTTP API and its decision log
    ("cli",),  # the command line
    ("__init__", "__main__", "_compat"),  # the public API, `python -m`, deprecated names
)
RANK = {top: i for i, group in enumerate(STAGES) for top in group}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join([PACKAGE, *parts]) if parts != ["__init__"] else PACKAGE


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module of the package ``name`` imports, wherever the import statement sits."""
    is_package = path.name == "__init__.py"
    base = name.split(".") if is_package else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - (node.level - 1)]
                mod = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                mod = node.module or ""
            targets = [mod]
            # ``from pkg import sub`` imports the submodule ``pkg.sub``.
            targets += [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in known]
        for t in targets:
            if t == PACKAGE or t.startswith(PACKAGE + "."):
                # Keep the longest prefix that is a module of the package.
                while t not in known and "." in t:
                    t = t.rsplit(".", 1)[0]
                if t != name:
                    found.add(t)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def stage_of(name: str) -> int:
    parts = name.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    if top not in RANK:
        raise AssertionError(f"{name}: top-level module {top!r} is in no stage of STAGES")
    return RANK[top]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_every_module_is_in_a_stage() -> None:
    for name in modules():
        stage_of(name)


def test_no_import_cycles() -> None:
    """No cycle anywhere in src/: TYPE_CHECKING and function-level imports count too."""
    found = cycles(graph())
    assert found == [], "import cycles: " + "; ".join(" ↔ ".join(c) for c in found)


def test_imports_run_from_later_stages_to_earlier_ones() -> None:
    wrong = [
        f"{a} imports {b}"
        for a, deps in sorted(graph().items())
        for b in sorted(deps)
        if stage_of(b) > stage_of(a)
    ]
    assert wrong == []


def test_no_module_imports_the_package_root() -> None:
    """The root imports every stage; a stage importing it would import its own future."""
    wrong = [a for a, deps in graph().items() if a != PACKAGE and PACKAGE in deps]
    assert wrong == []


def test_the_checker_sees_a_cycle_hidden_in_a_function(tmp_path: Path) -> None:
    """The test above must be able to fail: a cycle behind a function-level import is found."""
    edges = {"yibao_credit.a": {"yibao_credit.b"}, "yibao_credit.b": {"yibao_credit.a"}}
    assert cycles(edges) == [["yibao_credit.a", "yibao_credit.b"]]
    src = tmp_path / "m.py"
    src.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from yibao_credit.engine.results import Run\n"
        "def f():\n    from yibao_credit.policy import Policy\n"
    )
    known = set(modules())
    got = imports_of("yibao_credit.compile.x", src, known)
    assert got == {"yibao_credit.engine.results", "yibao_credit.policy"}


@pytest.mark.parametrize("package", sorted(p.parent.name for p in SRC.glob("*/__init__.py")))
def test_each_stage_says_what_it_owns(package: str) -> None:
    """Each subpackage's docstring says what it owns and what it may import."""
    doc = ast.get_docstring(ast.parse((SRC / package / "__init__.py").read_text()))
    assert doc and "may import" in doc.lower(), (
        f"{package}/__init__.py: docstring must say what it may import"
    )
