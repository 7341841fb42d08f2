"""``python -m yibao_credit.cli``: the command line."""

from yibao_credit.cli.main import entry

entry()
