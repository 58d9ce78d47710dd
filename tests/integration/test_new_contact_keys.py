"""A new contact's key is written with the first save sealed under it (SQLite: in its
transaction; PostgreSQL: in the statement of its events): never durable without that save,
nor the save without it; a key another process made for the same contact meanwhile, or an
erasure since the key was made, loses the save as a race is and the command runs again under
the stored key."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import PersistenceError

from ledger.domain.commands import CreateClaims
from ledger.domain.errors import ConflictError
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from ledger.store.personal import KeyRing, lookup_of
from testkit.workload import PARTNER, bench_catalog, claim_body
from tests.conftest import postgres_settings
from tests.factories import days

CONTACT = "c@t3.example"  # the customer contact of claim_body(3)
PARTNER_CONTACT = "p@bench.example"  # the partner contact of every claim_body


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/keys.sqlite3"
    return str(request.getfixturevalue("postgres_url"))


def settings_for(url: str, files: Path) -> Settings:
    if url.startswith("sqlite"):
        return Settings(database_url=url)
    return postgres_settings(url, files)


def ledger_on(url: str, files: Path) -> Ledger:
    return open_ledger(settings_for(url, files), bench_catalog(10))


@pytest.fixture
def two(url: str, tmp_path: Path) -> Iterator[tuple[Ledger, Ledger]]:
    """Two ledgers on one SQLite file, as two processes have them."""
    first, second = ledger_on(url, tmp_path), ledger_on(url, tmp_path)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def stored_keys(url: str, email: str) -> list[str]:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            select = "SELECT key_id FROM contact_keys WHERE lookup = ?"
            return [row[0] for row in db.execute(select, (lookup_of(email),))]
    with psycopg.connect(url) as pg:
        select = "SELECT key_id FROM contact_keys WHERE lookup = %s"
        return [row[0] for row in pg.execute(select, (lookup_of(email),))]


def create(ledger: Ledger, i: int = 3) -> UUID:
    (claim_id,) = ledger.create_claims(PARTNER, CreateClaims.model_validate(claim_body(i)), days(0))
    return claim_id


def customer_email(ledger: Ledger, claim_id: UUID) -> str:
    return str(ledger.get_claim(PARTNER, claim_id).contacts.customer.email)


def partner_email(ledger: Ledger, claim_id: UUID) -> str:
    return str(ledger.get_claim(PARTNER, claim_id).contacts.partner.email)


def fail_after_writing_the_keys(
    ledger: Ledger, url: str, monkeypatch: pytest.MonkeyPatch
) -> type[Exception]:
    """Make the save fail after it wrote the keys (SQLite: in its transaction; PostgreSQL:
    in its statement, whose events then break the primary key); what the command raises."""
    recorder: Any = ledger.recorder
    if url.startswith("sqlite"):
        insert = recorder._insert_events

        def fails_after_writing(*args: Any, **kwargs: Any) -> Any:
            insert(*args, **kwargs)
            raise sqlite3.OperationalError("the disk went away")

        monkeypatch.setattr(recorder, "_insert_events", fails_after_writing)
        return PersistenceError
    keyed = recorder.inserts.keyed

    def twice_the_first_event(events: Any, hashes: Any, keys: Any) -> Any:
        return keyed([events[0], *events], [hashes[0], *hashes], keys)

    monkeypatch.setattr(recorder.inserts, "keyed", twice_the_first_event)
    return ConflictError  # a broken primary key is a lost race: run again until given up


def test_a_new_contact_s_key_is_written_with_its_first_save(
    two: tuple[Ledger, Ledger], url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, other = two
    with pytest.raises(fail_after_writing_the_keys(ledger, url, monkeypatch)):
        create(ledger)
    assert stored_keys(url, CONTACT) == []  # rolled back with the events
    assert list(ledger.claim_ids()) == []
    monkeypatch.undo()

    claim_id = create(ledger)
    assert len(stored_keys(url, CONTACT)) == 1
    assert customer_email(ledger, claim_id) == CONTACT
    assert customer_email(other, claim_id) == CONTACT  # another process opens it


def test_a_key_made_elsewhere_meanwhile_loses_the_save_and_it_runs_under_that_key(
    two: tuple[Ledger, Ledger], url: str
) -> None:
    ledger, other = two
    other.keyring.seal(PARTNER_CONTACT, "P")  # a key made here, its save not written yet
    unwritten = other.keyring.unwritten.taken(lookup_of(PARTNER_CONTACT))
    assert unwritten is not None
    create(ledger, 3)  # the first process writes its own key for the same contact
    (stored,) = stored_keys(url, PARTNER_CONTACT)
    assert stored != unwritten[0]

    claim_id = create(other, 4)  # sealed under the unwritten key first: lost, then again
    assert stored_keys(url, PARTNER_CONTACT) == [stored]
    for reader in two:
        assert partner_email(reader, claim_id) == PARTNER_CONTACT
    assert other.keyring.unwritten.taken(lookup_of(PARTNER_CONTACT)) is None


def test_a_key_made_before_an_erasure_is_not_written_after_it(
    two: tuple[Ledger, Ledger], url: str
) -> None:
    ledger, other = two
    other.keyring.seal("c@t4.example", "C")  # a key made here, its save not written yet
    unwritten = other.keyring.unwritten.taken(lookup_of("c@t4.example"))
    assert unwritten is not None
    create(ledger, 3)
    erased = ledger.keyring.key_id_of(CONTACT)
    assert erased is not None and ledger.keyring.erase(erased, "2026-01-05T00:00:00Z")

    claim_id = create(other, 4)  # the key predates the erasure: lost, then a new one
    (stored,) = stored_keys(url, "c@t4.example")
    assert stored != unwritten[0]
    for reader in two:
        assert customer_email(reader, claim_id) == "c@t4.example"


def test_a_recorder_that_writes_no_keys_has_each_key_committed_on_its_own(
    url: str, tmp_path: Path
) -> None:
    """Any other recorder (the library's own): the key is committed as it is made."""
    env = settings_for(url, tmp_path).eventsourcing_env()
    env.pop("APPLICATION_RECORDER_TOPIC")
    app: Application[Any] = Application(env=env)
    try:
        keyring = KeyRing(app.recorder, env)
        sealed = keyring.seal(CONTACT, "Cora")
        assert stored_keys(url, CONTACT) == [keyring.key_id_of(CONTACT)]
        assert keyring.unwritten.taken(lookup_of(CONTACT)) is None
        assert KeyRing(app.recorder, env).open(sealed) == "Cora"
    finally:
        app.close()


def test_a_key_another_thread_wrote_meanwhile_is_not_a_lost_race(
    two: tuple[Ledger, Ledger], url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two threads of one process seal under one new key; the first save writes it; the
    second finds it written (by this process: its own key id) and is not run again."""
    ledger, other = two
    refusals: list[object] = []
    refused = ledger.keyring.unwritten.refused

    def counted(keys: Any) -> Any:
        refusals.append(keys)
        return refused(keys)

    monkeypatch.setattr(ledger.keyring.unwritten, "refused", counted)
    ledger.keyring.seal("c@t5.example", "C")  # this thread seals under the new key first
    writer = threading.Thread(target=create, args=(ledger, 5))  # another thread writes it
    writer.start()
    writer.join()
    claim_id = create(ledger, 6)  # this thread's save still names it among its keys
    assert refusals == []
    assert customer_email(other, claim_id) == "c@t6.example"
    assert len(stored_keys(url, "c@t5.example")) == 1


def test_a_known_contact_new_to_a_process_costs_one_refusal_then_is_read(
    two: tuple[Ledger, Ledger], url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process guesses that a contact it has not seen is new (no read before the save);
    when the store has a key for it, the save is refused once, the command runs again under
    the stored key, and the process reads that contact's key from then on."""
    ledger, other = two
    create(ledger, 3)  # the partner's contact gets its key here
    refusals: list[list[str]] = []
    refused = other.keyring.unwritten.refused

    def counted(keys: Any) -> Any:
        keys = list(keys)
        refusals.append(sorted(key.lookup for key in keys))
        return refused(keys)

    monkeypatch.setattr(other.keyring.unwritten, "refused", counted)
    first = create(other, 4)
    second = create(other, 5)
    assert len(refusals) == 1 and lookup_of(PARTNER_CONTACT) in refusals[0]
    assert len(stored_keys(url, PARTNER_CONTACT)) == 1
    for claim_id in (first, second):
        for reader in two:
            assert partner_email(reader, claim_id) == PARTNER_CONTACT
