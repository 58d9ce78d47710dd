"""A command's reads found stale before its save counted."""

from __future__ import annotations

from eventsourcing.persistence import IntegrityError


class StaleReadError(IntegrityError):
    """What a command read is no longer what the store holds: a kept copy another process
    moved on, or names and addresses opened before an erasure. Lost as a race is (its save
    does not count), the command runs again at once on fresh reads, without the wait of a
    race lost to another writer."""
