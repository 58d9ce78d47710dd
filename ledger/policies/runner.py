"""Runs the policies that react to events, each tracking its own position.

A policy acts through the Ledger's idempotent commands, then records its position: if it
stops between the two, it runs the same event again and the command changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from ledger.aggregates.claim import Claim
from ledger.application import Ledger
from ledger.clock import Clock, utc_now
from ledger.policies.sales import CoSellPolicy, ReferralPolicy
from ledger.projections.store import ViewStore


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
    ) -> None:
        self.ledger = ledger
        self.store = store
        self.policies = list(policies)
        self.clock = clock
        self.page_size = page_size

    @staticmethod
    def tracking_name(policy: Policy) -> str:
        return f"policy:{policy.name}"

    def process_page(self, policy: Policy) -> int:
        """Handle the next page of the policy's events; how many were handled."""
        name = self.tracking_name(policy)
        page = self.ledger.recorder.select_notifications(
            self.store.position(name),
            self.page_size,
            topics=policy.topics,
            inclusive_of_start=False,
        )
        for notification in page:
            event = self.ledger.mapper.to_domain_event(notification)
            assert isinstance(event, Claim.Event)
            # The policy's own events never predate what caused them.
            policy.handle(self.ledger, event, max(self.clock(), event.timestamp))
            with self.store.transaction(commit=True) as tx:
                if tx.position(name) >= notification.id:
                    break  # another process handled it too (its commands are idempotent)
                tx.track(name, notification.id)
        return len(page)

    def catch_up(self) -> int:
        handled = 0
        for policy in self.policies:
            while applied := self.process_page(policy):
                handled += applied
        return handled
