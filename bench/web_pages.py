"""Server time of the web page's heavy pages with 10,000 claims of one partner.

Run: ``.venv/bin/python -m bench.web_pages [--claims 10000] [--requests 200]``. It fills a
fresh SQLite store with the partner's claims (each added, consented, submitted and approved,
so every customer is known and the Customers page has all three tabs to fill), brings the
views up to date, then times each page through the app in-process (no network), with the
bare ``/healthz`` of the same app as the stack's floor. Each line ends with the ratio of the
page's p50 to that floor's.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path
from uuid import UUID

from fastapi.testclient import TestClient

from bench.http_rate import page_session
from bench.replay_rate import populate
from cli.site import create_app
from ledger.runtime.bootstrap import bootstrap
from ledger.service.settings import Settings
from testkit.workload import PARTNER, bench_catalog
from web.session import COOKIE


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return statistics.median(ordered), p95


def timed(client: TestClient, paths: list[str]) -> list[float]:
    took = []
    for path in paths:
        started = time.perf_counter()
        response = client.get(path)
        took.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        assert not response.history, (path, response.url)  # not sent to /sign-in
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-web-"))
    settings = Settings(database_url=f"sqlite:///{folder / 'ledger.sqlite3'}")
    catalog = bench_catalog(args.claims)
    services = bootstrap(settings, catalog=catalog)
    started = time.perf_counter()
    populate(services.ledger, args.claims)
    services.workers.views.catch_up()
    claim_ids: list[UUID] = list(services.ledger.claim_ids())
    services.close()
    print(f"filled {len(claim_ids):,} claims in {time.perf_counter() - started:.1f} s")

    app = create_app(settings, catalog=catalog, run_workers=False)
    with TestClient(app) as client:
        client.cookies.set(COOKIE, page_session(settings, PARTNER))
        pages = {
            "healthz": ["/healthz"],
            "customers_eligible": ["/engagements/E-BENCH/customers?tab=eligible"],
            "customers_ineligible": ["/engagements/E-BENCH/customers?tab=ineligible"],
            "customers_completed": ["/engagements/E-BENCH/customers?tab=completed"],
            "claims_list": ["/claims"],
            "claim_details": [f"/claims/{random.choice(claim_ids)}" for _ in range(50)],
        }
        results = {}
        for name, paths in pages.items():
            timed(client, paths[:1])  # warm
            samples = timed(client, [paths[i % len(paths)] for i in range(args.requests)])
            results[name] = percentiles(samples)
    floor = results["healthz"][0]
    for name, (p50, p95) in results.items():
        print(
            f"bench web_pages page={name} claims={len(claim_ids)} p50_ms={p50:.1f} "
            f"p95_ms={p95:.1f} ratio_healthz={p50 / floor:.1f}"
        )


if __name__ == "__main__":
    main()
