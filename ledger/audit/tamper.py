"""Tamper evidence: the running log digest and the verification of every chain (docs/audit.md).

Each stored event carries a hash chained over its aggregate's previous event
(``ledger.store.chain``, computed by the recorders at insert). The log has a running digest at
each notification id, ``digest_n = SHA-256(digest_(n-1) || hash_n)`` over the events in the
order followers read them (``EventLog.page_after``), from 32 zero bytes. ``LogDigests`` keeps
it in the ``log_digests`` table, which no replay rebuilds, extending it from its last row to
the log's readable head; several processes may extend it at once (a conflict on ``seq``, the
row's place in the log, means another did it: it reads the new last row and goes on from
there).

``verify`` recomputes every aggregate's chain and the running digest from the stored events
and compares them with the stored hashes and digests; the findings name each event that does
not match, in log order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Notification

from ledger.audit.merkle import leaf_hash
from ledger.domain.principal import Principal, Role
from ledger.store.chain import DIGESTS_TABLE, ZERO, HashedSQLiteRecorder, digest_step, event_hash
from ledger.store.log import ConcurrentPostgresRecorder, EventLog, LogPage
from ledger.store.schema import placeholders

log = logging.getLogger("ledger.audit")
PAGE_SIZE = 2000
KEPT_FINDINGS = 20
"""Findings listed in full; the count of the rest is kept."""
Progress = Callable[[int, int], None]


class UnverifiableStoreError(Exception):
    """A store whose events carry no hashes (in memory, or made before they did)."""


class AtNotInLogError(Exception):
    """``--at`` names a notification id that neither the log nor its digests hold."""


@dataclass(frozen=True)
class Digest:
    """The running log digest after the event with notification id ``at`` (0: no event)."""

    at: int
    digest: bytes

    def describe(self) -> str:
        if self.at == 0:
            return f"log digest of the empty log (32 zero bytes): {self.digest.hex()}"
        return (
            f"log digest at notification {self.at} (SHA-256 chained over the hash of every "
            f"event in log order up to and including it): {self.digest.hex()}"
        )


@dataclass(frozen=True)
class DigestRow:
    seq: int
    """The event's place in the log as followers read it (1, 2, ...)."""
    notification_id: int
    position: int
    """The follower position after the event (the log resumes after it)."""
    digest: bytes


@dataclass(frozen=True)
class Finding:
    """One stored thing that does not match what the events recompute to."""

    what: str
    detail: str
    notification_id: int | None = None
    originator_id: UUID | None = None
    version: int | None = None

    def __str__(self) -> str:
        where = [] if self.notification_id is None else [f"notification {self.notification_id}"]
        if self.originator_id is not None:
            where.append(f"(originator {self.originator_id}, version {self.version})")
        return f"{' '.join(where)}: {self.what}: {self.detail}"


@dataclass(frozen=True)
class Proof:
    """Whether the log up to notification ``at`` is the one whose digest was ``expected``."""

    at: int
    expected: bytes
    found: bytes | None
    """The digest recomputed at ``at``; None when the log no longer holds it."""

    @property
    def holds(self) -> bool:
        return self.found == self.expected


@dataclass
class Verification:
    events: int = 0
    aggregates: int = 0
    seconds: float = 0.0
    digest: Digest = field(default_factory=lambda: Digest(0, ZERO))
    """The running digest recomputed from the events, at the last event verified."""
    findings: list[Finding] = field(default_factory=list)
    unlisted: int = 0
    """Findings beyond the ones kept."""
    proof: Proof | None = None
    leaves: list[bytes] = field(default_factory=list)
    """With ``tree_size``: the Merkle leaf hashes of the log's first events, each of the hash
    its content chains to (``ledger.audit.merkle.leaf_hash``)."""

    @property
    def ok(self) -> bool:
        return not self.findings and (self.proof is None or self.proof.holds)

    def add(self, finding: Finding) -> None:
        if len(self.findings) < KEPT_FINDINGS:
            self.findings.append(finding)
        else:
            self.unlisted += 1


