"""Aggregates kept per process between commands, each checked before it decides anything.

A command reads its claim, seat and known customer before it decides; most of them were
saved by this very process a moment before (the same claim's next step). Reading each again
costs a round trip and the decoding of its events. So a command attempt takes the copy this
process last saved or read, and every answer decided on a copy is checked against the store
before it counts:

- a save: a copy another process has since moved on writes a version that exists already,
  the store refuses the save, and the command runs again on what the store holds
  (``LedgerBase.run``'s retry on a lost race);
- a copy read and not saved (the known customer a claim is added for), and every copy of an
  answer that saves nothing (a policy finding nothing to do): its version is compared with
  the store's (``unsaved_copies``), and the command runs again on fresh reads if it moved;
- a refusal: a command refused on a kept copy runs once more on fresh reads before the
  refusal is answered (``AttemptReads.used_copies``).

Outside a command (queries, the consent page) nothing is served from here. The copies hold
the contacts' opened names and addresses, so they are dropped whenever the key ring drops
its keys (an erasure, here or in another process: ``KeyRing.generation``), and an attempt
that began before such a drop keeps nothing and runs again (``current``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.application import LRUCache

from ledger.store.personal import KeyRing

DEFAULT_SIZE = 10_000
"""Aggregates kept per process (least recently used dropped first): a claim is a few kB."""


Events = tuple[Any, ...]
"""An aggregate's events, in order: what is kept of it (they are frozen: shared safely, and
folded into a new aggregate for each command, which may change it freely)."""


@dataclass
class AttemptReads:
    """What one command attempt read: each aggregate's events, and which of them came from
    the kept copies (with the version each was at)."""

    fresh: bool
    """True: the attempt reads everything from the store (its retry after a refusal)."""
    generation: int
    """The key ring's generation when the attempt began: copies of an older one are stale."""
    events: dict[UUID, Events] = field(default_factory=dict)
    copies: dict[UUID, int] = field(default_factory=dict)

    @property
    def used_copies(self) -> bool:
        return bool(self.copies)

    def unsaved_copies(self, saved: Iterable[UUID]) -> dict[UUID, int]:
        """The kept copies the attempt read and does not save: the save cannot check them."""
        saved_ids = set(saved)
        return {id_: v for id_, v in self.copies.items() if id_ not in saved_ids}


class AggregateCache:
    """The events of the aggregates this process's commands saved or read, for its next
    commands."""

    def __init__(self, keyring: KeyRing, size: int = DEFAULT_SIZE) -> None:
        self._keyring = keyring
        self._size = size
        self._items: LRUCache[UUID, Events] = LRUCache(maxsize=max(size, 1))
        self._generation = keyring.generation()
        self._lock = threading.Lock()
        self._attempt = threading.local()
        keyring.on_drop(self._drop_all)

    @contextmanager
    def attempt(self, *, fresh: bool = False) -> Iterator[AttemptReads]:
        """One command attempt: ``take`` serves it kept events (none when ``fresh``)."""
        generation = self._current_generation()
        reads = AttemptReads(fresh=fresh or self._size <= 0, generation=generation)
        outer, self._attempt.reads = self._reads(), reads
        try:
            yield reads
        finally:
            self._attempt.reads = outer

    def _reads(self) -> AttemptReads | None:
        return getattr(self._attempt, "reads", None)

    def current(self, reads: AttemptReads) -> bool:
        """Whether no erasure dropped the keys since the attempt began (its copies and its
        reads hold no name or address erased meanwhile)."""
        return self._current_generation() == reads.generation

    def take(self, aggregate_id: UUID) -> Events | None:
        """The kept events of the aggregate, for the running command attempt; None outside
        one, in a fresh one, or when none are kept (the caller reads the store)."""
        reads = self._reads()
        if reads is None:
            return None
        if (events := reads.events.get(aggregate_id)) is not None:
            return events  # read already in this attempt (``read_many``), as it was
        if reads.fresh or reads.generation != self._generation:
            return None
        try:
            events = self._items.get(aggregate_id)
        except KeyError:
            return None
        reads.events[aggregate_id] = events
        reads.copies[aggregate_id] = _version(events)
        return events

    def unread(self, ids: Iterable[UUID]) -> list[UUID]:
        """Those of ``ids`` the running attempt has neither read nor kept copies of."""
        reads = self._reads()
        if reads is None:
            return []
        kept = () if reads.fresh else self._items.cache
        return [id_ for id_ in ids if id_ not in reads.events and id_ not in kept]

    def read(self, aggregate_id: UUID, events: Events) -> None:
        """The running attempt read these events from the store (none: there is no such
        aggregate yet). They are kept: the store held them a moment ago."""
        if (reads := self._reads()) is None:
            return
        reads.events[aggregate_id] = events
        self._keep(aggregate_id, events, reads.generation)

    def keep(self, saved: dict[UUID, Events]) -> None:
        """The attempt's save committed these new events: each aggregate is kept as what the
        attempt read of it followed by them."""
        if (reads := self._reads()) is not None:
            for id_, new in saved.items():
                events = reads.events.get(id_, ()) + new
                if _contiguous(events):
                    self._keep(id_, events, reads.generation)

    def _keep(self, aggregate_id: UUID, events: Events, generation: int) -> None:
        if self._size <= 0:
            return
        with self._lock:  # a slower thread's older read or save never replaces a newer one
            if generation != self._generation:
                return  # read before an erasure dropped the keys: it may hold what it erased
            link = self._items.cache.get(aggregate_id)
            if link is None or _version(link[LRUCache.RESULT]) < _version(events):
                self._items.put(aggregate_id, events)

    def drop(self, ids: Iterable[UUID]) -> None:
        """Forget these aggregates: the store holds something else (a lost race)."""
        for id_ in ids:
            with suppress(KeyError):
                self._items.get(id_, evict=True)

    def _current_generation(self) -> int:
        """The key ring's generation (it looks for erasures at most once a second); every
        copy is dropped when it changed (``on_drop`` has done so already, as a rule)."""
        self._drop_all(self._keyring.generation())
        return self._generation

    def _drop_all(self, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                self._items = LRUCache(maxsize=max(self._size, 1))
                self._generation = generation


def _contiguous(events: Events) -> bool:
    versions = [e.originator_version for e in events]
    return bool(versions) and versions == list(range(1, len(versions) + 1))


def _version(events: Events) -> int:
    """The version the events bring their aggregate to (0: none, no such aggregate)."""
    return int(events[-1].originator_version) if events else 0
