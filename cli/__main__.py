"""``python -m cli``: the `ledger` command."""

from cli.main import app

app()
