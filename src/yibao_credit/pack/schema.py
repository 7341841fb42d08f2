"""The shape of a policy pack, as pydantic models: what an analyst may write, and nothing else.

Unknown keys are rejected (a misspelt ``wehre`` must never be ignored). Each rule and each
number carries its provenance: a ``clause`` of a source document, or ``provisional`` with the
local decision that must confirm it. Meaning — names, expressions, grade labels, intervals — is
checked afterwards by the compiler, which has the whole pack in view.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


ValueType = Literal["str", "int", "number", "bool", "date"]


PERIOD_RE = re.compile(r"^(\d+)([ymd])$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    """A label, or a reading (a ``note`` or ``provisional``), in both languages the results
    are rendered in: Chinese first (``zh``, required), English for the reviewer (``en``; the
    Chinese stands in when it is not given)."""

    zh: str
    en: str | None = None

    def get(self, lang: str) -> str:
        return (self.en or self.zh) if lang == "en" else self.zh


def _reading_form(value: Any) -> str | None:
    if isinstance(value, str):
        return "Plain"
    if isinstance(value, dict | Text):
        return "Text"
    return None


Reading = Annotated[
    Annotated[str, Tag("Plain")] | Annotated[Text, Tag("Text")],
    Discriminator(
        _reading_form,
        custom_error_type="reading",
        custom_error_message="a note or provisional text is a string, or a mapping "
        "{zh: ..., en: ...} (Chinese first)",
    ),
]
"""A ``note`` or ``provisional``: a plain string (shown as written in both languages), or
``{zh, en}`` like a title — issue 14 item 12, "Chinese first"."""


def reading(value: str | Text | None) -> Text | None:
    """A reading as the renderers take it: a plain string is the same text in both languages."""
    if value is None or isinstance(value, Text):
        return value
    return Text(zh=value)


class ClauseRef(Strict):
    """A citation of a clause in one of the pack's sources (or another listed document)."""

    source: Identifier
    ref: str
    kind: Literal["article", "subject"] = "article"
    """``article``: ``ref`` is a clause number as the document prints it (三(二)3);
    ``subject``: ``ref`` names what the document says, for a text cited by subject because
    no clause number of it is at hand (the trace marks such a citation)."""


def _clause_form(value: Any) -> str:
    return "ClauseRef" if isinstance(value, dict | ClauseRef) else "Plain"


Clause = Annotated[
    Annotated[str, Tag("Plain")] | Annotated[ClauseRef, Tag("ClauseRef")],
    Discriminator(_clause_form),
]
"""A clause of the pack's primary source (text), or ``{source, ref, kind}``: a mapping is
checked as a ``ClauseRef`` only, anything else as text, so that one mistake is one error."""


class Provenance(Strict):
    """Where a rule or number comes from: a published clause, or a provisional decision."""

    clause: Clause | None = None
    provisional: Reading | None = None
    note: Reading | None = None

    @model_validator(mode="after")
    def _has_provenance(self) -> Provenance:
        if self.clause is None and self.provisional is None:
            raise ValueError(
                "needs 'clause' (the published clause it encodes) or 'provisional' "
                "(which local decision must confirm it)"
            )
        return self


class MaybeProvisional(Strict):
    """Metadata that a published text may or may not set (the pack's identity, a source, a
    grade label): nothing is required, but a value no document prints says so in
    ``provisional`` (which local decision must confirm it), and ``validate --provisional``
    lists it with the rules' provisional values."""

    provisional: Reading | None = None
    note: Reading | None = None


class Source(MaybeProvisional):
    """A published document the pack encodes."""

    id: Identifier
    number: str
    title: str
    issuer: str
    date: dt.date | None = None
    seed: str | None = None
    url: str | None = None


class Effective(Strict):
    from_: dt.date = Field(alias="from")
    to: dt.date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Effective:
        if self.to is not None and self.to < self.from_:
            raise ValueError("'to' is before 'from'")
        return self


class Jurisdiction(Strict):
    name: str
    region: str | None = None


class Meta(MaybeProvisional):
    id: Identifier
    name: Text
    jurisdiction: Jurisdiction
    version: str
    effective: Effective
    sources: list[Source] = Field(min_length=1)
    description: str | None = None
    version_by: Identifier | None = None
    """Which date picks this version among a pack's dated versions: the start of the named
    window (the evaluated year, say), or as_of when not given."""


