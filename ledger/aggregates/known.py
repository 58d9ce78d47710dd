"""A customer known to a partner: it consented on an earlier claim of any engagement (R15)."""

from __future__ import annotations

from datetime import datetime
from typing import Self
from uuid import NAMESPACE_URL, UUID, uuid5

from ledger.aggregates.base import Aggregate
from ledger.domain.customer_ids import CustomerId

KNOWN_NAMESPACE = uuid5(NAMESPACE_URL, "https://claim-ledger.dev/known-customer")


class KnownCustomer(Aggregate):
    """Created, once, with the first consent a customer id gives this partner."""

    class Recognised(Aggregate.Created):
        partner_id: str
        customer_id: CustomerId
        friendly_name: str
        first_claim_id: UUID

    def __init__(self) -> None:
        pass

    @staticmethod
    def id_for(partner_id: str, customer_id: CustomerId) -> UUID:
        return uuid5(KNOWN_NAMESPACE, f"{partner_id}|{customer_id.key}")

    @classmethod
    def recognise(
        cls,
        *,
        partner_id: str,
        customer_id: CustomerId,
        friendly_name: str,
        claim_id: UUID,
        now: datetime,
    ) -> Self:
        return cls._create(
            cls.Recognised,
            id=cls.id_for(partner_id, customer_id),
            timestamp=now,
            partner_id=partner_id,
            customer_id=customer_id,
            friendly_name=friendly_name,
            first_claim_id=claim_id,
        )
