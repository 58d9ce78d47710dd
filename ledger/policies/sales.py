"""Referral (R40) and co-sell (R42) policies: they react to consent events."""

from __future__ import annotations

from datetime import datetime

from eventsourcing.utils import get_topic

from ledger.aggregates.claim import Claim
from ledger.service.application import Ledger


class ReferralPolicy:
    """Consent requested: create the claim's partner-led referral, when it qualifies."""

    name = "referral"
    topics: tuple[str, ...] = (get_topic(Claim.ConsentRequested),)

    def handle(self, ledger: Ledger, event: Claim.Event, now: datetime) -> None:
        ledger.create_referral(event.originator_id, now)


class CoSellPolicy:
    """Consent given: upgrade the referral to co-sell when the customer is managed."""

    name = "co_sell"
    topics: tuple[str, ...] = (get_topic(Claim.ConsentGiven),)

    def handle(self, ledger: Ledger, event: Claim.Event, now: datetime) -> None:
        # The referral policy may not have reached this claim yet; its command is idempotent.
        ledger.create_referral(event.originator_id, now)
        ledger.upgrade_to_co_sell(event.originator_id, now)
