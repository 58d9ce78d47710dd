"""A database that cannot be reached: a bounded wait, a refusal to retry, and one log line.

eventsourcing's PostgreSQL recorders retry a statement that failed on a connection ten times;
each retry that finds the pool empty waits the pool's whole timeout for a connection that
PostgreSQL, stopped, will not give, so a request hung for many times the timeout. Here, once
this process knows the database is lost, one caller at a time tries it (the probe, waiting the
pool's timeout at most), none just after it failed, and the others are refused at once with
``DatabaseUnavailableError``, which the library does not retry: a request waits about the
bound once. Each process says once, at WARNING, that
the database is lost, and once that it is back; the pool's own warning at each reconnection
attempt, which would say the same every second, is not logged.

A connection the server ended is not a lost database. A backend ended while its connection
idled in the pool (an administrator's ``pg_terminate_backend``, ``idle_session_timeout``) has
said so on the socket: the connection is closed as it is handed out (the pool replaces it) and
the next is taken. A backend ended during a statement fails that statement; if a new
connection then answers, only the pool's dead connections are swept out and the statement's
error goes up (the library's recorders try it again on another connection): no outage.
"""

from __future__ import annotations

import logging
import math
import select
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from functools import partial
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import PostgresDatastore
from psycopg_pool import ConnectionPool, PoolTimeout

log = logging.getLogger("ledger.database")
CONNECTION_STATES = ("08", "28", "3D", "57")
"""SQLSTATE classes of a connection refused or lost: connection exception, authorization (user
or password), no such database, the server shutting down or starting."""
QUERY_CANCELED = "57014"
"""In class 57 but not an outage: one statement cancelled (a statement timeout, an operator's
``pg_cancel_backend``); the database is there."""
RECONNECT_SECONDS = 10.0
"""How long the pool retries (with growing pauses) to replace a connection before it gives
up and makes a new one when next asked: after a long outage, a connection comes back within
seconds of PostgreSQL, not after the pool's next pause of minutes."""

SETTLE_SECONDS = 1.0
"""An outage lasts at least this long: as PostgreSQL goes down, a connection whose server
process has not ended yet still answers for some milliseconds, and the outage would be said
over and begun again."""

PROBE_PAUSE_SECONDS = 0.5
"""After the database failed someone, it is not tried again for this long: callers that take
turns behind a lock of their own (the views' catching up) would otherwise each wait the whole
bound, one after another."""


ANSWER_SECONDS = 1.0
"""After a new connection was tried, callers whose backend ended within this long take its
answer rather than each trying one."""


class DatabaseUnavailableError(Exception):
    """The database gave no connection within LEDGER_DATABASE_TIMEOUT_SECONDS (not a bug:
    answered 503, to be retried)."""


class CommitUnknownError(DatabaseUnavailableError):
    """The connection was lost while a save's statement ran: whether it committed is not
    known, so it is not tried again here (it would be refused as a lost race if it had).
    Answered 503: a command sent again with its Idempotency-Key is not made twice."""


OUTAGE_ERRORS: tuple[type[Exception], ...] = (
    DatabaseUnavailableError,
    OperationalError,
    InterfaceError,
)
"""The errors a lost database raises through the library (its wrappers of psycopg's): each
is answered 503 when ``unreachable`` says so, and is an error of ours otherwise."""


def causes(error: BaseException) -> Iterator[BaseException]:
    """``error`` and the errors it was raised from (its cause, else its context), in turn."""
    seen: BaseException | None = error
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def unreachable(error: BaseException) -> bool:
    """Whether ``error``, or one it was raised from, is the database out of reach (refused,
    lost, timed out) rather than a fault of a statement."""
    return any(_lost(seen) for seen in causes(error))


def _lost(error: BaseException) -> bool:
    if isinstance(error, DatabaseUnavailableError | PoolTimeout | psycopg.InterfaceError):
        return True
    return isinstance(error, psycopg.OperationalError) and (
        error.sqlstate is None
        or (error.sqlstate.startswith(CONNECTION_STATES) and error.sqlstate != QUERY_CANCELED)
    )


READS_WHILE_IDLE = 3
"""How many times ``ended_while_idle`` reads what an idle connection was sent."""

ENDED_STATES = ("57P01", "57P05")
"""SQLSTATEs of a server that ended one connection's backend (an administrator's
``pg_terminate_backend`` or a shutdown; ``idle_session_timeout``): an outage only if a new
connection is refused too."""


def backend_ended(error: BaseException) -> bool:
    """Whether ``error``, or one it was raised from, is the server saying it ended this
    connection's backend (``ENDED_STATES``)."""
    return any(
        isinstance(seen, psycopg.Error) and seen.sqlstate in ENDED_STATES for seen in causes(error)
    )


