"""The aggregates a process keeps between commands (``AggregateCache``), on SQLite and
PostgreSQL, with a second Ledger on the same store playing another process: a kept copy that
the other moved on never decides anything (a save on it runs again on the store, a refusal
on it is checked on the store, a copy read and not saved is compared with the store), and an
erasure in the other process drops the copies' opened contacts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from ledger.aggregates.claim import Claim, ClaimState
from ledger.aggregates.known import KnownCustomer
from ledger.domain.commands import Review
from ledger.domain.errors import ConflictError, LedgerError, RuleRefusedError
from ledger.runtime.bootstrap import Services, bootstrap
from ledger.runtime.erasure import forget
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from ledger.store.personal import ERASED
from tests.conftest import Clock
from tests.factories import (
    ADMIN_A,
    ADMIN_B,
    ADMIN_C,
    AUDITOR,
    REVIEWER,
    create,
    days,
    make_catalog,
    proof,
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


def history_of(ledger: Ledger, claim_id: Any) -> list[str]:
    return [type(e).__name__ for e in ledger.history(ADMIN_A, claim_id)]


@pytest.fixture
def workers_apart(settings: Settings) -> Iterator[tuple[Ledger, Services, Clock]]:
    """The web's Ledger, and the workers on a Ledger of their own (``ledger serve
    --processes N`` runs them in their own process): their copies are behind the web's."""
    web, theirs, clock = (
        open_ledger(settings, make_catalog()),
        open_ledger(settings, make_catalog()),
        Clock(),
    )
    services = bootstrap(settings, ledger=theirs, clock=clock)
    yield web, services, clock
    services.workers.stop()
    services.store.close()
    theirs.close()
    web.close()


def test_a_policy_that_finds_nothing_to_do_on_a_copy_looks_at_the_store(
    workers_apart: tuple[Ledger, Services, Clock],
) -> None:
    """The workers keep the claim as their referral left it (awaiting consent); the web then
    records the consent: the co-sell upgrade decided on the copy would be 'nothing to do'."""
    web, services, _ = workers_apart
    (claim_id,) = web.create_claims(ADMIN_A, create(), days(0))
    link = web.request_consent(ADMIN_A, claim_id, consent(), days(0.5))
    services.workers.run_once()
    assert history_of(web, claim_id)[-1] == "ReferralCreated"
    web.answer_consent(claim_id, link, True, days(1))
    services.workers.run_once()
    assert history_of(web, claim_id)[-1] == "UpgradedToCoSell"


def test_a_deadline_decided_on_a_copy_is_the_store_s(
    workers_apart: tuple[Ledger, Services, Clock],
) -> None:
    """The workers keep the claim at consent received (its submission deadline far off);
    the web submits and rejects it: the dispute deadline, sooner, expires it on time."""
    web, services, clock = workers_apart
    (claim_id,) = web.create_claims(ADMIN_A, create(), days(0))
    link = web.request_consent(ADMIN_A, claim_id, consent(), days(0.5))
    web.answer_consent(claim_id, link, True, days(1))
    clock.now = days(1)
    services.workers.run_once(deadlines=True)
    assert history_of(web, claim_id)[-1] == "UpgradedToCoSell"
    web.submit(ADMIN_A, claim_id, proof(), days(1.5))
    web.review(REVIEWER, claim_id, Review(action="start"), days(1.6))
    web.review(REVIEWER, claim_id, Review(action="reject", reason="no"), days(1.7))
    running = web.get_claim(ADMIN_A, claim_id).running_deadline()
    assert running is not None
    clock.now = running[1] + timedelta(days=1)
    services.workers.run_once(deadlines=True)
    assert web.get_claim(ADMIN_A, claim_id).state is not ClaimState.REJECTED


