"""The log's Merkle tree in the store (docs/checkpoints.md): kept incrementally, proved from.

``merkle_leaves`` holds the tree's leaves in the order followers read the log (leaf ``i``: the
event's notification id, its stable event id, and the follower position after it);
``merkle_nodes`` the hash of every complete subtree (level 0: the leaf hashes). ``LogTree``
extends both from the last leaf to the log's readable head, a page of the log per
transaction, the leaves and their nodes together: adding ``N`` events costs about ``2N``
hashes and never a rebuild. Several processes may extend it at once: the second writer of the
same leaves fails its insert (``leaf_index`` is the key), rolls back whole, and goes on from
the new last leaf.

Roots and proofs for any past tree size are folded from the stored nodes
(``ledger.audit.merkle``): at most ``log2(n)`` nodes per hash of a proof, read in one query.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from ledger.audit import merkle
from ledger.audit.event_ids import event_id
from ledger.audit.tamper import PAGE_SIZE, AuditTables
from ledger.store.log import EventLog, LogPage
from ledger.store.schema import placeholders

log = logging.getLogger("ledger.audit")


class NotInTreeError(Exception):
    """A leaf, an event or a tree size the stored tree does not hold (yet)."""


@dataclass(frozen=True)
class Leaf:
    index: int
    notification_id: int
    position: int
    event_id: str


@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    hashes: list[bytes]
    root: bytes


@dataclass(frozen=True)
class ConsistencyProof:
    old_size: int
    new_size: int
    hashes: list[bytes]
    old_root: bytes
    new_root: bytes


class TreeTables:
    """The tree's SQL on the ledger's store (the store's audit tables, one schema)."""

    def __init__(self, tables: AuditTables) -> None:
        self.audit = tables
        prefix = tables.digests.removesuffix('"log_digests"') if tables.is_postgres else ""
        self.leaves = f"{prefix}merkle_leaves"
        self.nodes = f"{prefix}merkle_nodes"
        self.checkpoints = f"{prefix}merkle_checkpoints"

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self.audit.rows(sql, params)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """One statement in a transaction of its own, committed."""
        with self.audit.recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(placeholders(sql, self.audit.is_postgres), params)

    def last_leaf(self) -> Leaf | None:
        found = self.rows(f"SELECT * FROM {self.leaves} ORDER BY leaf_index DESC LIMIT 1")
        return _leaf(found[0]) if found else None

    def leaf_by_event(self, event: str) -> Leaf | None:
        found = self.rows(f"SELECT * FROM {self.leaves} WHERE event_id = ?", (event,))
        return _leaf(found[0]) if found else None

    def event_of(self, notification_id: int) -> tuple[UUID, int] | None:
        """The aggregate id and version of the event with this notification id."""
        column = "notification_id" if self.audit.is_postgres else "rowid"
        found = self.rows(
            f"SELECT originator_id, originator_version FROM {self.audit.events} WHERE {column} = ?",
            (notification_id,),
        )
        if not found:
            return None
        return UUID(str(found[0]["originator_id"])), int(found[0]["originator_version"])

    def nodes_at(self, keys: Sequence[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
        """The stored nodes at these places, in one query (NotInTreeError if one is missing):
        one ``level = ? AND idx IN (...)`` term per level, which both stores answer from the
        primary key."""
        by_level: dict[int, list[int]] = {}
        for level, index in dict.fromkeys(keys):
            by_level.setdefault(level, []).append(index)
        if not by_level:
            return {}
        terms = [f"(level = ? AND idx IN ({', '.join('?' * len(i))}))" for i in by_level.values()]
        params = [value for level, indexes in by_level.items() for value in (level, *indexes)]
        found = self.rows(
            f"SELECT level, idx, hash FROM {self.nodes} WHERE {' OR '.join(terms)}", params
        )
        nodes = {(int(row["level"]), int(row["idx"])): bytes(row["hash"]) for row in found}
        if len(nodes) != sum(len(i) for i in by_level.values()):
            raise NotInTreeError("the stored tree lacks nodes it should have")
        return nodes

    def append(self, leaves: Sequence[Leaf], nodes: Sequence[tuple[int, int, bytes]]) -> bool:
        """Append leaves and their nodes in one transaction; False when another process
        appended these leaves first (nothing of these is written then)."""
        leaf_rows = [(x.index, x.notification_id, x.position, x.event_id) for x in leaves]
        try:
            with self.audit.recorder.datastore.transaction(commit=True) as cursor:
                if self.audit.is_postgres:
                    _insert_pg(cursor, self.leaves, "bigint,bigint,bigint,text", leaf_rows)
                    _insert_pg(cursor, self.nodes, "integer,bigint,bytea", nodes)
                else:
                    cursor.executemany(f"INSERT INTO {self.leaves} VALUES (?, ?, ?, ?)", leaf_rows)
                    cursor.executemany(f"INSERT INTO {self.nodes} VALUES (?, ?, ?)", nodes)
        except IntegrityError:
            return False
        return True


def _insert_pg(cursor: Any, table: str, types: str, rows: Sequence[tuple[Any, ...]]) -> None:
    arrays = ", ".join(f"%s::{kind}[]" for kind in types.split(","))
    columns = [list(column) for column in zip(*rows, strict=True)]
    cursor.execute(f"INSERT INTO {table} SELECT * FROM unnest({arrays})", columns)


def _leaf(row: dict[str, Any]) -> Leaf:
    return Leaf(
        int(row["leaf_index"]), int(row["notification_id"]), int(row["position"]), row["event_id"]
    )


class LogTree:
    """The log's Merkle tree: extended by whoever asks, proved from by anyone."""

    def __init__(self, event_log: EventLog, tables: TreeTables, page_size: int = PAGE_SIZE):
        self.event_log, self.tables, self.page_size = event_log, tables, page_size
        self.caught_up = False

    @classmethod
    def of(cls, ledger: Any) -> LogTree:
        """The tree of the ledger's store (UnverifiableStoreError if it keeps no hashes)."""
        return cls(ledger.event_log, TreeTables(AuditTables(ledger.recorder)))

    def size(self) -> int:
        last = self.tables.last_leaf()
        return 0 if last is None else last.index + 1

    def extend(self, max_events: int | None = None) -> int:
        """Extend the tree from its last leaf to the log's readable head (as it was when
        this began), or by about ``max_events``; the tree's size then."""
        target, done = self.event_log.head(), 0
        self.caught_up = False
        while True:
            last = self.tables.last_leaf()
            size, position = (0, 0) if last is None else (last.index + 1, last.position)
            if position >= target:
                self.caught_up = True
                return size
            if max_events is not None and done >= max_events:
                return size
            page = self.event_log.page_after(position, self.page_size, hashes=True)
            leaves, hashes = _leaves(page, size)
            if not leaves:
                return size  # the next event has no hash: ledger verify names it
            edge = merkle.Frontier(size, list(self.root_nodes(size).values()))
            nodes = [node for h in hashes for node in edge.append(merkle.leaf_hash(h))]
            if self.tables.append(leaves, nodes):
                done += len(leaves)

    def root_nodes(self, size: int) -> dict[merkle.NodeKey, bytes]:
        """The complete subtrees the tree of ``size`` leaves is made of, from the left."""
        keys = merkle.range_keys(0, size)
        nodes = self.tables.nodes_at(keys)
        return {key: nodes[key] for key in keys}

    def root(self, size: int) -> bytes:
        self._check_size(size)
        return merkle.range_root(list(self.root_nodes(size).values()))

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size():
            raise NotInTreeError(f"the tree has {self.size()} leaves, not {size}")

    def inclusion(self, index: int, size: int) -> InclusionProof:
        """The proof that leaf ``index`` is in the tree of ``size`` leaves."""
        self._check_size(size)
        if not 0 <= index < size:
            raise NotInTreeError(f"leaf {index} is not in the tree of {size} leaves")
        ranges = merkle.inclusion_ranges(index, size)
        nodes = self.tables.nodes_at([*merkle.keys_of([*ranges, (0, size)]), (0, index)])
        hashes = merkle.roots_of(ranges, nodes)
        (root,) = merkle.roots_of([(0, size)], nodes)
        return InclusionProof(index, size, nodes[(0, index)], hashes, root)

    def consistency(self, old: int, new: int) -> ConsistencyProof:
        """The proof that the tree of ``new`` leaves extends the tree of ``old`` leaves."""
        self._check_size(new)
        if not 0 < old <= new:
            raise NotInTreeError(f"no consistency proof from {old} to {new} leaves")
        ranges = merkle.consistency_ranges(old, new)
        nodes = self.tables.nodes_at(merkle.keys_of([*ranges, (0, old), (0, new)]))
        old_root, new_root = merkle.roots_of([(0, old), (0, new)], nodes)
        return ConsistencyProof(old, new, merkle.roots_of(ranges, nodes), old_root, new_root)


def _leaves(page: LogPage, size: int) -> tuple[list[Leaf], list[bytes]]:
    """The page's events as leaves from ``size`` on, with their stored hashes; they stop at
    the first event without a hash (whole transactions only: the log resumes after one)."""
    leaves: list[Leaf] = []
    hashes: list[bytes] = []
    for notification, stored, after in zip(
        page.notifications, page.hashes, page.positions, strict=True
    ):
        if stored is None:
            kept = [leaf for leaf in leaves if leaf.position != after]
            return kept, hashes[: len(kept)]
        originator = notification.originator_id
        if type(originator) is not UUID:
            originator = UUID(str(originator))
        event = event_id(originator, notification.originator_version)
        leaves.append(Leaf(size + len(leaves), notification.id, after, event))
        hashes.append(stored)
    return leaves, hashes
