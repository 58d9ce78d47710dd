"""How long the workers take to sort the kept Customers tabs anew after a catalog change,
against building every view from the log, same run.

Run: ``.venv/bin/python -m bench.tabs_resort [--claims 100000] [--store sqlite|postgresql]``.
It fills a fresh store (PostgreSQL: a durable throwaway cluster) with N approved claims of one
partner, so N known customers (``bench.http_rate.filled_store``, which prints how long the
views took to build), then drops the recorded catalog digest of both bench engagements (as a
catalog change does) and times the workers' ``ViewRunner.settle``, which sorts every known
customer anew for each, one transaction an engagement. It prints the seconds, the customers
sorted per second, and the ratio to the views' build.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bench.http_rate import filled_store
from ledger.projections.runner import ViewRunner
from ledger.projections.store import ViewStore
from ledger.service.application import open_ledger
from testkit.workload import bench_catalog


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="postgresql")
    args = parser.parse_args()
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        started = time.perf_counter()
        settings, _, _ = filled_store(stack, folder, args.store, args.claims)
        ledger = open_ledger(settings, bench_catalog(args.claims, open_engagement=True))
        views = ViewStore.open(settings.eventsourcing_env())
        runner = ViewRunner(ledger, views)
        build = time.perf_counter()
        runner.replay()
        build = time.perf_counter() - build
        with views.transaction(commit=True) as tx:  # as a changed catalog leaves them
            tx.execute("DELETE FROM {p}customer_tab_catalog")
        resort = time.perf_counter()
        sorted_ = runner.settle()
        resort = time.perf_counter() - resort
        views.close()
        ledger.close()
        print(
            f"bench tabs_resort store={args.store} claims={args.claims} engagements=2 "
            f"customers_sorted={sorted_} resort_s={resort:.1f} "
            f"customers_per_s={sorted_ / resort:.0f} replay_s={build:.1f} "
            f"ratio_replay={resort / build:.2f} total_s={time.perf_counter() - started:.0f}"
        )


if __name__ == "__main__":
    main()
