"""The per-(engagement, customer id) aggregate that keeps the claim limits (R10, R14, R16).

Saved in the same ``save(...)`` as the claim it admits or releases: the store's optimistic
concurrency (unique originator id and version) then makes the limits hold under any
interleaving of writers, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import BaseModel, ConfigDict

from ledger.aggregates.base import Aggregate
from ledger.domain.eligibility import limit_reached
from ledger.domain.errors import ConflictError, RuleRefusedError

SEAT_NAMESPACE = uuid5(NAMESPACE_URL, "https://claim-ledger.dev/seat")


class Holding(BaseModel):
    model_config = ConfigDict(frozen=True)

    partner_id: str
    approved: bool = False


class Seat(Aggregate):
    """Who holds live or approved claims of one customer id for one engagement."""

    class Event(Aggregate.Event):
        def apply(self, aggregate: Any) -> None:
            self.evolve(aggregate)

        def evolve(self, seat: Seat) -> None:
            """How this event changes the seat."""

    class Opened(Event, Aggregate.Created):
        engagement_id: str
        customer_key: str

        def evolve(self, seat: Seat) -> None:
            seat.engagement_id = self.engagement_id
            seat.customer_key = self.customer_key

    class ClaimHeld(Event):
        claim_id: UUID
        partner_id: str

        def evolve(self, seat: Seat) -> None:
            seat.holdings[self.claim_id] = Holding(partner_id=self.partner_id)

    class ClaimApproved(Event):
        claim_id: UUID

        def evolve(self, seat: Seat) -> None:
            held = seat.holdings[self.claim_id]
            seat.holdings[self.claim_id] = Holding(partner_id=held.partner_id, approved=True)

    class ClaimReleased(Event):
        claim_id: UUID

        def evolve(self, seat: Seat) -> None:
            del seat.holdings[self.claim_id]

    def __init__(self) -> None:
        self.engagement_id = ""
        self.customer_key = ""
        self.holdings: dict[UUID, Holding] = {}

    @staticmethod
    def id_for(engagement_id: str, customer_key: str) -> UUID:
        return uuid5(SEAT_NAMESPACE, f"{engagement_id}|{customer_key}")

    @classmethod
    def open(cls, engagement_id: str, customer_key: str, now: datetime) -> Self:
        return cls._create(
            cls.Opened,
            id=cls.id_for(engagement_id, customer_key),
            timestamp=now,
            engagement_id=engagement_id,
            customer_key=customer_key,
        )

    @property
    def count(self) -> int:
        """Live or approved claims, all partners (R10)."""
        return len(self.holdings)

    def live_claim_of(self, partner_id: str) -> UUID | None:
        return next(
            (
                cid
                for cid, h in self.holdings.items()
                if h.partner_id == partner_id and not h.approved
            ),
            None,
        )

    def refuse_second_live_claim(self, partner_id: str) -> None:
        """One non-terminal claim per partner, engagement and customer id (R14)."""
        existing = self.live_claim_of(partner_id)
        if existing is not None:
            raise ConflictError(
                "claim-already-exists",
                rule="R14",
                extra={"existing_claim_id": str(existing), "engagement_id": self.engagement_id},
                params={"claim": existing, "engagement": self.engagement_id},
            )

    def hold(self, *, claim_id: UUID, partner_id: str, limit: int, now: datetime) -> None:
        """Admit a new claim, or refuse: one live claim per partner (R14), the limit (R10)."""
        self.refuse_second_live_claim(partner_id)
        if limit_reached(self.count, limit):
            raise RuleRefusedError(
                "claim-limit-reached",
                rule="R10",
                field="engagement_ids",
                extra={"engagement_id": self.engagement_id},
                params={"count": self.count, "limit": limit, "engagement": self.engagement_id},
            )
        self.trigger_event(self.ClaimHeld, timestamp=now, claim_id=claim_id, partner_id=partner_id)

    def approve(self, *, claim_id: UUID, now: datetime) -> None:
        if claim_id in self.holdings:
            self.trigger_event(self.ClaimApproved, timestamp=now, claim_id=claim_id)

    def release(self, *, claim_id: UUID, now: datetime) -> None:
        if claim_id in self.holdings:
            self.trigger_event(self.ClaimReleased, timestamp=now, claim_id=claim_id)
