"""pytest collects ``*.tests.yaml`` pack test files: one test item per case.

Enabled with ``-p yibao_credit.pytest_plugin`` (the project's pytest configuration does this),
so a pack's own worked examples fail the build like any other test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from yibao_credit.errors import PackError
from yibao_credit.packtest.cases import LoadedTests, read_tests, run_case
from yibao_credit.policy import Policy, load_policy


class PackCaseFailed(Exception):
    pass


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.name.endswith(".tests.yaml"):
        collector: pytest.Collector = PackTestFile.from_parent(parent, path=file_path)
        return collector
    return None


class PackTestFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        try:
            tests = read_tests(self.path)
            policy = load_policy(tests.pack_path)
        except PackError as exc:
            raise self.CollectError(str(exc)) from None
        # Each worked example runs on the Python engine (the model) and on DuckDB.
        for engine, suffix in (("python", ""), ("duckdb", " [duckdb]")):
            for index, case in enumerate(tests.model.cases):
                yield PackCase.from_parent(
                    self,
                    name=case.name + suffix,
                    tests=tests,
                    policy=policy,
                    index=index,
                    engine=engine,
                )


class PackCase(pytest.Item):
    def __init__(
        self, *, tests: LoadedTests, policy: Policy, index: int, engine: str, **kw: Any
    ) -> None:
        super().__init__(**kw)
        self.tests = tests
        self.policy = policy
        self.index = index
        self.engine = engine

    def runtest(self) -> None:
        outcome = run_case(self.policy, self.tests, self.index, self.engine)
        if not outcome.passed:
            raise PackCaseFailed("\n".join(outcome.failures))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, PackCaseFailed):
            loc = self.tests.doc.locate(("cases", self.index, "name"))
            return f"{loc.file}:{loc.line}: case {self.name!r} failed:\n{excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        loc = self.tests.doc.locate(("cases", self.index, "name"))
        return self.path, (loc.line or 1) - 1, f"pack case: {self.name}"
