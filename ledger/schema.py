"""Creating the schema safely when several processes start at once on a fresh database.

``CREATE TABLE IF NOT EXISTS`` is not race-free on PostgreSQL (two sessions can both try to
create the table's type: ``duplicate key value violates unique constraint
"pg_type_typname_nsp_index"``), so every process creates the library's tables and ours under
one session-level advisory lock; on SQLite the file's write lock already serialises them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

import psycopg

SCHEMA_VERSION = 1
"""The version of the views' tables; recorded in ``view_state`` so that a later release can
tell which tables it finds and change them safely."""
LOCK = "claim-ledger:schema"


def placeholders(sql: str, postgres: bool) -> str:
    """Our SQL is written with ``?`` parameters (SQLite's); psycopg takes ``%s``, and a
    literal ``%`` (as in ``LIKE``) must be doubled for it."""
    return sql.replace("%", "%%").replace("?", "%s") if postgres else sql


_held: ContextVar[frozenset[str]] = ContextVar("schema_locks_held", default=frozenset())


@contextmanager
def schema_lock(env: Mapping[str, str]) -> Iterator[None]:
    """Hold the schema lock (PostgreSQL) while the tables are created; taken again inside
    itself (the ledger's tables, then its keys'), it is already held."""
    database = f"{env.get('POSTGRES_HOST')}:{env.get('POSTGRES_PORT')}/{env.get('POSTGRES_DBNAME')}"
    if env.get("PERSISTENCE_MODULE") != "eventsourcing.postgres" or database in _held.get():
        yield
        return
    token = _held.set(_held.get() | {database})
    try:
        with _locked(env):
            yield
    finally:
        _held.reset(token)


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
