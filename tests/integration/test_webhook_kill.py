"""A worker killed (SIGKILL) while a receiver holds its delivery leaves the lease; once it
expires, another worker sends the delivery again with the same webhook-id: at least once,
never lost (on SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.runtime.bootstrap import bootstrap
from ledger.service.application import Ledger
from ledger.service.clock import utc_now
from ledger.service.settings import Settings
from testkit.receiver import Receiver, serving
from testkit.serving import until
from tests.factories import ADMIN_A, create, days

LEASE_SECONDS = 1.0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serving(Receiver(plan=["hold"])) as running:
        yield running


def worker_process(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": settings.database_url,
        "LEDGER_SECRET_KEY": settings.signing_key(),
        "LEDGER_WEBHOOKS_ALLOW_INSECURE": "1",
        "LEDGER_WEBHOOKS_LEASE_SECONDS": str(LEASE_SECONDS),
        "LEDGER_WEBHOOKS_TIMEOUT_SECONDS": "30",
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "testkit.webhook_worker"], env=env, stdout=out, stderr=out
        )


def test_a_worker_killed_mid_delivery_is_replaced_and_the_event_arrives_with_its_id(
    stored_ledger: Ledger, settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    configured = settings.model_copy(
        update={"webhooks_allow_insecure": True, "webhooks_lease_seconds": LEASE_SECONDS}
    )
    services = bootstrap(configured, ledger=stored_ledger, clock=utc_now)
    hooks = services.workers.webhooks
    made, receiver.secret = hooks.subscriptions.subscribe(ADMIN_A, receiver.url, ["*"], days(0))
    stored_ledger.create_claims(ADMIN_A, create(), days(0))
    process = worker_process(configured, tmp_path / "worker.log")
    try:
        assert receiver.holding.wait(30), (tmp_path / "worker.log").read_text()
        process.send_signal(signal.SIGKILL)  # mid-delivery: the receiver holds its request
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    receiver.release.set()
    (held,) = receiver.arrivals
    assert held.verified and held.answered is None and not receiver.acknowledged()
    time.sleep(LEASE_SECONDS)  # the killed worker's lease expires
    until(lambda: hooks.run_once() or receiver.acknowledged(), seconds=10)
    (again,) = receiver.acknowledged()
    assert again.webhook_id == held.webhook_id == again.body["id"]
    (shown,) = hooks.subscriptions.deliveries(ADMIN_A, made.id)
    assert (shown.status, shown.attempts) == ("delivered", 2)
    hooks.stop()
    services.store.close()
