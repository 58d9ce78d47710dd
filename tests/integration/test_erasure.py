"""Erasure of a contact's personal data (crypto-shredding), on SQLite and PostgreSQL: after
``forget`` no byte of the database or the mail folder holds the name or the address, every read
shows ``[erased]`` for them and nothing else changes, a replay rebuilds the same views, and a
new claim for the same person works with a new key."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest

from ledger.aggregates.erasure import ContactErasure
from ledger.aggregates.values import Contact
from ledger.audit.tamper import current_digest, verify
from ledger.domain.errors import ForbiddenError, NotFoundError
from ledger.projections.report import report
from ledger.projections.store import VIEW_TABLES
from ledger.runtime.bootstrap import Services
from ledger.runtime.erasure import forget
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from ledger.store.personal import ERASED, key_ids
from tests.factories import (
    ADMIN_A,
    AUDITOR,
    NORTHWIND,
    consent_request,
    create,
    days,
    make_catalog,
    view_snapshot,
)

NAME, EMAIL = "Zoë Erasable-Person", "zoe.erasable@fabrikam.com"
OTHER_NAME, OTHER_EMAIL = "Olga Otherperson", "olga@northwind.com"


def contacts(name: str, email: str) -> dict[str, Any]:
    return {
        "customer": {"name": name, "email": email},
        "partner": {"name": "Pat Partner", "email": "pat@a.example"},
    }


def stored_bytes(settings: Settings) -> bytes:
    """Everything the database holds, as bytes: the SQLite files, or every PostgreSQL table
    dumped with COPY."""
    if settings.is_sqlite:
        path = settings.sqlite_path
        files = [path, path.with_name(path.name + "-wal")]
        return b"".join(f.read_bytes() for f in files if f.exists())
    dumped = b""
    with psycopg.connect(settings.database_url) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
        for (table,) in tables:
            with conn.cursor().copy(f'COPY "{table}" TO STDOUT') as copy:
                dumped += b"".join(bytes(block) for block in copy)
    return dumped


def mail_bytes(folder: Path) -> bytes:
    return b"".join(f.read_bytes() for f in sorted(folder.glob("*")) if f.is_file())


def personal(data: bytes) -> list[str]:
    """Which of the erased person's data the bytes hold (as UTF-8, or as JSON escapes)."""
    text = data.decode("utf-8", "replace").lower()
    escaped = json.dumps(NAME).strip('"').lower()
    return [v for v in (EMAIL, NAME.lower(), escaped, "erasable") if v in text]


def parsed_json(value: Any) -> Any:
    """A JSON column's value parsed (so that its escapes do not hide what it says)."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def opened(snapshot: dict[str, list[dict[str, Any]]]) -> str:
    """The views as their readers see them, with the person's data replaced by [erased]."""
    parsed = {
        table: [{k: parsed_json(v) for k, v in r.items()} for r in rows]
        for table, rows in snapshot.items()
    }
    text = json.dumps(parsed, sort_keys=True, ensure_ascii=False)
    for value in (NAME, EMAIL):
        text = text.replace(value, ERASED).replace(json.dumps(value)[1:-1], ERASED)
    return text


