"""Sending webhook deliveries: lease, send (signed, with timeouts, no redirects), mark.

See ``ledger.policies.webhook_deliveries`` for how deliveries are recorded, and
docs/webhooks.md for the whole design.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from eventsourcing.persistence import IntegrityError
from standardwebhooks import Webhook

from ledger.aggregates.base import SYSTEM
from ledger.aggregates.webhook import WebhookSubscription
from ledger.domain.errors import InvalidInputError
from ledger.policies.webhook_deliveries import backoff
from ledger.policies.webhook_targets import (
    Resolver,
    TargetClients,
    check_target,
    pinned,
    resolve,
)
from ledger.projections.base import parse_ts, ts
from ledger.projections.feed import Feed
from ledger.projections.store import ViewStore
from ledger.service.application import Ledger
from ledger.service.clock import Clock, utc_now
from ledger.service.settings import Settings

log = logging.getLogger("ledger.webhooks")
BATCH = 50
"""Deliveries taken per round at most."""
PARALLEL = 8
"""Deliveries sent at once (of different claims or subscriptions): a slow receiver holds one
of these, not the others."""
USER_AGENT = "claim-ledger-webhooks/1"


def secret_of(signing_key: str, subscription_id: str, salt: str) -> str:
    """A subscription's secret (``whsec_`` and base64 of 32 bytes), derived from
    LEDGER_SECRET_KEY, its id and its salt: never stored, the same in every process."""
    message = f"ledger-webhook-secret\0{subscription_id}\0{salt}".encode()
    digest = hmac.new(signing_key.encode(), message, hashlib.sha256).digest()
    return "whsec_" + base64.b64encode(digest).decode()


def signed_headers(secret: str, webhook_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one delivery (``webhook-signature``: ``v1,`` and the
    HMAC-SHA256 of id, timestamp and body)."""
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, at, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


@dataclass(frozen=True)
class Outcome:
    """What one attempt found: the receiver's status code, and why it failed (a code the
    pages say in words: ``timeout``, ``unreachable``, ``refused-address``, ``status``,
    ``missing-event``), None when it was delivered."""

    code: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.error is None


_DUE = (
    "SELECT d.*, s.url, s.salt FROM webhook_deliveries d "
    "JOIN webhook_subscriptions s ON s.subscription_id = d.subscription_id "
    "WHERE d.status IN ('pending', 'sending') AND d.next_attempt_at <= ? "
    "AND s.status = 'active' AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e "
    "WHERE e.subscription_id = d.subscription_id AND e.claim_id = d.claim_id "
    "AND e.status IN ('pending', 'sending') AND (e.position < d.position "
    "OR (e.position = d.position AND e.notification_id < d.notification_id))) "
    "ORDER BY d.position, d.notification_id LIMIT ?"
)
_TAKE = (
    "UPDATE webhook_deliveries SET status = 'sending', next_attempt_at = ?, "
    "attempts = attempts + 1, first_attempt_at = COALESCE(first_attempt_at, ?) "
    "WHERE delivery_id = ? AND status IN ('pending', 'sending') AND next_attempt_at <= ? "
    "AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.subscription_id = ? "
    "AND e.claim_id = ? AND e.status IN ('pending', 'sending') AND (e.position < ? "
    "OR (e.position = ? AND e.notification_id < ?)))"
)


