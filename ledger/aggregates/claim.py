"""The Claim aggregate: every state, event and transition of SPEC section 3.

The aggregate never reads the clock or the catalog: the application passes ``now`` and the
catalog's decisions (resolved tenant, deadlines in days, payout, proof) in, and they are
recorded in the events so that replay never consults anything but the events.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from ledger.aggregates.base import SYSTEM, Actor, Aggregate
from ledger.aggregates.values import Contacts, ProofDocument, ReferralTerms
from ledger.catalog import Deadlines, PayoutModel, ProofItem
from ledger.customer_ids import CustomerId
from ledger.errors import ConflictError, InvalidTransitionError, LedgerError, RuleRefusedError


class ClaimState(StrEnum):
    CUSTOMER_CLAIMED = "customer_claimed"
    AWAITING_CONSENT = "awaiting_consent"
    CONSENT_RECEIVED = "consent_received"
    CONSENT_DECLINED = "consent_declined"
    CONSENT_EXPIRED = "consent_expired"
    CANCELLED = "cancelled"
    NOT_SUBMITTED_EXPIRED = "not_submitted_expired"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    PARTNER_ACTION_REQUIRED = "partner_action_required"
    POST_SUBMISSION_EXPIRED = "post_submission_expired"
    APPROVED = "approved"
    REJECTED = "rejected"
    DISPUTED = "disputed"
    DISPUTED_EXPIRED = "disputed_expired"
    REJECTED_FINAL = "rejected_final"

    @property
    def label(self) -> str:
        return _LABELS[self]

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES


S = ClaimState
_LABELS = {
    S.CUSTOMER_CLAIMED: "Customer claimed",
    S.AWAITING_CONSENT: "Awaiting customer consent response",
    S.CONSENT_RECEIVED: "Customer consent received",
    S.CONSENT_DECLINED: "Customer consent declined",
    S.CONSENT_EXPIRED: "Customer consent expired",
    S.CANCELLED: "Canceled",
    S.NOT_SUBMITTED_EXPIRED: "Not submitted expired",
    S.SUBMITTED: "Submitted",
    S.UNDER_REVIEW: "Under review",
    S.PARTNER_ACTION_REQUIRED: "Partner action required",
    S.POST_SUBMISSION_EXPIRED: "Post submission expired",
    S.APPROVED: "Approved",
    S.REJECTED: "Rejected",
    S.DISPUTED: "Disputed",
    S.DISPUTED_EXPIRED: "Disputed expired",
    S.REJECTED_FINAL: "Rejected final",
}
TERMINAL_STATES = frozenset(
    {
        S.CONSENT_DECLINED,
        S.CONSENT_EXPIRED,
        S.CANCELLED,
        S.NOT_SUBMITTED_EXPIRED,
        S.POST_SUBMISSION_EXPIRED,
        S.APPROVED,
        S.DISPUTED_EXPIRED,
        S.REJECTED_FINAL,
    }
)


class Action(StrEnum):
    """What can be done to a claim, by the names the API's commands and refusals use."""

    REQUEST_CONSENT = "request_consent"
    SEND_CONSENT_REMINDER = "send_consent_reminder"
    ANSWER_CONSENT = "answer_consent"
    CANCEL = "cancel"
    SUBMIT = "submit"
    DISPUTE = "dispute"
    START = "start"
    REQUEST_INFORMATION = "request_information"
    APPROVE = "approve"
    REJECT = "reject"
    REJECT_FINAL = "reject_final"


