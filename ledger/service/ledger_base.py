"""The Ledger's foundation: loading and saving claims, the retry on a lost race, and the
queries answered from the write model."""

from __future__ import annotations

import functools
import hashlib
import random
import time
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, cast
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import BaseAggregate, DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import (
    IntegrityError,
    Mapper,
    Notification,
    Recording,
    StoredEvent,
)
from eventsourcing.utils import get_topic
from pydantic import TypeAdapter

from ledger.aggregates.base import Aggregate
from ledger.aggregates.claim import Claim, ClaimState, DeadlineKind
from ledger.aggregates.known import KnownCustomer
from ledger.aggregates.request import IdempotentRequest
from ledger.aggregates.seat import Seat
from ledger.aggregates.values import Contact, one_line
from ledger.domain import access, creation
from ledger.domain.access import Purpose
from ledger.domain.catalog import Catalog, ProofItem
from ledger.domain.commands import EligibilityCheck
from ledger.domain.creation import EligibilityPreview
from ledger.domain.customer_ids import CustomerId
from ledger.domain.errors import (
    ConflictError,
    InvalidInputError,
    LedgerError,
    NotFoundError,
    StaleVersionError,
)
from ledger.domain.principal import Principal
from ledger.service.aggregate_cache import DEFAULT_SIZE, AggregateCache, AttemptReads
from ledger.store.log import Written, event_log
from ledger.store.persistence import JsonTranscoder, PydanticMapper
from ledger.store.personal import KeyRing
from ledger.words.consent import ConsentFacts

P = ParamSpec("P")
T = TypeVar("T")
U = TypeVar("U")
A = TypeVar("A", bound=Aggregate)
L = TypeVar("L", bound="LedgerBase")
CLAIM_CREATED_TOPICS = [get_topic(Claim.Added), get_topic(Claim.Claimed)]
MAX_ATTEMPTS = 30


MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class RequestKey:
    """The Idempotency-Key a command runs under: whose it is, the key ("": none, nothing is
    recorded) and the hash of the request it came with."""

    owner: str
    key: str
    request_hash: str


NO_KEY = RequestKey(owner="", key="", request_hash="")
"""No Idempotency-Key: the command runs as itself, and nothing is recorded."""


@dataclass(frozen=True)
class Changed(Generic[T]):
    """What a command did: its result, and the aggregates it changed (None: no change of that
    kind). It saves nothing: ``LedgerBase.run`` saves them."""

    result: T
    aggregates: tuple[Aggregate | None, ...] = ()


@dataclass(frozen=True)
class Done(Generic[T]):
    """What running a command came to: its result (the first run's, on a replay), whether it
    answered from its request's record, the version each aggregate reached in the command's
    save (the first run's, on a replay: what the answer shows, whatever happened since), and
    the log position that save reached (None: nothing saved now), which the same client's
    reads wait for."""

    result: T
    replayed: bool = False
    versions: Mapping[UUID, int] = field(default_factory=dict)
    position: int | None = None

    def answering(self, result: U) -> Done[U]:
        """The same outcome with another result: what an interface made of this one."""
        return Done(result, self.replayed, self.versions, self.position)


class Command(Generic[L, P, T]):
    """A command of the Ledger: the method it decorates loads what it needs, lets the
    aggregates act and returns what it ``Changed``, saving nothing. ``ledger.run(request,
    ledger.submit, ...)`` runs it once per request and saves; ``ledger.submit(...)`` is
    ``ledger.run(NO_KEY, ledger.submit, ...).result``: it saves, and answers the result."""

    def __init__(self, decide: Callable[Concatenate[L, P], Changed[T]]) -> None:
        self.decide = decide
        self.__name__ = decide.__name__
        self.__doc__ = decide.__doc__

    @functools.cached_property
    def result_type(self) -> TypeAdapter[T]:
        """How its result is kept in a request's record (the ``T`` of ``Changed[T]``)."""
        changed = typing.get_type_hints(self.decide)["return"]
        return TypeAdapter(typing.get_args(changed)[0])

    @typing.overload
    def __get__(self, ledger: None, owner: type[Any]) -> Command[L, P, T]: ...

    @typing.overload
    def __get__(self, ledger: L, owner: type[Any]) -> BoundCommand[P, T]: ...

    def __get__(self, ledger: L | None, owner: type[Any]) -> Command[L, P, T] | BoundCommand[P, T]:
        return self if ledger is None else BoundCommand(ledger, self)