class ParamValue(Provenance):
    value: Any


class Parameter(Strict):
    """A dated value (OpenFisca style): each value holds from its date until the next one."""

    title: Text | None = None
    type: ValueType | Literal["period"]
    values: dict[str, ParamValue] = Field(min_length=1)

    @field_validator("values")
    @classmethod
    def _dated(cls, values: dict[str, ParamValue]) -> dict[str, ParamValue]:
        for key in values:
            try:
                dt.date.fromisoformat(key)
            except ValueError as exc:
                raise ValueError(f"{key!r} is not a date (YYYY-MM-DD)") from exc
        return values


class AttributeDecl(Strict):
    type: ValueType
    required: bool = False
    default: Any = None
    choices: list[str] | None = None
    title: Text | None = None


class EventKindDecl(Provenance):
    """An event kind the pack adds to the core vocabulary."""

    title: Text
    attributes: dict[Identifier, AttributeDecl] = {}


class Window(Provenance):
    """Which events count: a rolling lookback, a calendar year, or since a subject's date."""

    title: Text
    type: Literal["rolling", "calendar_year", "since", "all"]
    length: str | None = None
    """rolling: a period such as ``1y``, ``6m``, ``30d``, or a parameter name of type period."""
    offset: int = Field(default=0, le=0)
    """calendar_year: 0 is the year of as_of, -1 the year before it (never a future year)."""
    field: Identifier | None = None
    """since: the subject's date field the window starts on (inclusive)."""
    cycle: Literal["completed", "to_date"] | None = None
    """calendar_year: ``completed`` evaluates the last year that has ended on as_of (a result
    published after its year, as of any day of the next); ``to_date`` reads the running year
    up to as_of on purpose (points that accumulate). Unset, a ruleset whose period the window
    is warns when as_of falls before its year's end."""

    @model_validator(mode="after")
    def _shape(self) -> Window:
        needs = {"rolling": "length", "since": "field"}
        if self.type in needs and getattr(self, needs[self.type]) is None:
            raise ValueError(f"a {self.type} window needs '{needs[self.type]}'")
        if self.type != "rolling" and self.length is not None:
            raise ValueError("'length' only applies to a rolling window")
        if self.type != "since" and self.field is not None:
            raise ValueError("'field' only applies to a since window")
        if self.type != "calendar_year" and self.offset:
            raise ValueError("'offset' only applies to a calendar_year window")
        if self.type != "calendar_year" and self.cycle is not None:
            raise ValueError("'cycle' only applies to a calendar_year window")
        return self


class Fact(Provenance):
    """A named quantity derived from a subject and its windowed events."""

    title: Text
    op: Literal["count", "sum", "max", "min", "exists", "compute"]
    where: str | None = None
    of: Identifier | None = None
    window: Identifier | None = None
    expr: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Fact:
        if self.op == "compute":
            if self.expr is None:
                raise ValueError("a compute fact needs 'expr'")
            if self.where or self.of or self.window:
                raise ValueError("a compute fact takes only 'expr' (no where/of/window)")
        else:
            if self.expr is not None:
                raise ValueError(f"'expr' is for compute facts; a {self.op} fact uses 'where'")
            if self.window is None:
                raise ValueError(f"a {self.op} fact needs 'window'")
            if self.op in ("sum", "max", "min") and self.of is None:
                raise ValueError(f"a {self.op} fact needs 'of' (the attribute to {self.op})")
            if self.op in ("count", "exists") and self.of is not None:
                raise ValueError(f"'of' does not apply to a {self.op} fact")
        return self


class Exclusion(Provenance):
    """A case in which a subject is not evaluated this cycle (不参与评测)."""

    id: Identifier
    title: Text
    when: str


class Criterion(Provenance):
    id: Identifier
    title: Text
    when: str


class GradeRule(Provenance):
    """The criteria for one grade: ``any`` (one suffices) or ``all`` (each must hold)."""

    grade: str
    any: list[Criterion] | None = None
    all: list[Criterion] | None = None

    @model_validator(mode="after")
    def _one_list(self) -> GradeRule:
        if (self.any is None) == (self.all is None):
            raise ValueError("give exactly one of 'any' or 'all'")
        if not (self.any or self.all):
            raise ValueError("a grade rule needs at least one criterion")
        return self

    @property
    def criteria(self) -> list[Criterion]:
        return self.any if self.any is not None else (self.all or [])


