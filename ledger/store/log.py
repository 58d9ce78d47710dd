"""The event log as its followers read it: in commit order, never skipping an event.

On PostgreSQL, writers append concurrently (no table lock: commits of different claims
proceed in parallel and share fsyncs). Notification ids are then handed out in insert order,
not commit order: a transaction may commit id 11 while id 10 is still uncommitted, and a
follower reading by id would pass over 10 for ever. So each row records the transaction that
wrote it (``tx_id xid8 DEFAULT pg_current_xact_id()``), and followers read in (transaction,
id) order only what is older than the oldest transaction still running
(``pg_snapshot_xmin(pg_current_snapshot())``): every such transaction has committed or
aborted, and any later commit has a higher transaction id. A follower's position is the last
transaction it applied whole; a page never ends inside a transaction.

On SQLite (one writer at a time) and in memory, commit order is id order: the position is the
notification id, as the library has it.

Each row also carries its event's hash, chained over its aggregate's previous event
(``ledger.store.chain``, docs/audit.md); followers that ask (``hashes=True``) read it with the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    ApplicationRecorder,
    InterfaceError,
    Notification,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from ledger.store.chain import (
    DIGESTS_DDL,
    DIGESTS_TABLE,
    MERKLE_DDLS,
    CommittedHashes,
    HashedSQLiteRecorder,
    UnwrittenKeysWriter,
    chained_hashes,
    previous_versions,
)
from ledger.store.outage import CommitUnknownError, unreachable
from ledger.store.pool import reuse_warm_connections
from ledger.store.schema import missing

__all__ = [
    "ConcurrentPostgresRecorder",
    "EventLog",
    "LogPage",
    "Written",
    "command_cursor",
    "event_log",
    "stored_event",
]


STORED_COLUMNS = ("originator_id", "originator_version", "topic", "state")
MAX_VALUES_ROWS = 32
"""A save of more events is inserted from arrays (one statement, whatever the number)."""
KEY_COLUMNS = ("key_id", "lookup", "secret", "created_at", "erasures")
KEYED_INSERT_HEAD = (
    "WITH made AS (INSERT INTO contact_keys (key_id, lookup, secret, created_at) "
    "SELECT key_id, lookup, secret, created_at FROM (VALUES {keys}) "
    "AS k(key_id, lookup, secret, created_at, erasures) "
    "WHERE k.erasures = (SELECT COUNT(*) FROM contact_erasures) "
    "ON CONFLICT (lookup) DO NOTHING RETURNING key_id) "
)
"""The new contacts' keys (``ledger.store.personal.UnwrittenKey``), each written unless the
contact has one already or an erasure came since it was made."""
KEYED_INSERT_CHECK = (
    "WHERE ledger_keys_written((SELECT COUNT(*) FROM made) + "
    "(SELECT COUNT(*) FROM contact_keys WHERE key_id = ANY(%s::text[])), %s)"
)
"""Every key written now, or by an earlier save of this process (the statement's snapshot
sees those, not the ones it writes): else the statement fails whole."""
KEYS_REFUSED = "LK001"
"""The SQLSTATE ``ledger_keys_written`` raises: a new contact's key was not written with the
save's events (another process stored one for the contact, or an erasure came)."""
KEYS_WRITTEN_DDL = (
    "CREATE OR REPLACE FUNCTION ledger_keys_written(written_keys bigint, new_keys bigint) "
    "RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN IF written_keys <> new_keys THEN RAISE "
    "EXCEPTION "
    "'a contact''s key was made elsewhere, or erased meanwhile' USING ERRCODE = '"
    + KEYS_REFUSED
    + "'; END IF; RETURN true; END $$"
)
"""Fails the statement (the events and the keys with them) unless every new key was written."""


def _stored(event: StoredEvent) -> tuple[Any, ...]:
    return (event.originator_id, event.originator_version, event.topic, event.state)


