"""Facts: a count, sum, max, min or exists over the subject's events in a window, with a
filter; or a value computed from other facts. Checked in dependency order, with the filter's
kind test taken out so the back-ends can index events by kind."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, replace
from itertools import count
from typing import Any

from yibao_credit.compile.context import CompileContext
from yibao_credit.compile.expressions import (
    Expr,
    TypeInfo,
    kind_constraint,
    not_none_names,
    peek_kinds,
)
from yibao_credit.compile.plan import CompiledFact
from yibao_credit.pack.schema import Fact, Ruleset
from yibao_credit.pack.sourcemap import PathKey


@dataclass
class CheckedFact:
    """A fact whose definition checked out, before it gets its slots."""

    name: str
    fact: Fact
    type: TypeInfo
    where: Expr | None = None
    kinds: frozenset[str] | None = None
    residual: ast.expr | None = None
    expr: Expr | None = None


def fact_order(ctx: CompileContext, rs: Ruleset, path: PathKey) -> list[str]:
    """Facts in dependency order (compute facts after what they read); cycles are errors."""
    deps: dict[str, set[str]] = {}
    for name, fact in rs.facts.items():
        deps[name] = set()
        if fact.op == "compute" and fact.expr:
            try:
                tree = ast.parse(fact.expr.strip(), mode="eval")
            except SyntaxError:
                continue
            deps[name] = {
                n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in rs.facts
            }
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(n: str, trail: list[str]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            cycle = " → ".join([*trail[trail.index(n) :], n])
            ctx.error((*path, "facts", n), f"facts depend on each other in a cycle: {cycle}")
            return
        state[n] = 1
        for d in sorted(deps[n]):
            visit(d, [*trail, n])
        state[n] = 2
        order.append(n)

    for name in rs.facts:
        visit(name, [])
    return order


def placeholder_type(op: str) -> TypeInfo:
    """The type a fact's operation gives; unknown for a compute fact until it is checked."""
    return {
        "count": TypeInfo("int"),
        "exists": TypeInfo("bool"),
        "sum": TypeInfo("number"),
        "max": TypeInfo("number", optional=True),
        "min": TypeInfo("number", optional=True),
    }.get(op, TypeInfo("unknown"))


def check_facts(
    ctx: CompileContext,
    rs: Ruleset,
    path: PathKey,
    scope: Mapping[str, TypeInfo],
    order: list[str],
) -> tuple[list[CheckedFact], dict[str, TypeInfo], list[str]]:
    """Each fact's definition checked; the types every fact has (so a broken one is reported
    once, not again at every rule that reads it) and the windows read, in order."""
    checked: list[CheckedFact] = []
    types: dict[str, TypeInfo] = {}
    windows: list[str] = []
    for name in order:
        fact = rs.facts[name]
        # Until its definition checks out, a fact has the type its operation gives.
        types[name] = placeholder_type(fact.op)
        fpath = (*path, "facts", name)
        if fact.op == "compute":
            assert fact.expr is not None
            e = ctx.try_expr(
                fact.expr,
                {**scope, **types},
                (*fpath, "expr"),
                expect=None,
                scope_name=f"fact {name}",
            )
            if e is not None:
                types[name] = e.type
                checked.append(CheckedFact(name, fact, e.type, expr=e))
            continue
        assert fact.window is not None
        _check_window(ctx, rs, path, fpath, fact.window)
        if fact.window not in windows:
            windows.append(fact.window)
        got = _check_event_fact(ctx, name, fact, fpath)
        if got is not None:
            types[name] = got.type
            checked.append(got)
    return checked, types, windows


def _check_window(
    ctx: CompileContext, rs: Ruleset, path: PathKey, fpath: PathKey, window: str
) -> None:
    windows = ctx.model.windows
    if window not in windows:
        ctx.error(
            (*fpath, "window"),
            f"unknown window {window!r}; the pack defines: {', '.join(windows) or 'none'}",
        )
    elif windows[window].type == "since":
        wfield = windows[window].field
        if wfield not in rs.required and wfield not in ("id", "type"):
            ctx.error(
                (*fpath, "window"),
                f"window {window!r} starts at {wfield!r}: list it under "
                f"{'.'.join(str(p) for p in path)}.required",
            )


