"""Events' stable ids: the same on every read, in the feed, the webhooks and the proofs."""

from __future__ import annotations

from uuid import UUID, uuid5

EVENT_IDS = UUID("6f1e0c3a-5b0e-4d8e-9a57-2f4c1d9b7e21")
"""The namespace of the events' ids (uuid5 of the aggregate's id and the version)."""


def event_id(originator_id: UUID, version: int) -> str:
    """An event's id: the same on every read, in the feed and in every webhook delivery."""
    return str(uuid5(EVENT_IDS, f"{originator_id}/{version}"))
