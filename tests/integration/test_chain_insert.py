"""The hashes at insert: racing saves of one aggregate leave one intact chain, and the
hashes before a save are found through the primary key."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from ledger.audit.tamper import verify
from ledger.domain.errors import LedgerError
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from ledger.store.chain import HashedSQLiteRecorder
from tests.factories import ADMIN_A, consent_request, create, days, make_catalog


def test_racing_saves_of_one_claim_leave_one_intact_chain(stored_ledger: Ledger) -> None:
    """Eight threads send reminders for one claim at once: each save chains on the version
    it loaded; the losers of each race retry on fresh state (the primary key refuses them)."""
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(), days(0))
    stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(0))
    errors: list[Exception] = []

    def remind() -> None:
        for _ in range(3):
            try:
                stored_ledger.send_consent_reminder(ADMIN_A, claim_id, days(1))
            except LedgerError as error:
                errors.append(error)

    threads = [threading.Thread(target=remind) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert stored_ledger.get_claim(ADMIN_A, claim_id).version == 2 + 8 * 3
    result = verify(stored_ledger)
    assert result.ok, [str(f) for f in result.findings]


def test_sqlite_finds_the_hashes_before_a_save_by_the_primary_key(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/ledger.sqlite3")
    ledger = open_ledger(settings, make_catalog())
    try:
        recorder = ledger.recorder
        assert isinstance(recorder, HashedSQLiteRecorder)
        query = recorder._previous.format(pairs="(?, ?), (?, ?)")
    finally:
        ledger.close()
    with closing(sqlite3.connect(settings.sqlite_path)) as conn:
        plan = " ".join(str(row) for row in conn.execute(f"EXPLAIN QUERY PLAN {query}", "ab12"))
    assert "SEARCH e USING INDEX" in plan and "SCAN e" not in plan


def test_a_save_chains_on_the_hash_it_saw_committed_and_never_on_a_refused_one(
    stored_ledger: Ledger,
) -> None:
    """The last committed hash of an aggregate is known without a query; a save the store
    refused (its version taken) leaves the known hash as it was."""
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(), days(0))
    recorder: Any = stored_ledger.recorder
    (stored,) = recorder.select_events(claim_id)
    found, missing = recorder.committed.split([(claim_id, 1)])
    assert missing == [] and found[claim_id] == stored_hash(stored_ledger, claim_id, 1)
    forged = StoredEvent(claim_id, 1, stored.topic, stored.state + b" ")  # version 1 is taken
    with pytest.raises(IntegrityError):
        recorder.insert_events([forged])
    assert recorder.committed.split([(claim_id, 1)])[0][claim_id] == found[claim_id]
    stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(0))
    assert verify(stored_ledger).ok


def stored_hash(ledger: Ledger, claim_id: UUID, version: int) -> bytes:
    recorder: Any = ledger.recorder
    with recorder.datastore.transaction(commit=False) as cursor:
        mark = "?" if isinstance(recorder, HashedSQLiteRecorder) else "%s"
        key = claim_id.hex if isinstance(recorder, HashedSQLiteRecorder) else claim_id
        cursor.execute(
            f"SELECT hash FROM {recorder.events_table_name} "
            f"WHERE originator_id = {mark} AND originator_version = {mark}",
            (key, version),
        )
        return bytes(cursor.fetchone()["hash"])


@pytest.mark.parametrize("events", [1, 2, 32, 33, 40])
def test_a_save_of_few_or_many_events_is_stored_whole_and_chained(
    stored_ledger: Ledger, events: int
) -> None:
    """A save of a few events is inserted as rows of values, of more than 32 as arrays
    (PostgreSQL): either way every event is stored, in order, and the chain verifies."""
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(), days(0))
    stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(0))
    claim = stored_ledger.get_claim(ADMIN_A, claim_id)
    for n in range(events):
        claim.send_reminder(actor=ADMIN_A.actor, now=days(1 + n / 100), link_id=uuid4())
    stored_ledger.save(claim)
    stored = list(stored_ledger.events.get(claim_id))
    assert [e.originator_version for e in stored] == list(range(1, 3 + events))
    assert stored_ledger.get_claim(ADMIN_A, claim_id).version == 2 + events
    result = verify(stored_ledger)
    assert result.ok, [str(f) for f in result.findings]
