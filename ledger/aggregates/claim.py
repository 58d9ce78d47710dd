"""The Claim aggregate: every state, event and transition of SPEC section 3.

The aggregate never reads the clock or the catalog: the application passes ``now`` and the
catalog's decisions (resolved tenant, deadlines in days, payout, proof) in, and they are
recorded in the events so that replay never consults anything but the events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, Literal, Self, TypeVar, cast, overload
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from ledger.aggregates.base import SYSTEM, Actor, Aggregate
from ledger.aggregates.values import AttachedDocument, Contacts, ProofDocument, ReferralTerms
from ledger.domain.catalog import Deadlines, PayoutModel, ProofItem
from ledger.domain.customer_ids import CustomerId
from ledger.domain.errors import (
    ConflictError,
    InvalidTransitionError,
    LedgerError,
    RuleRefusedError,
)
from ledger.words.refusals import Term, named, names


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
    customer_name: str | None = None
    """The directory's name of the customer's tenant (``resolved_tenant_id``'s) when the
    claim was made: who the customer is, as the programme names it (the friendly name names
    the claim). None when no tenant of the directory owns the id, and for claims made before
    it was recorded (``Claim.Created`` version 1)."""
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
            "reason-required",
            rule="R32",
            field="reason",
            params={"action": Term(_LABELS_OF_ACTIONS[action])},
        )
    return reason


def _require_kind(terms: ClaimTerms, kind: ProofItem) -> None:
    """R30: a document uploaded to a claim is one of the kinds its submission requires."""
    if kind not in terms.required_proof:
        raise RuleRefusedError(
            "document-kind-not-required",
            rule="R30",
            field="kind",
            params={"kinds": names([p.value for p in terms.required_proof])},
        )


@dataclass(frozen=True, slots=True)
class ClaimFacts:
    """What a claim's events made of it, as ``evolve`` folds them: the one state the aggregate
    holds, the claims view stores (its rows are derived from it) and the as-of reads fold.
    Never changed in place (``deadlines`` included): ``evolve`` makes a new one."""

    claim_id: UUID
    version: int
    created_at: datetime
    updated_at: datetime
    changed_at_version: int
    """The version of the last event a person caused (not a policy's)."""
    terms: ClaimTerms
    origin: Literal["added", "claimed"]
    state: ClaimState
    contacts: Contacts
    deadlines: dict[DeadlineKind, datetime]
    deal_size_usd: Decimal | None = None
    consent_link_id: UUID | None = None
    """The link the customer can answer through now (None once consent is not awaited)."""
    last_link_id: UUID | None = None
    """The latest consent link sent, answered or not (whose e-mail's delivery shows)."""
    consent_given_at: datetime | None = None
    consent_answer: tuple[UUID, bool] | None = None
    """The link the customer answered through, and whether they accepted."""
    submissions: int = 0
    proof: tuple[ProofDocument, ...] = ()
    documents: tuple[AttachedDocument, ...] = ()
    """The documents uploaded to the claim, in order (``Claim.DocumentAttached``)."""
    disputed: bool = False
    payout_usd: Decimal | None = None
    referral_id: UUID | None = None
    co_sell: bool = False
    last_reason: str | None = None
    """The reason of the latest cancellation, information request or rejection."""


T = TypeVar("T")


class Fact(Generic[T]):
    """A claim's attribute that is one of its facts: ``claim.state`` is ``claim.facts.state``."""

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, claim: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, claim: ClaimReading, owner: type[Any]) -> T: ...
    def __get__(self, claim: ClaimReading | None, owner: type[Any]) -> T | Self:
        return self if claim is None else cast(T, getattr(claim.facts, self.name))

    def __set__(self, claim: ClaimReading, value: T) -> None:
        raise AttributeError(f"{self.name} changes only by an event (see evolve)")


class ClaimReading:
    """What a claim's facts say, read only: the parts of the state commands and pages ask
    about (the claim's ``facts`` are made by ``evolve``, never set here)."""

    facts: ClaimFacts

    state = Fact[ClaimState]()
    origin = Fact[Literal["added", "claimed"]]()
    terms = Fact[ClaimTerms]()
    contacts = Fact[Contacts]()
    deadlines = Fact[dict[DeadlineKind, datetime]]()
    deal_size_usd = Fact[Decimal | None]()
    consent_link_id = Fact[UUID | None]()
    submissions = Fact[int]()
    proof = Fact[tuple[ProofDocument, ...]]()
    documents = Fact[tuple[AttachedDocument, ...]]()
    disputed = Fact[bool]()
    payout_usd = Fact[Decimal | None]()
    referral_id = Fact[UUID | None]()
    co_sell = Fact[bool]()

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
        return self.facts.consent_given_at is not None

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

    def changed_since(self, version: int) -> bool:
        """Whether a person changed the claim after ``version`` (If-Match, SPEC 6.1): the
        events a policy records on its own never make a version stale."""
        return version > self.facts.version or self.facts.changed_at_version > version

    def answer_through(self, link_id: UUID) -> bool | None:
        """What the customer answered through this link (True: accepted); None: nothing."""
        answer = self.facts.consent_answer
        return None if answer is None or answer[0] != link_id else answer[1]

    def document(self, document_id: UUID) -> AttachedDocument | None:
        """The claim's uploaded document of this id; None if it has none."""
        return next((d for d in self.documents if d.id == document_id), None)


def _transition_labels(state: ClaimState) -> dict[str, str]:
    """What a person reads for each action and for ``state``, by their codes (the words of a
    refused transition)."""
    found = {a.value: label for a, label in _LABELS_OF_ACTIONS.items()}
    found[Action.SUBMIT.value] = _SUBMIT_LABELS.get(state, "Submit claim")
    found[Action.ANSWER_CONSENT.value] = named(Action.ANSWER_CONSENT.value)
    found[state.value] = state.label
    return found


class Claim(ClaimReading, Aggregate):
    """One partner's nomination of one customer for one engagement: its ``facts``, which
    ``evolve`` makes of its events, and the commands that decide its next events."""

    class Event(Aggregate.Event):
        actor: Actor

        def apply(self, aggregate: Any) -> None:
            aggregate.facts = evolve(getattr(aggregate, "facts", None), self)

    class Created(Event, Aggregate.Created, ClaimTerms):
        """Version 2 records ``customer_name``, the tenant's name (docs/events.md)."""

        class_version = 2
        consent_deadline: datetime

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Version 1 did not record the customer's name: not recorded (None)."""
            state.setdefault("customer_name", None)

    class Added(Created):
        """A new customer was added and claimed in one step (R1-R16)."""

    class Claimed(Created):
        """A known customer was claimed from the Eligible tab (R17-R19)."""

    class ConsentRequested(Event):
        deal_size_usd: Decimal
        contacts: Contacts
        disclaimer_accepted: Literal[True]
        link_id: UUID

    class ConsentReminderSent(Event):
        link_id: UUID

    class ConsentGiven(Event):
        link_id: UUID
        submission_deadline: datetime
        review_deadline: datetime

    class Declined(Event):
        link_id: UUID

    class Expired(Event):
        deadline: DeadlineKind
        deadline_at: datetime

    class Cancelled(Event):
        reason: str | None

    class Submitted(Event):
        proof: tuple[ProofDocument, ...]

    class DocumentAttached(Event):
        document: AttachedDocument  # an uploaded proof document; its file is kept by its hash

    class ReviewStarted(Event):
        reason: str | None = None

    class InformationRequested(Event):
        comments: str

    class Approved(Event):
        payout_usd: Decimal

    class Rejected(Event):
        reason: str
        final: bool
        dispute_deadline: datetime | None

    class Disputed(Event):
        reason: str | None
        reset_deadline: datetime

    class ReferralCreated(Event):
        referral_id: UUID

    class UpgradedToCoSell(Event):
        referral_id: UUID

    facts: ClaimFacts
    """What the claim's events made of it (its first event's ``apply`` sets it)."""

    def __init__(self) -> None:
        """Nothing until the first event: the library calls it, then the event's ``apply``."""

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

    # -- commands ---------------------------------------------------------------------------

    def _require(self, action: Action, now: datetime) -> None:
        if action not in self.allowed_actions:
            raise InvalidTransitionError(
                action.value,
                self.state.value,
                [a.value for a in self.allowed_actions],
                rule=_RULE[action],
                labels=_transition_labels(self.state),
            )
        running = self.running_deadline()
        if running is not None and now >= running[1]:
            kind, at = running
            raise ConflictError(
                "deadline-passed",
                rule="R50",
                extra={"deadline": kind.value, "deadline_at": at.isoformat()},
                params={"deadline": named(kind.value), "at": at},
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
                "disclaimer-not-accepted", rule="R21", field="disclaimer_accepted"
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
        current = self.consent_link_id
        if (
            current is not None and link_id != current
        ):  # a newer e-mail replaced it, answered or not
            return ConflictError("consent-link-superseded", rule="R24")
        if self.state is not S.AWAITING_CONSENT:
            return ConflictError(
                "consent-already-answered",
                rule="R24",
                extra={"state": self.state.value},
                params={"state": Term(self.state.label)},
            )
        try:
            self._require(Action.ANSWER_CONSENT, now)
        except LedgerError as refusal:
            return refusal
        return None

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
                rule="R30",
                field="proof",
                extra={"missing": missing},
                params={"missing": names(missing)},
            )
        self.trigger_event(self.Submitted, timestamp=now, actor=actor, proof=proof)

    def attach_document(self, *, actor: Actor, now: datetime, document: AttachedDocument) -> None:
        """An uploaded proof document of a required kind, while the claim may be submitted."""
        self._require(Action.SUBMIT, now)
        _require_kind(self.terms, document.kind)
        self.trigger_event(self.DocumentAttached, timestamp=now, actor=actor, document=document)

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


def evolve(facts: ClaimFacts | None, event: Claim.Event) -> ClaimFacts:
    """What ``event`` makes of the claim's ``facts`` (None before its first event): the one
    definition of each event's effect, for the aggregate, the claims view, the commands'
    answers and the as-of reads. Adding an event: its class, its case here, its test."""
    if isinstance(event, Claim.Created):
        return _created(event)
    assert facts is not None, "a claim's events start with its creation"
    changed = _consent_effect(facts, event) or _review_effect(facts, event)
    if changed is None:
        raise TypeError(f"evolve has no case for {type(event).__qualname__}")
    person = not isinstance(event, POLICY_EVENTS)
    return replace(
        changed,
        version=event.originator_version,
        updated_at=event.timestamp,
        changed_at_version=event.originator_version if person else facts.changed_at_version,
    )


def fold(events: Iterable[Claim.Event]) -> ClaimFacts:
    """The facts after ``events`` (a claim's first ones, in order)."""
    facts: ClaimFacts | None = None
    for event in events:
        facts = evolve(facts, event)
    assert facts is not None, "a claim has events"
    return facts


def _created(event: Claim.Created) -> ClaimFacts:
    return ClaimFacts(
        claim_id=event.originator_id,
        version=event.originator_version,
        created_at=event.timestamp,
        updated_at=event.timestamp,
        changed_at_version=event.originator_version,
        terms=ClaimTerms.model_construct(**{n: getattr(event, n) for n in ClaimTerms.model_fields}),
        origin="added" if isinstance(event, Claim.Added) else "claimed",
        state=S.CUSTOMER_CLAIMED,
        contacts=event.contacts,
        deadlines={DeadlineKind.CONSENT: event.consent_deadline},
    )


def _consent_effect(facts: ClaimFacts, event: Claim.Event) -> ClaimFacts | None:
    """The effect of an event of the consent part of the lifecycle; None if it is not one."""
    match event:
        case Claim.ConsentRequested():
            return replace(
                facts,
                state=S.AWAITING_CONSENT,
                deal_size_usd=event.deal_size_usd,
                contacts=event.contacts,
                consent_link_id=event.link_id,
                last_link_id=event.link_id,
            )
        case Claim.ConsentReminderSent():
            return replace(facts, consent_link_id=event.link_id, last_link_id=event.link_id)
        case Claim.ConsentGiven():
            deadlines = {
                **facts.deadlines,
                DeadlineKind.SUBMISSION: event.submission_deadline,
                DeadlineKind.POST_SUBMISSION: event.review_deadline,
            }
            return replace(
                facts,
                state=S.CONSENT_RECEIVED,
                consent_link_id=None,
                consent_answer=(event.link_id, True),
                consent_given_at=event.timestamp,
                deadlines=deadlines,
            )
        case Claim.Declined():
            answer = (event.link_id, False)
            return replace(
                facts, state=S.CONSENT_DECLINED, consent_link_id=None, consent_answer=answer
            )
        case Claim.Expired():
            return replace(facts, state=EXPIRY_STATE[event.deadline], consent_link_id=None)
        case Claim.Cancelled():
            return replace(facts, state=S.CANCELLED, consent_link_id=None, last_reason=event.reason)
    return None


def _review_effect(facts: ClaimFacts, event: Claim.Event) -> ClaimFacts | None:
    """The effect of an event of submission, review, dispute, referral or co-sell."""
    match event:
        case Claim.Submitted():
            n = facts.submissions + 1
            return replace(facts, state=S.SUBMITTED, submissions=n, proof=event.proof)
        case Claim.DocumentAttached():
            return replace(facts, documents=(*facts.documents, event.document))
        case Claim.ReviewStarted():
            return replace(facts, state=S.UNDER_REVIEW)
        case Claim.InformationRequested():
            return replace(facts, state=S.PARTNER_ACTION_REQUIRED, last_reason=event.comments)
        case Claim.Approved():
            return replace(facts, state=S.APPROVED, payout_usd=event.payout_usd)
        case Claim.Rejected():
            deadlines = dict(facts.deadlines)
            if event.dispute_deadline is not None:
                deadlines[DeadlineKind.DISPUTE] = event.dispute_deadline
            state = S.REJECTED_FINAL if event.final else S.REJECTED
            return replace(facts, state=state, last_reason=event.reason, deadlines=deadlines)
        case Claim.Disputed():
            # R35: the remaining deadline resets, once, to dispute_days from the dispute.
            reset = {DeadlineKind.POST_SUBMISSION: event.reset_deadline}
            reset[DeadlineKind.DISPUTE] = event.reset_deadline
            deadlines = {**facts.deadlines, **reset}
            return replace(facts, state=S.DISPUTED, disputed=True, deadlines=deadlines)
        case Claim.ReferralCreated():
            return replace(facts, referral_id=event.referral_id)
        case Claim.UpgradedToCoSell():
            return replace(facts, co_sell=True)
    return None
