"""Webhook deliveries to a real receiver (an HTTP server on loopback that verifies every
signature with ``standardwebhooks``), on SQLite and PostgreSQL: signed, in order per claim,
retried with backoff through errors and timeouts, never sent twice by racing senders, failed
after the retry window and retried by hand, and a failing subscription disabled."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest

from ledger.aggregates.webhook import WebhookSubscription
from ledger.policies.webhook_deliveries import BASE_DELAY, MAX_DELAY, backoff
from ledger.policies.webhook_sender import WebhookSender
from ledger.policies.webhooks import Webhooks
from ledger.projections.base import parse_ts
from ledger.runtime.bootstrap import Services, bootstrap
from ledger.service.application import Ledger
from ledger.service.settings import Settings
from testkit.receiver import Receiver, serving
from testkit.serving import until
from testkit.tls import self_signed
from tests.conftest import Clock
from tests.factories import (
    ADMIN_A,
    ADMIN_B,
    FABRIKAM,
    NORTHWIND,
    consent_request,
    consented_claim,
    create,
    days,
)

PUBLIC = "93.184.215.14"


def hooked_settings(settings: Settings, **changes: object) -> Settings:
    """The tests' settings with loopback targets allowed and short timeouts."""
    return settings.model_copy(
        update={
            "webhooks_allow_insecure": True,
            "webhooks_timeout_seconds": 1.0,
            "webhooks_lease_seconds": 5.0,
            **changes,
        }
    )


@pytest.fixture
def hooked(stored_ledger: Ledger, settings: Settings, clock: Clock) -> Iterator[Services]:
    services = bootstrap(hooked_settings(settings), ledger=stored_ledger, clock=clock)
    yield services
    services.workers.webhooks.stop()
    services.store.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving(Receiver()) as running:
        yield running


def subscribe(hooks: Webhooks, receiver: Receiver, events: list[str] | None = None) -> str:
    made, secret = hooks.subscribe(ADMIN_A, receiver.url, events or ["*"], days(0))
    receiver.secret = secret
    return made.id


def two_claims(ledger: Ledger) -> list[UUID]:
    """Two of partner A's claims, three events each (added, consent requested, given)."""
    return [
        consented_claim(ledger, engagements=["E-WS"], value=FABRIKAM),
        consented_claim(
            ledger, engagements=["E-WS"], value=NORTHWIND, customer_email="it@northwind.com"
        ),
    ]


def test_each_delivery_is_signed_and_is_the_feeds_event(
    hooked: Services, receiver: Receiver
) -> None:
    worker = hooked.workers.webhooks
    subscribe(worker.subscriptions, receiver)
    claim_id = consented_claim(hooked.ledger)
    other = create(location="LOC-B1", value=NORTHWIND, customer_email="it@northwind.com")
    hooked.ledger.create_claims(ADMIN_B, other, days(0))
    assert worker.run_once() > 0
    arrived = receiver.acknowledged()
    assert len(arrived) == len(receiver.arrivals) == 3  # partner B's claim is not A's to get
    assert [a.body["type"] for a in arrived] == ["Added", "ConsentRequested", "ConsentGiven"]
    assert {a.body["claim_id"] for a in arrived} == {str(claim_id)}
    assert [a.webhook_id for a in arrived] == [a.body["id"] for a in arrived]
    assert worker.run_once() == 0  # nothing is sent twice


def test_a_subscription_gets_only_the_types_it_names(hooked: Services, receiver: Receiver) -> None:
    worker = hooked.workers.webhooks
    subscribe(worker.subscriptions, receiver, ["ConsentGiven"])
    consented_claim(hooked.ledger)
    worker.run_once()
    assert [a.body["type"] for a in receiver.acknowledged()] == ["ConsentGiven"]


def test_through_errors_and_timeouts_every_event_arrives_in_order_per_claim(
    hooked: Services, receiver: Receiver, clock: Clock
) -> None:
    worker = hooked.workers.webhooks
    subscribe(worker.subscriptions, receiver)
    claims = two_claims(hooked.ledger)
    receiver.plan = [500, "hang", 503, 200, 500]
    receiver.hang_seconds = 2.0  # past the sender's 1 s timeout
    for _ in range(30):
        worker.run_once()
        clock.now += timedelta(hours=1)  # every retry is due
        if len(receiver.acknowledged()) == 6:
            break
    arrived = receiver.acknowledged()
    assert len(arrived) == 6, [(a.body["type"], a.answered) for a in receiver.arrivals]
    for claim_id in claims:
        mine = [a for a in arrived if a.body["claim_id"] == str(claim_id)]
        assert [a.body["version"] for a in mine] == sorted(a.body["version"] for a in mine)
        assert [a.body["type"] for a in mine] == ["Added", "ConsentRequested", "ConsentGiven"]
    assert len({a.webhook_id for a in arrived}) == 6  # each once, each with its own id
    for attempt in receiver.arrivals:  # a retry carries the same id as the first attempt
        assert attempt.webhook_id == attempt.body["id"]
    assert all(a.verified for a in receiver.arrivals)