def test_a_refusal_is_checked_against_a_twin_request_that_committed_meanwhile(
    two: tuple[Ledger, Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same request (key and body) runs in another process between this one's look at
    its record and its decision: the refusal ('already answered') gives way to the twin's
    recorded answer."""
    here, there = two
    (claim_id,) = there.create_claims(ADMIN_A, create(), days(0))
    link = there.request_consent(ADMIN_A, claim_id, consent(), days(0.5))
    request = here.request_key("customer", "key-1", "answer-yes")
    find, twins = here.find, list[Any]()

    def find_after_the_twin(aggregate_id: Any, kind: Any) -> Any:
        if aggregate_id == claim_id and not twins:
            twins.append(there.run(request, there.answer_consent, claim_id, link, True, days(1)))
        return find(aggregate_id, kind)

    monkeypatch.setattr(here, "find", find_after_the_twin)
    done = here.run(request, here.answer_consent, claim_id, link, True, days(1))
    assert done.replayed and done.result == twins[0].result


def test_a_copy_read_before_an_erasure_is_not_kept_after_it(
    two: tuple[Ledger, Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An erasure (in another process) lands between two reads of one command: the command
    runs again on fresh reads, and nothing it read before is kept."""
    here, there = two
    contacts = {
        "customer": {"name": "Kay Kept", "email": EMAIL},
        "partner": {"name": "Pat Partner", "email": "pat@a.example"},
    }
    (claim_id,) = here.create_claims(ADMIN_A, create(contacts=contacts), days(0))
    link = here.request_consent(ADMIN_A, claim_id, consent(), days(0.5))
    claim = here.get_claim(ADMIN_A, claim_id)
    known_id = KnownCustomer.id_for(claim.partner_id, claim.terms.customer_id)
    take = here.aggregates.take
    monkeypatch.setattr("ledger.store.personal.ERASURES_TTL_SECONDS", 0.0)

    def erased_meanwhile(aggregate_id: Any) -> Any:
        if aggregate_id == known_id and there.keyring.key_id_of(EMAIL) is not None:
            there.keyring.erase(str(there.keyring.key_id_of(EMAIL)), "2026-01-05T00:00:00Z")
        return take(aggregate_id)

    monkeypatch.setattr(here.aggregates, "take", erased_meanwhile)
    attempts, attempt_with = list[Any](), here._attempt_with

    def counted(*args: Any) -> Any:
        attempts.append(args)
        return attempt_with(*args)

    monkeypatch.setattr(here, "_attempt_with", counted)
    here.answer_consent(claim_id, link, True, days(1))
    assert len(attempts) == 2  # the first, begun before the drop, does not count
    monkeypatch.setattr(here.aggregates, "take", take)
    with here.aggregates.attempt():
        kept = here.find(claim_id, Claim)
    assert kept is not None and kept.contacts.customer.name == ERASED


def test_a_contact_erased_within_the_second_is_never_written_back(
    settings: Settings,
) -> None:
    """Another process erased the contact a moment ago; this one opened it before and has
    not looked at the erasures yet (it looks once a second). A consent request would write
    the opened name and address again under a new key: the key is not made, the command
    runs again on fresh reads, and R13 refuses the erased contact."""
    maker, here, eraser = (open_ledger(settings, make_catalog()) for _ in range(3))
    try:
        contacts = {
            "customer": {"name": "Kay Gone", "email": EMAIL},
            "partner": {"name": "Pat Partner", "email": "pat@a.example"},
        }
        (claim_id,) = maker.create_claims(ADMIN_A, create(contacts=contacts), days(0))
        assert here.get_claim(ADMIN_A, claim_id).contacts.customer.name == "Kay Gone"
        eraser.keyring.erase(str(eraser.keyring.key_id_of(EMAIL)), "2026-01-05T00:00:00Z")
        with pytest.raises(RuleRefusedError) as refused:
            here.request_consent(ADMIN_A, claim_id, consent(), days(0.5))
        assert refused.value.slug == "contact-erased"
        assert eraser.keyring.key_id_of(EMAIL) is None
        assert eraser.get_claim(ADMIN_A, claim_id).contacts.customer.name == ERASED
    finally:
        for ledger in (maker, here, eraser):
            ledger.close()
