"""Load a policy pack: read the YAML, validate it against the schema, compile it.

``load_policy`` is the one entry point: it returns a ``Policy`` ready to evaluate, or raises
``PackError`` listing every problem with its file, line, column and path in the pack.
"""

from __future__ import annotations

import datetime as dt
import difflib
import itertools
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from . import pack_schema
from .calendar import WorkingCalendar, YearArrangement, default_calendar
from .compiled import CompiledProcedure, CompiledRuleset
from .compiler import PackCompiler, declared_kinds
from .errors import EvaluationError, Location, PackError, Problem
from .extends import read_pack_document
from .history import HistoryRecords
from .lifecycle import ProcedureRecords
from .pack_schema import PackModel, Provenance
from .records import AttributeSpec, EventKind, Records, Subject
from .review import CompiledReview
from .sourcemap import PathKey, YamlDocument, format_path
from .validity import ValidityRules

if TYPE_CHECKING:
    from .engine import Run


def _all_field_names() -> list[str]:
    names: set[str] = set()
    for obj in vars(pack_schema).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel):
            for fname, f in obj.model_fields.items():
                names.add(f.alias or fname)
    return sorted(names)


_FIELD_NAMES = _all_field_names()


def _real_path(data: Any, loc: Sequence[str | int]) -> PathKey:
    """Map a pydantic error location onto keys that exist in the document.

    Pydantic inserts union-member tags (``str``, ``ClauseRef``) into locations; those are not
    keys of the YAML and are skipped, so the error points at a line the analyst can find.
    """
    path: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part == node.get("type") and part not in node:
            continue  # a discriminated union's tag (grading type), not a key of the YAML
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and part == "from_" and "from" in node:
            path.append("from")
            node = node["from"]
        elif (
            isinstance(node, dict)
            and isinstance(part, str)
            and not part[:1].isupper()
            and part not in ("str", "int", "float", "bool", "list", "dict", "function-after")
        ):
            path.append(part)  # a missing or unknown key: point at its parent, name it
            node = None
    return tuple(path)


