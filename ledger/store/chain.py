"""Each stored event's hash, chained over its aggregate's previous event (docs/audit.md).

``hash_v = SHA-256(hash_(v-1) || originator id (16 bytes) || v (8 bytes, big-endian) ||
len(topic) (4 bytes, big-endian) || topic (UTF-8) || state)``, with 32 zero bytes before
version 1. The state is the bytes as stored (whatever the mapper wrote: compressed or
encrypted, the hash covers them as they are). The recorders compute it at insert, in the
save's transaction: one query reads the stored hash before each aggregate's first new
version, then the save's events are chained here.

The SQLite recorder of this module is the library's with a ``hash`` column; the PostgreSQL
one is ``ledger.store.log.ConcurrentPostgresRecorder``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn, Protocol
from uuid import UUID

from eventsourcing.persistence import DataError, Notification, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteDatastore

__all__ = [
    "ZERO",
    "BrokenChainError",
    "HashedSQLiteRecorder",
    "chained_hashes",
    "digest_step",
    "event_hash",
    "previous_versions",
]

ZERO = bytes(32)
"""The previous hash of every aggregate's version 1, and the log digest before any event."""
DIGESTS_TABLE = "log_digests"
DIGESTS_DDL = (
    "CREATE TABLE IF NOT EXISTS {table} ("
    "seq bigint PRIMARY KEY, notification_id bigint NOT NULL UNIQUE, "
    "position bigint NOT NULL, digest {blob} NOT NULL)"
)
"""The running log digest after each event, in log order (``ledger.audit.tamper.LogDigests``)."""
MERKLE_DDLS = (
    "CREATE TABLE IF NOT EXISTS {prefix}merkle_leaves ("
    "leaf_index bigint PRIMARY KEY, notification_id bigint NOT NULL UNIQUE, "
    "position bigint NOT NULL, event_id text NOT NULL UNIQUE)",
    "CREATE TABLE IF NOT EXISTS {prefix}merkle_nodes ("
    "level integer NOT NULL, idx bigint NOT NULL, hash {blob} NOT NULL, PRIMARY KEY (level, idx))",
    "CREATE TABLE IF NOT EXISTS {prefix}merkle_checkpoints ("
    "tree_size bigint PRIMARY KEY, root {blob} NOT NULL, note text NOT NULL, "
    "made_at text NOT NULL)",
)
"""The log's Merkle tree (``ledger.audit.tree``): its leaves in log order, the nodes of its
complete subtrees, and the signed checkpoints of it (``{prefix}``: the schema on PostgreSQL)."""


class BrokenChainError(DataError):
    """A save whose events cannot be chained: the version before it is not stored."""


def originator_bytes(originator_id: UUID | str) -> bytes:
    return (originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id))).bytes


_sha256 = hashlib.sha256
_topics: dict[str, bytes] = {}


def _topic_field(topic: str) -> bytes:
    """len(topic) (4 bytes, big-endian) || topic (UTF-8); the few topics kept once made."""
    found = _topics.get(topic)
    if found is None:
        name = topic.encode()
        found = len(name).to_bytes(4, "big") + name
        if len(_topics) < 10_000:
            _topics[topic] = found
    return found


def event_hash(
    previous: bytes, originator_id: UUID | str, version: int, topic: str, state: bytes
) -> bytes:
    """The hash of one stored event, chained on ``previous`` (its aggregate's previous
    event's hash, or ``ZERO`` for version 1)."""
    originator = (
        originator_id.bytes if type(originator_id) is UUID else originator_bytes(originator_id)
    )
    return _sha256(
        b"".join((previous, originator, version.to_bytes(8, "big"), _topic_field(topic), state))
    ).digest()


def digest_step(digest: bytes, event_hash: bytes) -> bytes:
    """The running log digest after one more event: SHA-256(digest before || its hash)."""
    return _sha256(digest + event_hash).digest()


def previous_versions(stored_events: Sequence[StoredEvent]) -> list[tuple[UUID, int]]:
    """The stored versions a save chains on: for each aggregate whose first new version is
    above 1, the version before it."""
    first: dict[UUID, int] = {}
    for event in stored_events:
        key = UUID(bytes=originator_bytes(event.originator_id))
        first.setdefault(key, event.originator_version)
    return [(key, version - 1) for key, version in first.items() if version > 1]


def chained_hashes(
    stored_events: Sequence[StoredEvent], previous: Mapping[UUID, bytes]
) -> list[bytes]:
    """Each event's hash, chained across the save (``previous``: the stored hash of the
    version before each aggregate's first new one)."""
    last: dict[UUID, tuple[int, bytes]] = {}
    hashes = []
    for event in stored_events:
        key = UUID(bytes=originator_bytes(event.originator_id))
        version = event.originator_version
        if key in last:
            before, prior = last[key]
            if version != before + 1:
                raise BrokenChainError(f"{key}: version {version} saved after version {before}")
        elif version == 1:
            prior = ZERO
        elif (found := previous.get(key)) is not None:
            prior = found
        else:
            raise BrokenChainError(
                f"{key}: version {version - 1} is not stored or has no hash, so version "
                f"{version} cannot be chained on it (ledger verify tells more)"
            )
        digest = event_hash(prior, key, version, event.topic, event.state)
        last[key] = (version, digest)
        hashes.append(digest)
    return hashes


Staged = dict[UUID, tuple[int, bytes]]
"""Each aggregate's last (version, hash) in a save not yet committed."""


class CommittedHashes:
    """The last hash of each aggregate this process saw committed. A committed event never
    changes, so a later save of that aggregate chains on it without asking the database;
    a hash becomes known only once its transaction committed (``staged`` until then)."""

    LIMIT = 100_000

    def __init__(self) -> None:
        self._last: Staged = {}

    def split(self, wanted: list[tuple[UUID, int]]) -> tuple[dict[UUID, bytes], list[Any]]:
        """Of the (aggregate, version) pairs a save chains on: the hashes known here, and
        the pairs to read from the table."""
        found: dict[UUID, bytes] = {}
        missing = []
        for key, version in wanted:
            last = self._last.get(key)
            if last is not None and last[0] == version:
                found[key] = last[1]
            else:
                missing.append((key, version))
        return found, missing

    @staticmethod
    def stage(
        staged: Staged | None, stored_events: Sequence[StoredEvent], hashes: Sequence[bytes]
    ) -> None:
        """Note in ``staged`` (the one ``committing`` gave this save; None: nothing to note)
        each aggregate's last version and hash in the save."""
        if staged is None:
            return
        staged.clear()  # an attempt that failed and was tried again staged nothing
        for event, digest in zip(stored_events, hashes, strict=True):
            staged[UUID(bytes=originator_bytes(event.originator_id))] = (
                event.originator_version,
                digest,
            )

    @contextmanager
    def committing(self) -> Iterator[Staged]:
        """Around a save's transaction: what it staged in the mapping given (passed down to
        the insert as ``staged_hashes``) is known once it committed."""
        staged: Staged = {}
        yield staged
        if staged:
            if len(self._last) > self.LIMIT:
                self._last = {}
            self._last.update(staged)


class UnwrittenKeysWriter(Protocol):
    """``ledger.store.personal.UnwrittenKeys``: keys written with a save's events."""

    def take(self) -> list[Any]: ...

    def write(self, cursor: Any) -> list[Any]: ...

    def refused(self, keys: Iterable[Any]) -> NoReturn: ...

    def written(self, keys: Iterable[Any]) -> None: ...


class HashedSQLiteRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder with each event's chained hash in a ``hash`` column,
    and the log digests' table beside it. Its readers are the library's (they ignore the
    column); ``select_hashed`` reads the hashes too."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name)
        self.committed = CommittedHashes()
        table = self.events_table_name
        self.insert_events_statement = (
            f"INSERT INTO {table} (originator_id, originator_version, topic, state, hash) "
            "VALUES (?,?,?,?,?)"
        )
        self._write_lock = f"UPDATE {table} SET hash = hash WHERE 0"
        self._previous = (  # the pairs first, then the primary key's index for each
            "SELECT e.originator_id, e.hash FROM (VALUES {pairs}) AS p "
            f"CROSS JOIN {table} AS e "
            "ON e.originator_id = p.column1 AND e.originator_version = p.column2"
        )
        self._hashed = (
            f"SELECT rowid, originator_id, originator_version, topic, state, hash FROM {table} "
            "WHERE rowid > ? ORDER BY rowid LIMIT ?"
        )

    def select_streams(self, originator_ids: Sequence[UUID]) -> dict[UUID, list[StoredEvent]]:
        """The whole streams of several aggregates in one query (a command's reads)."""
        marks = ", ".join("?" * len(originator_ids))
        statement = (
            "SELECT originator_id, originator_version, topic, state "
            f"FROM {self.events_table_name} WHERE originator_id IN ({marks}) "
            "ORDER BY originator_id, originator_version"
        )
        streams: dict[UUID, list[StoredEvent]] = {}
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, [id_.hex for id_ in originator_ids])
            for row in c.fetchall():
                event = StoredEvent(
                    originator_id=self.convert_originator_id(row["originator_id"]),
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=row["state"],
                )
                streams.setdefault(UUID(str(event.originator_id)), []).append(event)
        return streams

    unwritten_keys: UnwrittenKeysWriter | None = None
    """The contacts' new keys, written in a save's transaction before its events (set by
    the ledger's key ring)."""

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        keys: list[Any] = []
        with self.committed.committing() as staged:
            ids = super().insert_events(stored_events, staged_hashes=staged, keys=keys, **kwargs)
        if self.unwritten_keys is not None:
            self.unwritten_keys.written(keys)
        return ids

    def construct_create_table_statements(self) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS "
            f"{self.events_table_name} ("
            "originator_id TEXT, "
            "originator_version INTEGER, "
            "topic TEXT, "
            "state BLOB, "
            "hash BLOB, "
            "PRIMARY KEY "
            "(originator_id, originator_version))",
            DIGESTS_DDL.format(table=DIGESTS_TABLE, blob="BLOB"),
            *(ddl.format(prefix="", blob="BLOB") for ddl in MERKLE_DDLS),
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # The write lock first: a transaction that read before its first write would fail
        # at once, without waiting, if another writer committed in between.
        c.execute(self._write_lock)
        if self.unwritten_keys is not None:
            kwargs["keys"].extend(self.unwritten_keys.write(c.sqlite_cursor))
        hashes = chained_hashes(stored_events, self._previous_hashes(c, stored_events))
        self.committed.stage(kwargs.get("staged_hashes"), stored_events, hashes)
        returning = []
        for event, digest in zip(stored_events, hashes, strict=True):
            originator = event.originator_id
            c.execute(
                self.insert_events_statement,
                (
                    originator.hex if isinstance(originator, UUID) else originator,
                    event.originator_version,
                    event.topic,
                    event.state,
                    digest,
                ),
            )
            returning.append(c.lastrowid)
        return returning

    def _previous_hashes(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent]
    ) -> dict[UUID, bytes]:
        found, wanted = self.committed.split(previous_versions(stored_events))
        per_query = 10_000  # pairs: under SQLite's limit of parameters; one query per save
        for start in range(0, len(wanted), per_query):
            chunk = wanted[start : start + per_query]
            c.execute(
                self._previous.format(pairs=", ".join("(?, ?)" for _ in chunk)),
                [value for key, version in chunk for value in (key.hex, version)],
            )
            found.update(
                {UUID(row["originator_id"]): row["hash"] for row in c.fetchall() if row["hash"]}
            )
        return found

    def select_hashed(
        self, after: int, limit: int
    ) -> tuple[list[Notification], list[bytes | None]]:
        """The notifications after id ``after``, in id order, and each one's stored hash."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._hashed, (after, limit))
            rows = c.fetchall()
        notifications = [
            Notification(
                id=row["rowid"],
                originator_id=self.convert_originator_id(row["originator_id"]),
                originator_version=row["originator_version"],
                topic=row["topic"],
                state=row["state"],
            )
            for row in rows
        ]
        return notifications, [row["hash"] for row in rows]
