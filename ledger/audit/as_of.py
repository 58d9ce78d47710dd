"""As of a time: reading a claim as it stood then (SPEC section 11), from its events alone.

The time is parsed once, here, for the API and the command line alike; the events up to it
are the longest run of the claim's events, from its first, whose times are at or before it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypeVar

from ledger.aggregates.base import DomainEvent
from ledger.domain.commands import invalid_input
from ledger.domain.errors import Problem
from ledger.words.refusals import Words

E = TypeVar("E", bound=DomainEvent)
MAX_LENGTH = 64
EXAMPLE = "2026-03-02T09:00:00Z"


def parse_as_of(text: str, now: datetime, field: str = "as_of") -> datetime:
    """The moment an as-of read shows: ``text``, an ISO-8601 date-time with a time zone, in
    UTC; ``now`` when it is later (the future is not written yet). 422 naming ``field``."""

    def refused(key: str) -> Exception:
        words = Words(key, field, {"value": repr(text[:MAX_LENGTH]), "example": EXAMPLE})
        return invalid_input([Problem(field, None, words)])

    if len(text) > MAX_LENGTH or not (text.isascii() and text.isprintable()):
        raise refused("as_of_format")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise refused("as_of_format") from None
    if moment.tzinfo is None:
        raise refused("as_of_time_zone")
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise refused("as_of_range") from None
    return min(moment, now.astimezone(UTC))


def events_until(events: Sequence[E], moment: datetime) -> list[E]:
    """The events up to ``moment``: from the first, as long as each happened at or before it.

    A claim's times only grow; should a clock ever have gone back, the run stops at the first
    event later than ``moment``, so the claim shown is one the claim really was."""
    until: list[E] = []
    for event in events:
        if event.timestamp > moment:
            break
        until.append(event)
    return until
