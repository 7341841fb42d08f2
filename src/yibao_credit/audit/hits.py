"""Audit hits (审核结果): one per finding, with its evidence, the money at issue, the clause and
a readable explanation in both languages.

A hit's id is a digest of what it found (rule, institution, insured person, item, period,
claim and line ids), so a rerun gives the same ids, and hits sort the same way every time:
by rule (in the pack's order), institution, insured person, period, item and evidence.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from yibao_credit.audit.compile import AuditPack, CompiledRule
from yibao_credit.pack.schema import ClauseRef

SPAN_WORDS = {
    "visit": ("当次就诊", "visit"),
    "stay": ("当次住院", "stay"),
    "day": ("单日", "day"),
    "month": ("自然月", "month"),
    "quarter": ("季度", "quarter"),
    "year": ("自然年", "year"),
    "supply": ("用药天数", "days of supply"),
    "after_discharge": ("出院后", "days after discharge"),
    "period": ("审核期间", "audit period"),
}

SEX_WORDS = {"M": ("男", "male"), "F": ("女", "female")}

FEN = Decimal("0.01")


def period_end(span: str, start: dt.date) -> dt.date:
    """The last day of the calendar span that starts on ``start``."""
    if span == "day":
        return start
    if span == "month":
        return start.replace(day=calendar.monthrange(start.year, start.month)[1])
    if span == "quarter":
        month = start.month + 2
        return start.replace(month=month, day=calendar.monthrange(start.year, month)[1])
    if span == "year":
        return start.replace(month=12, day=31)
    return start


def _number(text: str | None) -> str:
    """A decimal as a person writes it: ``14.0000`` → ``14``, ``2.5000`` → ``2.5``."""
    if text is None:
        return ""
    try:
        value = Decimal(text)
    except ArithmeticError:
        return text
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def _plain(text: str | None) -> str | None:
    """A compared value as a hit shows it: a decimal without trailing zeros; a ratio, a code
    (``001101000010000``, whose leading zeros are part of it) or a word as is."""
    if text is None or "/" in text or "." not in text:
        return text
    return _number(text)


def _fraction(text: str) -> Fraction:
    a, b = text.split("/")
    return Fraction(Decimal(a)) / Fraction(Decimal(b))


def _fen(value: Fraction) -> Decimal:
    """A fraction of yuan rounded half up to the fen."""
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(FEN, ROUND_HALF_UP)


@dataclass(frozen=True)
class Hit:
    """One finding of one rule."""

    id: str
    rule: str
    logic: str
    result_type: str
    institution_id: str | None
    insured_id: str | None
    practitioner_id: str | None
    claim_ids: tuple[str, ...]
    line_ids: tuple[str, ...]
    amount: Decimal
    period_from: dt.date | None
    period_to: dt.date | None
    item_code: str | None
    observed: str | None
    threshold: str | None
    clause: dict[str, str]
    explanation: dict[str, str]
    title: dict[str, str]
    provisional: tuple[str, ...]

    @property
    def period(self) -> str:
        """The period of the finding: one day, or ``from/to`` (ISO 8601)."""
        if self.period_from is None or self.period_to is None:
            return ""
        if self.period_from == self.period_to:
            return self.period_from.isoformat()
        return f"{self.period_from.isoformat()}/{self.period_to.isoformat()}"

    @property
    def subject_id(self) -> str:
        """Whom the finding is about: the institution, or the insured person when no single
        institution is (one card at several pharmacies in a day)."""
        return self.institution_id or self.insured_id or ""

    def sort_key(self, order: int) -> tuple[Any, ...]:
        return (
            order,
            self.institution_id or "",
            self.insured_id or "",
            self.period_from or dt.date.min,
            self.item_code or "",
            self.claim_ids,
            self.line_ids,
        )

    def to_dict(self, pack: AuditPack) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "logic": self.logic,
            "result_type": self.result_type,
            "institution_id": self.institution_id,
            "insured_id": self.insured_id,
            "practitioner_id": self.practitioner_id,
            "claim_ids": list(self.claim_ids),
            "line_ids": list(self.line_ids),
            "amount": str(self.amount),
            "period": self.period,
            "item_code": self.item_code,
            "observed": self.observed,
            "threshold": self.threshold,
            "clause": self.clause,
            "title": self.title,
            "explanation": self.explanation,
            "provisional": list(self.provisional),
            "pack": {"id": pack.id, "version": pack.version, "sha256": pack.sha256},
        }


def hit_id(rule: str, parts: list[str]) -> str:
    digest = hashlib.sha256("\x1f".join([rule, *parts]).encode()).hexdigest()
    return f"{rule}-{digest[:12]}"


def _clause(pack: AuditPack, rule: CompiledRule) -> dict[str, str]:
    clause = rule.rule.clause
    if clause is None:
        return {}
    if isinstance(clause, ClauseRef):
        source_id, ref = clause.source, clause.ref
    else:
        source_id, ref = pack.model.audit.sources[0].id, clause
    source = next((s for s in pack.model.audit.sources if s.id == source_id), None)
    out = {"source": source_id, "ref": ref}
    if source is not None:
        out["document"] = source.number
    return out


def _provisional(rule: CompiledRule) -> tuple[str, ...]:
    """What in the rule no published text sets: the rule itself, a parameter, its table."""
    out = []
    if rule.rule.provisional is not None:
        out.append("rule")
    out += [f"parameters.{n}" for n, p in rule.rule.parameters.items() if p.provisional]
    table = rule.knowledge
    if table is not None and rule.rule.knowledge is not None:
        out.append(f"knowledge.{table.name}")
    return tuple(out)


def _item_name(rule: CompiledRule, code: str | None) -> str:
    table = rule.knowledge
    if code is None or table is None or "name" not in table.columns:
        return code or ""
    key = table.columns[0]
    for row in table.rows:
        if row[table.columns.index(key)] == code and row[table.columns.index("name")]:
            return f"{code}({row[table.columns.index('name')]})"
    return code


def _age_words(threshold: str) -> tuple[str, str]:
    low, _, high = threshold.partition("..")
    if low and high:
        return f"{low}至{high}周岁", f"aged {low} to {high}"
    if low:
        return f"{low}周岁及以上", f"aged {low} and over"
    return f"{high}周岁及以下", f"aged {high} and under"


def explain(pack: AuditPack, rule: CompiledRule, hit: dict[str, Any]) -> dict[str, str]:
    """The hit in words, from the logic type's templates."""
    logic = rule.logic
    observed, threshold = hit["observed"] or "", hit["threshold"] or ""
    item = _item_name(rule, hit["item_code"])
    span_zh, span_en = SPAN_WORDS[rule.rule.span]
    zh = {
        "item": item,
        "span": span_zh,
        "observed": _number(observed),
        "threshold": _number(threshold),
    }
    en = {
        "item": item,
        "span": span_en,
        "observed": _number(observed),
        "threshold": _number(threshold),
    }
    if logic.name == "sex_limited":
        zh["observed"], en["observed"] = SEX_WORDS.get(observed, (observed, observed))
        zh["threshold"], en["threshold"] = SEX_WORDS.get(threshold, (threshold, threshold))
    elif logic.name == "age_limited":
        zh["threshold"], en["threshold"] = _age_words(threshold)
    elif logic.name == "level_limited":
        zh["threshold"] = en["threshold"] = pack.level_name(int(threshold))
    elif logic.name == "exclusive_items":
        zh["observed"] = en["observed"] = _item_name(rule, observed) or observed
    elif logic.name == "peer_outlier":
        own, other = _fraction(observed), _fraction(threshold)
        ratio = own / other if other else None
        factor = rule.params["factor"]
        zh["factor"] = en["factor"] = _number(str(factor))
        zh["ratio"] = en["ratio"] = "∞" if ratio is None else str(_fen(ratio))
        if rule.params["metric"] == "cost_per_case":
            zh["observed_text"] = f"次均费用{_fen(own)}元"
            en["observed_text"] = f"cost per case {_fen(own)} yuan"
            zh["threshold_text"] = f"{_fen(other)}元"
            en["threshold_text"] = f"{_fen(other)} yuan"
        else:
            zh["observed_text"] = f"诊断{hit['item_code']}占本机构病例的{_fen(own * 100)}%"
            en["observed_text"] = f"diagnosis {hit['item_code']} is {_fen(own * 100)}% of the cases"
            zh["threshold_text"] = f"{_fen(other * 100)}%"
            en["threshold_text"] = f"{_fen(other * 100)}%"
    text_zh = logic.explain_zh.format(**zh)
    text_en = logic.explain_en.format(**en)
    amount = hit["amount"]
    return {
        "zh": f"{text_zh};涉及金额{amount}元。",
        "en": f"{text_en}; amount at issue {amount} yuan.",
    }


