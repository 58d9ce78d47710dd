"""The Ledger's foundation: the store of claims, seats and known customers with the catalog
beside it, and the queries answered from the write model (running a command, loading and
saving: ``ledger.service.running``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.persistence import (
    Mapper,
    Notification,
    StoredEvent,
)
from eventsourcing.utils import get_topic

from ledger.aggregates.base import Aggregate
from ledger.aggregates.claim import Claim, ClaimState, DeadlineKind
from ledger.aggregates.known import KnownCustomer
from ledger.aggregates.seat import Seat
from ledger.aggregates.values import Contact, one_line
from ledger.domain import access, creation
from ledger.domain.access import Purpose
from ledger.domain.catalog import Catalog, ProofItem
from ledger.domain.commands import EligibilityCheck
from ledger.domain.creation import EligibilityPreview
from ledger.domain.customer_ids import CustomerId
from ledger.domain.errors import (
    InvalidInputError,
    LedgerError,
    NotFoundError,
    StaleVersionError,
)
from ledger.domain.principal import Principal
from ledger.service.aggregate_cache import DEFAULT_SIZE, AggregateCache
from ledger.service.running import (
    NO_KEY,
    BoundCommand,
    Changed,
    Command,
    Done,
    RequestKey,
    RunningCommands,
)
from ledger.store.log import event_log
from ledger.store.persistence import JsonTranscoder, PydanticMapper
from ledger.store.personal import KeyRing
from ledger.words.consent import ConsentFacts

__all__ = [
    "NO_KEY",
    "BoundCommand",
    "Changed",
    "Command",
    "ConsentRequest",
    "Done",
    "LedgerBase",
    "RequestKey",
    "aware",
    "check_version",
]

T = TypeVar("T")
CLAIM_CREATED_TOPICS = [get_topic(Claim.Added), get_topic(Claim.Claimed)]


def aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise InvalidInputError("naive-time", field="now")
    return now.astimezone(UTC)


def check_version(claim: Claim, expected_version: int | None) -> Claim:
    if expected_version is not None and claim.changed_since(expected_version):
        raise StaleVersionError(
            "stale-version",
            extra={"current_version": claim.version},
            params={"expected": expected_version, "current": claim.version},
        )
    return claim


@dataclass(frozen=True)
class ConsentRequest:
    """What a consent link asks the customer, and why it cannot be answered (if it cannot)."""

    claim_id: UUID
    customer_name: str
    """The directory's name of the customer's tenant, as the claim recorded it; the
    customer id's value when it recorded none (the friendly name is the partner's own)."""
    customer_id: CustomerId
    engagement_name: str
    engagement_kind: str | None
    """The engagement's kind (``workshop``, ...); None once it has left the catalog."""
    partner_name: str
    partner_contact: Contact
    deal_size_usd: Decimal | None
    expires_at: datetime
    state: ClaimState
    refusal: LedgerError | None
    answer: bool | None = None
    """What was answered through this link (True: accepted); None while nothing was."""

    @property
    def answerable(self) -> bool:
        return self.refusal is None

    def facts(self) -> ConsentFacts:
        """What the consent page tells the customer (the e-mail's sentences), every name on
        one line."""
        return ConsentFacts(
            partner=one_line(self.partner_name),
            partner_contact=one_line(self.partner_contact.name),
            partner_email=self.partner_contact.email,
            customer=one_line(self.customer_name),
            engagement=one_line(self.engagement_name),
            kind=self.engagement_kind,
            deal_size_usd=self.deal_size_usd,
            expires_at=self.expires_at,
        )


