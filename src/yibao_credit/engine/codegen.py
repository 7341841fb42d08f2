"""The plan of a ruleset as one generated Python function: a single pass over the subject's
events (in date order) collects every fact's evidence, then facts, exclusions, criteria, the
score and the first-match decision follow as straight-line code, each step guarded so a
failure names its step. Generated only from checked expressions; ``validate --show-code``
prints it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from yibao_credit.compile.expressions import Expr
from yibao_credit.compile.plan import (
    CompiledFact,
    CompiledRuleset,
    CompiledScore,
    Plan,
    ScoreNumber,
)
from yibao_credit.engine.pyexpr import node_to_python, to_python
from yibao_credit.engine.runtime import subject_access
from yibao_credit.records.contract import Event

IND = " " * 8


@dataclass
class Names:
    """How generated code names what an expression reads, and what it ended up reading."""

    facts: frozenset[str]
    history: frozenset[str]
    params: frozenset[str]
    used_params: set[str] = field(default_factory=set)
    subject: set[str] = field(default_factory=set)

    def subject_name(self, name: str) -> str:
        if name in self.facts:
            return f"f_{name}"
        if name in self.history:
            return f"h_{name}"
        if name == "as_of":
            return "AS_OF"
        if name in self.params:
            self.used_params.add(name)
            return f"p_{name}"
        self.subject.add(name)
        return f"s_{name}"

    def event_name(self, name: str) -> str:
        if name == "as_of":
            return "AS_OF"
        if name in self.params:
            self.used_params.add(name)
            return f"p_{name}"
        if name in Event.model_fields:
            return f"e.{name}"
        return f"_x(e, {name!r})"


def names_for(plan: Plan, rs: CompiledRuleset | None = None) -> Names:
    facts = frozenset(f.name for f in rs.facts) if rs else frozenset()
    history = frozenset(h.name for h in rs.history) if rs else frozenset()
    return Names(facts, history, frozenset(plan.parameters))


@dataclass
class _Body:
    """Lines of the function body; each guarded step gets the next step index."""

    lines: list[str] = field(default_factory=list)
    step_index: int = 0
    values: dict[int, str] = field(default_factory=dict)

    def guarded(self, code: str) -> None:
        self.lines += [
            IND + "try:",
            IND + "    " + code,
            IND + "except Exception as _exc:",
            IND + f"    raise _StepFailed({self.step_index}) from _exc",
        ]
        self.step_index += 1

    def value(self, slot: int, code: str) -> None:
        """A guarded step computing the value of ``slot``."""
        self.guarded(f"c{slot} = {code}")
        self.values[slot] = f"c{slot}"


def generate_ruleset(plan: Plan, rs: CompiledRuleset) -> tuple[str, tuple[str, ...]]:
    """The source of ``_make`` and the parameters it reads.

    ``_make(AS_OF, W, P)`` takes the run's date, window bounds and parameter values and gives
    ``_subject(s, events, H)``, which returns the ruleset's values tuple (see the plan) followed
    by the exclusion index, the rule or band index, the score and the veto index.
    """
    names = names_for(plan, rs)
    names.subject.update(rs.required)
    body = _Body()
    for wi, wname in enumerate(rs.windows):
        window = plan.windows[wname]
        if window.type == "since":
            assert window.field is not None
            names.subject.add(window.field)
            body.lines.append(IND + f"w{wi}lo = s_{window.field}")
    _event_pass(rs, names, body)
    _facts(rs, names, body)
    for check in [*rs.exclusions, *(c for r in rs.rules for c in r.criteria)]:
        body.value(check.slot, f"({to_python(check.expr, names.subject_name)})")
    if rs.score is not None:
        _score(rs.score, names, body)
    _decision(rs, body, names)
    head = ["def _make(AS_OF, W, P):"]
    for wi, wname in enumerate(rs.windows):
        if plan.windows[wname].type == "since":
            head.append(f"    w{wi}hi = W[{wi}][1]")
        else:
            head.append(f"    w{wi}lo, w{wi}hi = W[{wi}]")
    head += [f"    p_{p} = P[{p!r}]" for p in sorted(names.used_params)]
    head.append("    def _subject(s, events, H):")
    head += [f"        h_{h} = H[{h!r}]" for h in sorted(names.history)]
    head += [f"        s_{n} = {subject_access(n)}" for n in sorted(names.subject)]
    ordered = [body.values[i] for i in sorted(body.values)]
    tail = [
        f"        return ({', '.join([*ordered, '_xi', '_r', '_s', '_v'])},)",
        "    return _subject",
        "",
    ]
    return "\n".join(head + body.lines + tail), tuple(sorted(names.used_params))


def _event_pass(rs: CompiledRuleset, names: Names, body: _Body) -> None:
    """One pass over the events: each event fact's evidence, grouped by kind, then window."""
    event_facts = [f for f in rs.facts if f.op != "compute"]
    if not event_facts:
        return
    by_kind: dict[str | None, dict[int, list[CompiledFact]]] = {}
    for f in event_facts:
        wi = rs.windows.index(f.window or "")
        for kind in sorted(f.kinds) if f.kinds is not None else [None]:
            by_kind.setdefault(kind, {}).setdefault(wi, []).append(f)
    out = body.lines
    # Evidence starts as the shared empty tuple; a list is made on the first match.
    out.append(IND + " = ".join(f"ev_{f.name}" for f in event_facts) + " = ()")
    out += [IND + "e = None", IND + "try:", IND + "    for e in events:"]
    inner = IND + " " * 8

    def emit(groups: dict[int, list[CompiledFact]], pad: str) -> None:
        for wi, members in groups.items():
            out.append(pad + f"if w{wi}lo <= _d <= w{wi}hi:")
            for f in members:
                inner_pad = pad + "    "
                if f.residual is not None:
                    out.append(inner_pad + f"if {node_to_python(f.residual, names.event_name)}:")
                    inner_pad += "    "
                out.append(inner_pad + f"if ev_{f.name}:")
                out.append(inner_pad + f"    ev_{f.name}.append(e)")
                out.append(inner_pad + "else:")
                out.append(inner_pad + f"    ev_{f.name} = [e]")

    out.append(inner + "_d = e.date")
    if None in by_kind:
        emit(by_kind[None], inner)
    kinded = [k for k in by_kind if k is not None]
    if kinded:
        out.append(inner + "_k = e.kind")
        for i, kind in enumerate(kinded):
            out.append(inner + f"{'if' if i == 0 else 'elif'} _k == {kind!r}:")
            emit(by_kind[kind], inner + "    ")
    out.append(IND + "except Exception as _exc:")
    out.append(IND + "    raise _StepFailed(-1, e) from _exc")


