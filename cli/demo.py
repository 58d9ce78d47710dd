"""`ledger demo`: a realistic scenario played on an empty store."""

from __future__ import annotations

from datetime import datetime

import typer
from rich.table import Table

from cli.common import (
    OPERATOR,
    _services,
    console,
)
from ledger.service.application import Ledger
from ledger.service.clock import utc_now


def demo() -> None:
    """Play a realistic scenario through the public commands, then say where to look."""
    from ledger.demo.scenario import play

    moment = [utc_now()]
    services = _services(clock=lambda: moment[0])
    ledger = services.ledger
    if next(ledger.claim_ids(), None) is not None:
        console.print("This database already holds claims; the demo plays on an empty one.")
        console.print("Set LEDGER_DATABASE_URL=sqlite:///./demo.sqlite3 (a new file) to replay it.")
        _print_demo_tokens(ledger)
        services.close()
        raise typer.Exit(0)

    def settle(at: datetime) -> None:
        """The views and the policies follow the log at the scenario's time (no e-mail: the
        service sends what is still pending, with its own links)."""
        moment[0] = at
        services.workers.views.catch_up()
        services.workers.policies.catch_up()

    result = play(ledger, moment[0], lambda line: console.print(f"• {line}"), settle)
    settle(utc_now())
    table = Table(title="Claims played")
    table.add_column("claim")
    table.add_column("id", no_wrap=True, min_width=36)
    for column in ("partner", "engagement", "state"):
        table.add_column(column)
    for title, claim_id in result.claims.items():
        claim = ledger.get_claim(OPERATOR, claim_id)
        state = claim.state.label
        table.add_row(title, str(claim_id), claim.partner_id, claim.engagement_id, state)
    console.print(table)
    console.print(f"{len(result.expired)} claim(s) expired by the deadline policy.")
    first = next(iter(result.claims.values()))
    console.print(f"Where to look: [bold]ledger history {first}[/bold] (any id above).")
    _print_demo_tokens(ledger)
    services.close()


def _print_demo_tokens(ledger: Ledger) -> None:
    """The `ledger token` lines to try the demo as each kind of user, one copyable line each."""
    from ledger.demo.users import token_commands

    console.print("Tokens to try (run with the same LEDGER_DATABASE_URL, whose key signs them):")
    for who, command in token_commands(ledger.catalog):
        console.print(f"  # {who}", markup=False, highlight=False, soft_wrap=True)
        console.print(f"  {command}", markup=False, highlight=False, soft_wrap=True)