class WebhookSender:
    """Takes due deliveries one at a time (a lease), sends each, and records what happened."""

    def __init__(
        self,
        ledger: Ledger,
        store: ViewStore,
        feed: Feed,
        settings: Settings,
        clock: Clock = utc_now,
        *,
        resolver: Resolver = resolve,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.ledger, self.store, self.feed, self.clock = ledger, store, feed, clock
        self.key = settings.signing_key()
        self.allow_insecure = settings.webhooks_allow_insecure
        self.window = timedelta(hours=settings.webhooks_retry_hours)
        self.lease = timedelta(seconds=settings.webhooks_lease_seconds)
        self.resolver, self.jitter = resolver, jitter
        self.clients = TargetClients(settings.webhooks_timeout_seconds)
        self._pool = ThreadPoolExecutor(PARALLEL, thread_name_prefix="ledger-webhook-send")

    def due(self, now: datetime, limit: int = BATCH) -> list[dict[str, Any]]:
        """Deliveries that may be sent now, oldest first: pending and due, or left 'sending'
        past their lease; none behind an earlier one of its (subscription, claim)."""
        with self.store.transaction() as tx:
            return tx.rows(_DUE, (ts(now), limit))

    def take(self, row: dict[str, Any], now: datetime) -> str | None:
        """Lease the delivery (one conditional UPDATE: only one sender wins); the lease's
        end, or None if another sender has it or it is no longer due."""
        lease = ts(now + self.lease)
        order = (row["position"], row["position"], row["notification_id"])
        params = (lease, ts(now), row["delivery_id"], ts(now), row["subscription_id"])
        with self.store.transaction(commit=True) as tx:
            taken = tx.execute(_TAKE, (*params, row["claim_id"], *order))
        return lease if taken == 1 else None

    def deliver_due(self, now: datetime | None = None, rounds: int = 20) -> int:
        """Send every due delivery once, round after round while rounds deliver (a claim's
        next delivery is due once its earlier one is delivered); how many were delivered."""
        delivered = 0
        for _ in range(rounds):
            done = self._round(now or self.clock())
            delivered += done
            if not done:
                break
        return delivered

    def _round(self, now: datetime) -> int:
        """Each due delivery once, several at a time: a round holds at most one delivery of
        a (subscription, claim), the earliest not yet delivered, so they never overtake."""
        rows = self.due(now)
        return sum(self._pool.map(lambda row: self._attempt(row, now), rows))

    def _attempt(self, row: dict[str, Any], now: datetime) -> int:
        lease = self.take(row, now)
        if lease is None:
            return 0  # another sender has it
        outcome = self.send(row)
        self.record(row, outcome, lease, self.clock())
        return int(outcome.delivered)

    def send(self, row: dict[str, Any]) -> Outcome:
        """One attempt: the event as reads show it now, signed, to the target checked again."""
        event = self.feed.event_by_id(int(row["notification_id"]), int(row["position"]))
        if event is None:
            return Outcome(None, "missing-event")
        try:
            addresses = check_target(row["url"], self.allow_insecure, self.resolver)
        except InvalidInputError:
            return Outcome(None, "refused-address")
        body = json.dumps(event.as_json(), separators=(",", ":")).encode()
        secret = secret_of(self.key, row["subscription_id"], row["salt"])
        headers = signed_headers(secret, row["event_id"], body, datetime.now(UTC))
        return self._post(row["url"], addresses, body, headers)

    def _post(
        self, url: str, addresses: list[str], body: bytes, headers: dict[str, str]
    ) -> Outcome:
        """The request to each address the check resolved, in turn, until one takes the
        connection (where the check looked, never a new answer for the name)."""
        for address in addresses:
            try:
                response = self.clients.post(pinned(url, address), body, headers)
            except httpx.ConnectError:
                continue  # refused, no route, or its certificate is not the name's
            except httpx.TimeoutException:
                return Outcome(None, "timeout")
            except (httpx.HTTPError, httpx.InvalidURL):
                return Outcome(None, "unreachable")
            code = response.status_code
            return Outcome(code, None if 200 <= code < 300 else "status")
        return Outcome(None, "unreachable")

    def record(self, row: dict[str, Any], outcome: Outcome, lease: str, now: datetime) -> None:
        """Mark the attempt: delivered; or due again after the backoff; or failed once the
        retry window since the first attempt has passed (only while the lease is ours)."""
        if outcome.delivered:
            self._delivered(row, outcome, now)
            return
        first = parse_ts(row["first_attempt_at"]) if row["first_attempt_at"] else now
        failed = now - first >= self.window
        retry_at = now + backoff(int(row["attempts"]) + 1, self.jitter)
        with self.store.transaction(commit=True) as tx:
            tx.execute(
                "UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, last_code = ?, "
                "last_error = ? WHERE delivery_id = ? AND status = 'sending' "
                "AND next_attempt_at = ?",
                (
                    "failed" if failed else "pending",
                    ts(now if failed else retry_at),
                    outcome.code,
                    outcome.error,
                    row["delivery_id"],
                    lease,
                ),
            )
            tx.execute(
                "UPDATE webhook_subscriptions SET failing_since = COALESCE(failing_since, ?), "
                "last_code = ? WHERE subscription_id = ?",
                (ts(first), outcome.code, row["subscription_id"]),
            )
            found = tx.one(
                "SELECT failing_since FROM webhook_subscriptions WHERE subscription_id = ? "
                "AND status = 'active'",
                (row["subscription_id"],),
            )
        if found and now - parse_ts(found["failing_since"]) >= self.window:
            self.disable(row["subscription_id"], parse_ts(found["failing_since"]), now)

    def _delivered(self, row: dict[str, Any], outcome: Outcome, now: datetime) -> None:
        with self.store.transaction(commit=True) as tx:
            tx.execute(
                "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = ?, "
                "last_code = ?, last_error = NULL WHERE delivery_id = ?",
                (ts(now), outcome.code, row["delivery_id"]),
            )
            tx.execute(
                "UPDATE webhook_subscriptions SET failing_since = NULL, last_delivery_at = ?, "
                "last_code = ? WHERE subscription_id = ?",
                (ts(now), outcome.code, row["subscription_id"]),
            )

    def disable(self, subscription_id: str, failing_since: datetime, now: datetime) -> None:
        """Disable a subscription whose deliveries have all failed for the retry window: an
        event (by the system), shown at once in the table."""
        found = self.ledger.find(UUID(subscription_id), WebhookSubscription)
        if found is None:
            return
        found.disable(failing_since=failing_since, actor=SYSTEM, now=now)
        with suppress(IntegrityError):  # another sender disabled it first
            self.ledger.save(found)
        log.warning("webhook subscription %s disabled: failing since %s", subscription_id, now)
        with self.store.transaction(commit=True) as tx:
            tx.execute(
                "UPDATE webhook_subscriptions SET status = 'disabled', disabled_at = ? "
                "WHERE subscription_id = ? AND status = 'active'",
                (ts(now), subscription_id),
            )

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.clients.close()
