"""The `ledger` command: every command group's module, registered in the order `--help` lists
them."""

from __future__ import annotations

import typer

from cli import audit, demo, erasure, history, outbox, policies, serve, store, tokens

app = typer.Typer(help="Claim Ledger: an event-sourced ledger for partner incentive claims.")
app.command()(history.history)
app.command("expire-due")(policies.expire_due)
app.command()(store.replay)
app.command()(erasure.forget)
app.command()(store.migrate)
app.command()(audit.report)
app.command()(audit.verify)
app.command()(serve.workers)
app.command()(serve.serve)
app.command()(outbox.outbox)
app.command()(tokens.token)
app.command()(demo.demo)
