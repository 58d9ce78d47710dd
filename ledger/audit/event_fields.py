"""An event's recorded fields, as the audit trail shows them: on the claim page and by
``ledger history``."""

from __future__ import annotations

from ledger.aggregates.base import DomainEvent

ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor"}
"""What every event carries (shown apart: number, time and actor), not its own fields."""


def event_details(event: DomainEvent) -> dict[str, object]:
    """An event's own fields, as JSON values."""
    return event.model_dump(mode="json", exclude=ENVELOPE)


def recorded_fields(data: object, prefix: str = "") -> list[tuple[str, object]]:
    """Recorded values as (dotted name, value) pairs, nested ones spelled out: a list of
    objects by index (``proof.0.kind``), a list of values joined, booleans as JSON writes
    them; empty values left out."""
    if isinstance(data, dict):
        return [
            item
            for key, value in data.items()
            for item in recorded_fields(value, f"{prefix}.{key}" if prefix else str(key))
        ]
    if isinstance(data, list) and data and all(isinstance(v, dict) for v in data):
        return [
            item for i, value in enumerate(data) for item in recorded_fields(value, f"{prefix}.{i}")
        ]
    if isinstance(data, list):
        return [(prefix, ", ".join(str(v) for v in data))]
    if isinstance(data, bool):
        return [(prefix, "true" if data else "false")]
    return [] if data is None else [(prefix, data)]
