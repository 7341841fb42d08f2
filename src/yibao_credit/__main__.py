"""``python -m yibao_credit``: the command line."""

from yibao_credit.cli.main import entry

entry()
