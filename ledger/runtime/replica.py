"""Reads from a PostgreSQL streaming replica (LEDGER_READ_DATABASE_URL, docs/replicas.md).

The views are written on the primary by the workers and reach the replica by streaming
replication, tracking positions and all. A read with nothing pending reads the replica. A read
that must show a position (the reader's own write, ``Ledger-Position``, ``?after=``) polls the
replica's tracking position until it passes, for at most LEDGER_REPLICA_WAIT_MS, and otherwise
reads the primary (a fallback, counted). A replica that cannot be reached is left alone for a
moment and its reads go to the primary meanwhile: a read that finds it gone as it begins
reads the primary instead, and one that loses it midway (answered 503) sends the next reads to
the primary at once. Nothing here writes, makes a table or takes a lock on the replica: it is
read-only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.utils import Environment

from ledger.projections.runner import VIEW_PROJECTIONS, tracking_name
from ledger.projections.store import GENERATION_TTL_SECONDS, Tx, ViewStore, prefix
from ledger.store.outage import hand_out_live, unreachable

log = logging.getLogger(__name__)

POLL_SECONDS = (0.001, 0.01)
"""How long a waiting read sleeps before it looks at the replica's position again: the first
time, then twice as long each time up to the second."""
PROBE_SECONDS = 1.0
"""Reads with nothing pending look at the replica at most this often (is it there, how far)."""
DOWN_SECONDS = 5.0
"""An unreachable replica is not tried again for this long (its reads go to the primary)."""


Lost = Callable[[BaseException, bool], None]
"""Told that a read lost the replica, and whether the primary served it instead."""


class ReplicaViewStore(ViewStore):
    """The view store on a read-only replica: the primary made its tables; nothing is written."""

    def __init__(self, recorder: PostgresTrackingRecorder) -> None:  # no DDL: see ViewStore
        self.recorder = recorder
        self.postgres = recorder
        self.is_postgres = True
        self._generation = (-GENERATION_TTL_SECONDS, 0)
        self.primary: ViewStore | None = None
        """Where a read goes when the replica cannot be reached as it begins."""
        self.lost: Lost = lambda error, fell_back: None
        """Told when a read finds the replica out of reach (``Replica`` leaves it alone)."""

    @classmethod
    def open(cls, env: Any) -> ReplicaViewStore:
        """The replica's view store (no table is made, no schema lock is taken)."""
        factory = InfrastructureFactory.construct(
            Environment("Views", {**dict(env), "CREATE_TABLE": "no"})
        )
        recorder = factory.tracking_recorder(PostgresTrackingRecorder)
        assert isinstance(recorder, PostgresTrackingRecorder)
        hand_out_live(recorder.datastore)  # not a connection the replica ended while idle
        return cls(recorder)

    @contextmanager
    def transaction(
        self,
        generation: int | None = None,
        *,
        commit: bool = False,
        sealed: bool = False,
        fallback: bool = True,
    ) -> Iterator[Tx]:
        """A read on the replica; on the primary (``fallback``) if the replica cannot be
        reached as it begins. A read that loses the replica midway fails, and says so."""
        if commit:
            raise RuntimeError("the replica is read-only: write on the primary's view store")
        with ExitStack() as stack:
            tx = self._begin(stack, generation, sealed, fallback)
            try:
                yield tx
            except Exception as error:
                if tx.store is self and unreachable(error):
                    self.lost(error, False)
                raise

    def _begin(self, stack: ExitStack, generation: int | None, sealed: bool, fallback: bool) -> Tx:
        """The read's transaction: the replica's, or the primary's if the replica cannot
        be reached and the read may go there (begun outside the replica's error, so that an
        error of the primary's is its own)."""
        try:
            return stack.enter_context(super().transaction(generation, sealed=sealed))
        except Exception as error:
            if not unreachable(error) or not fallback or self.primary is None:
                raise
            self.lost(error, True)
        return stack.enter_context(self.primary.transaction(sealed=sealed))


@dataclass
class ReplicaCounts:
    """What the replica did, for /metrics."""

    reads: int = 0
    """Reads the replica served."""
    waits: int = 0
    """Reads that waited for the replica to replay a position, and got it in time."""
    fallbacks_wait: int = 0
    """Reads that waited LEDGER_REPLICA_WAIT_MS in vain and read the primary."""
    fallbacks_unreachable: int = 0
    """Reads that went to the primary because the replica could not be reached."""


