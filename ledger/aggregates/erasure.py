"""The record of an erasure: who erased which contact's personal data, and when.

It names the contact by the id of its key only (the key is gone; the id says which sealed
strings it opened), never by name or address.
"""

from __future__ import annotations

from datetime import datetime
from typing import Self
from uuid import NAMESPACE_URL, UUID, uuid5

from ledger.aggregates.base import Actor, Aggregate

ERASURE_NAMESPACE = uuid5(NAMESPACE_URL, "https://claim-ledger.dev/contact-erasure")


class ContactErasure(Aggregate):
    """Created, once per contact key, when that key is deleted."""

    class Erased(Aggregate.Created):
        key_id: str
        actor: Actor
        claims: tuple[UUID, ...]
        """The claims whose events held the contact's name or address."""
        mail_files_removed: int

    def __init__(self) -> None:
        pass

    @staticmethod
    def id_for(key_id: str) -> UUID:
        return uuid5(ERASURE_NAMESPACE, key_id)

    @classmethod
    def record(
        cls,
        *,
        key_id: str,
        actor: Actor,
        claims: tuple[UUID, ...],
        mail_files_removed: int,
        now: datetime,
    ) -> Self:
        return cls._create(
            cls.Erased,
            id=cls.id_for(key_id),
            timestamp=now,
            key_id=key_id,
            actor=actor,
            claims=claims,
            mail_files_removed=mail_files_removed,
        )
