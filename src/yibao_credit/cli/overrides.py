"""``--set NAME=VALUE``: a dated parameter of the pack given another value for one run.

The option is read here (the value as a YAML scalar, as a pack writes it) and applied through
``Policy.with_overrides``, which checks the name and the value against the pack; the commands
that take it (evaluate, explain, summary, compare, sensitivity) share this module.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from typing import Any

import yaml

from yibao_credit.errors import Problem
from yibao_credit.policy import Policy

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_assignment(text: str) -> tuple[str, Any]:
    """``NAME=VALUE``: the name, and the value as YAML reads a scalar (``0.05`` a number,
    ``true`` a bool, ``2024-01-01`` a date, ``1y`` text). A usage error otherwise."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not _NAME.fullmatch(name):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not NAME=VALUE (a parameter's name, '=', its value: "
            "--set commitment_points=50)"
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        raise argparse.ArgumentTypeError(
            f"--set {text}: the value is not a YAML scalar (quote text: {name}='\"…\"')"
        ) from None
    if isinstance(value, (list, dict)):
        raise argparse.ArgumentTypeError(
            f"--set {text}: the value is a YAML list or mapping; a parameter holds one value"
        )
    return name, value


class SetAction(argparse.Action):
    """Collects ``--set`` into one mapping; the same name twice is a usage error."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        assert isinstance(values, str)
        try:
            name, value = parse_assignment(values)
        except argparse.ArgumentTypeError as exc:
            parser.error(f"argument --set: {exc}")
        given: dict[str, Any] = dict(getattr(namespace, self.dest, None) or {})
        if name in given:
            parser.error(f"argument --set: {name} is given twice; give each parameter once")
        given[name] = value
        setattr(namespace, self.dest, given)


def add_set_argument(sub: argparse.ArgumentParser, applies: str = "the run") -> None:
    sub.add_argument(
        "--set",
        action=SetAction,
        default={},
        metavar="NAME=VALUE",
        help=f"give a dated parameter of the pack another value for {applies} (repeatable; "
        "the value as YAML reads it; shown in each result's policy block and trace)",
    )


def apply_overrides(
    policy: Policy, overrides: dict[str, Any] | None
) -> tuple[Policy, list[Problem]]:
    """The policy with the values of ``--set``, and the warnings they bring."""
    if not overrides:
        return policy, []
    changed = policy.with_overrides(overrides)
    return changed, list(changed.override_warnings)
