"""The same scenarios on a SQLite file and on PostgreSQL: events survive a restart."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.aggregates.claim import ClaimState
from ledger.aggregates.seat import Seat
from ledger.demo.scenario import play
from ledger.domain.catalog import Catalog
from ledger.domain.commands import Dispute, Review
from ledger.domain.errors import LedgerError
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from tests.factories import (
    ADMIN_A,
    ADMIN_B,
    CATALOG_DATA,
    FABRIKAM,
    REVIEWER,
    consent_request,
    create,
    days,
    make_catalog,
    proof,
)

S = ClaimState


def test_the_whole_lifecycle_is_stored_and_rebuilt_after_a_restart(
    stored_ledger: Ledger, settings: Settings
) -> None:
    ws, assess = stored_ledger.create_claims(ADMIN_A, create(["E-WS", "E-AS"]), days(0))
    link = stored_ledger.request_consent(ADMIN_A, ws, consent_request("1234.56"), days(1))
    link = stored_ledger.send_consent_reminder(ADMIN_A, ws, days(2))
    stored_ledger.answer_consent(ws, link, True, days(3))
    stored_ledger.submit(ADMIN_A, ws, proof(), days(4))
    stored_ledger.review(REVIEWER, ws, Review(action="start"), days(5))
    stored_ledger.review(REVIEWER, ws, Review(action="reject", reason="r"), days(6))
    stored_ledger.dispute(ADMIN_A, ws, Dispute(reason="please look again"), days(7))
    stored_ledger.submit(ADMIN_A, ws, proof(), days(8))
    stored_ledger.review(REVIEWER, ws, Review(action="start"), days(9))
    stored_ledger.review(REVIEWER, ws, Review(action="approve"), days(10))
    assert stored_ledger.expire_due(days(40)) == [assess]

    reopened = open_ledger(settings, make_catalog())
    try:
        claim = reopened.get_claim(ADMIN_A, ws)
        assert claim.state is S.APPROVED
        assert claim.payout_usd == Decimal("5000.00")
        assert claim.deal_size_usd == Decimal("1234.56")
        assert claim.disputed
        assert reopened.get_claim(ADMIN_A, assess).state is S.CONSENT_EXPIRED
        names = [type(e).__name__ for e in reopened.history(ADMIN_A, ws)]
        assert names == [
            "Added", "ConsentRequested", "ConsentReminderSent", "ConsentGiven", "Submitted",
            "ReviewStarted", "Rejected", "Disputed", "Submitted", "ReviewStarted", "Approved",
        ]  # fmt: skip
        assert list(reopened.claim_ids()) == [ws, assess]
        seat = reopened.find(Seat.id_for("E-WS", f"tenant_id:{FABRIKAM}"), Seat)
        assert seat is not None and seat.count == 1
        assert reopened.is_known_customer("P-A", claim.terms.customer_id)
    finally:
        reopened.close()


def test_history_stays_true_after_the_catalog_changes(
    stored_ledger: Ledger, settings: Settings
) -> None:
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    changed = dict(CATALOG_DATA)
    changed["engagements"] = [
        {**e, "fixed_payout_usd": "1.00", "customer_claim_limit": 5} if e["id"] == "E-WS" else e
        for e in CATALOG_DATA["engagements"]
    ]
    reopened = open_ledger(settings, Catalog.model_validate(changed))
    try:
        claim = reopened.get_claim(ADMIN_A, claim_id)
        assert claim.terms.fixed_payout_usd == Decimal("5000.00")
        # The new limit applies to new decisions only.
        reopened.create_claims(ADMIN_B, create(["E-WS"], location="LOC-B1"), days(1))
    finally:
        reopened.close()


def test_refused_commands_write_nothing(stored_ledger: Ledger) -> None:
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    head = stored_ledger.recorder.max_notification_id()
    for command in (
        lambda: stored_ledger.create_claims(ADMIN_B, create(["E-WS"], location="LOC-B1"), days(1)),
        lambda: stored_ledger.submit(ADMIN_A, claim_id, proof(), days(1)),
        lambda: stored_ledger.review(REVIEWER, claim_id, Review(action="approve"), days(1)),
    ):
        with pytest.raises(LedgerError):
            command()
    assert stored_ledger.recorder.max_notification_id() == head


def test_the_demo_scenario_plays_on_both_stores(settings: Settings) -> None:
    ledger = open_ledger(settings)
    try:
        result = play(ledger, days(200), log=lambda _: None)
        states = {t: ledger.get_claim(REVIEWER, c).state for t, c in result.claims.items()}
    finally:
        ledger.close()
    assert len(result.refusals) == 1 and "claim-limit-reached" in result.refusals[0]
    assert set(states.values()) >= {S.APPROVED, S.REJECTED_FINAL, S.CONSENT_DECLINED, S.CANCELLED}
    assert result.expired == [result.claims["Fabrikam security (left waiting for consent)"]]
