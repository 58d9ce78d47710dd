"""The `ledger` command: every command group's module, registered in the order `--help` lists
them; a store that cannot be reached stops any of them with one line, not a traceback."""

from __future__ import annotations

import sys
from typing import Any

import typer

from cli import (
    audit,
    checkpoints,
    dead_letters,
    demo,
    erasure,
    history,
    outbox,
    policies,
    serve,
    store,
    tokens,
    webhooks,
)
from cli.common import say_store_unreachable, store_unreachable


class LedgerCommand(typer.Typer):
    """The command line: a PostgreSQL server that does not answer (or refuses the user) when
    a command opens the store is one line naming the URL without its password, exit code 2."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as error:
            if not store_unreachable(error):
                raise
            say_store_unreachable()
            sys.exit(2)


app = LedgerCommand(help="Claim Ledger: an event-sourced ledger for partner incentive claims.")
app.command()(history.history)
app.command("expire-due")(policies.expire_due)
app.command()(store.replay)
app.add_typer(dead_letters.app, name="dead-letters")
app.command()(erasure.forget)
app.command()(store.migrate)
app.command()(audit.report)
app.command()(audit.verify)
app.command()(checkpoints.checkpoint)
app.command()(checkpoints.prove)
app.command()(serve.workers)
app.command()(serve.serve)
app.command()(outbox.outbox)
app.command()(webhooks.webhooks)
app.command()(tokens.token)
app.command()(demo.demo)
