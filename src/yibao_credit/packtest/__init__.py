"""Pack tests: the YAML worked examples beside each pack (``cases``) and the pytest plugin that
runs them (``pytest_plugin``).

May import every stage up to ``policy``.
"""

from yibao_credit.packtest.cases import (
    CaseOutcome,
    LoadedTests,
    default_tests_path,
    read_tests,
    run_case,
    run_tests,
)

__all__ = [
    "CaseOutcome",
    "LoadedTests",
    "default_tests_path",
    "read_tests",
    "run_case",
    "run_tests",
]
