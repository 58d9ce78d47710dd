"""Gap torture: concurrent appends with random commit delays and aborts, followers reading.

Run: ``.venv/bin/python -m bench.gap_torture [--runs 200] [--naive]``. Each run: 16 writers
append events to a fresh PostgreSQL database through the Ledger's recorder, each holding its
transaction open a random while after its insert, and aborting one in ten; 2 followers read
the log meanwhile as the views and policies do. Every follower must see every committed event
exactly once, each originator's events in version order. ``--naive`` makes the followers read
by notification id, as they would without the commit-order log: they then pass over events
whose lower id committed after a higher one.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from testkit.gap_torture import run
from testkit.pgcluster import throwaway_cluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--naive", action="store_true")
    args = parser.parse_args()
    totals = Counter[str]()
    started = time.monotonic()
    with throwaway_cluster() as server:
        for n in range(args.runs):
            result = run(server, naive=args.naive)
            totals.update(vars(result))
            totals["runs_with_faults"] += bool(
                result.missed or result.doubled or result.out_of_order
            )
            if (n + 1) % 20 == 0:
                print(f"  {n + 1} runs, {time.monotonic() - started:.0f} s", flush=True)
    figures = " ".join(f"{k}={v}" for k, v in totals.items())
    print(f"bench gap_torture runs={args.runs} naive={args.naive} {figures}")


if __name__ == "__main__":
    main()
