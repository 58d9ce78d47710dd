"""Webhook deliveries: recorded by a follower of the log, sent by a sender that leases them.

The follower (``DeliveryRecorder``) reads the log as the views do and, for each event of a
partner's claim or referral, writes one delivery per active subscription of that partner
that names the event's type, in the same transaction as its tracked position: exactly once,
whatever the number of processes (a compare-and-set on the position, as the views do). It
applies the subscriptions' own events to ``webhook_subscriptions`` in that transaction too.

The sender (``WebhookSender``) takes a due delivery with one conditional UPDATE (status
'sending' and a lease: two senders never both take it), sends it, then marks it delivered,
or schedules its retry with backoff (failed once ``LEDGER_WEBHOOKS_RETRY_HOURS`` have passed
since its first attempt). A sender killed mid-delivery leaves the lease; when it expires the
delivery is taken again and sent with the same ``webhook-id``: at least once, never lost. A
later delivery of a (subscription, claim) waits while an earlier one is pending or sending.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast
from uuid import UUID, uuid5

from eventsourcing.persistence import Notification

from ledger.aggregates.base import DomainEvent
from ledger.aggregates.webhook import WebhookSubscription
from ledger.projections.base import ts
from ledger.projections.feed import Feed
from ledger.projections.store import Tx, ViewStore
from ledger.service.application import Ledger

log = logging.getLogger("ledger.webhooks")
TRACKING = "webhooks"
DELIVERY_IDS = UUID("0b5c6f2e-8f5a-4b7e-9c1d-3a2e6d4f8b10")
BASE_DELAY = 5.0
"""Seconds before the first retry; each next one waits twice as long (with jitter)."""
MAX_DELAY = 3600.0
"""The longest wait between two attempts."""
ALL = "*"


def delivery_id(subscription_id: str, event_id: str) -> str:
    """The delivery of one event to one subscription: the same id whoever records it."""
    return str(uuid5(DELIVERY_IDS, f"{subscription_id}/{event_id}"))


def backoff(attempts: int, jitter: Callable[[], float] = random.random) -> timedelta:
    """How long to wait after ``attempts`` failed attempts: doubling from ``BASE_DELAY``,
    capped at ``MAX_DELAY``, then between half and all of it (jitter spreads the retries of
    many deliveries that failed together)."""
    delay = min(MAX_DELAY, BASE_DELAY * 2 ** max(0, attempts - 1))
    return timedelta(seconds=delay * (0.5 + 0.5 * jitter()))


@dataclass(frozen=True)
class Target:
    subscription_id: str
    partner_id: str
    events: frozenset[str]

    def wants(self, partner_id: str, type_: str) -> bool:
        return partner_id == self.partner_id and (ALL in self.events or type_ in self.events)


class DeliveryRecorder:
    """Follows the log: one delivery per (subscription, event) it matches, with its position."""

    def __init__(self, ledger: Ledger, store: ViewStore, feed: Feed, page_size: int = 500) -> None:
        self.ledger = ledger
        self.store = store
        self.feed = feed
        self.page_size = page_size

    def process_page(self) -> int:
        """Record the deliveries of the next page of the log; how many events it read."""
        position = self.store.position(TRACKING)
        read = self.ledger.event_log.page_after(position, self.page_size)
        if not read.notifications:
            return 0
        with self.store.transaction(commit=True) as tx:
            if tx.position(TRACKING) != position:
                return len(read.notifications)  # another process recorded it: read on
            targets = active_targets(tx)
            rows: list[tuple[Any, ...]] = []
            for notification, at in zip(read.notifications, read.positions, strict=True):
                domain = cast(DomainEvent, self.ledger.mapper.to_domain_event(notification))
                if isinstance(domain, WebhookSubscription.Event):
                    apply_subscription_event(tx, domain)
                    targets = active_targets(tx)
                else:
                    rows += self._deliveries(domain, notification, at, targets)
            insert_deliveries(tx, rows)
            tx.track(TRACKING, read.position)
        return len(read.notifications)

    def _deliveries(
        self, domain: DomainEvent, notification: Notification, at: int, targets: Sequence[Target]
    ) -> list[tuple[Any, ...]]:
        """The deliveries of one event: one per subscription of its partner that wants it."""
        owner = self.feed.owners.of(domain)
        if owner is None or not targets:
            return []
        event = self.feed.event(notification, at)
        made = ts(domain.timestamp)
        return [
            (
                delivery_id(t.subscription_id, event.id),
                t.subscription_id,
                notification.id,
                at,
                event.id,
                str(owner.claim_id),
                event.type,
                made,
            )
            for t in targets
            if t.wants(owner.partner_id, event.type)
        ]

    def catch_up(self) -> int:
        read = 0
        while done := self.process_page():
            read += done
        return read


def active_targets(tx: Tx) -> list[Target]:
    """The subscriptions that get new deliveries (a disabled one too: they wait for it)."""
    rows = tx.rows(
        "SELECT subscription_id, partner_id, events FROM webhook_subscriptions "
        "WHERE status <> 'deleted'"
    )
    return [
        Target(r["subscription_id"], r["partner_id"], frozenset(json.loads(r["events"])))
        for r in rows
    ]


def insert_deliveries(tx: Tx, rows: Sequence[tuple[Any, ...]]) -> None:
    tx.executemany(
        "INSERT INTO webhook_deliveries (delivery_id, subscription_id, notification_id, "
        "position, event_id, claim_id, type, status, attempts, created_at, next_attempt_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, '') ON CONFLICT DO NOTHING",
        list(rows),
    )


def apply_subscription_event(tx: Tx, event: WebhookSubscription.Event) -> None:
    """A subscription's event, as the table keeps the subscription."""
    sid, at = str(event.originator_id), ts(event.timestamp)
    if isinstance(event, WebhookSubscription.Subscribed):
        tx.execute(
            "INSERT INTO webhook_subscriptions (subscription_id, partner_id, url, events, salt, "
            "created_at, created_by, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'active') "
            "ON CONFLICT DO NOTHING",
            (
                sid,
                event.partner_id,
                event.url,
                json.dumps(list(event.events)),
                event.salt,
                at,
                event.actor.id,
            ),
        )
    elif isinstance(event, WebhookSubscription.Disabled):
        tx.execute(
            "UPDATE webhook_subscriptions SET status = 'disabled', disabled_at = ? "
            "WHERE subscription_id = ? AND status <> 'deleted'",
            (at, sid),
        )
    elif isinstance(event, WebhookSubscription.Enabled):
        tx.execute(
            "UPDATE webhook_subscriptions SET status = 'active', disabled_at = NULL, "
            "failing_since = NULL WHERE subscription_id = ? AND status <> 'deleted'",
            (sid,),
        )
    elif isinstance(event, WebhookSubscription.Deleted):
        tx.execute(
            "UPDATE webhook_subscriptions SET status = 'deleted' WHERE subscription_id = ?",
            (sid,),
        )
