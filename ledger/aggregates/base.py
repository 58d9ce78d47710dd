"""Aggregate and event bases: events are frozen pydantic models with typed fields."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import BaseAggregate, CanInitAggregate, CanMutateAggregate
from pydantic import BaseModel, ConfigDict, FieldSerializationInfo, field_serializer

from ledger.aggregates.values import sealed


class ActorKind(StrEnum):
    USER = "user"
    CUSTOMER = "customer"
    SYSTEM = "system"


class Actor(BaseModel):
    """Who did it, as recorded in the event: the audit trail's 'by whom'."""

    model_config = ConfigDict(frozen=True)

    kind: ActorKind
    id: str
    partner_id: str | None = None
    roles: tuple[str, ...] = ()

    @field_serializer("id")
    def _sealed(self, value: str, info: FieldSerializationInfo) -> str:
        """A customer is recorded by its contact's address: personal data, stored sealed."""
        return sealed(value, value, info) if self.kind is ActorKind.CUSTOMER else value


SYSTEM = Actor(kind=ActorKind.SYSTEM, id="system")


class DomainEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    originator_id: UUID
    originator_version: int
    timestamp: datetime

    @property
    def occurred_at(self) -> datetime:
        """When it happened: the ``now`` the application passed to the command."""
        return self.timestamp


class Aggregate(BaseAggregate[UUID]):
    """Base of our aggregates: no clock, no database; ``now`` and ids are passed in."""

    class Event(DomainEvent, CanMutateAggregate[UUID]):
        pass

    class Created(Event, CanInitAggregate[UUID]):
        originator_topic: str