class AuditTables:
    """The audit's SQL on the ledger's store: the ``log_digests`` table, and what
    verification asks of the events table. Written with ``?`` parameters."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self.is_postgres = isinstance(recorder, ConcurrentPostgresRecorder)
        if not (self.is_postgres or isinstance(recorder, HashedSQLiteRecorder)):
            raise UnverifiableStoreError(
                "this store keeps no hashes (it is not a SQLite or PostgreSQL store of the "
                "Ledger): there is nothing to verify"
            )
        if self.is_postgres:
            schema = recorder.datastore.schema
            self.events = f'"{schema}"."{recorder.events_table_name}"'
            self.digests = f'"{schema}"."{DIGESTS_TABLE}"'
        else:
            self.events, self.digests = recorder.events_table_name, DIGESTS_TABLE
        if not self._has_hash_column():
            raise UnverifiableStoreError(
                f"this store was made before events carried hashes (its table "
                f"{recorder.events_table_name} has no hash column): copy its events into a "
                "new database with `ledger migrate --to DATABASE_URL` (docs/audit.md)"
            )

    def _sql(self, sql: str) -> str:
        return placeholders(sql, self.is_postgres)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(self._sql(sql), params)
            return [dict(row) for row in cursor.fetchall()]

    def _has_hash_column(self) -> bool:
        if self.is_postgres:
            found = self.rows(
                "SELECT 1 FROM information_schema.columns WHERE table_schema = ? "
                "AND table_name = ? AND column_name = 'hash'",
                (self.recorder.datastore.schema, self.recorder.events_table_name),
            )
        else:
            found = self.rows(
                "SELECT 1 FROM pragma_table_info(?) WHERE name = 'hash'",
                (self.recorder.events_table_name,),
            )
        return bool(found)

    @staticmethod
    def _row(row: dict[str, Any]) -> DigestRow:
        return DigestRow(
            int(row["seq"]),
            int(row["notification_id"]),
            int(row["position"]),
            bytes(row["digest"]),
        )

    def last(self) -> DigestRow | None:
        found = self.rows(f"SELECT * FROM {self.digests} ORDER BY seq DESC LIMIT 1")
        return self._row(found[0]) if found else None

    def digest_rows(self, after_seq: int, up_to_seq: int, limit: int) -> list[DigestRow]:
        found = self.rows(
            f"SELECT * FROM {self.digests} WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
            (after_seq, up_to_seq, limit),
        )
        return [self._row(row) for row in found]

    def digest_of(self, notification_id: int) -> DigestRow | None:
        found = self.rows(
            f"SELECT * FROM {self.digests} WHERE notification_id = ?", (notification_id,)
        )
        return self._row(found[0]) if found else None

    def has_event(self, notification_id: int) -> bool:
        column = "notification_id" if self.is_postgres else "rowid"
        return bool(
            self.rows(f"SELECT 1 FROM {self.events} WHERE {column} = ?", (notification_id,))
        )

    def append(self, rows: Sequence[DigestRow]) -> bool:
        """Append these rows in one transaction; False when another process appended rows
        at these places first (nothing of these is written then)."""
        values = [(r.seq, r.notification_id, r.position, r.digest) for r in rows]
        try:
            with self.recorder.datastore.transaction(commit=True) as cursor:
                if self.is_postgres:
                    cursor.execute(
                        f"INSERT INTO {self.digests} (seq, notification_id, position, digest) "
                        "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], "
                        "%s::bytea[])",
                        [list(column) for column in zip(*values, strict=True)],
                    )
                else:
                    cursor.executemany(f"INSERT INTO {self.digests} VALUES (?, ?, ?, ?)", values)
        except IntegrityError:
            return False
        return True


class LogDigests:
    """The running log digest, kept in ``log_digests`` and extended by whoever asks."""

    def __init__(self, event_log: EventLog, tables: AuditTables, page_size: int = PAGE_SIZE):
        self.event_log = event_log
        self.tables = tables
        self.page_size = page_size
        self.caught_up = False
        """Whether the last ``extend`` reached the head it aimed at."""
        self._warned: set[int] = set()

    @classmethod
    def of(cls, ledger: Any) -> LogDigests:
        """The digests of the ledger's store (UnverifiableStoreError if it keeps no hashes)."""
        return cls(ledger.event_log, AuditTables(ledger.recorder))

    def extend(self, max_events: int | None = None) -> Digest:
        """Extend the stored digests from their last row to the log's readable head (as it
        was when this began), or by about ``max_events``; the digest at the last event they
        cover. A page of the log per transaction."""
        target = self.event_log.head()
        done = 0
        self.caught_up = False
        while True:
            last = self.tables.last()
            seq, at, position, digest = (
                (last.seq, last.notification_id, last.position, last.digest)
                if last
                else (0, 0, 0, ZERO)
            )
            if position >= target:
                self.caught_up = True
                return Digest(at, digest)
            if max_events is not None and done >= max_events:
                return Digest(at, digest)
            page = self.event_log.page_after(position, self.page_size, hashes=True)
            rows, unhashed = _digest_rows(page, seq, digest)
            if rows and not self.tables.append(rows):
                continue  # another process extended them first: go on from its last row
            done += len(rows)
            if unhashed is not None:
                self._warn(unhashed)
            if unhashed is not None or not page.notifications:
                last = self.tables.last()
                return Digest(last.notification_id, last.digest) if last else Digest(0, ZERO)

    def _warn(self, unhashed: Notification) -> None:
        """Say once per event that the digest stops before it, for want of its hash."""
        if unhashed.id in self._warned:
            return
        self._warned.add(unhashed.id)
        log.warning(
            "the log digest stops before notification %s (%s, version %s), which "
            "has no hash; ledger verify tells more",
            unhashed.id,
            unhashed.originator_id,
            unhashed.originator_version,
        )


