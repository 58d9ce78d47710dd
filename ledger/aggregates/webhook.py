"""A partner's webhook subscription: where the partner's claim events are sent, and which.

Its secret is never recorded: the event keeps a random salt, and the secret is derived from
it, the subscription's id and LEDGER_SECRET_KEY (``ledger.policies.webhook_secrets``), so the
log, a backup or an auditor's read of the events never holds it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self
from uuid import UUID

from ledger.aggregates.base import Actor, Aggregate


class WebhookSubscription(Aggregate):
    """Subscribed once; disabled by the sender after a day of failures, enabled again by a
    retry, deleted by the partner's incentives admin."""

    class Event(Aggregate.Event):
        actor: Actor

        def apply(self, aggregate: Any) -> None:
            self.evolve(aggregate)

        def evolve(self, subscription: WebhookSubscription) -> None:
            """How this event changes the subscription."""

    class Subscribed(Event, Aggregate.Created):
        partner_id: str
        url: str
        events: tuple[str, ...]
        salt: str
        """With LEDGER_SECRET_KEY and the id, derives the secret; alone it opens nothing."""

        def evolve(self, subscription: WebhookSubscription) -> None:
            subscription.partner_id = self.partner_id
            subscription.url = self.url
            subscription.events = self.events
            subscription.salt = self.salt

    class Disabled(Event):
        failing_since: datetime

        def evolve(self, subscription: WebhookSubscription) -> None:
            subscription.disabled_at = self.timestamp

    class Enabled(Event):
        def evolve(self, subscription: WebhookSubscription) -> None:
            subscription.disabled_at = None

    class Deleted(Event):
        def evolve(self, subscription: WebhookSubscription) -> None:
            subscription.deleted = True

    def __init__(self) -> None:
        self.partner_id = ""
        self.url = ""
        self.events: tuple[str, ...] = ()
        self.salt = ""
        self.disabled_at: datetime | None = None
        self.deleted = False

    @classmethod
    def subscribe(
        cls,
        *,
        subscription_id: UUID,
        partner_id: str,
        url: str,
        events: tuple[str, ...],
        salt: str,
        actor: Actor,
        now: datetime,
    ) -> Self:
        return cls._create(
            cls.Subscribed,
            id=subscription_id,
            timestamp=now,
            actor=actor,
            partner_id=partner_id,
            url=url,
            events=events,
            salt=salt,
        )

    def disable(self, *, failing_since: datetime, actor: Actor, now: datetime) -> None:
        if self.disabled_at is None and not self.deleted:
            self.trigger_event(
                self.Disabled, timestamp=now, actor=actor, failing_since=failing_since
            )

    def enable(self, *, actor: Actor, now: datetime) -> None:
        if self.disabled_at is not None and not self.deleted:
            self.trigger_event(self.Enabled, timestamp=now, actor=actor)

    def delete(self, *, actor: Actor, now: datetime) -> None:
        if not self.deleted:
            self.trigger_event(self.Deleted, timestamp=now, actor=actor)