def schema_problems(
    exc: ValidationError, doc: YamlDocument, vocabulary: Sequence[str] | None = None
) -> list[Problem]:
    """Located problems from a validation error; unknown keys get a suggestion from
    ``vocabulary`` (by default every key a pack may use)."""
    words = list(vocabulary) if vocabulary is not None else _FIELD_NAMES
    problems: list[Problem] = []
    seen: set[tuple[PathKey, str]] = set()
    for err in exc.errors(include_url=False):
        path = _real_path(doc.data, err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(path[-1]) if path else "?"
            close = difflib.get_close_matches(key, words, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            message = f"unknown key {key!r}{hint}"
            location = doc.locate(path, key=True)
        elif kind == "missing":
            message = f"required key {str(path[-1])!r} is missing"
            location = doc.locate(path[:-1])
            location = type(location)(
                location.file, location.line, location.column, format_path(path)
            )
        else:
            message = err["msg"].removeprefix("Value error, ")
            location = doc.locate(path)
        if (path, message) in seen:
            continue
        seen.add((path, message))
        problems.append(Problem(f"pack.schema.{kind}", message, location))
    return problems


@dataclass(frozen=True)
class ProvisionalValue:
    """A rule or value not set by a published text, with the decision that must confirm it."""

    path: str
    line: int | None
    note: str
    file: str | None = None
    """The file that wrote it: a pack that extends another has values from several."""


class Policy:
    """A compiled policy pack: evaluate records against it, list its provisional values."""

    def __init__(
        self,
        model: PackModel,
        doc: YamlDocument,
        sha256: str,
        rulesets: Mapping[str, CompiledRuleset],
    ) -> None:
        self.model = model
        self.doc = doc
        self.file = doc.file
        self.sha256 = sha256
        """The pack file's SHA-256 (for a pack that extends another: of the whole chain)."""
        self.rulesets = dict(rulesets)
        self.event_kinds: dict[str, EventKind] = declared_kinds(model)
        self.procedures: dict[str, CompiledProcedure] = {}
        self.arrangements: list[YearArrangement] = []
        self.validity = ValidityRules({}, frozenset(), None)
        self.review: CompiledReview | None = None
        self._calendar: WorkingCalendar | None = None
        self.subject_attributes: dict[str, AttributeSpec] = {
            name: AttributeSpec(
                d.type, d.required, d.default, tuple(d.choices) if d.choices else None
            )
            for name, d in model.subject_attributes.items()
        }

    @property
    def calendar(self) -> WorkingCalendar:
        """The official working-day calendar, with the years the pack supplies (built on
        first use: most runs count no working days)."""
        if self._calendar is None:
            self._calendar = (
                WorkingCalendar(self.arrangements) if self.arrangements else default_calendar()
            )
        return self._calendar

    @property
    def id(self) -> str:
        return self.model.pack.id

    @property
    def grade_labels(self) -> frozenset[str]:
        """Every grade label of every ruleset (what an earlier result may hold)."""
        return frozenset(g for rs in self.rulesets.values() for g in rs.grades)

    def selection_date(self, as_of: dt.date) -> dt.date:
        """The date that picks this pack among its versions: as_of, or the start of the
        window ``version_by`` names (the evaluated year)."""
        name = self.model.pack.version_by
        if name is None:
            return as_of
        from .windows import window_bounds

        return window_bounds(self.model.windows[name], as_of).start or as_of

    @property
    def version(self) -> str:
        return self.model.pack.version

    def ruleset_for(self, subject: Subject) -> CompiledRuleset | None:
        """The one ruleset that grades a subject; two would be a contradiction in the pack."""
        found = [rs for rs in self.rulesets.values() if rs.applies(subject)]
        if len(found) > 1:
            raise EvaluationError(
                Problem(
                    "eval.two-rulesets",
                    f"subject {subject.id!r} is graded by rulesets {found[0].id!r} and "
                    f"{found[1].id!r}: their applies_to must not overlap",
                    self.doc.locate(("rulesets", found[1].id, "applies_to")),
                )
            )
        return found[0] if found else None

    def provisional(self) -> list[ProvisionalValue]:
        """Every provisional rule or value, in file order."""
        out = []
        for path, note in _walk_provisional(self.model, ()):
            where = self.doc.locate(path)
            out.append(ProvisionalValue(format_path(path), where.line, note, where.file))
        # This file's values first, then each extended file's, each in line order.
        order = {f: i for i, f in enumerate(dict.fromkeys([self.file, *(p.file for p in out)]))}
        return sorted(out, key=lambda p: (order[p.file], p.line or 0, p.path))

    def evaluate(
        self,
        subjects: Iterable[Subject | Mapping[str, Any]] | Records,
        events: Iterable[Any] = (),
        *,
        as_of: dt.date,
        history: HistoryRecords | Iterable[Mapping[str, Any]] | None = None,
        procedures: ProcedureRecords | Iterable[Mapping[str, Any]] | None = None,
        on: dt.date | None = None,
    ) -> Run:
        """Evaluate subjects and their events as of a date; see ``engine.evaluate``.

        ``history``: earlier results (a HistoryRecords, or dicts as ``result_to_dict`` gives
        them); ``procedures``: notification/objection/decision records; ``on``: the day the
        lifecycle is judged on.
        """
        from .engine import evaluate
        from .history import history_from_python
        from .lifecycle import procedures_from_python
        from .records import records_from_python

        records = (
            subjects if isinstance(subjects, Records) else records_from_python(subjects, events)
        )
        if history is not None and not isinstance(history, HistoryRecords):
            history = history_from_python(history, self.id, self.grade_labels)
        if procedures is not None and not isinstance(procedures, ProcedureRecords):
            procedures = procedures_from_python(procedures)
        return evaluate(self, records, as_of, history=history, procedures=procedures, on=on)


def _walk_provisional(node: Any, path: PathKey) -> Iterator[tuple[PathKey, str]]:
    if isinstance(node, Provenance) and node.provisional:
        yield path, node.provisional
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            value = getattr(node, name)
            key = type(node).model_fields[name].alias or name
            yield from _walk_provisional(value, (*path, key))
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _walk_provisional(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk_provisional(v, (*path, i))


def parse_pack(doc: YamlDocument) -> PackModel:
    """Validate a parsed document against the pack schema, with located errors."""
    if not isinstance(doc.data, dict):
        raise PackError(
            Problem(
                "pack.schema",
                "a pack is a mapping of sections (pack:, rulesets:, …)",
                doc.locate(()),
            )
        )
    try:
        return PackModel.model_validate(doc.data)
    except ValidationError as exc:
        raise PackError(schema_problems(exc, doc)) from None


def load_policy(path: str | Path) -> Policy:
    """Read, validate and compile a pack file; raises PackError with every problem found."""
    doc, digest = read_pack_document(path)
    model = parse_pack(doc)
    compiler = PackCompiler(model, doc)
    rulesets = compiler.compile()
    policy = Policy(model, doc, digest, rulesets)
    policy.procedures = compiler.procedures()
    policy.arrangements = compiler.calendar()
    policy.validity = ValidityRules(*compiler.validity())
    policy.review = compiler.review()
    return policy


class PolicySet:
    """The dated versions of one pack (a new indicator table each year): evaluation uses the
    version in force for the evaluated period, and the result names it."""

    def __init__(self, versions: list[Policy]) -> None:
        if not versions:
            raise PackError(Problem("pack.versions", "no pack found"))
        ids = sorted({v.id for v in versions})
        if len(ids) > 1:
            # The id most versions carry is taken as the pack's; each other one is located.
            counts = Counter(v.id for v in versions)
            usual = max(ids, key=lambda i: (counts[i], -ids.index(i)))
            raise PackError(
                [
                    Problem(
                        "pack.versions",
                        f"versions of one pack share its id; this file says {v.id!r}, "
                        f"{counts[usual]} other(s) say {usual!r} ({', '.join(ids)} found)",
                        v.doc.locate(("pack", "id")),
                    )
                    for v in sorted(versions, key=lambda v: v.file)
                    if v.id != usual
                ]
            )
        self.versions = sorted(versions, key=lambda v: v.model.pack.effective.from_)
        problems = []
        for a, b in itertools.pairwise(self.versions):
            ea, eb = a.model.pack.effective, b.model.pack.effective
            if ea.to is None or ea.to >= eb.from_:
                problems.append(
                    Problem(
                        "pack.versions.overlap",
                        f"versions {a.version!r} ({a.file}) and {b.version!r} overlap: "
                        f"{a.version} runs {ea.from_} .. {ea.to or 'open'}, {b.version} from "
                        f"{eb.from_}",
                        b.doc.locate(("pack", "effective")),
                    )
                )
        if problems:
            raise PackError(problems)

    @property
    def id(self) -> str:
        return self.versions[0].id

    def for_as_of(self, as_of: dt.date) -> Policy:
        """The version in force on the date that picks versions (see ``Meta.version_by``).

        A single pack is always used: evaluating it outside its effective period is the
        ``eval.pack-not-in-force`` warning, not an error (one may test a pack on older data)."""
        if len(self.versions) == 1:
            return self.versions[0]
        for policy in self.versions:
            day = policy.selection_date(as_of)
            eff = policy.model.pack.effective
            if eff.from_ <= day and (eff.to is None or day <= eff.to):
                return policy
        periods = "; ".join(
            f"{v.version}: {v.model.pack.effective.from_} .. {v.model.pack.effective.to or 'open'}"
            for v in self.versions
        )
        raise EvaluationError(
            Problem(
                "eval.no-version",
                f"no version of pack {self.id!r} is in force for as_of {as_of} ({periods})",
                Location(self.versions[0].file),
            )
        )


def load_policies(path: str | Path) -> PolicySet:
    """A pack file, or a folder of dated versions of one pack (``*.yaml``, tests left out)."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.glob("*.yaml") if not f.name.endswith(".tests.yaml"))
        return PolicySet([load_policy(f) for f in files])
    return PolicySet([load_policy(p)])