def _facts(rs: CompiledRuleset, names: Names, body: _Body) -> None:
    for f in rs.facts:
        body.values[f.slot] = f"f_{f.name}"
        if f.op == "compute":
            assert f.expr is not None
            body.guarded(f"f_{f.name} = ({to_python(f.expr, names.subject_name)})")
            continue
        ev = f"ev_{f.name}"
        assert f.evidence_slot is not None
        body.values[f.evidence_slot] = ev
        of = names.event_name(f.of) if f.of else ""
        if f.op == "count":
            body.guarded(f"f_{f.name} = len({ev})")
        elif f.op == "exists":
            body.guarded(f"f_{f.name} = bool({ev})")
        elif f.op == "sum":
            body.guarded(f"f_{f.name} = sum({of} for e in {ev})")
        else:
            body.guarded(f"f_{f.name} = {f.op}(({of} for e in {ev}), default=None)")


def _score(score: CompiledScore, names: Names, body: _Body) -> None:
    """Items, category scores, the total and vetoes as straight-line code."""
    rename = names.subject_name
    weighted: list[str] = []
    for cat in score.categories:
        for item in cat.items:
            code = (
                f"({to_python(item.points_expr, rename)})"
                if item.points_expr
                else repr(item.points)
            )
            if item.per is not None:
                code = f"{code} * f_{item.per}"
            if item.when is not None:
                code = f"({code} if ({to_python(item.when, rename)}) else 0)"
            if item.cap is not None:
                code = f"_cap({code}, {_number(item.cap, names)})"
            body.value(item.slot, code)
        total = " + ".join(f"c{i.slot}" for i in cat.items)
        if cat.cap is not None:
            total = f"_cap({total}, {_number(cat.cap, names)})"
        code = f"{cat.base!r} + {total}"
        if cat.min is not None or cat.max is not None:
            code = f"_clamp({code}, {cat.min!r}, {cat.max!r})"
        body.value(cat.slot, code)
        weighted.append(
            f"c{cat.slot}" if cat.weight == 1.0 else f"{_number(cat.weight, names)} * c{cat.slot}"
        )
    total = f"{score.base!r} + " + " + ".join(weighted)
    body.value(
        score.total_slot,
        f"_round(_clamp({total}, {score.floor!r}, {score.ceiling!r}), {score.precision})",
    )
    for veto in score.vetoes:
        body.value(veto.slot, f"({to_python(veto.expr, rename)})")