ALLOWED_ACTIONS: dict[ClaimState, tuple[Action, ...]] = {
    S.CUSTOMER_CLAIMED: (Action.REQUEST_CONSENT, Action.CANCEL),
    S.AWAITING_CONSENT: (Action.SEND_CONSENT_REMINDER, Action.ANSWER_CONSENT, Action.CANCEL),
    S.CONSENT_RECEIVED: (Action.SUBMIT, Action.CANCEL),
    S.SUBMITTED: (Action.START,),
    S.UNDER_REVIEW: (
        Action.REQUEST_INFORMATION,
        Action.APPROVE,
        Action.REJECT,
        Action.REJECT_FINAL,
    ),
    S.PARTNER_ACTION_REQUIRED: (Action.SUBMIT,),
    S.REJECTED: (Action.DISPUTE,),
    S.DISPUTED: (Action.SUBMIT,),
}
PARTNER_ACTIONS = frozenset(
    {
        Action.REQUEST_CONSENT,
        Action.SEND_CONSENT_REMINDER,
        Action.SUBMIT,
        Action.DISPUTE,
        Action.CANCEL,
    }
)
REVIEW_ACTIONS = frozenset(
    {Action.START, Action.REQUEST_INFORMATION, Action.APPROVE, Action.REJECT, Action.REJECT_FINAL}
)

_LABELS_OF_ACTIONS = {
    Action.REQUEST_CONSENT: "Send customer consent email",
    Action.SEND_CONSENT_REMINDER: "Resend consent email",
    Action.CANCEL: "Cancel",
    Action.DISPUTE: "Dispute",
    Action.START: "Start review",
    Action.REQUEST_INFORMATION: "Request information",
    Action.APPROVE: "Approve",
    Action.REJECT: "Reject",
    Action.REJECT_FINAL: "Reject final",
    Action.ANSWER_CONSENT: "Answer",
}
_SUBMIT_LABELS = {
    S.CONSENT_RECEIVED: "Submit claim",
    S.PARTNER_ACTION_REQUIRED: "Update proof and resubmit",
    S.DISPUTED: "Update proof and submit",
}


def action_label(state: ClaimState, action: Action) -> str:
    """What a person sees for an action in a state (SPEC section 3's partner actions)."""
    if action is Action.SUBMIT:
        return _SUBMIT_LABELS[state]
    return _LABELS_OF_ACTIONS[action]


def partner_action_labels(state: ClaimState) -> tuple[str, ...]:
    """The partner-facing actions of a state, as the Customers page shows them."""
    return tuple(
        action_label(state, a) for a in ALLOWED_ACTIONS.get(state, ()) if a in PARTNER_ACTIONS
    )


class DeadlineKind(StrEnum):
    CONSENT = "consent"
    SUBMISSION = "submission"
    POST_SUBMISSION = "post_submission"
    DISPUTE = "dispute"


# The deadline that governs each state that has one.
GOVERNING_DEADLINE = {
    S.CUSTOMER_CLAIMED: DeadlineKind.CONSENT,
    S.AWAITING_CONSENT: DeadlineKind.CONSENT,
    S.CONSENT_RECEIVED: DeadlineKind.SUBMISSION,
    S.PARTNER_ACTION_REQUIRED: DeadlineKind.POST_SUBMISSION,
    S.REJECTED: DeadlineKind.DISPUTE,
    S.DISPUTED: DeadlineKind.DISPUTE,
}

# Where each deadline leads when it passes.
EXPIRY_STATE = {
    DeadlineKind.CONSENT: S.CONSENT_EXPIRED,
    DeadlineKind.SUBMISSION: S.NOT_SUBMITTED_EXPIRED,
    DeadlineKind.POST_SUBMISSION: S.POST_SUBMISSION_EXPIRED,
    DeadlineKind.DISPUTE: S.DISPUTED_EXPIRED,
}

# The rule each action enforces, named in refusals.
_RULE = {
    Action.REQUEST_CONSENT: "R21",
    Action.SEND_CONSENT_REMINDER: "R24",
    Action.ANSWER_CONSENT: "R24",
    Action.CANCEL: "R31",
    Action.SUBMIT: "R30",
    Action.DISPUTE: "R34",
    Action.START: "R32",
    Action.REQUEST_INFORMATION: "R32",
    Action.APPROVE: "R32",
    Action.REJECT: "R32",
    Action.REJECT_FINAL: "R32",
}


