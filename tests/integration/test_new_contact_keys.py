"""On SQLite a new contact's key is written in the transaction of the first save sealed under
it: never durable without that save, nor the save without it; a key another process made for
the same contact meanwhile, or an erasure since the key was made, loses the save as a race is
and the command runs again under the stored key."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import PersistenceError

from ledger.domain.commands import CreateClaims
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from ledger.store.personal import KeyRing, lookup_of
from testkit.workload import PARTNER, bench_catalog, claim_body
from tests.factories import days

CONTACT = "c@t3.example"  # the customer contact of claim_body(3)
PARTNER_CONTACT = "p@bench.example"  # the partner contact of every claim_body


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/keys.sqlite3"


def ledger_on(url: str) -> Ledger:
    return open_ledger(Settings(database_url=url), bench_catalog(10))


@pytest.fixture
def two(url: str) -> Iterator[tuple[Ledger, Ledger]]:
    """Two ledgers on one SQLite file, as two processes have them."""
    first, second = ledger_on(url), ledger_on(url)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def stored_keys(url: str, email: str) -> list[str]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        rows = db.execute("SELECT key_id FROM contact_keys WHERE lookup = ?", (lookup_of(email),))
        return [row[0] for row in rows]


def create(ledger: Ledger, i: int = 3) -> UUID:
    (claim_id,) = ledger.create_claims(PARTNER, CreateClaims.model_validate(claim_body(i)), days(0))
    return claim_id


def customer_email(ledger: Ledger, claim_id: UUID) -> str:
    return str(ledger.get_claim(PARTNER, claim_id).contacts.customer.email)


def partner_email(ledger: Ledger, claim_id: UUID) -> str:
    return str(ledger.get_claim(PARTNER, claim_id).contacts.partner.email)


def test_a_new_contact_s_key_is_written_with_its_first_save(
    two: tuple[Ledger, Ledger], url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, other = two
    insert = ledger.recorder._insert_events  # type: ignore[attr-defined]

    def fails_after_writing(*args: Any, **kwargs: Any) -> Any:
        insert(*args, **kwargs)
        raise sqlite3.OperationalError("the disk went away")

    monkeypatch.setattr(ledger.recorder, "_insert_events", fails_after_writing)
    with pytest.raises(PersistenceError, match="the disk went away"):
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


def test_a_recorder_that_writes_no_keys_has_each_key_committed_on_its_own(url: str) -> None:
    """Any other SQLite recorder (the library's own): the key is committed as it is made."""
    env = Settings(database_url=url).eventsourcing_env()
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