class Grade(MaybeProvisional):
    label: str
    title: Text


class DefaultGrade(Provenance):
    grade: str


class CriteriaGrading(Strict):
    """Ordered grades; rules tried in order, the first that matches decides."""

    type: Literal["criteria"]
    grades: list[Grade] = Field(min_length=2)
    """Best first: the order roll-up caps and monotonicity checks rely on."""
    rules: list[GradeRule] = Field(min_length=1)
    default: DefaultGrade


NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def number_or_parameter(value: Any, *, gt: float | None = None, ge: float | None = None) -> Any:
    """A score number that may instead name a dated parameter (``cap: violation_cap``): a
    number (a numeric text reads as one) within its bound, or a name; the compiler checks that
    the name is a numeric parameter and that each of its values keeps the bound."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            if NAME_RE.fullmatch(text):
                return text
            raise PydanticCustomError(
                "number_or_parameter",
                "'{input}' is neither a number nor the name of a parameter",
                {"input": value},
            ) from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        if gt is not None and not value > gt:
            raise PydanticCustomError(
                "greater_than", "Input should be greater than {gt}", {"gt": gt}
            )
        if ge is not None and not value >= ge:
            raise PydanticCustomError(
                "greater_than_equal", "Input should be greater than or equal to {ge}", {"ge": ge}
            )
    return value


class ScoreItem(Provenance):
    """Points one rule adds (positive) or deducts (negative).

    ``points`` is a number or an expression (a parameter name, say). With ``per: <fact>`` it
    is per unit of a count or sum fact (−2 per violation); with ``when`` it applies only when
    the condition holds; otherwise it gives the points directly (indicator scoring). ``cap``
    bounds the item's total either way (扣分上限): a number, or a parameter's name.
    """

    id: Identifier
    title: Text
    points: float | str
    per: Identifier | None = None
    when: str | None = None
    cap: float | str | None = None
    """A number > 0, or the name of a numeric parameter (its value on the run's date)."""
    monitoring: bool = False
    """A provincial monitoring indicator (全省监测指标): flagged in the trace."""

    @field_validator("cap", mode="before")
    @classmethod
    def _cap(cls, value: Any) -> Any:
        return number_or_parameter(value, gt=0)


class ScoreCategory(Provenance):
    """A group of items with its own base, cap and weight in the total; ``cap`` and
    ``weight`` are numbers or names of numeric parameters (their values on the run's date)."""

    id: Identifier
    title: Text
    items: list[ScoreItem] = Field(min_length=1)
    base: float = 0
    cap: float | str | None = None
    """The items' sum is bounded to [-cap, cap] before the base is added (cap > 0)."""
    min: float | None = None
    max: float | None = None
    weight: float | str | None = None
    """The category's factor in the total (≥ 0; 1 when not given)."""

    @field_validator("cap", mode="before")
    @classmethod
    def _cap(cls, value: Any) -> Any:
        return number_or_parameter(value, gt=0)

    @field_validator("weight", mode="before")
    @classmethod
    def _weight(cls, value: Any) -> Any:
        return number_or_parameter(value, ge=0)


class Veto(Provenance):
    """一票否决: when it holds, the grade is forced whatever the score."""

    id: Identifier
    title: Text
    when: str
    grade: str


class Band(Provenance):
    """A score interval and its grade, edges explicit: ``[90, 100]``, ``[80, 90)``,
    ``(-inf, 60)``; an edge may be the name of a numeric parameter: ``[a_from, 100]``."""

    grade: str
    range: str


class ScoreGrading(Provenance):
    """Score = base + Σ weight × (category base + capped items), rounded half up to
    ``precision`` decimals and held within [floor, ceiling]; vetoes first, then bands."""

    type: Literal["score"]
    grades: list[Grade] = Field(min_length=2)
    base: float = 0
    floor: float | None = None
    ceiling: float | None = None
    precision: int = Field(default=2, ge=0, le=6)
    categories: list[ScoreCategory] = Field(min_length=1)
    vetoes: list[Veto] = []
    bands: list[Band] = Field(min_length=1)
    weights_total: float | None = None
    """When given, the categories' weights must add up to it (checked at load)."""
    points_total: float | None = None
    """When given, the categories' ``max`` (each must have one) must add up to it: a 100-point
    system whose parts are set by different authorities stays a 100-point system."""


class AllocationFinality(Provenance):
    """An allocation that may share the pool only once every result in it is final (no
    objection pending, no window open): Jiangsu 四 公示无异议后."""


class Allocation(Provenance):
    """How a pooled fund (the withheld quality deposits) is shared out by result: each
    subject's weight is an expression over ``deposit`` (its own withheld amount, in fen),
    ``score``, ``grade``, ``status`` and its fields; the whole pool goes out in proportion."""

    weight: str
    excluded: Literal["zero", "error"] = "zero"
    """An excluded subject's weight: nothing (zero), or an input error."""
    requires_final: AllocationFinality | None = None
    """Share the pool only among final results (with its clause); see ``AllocationFinality``."""


class Review(Provenance):
    """Assessed values reviewed in stages (self-assessment → county review → city
    confirmation): each stage's values are kept, the last stage present decides."""

    kind: Identifier
    attribute: Identifier = "stage"
    stages: list[str] = Field(min_length=2)
    key: list[Identifier] = Field(default_factory=lambda: ["indicator", "period"])
    """What identifies one assessed value across stages."""


class Group(Provenance):
    """An evaluation group within a subject type (by category, level, beds…), first match,
    with parameter values of its own."""

    id: Identifier
    title: Text
    when: str
    params: dict[Identifier, Any] = {}


class CapBand(Provenance):
    """A count interval [min, max] (both inclusive; max open when absent) and its cap."""

    min: int = Field(ge=0)
    max: int | None = None
    cap: str


class Rollup(Provenance):
    """A group rule run after the members are graded: it caps the head's grade."""

    id: Identifier
    title: Text
    members: str
    """Which subjects are members (an expression over the subject)."""
    head: Identifier
    """The member field naming the head subject's id (e.g. chain_id)."""
    counts: str
    """Which graded members count (an expression over ``grade``, ``status`` and the member)."""
    caps: list[CapBand] = Field(min_length=1)


class Measure(Provenance):
    """What follows from a grade (inspection frequency, publication, …), with parameters.

    ``when`` narrows it further, over the final ``grade``, its ``rank`` (0 is the best), the
    subject's fields and the ruleset's history facts: ``grade == '★★★' and excellent_before
    >= 1`` for "★★★ twice in a row".
    """

    id: Identifier
    title: Text
    grades: list[str] = Field(min_length=1)
    params: dict[Identifier, Any] = {}
    when: str | None = None


class HistoryFact(Provenance):
    """A quantity over the subject's results in earlier cycles (a file of earlier results).

    ``previous`` / ``previous_rank``: the grade (or its rank, 0 best) ``back`` cycles ago;
    ``held``: how many consecutive earlier cycles, counting back from the last one, had a grade
    in ``grades``; ``count``: in how many of the last ``within`` cycles the grade was in
    ``grades``. A cycle with no result, or with an exclusion, is never assumed: it stops a
    ``held`` run and shows in the trace as missing or excluded.
    """

    title: Text
    op: Literal["previous", "previous_rank", "held", "count"]
    back: int = Field(default=1, ge=1)
    grades: list[str] | None = None
    within: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _shape(self) -> HistoryFact:
        if self.op in ("held", "count") and not self.grades:
            raise ValueError(f"a {self.op} history fact needs 'grades'")
        if self.op == "count" and self.within is None:
            raise ValueError("a count history fact needs 'within' (how many earlier cycles)")
        if self.op in ("previous", "previous_rank") and (self.grades or self.within):
            raise ValueError(f"a {self.op} history fact takes only 'back'")
        return self


class HistoryLapse(Provenance):
    """When an earlier result no longer counts (济医保字〔2023〕19号 三(五) "不良行为信息有效期
    届满…后,原信用主体评价结果自动失效").

    An earlier cycle's result with a grade in ``grades`` lapses as of this run's as_of when the
    events it counted in ``facts`` — each fact's filter, and its window bounded as of the
    earlier as_of, over the events neither expired under ``validity`` nor repaired by then —
    are at least one, and every one of them has since expired or been repaired. A lapsed cycle
    has no grade for any history fact (like an excluded one); the trace shows it as ``lapsed``.
    """

    grades: list[str] = Field(min_length=1)
    """The earlier grades that can lapse."""
    facts: list[Identifier] = Field(min_length=1)
    """Event facts of the ruleset: the adverse information an earlier result rests on."""


class History(Strict):
    """How earlier cycles are found: results whose as_of lies whole cycles before this one."""

    cycle: str
    """The length of a cycle (``1y``): the previous cycle's result has as_of one cycle back."""
    facts: dict[Identifier, HistoryFact] = Field(min_length=1)
    lapse: HistoryLapse | None = None
    """When an earlier result lapses (its adverse information expired or repaired)."""


class Analysis(Provenance):
    """What the analysis of the results (济医保字〔2023〕19号 四(三) 按…重点指标进行分析) looks at
    first: the key indicators (重点指标), each a fact, a score item or a score category of the
    ruleset, named as the pack writes it. An empty list says the text names none."""

    key_indicators: list[Identifier] = []


class AppliesTo(Strict):
    """Which subjects a ruleset grades: a type, optionally some categories, optionally a
    condition over the subject (``inpatient`` for institutions with inpatient service)."""

    type: str
    categories: list[str] | None = None
    when: str | None = None


class Ruleset(Strict):
    """The rules for one type of subject: its facts, exclusions, grading and roll-ups."""

    title: Text
    applies_to: AppliesTo
    required: list[Identifier] = []
    """Subject fields this ruleset cannot do without; a subject lacking one is an input error."""
    period: Identifier | None = None
    """The window whose bounds are the period a result evaluates (each result says it);
    unset, the first window the ruleset's facts read."""
    facts: dict[Identifier, Fact] = {}
    exclusions: list[Exclusion] = []
    grading: Annotated[CriteriaGrading | ScoreGrading, Field(discriminator="type")]
    groups: list[Group] = []
    rollups: list[Rollup] = []
    measures: list[Measure] = []
    history: History | None = None
    allocation: Allocation | None = None
    analysis: Analysis | None = None
    """Key indicators for ``yibao-credit analyze`` and ``report`` (checked by the compiler)."""


class Procedure(Provenance):
    """A deadline of the procedure after a result. Either counted in days or working days
    from the day after its trigger (《民法典》第201条) — ``trigger`` ``notification`` (the
    result was notified) or ``objection`` (an objection was received), ``days``, ``unit`` —
    or a fixed calendar day: ``by`` (``MM-DD``) in the year ``years_after`` years after the
    year in which the pack's window ``window`` (the evaluated period) ends, optionally the
    day by which the procedure record ``step`` is due. The compiler checks that exactly one
    of the two forms is written."""

    id: Identifier
    title: Text
    trigger: Literal["notification", "objection"] | None = None
    days: int | None = Field(default=None, ge=1)
    unit: Literal["working_days", "days"] | None = None
    by: str | None = Field(default=None, pattern=r"^\d{2}-\d{2}$")
    """A fixed day, ``MM-DD`` (``"03-31"`` for 3月底)."""
    window: Identifier | None = None
    """With ``by``: the window whose end year the day is counted from."""
    years_after: int = Field(default=1, ge=0)
    """With ``by``: 0 for the year in which ``window`` ends, 1 (default) for the year after."""
    step: Literal["notification", "objection", "decision"] | None = None
    """With ``by``: the procedure record that is due by that day (checked, never moved)."""


class Validity(Provenance):
    """How long an event of a kind counts: until its validity period ends (有效期届满)."""

    period: str


class Repair(Provenance):
    """Credit repair: a ``repair`` event neutralises the event it names from its own date."""

    kinds: list[str] = Field(min_length=1)
    """The kinds of event a repair can neutralise."""


class CalendarYear(Provenance):
    """A year's official holiday arrangement, for a year the installed calendar lacks (or to
    correct one): the 国务院办公厅 notice and every day off and make-up working day."""

    year: int
    notice: str
    days_off: list[dt.date] = Field(min_length=1)
    workdays: list[dt.date] = []


class SubjectAttributeDecl(AttributeDecl):
    pass


class PackModel(Strict):
    """A whole policy pack file."""

    pack: Meta
    parameters: dict[Identifier, Parameter] = {}
    subject_attributes: dict[Identifier, SubjectAttributeDecl] = {}
    event_kinds: dict[Identifier, EventKindDecl] = {}
    windows: dict[Identifier, Window] = {}
    rulesets: dict[Identifier, Ruleset] = Field(min_length=1)
    procedures: list[Procedure] = []
    calendar: list[CalendarYear] = []
    validity: dict[Identifier, Validity] = {}
    repair: Repair | None = None
    review: Review | None = None