class LedgerBase(RunningCommands):
    """The event store of claims, seats and known customers, with the catalog beside it."""

    def __init__(
        self,
        catalog: Catalog,
        env: Mapping[str, str] | None = None,
        *,
        seal_contacts: bool = True,
        kept_aggregates: int = DEFAULT_SIZE,
        group_commit: bool = True,
    ) -> None:
        super().__init__(env)
        self.catalog = catalog
        self.event_log = event_log(self.recorder)
        self.keyring = KeyRing(self.recorder, self.env)
        """The contacts' keys: their names and addresses are stored sealed (erasable)."""
        self.aggregates = AggregateCache(self.keyring, kept_aggregates)
        """Aggregates kept between commands (0: none; ``bench.command_rate`` compares)."""
        self.committer = self.group_commit() if group_commit else None
        if seal_contacts:  # off only to measure what sealing costs (bench.command_rate)
            cast(PydanticMapper, self.mapper).keyring = self.keyring

    def construct_mapper(self) -> Mapper[UUID]:
        return self.factory.mapper(transcoder=JsonTranscoder(), mapper_class=PydanticMapper)

    def sealed_event(self, stored: StoredEvent) -> Any:
        """A stored event with its contacts' names and addresses still sealed: as the views
        keep them (they are opened when read, and read ``[erased]`` once erased)."""
        return cast(PydanticMapper, self.mapper).to_domain_event(stored, sealed=True)

    def _claim(self, claim_id: UUID) -> Claim:
        claim = self.find(claim_id, Claim)
        if claim is None:
            raise NotFoundError("claim-not-found", params={"claim": claim_id})
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
        return check_version(claim, expected_version)

    def _seat(self, engagement_id: str, customer_key: str, now: datetime) -> Seat:
        seat = self.find(Seat.id_for(engagement_id, customer_key), Seat)
        return seat or Seat.open(engagement_id, customer_key, now)

    def _live_or_approved(self, engagement_id: str, customer_key: str) -> int:
        seat = self.find(Seat.id_for(engagement_id, customer_key), Seat)
        return seat.count if seat else 0

    def _changed_claim(
        self, claim: Claim, now: datetime, result: T, *others: Aggregate | None
    ) -> Changed[T]:
        """The claim changed, with the seat it frees or converts when it became terminal."""
        seat: Seat | None = None
        if claim.terminal:
            seat = self._seat(claim.engagement_id, claim.terms.eligibility_key, now)
            if claim.state is ClaimState.APPROVED:
                seat.approve(claim_id=claim.id, now=now)
            else:
                seat.release(claim_id=claim.id, now=now)
        return Changed(result, (claim, seat, *others))

    # -- queries ----------------------------------------------------------------------------

    def get_claim(self, principal: Principal, claim_id: UUID) -> Claim:
        """A claim as its partner, a reviewer or an auditor may see it."""
        return self._scoped_claim(principal, claim_id, Purpose.READ)

    def claim_events(self, claim_id: UUID) -> list[Claim.Event]:
        """Every event of the claim, in order, for whoever may read it (the read model
        decides: ``ClaimQueries.folded``)."""
        events = [e for e in self.events.get(claim_id) if isinstance(e, Claim.Event)]
        if not events:
            raise NotFoundError("claim-not-found", params={"claim": claim_id})
        return events

    def history(self, principal: Principal, claim_id: UUID) -> list[Claim.Event]:
        """Every event of the claim, in order: the audit trail."""
        claim = self._scoped_claim(principal, claim_id, Purpose.HISTORY)
        return [e for e in self.events.get(claim.id) if isinstance(e, Claim.Event)]

    def required_proof(self, principal: Principal, claim_id: UUID) -> tuple[ProofItem, ...]:
        """The proof a submission of the claim must carry: the list recorded when the claim
        was made (R30), whatever the catalog asks of new claims since."""
        return self._scoped_claim(principal, claim_id, Purpose.READ).terms.required_proof

    def consent_request(self, claim_id: UUID, link_id: UUID, now: datetime) -> ConsentRequest:
        """What a consent link shows the customer (R23, R24); no account needed."""
        claim = self.find(claim_id, Claim)
        if claim is None:  # signed by us for a claim of another store
            raise NotFoundError("consent-link-invalid", rule="R23")
        engagement = self.catalog.engagement(claim.engagement_id)
        return ConsentRequest(
            claim_id=claim.id,
            customer_name=claim.terms.customer_name or claim.terms.customer_id.value,
            customer_id=claim.terms.customer_id,
            engagement_name=self.catalog.engagement_name(claim.engagement_id),
            engagement_kind=None if engagement is None else engagement.kind.value,
            partner_name=self.catalog.partner_name(claim.partner_id),
            partner_contact=claim.contacts.partner,
            deal_size_usd=claim.deal_size_usd,
            expires_at=claim.deadlines[DeadlineKind.CONSENT],
            state=claim.state,
            refusal=claim.consent_refusal(link_id, aware(now)),
            answer=claim.answer_through(link_id),
        )

    def notification_pages(
        self, page_size: int = 2000, topics: Sequence[str] = ()
    ) -> Iterator[Sequence[Notification]]:
        """The whole log (or the ``topics`` of it), in order, a page at a time."""
        position = 0
        while (page := self.event_log.page_after(position, page_size, topics)).notifications:
            yield page.notifications
            position = page.position

    def claim_ids(self) -> Iterator[UUID]:
        """Every claim's id, in the order the claims were made."""
        for page in self.notification_pages(topics=CLAIM_CREATED_TOPICS):
            yield from (UUID(str(n.originator_id)) for n in page)

    def is_known_customer(self, partner_id: str, customer_id: CustomerId) -> bool:
        """Whether the customer consented to this partner on an earlier claim (R15)."""
        return self.find(KnownCustomer.id_for(partner_id, customer_id), KnownCustomer) is not None

    def preview_eligibility(
        self, principal: Principal, check: EligibilityCheck, *, chosen: bool = False
    ) -> list[EligibilityPreview]:
        """The add flow's preview: per engagement, eligible or not with reasons, and payout.

        ``chosen``: the engagements named are the user's choice, refused as creation would
        refuse them (R2, R12: one variable-payout engagement alone, with its hours)."""
        partner = access.partner_of(self.catalog, principal)
        location = access.location_for_claims(principal, partner, check.location_id)
        resolution = creation.resolve_input(self.catalog, check.customer_id)
        engagements = (
            creation.named_engagements(self.catalog, check.engagement_ids)
            if check.engagement_ids
            else [e for e in self.catalog.engagements if location in e.eligible_locations]
        )
        if chosen:
            creation.check_choice(self.catalog, engagements, location, resolution, check.hours)
        key = resolution.subject.key
        return [
            creation.preview(
                self.catalog, e, resolution, self._live_or_approved(e.id, key), check.hours
            )
            for e in engagements
        ]