class Replica:
    """Whether a read can be served by the replica, waiting a bounded time if need be."""

    def __init__(self, store: ReplicaViewStore, wait_seconds: float) -> None:
        self.store = store
        self.wait_seconds = wait_seconds
        self.counts = ReplicaCounts()
        self._lock = threading.Lock()
        self._probed_at = -PROBE_SECONDS
        self._down_until = 0.0
        self._has_tables = False
        self.error: str | None = None
        """Why the replica was last unreachable (None: it answered last time)."""
        store.lost = self._lost_in_read

    def position(self) -> int:
        """The views' position the replica has replayed (queries read its generation): one
        query, not retried (eventsourcing's ``max_tracking_id`` retries for seconds)."""
        generation = self.store.generation()
        with self.store.transaction(generation, fallback=False) as tx:
            if not self._has_tables:  # a replica that has not replayed the views' tables yet
                found = tx.one("SELECT to_regclass(?) AS found", (prefix(generation) + "claims",))
                if found is None or found["found"] is None:
                    raise LookupError("the replica has not replayed the views' tables yet")
                self._has_tables = True
            statement = self.store.postgres.max_tracking_id_statement
            positions = []
            for projection in VIEW_PROJECTIONS:  # each view has its own; reads see the lowest
                tx.cursor.execute(statement, (tracking_name(generation, projection.name),))
                row = tx.cursor.fetchone()
                positions.append(int(row["max"] or 0))
        return min(positions)

    def serves(self, needed: int, prepare: Callable[[], None] = lambda: None) -> bool:
        """Whether this read goes to the replica: it is reachable and shows ``needed``. If it
        does not yet, ``prepare`` runs (the primary's views reach ``needed``) and the read waits
        for the replica to replay that far, for at most the wait. False counts a fallback."""
        now = time.monotonic()
        if now < self._down_until:
            return self._count("fallbacks_unreachable", False)
        if not needed and now - self._probed_at < PROBE_SECONDS:
            return self._count("reads", True)
        self._probed_at = now
        position = self._position()
        if position is None:
            return self._count("fallbacks_unreachable", False)
        if position >= needed:
            return self._count("reads", True)
        prepare()
        return self._wait(needed)

    def _wait(self, needed: int) -> bool:
        deadline = time.monotonic() + self.wait_seconds
        pause = POLL_SECONDS[0]
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(pause, left))
            pause = min(pause * 2, POLL_SECONDS[1])
            position = self._position()
            if position is None:
                return self._count("fallbacks_unreachable", False)
            if position >= needed:
                self._count("waits", True)
                return self._count("reads", True)
        return self._count("fallbacks_wait", False)

    def _position(self) -> int | None:
        """The replica's position, or None when it cannot be reached (then it is left alone
        for a moment)."""
        try:
            position = self.position()
        except Exception as error:  # the replica is down or unreachable: read the primary
            self._unreachable(error)
            return None
        self.error = None
        return position

    def _unreachable(self, error: BaseException) -> None:
        if self.error is None:
            log.warning("the read replica is unreachable, reading the primary: %s", error)
        self.error = str(error) or type(error).__name__
        self._down_until = time.monotonic() + DOWN_SECONDS

    def _lost_in_read(self, error: BaseException, fell_back: bool) -> None:
        """A read the replica was to serve found it out of reach: the next reads go to the
        primary, without waiting for the next look at the replica."""
        self._unreachable(error)
        if fell_back:  # counted as a read of the replica when it was sent there: it was not
            with self._lock:
                self.counts.reads -= 1
            self._count("fallbacks_unreachable", False)

    def _count(self, name: str, served: bool) -> bool:
        with self._lock:
            setattr(self.counts, name, getattr(self.counts, name) + 1)
        return served

    def lag(self, primary_position: int) -> int | None:
        """How many events the replica's views are behind the primary's (None: unreachable)."""
        position = None if time.monotonic() < self._down_until else self._position()
        return None if position is None else max(0, primary_position - position)

    def close(self) -> None:
        self.store.close()
