"""The PostgreSQL pools hand out the idle connection returned last (``ledger.store.pool``).

A writer that runs one statement at a time keeps one warm backend instead of going round all
of the pool's; the pool's waiting callers, checks and size are the library's, unchanged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from eventsourcing.postgres import PostgresDatastore
from psycopg_pool import ConnectionPool

from ledger.projections.store import ViewStore
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from ledger.store.log import ConcurrentPostgresRecorder, command_cursor
from ledger.store.pool import MostRecentFirst, reuse_warm_connections


@pytest.fixture
def pg_ledger(pg_settings: Settings) -> Iterator[Ledger]:
    ledger = open_ledger(pg_settings)
    yield ledger
    ledger.close()


def datastore_of(ledger: Ledger) -> PostgresDatastore:
    recorder = ledger.recorder
    assert isinstance(recorder, ConcurrentPostgresRecorder)
    return recorder.datastore


def backend(datastore: PostgresDatastore) -> int:
    """The server process of the connection the pool hands out now."""
    with datastore.get_connection() as connection:
        row: Any = connection.execute("SELECT pg_backend_pid() AS pid").fetchone()
        return int(row["pid"])


def test_one_writer_is_handed_the_same_backend_each_time(pg_ledger: Ledger) -> None:
    datastore = datastore_of(pg_ledger)
    datastore.pool.wait()  # every connection of the pool open: a first-in-first-out pool
    assert len({backend(datastore) for _ in range(12)}) == 1  # would go round all of them


def test_the_one_returned_last_is_handed_out_first(pg_ledger: Ledger) -> None:
    datastore = datastore_of(pg_ledger)
    pool = datastore.pool
    pool.wait()
    first, second = pool.getconn(), pool.getconn()
    pool.putconn(second)
    pool.putconn(first)
    again = pool.getconn()
    try:
        assert again is first
    finally:
        pool.putconn(again)


def test_the_view_store_pool_too(pg_settings: Settings) -> None:
    store = ViewStore.open(pg_settings.eventsourcing_env())
    try:
        datastore = store.recorder.datastore
        assert isinstance(datastore, PostgresDatastore)
        datastore.pool.wait()
        assert len({backend(datastore) for _ in range(12)}) == 1
    finally:
        store.close()


def test_a_caller_waiting_for_a_connection_still_gets_one(postgres_url: str) -> None:
    """With every connection taken, a caller waits, and is handed the first one returned."""
    with ConnectionPool(postgres_url, min_size=1, max_size=1, open=True) as pool:
        reuse_warm_connections(pool)
        taken = pool.getconn()
        handed: list[Any] = []
        waiter = threading.Thread(target=lambda: handed.append(pool.getconn(timeout=10)))
        waiter.start()
        deadline = time.monotonic() + 10
        while not pool.get_stats().get("requests_waiting") and time.monotonic() < deadline:
            time.sleep(0.01)
        pool.putconn(taken)
        waiter.join(10)
        assert handed == [taken]
        pool.putconn(handed[0])
        with pool.connection() as connection:
            assert connection.execute("SELECT 1").fetchone() == (1,)


def test_made_most_recent_first_once(pg_ledger: Ledger) -> None:
    datastore = datastore_of(pg_ledger)
    idle = datastore.pool._pool
    assert isinstance(idle, MostRecentFirst)
    reuse_warm_connections(datastore.pool)  # a second time changes nothing
    assert datastore.pool._pool is idle


def test_a_command_s_statements_share_one_cursor_per_connection(pg_ledger: Ledger) -> None:
    """Made once per connection (psycopg's cursors are costly to make), rows as tuples; a
    failed statement leaves it usable, and one closed is made again."""
    datastore = datastore_of(pg_ledger)
    with datastore.get_connection() as connection:
        cursor = command_cursor(connection)
        assert command_cursor(connection) is cursor
        with pytest.raises(psycopg.errors.DivisionByZero):
            cursor.execute("SELECT 1 / 0")
        cursor.execute("SELECT 1 AS one, 2 AS two")
        assert cursor.fetchall() == [(1, 2)]
        cursor.close()
        again = command_cursor(connection)
        assert again is not cursor and not again.closed
    with datastore.get_connection() as other:
        assert other is connection  # the one returned last
        assert command_cursor(other) is again


def test_a_process_starts_while_events_are_being_written(pg_settings: Settings) -> None:
    """Opening the ledger again (another process starting) while a transaction is writing
    events: the indexes that exist are not created again (``CREATE INDEX IF NOT EXISTS``
    would wait for that transaction, and every save behind it would wait too)."""
    open_ledger(pg_settings).close()  # the tables and their indexes
    with psycopg.connect(pg_settings.database_url) as writing:
        writing.execute("LOCK TABLE ledger_events IN ROW EXCLUSIVE MODE")  # as an INSERT
        opened: list[Ledger] = []
        starting = threading.Thread(target=lambda: opened.append(open_ledger(pg_settings)))
        starting.start()
        starting.join(30)
        assert not starting.is_alive(), "the second ledger waited for the writing transaction"
        writing.rollback()
    opened[0].close()
