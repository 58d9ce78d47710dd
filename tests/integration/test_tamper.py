"""Tamper evidence on both stores: every change made to the events table by hand behind the
Ledger's back is found by ``verify`` and named; an untouched log verifies."""

from __future__ import annotations

import itertools
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest

from ledger.audit.tamper import (
    AuditTables,
    Finding,
    LogDigests,
    UnverifiableStoreError,
    Verification,
    verify,
)
from ledger.domain.commands import Cancel, Review
from ledger.runtime import workers as workers_module
from ledger.runtime.bootstrap import Services
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings, SettingsError
from ledger.store.chain import ZERO, event_hash
from tests.factories import (
    ADMIN_A,
    ADMIN_B,
    NORTHWIND,
    REVIEWER,
    consent_request,
    consented_claim,
    create,
    days,
    make_catalog,
    proof,
)


@dataclass(frozen=True)
class Row:
    notification_id: int
    originator_id: UUID
    version: int
    topic: str
    state: bytes
    hash: bytes | None


class Table:
    """The events table of the stored ledger, reached by SQL behind the Ledger's back."""

    def __init__(self, ledger: Ledger, settings: Settings) -> None:
        self.settings = settings
        self.name = ledger.recorder.events_table_name  # type: ignore[attr-defined]
        self.key = "rowid" if settings.is_sqlite else "notification_id"
        order = "rowid" if settings.is_sqlite else "tx_id, notification_id"
        self.select = (
            f"SELECT {self.key} AS n, originator_id, originator_version, topic, state, hash "
            f"FROM {self.name} ORDER BY {order}"
        )

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        if self.settings.is_sqlite:
            with closing(sqlite3.connect(self.settings.sqlite_path)) as lite, lite:
                return list(lite.execute(sql, params).fetchall())
        with psycopg.connect(self.settings.database_url, autocommit=True) as conn:
            cursor = conn.execute(sql.replace("?", "%s"), params)
            return list(cursor.fetchall()) if cursor.description else []

    def rows(self) -> list[Row]:
        """Every stored event, in the order followers read the log."""
        return [
            Row(n, UUID(str(oid)), version, topic, bytes(state), None if h is None else bytes(h))
            for n, oid, version, topic, state, h in self.execute(self.select)
        ]

    def originator(self, originator_id: UUID) -> Any:
        return originator_id.hex if self.settings.is_sqlite else originator_id

    def set_state(self, notification_id: int, state: bytes) -> None:
        self.execute(
            f"UPDATE {self.name} SET state = ? WHERE {self.key} = ?", (state, notification_id)
        )

    def set_hash(self, notification_id: int, digest: bytes | None) -> None:
        self.execute(
            f"UPDATE {self.name} SET hash = ? WHERE {self.key} = ?", (digest, notification_id)
        )

    def delete(self, notification_id: int) -> None:
        self.execute(f"DELETE FROM {self.name} WHERE {self.key} = ?", (notification_id,))

    def insert(self, originator_id: UUID, version: int, topic: str, state: bytes, h: bytes) -> int:
        values = (self.originator(originator_id), version, topic, state, h)
        columns = "(originator_id, originator_version, topic, state, hash) VALUES (?, ?, ?, ?, ?)"
        if self.settings.is_sqlite:
            with closing(sqlite3.connect(self.settings.sqlite_path)) as conn, conn:
                rowid = conn.execute(f"INSERT INTO {self.name} {columns}", values).lastrowid
                assert rowid is not None
                return rowid
        (found,) = self.execute(
            f"INSERT INTO {self.name} {columns} RETURNING notification_id", values
        )
        return int(found[0])


def play(ledger: Ledger) -> None:
    """Real commands: claims of two partners, consent, submission, review, an idempotent
    request (its record is an aggregate too), and ``more``."""
    first = consented_claim(ledger)
    ledger.submit(ADMIN_A, first, proof(), days(2))
    ledger.review(REVIEWER, first, Review(action="start"), days(3))
    request = ledger.request_key(ADMIN_B.user_id, "key-1", "fingerprint")
    (other,) = ledger.run(
        request,
        ledger.create_claims,
        ADMIN_B,
        create(["E-AS"], value=NORTHWIND, location="LOC-B1", customer_email="it@northwind.com"),
        days(1),
    ).result
    ledger.request_consent(ADMIN_B, other, consent_request(), days(2))
    more(ledger)


