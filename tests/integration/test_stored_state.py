"""The library's COMPRESSOR_TOPIC and CIPHER_TOPIC settings apply to the Ledger's events."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.cipher import AESCipher
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.persistence import MapperDeserialisationError
from pydantic import ValidationError

from ledger.aggregates.values import Contact
from ledger.service.application import Ledger
from ledger.service.settings import Settings
from tests.factories import ADMIN_A, consent_request, create, days, make_catalog

NAME = "Fabrikam Confidential"
ZLIB = {"COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"}
KEY = AESCipher.create_key(16)
AES = {"CIPHER_TOPIC": "eventsourcing.cipher:AESCipher", "CIPHER_KEY": KEY}


@pytest.fixture
def opened() -> Iterator[list[Ledger]]:
    """Ledgers opened by the test, closed afterwards."""
    ledgers: list[Ledger] = []
    yield ledgers
    for ledger in ledgers:
        ledger.close()


def open_with(settings: Settings, opened: list[Ledger], extra: dict[str, str]) -> Ledger:
    ledger = Ledger(make_catalog(), env={**settings.eventsourcing_env(), **extra})
    opened.append(ledger)
    return ledger


def stored_states(ledger: Ledger) -> list[bytes]:
    notifications = ledger.recorder.select_notifications(start=None, limit=1000)
    assert notifications
    return [bytes(n.state) for n in notifications]


def write_claim(ledger: Ledger) -> UUID:
    (claim_id,) = ledger.create_claims(ADMIN_A, create(name=NAME), days(0))
    ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    return claim_id


@pytest.mark.parametrize(
    ("extra", "mapper_has"),
    [(ZLIB, "compressor"), (AES, "cipher"), ({**ZLIB, **AES}, "both")],
    ids=["zlib", "aes", "zlib+aes"],
)
def test_events_round_trip_and_the_stored_state_is_not_plain_json(
    settings: Settings, opened: list[Ledger], extra: dict[str, str], mapper_has: str
) -> None:
    ledger = open_with(settings, opened, extra)
    if mapper_has in {"compressor", "both"}:
        assert isinstance(ledger.mapper.compressor, ZlibCompressor)
    if mapper_has in {"cipher", "both"}:
        assert isinstance(ledger.mapper.cipher, AESCipher)
    claim_id = write_claim(ledger)

    for state in stored_states(ledger):
        assert NAME.encode() not in state
        assert b'"timestamp"' not in state and b'"actor"' not in state

    reopened = open_with(settings, opened, extra)
    assert reopened.get_claim(ADMIN_A, claim_id) == ledger.get_claim(ADMIN_A, claim_id)
    assert reopened.get_claim(ADMIN_A, claim_id).terms.friendly_name == NAME
    assert [type(e).__name__ for e in reopened.history(ADMIN_A, claim_id)] == [
        "Added",
        "ConsentRequested",
    ]


def test_compressed_state_is_zlib_of_the_json(settings: Settings, opened: list[Ledger]) -> None:
    write_claim(open_with(settings, opened, ZLIB))
    first = stored_states(opened[0])[0]
    assert zlib.decompress(first).startswith(b"{") and NAME.encode() in zlib.decompress(first)


def test_without_settings_the_state_is_plain_json(settings: Settings, opened: list[Ledger]) -> None:
    ledger = open_with(settings, opened, {})
    assert ledger.mapper.compressor is None and ledger.mapper.cipher is None
    write_claim(ledger)
    assert any(NAME.encode() in state for state in stored_states(ledger))


def test_encrypted_events_do_not_read_without_the_key(
    settings: Settings, opened: list[Ledger]
) -> None:
    write_claim(open_with(settings, opened, AES))
    other_key = {**AES, "CIPHER_KEY": AESCipher.create_key(16)}
    for extra in ({}, other_key):
        reader = open_with(settings, opened, extra)
        notification = reader.recorder.select_notifications(start=None, limit=1)[0]
        with pytest.raises(MapperDeserialisationError):
            reader.mapper.to_domain_event(notification)


def test_events_read_back_equal_the_events_made(
    stored_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trusted decoding: our own stored events are rebuilt without the costly checks of the
    way in (e-mail syntax), and every one equals the event the command made."""
    made: list[object] = []
    save = stored_ledger.save

    def keep(*aggregates: Any, **kwargs: Any) -> Any:
        made.extend(e for a in aggregates if a is not None for e in a.pending_events)
        return save(*aggregates, **kwargs)

    monkeypatch.setattr(stored_ledger, "save", keep)
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    link = stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    stored_ledger.answer_consent(claim_id, link, True, days(2))
    stored = [
        stored_ledger.mapper.to_domain_event(n)
        for n in stored_ledger.recorder.select_notifications(start=None, limit=1000)
    ]
    assert stored == made and len(made) >= 5


def test_an_address_is_still_checked_on_the_way_in() -> None:
    with pytest.raises(ValidationError, match="email"):
        Contact.model_validate({"name": "Cora", "email": "not an address"})
    assert Contact.model_validate({"name": "Cora", "email": "cora@x.example"}).email_domain
