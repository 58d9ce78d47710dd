"""The event feed: the log as the people and systems around a claim may read it, in the
followers' order, a page at a time from an opaque cursor.

Each event is shown as reads show it now (a contact's name and address opened; ``[erased]``
once the contact was erased), with an id that never changes (derived from the aggregate and
the version, so a webhook receiver can drop a duplicate). A partner's users see the events of
their claims (at their locations) and of the referrals those claims made; auditors see every
event. The cursor names a log position and is signed for the reader's scope: a cursor made
for another partner, or one never given, is refused.

Read straight from the log, not from a view: the feed is as fresh as the log, and a view that
lags cannot hide an event from it. Who owns a claim's later events is looked up once per
claim (the first event names the partner and the location; it never changes) and kept.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import Notification

from ledger.aggregates.base import DomainEvent
from ledger.aggregates.claim import Claim
from ledger.aggregates.referral import Referral
from ledger.audit.event_fields import event_details
from ledger.audit.event_ids import event_id
from ledger.domain.errors import ForbiddenError, InvalidInputError
from ledger.domain.principal import PARTNER_ROLES, Principal, Role
from ledger.service.application import Ledger
from ledger.words.refusals import names


def type_of(event_class: type) -> str:
    """An event's type as the feed names it: a claim's events by their name, as the claim's
    history does ("ConsentGiven"); any other's with its aggregate's ("Referral.Created")."""
    return event_class.__qualname__.removeprefix("Claim.")


FEED_TYPES: frozenset[str] = frozenset(
    type_of(value)
    for owner in (Claim, Referral)
    for value in vars(owner).values()
    if isinstance(value, type) and issubclass(value, owner.Event)
    if value not in (owner.Event, Claim.Created)  # never recorded: Added or Claimed is
)
"""Every event type a partner's reader may see, and a webhook may name."""
KEEP_OWNERS = 100_000
"""Claims and referrals whose owner is kept in memory (the least recent are forgotten)."""
ALL = "*"


@dataclass(frozen=True)
class Owner:
    """Whose event it is: the claim's partner and location (a referral's are its claim's)."""

    partner_id: str
    location_id: str | None
    claim_id: UUID


@dataclass(frozen=True)
class FeedEvent:
    id: str
    notification_id: int
    position: int
    type: str
    claim_id: UUID | None
    version: int
    occurred_at: datetime
    actor: dict[str, Any]
    data: dict[str, Any]
    owner: Owner | None

    def as_json(self) -> dict[str, Any]:
        """The event as the feed and the webhooks give it, JSON-ready."""
        return {
            "id": self.id,
            "position": self.position,
            "type": self.type,
            "claim_id": None if self.claim_id is None else str(self.claim_id),
            "version": self.version,
            "occurred_at": self.occurred_at.isoformat(),
            "actor": self.actor,
            "data": self.data,
        }


@dataclass(frozen=True)
class FeedPage:
    items: list[FeedEvent]
    next: str
    """The cursor to ask from next (the position this page reached, even with no items)."""


class Owners:
    """Who owns each claim and referral, read once from its first event and kept."""

    def __init__(self, ledger: Ledger, keep: int = KEEP_OWNERS) -> None:
        self.ledger = ledger
        self._keep = keep
        self._known: OrderedDict[UUID, Owner] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, event: DomainEvent) -> Owner | None:
        """The owner of a claim's or a referral's event; None for any other event."""
        if not isinstance(event, Claim.Event | Referral.Event):
            return None
        originator = event.originator_id
        with self._lock:
            if originator in self._known:
                return self._known[originator]
        owner = self._read(event)
        with self._lock:
            self._known[originator] = owner
            while len(self._known) > self._keep:
                self._known.popitem(last=False)
        return owner

    def _read(self, event: Claim.Event | Referral.Event) -> Owner:
        first = event if event.originator_version == 1 else self._first(event.originator_id)
        if isinstance(first, Claim.Created):
            return Owner(first.partner_id, first.location_id, first.originator_id)
        if isinstance(first, Referral.Created):
            claim = self._first(first.claim_id)
            return self.of(claim) or Owner(first.partner_id, None, first.claim_id)
        raise LookupError(f"the first event of {event.originator_id} created nothing known")

    def _first(self, originator_id: Any) -> DomainEvent:
        return cast(DomainEvent, next(iter(self.ledger.events.get(originator_id, lte=1))))