def more(ledger: Ledger) -> None:
    """More writes, as often as wanted: a claim made, asked for consent and cancelled (which
    frees its seat for the next)."""
    (claim,) = ledger.create_claims(ADMIN_A, create(["E-AS"], origin="claimed"), days(2))
    ledger.request_consent(ADMIN_A, claim, consent_request(), days(2))
    ledger.cancel(ADMIN_A, claim, Cancel(), days(3))


@pytest.fixture
def table(stored_ledger: Ledger, settings: Settings) -> Table:
    """The stored ledger after real commands, its log digested, and its table by SQL."""
    play(stored_ledger)
    LogDigests.of(stored_ledger).extend()
    return Table(stored_ledger, settings)


def first(result: Verification) -> Finding:
    assert not result.ok, "verify found nothing"
    return result.findings[0]


def names(finding: Finding, row: Row) -> bool:
    return (finding.notification_id, finding.originator_id, finding.version) == (
        row.notification_id,
        row.originator_id,
        row.version,
    )


def last_of_its_aggregate(rows: list[Row]) -> Row:
    """An event in the middle of the log that is its aggregate's last, after others of it."""
    for index, row in enumerate(rows[:-1]):
        if row.version > 1 and all(r.originator_id != row.originator_id for r in rows[index + 1 :]):
            return row
    raise AssertionError("no such event")


def test_an_untouched_log_verifies(stored_ledger: Ledger, table: Table) -> None:
    rows = table.rows()
    result = verify(stored_ledger)
    assert result.ok and result.findings == []
    assert result.events == len(rows) > 15
    assert result.aggregates == len({r.originator_id for r in rows})
    assert result.digest == LogDigests.of(stored_ledger).extend()  # recomputed = stored
    assert result.digest.at == rows[-1].notification_id
    # Every kind of aggregate is chained, each from 32 zero bytes.
    topics = {r.topic.split(":")[1].split(".")[0] for r in rows}
    assert {"Claim", "Seat", "KnownCustomer", "IdempotentRequest"} <= topics
    previous: dict[UUID, bytes] = {}
    for row in rows:
        prior = previous.get(row.originator_id, ZERO)
        assert row.hash == event_hash(prior, row.originator_id, row.version, row.topic, row.state)
        previous[row.originator_id] = row.hash


