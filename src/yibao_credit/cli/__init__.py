"""The command line (``yibao-credit``): every command parses its arguments here and calls the
stages before it; exit codes 0 (success), 1 (a located problem), 2 (wrong usage).

May import every stage.
"""

from yibao_credit.cli.main import build_parser, entry, main

__all__ = ["build_parser", "entry", "main"]