def make_hit(pack: AuditPack, rule: CompiledRule, row: dict[str, Any]) -> Hit:
    """A hit from one row of a rule's table (``plan.HIT_COLUMNS``)."""
    start, end = row["period_start"], row["period_end"]
    if start is not None and end is None:
        end = period_end(rule.rule.span, start)
    amount = Decimal(row["amount"] or 0).quantize(FEN)
    if rule.logic.name == "peer_outlier" and rule.params["metric"] == "cost_per_case":
        own, other = _fraction(row["observed"]), _fraction(row["threshold"])
        n = Fraction(Decimal(row["observed"].split("/")[1]))
        amount = _fen(own * n - other * n)  # above what the peers' cost per case would give
    claim_ids = tuple(row["claim_ids"] or ())
    line_ids = tuple(row["line_ids"] or ())
    row = {**row, "amount": amount}
    parts = [
        row["institution_id"] or "",
        row["insured_id"] or "",
        row["item_code"] or "",
        start.isoformat() if start else "",
        ",".join(claim_ids),
        ",".join(line_ids),
    ]
    title = rule.rule.title
    return Hit(
        id=hit_id(rule.rule.id, parts),
        rule=rule.rule.id,
        logic=rule.logic.name,
        result_type=rule.rule.result_type,
        institution_id=row["institution_id"],
        insured_id=row["insured_id"],
        practitioner_id=row["practitioner_id"],
        claim_ids=claim_ids,
        line_ids=line_ids,
        amount=amount,
        period_from=start,
        period_to=end,
        item_code=row["item_code"],
        observed=_plain(row["observed"]),
        threshold=_plain(row["threshold"]),
        clause=_clause(pack, rule),
        explanation=explain(pack, rule, row),
        title={"zh": title.zh, "en": title.en or title.zh},
        provisional=_provisional(rule),
    )