def test_two_senders_racing_never_send_a_delivery_twice(
    hooked: Services, receiver: Receiver, settings: Settings, clock: Clock
) -> None:
    subscribe(hooked.workers.webhooks.subscriptions, receiver)
    for n in range(4):
        customer = [(FABRIKAM, "cio@fabrikam.com"), (NORTHWIND, "it@northwind.com")][n // 2]
        consented_claim(
            hooked.ledger,
            engagements=[["E-WS", "E-AS"][n % 2]],
            value=customer[0],
            customer_email=customer[1],
            origin=["added", "claimed"][n % 2],
        )
    hooked.workers.webhooks.recorder.catch_up()
    other = bootstrap(hooked_settings(settings), ledger=hooked.ledger, clock=clock)
    senders = [hooked.workers.webhooks.sender, other.workers.webhooks.sender]
    start = threading.Barrier(2)

    def send(sender: WebhookSender) -> None:
        start.wait()
        while sender.deliver_due():
            pass

    threads = [threading.Thread(target=send, args=(s,)) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.workers.webhooks.stop()
    other.store.close()
    ids = [a.webhook_id for a in receiver.arrivals]
    assert len(ids) == 12 and len(set(ids)) == 12  # every event once, none twice


def test_the_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    full = [backoff(n, lambda: 1.0).total_seconds() for n in range(1, 14)]
    assert full[:4] == [BASE_DELAY, 2 * BASE_DELAY, 4 * BASE_DELAY, 8 * BASE_DELAY]
    assert full[-1] == MAX_DELAY and max(full) == MAX_DELAY
    assert backoff(3, lambda: 0.0).total_seconds() == 2 * BASE_DELAY  # half of 4 * base


def deliveries(hooks: Webhooks, subscription_id: str) -> dict[str, str]:
    return {d.type: d.status for d in hooks.deliveries(ADMIN_A, subscription_id)}


def test_after_the_retry_window_a_delivery_fails_the_subscription_is_disabled_then_retried(
    hooked: Services, receiver: Receiver, clock: Clock
) -> None:
    worker, hooks = hooked.workers.webhooks, hooked.workers.webhooks.subscriptions
    subscription_id = subscribe(hooks, receiver, ["Added"])
    hooked.ledger.create_claims(ADMIN_A, create(), days(0))
    receiver.plan = [500] * 1000
    worker.run_once()
    (first,) = hooks.deliveries(ADMIN_A, subscription_id)
    assert first.status == "retrying" and first.last_code == 500
    waits = []
    while (found := hooks.deliveries(ADMIN_A, subscription_id)[0]).status == "retrying":
        assert found.next_attempt_at is not None
        waits.append((found.next_attempt_at - clock.now).total_seconds())
        clock.now = found.next_attempt_at
        worker.run_once()
    assert found.status == "failed" and clock.now - days(0) >= timedelta(hours=24)
    assert waits[0] <= BASE_DELAY and max(waits) <= MAX_DELAY and waits[-1] >= MAX_DELAY / 2
    (shown,) = hooks.subscriptions(ADMIN_A)
    assert shown.status == "disabled" and shown.disabled_at == clock.now
    events = list(hooked.ledger.events.get(UUID(subscription_id)))
    assert isinstance(events[-1], WebhookSubscription.Disabled)
    receiver.plan = []
    hooks.retry(ADMIN_A, subscription_id, found.id, clock.now)
    assert hooks.subscriptions(ADMIN_A)[0].status == "active"
    worker.run_once()
    assert deliveries(hooks, subscription_id) == {"Added": "delivered"}
    assert len(receiver.acknowledged()) == 1
    assert hooks.subscriptions(ADMIN_A)[0].last_delivery_at == clock.now


def test_a_later_event_of_a_claim_waits_for_the_earlier_one(
    hooked: Services, receiver: Receiver, clock: Clock
) -> None:
    worker, hooks = hooked.workers.webhooks, hooked.workers.webhooks.subscriptions
    subscription_id = subscribe(hooks, receiver)
    consented_claim(hooked.ledger)
    receiver.plan = [500]
    worker.run_once()
    assert [a.body["type"] for a in receiver.arrivals] == ["Added"]  # the rest wait for it
    assert set(deliveries(hooks, subscription_id).values()) == {"retrying", "pending"}
    clock.now += timedelta(minutes=1)
    worker.run_once()
    assert deliveries(hooks, subscription_id) == dict.fromkeys(
        ["Added", "ConsentRequested", "ConsentGiven"], "delivered"
    )


def test_a_deleted_subscription_gets_nothing_more(hooked: Services, receiver: Receiver) -> None:
    worker, hooks = hooked.workers.webhooks, hooked.workers.webhooks.subscriptions
    subscription_id = subscribe(hooks, receiver)
    hooks.delete(ADMIN_A, subscription_id, days(0))
    consented_claim(hooked.ledger)
    worker.run_once()
    assert receiver.arrivals == [] and hooks.subscriptions(ADMIN_A) == []


def test_the_secret_is_not_in_the_log(hooked: Services, receiver: Receiver) -> None:
    subscribe(hooked.workers.webhooks.subscriptions, receiver)
    assert receiver.secret is not None
    raw = receiver.secret.removeprefix("whsec_")
    stored = hooked.ledger.recorder.select_notifications(1, 1000)
    assert not [n for n in stored if raw.encode() in n.state or b"whsec_" in n.state]


def test_when_the_log_is_read_the_deliveries_are_recorded_once(
    hooked: Services, receiver: Receiver, settings: Settings, clock: Clock
) -> None:
    """Two followers (two view stores, as two processes have) record each delivery once."""
    subscribe(hooked.workers.webhooks.subscriptions, receiver)
    two_claims(hooked.ledger)
    other = bootstrap(hooked_settings(settings), ledger=hooked.ledger, clock=clock)
    followers = [hooked.workers.webhooks.recorder, other.workers.webhooks.recorder]
    threads = [threading.Thread(target=f.catch_up) for f in followers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other.store.close()
    with hooked.store.transaction() as tx:
        rows = tx.rows("SELECT event_id, created_at FROM webhook_deliveries")
    assert len(rows) == 6 == len({r["event_id"] for r in rows})
    assert all(parse_ts(r["created_at"]) <= days(1) for r in rows)


def test_a_name_that_resolves_to_loopback_at_send_time_is_not_called(
    hooked: Services, settings: Settings, clock: Clock
) -> None:
    strict = settings.model_copy(update={"webhooks_allow_insecure": False})
    worker = hooked.workers.webhooks
    hooks = Webhooks(
        hooked.ledger, hooked.store, worker.recorder, strict, resolver=lambda h, p: [PUBLIC]
    )
    made, _ = hooks.subscribe(ADMIN_A, "https://hooks.example.com/ledger", ["*"], days(0))
    rebound = WebhookSender(
        hooked.ledger,
        hooked.store,
        worker.sender.feed,
        strict,
        clock,
        resolver=lambda h, p: ["127.0.0.1"],
    )
    hooked.ledger.create_claims(ADMIN_A, create(), days(0))
    worker.recorder.catch_up()
    assert rebound.deliver_due() == 0
    (found,) = hooks.deliveries(ADMIN_A, made.id)
    assert (found.status, found.last_error, found.last_code) == (
        "retrying",
        "refused-address",
        None,
    )
    rebound.close()


def pinned_sender(
    hooked: Services, settings: Settings, clock: Clock, names: dict[str, list[str]] | None = None
) -> WebhookSender:
    """A sender whose resolver answers for made-up names (``hooks.test``: loopback), which
    the machine's own resolver does not know: a request that asked it again would fail."""
    answers = names or {"hooks.test": ["127.0.0.1"]}
    return WebhookSender(
        hooked.ledger,
        hooked.store,
        hooked.workers.webhooks.sender.feed,
        hooked_settings(settings),
        clock,
        resolver=lambda h, p: answers.get(h, []),
    )


def hooks_by_name(hooked: Services, settings: Settings) -> Webhooks:
    """Subscriptions whose names the check resolves to loopback."""
    return Webhooks(
        hooked.ledger,
        hooked.store,
        hooked.workers.webhooks.recorder,
        hooked_settings(settings),
        resolver=lambda h, p: ["127.0.0.1"],
    )


def subscribe_by_name(hooked: Services, settings: Settings, url: str) -> str:
    _, secret = hooks_by_name(hooked, settings).subscribe(ADMIN_A, url, ["*"], days(0))
    return secret


def deliver_one_claim(hooked: Services, sender: WebhookSender, customer: str = FABRIKAM) -> int:
    """A new claim of partner A's, its events delivered by ``sender`` (how many arrived)."""
    email = "cio@fabrikam.com" if customer == FABRIKAM else "it@northwind.com"
    hooked.ledger.create_claims(ADMIN_A, create(value=customer, customer_email=email), days(0))
    hooked.workers.webhooks.recorder.catch_up()
    return sender.deliver_due()


@pytest.mark.parametrize(
    "addresses", [["127.0.0.1"], ["127.0.0.2", "127.0.0.1"]], ids=["one", "first-refuses"]
)
def test_a_delivery_goes_to_the_addresses_its_check_resolved(
    hooked: Services, settings: Settings, clock: Clock, receiver: Receiver, addresses: list[str]
) -> None:
    """The name is resolved once, by the check, and the request is sent to those addresses,
    in turn until one takes it (nothing listens on 127.0.0.2), with the name as its Host: a
    second answer (DNS rebinding) is never asked for."""
    url = f"http://hooks.test:{receiver.port}/hooks"
    receiver.secret = subscribe_by_name(hooked, settings, url)
    sender = pinned_sender(hooked, settings, clock, {"hooks.test": addresses})
    try:
        assert deliver_one_claim(hooked, sender) == 1
    finally:
        sender.close()
    (arrived,) = receiver.acknowledged()
    assert arrived.host == f"hooks.test:{receiver.port}"


@pytest.mark.parametrize(("named", "arrives"), [("hooks.test", True), ("other.test", False)])
def test_an_https_target_at_its_pinned_address_is_checked_against_its_name(
    hooked: Services, settings: Settings, clock: Clock, tmp_path: Path, named: str, arrives: bool
) -> None:
    """TLS is asked for the target's name (SNI) and its certificate checked against that
    name, though the connection goes to the address: a certificate for another name fails."""
    server_tls, trusting = self_signed(named, tmp_path)
    with serving(Receiver(), tls=server_tls) as receiver:
        receiver.secret = subscribe_by_name(
            hooked, settings, f"https://hooks.test:{receiver.port}/"
        )
        sender = pinned_sender(hooked, settings, clock)
        sender.clients.verify = trusting
        try:
            assert deliver_one_claim(hooked, sender) == int(arrives)
        finally:
            sender.close()
        hosts = [a.host for a in receiver.acknowledged()]
        assert hosts == [f"hooks.test:{receiver.port}"] * arrives


def test_two_names_on_one_address_never_share_a_connection(
    hooked: Services, settings: Settings, clock: Clock, tmp_path: Path
) -> None:
    """A connection opened, and its certificate checked, for ``a.test`` is kept alive; a
    delivery to ``b.test`` at the same address does not ride on it: its own connection is
    refused, the certificate being ``a.test``'s alone."""
    server_tls, trusting = self_signed("a.test", tmp_path)
    names = {"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]}
    with serving(Receiver(), tls=server_tls, keep_alive=True) as receiver:
        hooks = hooks_by_name(hooked, settings)
        first, receiver.secret = hooks.subscribe(
            ADMIN_A, f"https://a.test:{receiver.port}/", ["*"], days(0)
        )
        sender = pinned_sender(hooked, settings, clock, names)
        sender.clients.verify = trusting
        try:
            assert deliver_one_claim(hooked, sender) == 1  # a.test's connection, kept alive
            hooks.delete(ADMIN_A, first.id, days(0))
            hooks.subscribe(ADMIN_A, f"https://b.test:{receiver.port}/", ["*"], days(0))
            assert deliver_one_claim(hooked, sender, NORTHWIND) == 0
        finally:
            sender.close()
        assert [a.host for a in receiver.arrivals] == [f"a.test:{receiver.port}"]


def test_a_hanging_receiver_never_delays_the_views_or_the_emails(
    hooked: Services, receiver: Receiver, settings: Settings
) -> None:
    subscribe(hooked.workers.webhooks.subscriptions, receiver)
    receiver.plan = ["hang"] * 10
    receiver.hang_seconds = 5.0  # past the 1 s timeout, again and again
    hooked.workers.start()  # views, policies, e-mails, and the webhooks' own thread
    try:
        (claim_id,) = hooked.ledger.create_claims(ADMIN_A, create(), days(0))
        hooked.ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(0))
        until(lambda: receiver.arrivals, seconds=10)  # the receiver holds the first delivery
        started = time.monotonic()
        until(lambda: [r for r in hooked.workers.mailer.outbox(claim_id) if r["delivered_at"]])
        assert hooked.read_models.claims.details(ADMIN_A, claim_id).state == "awaiting_consent"
        assert time.monotonic() - started < 1.0  # while the receiver still hangs
        assert not receiver.acknowledged()
    finally:
        hooked.workers.stop()