class ClaimTerms(BaseModel):
    """What a new claim records: the creation's decisions, made by the application from the
    catalog (R1-R19), so that replay never consults the catalog. The claim's first event is
    these terms and its consent deadline."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    partner_id: str
    location_id: str
    engagement_id: str
    friendly_name: str
    customer_id: CustomerId
    eligibility_key: str
    resolved_tenant_id: str | None
    tenant_mismatch_reason: str | None
    contacts: Contacts
    payout_model: PayoutModel
    fixed_payout_usd: Decimal | None
    hours: int | None
    proposed_payout_usd: Decimal | None
    deadline_days: Deadlines
    required_proof: tuple[ProofItem, ...]
    referral_terms: ReferralTerms


REASON_REQUIRED = frozenset({Action.REQUEST_INFORMATION, Action.REJECT, Action.REJECT_FINAL})
"""R32: the reviewer's actions that state a reason (every one but start and approve)."""


def _require_reason(reason: str | None, action: Action) -> str:
    """R32: a reviewer's action of ``REASON_REQUIRED`` states a reason."""
    if reason is None or not reason.strip():
        raise RuleRefusedError(
            "reason-required", f"{action.value} needs a reason", rule="R32", field="reason"
        )
    return reason


class Claim(Aggregate):
    """One partner's nomination of one customer for one engagement."""

    class Event(Aggregate.Event):
        actor: Actor

        def apply(self, aggregate: Any) -> None:
            self.evolve(aggregate)
            if not isinstance(self, POLICY_EVENTS):
                aggregate.changed_at_version = self.originator_version

        def evolve(self, claim: Claim) -> None:
            """How this event changes the claim (typed twin of ``apply``)."""

    class Created(Event, Aggregate.Created, ClaimTerms):
        consent_deadline: datetime

        def evolve(self, claim: Claim) -> None:
            claim.state = S.CUSTOMER_CLAIMED
            claim.origin = "added" if isinstance(self, Claim.Added) else "claimed"
            claim.terms = self
            claim.contacts = self.contacts
            claim.deadlines = {DeadlineKind.CONSENT: self.consent_deadline}

    class Added(Created):
        """A new customer was added and claimed in one step (R1-R16)."""

    class Claimed(Created):
        """A known customer was claimed from the Eligible tab (R17-R19)."""

    class ConsentRequested(Event):
        deal_size_usd: Decimal
        contacts: Contacts
        disclaimer_accepted: Literal[True]
        link_id: UUID

        def evolve(self, claim: Claim) -> None:
            claim.state = S.AWAITING_CONSENT
            claim.deal_size_usd = self.deal_size_usd
            claim.contacts = self.contacts
            claim.consent_link_id = self.link_id

    class ConsentReminderSent(Event):
        link_id: UUID

        def evolve(self, claim: Claim) -> None:
            claim.consent_link_id = self.link_id

    class ConsentGiven(Event):
        link_id: UUID
        submission_deadline: datetime
        review_deadline: datetime

        def evolve(self, claim: Claim) -> None:
            claim.state = S.CONSENT_RECEIVED
            claim.consent_link_id = None
            claim.consent_answer = (self.link_id, True)
            claim.consent_given_at = self.timestamp
            claim.deadlines[DeadlineKind.SUBMISSION] = self.submission_deadline
            claim.deadlines[DeadlineKind.POST_SUBMISSION] = self.review_deadline

    class Declined(Event):
        link_id: UUID

        def evolve(self, claim: Claim) -> None:
            claim.state = S.CONSENT_DECLINED
            claim.consent_link_id = None
            claim.consent_answer = (self.link_id, False)

    class Expired(Event):
        deadline: DeadlineKind
        deadline_at: datetime

        def evolve(self, claim: Claim) -> None:
            claim.state = EXPIRY_STATE[self.deadline]
            claim.consent_link_id = None

    class Cancelled(Event):
        reason: str | None

        def evolve(self, claim: Claim) -> None:
            claim.state = S.CANCELLED
            claim.consent_link_id = None

    class Submitted(Event):
        proof: tuple[ProofDocument, ...]

        def evolve(self, claim: Claim) -> None:
            claim.state = S.SUBMITTED
            claim.submissions += 1
            claim.proof = self.proof

    class ReviewStarted(Event):
        reason: str | None = None

        def evolve(self, claim: Claim) -> None:
            claim.state = S.UNDER_REVIEW

    class InformationRequested(Event):
        comments: str

        def evolve(self, claim: Claim) -> None:
            claim.state = S.PARTNER_ACTION_REQUIRED

    class Approved(Event):
        payout_usd: Decimal

        def evolve(self, claim: Claim) -> None:
            claim.state = S.APPROVED
            claim.payout_usd = self.payout_usd

    class Rejected(Event):
        reason: str
        final: bool
        dispute_deadline: datetime | None

        def evolve(self, claim: Claim) -> None:
            claim.state = S.REJECTED_FINAL if self.final else S.REJECTED
            if self.dispute_deadline is not None:
                claim.deadlines[DeadlineKind.DISPUTE] = self.dispute_deadline

    class Disputed(Event):
        reason: str | None
        reset_deadline: datetime

        def evolve(self, claim: Claim) -> None:
            claim.state = S.DISPUTED
            claim.disputed = True
            # R35: the remaining deadline resets, once, to dispute_days from the dispute.
            claim.deadlines[DeadlineKind.POST_SUBMISSION] = self.reset_deadline
            claim.deadlines[DeadlineKind.DISPUTE] = self.reset_deadline

    class ReferralCreated(Event):
        referral_id: UUID

        def evolve(self, claim: Claim) -> None:
            claim.referral_id = self.referral_id

    class UpgradedToCoSell(Event):
        referral_id: UUID

        def evolve(self, claim: Claim) -> None:
            claim.co_sell = True

    def __init__(self) -> None:
        self.state = S.CUSTOMER_CLAIMED
        self.origin: Literal["added", "claimed"] = "added"
        self.terms: Claim.Created
        self.contacts: Contacts
        self.deadlines: dict[DeadlineKind, datetime] = {}
        self.deal_size_usd: Decimal | None = None
        self.consent_link_id: UUID | None = None
        self.consent_given_at: datetime | None = None
        self.consent_answer: tuple[UUID, bool] | None = None
        """The link the customer answered through, and whether they accepted."""
        self.submissions = 0
        self.proof: tuple[ProofDocument, ...] = ()
        self.disputed = False
        self.payout_usd: Decimal | None = None
        self.referral_id: UUID | None = None
        self.co_sell = False
        self.changed_at_version = 0
        """The version of the last event a person caused (not a policy's)."""

    # -- creation ---------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        *,
        claim_id: UUID,
        origin: Literal["added", "claimed"],
        now: datetime,
        actor: Actor,
        terms: ClaimTerms,
    ) -> Self:
        """Record a new claim; the consent clock starts now (R20)."""
        event_class = cls.Added if origin == "added" else cls.Claimed
        return cls._create(
            event_class,
            id=claim_id,
            timestamp=now,
            actor=actor,
            consent_deadline=now + timedelta(days=terms.deadline_days.consent_days),
            **dict(terms),
        )

    # -- queries ----------------------------------------------------------------------------

    def changed_since(self, version: int) -> bool:
        """Whether a person changed the claim after ``version`` (If-Match, SPEC 6.1): the
        events a policy records on its own never make a version stale."""
        return version > self.version or self.changed_at_version > version

    @property
    def partner_id(self) -> str:
        return self.terms.partner_id

    @property
    def engagement_id(self) -> str:
        return self.terms.engagement_id

    @property
    def terminal(self) -> bool:
        return self.state.terminal

    @property
    def live(self) -> bool:
        return not self.state.terminal

    @property
    def had_consent(self) -> bool:
        return self.consent_given_at is not None

    @property
    def qualifies_for_referral(self) -> bool:
        """R40: referrals enabled, deal size at least the minimum, customer resolves to a tenant."""
        terms = self.terms.referral_terms
        return (
            terms.enabled
            and self.deal_size_usd is not None
            and self.deal_size_usd >= terms.min_deal_size_usd
            and self.terms.resolved_tenant_id is not None
        )

    @property
    def allowed_actions(self) -> tuple[Action, ...]:
        return ALLOWED_ACTIONS.get(self.state, ())

    def running_deadline(self) -> tuple[DeadlineKind, datetime] | None:
        """The deadline that governs the current state, if one does."""
        kind = GOVERNING_DEADLINE.get(self.state)
        return None if kind is None else (kind, self.deadlines[kind])

    # -- commands ---------------------------------------------------------------------------

    def _require(self, action: Action, now: datetime) -> None:
        if action not in self.allowed_actions:
            raise InvalidTransitionError(
                action.value,
                self.state.value,
                [a.value for a in self.allowed_actions],
                rule=_RULE[action],
            )
        running = self.running_deadline()
        if running is not None and now >= running[1]:
            kind, at = running
            raise ConflictError(
                "deadline-passed",
                f"the {kind.value} deadline passed at {at.isoformat()}; the claim is expiring",
                rule="R50",
                extra={"deadline": kind.value, "deadline_at": at.isoformat()},
            )

    def request_consent(
        self,
        *,
        actor: Actor,
        now: datetime,
        deal_size_usd: Decimal,
        contacts: Contacts | None,
        disclaimer_accepted: bool,
        link_id: UUID,
    ) -> None:
        """Send the consent e-mail (R21, R22, R23)."""
        self._require(Action.REQUEST_CONSENT, now)
        if not disclaimer_accepted:
            raise RuleRefusedError(
                "disclaimer-not-accepted",
                "the disclaimer must be accepted to request consent",
                rule="R21",
                field="disclaimer_accepted",
            )
        self.trigger_event(
            self.ConsentRequested,
            timestamp=now,
            actor=actor,
            deal_size_usd=deal_size_usd,
            contacts=contacts or self.contacts,
            disclaimer_accepted=True,
            link_id=link_id,
        )

    def send_reminder(self, *, actor: Actor, now: datetime, link_id: UUID) -> None:
        """Resend the consent e-mail with a new link; the deadline does not move (R20, R24)."""
        self._require(Action.SEND_CONSENT_REMINDER, now)
        self.trigger_event(self.ConsentReminderSent, timestamp=now, actor=actor, link_id=link_id)

    def consent_refusal(self, link_id: UUID, now: datetime) -> LedgerError | None:
        """Why the customer could not answer through this link now; None when they can."""
        if self.state is not S.AWAITING_CONSENT:
            return ConflictError(
                "consent-already-answered",
                f"this consent request is closed (the claim is {self.state.label.lower()})",
                rule="R24",
                extra={"state": self.state.value},
            )
        if link_id != self.consent_link_id:
            return ConflictError(
                "consent-link-superseded",
                "this link was replaced by a newer consent e-mail; use the latest one",
                rule="R24",
            )
        try:
            self._require(Action.ANSWER_CONSENT, now)
        except LedgerError as refusal:
            return refusal
        return None

    def answer_through(self, link_id: UUID) -> bool | None:
        """What the customer answered through this link (True: accepted); None: nothing."""
        if self.consent_answer is None or self.consent_answer[0] != link_id:
            return None
        return self.consent_answer[1]

    def answer_consent(self, *, actor: Actor, now: datetime, link_id: UUID, accept: bool) -> None:
        """The customer accepts or declines through the latest link (R23, R24)."""
        refusal = self.consent_refusal(link_id, now)
        if refusal is not None:
            raise refusal
        if not accept:
            self.trigger_event(self.Declined, timestamp=now, actor=actor, link_id=link_id)
            return
        days = self.terms.deadline_days
        self.trigger_event(
            self.ConsentGiven,
            timestamp=now,
            actor=actor,
            link_id=link_id,
            submission_deadline=now + timedelta(days=days.first_submission_days),
            review_deadline=now + timedelta(days=days.review_completion_days),
        )

    def cancel(self, *, actor: Actor, now: datetime, reason: str | None) -> None:
        """Cancel, only before the first submission (R31)."""
        self._require(Action.CANCEL, now)
        self.trigger_event(self.Cancelled, timestamp=now, actor=actor, reason=reason)

    def submit(self, *, actor: Actor, now: datetime, proof: tuple[ProofDocument, ...]) -> None:
        """Submit or resubmit with every item of the engagement's required proof (R30)."""
        self._require(Action.SUBMIT, now)
        missing = [p.value for p in self.terms.required_proof if p not in {d.kind for d in proof}]
        if missing:
            raise RuleRefusedError(
                "proof-missing",
                f"the submission lacks required proof: {', '.join(missing)}",
                rule="R30",
                field="proof",
                extra={"missing": missing},
            )
        self.trigger_event(self.Submitted, timestamp=now, actor=actor, proof=proof)

    def start_review(self, *, actor: Actor, now: datetime, reason: str | None = None) -> None:
        self._require(Action.START, now)
        self.trigger_event(self.ReviewStarted, timestamp=now, actor=actor, reason=reason)

    def request_information(self, *, actor: Actor, now: datetime, comments: str | None) -> None:
        """Send the claim back to the partner with the reviewer's comments (R32)."""
        comments = _require_reason(comments, Action.REQUEST_INFORMATION)
        self._require(Action.REQUEST_INFORMATION, now)
        self.trigger_event(self.InformationRequested, timestamp=now, actor=actor, comments=comments)

    def approve(self, *, actor: Actor, now: datetime) -> None:
        """Approve and record the payout: fixed, or the proposed variable payout (R33)."""
        self._require(Action.APPROVE, now)
        payout = self.terms.fixed_payout_usd or self.terms.proposed_payout_usd or Decimal("0")
        self.trigger_event(self.Approved, timestamp=now, actor=actor, payout_usd=payout)

    def reject(self, *, actor: Actor, now: datetime, reason: str | None, final: bool) -> None:
        """Reject with a reason (R32); after a dispute, or when asked, it is final (R34, R35)."""
        action = Action.REJECT_FINAL if final else Action.REJECT
        reason = _require_reason(reason, action)
        self._require(action, now)
        final = final or self.disputed
        dispute_deadline = (
            None if final else now + timedelta(days=self.terms.deadline_days.dispute_days)
        )
        self.trigger_event(
            self.Rejected,
            timestamp=now,
            actor=actor,
            reason=reason,
            final=final,
            dispute_deadline=dispute_deadline,
        )

    def dispute(self, *, actor: Actor, now: datetime, reason: str | None) -> None:
        """Dispute a rejection within dispute_days, once; resets the deadline (R34, R35)."""
        self._require(Action.DISPUTE, now)
        reset = now + timedelta(days=self.terms.deadline_days.dispute_days)
        self.trigger_event(
            self.Disputed, timestamp=now, actor=actor, reason=reason, reset_deadline=reset
        )

    def expire(self, *, now: datetime) -> bool:
        """Expire the claim if its running deadline has passed (R50); False when not due."""
        running = self.running_deadline()
        if running is None or now < running[1]:
            return False
        kind, at = running
        self.trigger_event(self.Expired, timestamp=now, actor=SYSTEM, deadline=kind, deadline_at=at)
        return True

    def record_referral(self, *, actor: Actor, now: datetime, referral_id: UUID) -> bool:
        """Record the referral the policy made (R40); False if one is recorded already."""
        if self.referral_id is not None or self.terminal:
            return False
        self.trigger_event(
            self.ReferralCreated, timestamp=now, actor=actor, referral_id=referral_id
        )
        return True

    def upgrade_to_co_sell(self, *, actor: Actor, now: datetime) -> bool:
        """Record the co-sell upgrade (R42): once, after consent, on a claim with a referral."""
        if self.referral_id is None or self.co_sell or not self.had_consent or self.terminal:
            return False
        self.trigger_event(
            self.UpgradedToCoSell, timestamp=now, actor=actor, referral_id=self.referral_id
        )
        return True


POLICY_EVENTS = (Claim.ReferralCreated, Claim.UpgradedToCoSell)
"""Events a policy records on its own: they never make a person's If-Match stale."""
