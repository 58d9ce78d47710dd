"""An event's recorded fields, as the audit trail keeps them: ``ledger history --json`` prints
them, and ``ledger.audit.history_words`` says them in words for people."""

from __future__ import annotations

from ledger.aggregates.base import DomainEvent

ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor"}
"""What every event carries (shown apart: number, time and actor), not its own fields."""


def event_details(event: DomainEvent) -> dict[str, object]:
    """An event's own fields, as JSON values."""
    return event.model_dump(mode="json", exclude=ENVELOPE)
