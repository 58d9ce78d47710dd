"""Runs the policies that react to events, each tracking its own position.

A policy acts through the Ledger's idempotent commands, then records its position: if it
stops between the two, it runs the same event again and the command changes nothing. A
policy that fails on an event stops just before it, alone, with a dead letter
(``ledger.projections.dead_letters``), and is retried with backoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from eventsourcing.persistence import Notification

from ledger.aggregates.claim import Claim
from ledger.policies.sales import CoSellPolicy, ReferralPolicy
from ledger.projections.dead_letters import (
    INFRASTRUCTURE,
    DeadLetters,
    FailedEvent,
    Follower,
    Undecodable,
)
from ledger.projections.store import ViewStore
from ledger.service.application import Ledger
from ledger.service.clock import Clock, utc_now


class Policy(Protocol):
    name: str
    topics: tuple[str, ...]

    def handle(self, ledger: Ledger, event: Claim.Event, now: datetime) -> None: ...


class PolicyRunner:
    def __init__(
        self,
        ledger: Ledger,
        store: ViewStore,
        policies: Sequence[Policy] = (ReferralPolicy(), CoSellPolicy()),
        clock: Clock = utc_now,
        page_size: int = 500,
        dead_letters: DeadLetters | None = None,
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.policies = list(policies)
        self.clock = clock
        self.page_size = page_size
        self.dead_letters = dead_letters or DeadLetters(store, clock)

    @staticmethod
    def tracking_name(policy: Policy) -> str:
        return f"policy:{policy.name}"

    def follower(self, policy: Policy) -> Follower:
        return Follower("policy", policy.name, self.tracking_name(policy))

    def process_page(self, policy: Policy) -> int:
        """Handle the next page of the policy's events; how many were handled.

        The position is tracked after each transaction's events (a page holds whole ones):
        a policy stopped in between runs that transaction's events again, which its
        idempotent commands make harmless. An event the policy fails on stops it there
        (its dead letter recorded) until its next attempt."""
        follower = self.follower(policy)
        if self.dead_letters.held_back(follower):
            return 0
        name = follower.tracking
        read = self.ledger.event_log.page_after(
            self.store.position(name), self.page_size, policy.topics
        )
        page = read.notifications
        for n, notification in enumerate(page):
            position = read.positions[n]
            if not self._handle(policy, notification, position):
                return n
            if n + 1 < len(page) and read.positions[n + 1] == position:
                continue  # the next event belongs to the same transaction
            with self.store.transaction(commit=True) as tx:
                if tx.position(name) >= position:
                    break  # another process handled it too (its commands are idempotent)
                tx.track(name, position)
        if page:
            self.dead_letters.recovered(follower, self.store.position(name))
        return len(page)

    def _handle(self, policy: Policy, notification: Notification, position: int) -> bool:
        """Decode the event and let the policy handle it; False when either fails, its dead
        letter recorded."""
        event: Any = Undecodable.of(notification)
        try:
            event = self.ledger.mapper.to_domain_event(notification)
            assert isinstance(event, Claim.Event)
            # The policy's own events never predate what caused them.
            policy.handle(self.ledger, event, max(self.clock(), event.timestamp))
        except INFRASTRUCTURE:
            raise
        except Exception as error:
            failed = FailedEvent(event, position, notification.id)
            self.dead_letters.failed(self.follower(policy), failed, error)
            return False
        return True

    def catch_up(self) -> int:
        handled = 0
        for policy in self.policies:
            while applied := self.process_page(policy):
                handled += applied
        return handled
