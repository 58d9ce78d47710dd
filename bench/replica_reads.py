"""Reads per second with a read replica against the primary alone, in the same run.

Run: ``.venv/bin/python -m bench.replica_reads [--claims 5000] [--reads 300] [--writes 100]``.
It starts a PostgreSQL primary and a streaming replica (``pg_basebackup -R``, on this machine),
fills the primary with ``--claims`` claims of one partner, then serves the same database twice
in-process, its workers running: once alone (the baseline) and once with
LEDGER_READ_DATABASE_URL naming the replica; the two take turns, twice each (alone first, then
the replica first). Each serving times

- plain reads (nothing pending): the API's Customers tab and the web page's claims list;
- reads after the reader's own write: a claim added through the API, then the claims list,
  which must show it (only the read is timed: on the replica it waits for the replica to
  replay the write, up to LEDGER_REPLICA_WAIT_MS, then reads the primary).

While the served-with-replica writes run, a thread samples the replica's lag: in events (the
primary's views' position less the replica's) and in time (``pg_stat_replication.replay_lag``).
The line ends with the ratios replica / alone and the lag's p50 and p99.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient

from bench.http_rate import page_session
from bench.replay_rate import populate
from cli.site import create_app
from ledger.audit.notes import Signer
from ledger.domain.access import AccessTokens
from ledger.domain.catalog import Catalog
from ledger.runtime.bootstrap import bootstrap
from ledger.service.clock import utc_now
from ledger.service.settings import Settings
from testkit.pgcluster import create_database
from testkit.pgreplica import Pair, await_replayed, primary_and_replica
from testkit.workload import PARTNER, bench_catalog, claim_body
from web.session import COOKIE

KEY = "replica-bench-signing-key-long-enough-for-hs256"
TAB = "/v1/engagements/E-BENCH/customers?tab=eligible&limit=50"
LIST = "/v1/claims?limit=50"
PAGE = "/claims"


@dataclass
class Totals:
    """Seconds spent and requests made, per kind of read, over the turns of one serving."""

    seconds: dict[str, float] = field(default_factory=dict)
    count: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, seconds: float, count: int) -> None:
        self.seconds[kind] = self.seconds.get(kind, 0.0) + seconds
        self.count[kind] = self.count.get(kind, 0) + count

    def rate(self, kind: str) -> float:
        return self.count[kind] / self.seconds[kind]


def reads(client: TestClient, path: str, count: int, headers: dict[str, str]) -> float:
    """Seconds ``count`` GETs of ``path`` took."""
    for _ in range(10):  # warm: the pools' connections, the caches, the workers' first round
        client.get(path, headers=headers)
    started = time.perf_counter()
    for _ in range(count):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return time.perf_counter() - started


def reads_after_writes(
    client: TestClient, customers: range, headers: dict[str, str]
) -> tuple[float, int]:
    """Seconds the claims-list reads took, each after the reader's own new claim."""
    took = 0.0
    for i in customers:
        made = client.post("/v1/claims", json=claim_body(i), headers=headers)
        assert made.status_code == 201, made.text
        claim_id = made.json()["claims"][0]["claim_id"]
        started = time.perf_counter()
        found = client.get("/v1/claims?limit=5", headers=headers)
        took += time.perf_counter() - started
        assert claim_id in {item["claim_id"] for item in found.json()["items"]}, "not shown"
    return took, len(customers)


class LagSampler:
    """Samples the replica's lag every few milliseconds while it runs."""

    def __init__(self, events: Callable[[], int | None], primary_url: str) -> None:
        self.events_lag = events
        self.primary_url = primary_url
        self.events: list[int] = []
        self.millis: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LagSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(self.primary_url, autocommit=True) as conn:
            while not self._stop.wait(0.005):
                lag = self.events_lag()
                if lag is not None:
                    self.events.append(lag)
                row = conn.execute(
                    "SELECT EXTRACT(epoch FROM replay_lag) FROM pg_stat_replication"
                ).fetchone()
                self.millis.append(float(row[0] or 0) * 1000 if row else 0.0)


