"""`ledger expire-due`: the deadline policy (R50) run by hand."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import (
    _ledger,
    _parse_now,
    _views,
    console,
)
from ledger.policies import deadlines


def expire_due(
    now: Annotated[
        str | None, typer.Option(help="ISO-8601 time to apply deadlines at (default: now).")
    ] = None,
) -> None:
    """Apply every deadline that has passed at --now (R50); running it twice changes nothing."""
    at = _parse_now(now)
    ledger = _ledger()
    views = _views(ledger)
    expired = deadlines.expire_due(ledger, views, at)
    views.store.close()
    console.print(f"{len(expired)} claim(s) expired at {at.isoformat()}")
    for claim_id in expired:
        console.print(f"  {claim_id}")
