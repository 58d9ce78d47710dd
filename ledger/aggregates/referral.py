"""A partner-led sales referral, created from a claim by the referral policy (R40, R42)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Self
from uuid import NAMESPACE_URL, UUID, uuid5

from ledger.aggregates.base import Actor, Aggregate
from ledger.domain.customer_ids import CustomerId

REFERRAL_NAMESPACE = uuid5(NAMESPACE_URL, "https://claim-ledger.dev/referral")


class ReferralStatus(StrEnum):
    """Where a referral stands in the sales process; the ledger opens every one as new."""

    NEW = "new"


class Referral(Aggregate):
    """One per claim at most: its id is derived from the claim's, so creating it is idempotent."""

    class Event(Aggregate.Event):
        actor: Actor

        def apply(self, aggregate: Any) -> None:
            self.evolve(aggregate)

        def evolve(self, referral: Referral) -> None:
            """How this event changes the referral."""

    class Created(Event, Aggregate.Created):
        claim_id: UUID
        partner_id: str
        engagement_id: str
        customer_name: str
        customer_id: CustomerId
        tenant_id: str
        deal_value_usd: Decimal

        def evolve(self, referral: Referral) -> None:
            referral.claim_id = self.claim_id
            referral.partner_id = self.partner_id
            referral.status = ReferralStatus.NEW
            referral.substatus = "pending_partner_action"
            referral.type = "independent"
            referral.qualification = "marketing_qualified"

    class UpgradedToCoSell(Event):
        def evolve(self, referral: Referral) -> None:
            referral.type = "shared"
            referral.qualification = "sales_qualified"
            referral.substatus = "pending_seller_engagement"

    def __init__(self) -> None:
        self.claim_id: UUID
        self.partner_id = ""
        self.status = ReferralStatus.NEW
        self.substatus = ""
        self.type = "independent"
        self.qualification = ""

    @staticmethod
    def id_for(claim_id: UUID) -> UUID:
        return uuid5(REFERRAL_NAMESPACE, str(claim_id))

    @classmethod
    def open(
        cls,
        *,
        actor: Actor,
        now: datetime,
        claim_id: UUID,
        partner_id: str,
        engagement_id: str,
        customer_name: str,
        customer_id: CustomerId,
        tenant_id: str,
        deal_value_usd: Decimal,
    ) -> Self:
        """Open the claim's referral (R40); its id follows from the claim's."""
        return cls._create(
            cls.Created,
            id=cls.id_for(claim_id),
            timestamp=now,
            actor=actor,
            claim_id=claim_id,
            partner_id=partner_id,
            engagement_id=engagement_id,
            customer_name=customer_name,
            customer_id=customer_id,
            tenant_id=tenant_id,
            deal_value_usd=deal_value_usd,
        )

    @property
    def co_sell(self) -> bool:
        return self.type == "shared"

    def upgrade_to_co_sell(self, *, actor: Actor, now: datetime) -> None:
        if not self.co_sell:
            self.trigger_event(self.UpgradedToCoSell, timestamp=now, actor=actor)