def serve_turn(
    settings: Settings, catalog: Catalog, customers: range, args: argparse.Namespace
) -> tuple[Totals, LagSampler | None, tuple[int, int]]:
    """One serving of the store: its reads' totals, and with a replica, its lag and counts."""
    totals = Totals()
    token = AccessTokens(KEY).mint(PARTNER, timedelta(hours=2), utc_now())
    bearer = {"Authorization": f"Bearer {token}"}
    app = create_app(settings, catalog=catalog, run_workers=True)
    with TestClient(app) as client:
        services = app.state.services
        totals.add("tab", reads(client, TAB, args.reads, bearer), args.reads)
        client.cookies.set(COOKIE, page_session(settings, PARTNER))
        totals.add("page", reads(client, PAGE, args.reads, {}), args.reads)
        client.cookies.clear()
        replica = services.replica
        if replica is None:
            totals.add("after_write", *reads_after_writes(client, customers, bearer))
            return totals, None, (0, 0)
        events = lambda: replica.lag(services.workers.views.position())  # noqa: E731
        with LagSampler(events, settings.database_url) as sampler:
            totals.add("after_write", *reads_after_writes(client, customers, bearer))
        counts = replica.counts
        return totals, sampler, (counts.waits, counts.fallbacks_wait)


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else 0.0


def fill(pair: Pair, args: argparse.Namespace, folder: Path, catalog: Catalog) -> Settings:
    url = create_database(pair.primary)
    settings = Settings(
        database_url=url,
        secret_key=KEY,
        checkpoint_key=Signer.generate("bench.example/ledger").text,
        mail_dir=folder / "mail",
        documents_dir=folder / "documents",
    )
    services = bootstrap(settings, catalog=catalog)
    populate(services.ledger, args.claims)
    services.workers.run_once()  # the views, and the log's tree the workers' rounds extend
    services.close()
    with psycopg.connect(url, autocommit=True) as conn:  # no autovacuum during the turns
        conn.execute("VACUUM (ANALYZE)")
    await_replayed(pair.primary, pair.replica)
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, default=5000)
    parser.add_argument("--reads", type=int, default=300)
    parser.add_argument("--writes", type=int, default=100)
    parser.add_argument("--wait-ms", type=int, default=200)
    args = parser.parse_args()
    catalog = bench_catalog(args.claims + 4 * args.writes)
    folder = Path(tempfile.mkdtemp(prefix="bench-replica-"))
    with primary_and_replica(durable=True) as pair:
        settings = fill(pair, args, folder, catalog)
        replicated = settings.model_copy(
            update={
                "read_database_url": pair.on_replica(settings.database_url),
                "replica_wait_ms": args.wait_ms,
            }
        )
        alone, with_replica = Totals(), Totals()
        events: list[float] = []
        millis: list[float] = []
        waits = fallbacks = 0
        next_customer = args.claims
        servings = [(settings, alone), (replicated, with_replica)]
        for turn_number in range(2):  # alone first, then the replica first: no order's bias
            for served, totals in servings[:: 1 if turn_number == 0 else -1]:
                customers = range(next_customer, next_customer + args.writes)
                next_customer += args.writes
                turn, sampler, (waited, fell_back) = serve_turn(served, catalog, customers, args)
                for kind in turn.count:
                    totals.add(kind, turn.seconds[kind], turn.count[kind])
                if sampler is not None:
                    events += sampler.events
                    millis += sampler.millis
                    waits, fallbacks = waits + waited, fallbacks + fell_back
        report(args, alone, with_replica, events, millis, (waits, fallbacks))


def report(
    args: argparse.Namespace,
    alone: Totals,
    with_replica: Totals,
    events: list[float],
    millis: list[float],
    counts: tuple[int, int],
) -> None:
    parts = [f"bench replica_reads claims={args.claims} wait_ms={args.wait_ms}"]
    for kind in ("tab", "page", "after_write"):
        base, replica = alone.rate(kind), with_replica.rate(kind)
        parts.append(
            f"{kind}_per_s_primary={base:.0f} {kind}_per_s_replica={replica:.0f} "
            f"{kind}_ratio={replica / base:.2f}"
        )
    parts.append(
        f"waits={counts[0]} fallbacks={counts[1]} "
        f"lag_events_p50={percentile(events, 0.5):.0f} "
        f"lag_events_p99={percentile(events, 0.99):.0f} "
        f"lag_ms_p50={percentile(millis, 0.5):.1f} lag_ms_p99={percentile(millis, 0.99):.1f}"
    )
    print(" ".join(parts))


if __name__ == "__main__":
    main()
