"""The Ledger application: the service layer. One short method per command.

Each command loads what it needs, lets the aggregate (which holds the rules) act, and saves
every changed aggregate in one atomic ``save``. When a concurrent writer got there first, the
store refuses the save and ``@retrying`` runs the command again on fresh state, so its checks
always see the latest facts (R16). Decisions that need only the catalog are made by
``ledger.creation``; who may reach what is decided by ``ledger.access``.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Concatenate, ParamSpec, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Mapper, Notification
from eventsourcing.utils import get_topic

from ledger import access, creation
from ledger.access import Purpose
from ledger.aggregates.base import SYSTEM, Actor, ActorKind, Aggregate
from ledger.aggregates.claim import Claim, ClaimState, DeadlineKind
from ledger.aggregates.known import KnownCustomer
from ledger.aggregates.referral import Referral
from ledger.aggregates.seat import Seat
from ledger.catalog import Catalog, load_catalog
from ledger.commands import Cancel, CreateClaims, Dispute, EligibilityCheck, RequestConsent, Review
from ledger.commands import Submit as SubmitCommand
from ledger.creation import EligibilityPreview
from ledger.customer_ids import CustomerId, IdType
from ledger.errors import (
    ConflictError,
    InvalidInputError,
    LedgerError,
    NotFoundError,
    StaleVersionError,
)
from ledger.persistence import JsonTranscoder, PydanticMapper
from ledger.principal import Principal, Role
from ledger.settings import Settings

P = ParamSpec("P")
T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)
CLAIM_CREATED_TOPICS = [get_topic(Claim.Added), get_topic(Claim.Claimed)]
MAX_ATTEMPTS = 30


def retrying(command: Callable[Concatenate[Ledger, P], T]) -> Callable[Concatenate[Ledger, P], T]:
    """Run the command again, on fresh state, when a concurrent save won the race."""

    @functools.wraps(command)
    def attempt(ledger: Ledger, /, *args: P.args, **kwargs: P.kwargs) -> T:
        for n in range(MAX_ATTEMPTS):
            try:
                return command(ledger, *args, **kwargs)
            except IntegrityError:
                time.sleep(random.uniform(0, 0.002 * 2 ** min(n, 6)))
        raise ConflictError(
            "concurrent-update",
            "the claim was changed by others too often while this request ran; try again",
        )

    return attempt


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise InvalidInputError("naive-time", "times must carry a time zone", field="now")
    return now.astimezone(UTC)


def _check_version(claim: Claim, expected_version: int | None) -> Claim:
    if expected_version is not None and claim.version != expected_version:
        raise StaleVersionError(
            "stale-version",
            f"the claim is at version {claim.version}, not {expected_version}",
            extra={"current_version": claim.version},
        )
    return claim


@dataclass(frozen=True)
class ConsentRequest:
    """What a consent link asks the customer, and why it cannot be answered (if it cannot)."""

    claim_id: UUID
    customer_name: str
    engagement_name: str
    partner_name: str
    deal_size_usd: Decimal | None
    expires_at: datetime
    state: ClaimState
    refusal: LedgerError | None

    @property
    def answerable(self) -> bool:
        return self.refusal is None


class Ledger(Application[UUID]):
    """Claims: creation, consent, submission, review, dispute, expiry; and their history."""

    name = "Ledger"

    def __init__(self, catalog: Catalog, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env)
        self.catalog = catalog

    def construct_mapper(self) -> Mapper[UUID]:
        return PydanticMapper(transcoder=JsonTranscoder())

    # -- loading ----------------------------------------------------------------------------

    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        """The aggregate with this id if it exists and is a ``kind``; else None."""
        try:
            aggregate: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, kind) else None

    def _claim(self, claim_id: UUID) -> Claim:
        claim = self.find(claim_id, Claim)
        if claim is None:
            raise NotFoundError("claim-not-found", f"no claim {claim_id}")
        return claim

    def _scoped_claim(
        self,
        principal: Principal,
        claim_id: UUID,
        purpose: Purpose = Purpose.ACT,
        expected_version: int | None = None,
    ) -> Claim:
        claim = self._claim(claim_id)
        access.authorize_claim(
            principal, claim.id, claim.partner_id, claim.terms.location_id, purpose
        )
        return _check_version(claim, expected_version)

    def _seat(self, engagement_id: str, customer_key: str, now: datetime) -> Seat:
        seat = self.find(Seat.id_for(engagement_id, customer_key), Seat)
        return seat or Seat.open(engagement_id, customer_key, now)

    def _live_or_approved(self, engagement_id: str, customer_key: str) -> int:
        seat = self.find(Seat.id_for(engagement_id, customer_key), Seat)
        return seat.count if seat else 0

    def _save_claim(self, claim: Claim, now: datetime, *others: Aggregate | None) -> int:
        """Save the claim with the seat it frees or converts when it became terminal."""
        seat: Seat | None = None
        if claim.terminal:
            seat = self._seat(claim.engagement_id, claim.terms.eligibility_key, now)
            if claim.state is ClaimState.APPROVED:
                seat.approve(claim_id=claim.id, now=now)
            else:
                seat.release(claim_id=claim.id, now=now)
        self.save(claim, seat, *others)
        return claim.version

    # -- queries ----------------------------------------------------------------------------

    def get_claim(self, principal: Principal, claim_id: UUID) -> Claim:
        """A claim as its partner, a reviewer or an auditor may see it."""
        return self._scoped_claim(principal, claim_id, Purpose.READ)

    def history(self, principal: Principal, claim_id: UUID) -> list[Claim.Event]:
        """Every event of the claim, in order: the audit trail."""
        claim = self._scoped_claim(principal, claim_id, Purpose.HISTORY)
        return [e for e in self.events.get(claim.id) if isinstance(e, Claim.Event)]

    def consent_request(self, claim_id: UUID, link_id: UUID, now: datetime) -> ConsentRequest:
        """What a consent link shows the customer (R23, R24); no account needed."""
        claim = self.find(claim_id, Claim)
        if claim is None:  # signed by us for a claim of another store
            raise NotFoundError(
                "consent-link-invalid", "this consent link is not valid", rule="R23"
            )
        engagement = self.catalog.engagement(claim.engagement_id)
        partner = self.catalog.partner(claim.partner_id)
        return ConsentRequest(
            claim_id=claim.id,
            customer_name=claim.terms.friendly_name,
            engagement_name=engagement.name if engagement else claim.engagement_id,
            partner_name=partner.name if partner else claim.partner_id,
            deal_size_usd=claim.deal_size_usd,
            expires_at=claim.deadlines[DeadlineKind.CONSENT],
            state=claim.state,
            refusal=claim.consent_refusal(link_id, _aware(now)),
        )

    def notification_pages(
        self, page_size: int = 2000, topics: Sequence[str] = ()
    ) -> Iterator[Sequence[Notification]]:
        """The whole log (or the ``topics`` of it), in order, a page at a time."""
        position = 0
        while page := self.recorder.select_notifications(
            position, page_size, topics=topics, inclusive_of_start=False
        ):
            yield page
            position = page[-1].id

    def claim_ids(self) -> Iterator[UUID]:
        """Every claim's id, in the order the claims were made."""
        for page in self.notification_pages(topics=CLAIM_CREATED_TOPICS):
            yield from (UUID(str(n.originator_id)) for n in page)

    def is_known_customer(self, partner_id: str, customer_id: CustomerId) -> bool:
        """Whether the customer consented to this partner on an earlier claim (R15)."""
        return KnownCustomer.id_for(partner_id, customer_id) in self.repository

    def preview_eligibility(
        self, principal: Principal, check: EligibilityCheck
    ) -> list[EligibilityPreview]:
        """The add flow's preview: per engagement, eligible or not with reasons, and payout."""
        partner = access.partner_of(self.catalog, principal)
        location = access.location_for_claims(principal, partner, check.location_id)
        resolution = creation.resolve_input(self.catalog, check.customer_id)
        engagements = (
            creation.named_engagements(self.catalog, check.engagement_ids)
            if check.engagement_ids
            else [e for e in self.catalog.engagements if location in e.eligible_locations]
        )
        key = resolution.subject.key
        return [
            creation.preview(
                self.catalog, e, resolution, self._live_or_approved(e.id, key), check.hours
            )
            for e in engagements
        ]

    # -- creation (R1-R19) ------------------------------------------------------------------

    def create_claims(
        self, principal: Principal, command: CreateClaims, now: datetime
    ) -> list[UUID]:
        """Add a customer or claim a known one: one claim per engagement, all or none (R11)."""
        plan = creation.plan_claims(self.catalog, principal, command)
        known = self.is_known_customer(plan.partner_id, plan.customer_id)
        creation.check_origin(command.origin, known)
        return self._make_claims(principal, plan, _aware(now))

    @retrying
    def _make_claims(
        self, principal: Principal, plan: creation.CreationPlan, now: datetime
    ) -> list[UUID]:
        seats = {e.id: self._seat(e.id, plan.eligibility_key, now) for e in plan.engagements}
        creation.check_eligible(plan, seats)
        claims = []
        for engagement in plan.engagements:
            claim = Claim.create(
                claim_id=uuid4(),
                origin=plan.command.origin,
                now=now,
                actor=principal.actor,
                terms=creation.claim_terms(self.catalog, plan, engagement),
            )
            seats[engagement.id].hold(
                claim_id=claim.id,
                partner_id=plan.partner_id,
                limit=engagement.customer_claim_limit,
                now=now,
            )
            claims.append(claim)
        self.save(*claims, *seats.values())
        return [c.id for c in claims]

    # -- consent (R20-R25) ------------------------------------------------------------------

    @retrying
    def request_consent(
        self,
        principal: Principal,
        claim_id: UUID,
        command: RequestConsent,
        now: datetime,
        expected_version: int | None = None,
    ) -> UUID:
        """Send the consent e-mail; returns the id of the (single-use) link it carries."""
        now = _aware(now)
        claim = self._scoped_claim(principal, claim_id, expected_version=expected_version)
        link_id = uuid4()
        claim.request_consent(
            actor=principal.actor,
            now=now,
            deal_size_usd=command.deal_size_usd,
            contacts=command.contacts,
            disclaimer_accepted=command.disclaimer_accepted,
            link_id=link_id,
        )
        self._save_claim(claim, now)
        return link_id

    @retrying
    def send_consent_reminder(
        self,
        principal: Principal,
        claim_id: UUID,
        now: datetime,
        expected_version: int | None = None,
    ) -> UUID:
        """Resend the consent e-mail with a new link; the old link stops working (R24)."""
        now = _aware(now)
        claim = self._scoped_claim(principal, claim_id, expected_version=expected_version)
        link_id = uuid4()
        claim.send_reminder(actor=principal.actor, now=now, link_id=link_id)
        self._save_claim(claim, now)
        return link_id

    @retrying
    def answer_consent(
        self, claim_id: UUID, link_id: UUID, accept: bool, now: datetime
    ) -> ClaimState:
        """The customer's answer through the link (R23, R24); the claim's state after it."""
        now = _aware(now)
        claim = self._claim(claim_id)
        actor = Actor(kind=ActorKind.CUSTOMER, id=str(claim.contacts.customer.email))
        claim.answer_consent(actor=actor, now=now, link_id=link_id, accept=accept)
        known = None
        if accept and not self.is_known_customer(claim.partner_id, claim.terms.customer_id):
            known = KnownCustomer.recognise(
                partner_id=claim.partner_id,
                customer_id=claim.terms.customer_id,
                friendly_name=claim.terms.friendly_name,
                claim_id=claim.id,
                now=now,
            )
        self._save_claim(claim, now, known)
        return claim.state

    # -- submission, review, dispute (R30-R35) ----------------------------------------------

    @retrying
    def submit(
        self,
        principal: Principal,
        claim_id: UUID,
        command: SubmitCommand,
        now: datetime,
        expected_version: int | None = None,
    ) -> int:
        """Submit or resubmit with proof (R30)."""
        now = _aware(now)
        claim = self._scoped_claim(principal, claim_id, expected_version=expected_version)
        claim.submit(actor=principal.actor, now=now, proof=tuple(command.proof))
        return self._save_claim(claim, now)

    @retrying
    def cancel(
        self,
        principal: Principal,
        claim_id: UUID,
        command: Cancel,
        now: datetime,
        expected_version: int | None = None,
    ) -> int:
        """Cancel before the first submission (R31)."""
        now = _aware(now)
        claim = self._scoped_claim(principal, claim_id, expected_version=expected_version)
        claim.cancel(actor=principal.actor, now=now, reason=command.reason)
        return self._save_claim(claim, now)

    @retrying
    def dispute(
        self,
        principal: Principal,
        claim_id: UUID,
        command: Dispute,
        now: datetime,
        expected_version: int | None = None,
    ) -> int:
        """Dispute a rejection, once, within dispute_days (R34, R35)."""
        now = _aware(now)
        claim = self._scoped_claim(principal, claim_id, expected_version=expected_version)
        claim.dispute(actor=principal.actor, now=now, reason=command.reason)
        return self._save_claim(claim, now)

    @retrying
    def review(
        self,
        principal: Principal,
        claim_id: UUID,
        command: Review,
        now: datetime,
        expected_version: int | None = None,
    ) -> int:
        """A reviewer's action: start, request information, approve, reject (R32, R33)."""
        principal.require_role(Role.REVIEWER)
        claim = _check_version(self._claim(claim_id), expected_version)
        now, actor, reason = _aware(now), principal.actor, command.reason
        match command.action:
            case "start":
                claim.start_review(actor=actor, now=now, reason=reason)
            case "request_information":
                claim.request_information(actor=actor, now=now, comments=reason)
            case "approve":
                claim.approve(actor=actor, now=now)
            case "reject" | "reject_final":
                final = command.action == "reject_final"
                claim.reject(actor=actor, now=now, reason=reason, final=final)
        return self._save_claim(claim, now)

    # -- policies' commands (R40, R42, R50) -------------------------------------------------

    @retrying
    def create_referral(self, claim_id: UUID, now: datetime, actor: Actor = SYSTEM) -> UUID | None:
        """The referral policy's command (R40): create the claim's referral once; its id."""
        now = _aware(now)
        claim = self._claim(claim_id)
        if claim.referral_id is not None or not claim.qualifies_for_referral:
            return claim.referral_id
        assert claim.deal_size_usd is not None and claim.terms.resolved_tenant_id is not None
        referral = Referral.open(
            actor=actor,
            now=now,
            claim_id=claim.id,
            partner_id=claim.partner_id,
            engagement_id=claim.engagement_id,
            customer_name=claim.terms.friendly_name,
            customer_id=claim.terms.customer_id,
            tenant_id=claim.terms.resolved_tenant_id,
            deal_value_usd=claim.deal_size_usd,
        )
        if not claim.record_referral(actor=actor, now=now, referral_id=referral.id):
            return None  # the claim ended before the policy ran: it never changes again
        self.save(claim, referral)
        return referral.id

    @retrying
    def upgrade_to_co_sell(self, claim_id: UUID, now: datetime, actor: Actor = SYSTEM) -> bool:
        """The co-sell policy's command (R42): after consent, for managed customers, once."""
        now = _aware(now)
        claim = self._claim(claim_id)
        referral = None if claim.referral_id is None else self.find(claim.referral_id, Referral)
        tenant_id = claim.terms.resolved_tenant_id
        tenant = self.catalog.directory.tenant_for(IdType.TENANT_ID, tenant_id or "")
        if referral is None or tenant is None or not tenant.managed:
            return False
        if not claim.upgrade_to_co_sell(actor=actor, now=now):
            return False
        referral.upgrade_to_co_sell(actor=actor, now=now)
        self.save(claim, referral)
        return True

    @retrying
    def expire(self, claim_id: UUID, now: datetime) -> bool:
        """Expire one claim if its running deadline has passed; idempotent (R50)."""
        now = _aware(now)
        claim = self._claim(claim_id)
        if not claim.expire(now=now):
            return False
        self._save_claim(claim, now)
        return True

    def expire_due(self, now: datetime, claim_ids: Iterator[UUID] | None = None) -> list[UUID]:
        """Expire every claim whose applicable deadline has passed at ``now`` (R50)."""
        candidates = self.claim_ids() if claim_ids is None else claim_ids
        return [claim_id for claim_id in candidates if self.expire(claim_id, now)]


def open_ledger(settings: Settings, catalog: Catalog | None = None) -> Ledger:
    """The Ledger on the configured store, with the configured (or demo) catalog."""
    return Ledger(catalog or load_catalog(settings.catalog), env=settings.eventsourcing_env())
