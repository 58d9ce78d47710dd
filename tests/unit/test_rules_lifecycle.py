"""Consent (R20-R25), submission and review (R30-R35), policies' commands (R40-R42), R50."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from ledger.aggregates.base import SYSTEM
from ledger.aggregates.claim import Claim, ClaimState, DeadlineKind
from ledger.aggregates.referral import Referral
from ledger.domain.commands import Cancel, Dispute, RequestConsent, Review, parse
from ledger.domain.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    RuleRefusedError,
    StaleVersionError,
)
from ledger.service.application import Ledger
from tests.factories import (
    ADMIN_A,
    ADMIN_B,
    AUDITOR,
    FABRIKAM,
    NORTHWIND,
    REVIEWER,
    T0,
    USER_A1,
    consent_request,
    consented_claim,
    create,
    days,
    proof,
)

S = ClaimState


def new_claim(ledger: Ledger, engagements: list[str] | None = None) -> UUID:
    (claim_id,) = ledger.create_claims(ADMIN_A, create(engagements), days(0))
    return claim_id


def state(ledger: Ledger, claim_id: UUID) -> ClaimState:
    return ledger.get_claim(ADMIN_A, claim_id).state


def review(
    ledger: Ledger, claim_id: UUID, action: str, at: float, reason: str | None = "r"
) -> None:
    ledger.review(
        REVIEWER, claim_id, Review.model_validate({"action": action, "reason": reason}), days(at)
    )


def rejected_claim(ledger: Ledger) -> UUID:
    claim_id = consented_claim(ledger)
    ledger.submit(ADMIN_A, claim_id, proof(), days(5))
    review(ledger, claim_id, "start", 6)
    review(ledger, claim_id, "reject", 7)
    return claim_id


# -- consent ---------------------------------------------------------------------------------


def test_r20_consent_deadline_is_consent_days_after_creation(ledger: Ledger) -> None:
    claim_id = new_claim(ledger)
    claim = ledger.get_claim(ADMIN_A, claim_id)
    assert claim.deadlines[DeadlineKind.CONSENT] == T0 + timedelta(days=30)


def test_r20_resending_does_not_extend_the_consent_deadline(ledger: Ledger) -> None:
    claim_id = new_claim(ledger)
    ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    ledger.send_consent_reminder(ADMIN_A, claim_id, days(20))
    assert ledger.get_claim(ADMIN_A, claim_id).deadlines[DeadlineKind.CONSENT] == days(30)
    assert ledger.expire_due(days(30)) == [claim_id]
    assert state(ledger, claim_id) is S.CONSENT_EXPIRED


@pytest.mark.parametrize("deal", ["0", "-5", "10.123", "abc"])
def test_r21_deal_size_must_be_positive_with_two_decimals(deal: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        parse(RequestConsent, {"deal_size_usd": deal, "disclaimer_accepted": True})
    assert (refused.value.field, refused.value.rule) == ("deal_size_usd", "R21")


def test_r21_disclaimer_must_be_accepted(ledger: Ledger) -> None:
    claim_id = new_claim(ledger)
    command = parse(RequestConsent, {"deal_size_usd": "10.00", "disclaimer_accepted": False})
    with pytest.raises(RuleRefusedError) as refused:
        ledger.request_consent(ADMIN_A, claim_id, command, days(1))
    assert (refused.value.slug, refused.value.rule) == ("disclaimer-not-accepted", "R21")
    assert state(ledger, claim_id) is S.CUSTOMER_CLAIMED


def test_r21_contacts_may_be_updated_with_the_request(ledger: Ledger) -> None:
    claim_id = new_claim(ledger)
    contacts = {
        "customer": {"name": "New Person", "email": "new@fabrikam.com"},
        "partner": {"name": "Pat", "email": "pat@a.example"},
    }
    command = parse(
        RequestConsent,
        {"deal_size_usd": "99.50", "disclaimer_accepted": True, "contacts": contacts},
    )
    ledger.request_consent(ADMIN_A, claim_id, command, days(1))
    claim = ledger.get_claim(ADMIN_A, claim_id)
    assert claim.contacts.customer.email == "new@fabrikam.com"
    assert claim.deal_size_usd == Decimal("99.50")


def test_r22_deal_size_never_changes_after_the_request(ledger: Ledger) -> None:
    claim_id = new_claim(ledger)
    ledger.request_consent(ADMIN_A, claim_id, consent_request("100.00"), days(1))
    with pytest.raises(InvalidTransitionError):
        ledger.request_consent(ADMIN_A, claim_id, consent_request("900.00"), days(2))
    ledger.send_consent_reminder(ADMIN_A, claim_id, days(3))
    assert ledger.get_claim(ADMIN_A, claim_id).deal_size_usd == Decimal("100.00")


def test_r23_the_customer_answers_through_the_link_without_an_account(ledger: Ledger) -> None:
    claim_id = new_claim(ledger)
    link = ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    ledger.answer_consent(claim_id, link, True, days(2))
    given = ledger.history(ADMIN_A, claim_id)[-1]
    assert isinstance(given, Claim.ConsentGiven)
    assert (given.actor.kind.value, given.actor.id) == ("customer", "cio@fabrikam.com")


def test_r23_the_link_expires_with_the_consent_deadline(ledger: Ledger) -> None:
    claim_id = new_claim(ledger)
    link = ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    with pytest.raises(ConflictError) as refused:
        ledger.answer_consent(claim_id, link, True, days(30))
    assert refused.value.slug == "deadline-passed"
    assert state(ledger, claim_id) is S.AWAITING_CONSENT


def test_r24_only_the_latest_link_is_valid_after_a_reminder(ledger: Ledger) -> None:
    claim_id = new_claim(ledger)
    old = ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    new = ledger.send_consent_reminder(ADMIN_A, claim_id, days(2))
    with pytest.raises(ConflictError) as refused:
        ledger.answer_consent(claim_id, old, True, days(3))
    assert (refused.value.slug, refused.value.rule) == ("consent-link-superseded", "R24")
    ledger.answer_consent(claim_id, new, False, days(3))
    assert state(ledger, claim_id) is S.CONSENT_DECLINED


def test_r24_answering_twice_changes_nothing(ledger: Ledger) -> None:
    claim_id = new_claim(ledger)
    link = ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    ledger.answer_consent(claim_id, link, True, days(2))
    version = ledger.get_claim(ADMIN_A, claim_id).version
    for accept in (True, False):
        with pytest.raises(ConflictError) as refused:
            ledger.answer_consent(claim_id, link, accept, days(3))
        assert refused.value.slug == "consent-already-answered"
    assert ledger.get_claim(ADMIN_A, claim_id).version == version


@pytest.mark.parametrize("ending", ["declined", "expired", "cancelled"])
def test_r25_a_claim_ending_without_consent_stays_in_history(ledger: Ledger, ending: str) -> None:
    claim_id = new_claim(ledger)
    link = ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    if ending == "declined":
        ledger.answer_consent(claim_id, link, False, days(2))
    elif ending == "expired":
        ledger.expire_due(days(31))
    else:
        ledger.cancel(ADMIN_A, claim_id, Cancel(), days(2))
    claim = ledger.get_claim(ADMIN_A, claim_id)
    assert claim.terminal and not claim.had_consent
    assert claim_id in set(ledger.claim_ids())
    assert len(ledger.history(ADMIN_A, claim_id)) == 3
    # It did not make the customer known, and it freed its place for a new claim.
    assert not ledger.is_known_customer("P-A", claim.terms.customer_id)
    (again,) = ledger.create_claims(ADMIN_A, create(), days(40))
    assert state(ledger, again) is S.CUSTOMER_CLAIMED


# -- submission, review, dispute --------------------------------------------------------------


def test_r30_submission_needs_every_required_proof_item(ledger: Ledger) -> None:
    claim_id = consented_claim(ledger)
    with pytest.raises(RuleRefusedError) as refused:
        ledger.submit(ADMIN_A, claim_id, proof(["invoice", "poe_document"]), days(2))
    assert (refused.value.slug, refused.value.rule) == ("proof-missing", "R30")
    assert refused.value.extra["missing"] == ["customer_survey", "partner_survey"]
    ledger.submit(ADMIN_A, claim_id, proof(), days(2))
    assert state(ledger, claim_id) is S.SUBMITTED


def test_r30_submission_is_refused_after_its_deadline(ledger: Ledger) -> None:
    claim_id = consented_claim(ledger)  # consent at day 1; workshop: 90 days to submit
    with pytest.raises(ConflictError) as refused:
        ledger.submit(ADMIN_A, claim_id, proof(), days(91))
    assert refused.value.slug == "deadline-passed"
    ledger.submit(ADMIN_A, claim_id, proof(), days(90.9))


def test_r30_resubmission_from_partner_action_required(ledger: Ledger) -> None:
    claim_id = consented_claim(ledger)
    ledger.submit(ADMIN_A, claim_id, proof(), days(5))
    review(ledger, claim_id, "start", 6)
    review(ledger, claim_id, "request_information", 7, "add the invoice date")
    assert state(ledger, claim_id) is S.PARTNER_ACTION_REQUIRED
    ledger.submit(ADMIN_A, claim_id, proof(), days(8))
    assert ledger.get_claim(ADMIN_A, claim_id).submissions == 2


def test_r31_cancel_only_before_the_first_submission(ledger: Ledger) -> None:
    claim_id = consented_claim(ledger)
    ledger.submit(ADMIN_A, claim_id, proof(), days(2))
    with pytest.raises(InvalidTransitionError) as refused:
        ledger.cancel(ADMIN_A, claim_id, Cancel(reason="late"), days(3))
    assert refused.value.rule == "R31"
    assert refused.value.extra["state"] == "submitted"


def test_r31_cancel_after_consent_is_allowed(ledger: Ledger) -> None:
    claim_id = consented_claim(ledger)
    ledger.cancel(ADMIN_A, claim_id, Cancel(reason="scope changed"), days(2))
    claim = ledger.get_claim(ADMIN_A, claim_id)
    assert claim.state is S.CANCELLED and claim.had_consent


def test_r32_only_reviewers_review(ledger: Ledger) -> None:
    claim_id = consented_claim(ledger)
    ledger.submit(ADMIN_A, claim_id, proof(), days(2))
    with pytest.raises(ForbiddenError):
        ledger.review(ADMIN_A, claim_id, Review(action="start"), days(3))


@pytest.mark.parametrize("action", ["request_information", "reject", "reject_final"])
def test_r32_reviewer_actions_need_a_reason(ledger: Ledger, action: str) -> None:
    claim_id = consented_claim(ledger)
    ledger.submit(ADMIN_A, claim_id, proof(), days(2))
    review(ledger, claim_id, "start", 3, None)
    with pytest.raises(RuleRefusedError) as refused:
        review(ledger, claim_id, action, 4, None)
    assert (refused.value.slug, refused.value.rule) == ("reason-required", "R32")


def test_r33_approval_records_the_fixed_payout(ledger: Ledger) -> None:
    claim_id = consented_claim(ledger)
    ledger.submit(ADMIN_A, claim_id, proof(), days(2))
    review(ledger, claim_id, "start", 3)
    review(ledger, claim_id, "approve", 4, None)
    approved = ledger.history(ADMIN_A, claim_id)[-1]
    assert isinstance(approved, Claim.Approved)
    assert approved.payout_usd == Decimal("5000.00")


def test_r33_approval_records_the_proposed_variable_payout(ledger: Ledger) -> None:
    claim_id = consented_claim(
        ledger, engagements=["E-VAR"], id_type="msx_opportunity_id", value="7-LARGE00001", hours=12
    )
    ledger.submit(ADMIN_A, claim_id, proof(["invoice"]), days(2))
    review(ledger, claim_id, "start", 3)
    review(ledger, claim_id, "approve", 4, None)
    assert ledger.get_claim(ADMIN_A, claim_id).payout_usd == Decimal("2400.00")


def test_r34_a_rejection_may_be_disputed_within_dispute_days(ledger: Ledger) -> None:
    claim_id = rejected_claim(ledger)  # rejected at day 7; 30 dispute days
    with pytest.raises(ConflictError) as refused:
        ledger.dispute(ADMIN_A, claim_id, Dispute(), days(37))
    assert refused.value.slug == "deadline-passed"
    ledger.dispute(ADMIN_A, claim_id, Dispute(reason="see new proof"), days(36))
    assert state(ledger, claim_id) is S.DISPUTED


def test_r34_a_dispute_is_allowed_once(ledger: Ledger) -> None:
    claim_id = rejected_claim(ledger)
    ledger.dispute(ADMIN_A, claim_id, Dispute(), days(8))
    ledger.submit(ADMIN_A, claim_id, proof(), days(9))
    review(ledger, claim_id, "start", 10)
    review(ledger, claim_id, "reject", 11)
    assert state(ledger, claim_id) is S.REJECTED_FINAL
    with pytest.raises(InvalidTransitionError):
        ledger.dispute(ADMIN_A, claim_id, Dispute(), days(12))


def test_r34_an_undisputed_rejection_expires(ledger: Ledger) -> None:
    claim_id = rejected_claim(ledger)
    assert ledger.expire_due(days(36)) == []
    assert ledger.expire_due(days(37)) == [claim_id]
    assert state(ledger, claim_id) is S.DISPUTED_EXPIRED


def test_r35_a_dispute_resets_the_remaining_deadline_once(ledger: Ledger) -> None:
    claim_id = rejected_claim(ledger)
    ledger.dispute(ADMIN_A, claim_id, Dispute(), days(20))
    claim = ledger.get_claim(ADMIN_A, claim_id)
    assert claim.running_deadline() == (DeadlineKind.DISPUTE, days(50))
    ledger.submit(ADMIN_A, claim_id, proof(), days(21))
    review(ledger, claim_id, "start", 22)
    review(ledger, claim_id, "request_information", 23)
    claim = ledger.get_claim(ADMIN_A, claim_id)
    assert claim.running_deadline() == (DeadlineKind.POST_SUBMISSION, days(50))
    assert ledger.expire_due(days(50)) == [claim_id]
    assert state(ledger, claim_id) is S.POST_SUBMISSION_EXPIRED


def test_r35_a_disputed_claim_not_resubmitted_expires(ledger: Ledger) -> None:
    claim_id = rejected_claim(ledger)
    ledger.dispute(ADMIN_A, claim_id, Dispute(), days(8))
    ledger.expire_due(days(38))
    assert state(ledger, claim_id) is S.DISPUTED_EXPIRED


def test_r35_reject_final_at_once(ledger: Ledger) -> None:
    claim_id = consented_claim(ledger)
    ledger.submit(ADMIN_A, claim_id, proof(), days(2))
    review(ledger, claim_id, "start", 3)
    review(ledger, claim_id, "reject_final", 4, "fraudulent proof")
    assert state(ledger, claim_id) is S.REJECTED_FINAL


# -- policies' commands on the claim ----------------------------------------------------------


def test_r40_a_claim_records_one_referral_however_often_asked(ledger: Ledger) -> None:
    claim_id = new_claim(ledger)
    ledger.request_consent(ADMIN_A, claim_id, consent_request("5000.00"), days(1))
    referral_id = ledger.create_referral(claim_id, days(1))
    assert referral_id is not None
    assert ledger.create_referral(claim_id, days(2)) == referral_id
    events = [type(e) for e in ledger.history(ADMIN_A, claim_id)]
    assert events.count(Claim.ReferralCreated) == 1
    referral = ledger.find(referral_id, Referral)
    assert referral is not None
    assert (referral.status, referral.type, referral.claim_id) == ("new", "independent", claim_id)
    assert state(ledger, claim_id) is S.AWAITING_CONSENT


@pytest.mark.parametrize(
    ("engagement", "deal", "id_type", "value", "made"),
    [
        ("E-WS", "999.99", "tenant_id", FABRIKAM, False),  # below the 1 000 USD minimum
        ("E-WS", "1000.00", "tenant_id", FABRIKAM, True),
        ("E-AS", "5000.00", "tenant_id", FABRIKAM, False),  # referrals not enabled
        ("E-WS", "5000.00", "tpid", "333", True),  # a TPID that resolves to a tenant
    ],
)
def test_r40_referral_needs_enabled_engagement_minimum_deal_and_tenant(
    ledger: Ledger, engagement: str, deal: str, id_type: str, value: str, made: bool
) -> None:
    email = "it@litware.com" if value == "333" else "cio@fabrikam.com"
    (claim_id,) = ledger.create_claims(
        ADMIN_A, create([engagement], id_type=id_type, value=value, customer_email=email), days(0)
    )
    ledger.request_consent(ADMIN_A, claim_id, consent_request(deal), days(1))
    assert (ledger.create_referral(claim_id, days(1)) is not None) is made


def test_r40_no_referral_for_a_claim_that_ended(ledger: Ledger) -> None:
    claim_id = new_claim(ledger)
    ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    ledger.cancel(ADMIN_A, claim_id, Cancel(), days(1))
    assert ledger.create_referral(claim_id, days(2)) is None


def test_r42_co_sell_upgrade_only_after_consent_and_once(ledger: Ledger) -> None:
    claim_id = new_claim(ledger)
    link = ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    referral_id = ledger.create_referral(claim_id, days(1))
    assert referral_id is not None
    assert not ledger.upgrade_to_co_sell(claim_id, days(1))
    ledger.answer_consent(claim_id, link, True, days(2))
    assert ledger.upgrade_to_co_sell(claim_id, days(2))
    assert not ledger.upgrade_to_co_sell(claim_id, days(3))
    assert ledger.get_claim(ADMIN_A, claim_id).co_sell
    referral = ledger.find(referral_id, Referral)
    assert referral is not None
    assert (referral.type, referral.qualification) == ("shared", "sales_qualified")


def test_r42_no_co_sell_for_customers_without_a_field_seller(ledger: Ledger) -> None:
    (claim_id,) = ledger.create_claims(
        ADMIN_A, create(value=NORTHWIND, customer_email="it@northwind.com"), days(0)
    )
    link = ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    ledger.create_referral(claim_id, days(1))
    ledger.answer_consent(claim_id, link, True, days(2))
    assert not ledger.upgrade_to_co_sell(claim_id, days(2))


# -- deadlines ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "due_day", "expired_state"),
    [
        ("claimed", 30, S.CONSENT_EXPIRED),
        ("consented", 91, S.NOT_SUBMITTED_EXPIRED),
        ("information", 121, S.POST_SUBMISSION_EXPIRED),
        ("rejected", 37, S.DISPUTED_EXPIRED),
    ],
)
def test_r50_each_deadline_expires_its_claim_once(
    ledger: Ledger, setup: str, due_day: float, expired_state: ClaimState
) -> None:
    if setup == "claimed":
        claim_id = new_claim(ledger)
    elif setup == "rejected":
        claim_id = rejected_claim(ledger)
    else:
        claim_id = consented_claim(ledger)
        if setup == "information":
            ledger.submit(ADMIN_A, claim_id, proof(), days(5))
            review(ledger, claim_id, "start", 6)
            review(ledger, claim_id, "request_information", 7)
    assert ledger.expire_due(days(due_day) - timedelta(seconds=1)) == []
    assert ledger.expire_due(days(due_day)) == [claim_id]
    assert ledger.expire_due(days(due_day + 1)) == []
    assert state(ledger, claim_id) is expired_state
    expired = ledger.history(ADMIN_A, claim_id)[-1]
    assert isinstance(expired, Claim.Expired) and expired.actor == SYSTEM


def test_r50_claims_under_review_do_not_expire(ledger: Ledger) -> None:
    claim_id = consented_claim(ledger)
    ledger.submit(ADMIN_A, claim_id, proof(), days(2))
    assert ledger.expire_due(days(1000)) == []
    assert state(ledger, claim_id) is S.SUBMITTED


# -- access and concurrency control -----------------------------------------------------------


def test_another_partners_claim_is_not_found(ledger: Ledger) -> None:
    claim_id = new_claim(ledger)
    with pytest.raises(NotFoundError):
        ledger.get_claim(ADMIN_B, claim_id)
    with pytest.raises(NotFoundError):
        ledger.cancel(ADMIN_B, claim_id, Cancel(), days(1))
    with pytest.raises(NotFoundError):
        ledger.get_claim(ADMIN_A, uuid4())


def test_an_incentives_user_sees_only_its_locations_claims(ledger: Ledger) -> None:
    (claim_id,) = ledger.create_claims(ADMIN_A, create(["E-A2"], location="LOC-A2"), days(0))
    with pytest.raises(ForbiddenError):
        ledger.cancel(USER_A1, claim_id, Cancel(), days(1))


def test_auditors_read_history_of_any_claim(ledger: Ledger) -> None:
    claim_id = new_claim(ledger)
    assert [type(e) for e in ledger.history(AUDITOR, claim_id)] == [Claim.Added]


def test_a_stale_expected_version_is_refused(ledger: Ledger) -> None:
    claim_id = new_claim(ledger)
    with pytest.raises(StaleVersionError) as refused:
        ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1), expected_version=2)
    assert refused.value.extra["current_version"] == 1
    ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1), expected_version=1)


def test_times_without_a_zone_are_refused(ledger: Ledger) -> None:
    with pytest.raises(InvalidInputError):
        ledger.create_claims(ADMIN_A, create(), days(0).replace(tzinfo=None))


def test_history_keeps_every_event_with_actor_and_time(ledger: Ledger) -> None:
    claim_id = consented_claim(ledger, value=FABRIKAM)
    history = ledger.history(ADMIN_A, claim_id)
    assert [type(e).__name__ for e in history] == ["Added", "ConsentRequested", "ConsentGiven"]
    assert [e.occurred_at for e in history] == [days(0), days(0.5), days(1)]
    assert [e.actor.id for e in history] == ["ann@a.example", "ann@a.example", "cio@fabrikam.com"]
