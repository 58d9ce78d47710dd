"""Partner-side directory views: referrals (R40-R42). The known customers (R15) are the claims
view's (``ClaimViews``), which keeps the Customers tabs with them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.aggregates.referral import Referral
from ledger.projections.base import BatchProjection, money, ts
from ledger.projections.store import Tx

UPGRADE_REFERRAL = (
    "UPDATE {p}referrals SET type = 'shared', qualification = 'sales_qualified', "
    "substatus = 'pending_seller_engagement', updated_at = ? WHERE referral_id = ?"
)


class DirectoryViews(BatchProjection):
    name = "directory"

    def process_batch(self, tx: Tx, events: Sequence[Any]) -> None:
        referrals: list[tuple[Any, ...]] = []
        upgrades: list[tuple[Any, ...]] = []
        for event in events:
            if isinstance(event, Referral.Created):
                referrals.append(_referral_row(event))
            elif isinstance(event, Referral.UpgradedToCoSell):
                upgrades.append((ts(event.timestamp), str(event.originator_id)))
        tx.insert_rows("referrals", referrals)
        tx.executemany(UPGRADE_REFERRAL, upgrades)


def _referral_row(event: Referral.Created) -> tuple[Any, ...]:
    return (
        str(event.originator_id),
        str(event.claim_id),
        event.partner_id,
        event.engagement_id,
        event.customer_name,
        event.customer_id.type.value,
        event.customer_id.value,
        event.tenant_id,
        "new",
        "pending_partner_action",
        "independent",
        "marketing_qualified",
        money(event.deal_value_usd),
        ts(event.timestamp),
        ts(event.timestamp),
    )
