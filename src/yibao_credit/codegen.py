"""A ruleset as one generated Python function: a single pass over the subject's events (in
date order) collects every fact's evidence, then facts, exclusions, criteria, score and the
first-match decision follow as straight-line code, each step guarded so a failure names its
step. Generated only from checked expressions; kept in ``CompiledRuleset.source`` for review.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .compiled import (
    CompiledCheck,
    CompiledFact,
    CompiledRule,
    CompiledScore,
    subject_access,
)
from .expressions import Expr, TypeInfo, node_to_python
from .pack_schema import Ruleset, Window

if TYPE_CHECKING:
    from .compiler import PackCompiler

from .scoring import generate_score


def generate_ruleset(
    c: PackCompiler,
    rid: str,
    rs: Ruleset,
    facts: list[CompiledFact],
    fact_exprs: Mapping[str, tuple[Expr | None, frozenset[str] | None, ast.expr | None]],
    exclusions: list[CompiledCheck],
    exclusion_exprs: list[Expr],
    rules: list[CompiledRule],
    criterion_exprs: list[Expr],
    windows: list[str],
    scope: Mapping[str, TypeInfo],
    score: CompiledScore | None = None,
    score_exprs: Sequence[tuple[int, Expr | None, Expr | None]] = (),
    veto_exprs: Sequence[Expr] = (),
) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The source of ``_make``, the parameters it reads and the subject fields it reads."""
    """Python source for one ruleset: a single pass over the subject's events (in date
    order) collects every fact's evidence, then facts, exclusions, criteria and the
    first-match decision follow as straight-line code. Generated only from checked
    expressions; kept in ``CompiledRuleset.source`` for review.
    """
    params: set[str] = set()
    srename = c._subject_rename([f.name for f in facts], params)
    erename = c._event_rename(params)
    subject_names: set[str] = set(rs.required)
    values: dict[int, str] = {}
    step_index = 0
    body: list[str] = []
    ind = " " * 8

    def guarded(lines: list[str]) -> None:
        nonlocal step_index
        body.append(ind + "try:")
        body.extend(ind + "    " + ln for ln in lines)
        body.append(ind + "except Exception as _exc:")
        body.append(ind + f"    raise _StepFailed({step_index}) from _exc")
        step_index += 1

    for wi, wname in enumerate(windows):
        window: Window = c.model.windows[wname]
        if window.type == "since":
            assert window.field is not None
            subject_names.add(window.field)
            body.append(ind + f"w{wi}lo = s_{window.field}")

    # One pass over the events: facts grouped by kind, then by window.
    event_facts = [f for f in facts if f.op != "compute"]
    by_kind: dict[str | None, dict[int, list[tuple[CompiledFact, ast.expr | None]]]] = {}
    for f in event_facts:
        _expr, kinds, residual = fact_exprs[f.name]
        wi = windows.index(f.window or "")
        for kind in sorted(kinds) if kinds is not None else [None]:
            by_kind.setdefault(kind, {}).setdefault(wi, []).append((f, residual))
    if event_facts:
        # Evidence starts as the shared empty tuple; a list is made on the first match.
        body.append(ind + " = ".join(f"ev_{f.name}" for f in event_facts) + " = ()")
        body.append(ind + "e = None")
        body.append(ind + "try:")
        body.append(ind + "    for e in events:")
        inner = ind + " " * 8

        def emit(groups: dict[int, list[tuple[CompiledFact, ast.expr | None]]], pad: str) -> None:
            for wi, members in groups.items():
                body.append(pad + f"if w{wi}lo <= _d <= w{wi}hi:")
                for f, residual in members:
                    inner_pad = pad + "    "
                    if residual is not None:
                        cond = node_to_python(residual, erename)
                        body.append(inner_pad + f"if {cond}:")
                        inner_pad += "    "
                    body.append(inner_pad + f"if ev_{f.name}:")
                    body.append(inner_pad + f"    ev_{f.name}.append(e)")
                    body.append(inner_pad + "else:")
                    body.append(inner_pad + f"    ev_{f.name} = [e]")

        body.append(inner + "_d = e.date")
        if None in by_kind:
            emit(by_kind[None], inner)
        kinded = [k for k in by_kind if k is not None]
        if kinded:
            body.append(inner + "_k = e.kind")
            for i, kind in enumerate(kinded):
                body.append(inner + f"{'if' if i == 0 else 'elif'} _k == {kind!r}:")
                emit(by_kind[kind], inner + "    ")
        body.append(ind + "except Exception as _exc:")
        body.append(ind + "    raise _StepFailed(-1, e) from _exc")

    for f in facts:
        expr, _kinds, _residual = fact_exprs[f.name]
        values[f.slot] = f"f_{f.name}"
        if f.op == "compute":
            assert expr is not None
            for n in expr.names:
                if (
                    n not in fact_exprs
                    and n != "as_of"
                    and n not in c.param_types
                    and n not in c._history
                ):
                    subject_names.add(n)
            guarded([f"f_{f.name} = ({expr.to_python(srename)})"])
            continue
        ev = f"ev_{f.name}"
        assert f.evidence_slot is not None
        values[f.evidence_slot] = ev
        of = rs.facts[f.name].of
        of_access = erename(of) if of else ""
        if f.op == "count":
            guarded([f"f_{f.name} = len({ev})"])
        elif f.op == "exists":
            guarded([f"f_{f.name} = bool({ev})"])
        elif f.op == "sum":
            guarded([f"f_{f.name} = sum({of_access} for e in {ev})"])
        else:
            guarded([f"f_{f.name} = {f.op}(({of_access} for e in {ev}), default=None)"])

    checks = [
        *zip(exclusions, exclusion_exprs, strict=True),
        *zip([c for r in rules for c in r.criteria], criterion_exprs, strict=True),
    ]
    for check, expr in checks:
        for n in expr.names:
            if (
                scope.get(n) is not None
                and n not in fact_exprs
                and n != "as_of"
                and n not in c.param_types
                and n not in c._history
            ):
                subject_names.add(n)
        guarded([f"c{check.slot} = ({expr.to_python(srename)})"])
        values[check.slot] = f"c{check.slot}"

    if score is not None:
        generate_score(
            c,
            score,
            score_exprs,
            veto_exprs,
            srename,
            guarded,
            body,
            values,
            scope,
            subject_names,
            fact_exprs,
        )

    # The decision: first exclusion that holds, else the first grade rule that matches.
    for i, check in enumerate(exclusions):
        body.append(ind + f"{'if' if i == 0 else 'elif'} c{check.slot}:")
        body.append(ind + f"    _x = {i}")
    if exclusions:
        body.append(ind + "else:")
        body.append(ind + "    _x = -1")
    else:
        body.append(ind + "_x = -1")
    body.append(ind + "_r = None")
    body.append(ind + "if _x < 0:")
    for i, rule in enumerate(rules):
        joiner = " or " if rule.mode == "any" else " and "
        cond = joiner.join(f"c{c.slot}" for c in rule.criteria)
        body.append(ind + f"    {'if' if i == 0 else 'elif'} {cond}:")
        body.append(ind + f"        _r = {i}")
    if score is None:
        body.append(ind + "    else:")
        body.append(ind + "        _r = -1")
        body.append(ind + "_s = _v = None")
    else:
        body.append(ind + "    _s = c" + str(score.total_slot))
        for i, veto in enumerate(score.vetoes):
            body.append(ind + f"    {'if' if i == 0 else 'elif'} c{veto.slot}:")
            body.append(ind + f"        _v = {i}")
        body.append(ind + ("    else:" if score.vetoes else "    if True:"))
        body.append(ind + "        _v = -1")
        for i, band in enumerate(score.bands):
            iv = band.interval
            low = (
                ""
                if iv.low == float("-inf")
                else f"{iv.low!r} {'<=' if iv.low_inclusive else '<'} "
            )
            high = (
                ""
                if iv.high == float("inf")
                else f" {'<=' if iv.high_inclusive else '<'} {iv.high!r}"
            )
            cond = f"{low}_s{high}" if (low or high) else "True"
            body.append(ind + f"    {'if' if i == 0 else 'elif'} {cond}:")
            body.append(ind + f"        _r = {i}")
        body.append(ind + "else:")
        body.append(ind + "    _s = _v = None")

    head = ["def _make(AS_OF, W, P):"]
    for wi, wname in enumerate(windows):
        if c.model.windows[wname].type == "since":
            head.append(f"    w{wi}hi = W[{wi}][1]")
        else:
            head.append(f"    w{wi}lo, w{wi}hi = W[{wi}]")
    for p in sorted(params):
        head.append(f"    p_{p} = P[{p!r}]")
    head.append("    def _subject(s, events, H):")
    for h in sorted(c._history):
        head.append(f"        h_{h} = H[{h!r}]")
    for n in sorted(subject_names):
        head.append(f"        s_{n} = {subject_access(n)}")
    ordered = [values[i] for i in sorted(values)]
    tail = [
        f"        return ({', '.join([*ordered, '_x', '_r', '_s', '_v'])},)",
        "    return _subject",
        "",
    ]
    return "\n".join(head + body + tail), tuple(sorted(params)), tuple(sorted(subject_names))
