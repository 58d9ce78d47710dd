"""A partner's webhook subscriptions (its incentives admin's): subscribe, list, delete, read
the delivery log, retry a failed delivery. What the API and the settings page both call.

Each change is an event of a ``WebhookSubscription``; the tables the follower keeps
(``ledger.policies.webhook_deliveries``) are brought up to the log before each read, so a
subscription shows the moment it is made.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from ledger.aggregates.webhook import WebhookSubscription
from ledger.domain.errors import InvalidInputError, NotFoundError
from ledger.domain.principal import Principal, Role
from ledger.policies.webhook_deliveries import ALL, DeliveryRecorder
from ledger.policies.webhook_sender import secret_of
from ledger.policies.webhook_targets import Resolver, check_target, resolve
from ledger.projections.base import parse_ts, ts
from ledger.projections.feed import FEED_TYPES
from ledger.projections.store import ViewStore
from ledger.service.application import Ledger
from ledger.service.settings import Settings

MAX_SUBSCRIPTIONS = 20
"""Active subscriptions a partner may have at once."""
LOG_LENGTH = 200
"""Deliveries a subscription's log shows, the latest first."""


@dataclass(frozen=True)
class Subscription:
    id: str
    url: str
    events: tuple[str, ...]
    status: str
    """``active`` or ``disabled`` (since ``disabled_at``)."""
    created_at: datetime
    created_by: str
    disabled_at: datetime | None
    last_delivery_at: datetime | None
    last_code: int | None


@dataclass(frozen=True)
class Delivery:
    id: str
    event_id: str
    type: str
    claim_id: str
    status: str
    """``pending`` (``retrying`` once attempted), ``sending``, ``delivered`` or ``failed``."""
    attempts: int
    last_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime


def _time(text: str | None) -> datetime | None:
    return parse_ts(text) if text else None


def subscription_of(row: dict[str, Any]) -> Subscription:
    return Subscription(
        id=row["subscription_id"],
        url=row["url"],
        events=tuple(json.loads(row["events"])),
        status=row["status"],
        created_at=parse_ts(row["created_at"]),
        created_by=row["created_by"],
        disabled_at=_time(row["disabled_at"]),
        last_delivery_at=_time(row["last_delivery_at"]),
        last_code=row["last_code"],
    )


def delivery_of(row: dict[str, Any]) -> Delivery:
    status = row["status"]
    if status == "pending" and row["attempts"]:
        status = "retrying"
    waiting = status in ("pending", "retrying")
    return Delivery(
        id=row["delivery_id"],
        event_id=row["event_id"],
        type=row["type"],
        claim_id=row["claim_id"],
        status=status,
        attempts=int(row["attempts"]),
        last_code=row["last_code"],
        last_error=row["last_error"],
        next_attempt_at=_time(row["next_attempt_at"]) if waiting else None,
        delivered_at=_time(row["delivered_at"]),
        created_at=parse_ts(row["created_at"]),
    )


def chosen_events(events: list[str]) -> tuple[str, ...]:
    """The event types a subscription names: ``["*"]`` (every one) or some of ``FEED_TYPES``."""
    named = tuple(dict.fromkeys(e.strip() for e in events if e.strip()))
    if not named:
        raise InvalidInputError("webhook-events-missing", field="events")
    if ALL in named:
        return (ALL,)
    unknown = [e for e in named if e not in FEED_TYPES]
    if unknown:
        params = {"type": unknown[0]}
        raise InvalidInputError("webhook-event-unknown", field="events", params=params)
    return tuple(sorted(named))