def ended_while_idle(connection: Any) -> bool:
    """Whether the server ended ``connection``'s backend while the connection idled in the
    pool. An idle connection is sent nothing (the ledger listens for no notifications), so a
    socket with something to read is a backend that said it ended (its error, then the end of
    the stream) or went: what is there is read, and a connection libpq still finds sound once
    nothing more is (something the server sent of its own, rare) is kept."""
    if connection.closed:
        return True
    pgconn = connection.pgconn
    poller = select.poll()
    poller.register(pgconn.socket, select.POLLIN)
    for _ in range(READS_WHILE_IDLE):
        if not poller.poll(0):
            return False  # the common case, at once: one system call
        try:
            pgconn.consume_input()  # a backend's last words; then the end of the stream raises
        except psycopg.OperationalError:
            return True
        if pgconn.status != psycopg.pq.ConnStatus.OK:
            return True
    return True  # it keeps talking unasked: not a connection to hand out


TRANSIENT_STATES = ("40001", "40P01")
"""SQLSTATEs of a statement the database stopped to let another transaction go on (a
serialization failure, a deadlock): nothing was written, and the same request sent again
succeeds."""


def transient(error: BaseException) -> bool:
    """Whether ``error``, or one it was raised from, is PostgreSQL stopping this transaction
    for another one's sake (``TRANSIENT_STATES``): answered 503 ``database-busy``, to be
    retried, not a fault of ours."""
    return any(
        isinstance(seen, psycopg.Error) and seen.sqlstate in TRANSIENT_STATES
        for seen in causes(error)
    )


class Outage:
    """Whether this process has lost the database: said once when lost, once when back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.probing = threading.Lock()
        """Held by the one caller that tries the database while it is lost."""
        self.since: float | None = None
        """When this process saw the database lost (``time.monotonic``); None while reached."""
        self.failed_at = 0.0
        """When the database last failed a caller (``time.monotonic``)."""
        self.pools: list[ConnectionPool[Any]] = []
        """The pools of the guarded datastores: emptied of their dead connections when the
        database is lost and again when it is back (one may have answered a check as the
        server went down), so that none is found dead after."""
        self._asking = threading.Lock()
        """Held by the one caller asking a new connection whether the database answers."""
        self.answer = (-math.inf, False)
        """When a new connection was last tried after a backend ended (``time.monotonic``),
        and whether the database answered it."""

    def lost(self, error: BaseException) -> None:
        self.failed_at = time.monotonic()
        with self._lock:
            if self.since is not None:
                return
            self.since = time.monotonic()
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "no answer"
        log.warning(
            "the database is unreachable (%s): requests are answered 503 until it is back",
            first_line,
        )
        self.check_pools()

    def answers(self, fresh: Callable[[], None]) -> bool:
        """Whether the database answers ``fresh`` (a new connection's statement) after a
        connection was lost: then only that connection was, and the caller that asked
        sweeps the pools' dead connections out. One caller asks at a time; those behind it
        take its answer (yes or no) if it came within ANSWER_SECONDS: ending every backend
        fails many statements at once, and a database gone must not be asked once per
        caller, in turn."""
        with self._asking:
            asked_at, answered = self.answer
            if time.monotonic() - asked_at < ANSWER_SECONDS:
                return answered
            try:
                fresh()
                answered = True
            except Exception as error:  # any refusal: not there for a new connection either
                log.info("a new connection was refused too: %s", error)
                answered = False
            self.answer = (time.monotonic(), answered)
        if answered:
            self.check_pools()
        return answered

    def check_pools(self) -> None:
        """Replace the pools' dead connections (each idle one is tried)."""
        for pool in self.pools:
            with suppress(Exception):
                pool.check()

    def reached(self) -> None:
        """The database answered; the outage is over once it is older than SETTLE_SECONDS."""
        if self.since is None:  # the common case, without the lock
            return
        with self._lock:
            since = self.since
            if since is None or time.monotonic() - since < SETTLE_SECONDS:
                return
            self.since = None
        log.warning("the database is reachable again, after %.1f s", time.monotonic() - since)


Connect = Callable[[], AbstractContextManager[Any]]


def guard_all(recorders: Iterable[object], timeout: float) -> Outage | None:
    """Guard the PostgreSQL datastores of ``recorders`` with one ``Outage`` (one process's
    view of the database); None on SQLite, a file that is never out of reach."""
    stores = [getattr(r, "datastore", None) for r in recorders]
    postgres = [s for s in stores if isinstance(s, PostgresDatastore)]
    if not postgres:
        return None
    outage = Outage()
    for datastore in postgres:
        guard(datastore, outage, timeout)
    return outage


def guard(datastore: PostgresDatastore, outage: Outage, timeout: float) -> None:
    """Bound ``datastore``'s waits by ``timeout`` seconds and tell ``outage`` what it sees.

    The pool already waits LEDGER_DATABASE_TIMEOUT_SECONDS for a connection (its
    ``POSTGRES_CONNECT_TIMEOUT``); each new connection gets as long to connect, and a
    connection whose data goes unacknowledged that long (a host gone silent) is broken.
    """
    pool = datastore.pool
    assert isinstance(pool.kwargs, dict)
    pool.kwargs.update(
        connect_timeout=max(2, round(timeout)),  # libpq: whole seconds, at least 2
        tcp_user_timeout=round(timeout * 1000),
        keepalives=1,
        keepalives_idle=max(1, round(timeout)),
        keepalives_interval=1,
        keepalives_count=3,
    )
    pool.reconnect_timeout = RECONNECT_SECONDS
    outage.pools.append(pool)
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)  # Outage says it once
    # The one door to the pool: the library's recorders and ours all come through it.
    fresh = partial(_new_connection_answers, pool)
    hand_out_live(datastore, partial(_ended_while_idle, outage, fresh))
    datastore.get_connection = _guarded(datastore.get_connection, outage, fresh, timeout)  # type: ignore[method-assign,assignment]


