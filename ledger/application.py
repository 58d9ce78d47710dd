"""The Ledger application: the service layer. One short method per command.

Each command reads what it needs, asks the catalog for its decisions, calls the aggregate
(which holds the rules) and saves every changed aggregate in one atomic ``save``. When a
concurrent writer got there first, the store refuses the save and the command runs again on
fresh state, so its checks always see the latest facts (R16).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Mapper, Notification
from eventsourcing.utils import get_topic

from ledger.aggregates.base import SYSTEM, Actor, ActorKind, Aggregate
from ledger.aggregates.claim import Claim, ClaimState
from ledger.aggregates.known import KnownCustomer
from ledger.aggregates.referral import Referral
from ledger.aggregates.seat import Seat
from ledger.aggregates.values import ReferralTerms
from ledger.catalog import Catalog, Engagement, Partner, load_catalog
from ledger.commands import (
    Cancel,
    CreateClaims,
    Dispute,
    EligibilityCheck,
    RequestConsent,
    Review,
    Submit,
)
from ledger.customer_ids import CustomerId, IdType, parse_customer_id
from ledger.eligibility import Eligibility, Resolution, assess, proposed_payout, resolve
from ledger.errors import (
    ConflictError,
    ForbiddenError,
    IneligibleError,
    InvalidInputError,
    NotFoundError,
    RuleRefusedError,
    StaleVersionError,
)
from ledger.persistence import JsonTranscoder, PydanticMapper
from ledger.principal import Principal, Role
from ledger.settings import Settings

T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)
CLAIM_CREATED_TOPICS = [get_topic(Claim.Added), get_topic(Claim.Claimed)]


@dataclass(frozen=True)
class EligibilityPreview:
    engagement_id: str
    eligibility: Eligibility
    proposed_payout_usd: Decimal | None


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise InvalidInputError("naive-time", "times must carry a time zone", field="now")
    return now.astimezone(UTC)


class Ledger(Application[UUID]):
    """Claims: creation, consent, submission, review, dispute, expiry; and their history."""

    name = "Ledger"
    max_attempts = 30

    def __init__(self, catalog: Catalog, env: Mapping[str, str] | None = None) -> None:
        super().__init__(env)
        self.catalog = catalog

    def construct_mapper(self) -> Mapper[UUID]:
        return self.factory.mapper(transcoder=JsonTranscoder(), mapper_class=PydanticMapper)

    # -- plumbing ---------------------------------------------------------------------------

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` (reads, decisions, one save) again when a concurrent save won."""
        for n in range(self.max_attempts):
            try:
                return attempt()
            except IntegrityError:
                time.sleep(random.uniform(0, 0.002 * 2 ** min(n, 6)))
        raise ConflictError(
            "concurrent-update",
            "the claim was changed by others too often while this request ran; try again",
        )

    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        """The aggregate with this id if it exists and is a ``kind``; else None."""
        try:
            aggregate: object = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return aggregate if isinstance(aggregate, kind) else None

    def _seat(self, engagement_id: str, customer_key: str, now: datetime) -> Seat:
        seat = self.find(Seat.id_for(engagement_id, customer_key), Seat)
        return seat or Seat.open(engagement_id, customer_key, now)

    def _claim(self, claim_id: UUID) -> Claim:
        claim = self.find(claim_id, Claim)
        if claim is None:
            raise NotFoundError("claim-not-found", f"no claim {claim_id}")
        return claim

    def _partner_claim(
        self, principal: Principal, claim_id: UUID, expected_version: int | None = None
    ) -> Claim:
        """A claim of the principal's partner; another partner's claim is not found (R1)."""
        partner_id = principal.require_partner_role()
        claim = self._claim(claim_id)
        if claim.partner_id != partner_id:
            raise NotFoundError("claim-not-found", f"no claim {claim_id}")
        if not principal.may_use_location(claim.terms.location_id):
            raise ForbiddenError(
                "location-not-allowed",
                f"you may not act for location {claim.terms.location_id}",
                rule="R1",
            )
        return self._check_version(claim, expected_version)

    @staticmethod
    def _check_version(claim: Claim, expected_version: int | None) -> Claim:
        if expected_version is not None and claim.version != expected_version:
            raise StaleVersionError(
                "stale-version",
                f"the claim is at version {claim.version}, not {expected_version}",
                extra={"current_version": claim.version},
            )
        return claim

    def _save_claim(self, claim: Claim, now: datetime, *others: Aggregate | None) -> None:
        """Save the claim with the seat it frees or converts when it became terminal."""
        seat: Seat | None = None
        if claim.terminal:
            seat = self._seat(claim.engagement_id, claim.terms.eligibility_key, now)
            if claim.state is ClaimState.APPROVED:
                seat.approve(claim_id=claim.id, now=now)
            else:
                seat.release(claim_id=claim.id, now=now)
        self.save(claim, seat, *others)

    def _claim_command(
        self,
        principal: Principal,
        claim_id: UUID,
        expected_version: int | None,
        now: datetime,
        act: Callable[[Claim, datetime], None],
    ) -> int:
        """Run a partner command on a claim; returns the claim's new version."""
        now = _aware(now)

        def attempt() -> int:
            claim = self._partner_claim(principal, claim_id, expected_version)
            act(claim, now)
            self._save_claim(claim, now)
            return claim.version

        return self._retrying(attempt)

    # -- queries ----------------------------------------------------------------------------

    def get_claim(self, principal: Principal, claim_id: UUID) -> Claim:
        """A claim as its partner, a reviewer or an auditor may see it."""
        if principal.roles & {Role.REVIEWER, Role.AUDITOR}:
            return self._claim(claim_id)
        return self._partner_claim(principal, claim_id)

    def history(self, principal: Principal, claim_id: UUID) -> list[Claim.Event]:
        """Every event of the claim, in order: the audit trail."""
        claim = self.get_claim(principal, claim_id)
        return [e for e in self.events.get(claim.id) if isinstance(e, Claim.Event)]

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
        partner = self._partner(principal)
        location = self._location(principal, partner, check.location_id)
        resolution = resolve(
            self.catalog, parse_customer_id(check.customer_id.type, check.customer_id.value)
        )
        engagements = (
            [self._engagement(e) for e in dict.fromkeys(check.engagement_ids)]
            if check.engagement_ids
            else [e for e in self.catalog.engagements if location in e.eligible_locations]
        )
        previews = []
        for engagement in engagements:
            seat = self.find(Seat.id_for(engagement.id, resolution.subject.key), Seat)
            verdict = assess(engagement, resolution, seat.count if seat else 0)
            payout = None
            if verdict.eligible and check.hours is not None:
                payout = proposed_payout(self.catalog, engagement, resolution, check.hours)
            previews.append(EligibilityPreview(engagement.id, verdict, payout))
        return previews

    # -- creation (R1-R19) ------------------------------------------------------------------

    def _partner(self, principal: Principal) -> Partner:
        partner_id = principal.require_partner_role()
        partner = self.catalog.partner(partner_id)
        if partner is None:
            raise ForbiddenError("unknown-partner", f"partner {partner_id} is not in the programme")
        return partner

    @staticmethod
    def _location(principal: Principal, partner: Partner, location_id: str) -> str:
        location = partner.location(location_id)
        if location is None:
            raise RuleRefusedError(
                "location-not-found",
                f"location {location_id} is not a location of {partner.id}",
                rule="R2",
                field="location_id",
            )
        if not principal.may_use_location(location.id):
            raise ForbiddenError(
                "location-not-allowed", f"you may not act for location {location.id}", rule="R1"
            )
        if not location.enrolled:
            raise RuleRefusedError(
                "location-not-enrolled",
                f"location {location.id} is not enrolled in the incentives programme",
                rule="R2",
                field="location_id",
            )
        return location.id

    def _engagement(self, engagement_id: str) -> Engagement:
        engagement = self.catalog.engagement(engagement_id)
        if engagement is None:
            raise RuleRefusedError(
                "unknown-engagement",
                f"there is no engagement {engagement_id}",
                field="engagement_ids",
            )
        return engagement

    def add_customer(
        self, principal: Principal, command: CreateClaims, now: datetime
    ) -> list[UUID]:
        """Add a new customer and claim it for one or more engagements (R1-R16)."""
        if command.origin != "added":
            raise InvalidInputError("invalid-input", "origin must be 'added'", field="origin")
        return self.create_claims(principal, command, now)

    def claim_customer(
        self, principal: Principal, command: CreateClaims, now: datetime
    ) -> list[UUID]:
        """Claim a known customer from the Eligible tab (R17-R19)."""
        if command.origin != "claimed":
            raise InvalidInputError("invalid-input", "origin must be 'claimed'", field="origin")
        return self.create_claims(principal, command, now)

    def create_claims(
        self, principal: Principal, command: CreateClaims, now: datetime
    ) -> list[UUID]:
        """One claim per engagement, all or none (R11); returns their ids."""
        now = _aware(now)
        partner = self._partner(principal)
        location_id = self._location(principal, partner, command.location_id)
        customer_id = parse_customer_id(command.customer_id.type, command.customer_id.value)
        resolution = resolve(self.catalog, customer_id)
        engagements = [self._engagement(e) for e in dict.fromkeys(command.engagement_ids)]
        self._check_engagements(engagements, location_id)
        mismatch = self._tenant_mismatch_reason(command, resolution)
        self._check_known(partner.id, customer_id, command.origin)
        terms = {
            "partner_id": partner.id,
            "location_id": location_id,
            "friendly_name": command.friendly_name,
            "customer_id": customer_id,
            "eligibility_key": resolution.subject.key,
            "resolved_tenant_id": resolution.tenant_id,
            "tenant_mismatch_reason": mismatch,
            "contacts": command.contacts,
        }

        def attempt() -> list[UUID]:
            seats = {e.id: self._seat(e.id, resolution.subject.key, now) for e in engagements}
            self._check_eligible(partner.id, engagements, resolution, seats)
            claims = []
            for engagement in engagements:
                claim = Claim.create(
                    claim_id=uuid4(),
                    origin=command.origin,
                    now=now,
                    actor=principal.actor,
                    engagement_id=engagement.id,
                    payout_model=engagement.payout_model,
                    fixed_payout_usd=engagement.fixed_payout_usd,
                    hours=command.hours if engagement.variable else None,
                    proposed_payout_usd=proposed_payout(
                        self.catalog, engagement, resolution, command.hours
                    ),
                    deadline_days=engagement.deadlines,
                    required_proof=tuple(engagement.required_proof),
                    referral_terms=ReferralTerms(
                        enabled=engagement.referrals_enabled,
                        min_deal_size_usd=engagement.referral_min_deal_size_usd,
                    ),
                    **terms,
                )
                seats[engagement.id].hold(
                    claim_id=claim.id,
                    partner_id=partner.id,
                    limit=engagement.customer_claim_limit,
                    now=now,
                )
                claims.append(claim)
            self.save(*claims, *seats.values())
            return [c.id for c in claims]

        return self._retrying(attempt)

    @staticmethod
    def _check_engagements(engagements: Sequence[Engagement], location_id: str) -> None:
        if len(engagements) > 1 and any(e.variable for e in engagements):
            raise RuleRefusedError(
                "variable-payout-single-engagement",
                "a variable-payout engagement must be claimed on its own",
                rule="R12",
                field="engagement_ids",
            )
        for engagement in engagements:
            if location_id not in engagement.eligible_locations:
                raise RuleRefusedError(
                    "location-not-eligible",
                    f"location {location_id} is not eligible for {engagement.id}",
                    rule="R2",
                    field="location_id",
                    extra={"engagement_id": engagement.id},
                )

    @staticmethod
    def _tenant_mismatch_reason(command: CreateClaims, resolution: Resolution) -> str | None:
        """R8: a contact outside the tenant's verified domains needs a recorded reason."""
        if resolution.customer_id.type is not IdType.TENANT_ID:
            return None
        verified = resolution.tenant.domains if resolution.tenant else []
        if command.contacts.customer.email_domain in verified:
            return None
        if command.tenant_mismatch_reason is None:
            raise RuleRefusedError(
                "tenant-domain-mismatch-reason-required",
                f"the customer contact's e-mail domain {command.contacts.customer.email_domain} "
                "is not a verified domain of this tenant; give a reason",
                rule="R8",
                field="tenant_mismatch_reason",
            )
        return command.tenant_mismatch_reason

    def _check_known(
        self, partner_id: str, customer_id: CustomerId, origin: Literal["added", "claimed"]
    ) -> None:
        known = self.is_known_customer(partner_id, customer_id)
        if origin == "added" and known:
            raise ConflictError(
                "customer-already-known",
                "this customer is already known to you; claim it from the Eligible tab",
                rule="R15",
                field="customer_id",
            )
        if origin == "claimed" and not known:
            raise NotFoundError(
                "customer-not-known",
                "no known customer with this id; add it instead",
                rule="R15",
            )

    @staticmethod
    def _check_eligible(
        partner_id: str,
        engagements: Sequence[Engagement],
        resolution: Resolution,
        seats: Mapping[str, Seat],
    ) -> None:
        """Refuse the whole creation if any engagement is not eligible (R10, R11, R14)."""
        refused: dict[str, Eligibility] = {}
        for engagement in engagements:
            seat = seats[engagement.id]
            seat.refuse_second_live_claim(partner_id)
            verdict = assess(engagement, resolution, seat.count)
            if not verdict.eligible:
                refused[engagement.id] = verdict
        if not refused:
            return
        reasons = {e: list(v.reasons) for e, v in refused.items()}
        detail = "; ".join(
            f"{e}: {', '.join(v.reasons)}" + (f" ({v.hint})" if v.hint else "")
            for e, v in refused.items()
        )
        slugs = {r for v in refused.values() for r in v.reasons}
        if len(slugs) == 1:
            (slug,) = slugs
            rule = next(iter(refused.values())).rule
            raise RuleRefusedError(
                slug, detail, rule=rule, field="engagement_ids", extra={"reasons": reasons}
            )
        raise IneligibleError(reasons, detail)

    # -- consent (R20-R25) ------------------------------------------------------------------

    def request_consent(
        self,
        principal: Principal,
        claim_id: UUID,
        command: RequestConsent,
        now: datetime,
        expected_version: int | None = None,
    ) -> UUID:
        """Send the consent e-mail; returns the id of the (single-use) link it carries."""
        link_id = uuid4()
        self._claim_command(
            principal,
            claim_id,
            expected_version,
            now,
            lambda claim, at: claim.request_consent(
                actor=principal.actor,
                now=at,
                deal_size_usd=command.deal_size_usd,
                contacts=command.contacts,
                disclaimer_accepted=command.disclaimer_accepted,
                link_id=link_id,
            ),
        )
        return link_id

    def send_consent_reminder(
        self,
        principal: Principal,
        claim_id: UUID,
        now: datetime,
        expected_version: int | None = None,
    ) -> UUID:
        """Resend the consent e-mail with a new link; the old link stops working (R24)."""
        link_id = uuid4()
        self._claim_command(
            principal,
            claim_id,
            expected_version,
            now,
            lambda claim, at: claim.send_reminder(actor=principal.actor, now=at, link_id=link_id),
        )
        return link_id

    def answer_consent(self, claim_id: UUID, link_id: UUID, accept: bool, now: datetime) -> None:
        """The customer's answer through the link (R23, R24); no account needed."""
        now = _aware(now)

        def attempt() -> None:
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

        self._retrying(attempt)

    # -- submission, review, dispute (R30-R35) ----------------------------------------------

    def submit(
        self,
        principal: Principal,
        claim_id: UUID,
        command: Submit,
        now: datetime,
        expected_version: int | None = None,
    ) -> int:
        """Submit or resubmit with proof (R30)."""
        return self._claim_command(
            principal,
            claim_id,
            expected_version,
            now,
            lambda claim, at: claim.submit(
                actor=principal.actor, now=at, proof=tuple(command.proof)
            ),
        )

    def cancel(
        self,
        principal: Principal,
        claim_id: UUID,
        command: Cancel,
        now: datetime,
        expected_version: int | None = None,
    ) -> int:
        """Cancel before the first submission (R31)."""
        return self._claim_command(
            principal,
            claim_id,
            expected_version,
            now,
            lambda claim, at: claim.cancel(actor=principal.actor, now=at, reason=command.reason),
        )

    def dispute(
        self,
        principal: Principal,
        claim_id: UUID,
        command: Dispute,
        now: datetime,
        expected_version: int | None = None,
    ) -> int:
        """Dispute a rejection, once, within dispute_days (R34, R35)."""
        return self._claim_command(
            principal,
            claim_id,
            expected_version,
            now,
            lambda claim, at: claim.dispute(actor=principal.actor, now=at, reason=command.reason),
        )

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
        now = _aware(now)
        if command.action not in {"start", "approve"} and command.reason is None:
            raise RuleRefusedError(
                "reason-required",
                f"{command.action} needs a reason",
                rule="R32",
                field="reason",
            )
        reason = command.reason or ""
        actor = principal.actor

        def attempt() -> int:
            claim = self._check_version(self._claim(claim_id), expected_version)
            match command.action:
                case "start":
                    claim.start_review(actor=actor, now=now, reason=command.reason)
                case "request_information":
                    claim.request_information(actor=actor, now=now, comments=reason)
                case "approve":
                    claim.approve(actor=actor, now=now)
                case "reject" | "reject_final":
                    claim.reject(
                        actor=actor, now=now, reason=reason, final=command.action == "reject_final"
                    )
            self._save_claim(claim, now)
            return claim.version

        return self._retrying(attempt)

    # -- policies' commands (R40, R42, R50) -------------------------------------------------

    def create_referral(self, claim_id: UUID, now: datetime, actor: Actor = SYSTEM) -> UUID | None:
        """The referral policy's command (R40): create the claim's referral once; its id."""
        now = _aware(now)

        def attempt() -> UUID | None:
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

        return self._retrying(attempt)

    def upgrade_to_co_sell(self, claim_id: UUID, now: datetime, actor: Actor = SYSTEM) -> bool:
        """The co-sell policy's command (R42): after consent, for managed customers, once."""
        now = _aware(now)

        def attempt() -> bool:
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

        return self._retrying(attempt)

    def expire(self, claim_id: UUID, now: datetime) -> bool:
        """Expire one claim if its running deadline has passed; idempotent (R50)."""
        now = _aware(now)

        def attempt() -> bool:
            claim = self._claim(claim_id)
            if not claim.expire(now=now):
                return False
            self._save_claim(claim, now)
            return True

        return self._retrying(attempt)

    def expire_due(self, now: datetime, claim_ids: Iterator[UUID] | None = None) -> list[UUID]:
        """Expire every claim whose applicable deadline has passed at ``now`` (R50)."""
        candidates = self.claim_ids() if claim_ids is None else claim_ids
        return [claim_id for claim_id in candidates if self.expire(claim_id, now)]


def open_ledger(settings: Settings, catalog: Catalog | None = None) -> Ledger:
    """The Ledger on the configured store, with the configured (or demo) catalog."""
    return Ledger(catalog or load_catalog(settings.catalog), env=settings.eventsourcing_env())
