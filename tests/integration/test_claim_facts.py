"""What each event does to a claim is defined once (``ledger.aggregates.claim.evolve``): the
claims view's row of a claim is ``row_of`` the aggregate's facts, at every version of a
lifecycle that takes every kind of step; and a view that lost the facts it keeps between
pages (views built before it kept them) folds them again from its history, as a replay does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from ledger.aggregates.claim import Claim, ClaimState
from ledger.domain.commands import Dispute, Review, parse
from ledger.projections.claims import CLAIM_COLUMNS, row_of
from ledger.runtime.bootstrap import Services
from ledger.service.application import Ledger
from tests.factories import ADMIN_A, AUDITOR, REVIEWER, consent_request, create, days, proof
from tests.factories import view_snapshot as snapshot

Step = Callable[[Ledger, UUID], object]


def review(at: float, action: str, reason: str | None = None) -> Step:
    body = {"action": action} if reason is None else {"action": action, "reason": reason}
    return lambda ledger, c: ledger.review(REVIEWER, c, parse(Review, body), days(at))


def answer(ledger: Ledger, claim_id: UUID) -> object:
    link = ledger.get_claim(AUDITOR, claim_id).consent_link_id
    assert link is not None
    return ledger.answer_consent(claim_id, link, True, days(1))


LIFECYCLE: list[Step] = [
    lambda ledger, c: ledger.request_consent(ADMIN_A, c, consent_request(), days(0.5)),
    lambda ledger, c: ledger.send_consent_reminder(ADMIN_A, c, days(0.6)),
    answer,
    lambda ledger, c: ledger.submit(ADMIN_A, c, proof(), days(2)),
    review(2.1, "start"),
    review(2.2, "request_information", "the invoice is unreadable"),
    lambda ledger, c: ledger.submit(ADMIN_A, c, proof(), days(3)),
    review(3.1, "start"),
    review(3.2, "reject", "no proof of execution"),
    lambda ledger, c: ledger.dispute(ADMIN_A, c, Dispute(reason="see page 2"), days(4)),
    lambda ledger, c: ledger.submit(ADMIN_A, c, proof(), days(5)),
    review(5.1, "start"),
    review(5.2, "approve"),
]


def the_row(services: Services, claim_id: UUID) -> dict[str, Any]:
    with services.store.transaction() as tx:
        found = tx.one("SELECT * FROM {p}claims WHERE claim_id = ?", (str(claim_id),))
    assert found is not None
    return found


def the_aggregate(ledger: Ledger, claim_id: UUID) -> Claim:
    claim: object = ledger.repository.get(claim_id)
    assert isinstance(claim, Claim)
    return claim


def test_the_views_row_is_the_aggregates_at_every_version(services: Services) -> None:
    ledger, views = services.ledger, services.workers.views
    (claim_id,) = ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    versions = []
    for step in [None, *LIFECYCLE]:
        if step is not None:
            step(ledger, claim_id)
        services.workers.policies.catch_up()  # the referral and co-sell policies' events too
        views.catch_up()
        claim = the_aggregate(ledger, claim_id)
        assert the_row(services, claim_id) == row_of(claim.facts)
        assert list(row_of(claim.facts)) == CLAIM_COLUMNS
        versions.append(claim.version)
    assert the_aggregate(ledger, claim_id).state is ClaimState.APPROVED
    assert len(set(versions)) == len(LIFECYCLE) + 1


def test_a_view_without_its_facts_folds_them_from_its_history(services: Services) -> None:
    ledger, views = services.ledger, services.workers.views
    (claim_id,) = ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    for n, step in enumerate(LIFECYCLE):
        step(ledger, claim_id)
        views.catch_up()
        if n in {1, 6}:  # as a database whose views were built by an earlier release
            with services.store.transaction(commit=True) as tx:
                tx.execute("DELETE FROM {p}claim_facts")
    claim = the_aggregate(ledger, claim_id)
    assert the_row(services, claim_id) == row_of(claim.facts)
    live = snapshot(services.workers)
    views.replay()
    assert snapshot(services.workers) == live


def test_the_facts_the_view_keeps_hold_contacts_sealed_as_its_rows_do(services: Services) -> None:
    """Personal data in the kept facts is sealed under the contact's key, as in the claims
    row's contacts and the history: erasing the key erases it there too."""
    ledger = services.ledger
    (claim_id,) = ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(0.5))
    services.workers.views.catch_up()
    with services.store.transaction(sealed=True) as tx:
        (kept,) = tx.rows("SELECT facts FROM {p}claim_facts")
        (row,) = tx.rows("SELECT contacts FROM {p}claims")
    for personal in ("Cora Customer", "cio@fabrikam.com", "Pat Partner", "pat@a.example"):
        assert personal not in kept["facts"] and personal not in row["contacts"]
    assert "sealed:" in kept["facts"]