@dataclass(frozen=True)
class BoundCommand(Generic[P, T]):
    """A command of one ledger (``ledger.submit``): called, it runs with no key and saves."""

    ledger: LedgerBase
    command: Command[Any, P, T]

    @property
    def __name__(self) -> str:
        return self.command.__name__

    def decide(self, *args: P.args, **kwargs: P.kwargs) -> Changed[T]:
        """What the command would change now: nothing is saved."""
        return self.command.decide(self.ledger, *args, **kwargs)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run the command with no key: what it changed is saved; its result."""
        return self.ledger.run(NO_KEY, self, *args, **kwargs).result


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


class LedgerBase(Application[UUID]):
    """The event store of claims, seats and known customers, with the catalog beside it."""

    def __init__(
        self,
        catalog: Catalog,
        env: Mapping[str, str] | None = None,
        *,
        seal_contacts: bool = True,
        kept_aggregates: int = DEFAULT_SIZE,
    ) -> None:
        super().__init__(env)
        self.catalog = catalog
        self.event_log = event_log(self.recorder)
        self.keyring = KeyRing(self.recorder, self.env)
        """The contacts' keys: their names and addresses are stored sealed (erasable)."""
        self.aggregates = AggregateCache(self.keyring, kept_aggregates)
        """Aggregates kept between commands (0: none; ``bench.command_rate`` compares)."""
        if seal_contacts:  # off only to measure what sealing costs (bench.command_rate)
            cast(PydanticMapper, self.mapper).keyring = self.keyring

    def construct_mapper(self) -> Mapper[UUID]:
        return self.factory.mapper(transcoder=JsonTranscoder(), mapper_class=PydanticMapper)

    def sealed_event(self, stored: StoredEvent) -> Any:
        """A stored event with its contacts' names and addresses still sealed: as the views
        keep them (they are opened when read, and read ``[erased]`` once erased)."""
        return cast(PydanticMapper, self.mapper).to_domain_event(stored, sealed=True)

    # -- running a command: the one step that saves ------------------------------------------

    def request_key(self, owner: str, key: str | None, fingerprint: str) -> RequestKey:
        """The request a command runs under: once per (owner, key), so that after any crash
        a retry with the same key and request answers what the first did, and a retry of a
        request that died before its save runs the command. No key: ``NO_KEY``'s kind."""
        if key is not None and not (1 <= len(key) <= MAX_KEY_LENGTH and key.isprintable()):
            raise InvalidInputError(
                "invalid-idempotency-key",
                field="Idempotency-Key",
                params={"max_length": MAX_KEY_LENGTH},
            )
        request_hash = hashlib.sha256(fingerprint.encode()).hexdigest()
        return RequestKey(owner=owner, key=key or "", request_hash=request_hash)

    def run(
        self,
        request: RequestKey,
        command: BoundCommand[P, T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Done[T]:
        """Run the command once per request and save what it changed, with the request's
        record, in one transaction; or answer what the record says, if it ran before.

        When a concurrent save won the race (the store refuses ours), it runs again on fresh
        state, so its checks always see the latest facts (R16)."""
        decide = functools.partial(command.decide, *args, **kwargs)
        for n in range(MAX_ATTEMPTS):
            try:
                return self._attempt(request, command.command, decide)
            except IntegrityError:
                time.sleep(random.uniform(0, 0.002 * 2 ** min(n, 6)))
        raise ConflictError("concurrent-update")

    def _attempt(
        self, request: RequestKey, command: Command[Any, Any, T], decide: Callable[[], Changed[T]]
    ) -> Done[T]:
        """One attempt on the aggregates this process keeps (``AggregateCache``); a refusal
        on kept copies is checked once more on fresh reads before it is answered."""
        with self.aggregates.attempt() as reads:
            try:
                return self._attempt_with(request, command, decide, reads)
            except LedgerError:
                if not reads.used_copies:
                    raise
                self.aggregates.drop(reads.copies)
        with self.aggregates.attempt(fresh=True) as reads:
            return self._attempt_with(request, command, decide, reads)

    def _attempt_with(
        self,
        request: RequestKey,
        command: Command[Any, Any, T],
        decide: Callable[[], Changed[T]],
        reads: AttemptReads,
    ) -> Done[T]:
        """The recorded answer if the request ran before; else run the command and save what
        it changed with the request's record.

        A refusal is checked against the record too: a twin request that committed after
        this one looked is what made it (the claim exists now, the state moved on)."""
        record = self._request_record(request, command.__name__)
        if record is None:
            try:
                changed = decide()
            except LedgerError:
                record = self._request_record(request, command.__name__)
                if record is None:
                    raise
            else:
                return self._save_changed(request, command, changed, reads)
        versions = {UUID(id_): version for id_, version in record.versions.items()}
        return Done(command.result_type.validate_python(record.result), True, versions)

    def _request_record(self, request: RequestKey, command: str) -> IdempotentRequest | None:
        """The record of this request's first run, if it ran; 422 when the key was used for
        another request. No key: no record."""
        if not request.key:
            return None
        record = self.find(IdempotentRequest.id_for(request.owner, request.key), IdempotentRequest)
        if record is not None and (record.request_hash, record.command) != (
            request.request_hash,
            command,
        ):
            raise InvalidInputError("idempotency-key-reused", field="Idempotency-Key")
        return record

    def _save_changed(
        self,
        request: RequestKey,
        command: Command[Any, Any, T],
        changed: Changed[T],
        reads: AttemptReads,
    ) -> Done[T]:
        """Save what the command changed and the request's record (with the versions saved),
        in one transaction; the record's time is the command's ``now`` (that of its events).
        A command that changed nothing has nothing to record: a retry runs it again, as
        harmless as the first. Without a key, only the command's aggregates are saved."""
        aggregates = [a for a in changed.aggregates if a is not None and a.pending_events]
        if not aggregates:
            return Done(changed.result)
        versions = {aggregate.id: aggregate.version for aggregate in aggregates}
        record = None
        if request.key:
            record = IdempotentRequest.done(
                owner=request.owner,
                key=request.key,
                command=command.__name__,
                request_hash=request.request_hash,
                result=command.result_type.dump_python(changed.result, mode="json"),
                versions={str(id_): version for id_, version in versions.items()},
                now=max(e.timestamp for a in aggregates for e in a.pending_events),
            )
        self._check_unsaved_copies(reads, versions)
        new_events = {a.id: tuple(a.pending_events) for a in aggregates}
        written = Written()
        try:
            recordings = self.save(*aggregates, record, written=written)
        except IntegrityError:  # a race lost, maybe on a kept copy another process moved on
            self.aggregates.drop([*reads.copies, *versions])
            raise
        self.aggregates.keep(new_events)
        last = max(r.notification.id for r in recordings)
        return Done(changed.result, False, versions, self.event_log.position_written(last, written))

    def _check_unsaved_copies(self, reads: AttemptReads, saved: Mapping[UUID, int]) -> None:
        """The kept copies the command read and does not save are still what the store
        holds; else the attempt is lost as a race is (``IntegrityError``), to run again."""
        for id_, version in reads.unsaved_copies(saved).items():
            latest = self.recorder.select_events(id_, desc=True, limit=1)
            if (latest[0].originator_version if latest else 0) != version:
                self.aggregates.drop(reads.copies)
                raise IntegrityError(f"a kept copy of {id_} is stale")

    def save(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        """The library's save, without its two ``isinstance`` checks against runtime
        protocols per aggregate (slow before Python 3.12); anything but an aggregate is
        collected as the library collects it."""
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, BaseAggregate):  # a plain class check
                processing.events.extend(obj.collect_events())
                processing.aggregates[obj.id] = obj
            elif obj is not None:
                processing.collect_events(obj)
        processing.saved_kwargs.update(kwargs)
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        self.notify(processing.events)  # deprecated in the library, called as it does
        return recordings

    # -- loading ----------------------------------------------------------------------------

    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        """The aggregate with this id if it exists and is a ``kind``; else None. In a
        command, this process's kept copy if it has one (checked when the command saves)."""
        events = self.aggregates.take(aggregate_id)
        if events is None:
            events = tuple(self.events.get(aggregate_id))
            self.aggregates.read(aggregate_id, events)
        if not events:
            return None
        aggregate = _fold(None, events)
        return aggregate if isinstance(aggregate, kind) else None

    def read_many(self, ids: Iterable[UUID]) -> None:
        """Read, in one round trip where the store can (PostgreSQL), the aggregates the
        running command will ``find`` and has no copy of."""
        read_streams = getattr(self.recorder, "select_streams", None)
        unread = self.aggregates.unread(ids)
        if read_streams is None or len(unread) < 2:
            return
        streams = read_streams(unread)
        for id_ in unread:
            events = tuple(self.mapper.to_domain_event(s) for s in streams.get(id_, ()))
            self.aggregates.read(id_, events)

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


def _fold(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's projector without its per-event ``isinstance`` check against a runtime
    protocol (slow before Python 3.12: a tenth of a command's CPU); all our events mutate."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate
