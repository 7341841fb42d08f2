"""Commands for the analyst writing a pack: ``schema`` (a JSON Schema of the pack format, for
editors), ``new`` (a skeleton pack and its tests file), and ``test --coverage`` (which clauses
the tests reach).

The JSON Schema is generated from the pydantic models that validate a pack
(``pack/schema.py``), a tests file (``packtest/cases.py``) and a manifest
(``pack/manifest.py``), so it cannot drift from what ``validate`` accepts; it checks keys and
value types while an analyst types (``# yaml-language-server: $schema=./pack.schema.json``).
``validate`` stays the authority: names, expressions, bands and the rest of a pack's meaning
are checked only there.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import errno
import json
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from yibao_credit.cli.output import Output, OutputError
from yibao_credit.pack import schema as pack_schema
from yibao_credit.pack.manifest import ManifestModel
from yibao_credit.pack.schema import PackModel, Provenance
from yibao_credit.packtest.cases import CaseOutcome, LoadedTests, TestFile
from yibao_credit.packtest.coverage import coverage_dict, coverage_table, measure, under
from yibao_credit.policy import Policy, load_policy

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# -- test --coverage ------------------------------------------------------------------------


def _percent(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (a percentage)") from None
    if not value.is_finite() or not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a percentage from 0 to 100")
    return value


def add_coverage_options(te: argparse.ArgumentParser) -> None:
    """``test``'s clause-coverage options."""
    te.add_argument(
        "--coverage",
        action="store_true",
        help="after the cases, list every clause the pack cites and whether a case reaches it",
    )
    te.add_argument(
        "--fail-under",
        type=_percent,
        metavar="N",
        help="with --coverage: exit 1 when a pack's clause coverage is under N percent",
    )
    te.add_argument(
        "--format",
        choices=("table", "json"),
        help="with --coverage: the report as a table (the default) or JSON (the cases' lines "
        "then go to standard error)",
    )


def coverage_usage(args: argparse.Namespace) -> str | None:
    """What is wrong with ``test``'s options (exit 2), or None."""
    if not args.coverage:
        for given, option in ((args.fail_under, "--fail-under"), (args.format, "--format")):
            if given is not None:
                return f"{option} applies to the clause coverage report: add --coverage"
    return None


def report_coverage(
    packs: Sequence[tuple[Policy, Sequence[tuple[LoadedTests, Sequence[CaseOutcome]]]]],
    args: argparse.Namespace,
) -> int:
    """Print each pack's clause coverage; 1 when one is under ``--fail-under``."""
    covs = [measure(policy, runs) for policy, runs in packs]
    if args.format == "json":
        doc = {
            "packs": [coverage_dict(c) for c in covs],
            "fail_under": None if args.fail_under is None else float(args.fail_under),
        }
        sys.stdout.write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n")
    else:
        sys.stdout.write("\n" + "\n".join(coverage_table(c) for c in covs))
    if args.fail_under is None:
        return 0
    failing = under(covs, args.fail_under)
    for message in failing:
        sys.stderr.write(f"error: {message}\n")
    return 1 if failing else 0


# -- schema ---------------------------------------------------------------------------------


def _provenance_defs() -> set[str]:
    """The models that need ``clause`` or ``provisional`` (``Provenance``), by name."""
    return {
        obj.__name__
        for obj in vars(pack_schema).values()
        if isinstance(obj, type) and issubclass(obj, Provenance)
    }


def _close_patterns(node: Any) -> None:
    """``dict[Identifier, …]`` is ``patternProperties``; pydantic rejects a key that does not
    match, so the schema does too (``additionalProperties: false`` beside it)."""
    if isinstance(node, dict):
        if "patternProperties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close_patterns(value)
    elif isinstance(node, list):
        for value in node:
            _close_patterns(value)


def _tidy(node: Any) -> Any:
    """Editor-friendly forms of what pydantic writes: a discriminated union (``grading`` by
    its ``type``) as ``if``/``then`` on the tag, so that a mistake inside a score grading is
    reported there and not as "matches neither kind"; and no per-property ``title`` (pydantic
    makes one of each field's name, which a hover only repeats)."""
    if isinstance(node, list):
        return [_tidy(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _tidy(v) for k, v in node.items()}
    if "properties" in out:
        out["properties"] = {
            name: {k: v for k, v in sub.items() if k != "title"} if isinstance(sub, dict) else sub
            for name, sub in out["properties"].items()
        }
    tag = out.pop("discriminator", None)
    if tag is not None and "oneOf" in out:
        key, mapping = tag["propertyName"], tag["mapping"]
        out.pop("oneOf")
        out["type"] = "object"
        out["required"] = [key]
        out["properties"] = {key: {"enum": list(mapping)}}
        out["allOf"] = [
            {
                "if": {"properties": {key: {"const": value}}, "required": [key]},
                "then": {"$ref": ref},
            }
            for value, ref in mapping.items()
        ]
    return out


_NUMBER_OR_NAME = (
    r"^\s*(?:[A-Za-z_][A-Za-z0-9_]*|[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)
"""What ``schema.number_or_parameter`` takes as text: a parameter's name, or a number."""

_SCORE_NUMBERS = {
    ("ScoreItem", "cap"): {"exclusiveMinimum": 0},
    ("ScoreCategory", "cap"): {"exclusiveMinimum": 0},
    ("ScoreCategory", "weight"): {"minimum": 0},
}
"""The bounds ``number_or_parameter`` checks in Python (``gt=0``, ``ge=0``), which pydantic
cannot write into the schema of a field that is a number or a parameter's name."""


def _score_numbers(defs: dict[str, Any]) -> None:
    for (model, name), bound in _SCORE_NUMBERS.items():
        field = defs[model]["properties"][name]
        for branch in field.get("anyOf", [field]):
            if branch.get("type") == "number":
                branch.update(bound)
            elif branch.get("type") == "string":
                branch["pattern"] = _NUMBER_OR_NAME
        field["description"] = "A number, or the name of a dated parameter of type int or number."


def _partial(node: Any) -> Any:
    """The shape of a pack that ``extends:`` another: the same keys and types, but nothing is
    required (the base supplies it), any value may be ``null`` (which removes the base's),
    and a choice of shapes (``oneOf``, a grading by its ``type``) becomes ``anyOf``: a
    grading without its ``type`` fits either kind."""
    if isinstance(node, list):
        return [_partial(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("required", "discriminator"):
            continue
        if key == "$ref" and isinstance(value, str):
            out[key] = value.replace("#/$defs/", "#/$defs/Extending")
        elif key == "oneOf":
            out["anyOf"] = _partial(value)
        elif key == "allOf" and isinstance(value, list) and all("if" in v for v in value):
            # the tag (a grading's type) may be the base's: any branch may fit
            out["anyOf"] = [_partial(v["then"]) for v in value]
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: _nullable(_partial(sub)) for name, sub in value.items()}
        else:
            out[key] = _partial(value)
    return out


def _nullable(node: dict[str, Any]) -> dict[str, Any]:
    """A property's schema that also takes ``null``, written so that a validator still reports
    a mistake inside the value where it is (an ``anyOf`` wrapper would report it at the
    property): a reference is left alone, since every ``Extending…`` model takes ``null``."""
    if set(node) == {"$ref"}:
        return node
    out = dict(node)
    if isinstance(out.get("anyOf"), list):
        if {"type": "null"} not in out["anyOf"]:
            out["anyOf"] = [*out["anyOf"], {"type": "null"}]
    elif isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    elif out:
        out = {"anyOf": [node, {"type": "null"}]}
    return out


def json_schema() -> dict[str, Any]:
    """The JSON Schema of every YAML file the library reads as a pack: a pack, a pack that
    ``extends:`` another, a tests file (top-level ``cases``) and a manifest (top-level
    ``manifest``), chosen as the loader chooses."""
    _, top = models_json_schema(
        [(PackModel, "validation"), (TestFile, "validation"), (ManifestModel, "validation")],
        ref_template="#/$defs/{model}",
    )
    defs: dict[str, Any] = _tidy(top["$defs"])
    _close_patterns(defs)
    _score_numbers(defs)
    tests_or_manifest = ("TestFile", "Case", "Expected", "ManifestModel", "ManifestBody")
    extending = {
        f"Extending{name}": _partial(d) for name, d in defs.items() if name not in tests_or_manifest
    }
    for d in extending.values():  # ``key: null`` removes the base's value, whatever it is
        if d.get("type") == "object":
            d["type"] = ["object", "null"]
        elif "type" not in d:
            d["anyOf"] = [*d.get("anyOf", [{}]), {"type": "null"}]
    for name in _provenance_defs() & set(defs):
        either = [
            {"required": [key], "properties": {key: {"not": {"type": "null"}}}}
            for key in ("clause", "provisional")
        ]
        defs[name].setdefault("allOf", []).append({"anyOf": either})
        defs[name].setdefault("description", "")
        defs[name]["description"] = (
            defs[name]["description"]
            + "\n\nNeeds 'clause' (the published clause it encodes) or 'provisional' "
            "(which local decision must confirm it)."
        ).strip()
    top_extending = extending["ExtendingPackModel"]
    top_extending["properties"] = {
        "extends": {
            "type": "string",
            "description": "The pack file this one adds to, relative to this file "
            "(pack-format.md §16): only what changes is written here.",
        },
        **top_extending["properties"],
    }
    top_extending["required"] = ["extends"]
    top_extending["title"] = "A pack that extends another"
    defs.update(extending)
    try:
        release = version("yibao-credit")
    except PackageNotFoundError:  # run from a source folder that was never installed
        release = "dev"
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"urn:yibao-credit:pack-schema:{release}",
        "title": "yibao-credit policy pack, tests file or manifest",
        "description": (
            "The keys and value types of a yibao-credit policy pack (docs/pack-format.md), "
            "of a pack that extends another (top-level 'extends'), of a tests file "
            "(top-level 'cases') and of a manifest of dated versions (top-level 'manifest'), "
            f"generated from the library's pydantic models (yibao-credit {release}). Names, "
            "expressions, score bands and the rest of a pack's meaning are checked by "
            "'yibao-credit validate' only. Name it in a file's first line: "
            "# yaml-language-server: $schema=./pack.schema.json"
        ),
        "type": "object",
        "if": {"required": ["manifest"]},
        "then": {"$ref": "#/$defs/ManifestModel"},
        "else": {
            "if": {"required": ["cases"]},
            "then": {"$ref": "#/$defs/TestFile"},
            "else": {
                "if": {"required": ["extends"]},
                "then": {"$ref": "#/$defs/ExtendingPackModel"},
                "else": {"$ref": "#/$defs/PackModel"},
            },
        },
        "$defs": dict(sorted(defs.items())),
    }


def cmd_schema(args: argparse.Namespace) -> int:
    output = Output(args.output)
    text = json.dumps(json_schema(), ensure_ascii=False, indent=2) + "\n"
    with output.open() as out:
        out.write(text)
    return 0


# -- new ------------------------------------------------------------------------------------

_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _pack_id(text: str) -> str:
    if not _ID.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an identifier: ASCII letters, digits and _, not starting with a "
            "digit (it is the pack's id and the files' name)"
        )
    return text


_TODO = (
    '{zh: "TODO 待引用所依据的条款(写 clause: 并删去本行)", '
    'en: "TODO: cite the clause this encodes (write clause: and remove this line)"}'
)

_HEAD = """\
# yaml-language-server: $schema=./pack.schema.json
# A skeleton written by `yibao-credit new`: every value in it is a placeholder. For each rule,
# write the published text's rule, cite its clause (clause: 三(一)1) and remove the
# `provisional:` line (docs/pack-format.md §3). `yibao-credit validate --provisional {id}.yaml`
# lists what is left to do; `yibao-credit schema --output pack.schema.json` writes the schema
# the first line names, for editors.
pack:
  id: {id}
  name: {{zh: TODO 评价名称, en: "TODO: the name of the evaluation"}}
  jurisdiction: {{name: TODO 地区}}
  version: "0.1"
  effective:
    from: {year}-01-01
  provisional:
    zh: "TODO 待填写:名称、地区、版本和施行日期(effective.from)以所依据文件为准"
    en: "TODO: the name, jurisdiction, version and effective date as the document sets them"
  sources:
    - id: source
      number: TODO 文号
      title: TODO 文件标题
      issuer: TODO 发文机关
      provisional:
        zh: "TODO 待填写所依据文件的文号、标题和发文机关"
        en: "TODO: the number, title and issuer of the document the pack encodes"

windows:
  lookback_1y:
    title: {{zh: 1年之内, en: within 1 year}}
    type: rolling
    length: 1y
    provisional: {todo}

rulesets:
  institution:
    title: {{zh: 定点医药机构, en: designated institutions}}
    applies_to: {{type: institution}}
    facts:
      violations:
        title: {{zh: 1年之内违法违规次数, en: violations within 1 year}}
        op: count
        where: kind == 'violation'
        window: lookback_1y
        provisional: {todo}
"""

_CRITERIA = """\
    grading:
      type: criteria
      grades:
        - {{label: A, title: {{zh: TODO 较好等级, en: "TODO: the better grade"}}}}
        - {{label: B, title: {{zh: TODO 较差等级, en: "TODO: the worse grade"}}}}
      rules:
        - grade: B
          provisional: {todo}
          any:
            - id: violations_1plus
              title: {{zh: 1年之内有违法违规记录, en: a violation within 1 year}}
              when: violations >= 1
              provisional: {todo}
      default:
        grade: A
        provisional: {todo}
"""

_SCORE = """\
    grading:
      type: score
      provisional: {todo}
      base: 100
      floor: 0
      ceiling: 100
      grades:
        - {{label: A, title: {{zh: TODO 优秀, en: "TODO: excellent"}}}}
        - {{label: B, title: {{zh: TODO 合格, en: "TODO: adequate"}}}}
        - {{label: C, title: {{zh: TODO 不合格, en: "TODO: inadequate"}}}}
      categories:
        - id: deductions
          title: {{zh: 扣分项, en: deductions}}
          cap: 100
          provisional: {todo}
          items:
            - id: per_violation
              title: {{zh: 每次违法违规扣10分, en: 10 points per violation}}
              points: -10
              per: violations
              provisional: {todo}
      bands:
        # Quote every range: unquoted, [80, 90) is a YAML syntax error.
        - {{grade: A, range: "[90, 100]", provisional: {todo}}}
        - {{grade: B, range: "[60, 90)", provisional: {todo}}}
        - {{grade: C, range: "[0, 60)", provisional: {todo}}}
"""

_TESTS_HEAD = """\
# yaml-language-server: $schema=./pack.schema.json
# Worked examples for {id}.yaml, run by `yibao-credit test {id}.yaml` (and by pytest). Name
# each case after the clause it pins, and add cases at every edge the text sets: the day an
# event leaves a window and the day before, a score exactly on a band's edge.
cases:
"""

_CRITERIA_CASES = """\
  - name: "TODO 条款: a violation on the first day of the 1年之内 window counts (placeholder rule)"
    as_of: {year}-12-31
    subjects:
      - {{id: H1, type: institution, category: hospital}}
    events:
      - {{id: v1, subject_id: H1, kind: violation, date: {year}-01-01}}
    expect:
      H1:
        grade: B
        decided_by: grade.B
        evidence: {{fact.violations: [v1]}}
  - name: "TODO 条款: a violation one year before as_of is outside 1年之内 (starts the day after)"
    as_of: {next}-01-01
    subjects:
      - {{id: H1, type: institution, category: hospital}}
    events:
      - {{id: v1, subject_id: H1, kind: violation, date: {year}-01-01}}
    expect:
      H1:
        grade: A
        steps: {{fact.violations: 0}}
"""

_SCORE_CASES = """\
  - name: "TODO 条款: one violation scores 90, the lowest score of A (placeholder rule)"
    as_of: {year}-12-31
    subjects:
      - {{id: H1, type: institution, category: hospital}}
    events:
      - {{id: v1, subject_id: H1, kind: violation, date: {year}-06-01}}
    expect:
      H1:
        grade: A
        steps: {{score: 90}}
        evidence: {{item.deductions.per_violation: [v1]}}
  - name: "TODO 条款: four violations score 60, the lowest score of B"
    as_of: {year}-12-31
    subjects:
      - {{id: H1, type: institution, category: hospital}}
    events:
      - {{id: v1, subject_id: H1, kind: violation, date: {year}-06-01}}
      - {{id: v2, subject_id: H1, kind: violation, date: {year}-07-01}}
      - {{id: v3, subject_id: H1, kind: violation, date: {year}-08-01}}
      - {{id: v4, subject_id: H1, kind: violation, date: {year}-09-01}}
    expect:
      H1:
        grade: B
        steps: {{score: 60}}
"""


def skeleton(pack_id: str, kind: str, year: int) -> tuple[str, str]:
    """The text of a skeleton pack (``criteria`` or ``score`` grading) and of its tests file,
    every value provisional, its examples dated in ``year``."""
    fill = {"id": pack_id, "year": year, "next": year + 1, "todo": _TODO}
    grading = _CRITERIA if kind == "criteria" else _SCORE
    cases = _CRITERIA_CASES if kind == "criteria" else _SCORE_CASES
    return (_HEAD + grading).format(**fill), (_TESTS_HEAD + cases).format(**fill)


def _write_new(path: Path, text: str) -> None:
    """Write a file that must not exist yet, whole or not at all: a temporary file beside it,
    linked to the name only if nothing has it (a file made meanwhile is never overwritten)."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp, 0o666 & ~umask)  # as an editor would make it, not mkstemp's 0600
        try:
            os.link(temp, path)
        except FileExistsError:
            raise OutputError(f"{path} exists already: new never overwrites a file") from None
        except OSError as exc:  # a file system without hard links
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
                raise OutputError(f"cannot write {path}: {exc.strerror}") from None
            try:
                with open(path, "x", encoding="utf-8", newline="") as fh:
                    fh.write(text)
            except FileExistsError:
                raise OutputError(f"{path} exists already: new never overwrites a file") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)


def cmd_new(args: argparse.Namespace) -> int:
    kind, pack_id = ("criteria", args.criteria) if args.criteria else ("score", args.score)
    folder = Path(args.dir)
    if not folder.is_dir():
        raise OutputError(f"--dir {folder} is not a folder (it must exist)")
    pack_file, tests_file = folder / f"{pack_id}.yaml", folder / f"{pack_id}.tests.yaml"
    for f in (pack_file, tests_file):
        if f.exists() or f.is_symlink():
            raise OutputError(f"{f} exists already: new never overwrites a file")
    pack_text, tests_text = skeleton(pack_id, kind, dt.date.today().year)
    _write_new(pack_file, pack_text)
    try:
        _write_new(tests_file, tests_text)
    except BaseException:
        with contextlib.suppress(OSError):
            pack_file.unlink()  # both files or neither
        raise
    provisional = len(load_policy(pack_file).provisional())
    print(
        f"wrote {pack_file} ({kind} grading) and {tests_file} (2 cases): a skeleton whose "
        f"{provisional} provisional value(s) are placeholders; replace each with the published "
        "rule and its clause"
    )
    print(f"next: yibao-credit validate {pack_file} {tests_file} && yibao-credit test {pack_file}")
    print(
        f"editors: yibao-credit schema --output {folder / 'pack.schema.json'} "
        "(the schema both files' first line names)"
    )
    return 0


def add_authoring_commands(subs: Any) -> None:
    """``schema`` and ``new``."""
    sc = subs.add_parser(
        "schema", help="print the JSON Schema of packs, tests files and manifests, for editors"
    )
    sc.add_argument("--output", help="write here instead of standard output")
    sc.set_defaults(func=cmd_schema)

    nw = subs.add_parser("new", help="write a skeleton pack and its tests file, both valid")
    which = nw.add_mutually_exclusive_group(required=True)
    which.add_argument("--criteria", type=_pack_id, metavar="ID", help="a pack graded by criteria")
    which.add_argument("--score", type=_pack_id, metavar="ID", help="a pack graded by a score")
    nw.add_argument("--dir", default=".", help="the folder to write ID.yaml and ID.tests.yaml in")
    nw.set_defaults(func=cmd_new)


__all__ = [
    "add_authoring_commands",
    "add_coverage_options",
    "cmd_new",
    "cmd_schema",
    "coverage_usage",
    "json_schema",
    "report_coverage",
    "skeleton",
]
