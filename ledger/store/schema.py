"""Creating the schema safely when several processes start at once on a fresh database.

``CREATE TABLE IF NOT EXISTS`` is not race-free on PostgreSQL (two sessions can both try to
create the table's type: ``duplicate key value violates unique constraint
"pg_type_typname_nsp_index"``), so every process creates the library's tables and ours under
one session-level advisory lock; on SQLite the file's write lock already serialises them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg

SCHEMA_VERSION = 3
"""The version of the views' tables; recorded in ``view_state`` so that a later release can
tell which tables it finds and change them safely. 2: the claims and the known customers
hold the customer's name (``ledger.projections.store.ADDED_VIEW_COLUMNS``). 3: the outbox holds
the partner contacts' notifications too (its ``detail``)."""
LOCK = "claim-ledger:schema"

_CREATED = re.compile(r'CREATE (?:UNIQUE )?(?:TABLE|INDEX) IF NOT EXISTS (?:"?\w+"?\.)?"?(\w+)"?')
"""The name a ``CREATE ... IF NOT EXISTS`` makes (schema and quotes aside)."""


def missing(
    cursor: Any, statements: Sequence[str], is_postgres: bool, schema: str | None = None
) -> list[str]:
    """The ``CREATE ... IF NOT EXISTS`` statements whose table or index is not there yet
    (in ``schema``, else the current one), and every other statement.

    Those that exist are not run again: on PostgreSQL even a ``CREATE INDEX IF NOT EXISTS``
    whose index exists takes a SHARE lock on its table before it looks, so a process starting
    waited for every transaction writing that table, and every write after it waited in turn
    (the events' saves; the views' pages, which take row locks in another order, could even
    deadlock with it)."""
    if is_postgres:
        cursor.execute(
            "SELECT c.relname AS name FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = COALESCE(%s::text, current_schema())",
            (schema,),
        )
    else:
        cursor.execute("SELECT name FROM sqlite_master")
    present = {str(row["name"]) for row in cursor.fetchall()}
    named = [(statement, _CREATED.match(statement)) for statement in statements]
    return [s for s, name in named if name is None or name.group(1) not in present]


def placeholders(sql: str, postgres: bool) -> str:
    """Our SQL is written with ``?`` parameters (SQLite's); psycopg takes ``%s``, and a
    literal ``%`` (as in ``LIKE``) must be doubled for it."""
    return sql.replace("%", "%%").replace("?", "%s") if postgres else sql


class SchemaLocks:
    """The schema locks this process takes, one re-entrant lock per database: a thread that
    holds one may take it again inside (the ledger's tables, then its keys'), and only its
    outermost hold takes the PostgreSQL lock; other threads wait for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.RLock] = {}
        self._depth: dict[str, int] = {}

    @contextmanager
    def hold(self, env: Mapping[str, str]) -> Iterator[None]:
        """Hold the schema lock (PostgreSQL) while the tables are created."""
        if env.get("PERSISTENCE_MODULE") != "eventsourcing.postgres":
            yield
            return
        host, port, name = (env.get(f"POSTGRES_{part}") for part in ("HOST", "PORT", "DBNAME"))
        database = f"{host}:{port}/{name}"
        with self._guard:
            lock = self._locks.setdefault(database, threading.RLock())
        with lock:  # the depth is this thread's while it holds the lock
            depth = self._depth.get(database, 0)
            self._depth[database] = depth + 1
            try:
                if depth:  # taken again inside itself: already held
                    yield
                else:
                    with _locked(env):
                        yield
            finally:
                self._depth[database] = depth


_locks = SchemaLocks()


def schema_lock(env: Mapping[str, str]) -> AbstractContextManager[None]:
    """Hold the schema lock (PostgreSQL) while the tables are created; taken again inside
    itself (the ledger's tables, then its keys'), it is already held."""
    return _locks.hold(env)


@contextmanager
def _locked(env: Mapping[str, str]) -> Iterator[None]:
    with psycopg.connect(
        host=env.get("POSTGRES_HOST", "localhost"),
        port=int(env.get("POSTGRES_PORT", "5432")),
        dbname=env["POSTGRES_DBNAME"],
        user=env.get("POSTGRES_USER", ""),
        password=env.get("POSTGRES_PASSWORD", ""),
        autocommit=True,
    ) as connection:
        connection.execute("SELECT pg_advisory_lock(hashtext(%s))", (LOCK,))
        try:
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(hashtext(%s))", (LOCK,))
