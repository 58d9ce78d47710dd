"""Follows the event log and keeps the read models current, a page per transaction.

The library's ``ProjectionRunner`` commits one event per transaction and cannot follow a
SQLite application; this runner polls the notification log in pages, folds each page into
each view in memory, and writes that view's rows and its tracking position in one
transaction. A page is applied only from the exact position it was read from (compare-and-set
in the page's own transaction, under a lock of the view's tracking name): a runner of another
process that applied some of the page's events first makes this one roll back whole, so that
every event is applied exactly once, whatever the page sizes.

Each view has its own position and fails alone: a page a view cannot apply is applied again
one transaction of the log at a time, up to the event that fails; that view stops just before
it, with a dead letter (``ledger.projections.dead_letters``), and is retried with backoff while
the other views go on. The views' position, which reads wait for, is the lowest of theirs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError

from ledger.projections.base import BatchProjection
from ledger.projections.claims import ClaimViews
from ledger.projections.customer_tabs import TabResorting
from ledger.projections.dead_letters import (
    INFRASTRUCTURE,
    Backoff,
    DeadLetter,
    DeadLetters,
    FailedEvent,
    Follower,
    Undecodable,
)
from ledger.projections.directory import DirectoryViews
from ledger.projections.store import Tx, ViewStore
from ledger.service.application import Ledger
from ledger.service.clock import Clock, utc_now
from ledger.store.log import LogPage

VIEW_PROJECTIONS: tuple[type[BatchProjection], ...] = (ClaimViews, DirectoryViews)
Progress = Callable[[int, int], None]
"""Called with (events applied, events to apply) after each page."""
Read = tuple[LogPage, list[Any]]


class _PositionMovedError(Exception):
    """The view's position moved since the page was read: another runner applied it."""


class _EventFailedError(Exception):
    """A view raised on one event (``failed``) of a transaction it was applying alone."""

    def __init__(self, failed: FailedEvent, error: Exception) -> None:
        super().__init__(str(error))
        self.failed, self.error = failed, error


class _UndecodableError(Exception):
    """The first event of a page cannot be decoded: (the event as the log has it, the error)."""


def _before(read: LogPage, events: list[Any], n: int, error: Exception) -> Read:
    """The page cut before the log's transaction of its ``n``-th event, which cannot be
    decoded (``_UndecodableError`` when nothing is before it)."""
    keep = read.positions.index(read.positions[n])
    if keep == 0:
        notification = read.notifications[n]
        failed = FailedEvent(Undecodable.of(notification), read.positions[n], notification.id)
        raise _UndecodableError(failed, error) from error
    cut = LogPage(read.notifications[:keep], read.positions[:keep], read.positions[keep - 1])
    return cut, events[:keep]


class ReplayStoppedError(Exception):
    """A replay met an event a view cannot apply: the views stay on their generation."""

    def __init__(self, letter: DeadLetter) -> None:
        super().__init__(letter.says())
        self.letter = letter


def tracking_name(generation: int, view: str | None = None) -> str:
    """A view's tracking name in ``generation``; without a view, the one name all the views
    shared before each had its own (a store of an earlier release)."""
    return f"views@{generation}" if view is None else f"views@{generation}:{view}"


def views_position(store: ViewStore, generation: int) -> int:
    """Where every view of ``generation`` is: the lowest of their positions."""
    return min(store.position(tracking_name(generation, p.name)) for p in VIEW_PROJECTIONS)


@dataclass
class _Applied:
    reached: int
    applied: int = 0
    stopped: bool = False


