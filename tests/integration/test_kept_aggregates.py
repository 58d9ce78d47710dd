"""The aggregates a process keeps between commands (``AggregateCache``), on SQLite and
PostgreSQL, with a second Ledger on the same store playing another process: a kept copy that
the other moved on never decides anything (a save on it runs again on the store, a refusal
on it is checked on the store, a copy read and not saved is compared with the store), and an
erasure in the other process drops the copies' opened contacts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ledger.aggregates.claim import Claim, ClaimState
from ledger.domain.errors import ConflictError, LedgerError, RuleRefusedError
from ledger.runtime.bootstrap import Services
from ledger.runtime.erasure import forget
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from tests.factories import (
    ADMIN_A,
    ADMIN_B,
    ADMIN_C,
    AUDITOR,
    create,
    days,
    make_catalog,
)
from tests.factories import consent_request as consent

EMAIL = "kept.copy@fabrikam.com"


@pytest.fixture
def two(settings: Settings) -> Iterator[tuple[Ledger, Ledger]]:
    """Two Ledgers on one store, as two processes."""
    here, there = open_ledger(settings, make_catalog()), open_ledger(settings, make_catalog())
    yield here, there
    here.close()
    there.close()


def counting_reads(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every read of an aggregate's events from the store by ``ledger``, noted."""
    reads: list[Any] = []
    recorder: Any = ledger.recorder
    for name in ("select_events", "select_streams"):
        if hasattr(recorder, name):
            monkeypatch.setattr(recorder, name, noting(getattr(recorder, name), reads))
    return reads


def noting(read: Callable[..., Any], reads: list[Any]) -> Callable[..., Any]:
    def noted(*args: Any, **kwargs: Any) -> Any:
        reads.append(args)
        return read(*args, **kwargs)

    return noted


def versions(ledger: Ledger, claim_id: Any) -> list[int]:
    return [e.originator_version for e in ledger.events.get(claim_id)]


def test_the_next_command_on_a_claim_reads_nothing_from_the_store(
    two: tuple[Ledger, Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    here, _ = two
    (claim_id,) = here.create_claims(ADMIN_A, create(), days(0))
    reads = counting_reads(here, monkeypatch)
    link = here.request_consent(ADMIN_A, claim_id, consent(), days(0.5))
    assert here.answer_consent(claim_id, link, True, days(1)) is ClaimState.CONSENT_RECEIVED
    assert reads == []


def test_a_claim_is_made_with_one_read_of_its_known_customer_and_seats(
    two: tuple[Ledger, Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    here, _ = two
    reads = counting_reads(here, monkeypatch)
    here.create_claims(ADMIN_A, create(["E-WS", "E-AS"]), days(0))
    assert len(reads) == 1


def test_with_none_kept_each_command_reads_its_claim_from_the_store(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = open_ledger(settings.model_copy(update={"kept_aggregates": 0}), make_catalog())
    try:
        (claim_id,) = ledger.create_claims(ADMIN_A, create(), days(0))
        reads = counting_reads(ledger, monkeypatch)
        ledger.request_consent(ADMIN_A, claim_id, consent(), days(0.5))
        assert len(reads) == 1  # the claim
    finally:
        ledger.close()


def test_a_save_on_a_copy_another_process_moved_on_runs_again_on_the_store(
    two: tuple[Ledger, Ledger],
) -> None:
    here, there = two
    (claim_id,) = here.create_claims(ADMIN_A, create(), days(0))
    here.request_consent(ADMIN_A, claim_id, consent(), days(0.5))  # kept here at version 2
    there.send_consent_reminder(ADMIN_A, claim_id, days(1))  # version 3, there
    link = here.send_consent_reminder(ADMIN_A, claim_id, days(2))
    assert versions(there, claim_id) == [1, 2, 3, 4]
    assert there.answer_consent(claim_id, link, True, days(3)) is ClaimState.CONSENT_RECEIVED


def test_a_refusal_on_a_kept_copy_is_checked_on_the_store(
    two: tuple[Ledger, Ledger],
) -> None:
    here, there = two
    (claim_id,) = here.create_claims(ADMIN_A, create(), days(0))  # kept here: no consent asked
    link = there.request_consent(ADMIN_A, claim_id, consent(), days(0.5))
    assert here.answer_consent(claim_id, link, True, days(1)) is ClaimState.CONSENT_RECEIVED


def make_known_there(here: Ledger, there: Ledger) -> None:
    """``here`` keeps Fabrikam as unknown to partner A; ``there`` makes it known."""
    (claim_id,) = here.create_claims(ADMIN_A, create(), days(0))
    link = there.request_consent(ADMIN_A, claim_id, consent(), days(0.5))
    there.answer_consent(claim_id, link, True, days(1))


def test_a_customer_made_known_elsewhere_may_be_claimed_here(
    two: tuple[Ledger, Ledger],
) -> None:
    here, there = two
    make_known_there(here, there)
    assert here.create_claims(ADMIN_A, create(["E-AS"], origin="claimed"), days(2))


def test_a_customer_made_known_elsewhere_is_not_added_again_here(
    two: tuple[Ledger, Ledger],
) -> None:
    """The known customer is read and not saved: its kept copy (none) is compared with the
    store before the save."""
    here, there = two
    make_known_there(here, there)
    with pytest.raises(ConflictError) as refused:
        here.create_claims(ADMIN_A, create(["E-AS"], origin="added"), days(2))
    assert refused.value.slug == "customer-already-known"


def test_another_partner_s_claim_made_elsewhere_counts_here(
    two: tuple[Ledger, Ledger],
) -> None:
    """The seat is saved: a kept seat another process filled fails the save, and the
    command runs again on the store (R10: two claims of the assessment per customer)."""
    here, there = two
    here.create_claims(ADMIN_A, create(["E-AS"]), days(0))  # here keeps the seat: one taken
    there.create_claims(ADMIN_B, create(["E-AS"], location="LOC-B1"), days(0.1))
    with pytest.raises(LedgerError) as refused:
        here.create_claims(ADMIN_C, create(["E-AS"], location="LOC-C1"), days(0.2))
    assert refused.value.slug == "claim-limit-reached"


def test_an_erasure_in_another_process_drops_the_kept_contacts(
    services: Services, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ledger.store.personal.ERASURES_TTL_SECONDS", 0.2)
    here = open_ledger(settings, make_catalog())
    try:
        contacts = {
            "customer": {"name": "Kay Kept", "email": EMAIL},
            "partner": {"name": "Pat Partner", "email": "pat@a.example"},
        }
        (claim_id,) = here.create_claims(ADMIN_A, create(contacts=contacts), days(0))
        erasing = services.ledger
        forget(erasing, services.workers.views, settings.mail_directory(), AUDITOR, EMAIL, days(1))
        with pytest.raises(RuleRefusedError) as refused:
            here.request_consent(ADMIN_A, claim_id, consent(), days(2))
        assert refused.value.slug == "contact-erased"
        assert isinstance(here.get_claim(AUDITOR, claim_id), Claim)
    finally:
        here.close()
