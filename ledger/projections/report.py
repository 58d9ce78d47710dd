"""Figures by engagement and state, computed by replaying the claim events alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from ledger.aggregates.claim import Claim
from ledger.service.application import Ledger


@dataclass
class ReportRow:
    engagement_id: str
    state: str
    claims: int = 0
    deal_size_usd: Decimal = Decimal("0")
    payout_usd: Decimal = Decimal("0")


def claims_from_events(
    ledger: Ledger, progress: Callable[[int, int], None] | None = None, page_size: int = 5000
) -> dict[UUID, Claim]:
    """Every claim, folded from its events as the log holds them (no catalog, no views)."""
    claims: dict[UUID, Claim] = {}
    total, done = ledger.event_log.behind(0), 0
    for page in ledger.notification_pages(page_size):
        for notification in page:
            event = ledger.mapper.to_domain_event(notification)
            if isinstance(event, Claim.Event):
                claims[event.originator_id] = event.mutate(claims.get(event.originator_id))  # type: ignore[assignment]
        done += len(page)
        if progress is not None:
            progress(done, max(total, done))
    return claims


def report(ledger: Ledger, progress: Callable[[int, int], None] | None = None) -> list[ReportRow]:
    rows: dict[tuple[str, str], ReportRow] = {}
    for claim in claims_from_events(ledger, progress).values():
        key = (claim.engagement_id, claim.state.value)
        row = rows.setdefault(key, ReportRow(*key))
        row.claims += 1
        row.deal_size_usd += claim.deal_size_usd or Decimal("0")
        row.payout_usd += claim.payout_usd or Decimal("0")
    return [rows[key] for key in sorted(rows)]