def _read_row(row: tuple[Any, ...]) -> StoredEvent:
    """A row of a command's read (originator, version, topic, state), as the library's
    ``StoredEvent``: the reads of every command take their rows as tuples, not dicts."""
    return StoredEvent(
        originator_id=row[0], originator_version=row[1], topic=row[2], state=bytes(row[3])
    )


_CURSOR = "_ledger_command_cursor"
"""The attribute of a pooled connection that holds its ``command_cursor``."""


def command_cursor(connection: Any) -> psycopg.Cursor[tuple[Any, ...]]:
    """The connection's cursor for a command's statements (rows as tuples), made once per
    connection and kept on it: psycopg gives each new cursor adapters of its own, which cost
    about a third of the Python a statement takes. A pool hands a connection to one thread
    at a time."""
    cursor: psycopg.Cursor[tuple[Any, ...]] | None = getattr(connection, _CURSOR, None)
    if cursor is None or cursor.closed:
        cursor = connection.cursor(row_factory=tuple_row)
        setattr(connection, _CURSOR, cursor)
    return cursor


def stored_event(row: Any) -> StoredEvent:
    """A row of the events table (its originator, version, topic and state columns) as the
    library's ``StoredEvent``."""
    return StoredEvent(
        originator_id=row["originator_id"],
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=bytes(row["state"]),
    )


@dataclass
class Written:
    """Handed to a save (``save(..., written=Written())``): the PostgreSQL recorder notes in
    it the transaction that committed the save's events, the log position they reached
    (``EventLog.position_written``: the same client's reads wait for it)."""

    tx: int | None = None


@dataclass(frozen=True)
class LogPage:
    notifications: Sequence[Notification]
    positions: Sequence[int]
    """Each notification's position: a follower that applied it and everything before it in
    its transaction is there (on PostgreSQL, its transaction's; else its id)."""
    position: int
    """Where a follower is once it applied the page."""
    hashes: Sequence[bytes | None] = ()
    """Each notification's stored hash (None if it has none), when asked for."""


class EventInserts:
    """The statements that insert a save's events, each row with its hash (they return each
    row's id and transaction), and with them the new contacts' keys they are sealed under.
    Their text is made once per number of rows (and of keys): psycopg dumps scalars faster
    than the arrays a save of many events still uses."""

    RETURNING = " RETURNING notification_id, tx_id::text::bigint AS tx"

    def __init__(self, table: Composed, id_type: str) -> None:
        self._head = (
            SQL("INSERT INTO {table} (originator_id, originator_version, topic, state, hash) ")
            .format(table=table)
            .as_string()
        )
        arrays = SQL(
            "SELECT * FROM unnest({ids}, %s::bigint[], %s::text[], %s::bytea[], %s::bytea[])"
        ).format(ids=SQL("%s::{0}[]").format(Identifier(id_type)))
        self._arrays = self._head + arrays.as_string() + self.RETURNING
        self._plain: dict[int, str] = {}
        self._keyed: dict[tuple[int, int], str] = {}

    def plain(self, events: Sequence[Any], hashes: list[bytes]) -> tuple[str, list[Any]]:
        """The insert of the events with their hashes, and its parameters: the rows as values,
        or as arrays when there are many."""
        n = len(events)
        if n > MAX_VALUES_ROWS:
            columns = [[getattr(e, c) for e in events] for c in STORED_COLUMNS]
            return self._arrays, [*columns, hashes]
        if (statement := self._plain.get(n)) is None:
            rows = ", ".join(["(%s, %s, %s, %s, %s)"] * n)
            statement = self._plain[n] = self._head + "VALUES " + rows + self.RETURNING
        return statement, _rows(events, hashes)

    def keyed(
        self, events: Sequence[Any], hashes: list[bytes], keys: Sequence[Any]
    ) -> tuple[str, list[Any]]:
        """The insert of the events with the new contacts' keys they are sealed under, and
        its parameters: one statement, so neither is ever stored without the other."""
        keys = sorted(keys, key=lambda key: str(key.lookup))  # one lock order: no deadlock
        n, k = len(events), len(keys)
        if (statement := self._keyed.get((n, k))) is None:
            statement = (
                KEYED_INSERT_HEAD.format(keys=", ".join(["(%s, %s, %s, %s, %s)"] * k))
                + self._head
                + "SELECT * FROM (VALUES "
                + ", ".join(["(%s, %s, %s, %s, %s)"] * n)
                + ") AS e "
                + KEYED_INSERT_CHECK
                + self.RETURNING
            )
            if n <= MAX_VALUES_ROWS:  # a save of many events is rare: its text not kept
                self._keyed[n, k] = statement
        key_values = [getattr(key, c) for key in keys for c in KEY_COLUMNS]
        return statement, [*key_values, *_rows(events, hashes), [key.key_id for key in keys], k]


