"""The shape of an audit pack (审核规则库), as pydantic models: what an analyst may write.

An audit pack is a folder: ``audit.yaml`` and the knowledge tables (审核知识点, CSV) it names.
Its rules follow the national framework's fields (国家医保局《医保基金智能审核和监控知识库、规则库
框架体系(1.0版)》): each names its logic type, time span, scope, result type (可疑 / 明确), the
clause it encodes and the knowledge table it reads. Unknown keys are refused, as in a credit
pack; whether a logic type takes the span, the parameters and the table's columns it is given
is checked afterwards (``audit.compile``), where the logic types are known.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from yibao_credit.pack.schema import Identifier, Meta, Provenance, Strict, Text

RuleId = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")]

Setting = Literal["outpatient", "inpatient", "pharmacy"]
"""The national scenarios 门(急)诊, 住院, 购药, as the claims contract names them."""

Span = Literal[
    "visit", "stay", "day", "month", "quarter", "year", "supply", "after_discharge", "period"
]
"""The national time spans (时间范围): 当次就诊 (``visit``: one claim), 当次住院 (``stay``), 自然日
(``day``), 自然月 (``month``), 每季度 (``quarter``), 自然年 (``year``); and the spans the
framework calls 其他: a drug's days of supply (``supply``), the days after a discharge
(``after_discharge``), the whole audit period (``period``)."""

ResultType = Literal["suspicious", "definite"]
"""可疑 (a flag awaiting review) or 明确 (a violation as it stands)."""

Stage = Literal["pre", "during", "post"]
"""事前 / 事中 / 事后: when the framework applies the rule. This engine audits settled claims,
so every rule runs after the fact; the stage is kept as the rule's declared scope."""

ColumnType = Literal["code", "text", "int", "decimal", "enum"]


class KnowledgeColumn(Strict):
    """One column of a knowledge table."""

    type: ColumnType
    required: bool = True
    """Whether every row must fill it; an optional cell may be left empty."""
    choices: list[str] | None = None
    """enum: the values allowed."""
    min: int | None = None
    """int / decimal: the smallest value allowed."""
    title: Text | None = None

    @field_validator("choices")
    @classmethod
    def _choices(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("an enum column needs at least one choice")
        return value


class KnowledgeTable(Provenance):
    """A table of knowledge points (审核知识点) beside the pack: one row per item code (or pair
    of codes) and its limit."""

    title: Text
    file: str
    """The CSV file, relative to the pack's folder."""
    columns: dict[Identifier, KnowledgeColumn] = Field(min_length=1)
    key: list[Identifier] = Field(min_length=1)
    """The columns no two rows may share."""


class Scope(Strict):
    """Where a rule applies (适用范围): the scenarios, the institutions, the stage."""

    settings: list[Setting] = Field(min_length=1)
    institution_categories: list[str] | None = None
    """The subjects' ``category`` (hospital, clinic, pharmacy, …) a rule applies to; needs
    ``--subjects``."""
    institution_levels: list[str] | None = None
    """The subjects' ``level`` a rule applies to; needs ``--subjects``."""
    stage: Stage = "post"


class RuleParameter(Provenance):
    """A threshold of a rule: its value and where the value comes from."""

    value: Any


class AuditRule(Provenance):
    """One audit rule (审核规则)."""

    id: RuleId
    title: Text
    logic: Identifier
    result_type: ResultType
    span: Span
    scope: Scope
    knowledge: Identifier | None = None
    parameters: dict[Identifier, RuleParameter] = Field(default_factory=dict)
    definition: Text | None = None
    """The rule's definition (规则定义), as a reader would state it."""


class AuditPackModel(Strict):
    """An audit pack as written."""

    audit: Meta
    levels: dict[str, int] | None = None
    """The subjects' ``level`` values and their rank (一级 1, 二级 2, 三级 3), for rules limited to
    a level and above."""
    knowledge: dict[Identifier, KnowledgeTable] = Field(default_factory=dict)
    rules: list[AuditRule] = Field(min_length=1)
