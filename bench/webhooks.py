"""Webhook deliveries per second to a local receiver, against the events written in the same
run, and the lag from an event's commit to its delivery (p50, p99).

Run: ``.venv/bin/python -m bench.webhooks [--lifecycles N] [--postgres]``. One writer plays
claim lifecycles (four commands, four events each) while the webhook worker (its own thread,
as in the service) records and sends each event to a receiver on loopback that verifies every
signature; the run ends when every event arrived. Quote the ratio: these machines are shared.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.command_rate import lifecycle
from ledger.projections.store import ViewStore
from ledger.runtime.webhook_worker import WebhookWorker
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from testkit.pgcluster import create_database, throwaway_cluster
from testkit.receiver import Receiver, serving
from testkit.workload import PARTNER, bench_catalog

EVENTS_PER_LIFECYCLE = 4


def settings_for(stack: ExitStack, postgres: bool) -> Settings:
    if postgres:
        url = create_database(stack.enter_context(throwaway_cluster()))
        return Settings(
            database_url=url,
            secret_key="a-bench-signing-key-that-is-long-enough-for-hs256",
            webhooks_allow_insecure=True,
        )
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    return Settings(
        database_url=f"sqlite:///{folder / 'ledger.sqlite3'}", webhooks_allow_insecure=True
    )


def run(lifecycles: int, postgres: bool) -> str:
    with ExitStack() as stack:
        settings = settings_for(stack, postgres)
        ledger = open_ledger(settings, bench_catalog(lifecycles))
        store = ViewStore.open(settings.eventsourcing_env())
        worker = WebhookWorker(ledger, store, settings)
        receiver = stack.enter_context(serving(Receiver()))
        _, receiver.secret = worker.subscriptions.subscribe(
            PARTNER, receiver.url, ["*"], datetime.now(UTC)
        )
        committed: dict[tuple[str, int], float] = {}
        worker.start()
        started = time.monotonic()
        writer = threading.Thread(target=write, args=(ledger, lifecycles, committed))
        writer.start()
        writer.join()
        written = time.monotonic() - started
        total = lifecycles * EVENTS_PER_LIFECYCLE
        deadline = time.monotonic() + 600
        while len(receiver.acknowledged()) < total and time.monotonic() < deadline:
            time.sleep(0.01)
        finished = time.monotonic() - started
        worker.stop()
        store.close()
        ledger.close()
        return report(receiver, committed, total, written, finished, postgres)


def write(ledger: Ledger, lifecycles: int, committed: dict[tuple[str, int], float]) -> None:
    """Play the lifecycles, noting when each event committed (its claim and version)."""
    original = ledger.save

    def noted(*aggregates: Any, **kwargs: Any) -> Any:
        recordings = original(*aggregates, **kwargs)
        at = time.monotonic()
        for recording in recordings:
            event = recording.domain_event
            committed[(str(event.originator_id), event.originator_version)] = at
        return recordings

    ledger.save = noted  # type: ignore[method-assign]
    for i in range(lifecycles):
        lifecycle(ledger, i)


def report(
    receiver: Receiver,
    committed: dict[tuple[str, int], float],
    total: int,
    written: float,
    finished: float,
    postgres: bool,
) -> str:
    arrived = receiver.acknowledged()
    lags = sorted(
        (a.at - committed[(a.body["claim_id"], a.body["version"])]) * 1000
        for a in arrived
        if (a.body["claim_id"], a.body["version"]) in committed
    )
    ids = [a.webhook_id for a in arrived]
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))] if lags else float("nan")
    return (
        f"bench webhooks {'postgres' if postgres else 'sqlite'}: {total} events written at "
        f"{total / written:,.0f}/s; {len(arrived)} delivered at {len(arrived) / finished:,.0f}/s "
        f"({len(arrived) / finished / (total / written):.2f} of the write rate, same run); "
        f"commit->delivery lag p50 {statistics.median(lags) if lags else float('nan'):.0f} ms, "
        f"p99 {p99:.0f} ms; duplicates {len(ids) - len(set(ids))}; "
        f"all verified {all(a.verified for a in arrived)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lifecycles", type=int, default=500)
    parser.add_argument("--postgres", action="store_true")
    arguments = parser.parse_args()
    print(run(arguments.lifecycles, arguments.postgres), flush=True)


if __name__ == "__main__":
    main()