def _rows(events: Sequence[Any], hashes: list[bytes]) -> list[Any]:
    """The events' columns and hashes, row after row."""
    return [v for e, h in zip(events, hashes, strict=True) for v in (*_stored(e), h)]


def statements_to_run(curs: Any, statements: Sequence[Composed], schema: str) -> list[str]:
    """Of a recorder's create statements, those to run: not its composite types (created
    before, each alone) and not a table or index that exists already (``missing``: an
    index created "again" would wait for every save in progress, and stall those after it)."""
    texts = [statement.as_string() for statement in statements]
    return missing(curs, [text for text in texts if "CREATE TYPE" not in text], True, schema)


class ConcurrentPostgresRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder without its table lock, each row with its
    transaction id and its chained hash, and the reads of followers in commit order."""

    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        if self.datastore.enable_db_functions:  # its insert function writes no hash
            raise ValueError("POSTGRES_ENABLE_DB_FUNCTIONS is not supported: events are hashed")
        reuse_warm_connections(self.datastore.pool)
        self.committed = CommittedHashes()
        self._table = self._qualified(self.events_table_name)
        self._create_statements()
        self.lock_table_statements = []  # appends of different claims commit in parallel
        self._write_statements()
        self._read_statements()
        self._command_statements()

    def _command_statements(self) -> None:
        """A command's read of an aggregate's whole stream, and of several at once. The
        statements of every command are kept as text, composed once: psycopg renders a
        composed statement again at each execution, and caches the parsing of text."""
        columns = "SELECT originator_id, originator_version, topic, state FROM {table} "
        self._stream = (
            SQL(columns + "WHERE originator_id = %s ORDER BY originator_version")
            .format(table=self._table)
            .as_string()
        )
        self._streams = (
            SQL(
                columns + "WHERE originator_id = ANY(%s::{id_type}[]) "
                "ORDER BY originator_id, originator_version"
            )
            .format(table=self._table, id_type=Identifier(self.datastore.originator_id_type))
            .as_string()
        )

    def _create_table(self, curs: Any) -> None:
        """The library's statements, less the indexes that exist already
        (``statements_to_run``)."""
        for statement in statements_to_run(curs, self.sql_create_statements, self.datastore.schema):
            curs.execute(statement, prepare=False)

    def _qualified(self, name: str) -> Composed:
        return SQL("{0}.{1}").format(Identifier(self.datastore.schema), Identifier(name))

    def _create_statements(self) -> None:
        """The events table with each row's transaction id and hash, its index in commit
        order, and the log digests' table."""
        table = self._table
        self.sql_create_statements[self.create_table_statement_index] = SQL(
            "CREATE TABLE IF NOT EXISTS {table} ("
            "originator_id {id_type} NOT NULL, "
            "originator_version bigint NOT NULL, "
            "topic text, "
            "state bytea, "
            "notification_id bigserial, "
            "tx_id xid8 NOT NULL DEFAULT pg_current_xact_id(), "
            "hash bytea, "
            "PRIMARY KEY (originator_id, originator_version))"
        ).format(table=table, id_type=Identifier(self.datastore.originator_id_type))
        self.sql_create_statements.append(
            SQL("CREATE INDEX IF NOT EXISTS {index} ON {table} (tx_id, notification_id)").format(
                index=Identifier(f"{self.events_table_name}_tx_idx"), table=table
            )
        )
        self.sql_create_statements.append(
            SQL(DIGESTS_DDL.format(table="{table}", blob="bytea")).format(
                table=self._qualified(DIGESTS_TABLE)
            )
        )
        prefix = SQL("{0}.").format(Identifier(self.datastore.schema))
        for ddl in MERKLE_DDLS:
            statement = SQL(ddl.format(prefix="{prefix}", blob="bytea"))
            self.sql_create_statements.append(statement.format(prefix=prefix))

    def _write_statements(self) -> None:
        """The inserts of a save's events, and the read of the hashes a save chains on."""
        self.inserts = EventInserts(self._table, self.datastore.originator_id_type)
        id_array = SQL("%s::{0}[]").format(Identifier(self.datastore.originator_id_type))
        self._previous = (
            SQL(
                "SELECT e.originator_id, e.hash FROM {table} AS e "
                "JOIN unnest({ids}, %s::bigint[]) AS p(id, version) "
                "ON e.originator_id = p.id AND e.originator_version = p.version"
            )
            .format(table=self._table, ids=id_array)
            .as_string()
        )

    def _read_statements(self) -> None:
        """The followers' reads, in commit order, up to the oldest transaction still open."""
        table = self._table
        horizon = "tx_id < pg_snapshot_xmin(pg_current_snapshot())"
        self._page = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state, "
            "tx_id::text::bigint AS tx {hash} FROM {table} "
            "WHERE tx_id > (%s::bigint)::text::xid8 AND " + horizon + " {topics} "
            "ORDER BY tx_id, notification_id LIMIT %s"
        )
        self._rest_of_tx = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state, "
            "tx_id::text::bigint AS tx {hash} FROM {table} "
            "WHERE tx_id = (%s::bigint)::text::xid8 AND notification_id > %s {topics} "
            "ORDER BY notification_id"
        )
        self._head = SQL(
            "SELECT COALESCE(MAX(tx_id)::text::bigint, 0) AS head FROM {table} WHERE " + horizon
        ).format(table=table)
        self._last = SQL(
            "SELECT COALESCE(MAX(tx_id)::text::bigint, 0) AS last FROM {table}"
        ).format(table=table)
        self._behind = SQL(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM {table} "
            "WHERE tx_id > (%s::bigint)::text::xid8 LIMIT 1000000) AS later"
        ).format(table=table)
        self._tx_of = SQL(
            "SELECT tx_id::text::bigint AS tx FROM {table} WHERE notification_id = %s"
        ).format(table=table)

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[Any], **kwargs: Any) -> None:
        """Insert the save's events with their chained hashes: one query first for the
        stored hash before each aggregate's first new version (in the same transaction).
        ``curs`` makes tuple rows (``tuple_row``), as every statement of a command here."""
        previous, wanted = self.committed.split(previous_versions(stored_events))
        if wanted:
            keys, versions = zip(*wanted, strict=True)
            curs.execute(self._previous, (list(keys), list(versions)), prepare=True)
            rows = curs.fetchall()  # (originator, hash)
            previous.update({UUID(str(i)): bytes(h) for i, h in rows if h is not None})
        hashes = chained_hashes(stored_events, previous)
        self.committed.stage(kwargs.get("staged_hashes"), stored_events, hashes)
        if new_keys := kwargs.get("keys"):
            curs.execute(*self.inserts.keyed(stored_events, hashes, new_keys), prepare=True)
        else:
            curs.execute(*self.inserts.plain(stored_events, hashes), prepare=True)

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """An aggregate's events; its whole stream (as a command reads it) by a statement
        rendered once, the rest as the library selects them."""
        if gt is not None or lte is not None or desc or limit is not None:
            some: Sequence[StoredEvent] = super().select_events(
                originator_id, gt=gt, lte=lte, desc=desc, limit=limit
            )
            return some
        stream: list[StoredEvent] = self._stream_of(originator_id)
        return stream

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the library's
    def select_streams(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """The whole streams of several aggregates in one round trip (a command's reads)."""
        streams: dict[UUID, list[StoredEvent]] = {}
        with self.datastore.get_connection() as conn:
            curs = command_cursor(conn)
            curs.execute(self._streams, (list(originator_ids),), prepare=True)
            for row in curs.fetchall():
                streams.setdefault(UUID(str(row[0])), []).append(_read_row(row))
        return streams

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the library's
    def _stream_of(self, originator_id: UUID | str) -> list[StoredEvent]:
        with self.datastore.get_connection() as conn:
            curs = command_cursor(conn)
            curs.execute(self._stream, (originator_id,), prepare=True)
            return [_read_row(row) for row in curs.fetchall()]

    unwritten_keys: UnwrittenKeysWriter | None = None
    """The contacts' new keys, written in the statement of the first save sealed under them
    (set by the ledger's key ring)."""

    def insert_events(self, stored_events: Sequence[Any], **kwargs: Any) -> Sequence[int] | None:
        keys = self.unwritten_keys.take() if self.unwritten_keys is not None else []
        with self.committed.committing() as staged:  # a hash is known once its save committed
            ids: Sequence[int] | None = self._insert_in_one_statement(
                stored_events, staged_hashes=staged, keys=keys, **kwargs
            )
        if keys and self.unwritten_keys is not None:
            self.unwritten_keys.written(keys)
        return ids

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the library's
    def _insert_in_one_statement(
        self, stored_events: Sequence[Any], **kwargs: Any
    ) -> Sequence[int] | None:
        """The save's events in one INSERT, its own transaction (the connection autocommits):
        all or none, without the library's BEGIN, pipeline sync and COMMIT, a round trip
        less. The hashes it chains on, when not known here, are read just before: a
        committed event never changes, and a concurrent save of the same versions makes
        this insert fail on the primary key, as in one transaction."""
        if not stored_events:
            return None  # as the library answers
        sent = False
        try:
            with self.datastore.get_connection() as conn:
                sent = True
                curs = command_cursor(conn)
                try:
                    self._insert_stored_events(curs, stored_events, **kwargs)
                except psycopg.Error as error:
                    if error.sqlstate == KEYS_REFUSED and self.unwritten_keys is not None:
                        self.unwritten_keys.refused(kwargs["keys"])  # lost as a race is
                    raise
                return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        except (InterfaceError, OperationalError) as error:
            if sent and unreachable(error):  # lost with the statement: committed or not?
                raise CommitUnknownError("the connection was lost during a save") from error
            raise  # no connection yet: nothing was sent, tried again

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[Any], **kwargs: Any
    ) -> Sequence[int] | None:
        rows = curs.fetchall()  # (notification id, transaction)
        written = kwargs.get("written")
        if isinstance(written, Written) and rows:
            written.tx = rows[-1][1]
        return [row[0] for row in rows]

    def _notify_channel(self, curs: Any) -> None:
        """No NOTIFY: it takes a database-wide lock at commit, which would serialise the
        commits again; followers poll."""

    def _query(self, statement: SQL, topics: Sequence[str], hashes: bool = False) -> Any:
        where = SQL("AND topic = ANY(%s)") if topics else SQL("")
        column = SQL(", hash") if hashes else SQL("")
        return statement.format(table=self._table, topics=where, hash=column)

    def _rows(self, statement: Any, params: Sequence[Any]) -> list[dict[str, Any]]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=True)
            return list(curs.fetchall())

    def page_after(
        self, position: int, limit: int, topics: Sequence[str] = (), *, hashes: bool = False
    ) -> LogPage:
        """Whole transactions after ``position``, in commit order, up to ``limit`` events (or
        one whole transaction if it alone is longer); with their hashes if asked."""
        extra: list[Any] = [list(topics)] if topics else []
        rows = self._rows(self._query(self._page, topics, hashes), [position, *extra, limit + 1])
        if len(rows) > limit:  # one row more tells whether the page ends inside a transaction
            rows, after = rows[:limit], rows[limit]
            last = rows[-1]["tx"]
            if after["tx"] == last:  # it does: leave that transaction to the next page,
                whole = [r for r in rows if r["tx"] != last]
                if not whole:  # unless it is the page's only one: then the rest of it too
                    rest = [last, rows[-1]["notification_id"], *extra]
                    whole = rows + self._rows(self._query(self._rest_of_tx, topics, hashes), rest)
                rows = whole
        if not rows:
            return LogPage((), (), position)
        notifications = [
            Notification(
                id=r["notification_id"],
                originator_id=r["originator_id"],
                originator_version=r["originator_version"],
                topic=r["topic"],
                state=bytes(r["state"]),
            )
            for r in rows
        ]
        stored = [None if r["hash"] is None else bytes(r["hash"]) for r in rows] if hashes else []
        return LogPage(notifications, [r["tx"] for r in rows], rows[-1]["tx"], stored)

    def head(self) -> int:
        """The position of the last transaction a follower may read now."""
        return int(self._rows(self._head, [])[0]["head"])

    def last_written(self) -> int:
        """The position of the last transaction that committed, open ones before it or not."""
        return int(self._rows(self._last, [])[0]["last"])

    def behind(self, position: int) -> int:
        """Events after ``position`` (counted up to a million)."""
        return int(self._rows(self._behind, [position])[0]["n"])

    def position_written(self, notification_id: int, written: Written | None = None) -> int:
        """The position of the save whose last event has this id (noted in ``written``, if
        the save was handed it)."""
        if written is not None and written.tx is not None:
            return written.tx
        rows = self._rows(self._tx_of, [notification_id])
        return int(rows[0]["tx"]) if rows else 0


