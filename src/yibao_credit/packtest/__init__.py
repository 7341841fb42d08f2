"""Pack tests: the YAML worked examples beside each pack (``cases``), the clauses they reach
(``coverage``) and the pytest plugin that runs them (``pytest_plugin``).

May import every stage up to ``policy``.
"""

from yibao_credit.packtest.cases import (
    CaseOutcome,
    LoadedTests,
    check_tests,
    default_tests_path,
    is_tests_file,
    read_tests,
    run_case,
    run_tests,
)

__all__ = [
    "CaseOutcome",
    "LoadedTests",
    "check_tests",
    "default_tests_path",
    "is_tests_file",
    "read_tests",
    "run_case",
    "run_tests",
]