class Webhooks:
    """The subscriptions of the caller's partner (incentives admins only: 403 otherwise;
    another partner's subscription is not found, 404)."""

    def __init__(
        self,
        ledger: Ledger,
        store: ViewStore,
        recorder: DeliveryRecorder,
        settings: Settings,
        resolver: Resolver = resolve,
    ) -> None:
        self.ledger, self.store, self.recorder = ledger, store, recorder
        self.settings, self.resolver = settings, resolver
        self.key = settings.signing_key()

    def subscribe(
        self,
        principal: Principal,
        url: str,
        events: list[str],
        now: datetime,
        subscription_id: UUID | None = None,
    ) -> tuple[Subscription, str]:
        """A new subscription and its secret (shown this once). Given an id (from a form's
        key or an Idempotency-Key), subscribing again with it answers the subscription it
        made; with another address or other types, ``idempotency-key-reused``."""
        partner = self._partner(principal)
        chosen = chosen_events(events)
        if subscription_id is not None and self._made(partner, subscription_id):
            found = self.get(principal, str(subscription_id))
            if (found.url, found.events) != (url.strip(), chosen):
                raise InvalidInputError("idempotency-key-reused", field="Idempotency-Key")
            return found, self._secret(subscription_id)
        check_target(url.strip(), self.settings.webhooks_allow_insecure, self.resolver)
        if len(self.subscriptions(principal)) >= MAX_SUBSCRIPTIONS:
            params = {"max": MAX_SUBSCRIPTIONS}
            raise InvalidInputError("webhook-too-many", field="url", params=params)
        made = WebhookSubscription.subscribe(
            subscription_id=subscription_id or uuid4(),
            partner_id=partner,
            url=url.strip(),
            events=chosen,
            salt=secrets.token_urlsafe(24),
            actor=principal.actor,
            now=now,
        )
        self.ledger.save(made)
        return self.get(principal, str(made.id)), self._secret(made.id)

    def _made(self, partner: str, subscription_id: UUID) -> bool:
        found = self.ledger.find(subscription_id, WebhookSubscription)
        return found is not None and found.partner_id == partner and not found.deleted

    def _secret(self, subscription_id: UUID) -> str:
        found = self.ledger.find(subscription_id, WebhookSubscription)
        assert found is not None
        return secret_of(self.key, str(subscription_id), found.salt)

    def subscriptions(self, principal: Principal) -> list[Subscription]:
        """The partner's subscriptions, oldest first (deleted ones are gone)."""
        partner = self._partner(principal)
        self.recorder.catch_up()
        with self.store.transaction() as tx:
            rows = tx.rows(
                "SELECT * FROM webhook_subscriptions WHERE partner_id = ? AND status <> 'deleted' "
                "ORDER BY created_at, subscription_id",
                (partner,),
            )
        return [subscription_of(r) for r in rows]

    def get(self, principal: Principal, subscription_id: str) -> Subscription:
        for found in self.subscriptions(principal):
            if found.id == subscription_id:
                return found
        raise NotFoundError("webhook-not-found", field="subscription_id")

    def delete(self, principal: Principal, subscription_id: str, now: datetime) -> None:
        self.get(principal, subscription_id)
        found = self.ledger.find(UUID(subscription_id), WebhookSubscription)
        if found is None:
            raise NotFoundError("webhook-not-found", field="subscription_id")
        found.delete(actor=principal.actor, now=now)
        self.ledger.save(found)
        self.recorder.catch_up()

    def deliveries(self, principal: Principal, subscription_id: str) -> list[Delivery]:
        """The subscription's delivery log, the latest event first."""
        self.get(principal, subscription_id)
        with self.store.transaction() as tx:
            rows = tx.rows(
                "SELECT * FROM webhook_deliveries WHERE subscription_id = ? "
                "ORDER BY position DESC, notification_id DESC LIMIT ?",
                (subscription_id, LOG_LENGTH),
            )
        return [delivery_of(r) for r in rows]

    def retry(
        self, principal: Principal, subscription_id: str, delivery: str, now: datetime
    ) -> Delivery:
        """Send a failed delivery again (a new retry window); a disabled subscription is
        enabled again by it. A delivery that has not failed is left as it is."""
        subscription = self.get(principal, subscription_id)
        with self.store.transaction(commit=True) as tx:
            tx.execute(
                "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, "
                "first_attempt_at = NULL WHERE delivery_id = ? AND subscription_id = ? "
                "AND status = 'failed'",
                (ts(now), delivery, subscription_id),
            )
            row = tx.one(
                "SELECT * FROM webhook_deliveries WHERE delivery_id = ? AND subscription_id = ?",
                (delivery, subscription_id),
            )
        if row is None:
            raise NotFoundError("webhook-delivery-not-found", field="delivery_id")
        if subscription.status == "disabled":
            self._enable(principal, subscription_id, now)
        return delivery_of(row)

    def _enable(self, principal: Principal, subscription_id: str, now: datetime) -> None:
        found = self.ledger.find(UUID(subscription_id), WebhookSubscription)
        if found is not None:
            found.enable(actor=principal.actor, now=now)
            self.ledger.save(found)
            self.recorder.catch_up()

    @staticmethod
    def _partner(principal: Principal) -> str:
        principal.require_role(Role.INCENTIVES_ADMIN)
        assert principal.partner_id is not None  # an incentives admin's token names one
        return principal.partner_id
