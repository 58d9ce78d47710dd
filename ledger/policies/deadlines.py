"""The deadline policy (R50): expire the claims whose running deadline has passed."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ledger.projections.base import ts
from ledger.projections.runner import ViewRunner
from ledger.service.application import Ledger


def due_claims(views: ViewRunner, now: datetime) -> list[UUID]:
    """Candidates from the claims view: live, with a running deadline at or before ``now``."""
    with views.store.transaction() as tx:
        rows = tx.rows(
            "SELECT claim_id FROM {p}claims WHERE live = 1 AND running_deadline <= ? "
            "ORDER BY running_deadline",
            (ts(now),),
        )
    return [UUID(row["claim_id"]) for row in rows]


def expire_due(ledger: Ledger, views: ViewRunner, now: datetime) -> list[UUID]:
    """Bring the claims view up to date, then expire its due claims; idempotent.

    The Ledger checks each candidate's own deadline again, so a lagging view can only delay
    an expiry to the next run, never apply a wrong one.
    """
    views.catch_up()
    return ledger.expire_due(now, iter(due_claims(views, now)))