def _ended_while_idle(outage: Outage, fresh: Callable[[], None]) -> None:
    """A connection the server ended while it idled was handed out (and dropped): if a new
    connection is refused too, the database is lost, said at once rather than after the
    pool's wait for a connection it cannot make (a server shutting down ends them all).
    While the database is known lost, the one caller trying it just takes the next."""
    if outage.since is not None or outage.answers(fresh):
        return
    error = DatabaseUnavailableError("the server ended the connections and refuses new ones")
    outage.lost(error)
    raise error


def hand_out_live(datastore: PostgresDatastore, ended: Callable[[], None] = lambda: None) -> None:
    """Make ``datastore`` hand out only connections whose backend did not end while they
    idled (``ended_while_idle``), calling ``ended`` for each one that did (it may raise)."""
    attempts = (datastore.pool.max_size or datastore.pool.min_size) + 1
    datastore.get_connection = _live(datastore.get_connection, attempts, ended)  # type: ignore[method-assign,assignment]


def _live(connect: Connect, attempts: int, ended: Callable[[], None]) -> Connect:
    """``connect``, handing out a connection whose backend did not end while it idled: one
    that did is closed (the pool replaces it), ``ended`` is told, and the next is taken, up
    to ``attempts``."""

    @contextmanager
    def get_connection() -> Iterator[Any]:
        for _ in range(attempts - 1):
            with connect() as connection:
                if not ended_while_idle(connection):
                    yield connection
                    return
                connection.close()
                ended()
        with connect() as connection:  # the last: its statement says what is wrong
            yield connection

    return get_connection


def _new_connection_answers(pool: ConnectionPool[Any]) -> None:
    """A statement on a new connection, made as ``pool`` makes its own (its password
    callback, its settings) but kept out of it; raises if the database refuses it."""
    connection = pool._connect()
    try:
        connection.execute("SELECT 1")
    finally:
        connection.close()


def _guarded(connect: Connect, outage: Outage, fresh: Callable[[], None], bound: float) -> Connect:
    @contextmanager
    def get_connection() -> Iterator[Any]:
        if outage.since is not None:
            _probe(connect, outage)
        handed_at = time.monotonic()
        try:
            with connect() as connection:
                handed_at = time.monotonic()
                yield connection
        except (OperationalError, InterfaceError) as error:
            if not unreachable(error):
                raise
            # A connection lost sooner than a timeout (the bound) ends one: the server ended
            # its backend, or went; a new connection tells which.
            alone = backend_ended(error) or time.monotonic() - handed_at < bound
            if outage.since is None and alone and outage.answers(fresh):
                raise  # that connection alone: tried again on another by the library
            outage.lost(error)
            raise

    return get_connection


def _probe(connect: Connect, outage: Outage) -> None:
    """While the database is lost, one caller at a time tries it (waiting the bound at most),
    none within PROBE_PAUSE_SECONDS of its last failure; the others are refused at once."""
    paused = time.monotonic() - outage.failed_at < PROBE_PAUSE_SECONDS
    if paused or not outage.probing.acquire(blocking=False):
        raise DatabaseUnavailableError("the database is unreachable")
    try:
        with connect() as connection:
            connection.execute("SELECT 1")
        outage.check_pools()  # before the others come back to them
    except (OperationalError, InterfaceError):
        outage.failed_at = time.monotonic()
        raise
    finally:
        outage.probing.release()
    outage.reached()


def retry_after(timeout: float) -> str:
    """The ``Retry-After`` of a 503 while the database is lost: the bound, in whole seconds."""
    return str(max(1, math.ceil(timeout)))