class ViewRunner:
    def __init__(
        self,
        ledger: Ledger,
        store: ViewStore,
        *,
        page_size: int = 2000,
        clock: Clock = utc_now,
        backoff: Backoff | None = None,
    ) -> None:
        self.ledger = ledger
        self.store = store
        store.keyring = ledger.keyring  # the views keep contacts sealed; reads open them
        self.page_size = page_size
        self.projections = [projection(store, ledger.catalog) for projection in VIEW_PROJECTIONS]
        self._resorting = TabResorting(store, ledger.catalog)
        self.dead_letters = DeadLetters(store, clock, backoff)
        self._changed = threading.Condition()
        self._catching_up = threading.Lock()  # one thread of a process applies pages at a time
        self._carry_over(store.generation())

    def _carry_over(self, generation: int) -> None:
        """A store of an earlier release tracked every view under one name: each view
        without a position of its own starts from there."""
        shared = tracking_name(generation)
        if not self.store.position(shared):
            return
        with self.store.transaction(generation, commit=True) as tx:
            start = tx.position(shared)
            for projection in self.projections:
                name = tracking_name(generation, projection.name)
                if not tx.position(name):
                    tx.track(name, start)

    def follower(self, projection: BatchProjection, generation: int) -> Follower:
        name = tracking_name(generation, projection.name)
        return Follower("view", projection.name, name, generation)

    def head(self) -> int:
        return self.ledger.event_log.head()

    def position(self, generation: int | None = None) -> int:
        """The lowest position of the views: every view shows the log up to it."""
        gen = self.store.generation() if generation is None else generation
        return views_position(self.store, gen)

    def lag(self) -> int:
        """The events of the log the active views do not all show yet."""
        return self.ledger.event_log.behind(self.position())

    def stuck(self, *, fresh: bool = False) -> list[DeadLetter]:
        """The views (of the active generation) and policies stopped at an event."""
        return self.dead_letters.current(self.store.generation(), fresh=fresh)

    def retry_now(self, name: str | None = None) -> list[DeadLetter]:
        """Make the stopped views and policies (or the one named ``name``) due now."""
        return self.dead_letters.retry_now(self.store.generation(), name)

    def _positions(self, generation: int) -> dict[str, int]:
        """The position of each view that may go on (not waiting for its next attempt)."""
        return {
            p.name: self.store.position(tracking_name(generation, p.name))
            for p in self.projections
            if not self.dead_letters.held_back(self.follower(p, generation))
        }

    def process_page(self, generation: int | None = None) -> int:
        """Apply the next page of events to the views that may go on; events applied."""
        gen = self.store.generation() if generation is None else generation
        positions = self._positions(gen)
        if not positions:
            return 0
        read = self._next_page(gen, positions, self._read)
        return self._step(gen, positions, read) if read else 0

    def _read(self, start: int) -> Read:
        """The page after ``start``, and its events decoded; up to the log's transaction
        before an event that cannot be decoded (``_UndecodableError`` if that is the first)."""
        read = self.ledger.event_log.page_after(start, self.page_size)
        events: list[Any] = []
        for n, notification in enumerate(read.notifications):
            try:
                events.append(self.ledger.sealed_event(notification))
            except INFRASTRUCTURE:
                raise
            except Exception as error:
                return _before(read, events, n, error)
        return read, events

    def _next_page(
        self, generation: int, positions: dict[str, int], read: Callable[[int], Read]
    ) -> Read | None:
        """The page after the lowest of ``positions``; None when its first event cannot be
        decoded: the views there stop at it (they leave ``positions``)."""
        start = min(positions.values())
        try:
            return read(start)
        except _UndecodableError as bad:
            for projection in self.projections:
                if positions.get(projection.name) == start:
                    self.dead_letters.failed(self.follower(projection, generation), *bad.args)
                    del positions[projection.name]
            return None

    def _step(self, generation: int, positions: dict[str, int], read: Read) -> int:
        """Apply ``read`` (the page after the lowest of ``positions``) to each view there, in
        a transaction of its own; events applied (by the view that applied most). A view
        stopped by an event leaves ``positions``; the others' positions move on."""
        start = min(positions.values())
        if not read[1]:
            return 0
        applied = 0
        for projection in self.projections:
            if positions.get(projection.name) != start:
                continue
            done = self._apply_page(generation, projection, start, read)
            positions[projection.name] = done.reached
            if done.stopped:
                del positions[projection.name]
            applied = max(applied, done.applied)
        if applied:
            with self._changed:
                self._changed.notify_all()
        return applied

    def _apply_page(
        self, generation: int, projection: BatchProjection, start: int, read: Read
    ) -> _Applied:
        """The page into one view; failing, its transactions one at a time (see
        ``_one_at_a_time``). A view past its dead letter's event is recovered."""
        page, events = read
        follower = self.follower(projection, generation)
        try:
            done = self._commit(follower, projection, start, page.position, events)
        except INFRASTRUCTURE:
            raise
        except Exception:
            done = self._one_at_a_time(follower, projection, start, read)
        if not done.stopped:
            self.dead_letters.recovered(follower, done.reached)
        return done

    def _commit(
        self,
        follower: Follower,
        projection: BatchProjection,
        start: int,
        end: int,
        events: Sequence[Any],
        fold: Callable[[Tx, Sequence[Any]], None] | None = None,
    ) -> _Applied:
        """Fold ``events`` (from ``start`` to ``end``) into the view and track ``end``, in one
        transaction, only from ``start`` (compare-and-set)."""
        name = follower.tracking
        try:
            with self.store.transaction(follower.generation, commit=True) as tx:
                if tx.position(name) != start:  # compare-and-set: only from where it was read
                    raise _PositionMovedError
                (fold or projection.process_batch)(tx, events)
                tx.track(name, end)
        except (IntegrityError, _PositionMovedError):
            # Another runner (of this process or another) applied events of this page first;
            # nothing was written here: carry on from where it is.
            reached = self.store.position(name)
            if reached == start:  # it did not: the view's own rows refused the page
                raise
            return _Applied(reached)
        return _Applied(end, len(events))

    def _one_at_a_time(
        self, follower: Follower, projection: BatchProjection, start: int, read: Read
    ) -> _Applied:
        """After a page failed: its transactions, each in a transaction of its own, up to the
        one whose event fails; there the view stops, with its dead letter recorded."""
        position, applied = start, 0

        def fold(tx: Tx, events: Sequence[Any]) -> None:
            for failed in events:  # one by one, to name the event that fails
                try:
                    projection.process_batch(tx, [failed.event])
                except INFRASTRUCTURE:
                    raise
                except Exception as error:
                    raise _EventFailedError(failed, error) from error

        for end, group in _transactions(*read):
            try:
                done = self._commit(follower, projection, position, end, group, fold)
            except _EventFailedError as stop:
                self.dead_letters.failed(follower, stop.failed, stop.error)
                return _Applied(position, applied, stopped=True)
            if done.reached != end:
                return _Applied(done.reached, applied)  # another runner is ahead: it goes on
            position, applied = end, applied + done.applied
        return _Applied(position, applied)

    def catch_up(
        self,
        generation: int | None = None,
        progress: Progress | None = None,
        until: int | None = None,
    ) -> int:
        """Apply pages until the views reach the head of the log (and ``until``, a position
        a write of this client reached); events applied. A view stopped at an event stays
        behind; the others go on.

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
            positions = self._positions(gen)
            lowest = min(positions.values(), default=head)
            expected = self.ledger.event_log.behind(lowest) if progress else 0
            pages = _ReadAhead(self._read, self.page_size, stack)
            while positions and (position := min(positions.values())) < head:
                read = self._next_page(gen, positions, lambda at: pages.read(at, head))
                applied = self._step(gen, positions, read) if read else 0
                if not applied and min(positions.values(), default=head) <= position:
                    if until is None or time.monotonic() > deadline:
                        break
                    time.sleep(0.001)  # a transaction older than the write is still open
                    positions = self._positions(gen)
                    continue
                total += applied
                if progress is not None:
                    progress(total, max(expected, total))
        return total

    def settle(self) -> int:
        """Sort anew the kept Customers tabs of each engagement whose recorded catalog digest
        is not this runner's catalog's (``TabResorting``), at the claims view's position;
        the customers sorted."""
        generation = self.store.generation()
        with self._catching_up:  # no page of this process is applied meanwhile
            return self._resorting.settle(generation, tracking_name(generation, ClaimViews.name))

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
        the switch at its next page. An event a view cannot apply stops the replay before
        the switch (``ReplayStoppedError``).
        """
        new = self.store.generation() + 1
        self.store.create_generation(new)
        applied = self.catch_up(new, progress)
        applied += self.catch_up(new)  # whatever arrived meanwhile
        stopped = [d for d in self.dead_letters.current(new, fresh=True) if d.kind == "view"]
        if stopped:
            self.dead_letters.forget([self.follower(p, new) for p in self.projections])
            raise ReplayStoppedError(stopped[0])
        self.store.switch_to(new)
        # A view stopped in the generation left behind is not stopped any more.
        self.dead_letters.forget([self.follower(p, new - 1) for p in self.projections])
        return applied


def _transactions(page: LogPage, events: list[Any]) -> Iterator[tuple[int, list[FailedEvent]]]:
    """A page's events by the log's transactions: (the position after it, its events)."""
    group: list[FailedEvent] = []
    pairs = zip(page.notifications, page.positions, strict=True)
    for n, (notification, position) in enumerate(pairs):
        group.append(FailedEvent(events[n], position, notification.id))
        if n + 1 == len(events) or page.positions[n + 1] != position:
            yield position, group
            group = []


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
