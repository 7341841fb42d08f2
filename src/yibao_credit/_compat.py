"""Deprecated module names: the flat modules of 0.1 (``yibao_credit.trace``,
``yibao_credit.pack_schema``, …) still import, with a ``DeprecationWarning`` naming where each
moved. A module split in two answers for the names of both parts.

Installed by the package root; nothing in the package imports these names.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from collections.abc import Sequence
from typing import Any

PACKAGE = "yibao_credit"

MOVED: dict[str, tuple[str, ...]] = {
    "allocation": ("engine.allocation", "records.deposits"),
    "calendar": ("time.calendar",),
    "codegen": ("engine.codegen",),
    "compiled": ("compile.plan", "engine.runtime"),
    "compiler": ("compile.compiler", "compile.context"),
    "expressions": ("compile.expressions", "time.periods", "engine.pyexpr"),
    "extends": ("pack.extends",),
    "history": ("records.history", "engine.history"),
    "intervals": ("compile.intervals",),
    "lifecycle": ("records.procedures", "engine.lifecycle", "engine.procedures"),
    "pack_schema": ("pack.schema",),
    "parameters": ("engine.parameters",),
    "pytest_plugin": ("packtest.pytest_plugin",),
    "review": ("engine.review", "compile.plan"),
    "scoring": ("compile.scores", "engine.codegen"),
    "sourcemap": ("pack.sourcemap",),
    "summary": ("render.summary",),
    "trace": ("render.trace",),
    "validity": ("engine.validity", "compile.plan"),
    "windows": ("time.windows",),
}
"""Old module (under the package) → the modules that now hold its names, first one first."""


def _warn(old: str, targets: Sequence[str], stacklevel: int) -> None:
    where = " and ".join(f"{PACKAGE}.{t}" for t in targets)
    warnings.warn(
        f"{PACKAGE}.{old} is deprecated: its names moved to {where}",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def _combined(old: str, targets: Sequence[str]) -> types.ModuleType:
    """One module answering for the names of several (a module that was split)."""
    parts = [importlib.import_module(f"{PACKAGE}.{t}") for t in targets]
    module = types.ModuleType(f"{PACKAGE}.{old}", parts[0].__doc__)

    def __getattr__(name: str) -> Any:
        for part in parts:
            if hasattr(part, name):
                return getattr(part, name)
        raise AttributeError(f"module {PACKAGE}.{old!r} has no attribute {name!r}")

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    return module


def moved(old: str) -> types.ModuleType:
    """The module that now answers for ``yibao_credit.<old>``."""
    targets = MOVED[old]
    if len(targets) == 1:
        return importlib.import_module(f"{PACKAGE}.{targets[0]}")
    return _combined(old, targets)


class _Loader(importlib.abc.Loader):
    def __init__(self, old: str) -> None:
        self.old = old

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        _warn(self.old, MOVED[self.old], stacklevel=2)
        return moved(self.old)

    def exec_module(self, module: types.ModuleType) -> None:
        return None


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        head, _, old = fullname.partition(".")
        if head != PACKAGE or old not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Loader(old))


def install() -> None:
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())


def root_getattr(name: str) -> types.ModuleType:
    """``yibao_credit.<old>`` as an attribute of the package (``yc.pack_schema``)."""
    if name not in MOVED:
        raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}")
    return importlib.import_module(f"{PACKAGE}.{name}")