class Cursors:
    """Cursors signed for a reader's scope: a log position and a MAC over it."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"ledger-feed-cursor\0" + secret.encode()).digest()

    def make(self, scope: str, position: int) -> str:
        return f"{position}.{self._mac(scope, position)}"

    def read(self, scope: str, cursor: str) -> int:
        """The position a cursor names, or 422 if it was not made for this scope."""
        text, _, mac = cursor.partition(".")
        well_formed = text.isascii() and text.isdigit() and len(text) < 20
        if well_formed and hmac.compare_digest(mac, self._mac(scope, int(text))):
            return int(text)
        raise InvalidInputError("invalid-cursor", field="after")

    def _mac(self, scope: str, position: int) -> str:
        digest = hmac.new(self._key, f"{scope}\0{position}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()


def scope_of(principal: Principal) -> str:
    """Whose events the principal reads: every event for auditors, its partner's for the
    partner roles; 403 for anyone else."""
    if Role.AUDITOR in principal.roles:
        return ALL
    if principal.is_partner_user and principal.partner_id is not None:
        return principal.partner_id
    allowed = sorted(role.value for role in {*PARTNER_ROLES, Role.AUDITOR})
    raise ForbiddenError("role-required", params={"role": names(allowed, "or")})


def visible(principal: Principal, event: FeedEvent) -> bool:
    """Whether the principal may read the event."""
    if Role.AUDITOR in principal.roles:
        return True
    owner = event.owner
    if owner is None or owner.partner_id != principal.partner_id:
        return False
    return owner.location_id is None or principal.may_use_location(owner.location_id)


SCAN = 5_000
"""Events read at most for one answer: a partner whose events are few among many others gets
an empty page with a cursor further on rather than a long wait."""


class Feed:
    """Pages of the log as a reader may see them, and one event as the feed shows it."""

    def __init__(self, ledger: Ledger, owners: Owners, secret: str) -> None:
        self.ledger = ledger
        self.owners = owners
        self.cursors = Cursors(secret)

    def page(self, principal: Principal, after: str | None, limit: int) -> FeedPage:
        """Up to ``limit`` events after the cursor (more only when one transaction holds
        more), and the cursor to ask from next."""
        scope = scope_of(principal)
        position = 0 if after is None else self.cursors.read(scope, after)
        items: list[FeedEvent] = []
        scanned = 0
        while len(items) < limit and scanned < SCAN:
            page = self.ledger.event_log.page_after(position, limit - len(items))
            if not page.notifications:
                break
            for notification, at in zip(page.notifications, page.positions, strict=True):
                event = self.event(notification, at)
                if visible(principal, event):
                    items.append(event)
            scanned, position = scanned + len(page.notifications), page.position
        return FeedPage(items, self.cursors.make(scope, position))

    def event(self, notification: Notification, position: int) -> FeedEvent:
        """One event as reads show it now (``[erased]`` once its contact was erased)."""
        domain = cast(DomainEvent, self.ledger.mapper.to_domain_event(notification))
        owner = self.owners.of(domain)
        actor = getattr(domain, "actor", None)
        return FeedEvent(
            id=event_id(domain.originator_id, domain.originator_version),
            notification_id=notification.id,
            position=position,
            type=type_of(type(domain)),
            claim_id=None if owner is None else owner.claim_id,
            version=domain.originator_version,
            occurred_at=domain.timestamp,
            actor={} if actor is None else actor.model_dump(mode="json"),
            data=event_details(domain),
            owner=owner,
        )

    def event_by_id(self, notification_id: int, position: int) -> FeedEvent | None:
        """The event with this notification id, read again now (None if there is none)."""
        found = self.ledger.recorder.select_notifications(notification_id, 1)
        if not found or found[0].id != notification_id:
            return None
        return self.event(found[0], position)