def _digest_rows(
    page: LogPage, seq: int, digest: bytes
) -> tuple[list[DigestRow], Notification | None]:
    """The digest rows of the page's events, the first at place ``seq + 1`` of the log after
    ``digest``; they stop at the first event without a hash, returned too (None: none)."""
    rows: list[DigestRow] = []
    for notification, stored, after in zip(
        page.notifications, page.hashes, page.positions, strict=True
    ):
        if stored is None:
            # Only whole transactions: the log resumes after a position, not inside.
            return [row for row in rows if row.position != after], notification
        digest = digest_step(digest, stored)
        seq += 1
        rows.append(DigestRow(seq, notification.id, after, digest))
    return rows, None


def current_digest(ledger: Any, principal: Principal) -> Digest:
    """The log digest at the last event it covers, brought up to the log's head (auditors)."""
    principal.require_role(Role.AUDITOR)
    return LogDigests.of(ledger).extend()


Chain = tuple[int, bytes | None, bytes]
"""An aggregate's chain so far: its last version read, that event's stored hash, and the
hash its events recompute to from version 1."""
NEW: Chain = (0, ZERO, ZERO)


def check_verifiable(ledger: Any, at: int | None = None) -> AuditTables:
    """The audit's tables of a store that can be verified (UnverifiableStoreError), with
    ``at`` in its log if given (AtNotInLogError)."""
    tables = AuditTables(ledger.recorder)
    if at is not None and tables.digest_of(at) is None and not tables.has_event(at):
        last = tables.last()
        ending = f"notification {last.notification_id}" if last else "the empty log"
        raise AtNotInLogError(
            f"notification {at} is not in the log: neither an event nor a digest row has that "
            f"id (the stored digests end at {ending})"
        )
    return tables


def verify(
    ledger: Any,
    *,
    at: int | None = None,
    expected: bytes | None = None,
    progress: Progress | None = None,
    extend: bool = True,
    page_size: int = PAGE_SIZE,
    tree_size: int = 0,
) -> Verification:
    """Recompute every aggregate's chain and the running log digest from the stored events;
    compare them with the stored hashes and digest rows. With ``at`` and ``expected``, also
    whether the log up to notification ``at`` is the one whose digest was ``expected``. With
    ``tree_size``, the Merkle leaves of the first ``tree_size`` events are kept in the result.

    The running digest is recomputed over the hashes the events' contents chain to (not the
    stored ones), so a digest taken earlier proves the content of every event up to it.
    When all matches, the stored digests are extended to the log's head (``extend``): verify
    never digests further a log that does not verify. The next page (and its digest rows)
    is read in a thread while this one is checked.
    """
    started = time.perf_counter()
    tables = check_verifiable(ledger, at)
    event_log: EventLog = ledger.event_log
    run = _Run(tables, event_log, page_size, at, expected or b"")
    run.tree_size = tree_size
    run.read_log(progress)
    result = run.finish()
    result.seconds = time.perf_counter() - started
    if result.ok and extend:
        LogDigests(event_log, tables, page_size).extend()
    return result