def _number(value: ScoreNumber, names: Names) -> str:
    """A weight, cap or band edge: the number, or the parameter's value bound in ``_make``
    (the run's value in force, or the evaluation group's own)."""
    return names.subject_name(value) if isinstance(value, str) else repr(value)


def _decision(rs: CompiledRuleset, body: _Body, names: Names) -> None:
    """The first exclusion that holds, else the first grade rule (or band) that matches."""
    out = body.lines
    for i, check in enumerate(rs.exclusions):
        out.append(IND + f"{'if' if i == 0 else 'elif'} c{check.slot}:")
        out.append(IND + f"    _xi = {i}")
    if rs.exclusions:
        out += [IND + "else:", IND + "    _xi = -1"]
    else:
        out.append(IND + "_xi = -1")  # not _x: that is the runtime's attribute reader
    out += [IND + "_r = None", IND + "if _xi < 0:"]
    for i, rule in enumerate(rs.rules):
        joiner = " or " if rule.mode == "any" else " and "
        cond = joiner.join(f"c{c.slot}" for c in rule.criteria)
        out.append(IND + f"    {'if' if i == 0 else 'elif'} {cond}:")
        out.append(IND + f"        _r = {i}")
    score = rs.score
    if score is None:
        out += [IND + "    else:", IND + "        _r = -1", IND + "_s = _v = None"]
        return
    out.append(IND + "    _s = c" + str(score.total_slot))
    for i, veto in enumerate(score.vetoes):
        out.append(IND + f"    {'if' if i == 0 else 'elif'} c{veto.slot}:")
        out.append(IND + f"        _v = {i}")
    out.append(IND + ("    else:" if score.vetoes else "    if True:"))
    out.append(IND + "        _v = -1")
    for i, band in enumerate(score.bands):
        low = (
            ""
            if band.low == float("-inf")
            else f"{_number(band.low, names)} {'<=' if band.low_inclusive else '<'} "
        )
        high = (
            ""
            if band.high == float("inf")
            else f" {'<=' if band.high_inclusive else '<'} {_number(band.high, names)}"
        )
        cond = f"{low}_s{high}" if (low or high) else "True"
        out.append(IND + f"    {'if' if i == 0 else 'elif'} {cond}:")
        out.append(IND + f"        _r = {i}")
    out += [IND + "else:", IND + "    _s = _v = None"]


def generate_lambda(
    plan: Plan,
    expr: Expr,
    args: Iterable[str],
    direct: Mapping[str, str],
    history: Iterable[str] = (),
    exact: bool = False,
) -> str:
    """The source of ``_make(AS_OF, P)`` giving ``_f(*args)`` for one condition of the plan
    (a group, roll-up, measure or allocation weight); ``direct`` names arguments read as is."""
    names = Names(frozenset(), frozenset(history), frozenset(plan.parameters))

    def rename(name: str) -> str:
        return direct[name] if name in direct else names.subject_name(name)

    body = to_python(expr, rename, exact)
    lines = ["def _make(AS_OF, P):"]
    lines += [f"    p_{p} = P[{p!r}]" for p in sorted(names.used_params)]
    lines.append(f"    def _f({', '.join(args)}):")
    for name in expr.names:
        if name in names.history:
            lines.append(f"        h_{name} = H[{name!r}]")
        elif name not in direct and name != "as_of" and name not in plan.parameters:
            lines.append(f"        s_{name} = {subject_access(name)}")
    lines.append(f"        return {body}")
    lines.append("    return _f")
    return "\n".join(lines)
