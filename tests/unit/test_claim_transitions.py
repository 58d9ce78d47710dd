"""Every transition of SPEC section 3 is allowed, and every other one refused (the aggregate)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from ledger.aggregates.base import Actor, ActorKind
from ledger.aggregates.claim import ALLOWED_ACTIONS, Action, Claim, ClaimState, ClaimTerms
from ledger.aggregates.values import Contacts, ProofDocument, ReferralTerms
from ledger.domain.catalog import Deadlines, PayoutModel, ProofItem
from ledger.domain.customer_ids import CustomerId, IdType
from ledger.domain.errors import ConflictError, InvalidTransitionError
from tests.factories import days

S = ClaimState
USER = Actor(kind=ActorKind.USER, id="ann", partner_id="P-A")
CUSTOMER = Actor(kind=ActorKind.CUSTOMER, id="cio@fabrikam.com")
CONTACTS = Contacts.model_validate(
    {
        "customer": {"name": "Cora", "email": "cio@fabrikam.com"},
        "partner": {"name": "Pat", "email": "pat@a.example"},
    }
)
DAYS = Deadlines(
    consent_days=30, first_submission_days=90, review_completion_days=120, dispute_days=30
)
PROOF = tuple(ProofDocument(kind=k, reference="doc") for k in ProofItem)


def new_claim(now: datetime | None = None) -> Claim:
    return Claim.create(
        claim_id=uuid4(),
        origin="added",
        now=now or days(0),
        actor=USER,
        terms=ClaimTerms(
            partner_id="P-A",
            location_id="LOC-A1",
            engagement_id="E-WS",
            friendly_name="Fabrikam",
            customer_id=CustomerId(type=IdType.TPID, value="111"),
            eligibility_key="tpid:111",
            resolved_tenant_id=None,
            tenant_mismatch_reason=None,
            contacts=CONTACTS,
            payout_model=PayoutModel.FIXED,
            fixed_payout_usd=Decimal("5000.00"),
            hours=None,
            proposed_payout_usd=None,
            deadline_days=DAYS,
            required_proof=tuple(ProofItem),
            referral_terms=ReferralTerms(enabled=True, min_deal_size_usd=Decimal("0")),
        ),
    )


Step = Callable[[Claim, datetime], None]


def request(claim: Claim, now: datetime) -> None:
    claim.request_consent(
        actor=USER,
        now=now,
        deal_size_usd=Decimal("100.00"),
        contacts=None,
        disclaimer_accepted=True,
        link_id=uuid4(),
    )


def answer(accept: bool) -> Step:
    def step(claim: Claim, now: datetime) -> None:
        link_id = claim.consent_link_id or uuid4()
        claim.answer_consent(actor=CUSTOMER, now=now, link_id=link_id, accept=accept)

    return step


ACTIONS: dict[Action, Step] = {
    Action.REQUEST_CONSENT: request,
    Action.SEND_CONSENT_REMINDER: lambda c, now: c.send_reminder(
        actor=USER, now=now, link_id=uuid4()
    ),
    Action.ANSWER_CONSENT: answer(True),
    Action.CANCEL: lambda c, now: c.cancel(actor=USER, now=now, reason=None),
    Action.SUBMIT: lambda c, now: c.submit(actor=USER, now=now, proof=PROOF),
    Action.DISPUTE: lambda c, now: c.dispute(actor=USER, now=now, reason="see proof"),
    Action.START: lambda c, now: c.start_review(actor=USER, now=now),
    Action.REQUEST_INFORMATION: lambda c, now: c.request_information(
        actor=USER, now=now, comments="more"
    ),
    Action.APPROVE: lambda c, now: c.approve(actor=USER, now=now),
    Action.REJECT: lambda c, now: c.reject(actor=USER, now=now, reason="no", final=False),
    Action.REJECT_FINAL: lambda c, now: c.reject(actor=USER, now=now, reason="no", final=True),
}


def expire(claim: Claim, now: datetime) -> None:
    assert claim.expire(now=days(400))


A = ACTIONS
TO_SUBMITTED = [request, answer(True), A[Action.SUBMIT]]
TO_REVIEW = [*TO_SUBMITTED, A[Action.START]]
PATHS: dict[ClaimState, list[Step]] = {
    S.CUSTOMER_CLAIMED: [],
    S.AWAITING_CONSENT: [request],
    S.CONSENT_RECEIVED: [request, answer(True)],
    S.CONSENT_DECLINED: [request, answer(False)],
    S.CONSENT_EXPIRED: [expire],
    S.CANCELLED: [A[Action.CANCEL]],
    S.NOT_SUBMITTED_EXPIRED: [request, answer(True), expire],
    S.SUBMITTED: TO_SUBMITTED,
    S.UNDER_REVIEW: TO_REVIEW,
    S.PARTNER_ACTION_REQUIRED: [*TO_REVIEW, A[Action.REQUEST_INFORMATION]],
    S.POST_SUBMISSION_EXPIRED: [*TO_REVIEW, A[Action.REQUEST_INFORMATION], expire],
    S.APPROVED: [*TO_REVIEW, A[Action.APPROVE]],
    S.REJECTED: [*TO_REVIEW, A[Action.REJECT]],
    S.DISPUTED: [*TO_REVIEW, A[Action.REJECT], A[Action.DISPUTE]],
    S.DISPUTED_EXPIRED: [*TO_REVIEW, A[Action.REJECT], expire],
    S.REJECTED_FINAL: [*TO_REVIEW, A[Action.REJECT_FINAL]],
}

EXPECTED: dict[tuple[ClaimState, Action], ClaimState] = {
    (S.CUSTOMER_CLAIMED, Action.REQUEST_CONSENT): S.AWAITING_CONSENT,
    (S.CUSTOMER_CLAIMED, Action.CANCEL): S.CANCELLED,
    (S.AWAITING_CONSENT, Action.SEND_CONSENT_REMINDER): S.AWAITING_CONSENT,
    (S.AWAITING_CONSENT, Action.ANSWER_CONSENT): S.CONSENT_RECEIVED,
    (S.AWAITING_CONSENT, Action.CANCEL): S.CANCELLED,
    (S.CONSENT_RECEIVED, Action.SUBMIT): S.SUBMITTED,
    (S.CONSENT_RECEIVED, Action.CANCEL): S.CANCELLED,
    (S.SUBMITTED, Action.START): S.UNDER_REVIEW,
    (S.UNDER_REVIEW, Action.REQUEST_INFORMATION): S.PARTNER_ACTION_REQUIRED,
    (S.UNDER_REVIEW, Action.APPROVE): S.APPROVED,
    (S.UNDER_REVIEW, Action.REJECT): S.REJECTED,
    (S.UNDER_REVIEW, Action.REJECT_FINAL): S.REJECTED_FINAL,
    (S.PARTNER_ACTION_REQUIRED, Action.SUBMIT): S.SUBMITTED,
    (S.REJECTED, Action.DISPUTE): S.DISPUTED,
    (S.DISPUTED, Action.SUBMIT): S.SUBMITTED,
}


def claim_in(state: ClaimState) -> Claim:
    claim = new_claim()
    for i, step in enumerate(PATHS[state]):
        step(claim, days(1 + i * 0.5))
    assert claim.state is state
    claim.collect_events()
    return claim


def test_every_state_is_reachable_and_the_paths_are_complete() -> None:
    assert set(PATHS) == set(ClaimState)
    for state in ClaimState:
        assert claim_in(state).state is state


def test_allowed_actions_match_the_transition_table() -> None:
    allowed = {(s, a) for s, actions in ALLOWED_ACTIONS.items() for a in actions}
    assert allowed == set(EXPECTED)


@pytest.mark.parametrize(("state", "action"), sorted(EXPECTED, key=str))
def test_allowed_transition_moves_to_its_state(state: ClaimState, action: Action) -> None:
    claim = claim_in(state)
    version = claim.version
    ACTIONS[action](claim, days(10))
    assert claim.state is EXPECTED[(state, action)]
    assert claim.version == version + 1


REFUSED = sorted(((s, a) for s in ClaimState for a in Action if (s, a) not in EXPECTED), key=str)


@pytest.mark.parametrize(("state", "action"), REFUSED)
def test_any_other_transition_is_refused_naming_state_and_allowed_actions(
    state: ClaimState, action: Action
) -> None:
    claim = claim_in(state)
    with pytest.raises(ConflictError) as refused:
        ACTIONS[action](claim, days(10))
    if isinstance(refused.value, InvalidTransitionError):
        assert refused.value.extra["state"] == state.value
        assert refused.value.extra["allowed_actions"] == [
            a.value for a in ALLOWED_ACTIONS.get(state, ())
        ]
        assert f"“{state.label}”" in refused.value.detail
    else:  # answering consent outside awaiting_consent has its own slug (R24)
        assert action is Action.ANSWER_CONSENT
        assert refused.value.slug == "consent-already-answered"
    assert claim.state is state
    assert claim.collect_events() == []


@pytest.mark.parametrize("state", sorted(s for s in ClaimState if s.terminal))
def test_terminal_claims_never_change(state: ClaimState) -> None:
    claim = claim_in(state)
    assert not claim.expire(now=days(10_000))
    assert not claim.record_referral(actor=USER, now=days(10), referral_id=uuid4())
    assert not claim.upgrade_to_co_sell(actor=USER, now=days(10))
    assert claim.collect_events() == []


def test_labels_match_the_spec() -> None:
    assert S.AWAITING_CONSENT.label == "Awaiting customer consent response"
    assert S.CANCELLED.label == "Canceled"
    assert {s for s in ClaimState if s.terminal} == {
        S.CONSENT_DECLINED,
        S.CONSENT_EXPIRED,
        S.CANCELLED,
        S.NOT_SUBMITTED_EXPIRED,
        S.POST_SUBMISSION_EXPIRED,
        S.APPROVED,
        S.DISPUTED_EXPIRED,
        S.REJECTED_FINAL,
    }