def _check_event_fact(
    ctx: CompileContext, name: str, fact: Fact, fpath: PathKey
) -> CheckedFact | None:
    """An aggregate over events: its filter, the kinds it admits, the attribute it reads."""
    kinds = peek_kinds(fact.where) if fact.where else None
    if kinds is not None:
        unknown = sorted(kinds - set(ctx.kinds))
        if unknown:
            ctx.error(
                (*fpath, "where"),
                f"unknown event kind {unknown[0]!r}; known: {', '.join(sorted(ctx.kinds))}",
            )
            return None
    escope = ctx.event_scope(kinds)
    expr: Expr | None = None
    residual: ast.expr | None = None
    if fact.where:
        expr = ctx.try_expr(
            fact.where, escope, (*fpath, "where"), scope_name=f"the filter of fact {name}"
        )
        if expr is None:
            return None
        kinds, residual = kind_constraint(expr)
    if fact.of is None:
        ftype = TypeInfo("int" if fact.op == "count" else "bool")
        return CheckedFact(name, fact, ftype, expr, kinds, residual)
    info = escope.get(fact.of)
    if info is None or fact.of in ("kind", "id", "subject_id"):
        ctx.error((*fpath, "of"), f"{fact.of!r} is not an attribute of these events")
        return None
    if fact.op == "sum" and info.type not in ("int", "number"):
        ctx.error((*fpath, "of"), f"cannot sum {fact.of!r}: it is {info.type}")
        return None
    guarded = not_none_names(expr.tree.body) if expr is not None else frozenset()
    if info.optional and fact.of not in guarded:
        ctx.error(
            (*fpath, "of"),
            f"{fact.of!r} may be missing on these events; add "
            f"'and {fact.of} is not None' to the filter, or make the attribute "
            "required for the kind",
        )
        return None
    ftype = TypeInfo(
        "number" if fact.op == "sum" else info.type, optional=fact.op in ("max", "min")
    )
    return CheckedFact(name, fact, ftype, expr, kinds, residual)


def place_facts(
    ctx: CompileContext, checked: list[CheckedFact], path: PathKey, slot: count[int]
) -> list[CompiledFact]:
    """Slots: every fact's value first, then the evidence list of each event fact."""
    values: list[tuple[CheckedFact, Any, int]] = []
    for c in checked:
        fact = c.fact
        shown = c.expr if fact.op == "compute" else c.where
        spec = ctx.step(f"fact.{c.name}", "fact", fact.title, fact, (*path, "facts", c.name), shown)
        if fact.op != "compute":
            fixed: tuple[tuple[str, Any], ...] = (("window", fact.window), ("op", fact.op))
            if fact.of:
                fixed += (("of", fact.of),)
            if c.where is not None:
                fixed += (("where", c.where.text),)
            spec = replace(spec, fixed_inputs=fixed, reads=())
        values.append((c, spec, next(slot)))
    out: list[CompiledFact] = []
    for c, spec, value_slot in values:
        evidence = next(slot) if c.fact.op != "compute" else None
        out.append(
            CompiledFact(
                c.name,
                c.fact.op,
                c.fact.window,
                value_slot,
                evidence,
                spec,
                of=c.fact.of,
                where=c.where,
                kinds=c.kinds,
                residual=c.residual,
                expr=c.expr,
            )
        )
    return out


def kinds_read(facts: list[CompiledFact]) -> frozenset[str] | None:
    """Which event kinds the facts read (for reporting events no rule uses); None: all."""
    read: set[str] = set()
    for f in facts:
        if f.op == "compute":
            continue
        if f.kinds is None:
            return None
        read |= f.kinds
    return frozenset(read)