class EventLog(Protocol):
    """The log of one application's recorder, as followers read it."""

    def page_after(
        self, position: int, limit: int, topics: Sequence[str] = (), *, hashes: bool = False
    ) -> LogPage:
        """The next page of the log after ``position`` (of the ``topics`` only, if given;
        with each event's stored hash if ``hashes``, on a store that keeps them)."""

    def head(self) -> int:
        """The position a follower that read everything readable now would be at."""

    def last_written(self) -> int:
        """The position of the last write that committed."""

    def behind(self, position: int) -> int:
        """How many events a follower at ``position`` has yet to read."""

    def position_written(self, notification_id: int, written: Written | None = None) -> int:
        """The position of the save whose last event has this id (noted in ``written``, if
        the save was handed it)."""


class IdOrderLog:
    """The log of a recorder whose commit order is its id order (SQLite, memory): a
    follower's position is a notification id, as the library has it."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self.recorder = recorder

    def page_after(
        self, position: int, limit: int, topics: Sequence[str] = (), *, hashes: bool = False
    ) -> LogPage:
        if hashes:
            if topics or not isinstance(self.recorder, HashedSQLiteRecorder):
                raise TypeError("hashes are read from the whole log of a hashed SQLite store")
            hashed, stored = self.recorder.select_hashed(position, limit)
            ids = [n.id for n in hashed]
            return LogPage(hashed, ids, ids[-1] if ids else position, stored)
        page = self.recorder.select_notifications(
            position, limit, topics=topics, inclusive_of_start=False
        )
        ids = [n.id for n in page]
        return LogPage(page, ids, ids[-1] if ids else position)

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def last_written(self) -> int:
        return self.head()

    def behind(self, position: int) -> int:
        return max(0, self.head() - position)

    def position_written(self, notification_id: int, written: Written | None = None) -> int:
        return notification_id


def event_log(recorder: ApplicationRecorder) -> EventLog:
    """How followers read this recorder's log."""
    if isinstance(recorder, ConcurrentPostgresRecorder):
        return recorder
    return IdOrderLog(recorder)