def hits_jsonl(pack: AuditPack, hits: list[Hit]) -> str:
    """One JSON object a line, keys in a fixed order, non-ASCII kept: byte-identical on rerun."""
    return "".join(
        json.dumps(h.to_dict(pack), ensure_ascii=False, separators=(", ", ": ")) + "\n"
        for h in hits
    )


def _cells(rows: list[list[str]]) -> str:
    widths = [max(_width(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        out.append(
            "  ".join(c + " " * (w - _width(c)) for c, w in zip(row, widths, strict=True)).rstrip()
        )
    return "\n".join(out) + "\n"


def _width(text: str) -> int:
    """Columns a text takes in a terminal: a CJK character takes two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def hits_table(pack: AuditPack, hits: list[Hit], lang: str = "zh") -> str:
    """The hits as a plain text table, one line each."""
    head = ["hit", "rule", "result", "institution", "insured", "period", "amount", "explanation"]
    rows = [head]
    for h in hits:
        rows.append(
            [
                h.id,
                h.rule,
                h.result_type,
                h.institution_id or "-",
                h.insured_id or "-",
                h.period or "-",
                str(h.amount),
                h.explanation[lang],
            ]
        )
    return _cells(rows)


def summary(
    pack: AuditPack, hits: list[Hit], rules_run: tuple[CompiledRule, ...] | None = None
) -> dict[str, Any]:
    """Hits and money at issue per rule run and per institution (or insured person)."""
    rules: dict[str, dict[str, Any]] = {}
    for compiled in rules_run if rules_run is not None else pack.rules:
        title = compiled.rule.title
        rules[compiled.rule.id] = {
            "rule": compiled.rule.id,
            "title": title.en or title.zh,
            "title_zh": title.zh,
            "logic": compiled.logic.name,
            "result_type": compiled.rule.result_type,
            "hits": 0,
            "amount": FEN * 0,
        }
    subjects: dict[str, dict[str, Any]] = {}
    for h in hits:
        r = rules[h.rule]
        r["hits"] += 1
        r["amount"] += h.amount
        s = subjects.setdefault(
            h.subject_id,
            {
                "subject_id": h.subject_id,
                "is": "institution" if h.institution_id else "insured",
                "definite": 0,
                "suspicious": 0,
                "amount": FEN * 0,
            },
        )
        s[h.result_type] += 1
        s["amount"] += h.amount
    return {
        "pack": {"id": pack.id, "version": pack.version, "sha256": pack.sha256},
        "hits": len(hits),
        "amount": str(sum((h.amount for h in hits), FEN * 0)),
        "rules": [{**r, "amount": str(r["amount"])} for r in rules.values()],
        "subjects": [{**s, "amount": str(s["amount"])} for _, s in sorted(subjects.items())],
    }


def summary_table(data: dict[str, Any], lang: str = "zh") -> str:
    rows = [["rule", "logic", "result", "hits", "amount", "title"]]
    for r in data["rules"]:
        title = r["title_zh"] if lang == "zh" else r["title"]
        rows.append([r["rule"], r["logic"], r["result_type"], str(r["hits"]), r["amount"], title])
    by = [["subject", "definite", "suspicious", "amount"]]
    for s in data["subjects"]:
        by.append([s["subject_id"], str(s["definite"]), str(s["suspicious"]), s["amount"]])
    total = f"{data['hits']} hits, {data['amount']} yuan at issue\n"
    return _cells(rows) + "\n" + _cells(by) + "\n" + total