def test_one_byte_of_one_event_changed(stored_ledger: Ledger, table: Table) -> None:
    rows = table.rows()
    target = rows[len(rows) // 2]
    changed = bytearray(target.state)
    changed[len(changed) // 2] ^= 0x01
    table.set_state(target.notification_id, bytes(changed))
    finding = first(verify(stored_ledger))
    assert names(finding, target) and finding.what == "hash mismatch"
    assert [f for f in verify(stored_ledger).findings if f.what == "hash mismatch"] == [finding]


def test_one_event_deleted(stored_ledger: Ledger, table: Table) -> None:
    rows = table.rows()
    target = next(r for r in rows[3:] if r.version == 2 and any(
        s.originator_id == r.originator_id and s.version == 3 for s in rows
    ))  # fmt: skip
    table.delete(target.notification_id)
    result = verify(stored_ledger)
    finding = first(result)
    assert finding.what == "digest row without its event"
    assert finding.notification_id == target.notification_id
    # ... and its aggregate's chain shows the version missing.
    broken = [f for f in result.findings if f.what == "chain broken"]
    assert (broken[0].originator_id, broken[0].version) == (target.originator_id, 3)
    assert "version 2 missing" in broken[0].detail


@pytest.mark.parametrize("last_in_log", [False, True], ids=["in-the-log", "the-log's-last"])
def test_an_aggregate_s_last_event_deleted(
    stored_ledger: Ledger, table: Table, last_in_log: bool
) -> None:
    """No later event of its aggregate shows it: the stored digest rows do."""
    rows = table.rows()
    target = rows[-1] if last_in_log else last_of_its_aggregate(rows)
    assert target.version > 1
    table.delete(target.notification_id)
    finding = first(verify(stored_ledger))
    assert finding.what == "digest row without its event"
    assert finding.notification_id == target.notification_id
    assert "deleted" in finding.detail


def test_two_events_states_swapped(stored_ledger: Ledger, table: Table) -> None:
    rows = table.rows()
    one, other = rows[4], rows[9]
    assert one.state != other.state
    table.set_state(one.notification_id, other.state)
    table.set_state(other.notification_id, one.state)
    result = verify(stored_ledger)
    assert names(first(result), one) and first(result).what == "hash mismatch"
    mismatched = [f for f in result.findings if f.what == "hash mismatch"]
    assert [f.notification_id for f in mismatched] == [one.notification_id, other.notification_id]


@pytest.mark.parametrize("hashed", ["copied", "wrong"])
def test_one_event_inserted(stored_ledger: Ledger, table: Table, hashed: str) -> None:
    """An event added to an aggregate by hand, with the hash of the one before it copied (or
    any 32 bytes): its hash is not its content chained on its aggregate's."""
    rows = table.rows()
    last = last_of_its_aggregate(rows)
    h = last.hash if hashed == "copied" else os.urandom(32)
    assert h is not None
    inserted = table.insert(last.originator_id, last.version + 1, last.topic, last.state, h)
    finding = first(verify(stored_ledger))
    assert finding.what == "hash mismatch"
    assert (finding.notification_id, finding.originator_id, finding.version) == (
        inserted,
        last.originator_id,
        last.version + 1,
    )


def test_an_event_without_hash(stored_ledger: Ledger, table: Table) -> None:
    target = table.rows()[5]
    table.set_hash(target.notification_id, None)
    finding = first(verify(stored_ledger))
    assert names(finding, target) and finding.what == "event without hash"


def test_a_digest_taken_at_n_proves_n_after_more_writes(
    stored_ledger: Ledger, table: Table
) -> None:
    taken = LogDigests.of(stored_ledger).extend()
    more(stored_ledger)
    result = verify(stored_ledger, at=taken.at, expected=taken.digest)
    assert result.ok and result.proof is not None and result.proof.holds
    assert result.events > len(table.rows()) // 2 and result.digest.at != taken.at


def test_a_tampered_event_before_n_fails_the_proof(stored_ledger: Ledger, table: Table) -> None:
    """Even when the forger also rewrote the hashes of the aggregate's events and the stored
    digests, so that the log verifies on its own: the digest taken before does not."""
    taken = LogDigests.of(stored_ledger).extend()
    more(stored_ledger)
    rows = table.rows()
    target = rows[3]
    forged = target.state.replace(b"Fabrikam", b"Fabrikan") if b"Fabrikam" in target.state else (
        target.state + b" "
    )  # fmt: skip
    table.set_state(target.notification_id, forged)
    assert not verify(stored_ledger, at=taken.at, expected=taken.digest).proof.holds  # type: ignore[union-attr]
    # The forger rehashes the aggregate's chain and rebuilds the digests from the stored hashes.
    previous = ZERO
    for row in table.rows():
        if row.originator_id == target.originator_id:
            previous = event_hash(previous, row.originator_id, row.version, row.topic, row.state)
            table.set_hash(row.notification_id, previous)
    table.execute("DELETE FROM log_digests")
    LogDigests.of(stored_ledger).extend()
    assert verify(stored_ledger).ok  # the log alone cannot tell
    result = verify(stored_ledger, at=taken.at, expected=taken.digest)
    assert not result.ok and result.proof is not None and not result.proof.holds
    assert result.proof.found is not None and result.proof.found != taken.digest


def test_a_digest_of_another_log_fails_the_proof(
    stored_ledger: Ledger, table: Table, tmp_path: Path
) -> None:
    other = open_ledger(
        Settings(database_url=f"sqlite:///{tmp_path}/other.sqlite3"), make_catalog()
    )
    try:
        play(other)
        theirs = LogDigests.of(other).extend()
    finally:
        other.close()
    mine = LogDigests.of(stored_ledger).extend()
    at = min(theirs.at, mine.at)
    assert verify(stored_ledger, at=mine.at, expected=mine.digest).ok
    result = verify(stored_ledger, at=at, expected=theirs.digest)
    assert not result.ok and result.findings == []
    assert result.proof is not None and not result.proof.holds


def test_several_processes_extending_at_once_agree(stored_ledger: Ledger, table: Table) -> None:
    table.execute("DELETE FROM log_digests")
    more(stored_ledger)
    extenders = [LogDigests(stored_ledger.event_log, AuditTables(stored_ledger.recorder), 3)
                 for _ in range(4)]  # fmt: skip
    results: list[object] = []
    threads = [threading.Thread(target=lambda e=e: results.append(e.extend())) for e in extenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1  # every one ends at the same digest
    rows = table.execute("SELECT seq, notification_id FROM log_digests ORDER BY seq")
    assert [seq for seq, _ in rows] == list(range(1, len(table.rows()) + 1))
    assert [n for _, n in rows] == [r.notification_id for r in table.rows()]
    assert verify(stored_ledger).ok


def test_the_workers_keep_the_digest_current(services: Services, table: Table) -> None:
    more(services.ledger)
    services.workers.run_once()
    (last,) = table.execute("SELECT notification_id FROM log_digests ORDER BY seq DESC LIMIT 1")
    assert last[0] == table.rows()[-1].notification_id


def test_the_workers_digest_a_backlog_a_part_a_round(
    services: Services, table: Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    table.execute("DELETE FROM log_digests")
    monkeypatch.setattr(workers_module, "DIGEST_EVENTS_PER_ROUND", 4)
    ledger = services.ledger
    services.workers.digests = LogDigests(ledger.event_log, AuditTables(ledger.recorder), 2)
    digested = []
    for _ in range(40):
        services.workers.run_once(deadlines=False)
        digested.append(len(table.execute("SELECT seq FROM log_digests")))
        if digested[-1] == len(table.rows()):
            break
    assert digested[-1] == len(table.rows()) and len(digested) > 2
    assert all(b - a <= 4 + 3 for a, b in itertools.pairwise([0, *digested]))  # a page more
    assert verify(services.ledger).ok


def test_a_failing_digest_never_holds_the_views_up(
    services: Services, table: Table, caplog: pytest.LogCaptureFixture
) -> None:
    table.execute("DROP TABLE log_digests")
    more(services.ledger)
    services.workers.run_once(deadlines=False)
    services.workers.run_once(deadlines=False)
    assert services.workers.views.lag() == 0
    failures = [r for r in caplog.records if "extending the log digest failed" in r.message]
    assert len(failures) == 1  # and retried a minute later, not every round


@pytest.fixture
def unhashed_ledger(settings: Settings) -> Iterator[Ledger]:
    """A store made before events carried hashes: its table as it was then (no hash)."""
    made = open_ledger(settings, make_catalog())
    consented_claim(made)
    Table(made, settings).execute(f"ALTER TABLE {Table(made, settings).name} DROP COLUMN hash")
    made.close()
    with pytest.raises(SettingsError, match="made before events carried hashes"):
        open_ledger(settings, make_catalog())  # the service refuses to start on it
    ledger = Ledger(make_catalog(), env=settings.eventsourcing_env())  # as an old one would
    yield ledger
    ledger.close()


def test_a_store_made_before_the_hashes_is_refused(unhashed_ledger: Ledger) -> None:
    with pytest.raises(UnverifiableStoreError, match="no hash column"):
        verify(unhashed_ledger)
    with pytest.raises(UnverifiableStoreError, match="ledger migrate --to DATABASE_URL"):
        LogDigests.of(unhashed_ledger)
