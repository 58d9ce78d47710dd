"""Group commit: the saves of commands that arrive together, written in one transaction.

A command's thread hands its save to ``GroupCommit.save``. If no save is being written, the
thread writes its own at once (no wait is added to a command that comes alone). If one is,
the thread waits; when that write ends, the first waiting thread takes every save queued
meanwhile and writes them in one transaction, each answered with its own recordings (and so
its own log position). A group the store refuses (one save of it lost a race, or any other
failure) is written again one save at a time, so one command's lost race or refusal never
fails another's: only the save that lost sees the error, and its command runs again as after
any lost race.

The gain is the transaction's fixed cost (the commit and its sync, the statement's handling)
shared by the group, for the threads of one process; processes do not group with each other.
Measured (``bench.group_commit``): 1.3x with four writers on SQLite, whose writes take turns
anyway; none on PostgreSQL, whose sessions write and sync in parallel, so
``LEDGER_GROUP_COMMIT=auto`` turns it on for SQLite only."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import Recording

from ledger.aggregates.base import Aggregate
from ledger.store.log import Written

SaveOne = Callable[..., list[Recording[UUID]]]
"""``RunningCommands.save``: the aggregates, and ``written=``."""

Record = Callable[[ProcessingEvent[UUID]], list[Recording[UUID]]]
"""Records the events of a whole group in one transaction (nothing is collected from the
aggregates: a refused group leaves them as they were, to be saved one at a time)."""

Recorded = Callable[[ProcessingEvent[UUID], list[Recording[UUID]]], None]
"""What a save does once its events are recorded (the library's snapshots and notices)."""


@dataclass(eq=False)
class _Save:
    """One command's save, waiting in the queue or written."""

    aggregates: tuple[Aggregate, ...]
    written: Written
    recordings: list[Recording[UUID]] | None = None
    error: BaseException | None = None
    finished: bool = False

    def events(self) -> list[Any]:
        return [event for aggregate in self.aggregates for event in aggregate.pending_events]

    def outcome(self) -> list[Recording[UUID]]:
        if self.error is not None:
            raise self.error
        assert self.recordings is not None
        return self.recordings


@dataclass
class GroupStats:
    """How the saves were written (``/metrics`` and the benches show them)."""

    saves: int = 0
    transactions: int = 0
    groups_refused: int = 0
    largest: int = 0


@dataclass(eq=False)
class GroupCommit:
    """The saves of one process's commands, written one group at a time."""

    save_one: SaveOne
    record: Record
    recorded: Recorded
    stats: GroupStats = field(default_factory=GroupStats)
    _queue: list[_Save] = field(default_factory=list)
    _writer: int | None = None
    """The thread writing a group (None: no one is)."""
    _turn: threading.Condition = field(default_factory=threading.Condition)

    def save(self, aggregates: Sequence[Aggregate], written: Written) -> list[Recording[UUID]]:
        """Save the aggregates' pending events in one transaction, with those of the saves
        that arrive meanwhile; their recordings (or the store's refusal of this save)."""
        mine = _Save(tuple(aggregates), written)
        if self._writer == threading.get_ident():  # a save made while writing (a hook's)
            self._write_alone(mine)
            return mine.outcome()
        with self._turn:
            self._queue.append(mine)
            while self._writer is not None and not mine.finished:
                self._turn.wait()
            if mine.finished:  # another thread wrote it with its group
                return mine.outcome()
            self._writer = threading.get_ident()
            group, self._queue = self._queue, []
        try:
            self._write(group)
        finally:
            with self._turn:
                self._writer = None
                self._turn.notify_all()
        return mine.outcome()

    @property
    def waiting(self) -> int:
        """Saves queued behind the one being written."""
        with self._turn:
            return len(self._queue)

    def _write(self, group: list[_Save]) -> None:
        """Write the group; every save of it is finished, whatever happens."""
        try:
            if len(group) == 1 or not self._write_together(group):
                for save in group:
                    self._write_alone(save)
        except BaseException as error:  # an interrupt: no waiting thread is left waiting
            for save in group:
                if not save.finished:
                    save.error, save.finished = error, True
            raise
        finally:
            self._count(group)

    def _write_together(self, group: list[_Save]) -> bool:
        """The group in one transaction; False (nothing written) if the store refused it."""
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        counts = []
        for save in group:
            events = save.events()
            counts.append(len(events))
            processing.events.extend(events)
            processing.aggregates.update((a.id, a) for a in save.aggregates)
        processing.saved_kwargs["written"] = group[0].written
        try:
            recordings = self.record(processing)
        except Exception:  # one save lost a race, or the store failed: each on its own
            self.stats.groups_refused += 1
            return False
        start = 0
        for save, count in zip(group, counts, strict=True):
            for aggregate in save.aggregates:
                aggregate.collect_events()  # written: no longer pending
            save.written.tx = group[0].written.tx
            save.recordings, save.finished = recordings[start : start + count], True
            start += count
        self.stats.transactions += 1
        self.recorded(processing, recordings)
        return True

    def _write_alone(self, save: _Save) -> None:
        try:
            save.recordings = self.save_one(*save.aggregates, written=save.written)
        except Exception as error:  # its own command's to handle (a lost race runs again)
            save.error = error
        save.finished = True
        self.stats.transactions += 1

    def _count(self, group: list[_Save]) -> None:
        self.stats.saves += len(group)
        self.stats.largest = max(self.stats.largest, len(group))