class _Run:
    """One verification as it goes through the log: the chains and the running digest so
    far, compared event by event with the stored hashes and digest rows."""

    def __init__(
        self,
        tables: AuditTables,
        event_log: EventLog,
        page_size: int,
        at: int | None,
        expected: bytes,
    ) -> None:
        self.tables, self.event_log, self.page_size = tables, event_log, page_size
        self.at, self.expected = at, expected
        last_row = tables.last()
        self.recorded = last_row.seq if last_row else 0  # rows appended meanwhile: not compared
        self.head = max(event_log.head(), last_row.position if last_row else 0)
        self.total = max(event_log.behind(0), 1)
        self.result = Verification()
        self.chains: dict[UUID, Chain] = {}
        self.digest, self.seq, self.last_id = ZERO, 0, 0
        self.aligned = True  # the digest rows are compared while they follow the log
        self.tree_size = 0  # the Merkle leaves of the log's first events kept

    def read(self, position: int, seq: int) -> tuple[LogPage, list[DigestRow]]:
        """A page of the log after ``position`` and the digest rows of its places."""
        page = self.event_log.page_after(position, self.page_size, hashes=True)
        length = len(page.notifications)
        upto = min(seq + length, self.recorded)
        return page, self.tables.digest_rows(seq, upto, length) if upto > seq else []

    def read_log(self, progress: Progress | None) -> None:
        """Check every page of the log, the next one read in a thread meanwhile."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="verify-read") as reader:
            pending: Future[tuple[LogPage, list[DigestRow]]] | None = reader.submit(self.read, 0, 0)
            while pending is not None:
                page, rows = pending.result()
                if not page.notifications:
                    break
                first = self.seq
                pending = None
                if page.position < self.head:
                    after = self.seq + len(page.notifications)
                    pending = reader.submit(self.read, page.position, after)
                for notification, stored in zip(page.notifications, page.hashes, strict=True):
                    self.check(notification, stored, rows, first)
                self.result.events = self.seq
                if progress:
                    progress(self.seq, max(self.total, self.seq))

    def check(
        self, notification: Notification, stored: bytes | None, rows: list[DigestRow], first: int
    ) -> None:
        """One event: its chain, the running digest after it, and the digest row of its
        place in the log (``rows``: the page's, the page starting after place ``first``)."""
        self.seq += 1
        originator = notification.originator_id
        if type(originator) is not UUID:
            originator = UUID(str(originator))
        version, topic, state = (
            notification.originator_version,
            notification.topic,
            notification.state,
        )
        if type(state) is not bytes or type(topic) is not str:
            topic, state = _as_stored(topic, state)
        chain = self.chains.get(originator, NEW)
        true = event_hash(chain[2], originator, version, topic, state)
        own = None
        if version != chain[0] + 1 or stored != true or chain[1] != chain[2]:
            where = _Where(notification.id, originator, version)
            own = _check_event(chain, true, topic, state, stored, where)
        self.chains[originator] = (version, stored, true)
        self.digest = digest = digest_step(self.digest, true)
        if self.seq <= self.tree_size:
            self.result.leaves.append(leaf_hash(true))
        self.last_id = notification.id
        if self.at is not None and notification.id == self.at:
            self.result.proof = Proof(self.at, self.expected, digest)
        if self.aligned and self.seq <= self.recorded:
            index = self.seq - first - 1
            row = rows[index] if index < len(rows) else None
            if row is None or (row.notification_id, row.digest) != (notification.id, digest):
                self.row_differs(row, _Where(notification.id, originator, version), own)
                return
        if own is not None:
            self.result.add(own)

    def row_differs(self, row: DigestRow | None, where: _Where, own: Finding | None) -> None:
        """The event's own finding and what its place's digest row makes of the log (no
        more rows are compared after the first difference)."""
        self.aligned, found = _compare_row(self.tables, row, self.seq, self.digest, where)
        # In log order: a deleted event came before this one; this one's own mismatch comes
        # before what it makes of the digest rows.
        ordered = [found, own] if found and found.originator_id is None else [own, found]
        for finding in ordered:
            if finding is not None:
                self.result.add(finding)

    def finish(self) -> Verification:
        """The result, with what the log's end leaves: digest rows beyond its last event,
        a proof asked at a notification it does not hold."""
        result = self.result
        if self.aligned and self.seq < self.recorded:  # digest rows beyond the log's end
            result.add(self.row_beyond_log())
        if self.at is not None and result.proof is None:
            result.proof = Proof(self.at, self.expected, None)
        result.aggregates = len(self.chains)
        result.digest = Digest(self.last_id, self.digest)
        return result

    def row_beyond_log(self) -> Finding:
        (row,) = self.tables.digest_rows(self.seq, self.recorded, 1)
        gone = not self.tables.has_event(row.notification_id)
        return Finding(
            "digest row without its event",
            f"the digest rows record {self.recorded - self.seq} event(s) after the log's last "
            f"one, this one first (place {row.seq} of the log): "
            + ("its event is not in the log (deleted)" if gone else "its event is elsewhere"),
            notification_id=row.notification_id,
        )


def _as_stored(topic: object, state: object) -> tuple[str, bytes]:
    """The topic and state as bytes would have been stored: a row changed by hand may hold
    text, or nothing, where the recorder wrote bytes (it then does not match)."""
    if not isinstance(state, bytes | bytearray | memoryview):
        state = b"" if state is None else str(state).encode()
    return ("" if topic is None else str(topic)), bytes(state)


@dataclass(frozen=True)
class _Where:
    notification_id: int
    originator_id: UUID
    version: int

    def finding(self, what: str, detail: str) -> Finding:
        return Finding(what, detail, self.notification_id, self.originator_id, self.version)


def _check_event(
    chain: Chain, true: bytes, topic: str, state: bytes, stored: bytes | None, where: _Where
) -> Finding | None:
    """What does not match in one event (``true``: the hash its content chains to).

    Its stored hash is compared with its content chained on the previous event's *stored*
    hash, so that one changed event is named alone, not with every event after it."""
    before, stored_previous, true_previous = chain
    if where.version != before + 1:
        if where.version <= before:
            detail = f"version {where.version} comes again after version {before}"
        elif before == 0:
            detail = (
                f"the log's first event of the aggregate is version {where.version}: "
                f"version{'s 1 to' if where.version > 2 else ''} {where.version - 1} missing"
            )
        else:
            detail = (
                f"the log has version {before} then version {where.version}: version"
                f"{'s' if where.version > before + 2 else ''} {before + 1}"
                f"{' to ' + str(where.version - 1) if where.version > before + 2 else ''} missing"
            )
        return where.finding("chain broken", detail)
    if stored is None:
        return where.finding("event without hash", "its hash column is empty")
    previous = stored_previous or true_previous
    recomputed = (
        true
        if previous == true_previous
        else event_hash(previous, where.originator_id, where.version, topic, state)
    )
    if recomputed == stored:
        return None
    on = f"version {before}'s stored hash" if before else "32 zero bytes (it is version 1)"
    return where.finding(
        "hash mismatch", f"its stored hash is not the SHA-256 of its stored content chained on {on}"
    )


def _compare_row(
    tables: AuditTables, row: DigestRow | None, seq: int, digest: bytes, where: _Where
) -> tuple[bool, Finding | None]:
    """Compare the ``seq``-th event of the log with the ``seq``-th digest row: whether the
    rows after it are still worth comparing (not after the first difference), and the
    difference."""
    if row is None:
        return False, None
    if row.notification_id != where.notification_id:
        if tables.has_event(row.notification_id):
            return False, where.finding(
                "event without digest row",
                f"the digest rows record notification {row.notification_id} at place {seq} "
                "of the log, where this event is (inserted or moved)",
            )
        return False, Finding(
            "digest row without its event",
            f"the digest rows record this notification at place {seq} of the log, where the "
            f"log now has notification {where.notification_id}: its event is not in the log "
            "(deleted)",
            notification_id=row.notification_id,
        )
    if row.digest != digest:
        return False, where.finding(
            "digest mismatch",
            "the running log digest stored after this event is not the one the events up to "
            "it recompute to (and so every later one)",
        )
    return True, None
