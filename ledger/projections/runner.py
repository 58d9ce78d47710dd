"""Follows the event log and keeps the read models current, a page per transaction.

The library's ``ProjectionRunner`` commits one event per transaction and cannot follow a
SQLite application; this runner polls the notification log in pages, folds each page into
every view in memory, and writes the rows and the tracking position in one transaction.
A page is applied only from the exact position it was read from (compare-and-set in the
page's own transaction, under a lock of the views' tracking name): a runner of another
process that applied some of the page's events first makes this one roll back whole, so that
every event is applied exactly once, whatever the page sizes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

from eventsourcing.persistence import IntegrityError

from ledger.projections.base import BatchProjection
from ledger.projections.claims import ClaimViews
from ledger.projections.directory import DirectoryViews
from ledger.projections.store import ViewStore
from ledger.service.application import Ledger
from ledger.store.log import LogPage

VIEW_PROJECTIONS: tuple[type[BatchProjection], ...] = (ClaimViews, DirectoryViews)
Progress = Callable[[int, int], None]
"""Called with (events applied, events to apply) after each page."""


class _PositionMovedError(Exception):
    """The views' position moved since the page was read: another runner applied it."""


def tracking_name(generation: int) -> str:
    return f"views@{generation}"


class ViewRunner:
    def __init__(self, ledger: Ledger, store: ViewStore, *, page_size: int = 2000) -> None:
        self.ledger = ledger
        self.store = store
        store.keyring = ledger.keyring  # the views keep contacts sealed; reads open them
        self.page_size = page_size
        self.projections = [projection(store) for projection in VIEW_PROJECTIONS]
        self._changed = threading.Condition()
        self._catching_up = threading.Lock()  # one thread of a process applies pages at a time

    def head(self) -> int:
        return self.ledger.event_log.head()

    def position(self, generation: int | None = None) -> int:
        gen = self.store.generation() if generation is None else generation
        return self.store.position(tracking_name(gen))

    def lag(self) -> int:
        """The events of the log the active views do not show yet."""
        return self.ledger.event_log.behind(self.position())

    def process_page(self, generation: int | None = None) -> int:
        """Apply the next page of events to every view; the number of events applied."""
        gen = self.store.generation() if generation is None else generation
        applied, _ = self._apply_after(gen, self.store.position(tracking_name(gen)))
        return applied

    def _read(self, start: int) -> tuple[LogPage, list[Any]]:
        """The page after ``start``, and its events decoded."""
        read = self.ledger.event_log.page_after(start, self.page_size)
        return read, [self.ledger.sealed_event(n) for n in read.notifications]

    def _apply_after(
        self, generation: int, start: int, read: tuple[LogPage, list[Any]] | None = None
    ) -> tuple[int, int]:
        """Apply the page after ``start`` (read here unless given): (events applied, the
        views' position now)."""
        page, events = read or self._read(start)
        if not events:
            return 0, start
        name = tracking_name(generation)
        try:
            with self.store.transaction(generation, commit=True) as tx:
                if tx.position(name) != start:  # compare-and-set: only from where it was read
                    raise _PositionMovedError
                for projection in self.projections:
                    projection.process_batch(tx, events)
                tx.track(name, page.position)
        except (IntegrityError, _PositionMovedError):
            # Another runner (of this process or another) applied events of this page first;
            # nothing was written here: carry on from where it is.
            return 0, self.store.position(name)
        with self._changed:
            self._changed.notify_all()
        return len(events), page.position

    def catch_up(
        self,
        generation: int | None = None,
        progress: Progress | None = None,
        until: int | None = None,
    ) -> int:
        """Apply pages until the views reach the head of the log (and ``until``, a position
        a write of this client reached); events applied.

        Threads of one process take turns (the API's request threads and its worker), so that
        they do not all fold the same page only for all but one to roll back. ``progress``
        is told (events applied, events to apply). Behind by more than a page, the next page
        is read and decoded in a thread while this one is written.
        """
        gen = self.store.generation() if generation is None else generation
        total = 0
        head = max(self.head(), until or 0)
        deadline = time.monotonic() + 5
        with self._catching_up, ExitStack() as stack:
            position = self.store.position(tracking_name(gen))
            expected = self.ledger.event_log.behind(position) if progress else 0
            pages = _ReadAhead(self._read, self.page_size, stack)
            while position < head:
                read = pages.read(position, head)
                applied, reached = self._apply_after(gen, position, read)
                if reached <= position:
                    if until is None or time.monotonic() > deadline:
                        break
                    time.sleep(0.001)  # a transaction older than the write is still open
                    position = self.store.position(tracking_name(gen))
                    continue
                total, position = total + applied, reached
                if progress is not None:
                    progress(total, max(expected, total))
        return total

    def wait(self, position: int, timeout: float = 5.0) -> bool:
        """Read-your-writes: block until the views include ``position`` (False on timeout)."""
        deadline = time.monotonic() + timeout
        while self.position() < position:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self._changed:
                self._changed.wait(min(remaining, 0.02))
        return True

    def replay(self, progress: Progress | None = None) -> int:
        """Rebuild every view from the events into fresh tables, then switch to them.

        Queries keep reading the active generation until the switch; a live runner follows
        the switch at its next page.
        """
        new = self.store.generation() + 1
        self.store.create_generation(new)
        applied = self.catch_up(new, progress)
        applied += self.catch_up(new)  # whatever arrived meanwhile
        self.store.switch_to(new)
        return applied


class _ReadAhead:
    """Pages read in order; behind by more than a page, the next page is read and decoded in a
    thread (entered on ``stack``) while this one is written."""

    def __init__(
        self, read: Callable[[int], tuple[LogPage, list[Any]]], page_size: int, stack: ExitStack
    ) -> None:
        self._read, self._page_size, self._stack = read, page_size, stack
        self._reader: ThreadPoolExecutor | None = None
        self._ahead: tuple[int, Future[tuple[LogPage, list[Any]]]] | None = None

    def read(self, position: int, head: int) -> tuple[LogPage, list[Any]]:
        """The page after ``position`` (the one read ahead, if it is that one)."""
        ahead, self._ahead = self._ahead, None
        read = ahead[1].result() if ahead and ahead[0] == position else self._read(position)
        page = read[0]
        if len(page.notifications) >= self._page_size and page.position < head:
            if self._reader is None:
                self._reader = self._stack.enter_context(ThreadPoolExecutor(1, "views-read-ahead"))
            self._ahead = (page.position, self._reader.submit(self._read, page.position))
        return read