def test_forget_erases_a_contact_everywhere_and_changes_nothing_else(
    services: Services, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    ledger, workers, claims = services.ledger, services.workers, services.read_models.claims
    mail = settings.mail_directory()
    (answered,) = ledger.create_claims(ADMIN_A, create(contacts=contacts(NAME, EMAIL)), days(0))
    (other,) = ledger.create_claims(
        ADMIN_A,
        create(
            ["E-AS"],
            value=NORTHWIND,
            name="Northwind",
            contacts=contacts(OTHER_NAME, OTHER_EMAIL),
        ),
        days(0),
    )
    link = ledger.request_consent(ADMIN_A, answered, consent_request(), days(0.5))
    ledger.request_consent(ADMIN_A, other, consent_request(), days(0.5))
    workers.run_once()  # the views, and both consent e-mails written to the mail folder
    ledger.answer_consent(answered, link, True, days(1))  # recorded as done by the customer
    workers.run_once()

    assert claims.details(ADMIN_A, answered).contacts.customer.email == EMAIL
    assert EMAIL in personal(mail_bytes(mail))  # the e-mail to the person
    assert personal(stored_bytes(settings)) == []  # sealed from the start: never in the clear
    before = view_snapshot(workers)

    caplog.set_level(logging.DEBUG)
    digest = current_digest(ledger, AUDITOR)  # an auditor keeps it before the erasure
    erasure = forget(ledger, workers.views, mail, AUDITOR, "Zoe.Erasable@Fabrikam.COM", days(2))
    workers.run_once()
    assert erasure.claims == (answered,) and erasure.mail_files_removed == 1

    shown = claims.details(ADMIN_A, answered).contacts
    assert (shown.customer.name, shown.customer.email) == (ERASED, ERASED)
    assert (shown.partner.name, shown.partner.email) == ("Pat Partner", "pat@a.example")
    assert claims.details(ADMIN_A, other).contacts.customer.email == OTHER_EMAIL
    history = claims.history(ADMIN_A, answered)
    given = next(h for h in history if h.event == "ConsentGiven")
    assert given.actor["id"] == ERASED
    assert personal(json.dumps([h.data for h in history], ensure_ascii=False).encode()) == []
    assert personal(stored_bytes(settings)) == []
    assert personal(mail_bytes(mail)) == []
    assert OTHER_EMAIL.encode() in mail_bytes(mail)  # the other contact's e-mail is kept
    assert personal("\n".join(r.getMessage() for r in caplog.records).encode()) == []
    assert opened(view_snapshot(workers)) == opened(before)  # only the erased fields differ
    assert personal(json.dumps(report(ledger), default=str).encode()) == []

    # The record says who erased which key and when, and nothing of the person.
    assert ledger.find(ContactErasure.id_for(erasure.key_id), ContactErasure) is not None
    (erased,) = ledger.events.get(ContactErasure.id_for(erasure.key_id))
    assert isinstance(erased, ContactErasure.Erased)
    assert (erased.actor.id, erased.key_id, erased.claims) == (
        AUDITOR.user_id,
        erasure.key_id,
        (answered,),
    )

    # The chain covers the events as stored, which the erasure did not touch.
    checked = verify(ledger, at=digest.at, expected=digest.digest)
    assert checked.ok and checked.events > 0, checked.findings

    # A replay rebuilds the same views from the events, still erased.
    with workers.store.transaction(sealed=True) as tx:
        raw = {n: tx.rows(f"SELECT * FROM {{p}}{n} ORDER BY 1, 2") for n in VIEW_TABLES}
    workers.views.replay()
    with workers.store.transaction(sealed=True) as tx:
        assert {n: tx.rows(f"SELECT * FROM {{p}}{n} ORDER BY 1, 2") for n in VIEW_TABLES} == raw
    assert opened(view_snapshot(workers)) == opened(before)

    # Asked again: the contact is not found; its key, the only way to it, is gone.
    with pytest.raises(NotFoundError):
        forget(ledger, workers.views, mail, AUDITOR, EMAIL, days(3))

    # The same person on a new claim: a new key, readable.
    (again,) = ledger.create_claims(
        ADMIN_A, create(["E-AS"], origin="claimed", contacts=contacts(NAME, EMAIL)), days(3)
    )
    workers.run_once()
    assert claims.details(ADMIN_A, again).contacts.customer.name == NAME
    assert ledger.keyring.key_id_of(EMAIL) not in (None, erasure.key_id)
    assert claims.details(ADMIN_A, answered).contacts.customer.name == ERASED


def test_an_e_mail_not_sent_yet_is_never_sent_after_the_erasure(
    services: Services, settings: Settings
) -> None:
    ledger, workers = services.ledger, services.workers
    (claim_id,) = ledger.create_claims(ADMIN_A, create(contacts=contacts(NAME, EMAIL)), days(0))
    ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(0.5))
    workers.views.catch_up()  # queued, not delivered
    forget(ledger, workers.views, settings.mail_directory(), AUDITOR, EMAIL, days(1))
    workers.run_once()
    assert personal(mail_bytes(settings.mail_directory())) == []
    assert services.read_models.claims.details(ADMIN_A, claim_id).consent_email == "superseded"


def test_only_auditors_erase_and_an_unknown_contact_is_not_found(
    services: Services, settings: Settings
) -> None:
    ledger, views = services.ledger, services.workers.views
    ledger.create_claims(ADMIN_A, create(contacts=contacts(NAME, EMAIL)), days(0))
    with pytest.raises(ForbiddenError):
        forget(ledger, views, settings.mail_directory(), ADMIN_A, EMAIL, days(1))
    with pytest.raises(NotFoundError):
        forget(ledger, views, settings.mail_directory(), AUDITOR, "nobody@x.example", days(1))
    assert ledger.keyring.key_id_of(EMAIL) is not None  # nothing was erased


def test_the_events_hold_sealed_strings_the_views_open(services: Services) -> None:
    ledger = services.ledger
    (claim_id,) = ledger.create_claims(ADMIN_A, create(contacts=contacts(NAME, EMAIL)), days(0))
    (stored,) = ledger.recorder.select_events(claim_id)
    assert EMAIL.encode() not in stored.state and b"\\u0001sealed:" in stored.state
    (created,) = ledger.events.get(claim_id)
    assert created.contacts.customer.email == EMAIL  # type: ignore[attr-defined]
    sealed_under = key_ids([stored.state.decode()])
    assert sealed_under == {
        ledger.keyring.key_id_of(EMAIL),
        ledger.keyring.key_id_of("pat@a.example"),
    }
    assert isinstance(claim_id, UUID)


def customer_of(ledger: Ledger, claim_id: UUID) -> Contact:
    """The customer contact as a command of this Ledger would see it (from the events)."""
    return ledger._claim(claim_id).contacts.customer


def test_another_process_drops_its_copy_of_the_key_before_the_erasure_answers(
    services: Services, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second Ledger on the same store (as another process) that opened the contact's data
    reads [erased] once the erasure has answered, and seals a new claim under a new key."""
    monkeypatch.setattr("ledger.store.personal.ERASURES_TTL_SECONDS", 0.2)
    ledger = services.ledger
    (claim_id,) = ledger.create_claims(ADMIN_A, create(contacts=contacts(NAME, EMAIL)), days(0))
    other = open_ledger(settings, make_catalog())
    try:
        assert customer_of(other, claim_id).email == EMAIL
        old_key = other.keyring.key_id_of(EMAIL)
        forget(ledger, services.workers.views, settings.mail_directory(), AUDITOR, EMAIL, days(1))
        assert customer_of(other, claim_id).email == ERASED
        made = create(
            ["E-AS"],
            value=NORTHWIND,
            name="Northwind",
            contacts=contacts(NAME, EMAIL),
            tenant_mismatch_reason="she works for both",
        )
        (new,) = other.create_claims(ADMIN_A, made, days(2))
        assert customer_of(ledger, new).name == NAME
        assert ledger.keyring.key_id_of(EMAIL) not in (None, old_key)
    finally:
        other.close()
