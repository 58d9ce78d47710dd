"""Aggregate and event bases: events are frozen pydantic models with typed fields.

An event class whose stored shape changed carries ``class_version`` (the library's
convention, docs/events.md) and one static method ``upcast_vN_vN+1(state: dict) -> None`` per
step, which the mapper applies, in order, to the state of an older stored event before the
model is built. A class that lacks a step, or has a step beyond its version, is refused when
it is defined.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar
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


def upcaster_name(version: int) -> str:
    """The name of the static method that upcasts a state of ``version`` to the next one."""
    return f"upcast_v{version}_v{version + 1}"


def check_upcasters(cls: type[Any]) -> None:
    """Refuse an event class whose upcasters do not lead from version 1 to its
    ``class_version``, one step each, or that has a step beyond it (a forgotten bump)."""
    version = getattr(cls, "class_version", 1)
    if type(version) is not int or version < 1:
        raise TypeError(f"{cls.__qualname__}.class_version must be an int >= 1, not {version!r}")
    missing = [
        upcaster_name(v)
        for v in range(1, version)
        if not callable(getattr(cls, upcaster_name(v), None))
    ]
    if missing:
        raise TypeError(
            f"{cls.__qualname__} is at class_version {version} but lacks "
            f"{', '.join(missing)}(state: dict) -> None: an event stored at an older version "
            "could not be read (docs/events.md)"
        )
    beyond = upcaster_name(version)
    if hasattr(cls, beyond):
        raise TypeError(
            f"{cls.__qualname__} has {beyond} but is at class_version {version}: "
            f"raise class_version to {version + 1} (docs/events.md)"
        )


class DomainEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    class_version: ClassVar[int] = 1
    """The version of the event's stored shape; stored in the state when above 1."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        check_upcasters(cls)

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
