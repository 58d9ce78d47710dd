"""Dead letters: a view or a policy stopped at an event it cannot handle.

A follower of the log (one view, one policy) that fails on an event stops just before it, on
its own: the others go on. The event, the error, when it first and last failed and how often
are recorded here, in a transaction of their own (the failed one rolled back), so that every
process sees it (``/readyz``, ``/metrics``, ``ledger dead-letters``) and a restart keeps it.
The stopped follower is retried with a backoff that doubles up to a cap, or at once after
``retry_now`` (``ledger dead-letters retry``); once it gets past the event, its dead letter
is deleted. Nothing is skipped: the follower's position stays before the event until then.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError

from ledger.aggregates.claim import Claim
from ledger.audit.event_ids import event_id
from ledger.projections.base import parse_ts, ts
from ledger.projections.store import ViewStore
from ledger.service.clock import Clock, utc_now
from ledger.store.outage import DatabaseUnavailableError
from ledger.store.schema import placeholders

log = logging.getLogger("ledger.dead_letters")
COLUMNS = (
    "follower, kind, name, generation, position, notification_id, event_id, event_type, "
    "claim_id, error, first_failed_at, last_failed_at, attempts, next_retry_at"
)
MAX_ERROR = 500
"""The error's text is kept to this many characters."""
CACHE_SECONDS = 1.0
"""How long a process trusts what it read of the table (another process's retry shows then)."""
INFRASTRUCTURE = (
    DatabaseUnavailableError,  # no connection within LEDGER_DATABASE_TIMEOUT_SECONDS
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,  # raised inside a transaction, before the library translates it
    psycopg.InterfaceError,
)
"""Errors of the database, not of the event: the round fails and is retried, as before."""


@dataclass(frozen=True)
class Follower:
    """A follower of the log: a view (of a generation) or a policy, and its tracking name."""

    kind: str  # "view" or "policy"
    name: str
    tracking: str
    generation: int = 0  # a policy's: 0

    def says(self) -> str:
        """How a person names it: "the claims view", "the referral policy"."""
        return f"the {self.name} {self.kind}"


@dataclass(frozen=True)
class Undecodable:
    """A stored event that cannot be read into its class (its data, or its class, unknown to
    this release): what the log says of it."""

    originator_id: UUID
    originator_version: int
    topic: str

    @classmethod
    def of(cls, notification: Any) -> Undecodable:
        return cls(notification.originator_id, notification.originator_version, notification.topic)


def type_of(event: Any) -> str:
    """An event's type as the dead letters name it: ``Claim.ConsentRequested``."""
    if isinstance(event, Undecodable):
        return event.topic.rpartition(":")[2]
    return type(event).__qualname__


@dataclass(frozen=True)
class FailedEvent:
    """The event a follower failed on, and where it is in the log."""

    event: Any
    position: int
    notification_id: int


@dataclass(frozen=True)
class DeadLetter:
    follower: str
    kind: str
    name: str
    generation: int
    position: int
    notification_id: int
    event_id: str
    event_type: str
    claim_id: str | None
    error: str
    first_failed_at: datetime
    last_failed_at: datetime
    attempts: int
    next_retry_at: datetime

    def says(self) -> str:
        """One line for people: which follower, at which event, with which error."""
        return (
            f"the {self.name} {self.kind} is stopped at event {self.position} "
            f"({self.event_type}): {self.error}"
        )


def error_text(error: BaseException) -> str:
    """The error as the follower's code raised it, shortened."""
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


def claim_of(event: Any) -> str | None:
    """The claim an event is about, when it is about one."""
    if isinstance(event, Claim.Event) or type_of(event).startswith("Claim."):
        return str(event.originator_id)
    found = getattr(event, "claim_id", None) or getattr(event, "first_claim_id", None)
    return None if found is None else str(found)


@dataclass(frozen=True)
class Backoff:
    """How long a stopped follower waits before its next attempt: ``first`` seconds, doubled
    after each failed attempt, never more than ``cap``."""

    first: float = 1.0
    cap: float = 300.0

    def after(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.cap, self.first * 2 ** min(attempts - 1, 40)))


