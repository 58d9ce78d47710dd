"""A customer known to a partner: it consented on an earlier claim of any engagement (R15)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self
from uuid import NAMESPACE_URL, UUID, uuid5

from ledger.aggregates.base import Aggregate
from ledger.domain.customer_ids import CustomerId

KNOWN_NAMESPACE = uuid5(NAMESPACE_URL, "https://claim-ledger.dev/known-customer")


class KnownCustomer(Aggregate):
    """Created, once, with the first consent a customer id gives this partner."""

    class Recognised(Aggregate.Created):
        """Version 2 records ``customer_name``: the directory's name of the customer's tenant,
        as the first claim recorded it (None: not recorded, or no tenant owns the id)."""

        class_version = 2
        partner_id: str
        customer_id: CustomerId
        friendly_name: str
        first_claim_id: UUID
        customer_name: str | None = None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Version 1 did not record the customer's name: not recorded (None)."""
            state.setdefault("customer_name", None)

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
        customer_name: str | None,
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
            customer_name=customer_name,
        )