class DeadLetters:
    """The dead letters table: written in transactions of their own, read with a short cache."""

    def __init__(
        self, store: ViewStore, clock: Clock = utc_now, backoff: Backoff | None = None
    ) -> None:
        self.store = store
        self.clock = clock
        self.backoff = backoff or Backoff()
        self._lock = threading.Lock()
        self._cache: tuple[float, list[DeadLetter]] = (-CACHE_SECONDS, [])
        self._told: set[str] = set()  # the followers whose traceback this process logged

    def _sql(self, sql: str) -> str:
        return placeholders(sql, self.store.is_postgres)

    def all(self, *, fresh: bool = False) -> list[DeadLetter]:
        """Every dead letter, oldest first (read again when ``fresh`` or older than a second)."""
        with self._lock:
            read_at, letters = self._cache
        if fresh or time.monotonic() - read_at >= CACHE_SECONDS:
            with self.store.recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(f"SELECT {COLUMNS} FROM dead_letters ORDER BY first_failed_at")
                letters = [_letter(row) for row in cursor.fetchall()]
            with self._lock:
                self._cache = (time.monotonic(), letters)
        return letters

    def current(self, generation: int, *, fresh: bool = False) -> list[DeadLetter]:
        """The dead letters of the policies and of the views of ``generation``."""
        return [
            letter
            for letter in self.all(fresh=fresh)
            if letter.kind == "policy" or letter.generation == generation
        ]

    def of(self, follower: Follower) -> DeadLetter | None:
        return next((d for d in self.all() if d.follower == follower.tracking), None)

    def held_back(self, follower: Follower) -> bool:
        """Whether ``follower`` waits for its next attempt (stopped, and not due yet)."""
        letter = self.of(follower)
        return letter is not None and letter.next_retry_at > self.clock()

    def failed(self, follower: Follower, failed: FailedEvent, error: BaseException) -> None:
        """Record that ``follower`` failed on ``failed.event`` (again, or for the first
        time), and log it: one line, with the traceback the first time in this process."""
        attempts = self._record(follower, failed, error)
        if attempts == 1 or follower.tracking not in self._told:
            self._told.add(follower.tracking)
            log.warning(
                "%s stopped at event %s (%s): %s; the others go on; it is retried with "
                "backoff, or now with `ledger dead-letters retry`",
                follower.says(), failed.position, type_of(failed.event),
                error_text(error), exc_info=error,
            )  # fmt: skip
        else:
            log.debug("%s failed again (attempt %s)", follower.says(), attempts, exc_info=error)

    def _record(self, follower: Follower, failed: FailedEvent, error: BaseException) -> int:
        """Insert or update the follower's dead letter in a transaction of its own; the
        attempts on this event so far."""
        now = self.clock()
        with self.store.transaction(commit=True) as tx:
            found = tx.one(
                "SELECT position, attempts, first_failed_at FROM dead_letters WHERE follower = ?",
                (follower.tracking,),
            )
            same = found is not None and found["position"] == failed.position
            attempts = int(found["attempts"]) + 1 if same and found else 1
            first = str(found["first_failed_at"]) if same and found else ts(now)
            tx.execute("DELETE FROM dead_letters WHERE follower = ?", (follower.tracking,))
            tx.execute(
                f"INSERT INTO dead_letters ({COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                _row(follower, failed, error, first, now, attempts, self.backoff),
            )
        self._forget()
        return attempts

    def recovered(self, follower: Follower, position: int) -> None:
        """``follower`` reached ``position``: its dead letter, if that is past its event, is
        deleted (and the recovery logged once)."""
        letter = self.of(follower)
        if letter is None or position < letter.position:
            return
        with self.store.transaction(commit=True) as tx:
            gone = tx.execute(
                "DELETE FROM dead_letters WHERE follower = ? AND position <= ?",
                (follower.tracking, position),
            )
        self._forget()
        self._told.discard(follower.tracking)
        if gone:
            log.info(
                "%s got past event %s (%s) after %s failed attempts and goes on",
                follower.says(), letter.position, letter.event_type, letter.attempts,
            )  # fmt: skip

    def retry_now(self, generation: int, name: str | None = None) -> list[DeadLetter]:
        """Make the dead letters of ``generation``'s views and of the policies (of the one
        named ``name``, or all) due now; those."""
        current = self.current(generation, fresh=True)
        due = [d for d in current if name is None or d.name == name]
        with self.store.transaction(commit=True) as tx:
            for letter in due:
                tx.execute(
                    "UPDATE dead_letters SET next_retry_at = ? WHERE follower = ?",
                    (ts(self.clock()), letter.follower),
                )
        self._forget()
        return due

    def forget(self, followers: Sequence[Follower]) -> None:
        """Delete the dead letters of ``followers`` (a replay's generation, abandoned)."""
        with self.store.transaction(commit=True) as tx:
            for follower in followers:
                tx.execute("DELETE FROM dead_letters WHERE follower = ?", (follower.tracking,))
        self._forget()

    def _forget(self) -> None:
        with self._lock:
            self._cache = (-CACHE_SECONDS, [])


def _row(
    follower: Follower,
    failed: FailedEvent,
    error: BaseException,
    first: str,
    now: datetime,
    attempts: int,
    backoff: Backoff,
) -> tuple[Any, ...]:
    event = failed.event
    return (
        follower.tracking,
        follower.kind,
        follower.name,
        follower.generation,
        failed.position,
        failed.notification_id,
        event_id(event.originator_id, event.originator_version),
        type_of(event),
        claim_of(event),
        error_text(error),
        first,
        ts(now),
        attempts,
        ts(now + backoff.after(attempts)),
    )


def _letter(row: Any) -> DeadLetter:
    values = dict(row)
    for moment in ("first_failed_at", "last_failed_at", "next_retry_at"):
        values[moment] = parse_ts(values[moment])
    for number in ("generation", "position", "notification_id", "attempts"):
        values[number] = int(values[number])
    return DeadLetter(**values)
