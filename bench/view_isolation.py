"""What each view's own transaction costs a replay, against one transaction for all views.

Run: ``.venv/bin/python -m bench.view_isolation [--events 50000] [--rounds 3]``. It starts a
durable throwaway PostgreSQL, fills it as ``bench.replay_rate`` does, then, in turns, rebuilds
every view into a fresh generation two ways and prints the best rate of each and their ratio:

- baseline: each page folded into every view and tracked in one transaction (how the runner
  worked before each view had its own position; done here with the same projections);
- ours: ``ViewRunner.catch_up``: each view's page in a transaction of its own, with its own
  compare-and-set position (a view failing on an event stops alone).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from contextlib import ExitStack

from bench.replay_rate import filled_store, timed
from ledger.projections.runner import ViewRunner, _ReadAhead
from ledger.projections.store import ViewStore
from testkit.pgcluster import throwaway_cluster


def shared_transaction(runner: ViewRunner, generation: int) -> int:
    """The baseline: every view and one position per page, in one transaction; the next
    page read and decoded in a thread meanwhile, as the runner does."""
    store, position, applied, head = runner.store, 0, 0, runner.head()
    with ExitStack() as stack:
        pages = _ReadAhead(runner._read, runner.page_size, stack)
        while position < head:
            page, events = pages.read(position, head)
            if not events:
                break
            with store.transaction(generation, commit=True) as tx:
                for projection in runner.projections:
                    projection.process_batch(tx, events)
                tx.track(f"bench@{generation}", page.position)
            position, applied = page.position, applied + len(events)
    return applied


def into_new_generation(runner: ViewRunner, build: Callable[[int], int]) -> Callable[[], int]:
    def run() -> int:
        generation = runner.store.generation() + 1
        runner.store.create_generation(generation)
        runner.store.switch_to(generation)  # the next round's tables are fresh too
        return build(generation)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with throwaway_cluster(durable=True) as server:
        settings, ledger, _ = filled_store(server, "isolation", args.events)
        runner = ViewRunner(ledger, ViewStore.open(settings.eventsourcing_env()))
        ways = {
            "baseline": into_new_generation(runner, lambda g: shared_transaction(runner, g)),
            "ours": into_new_generation(runner, lambda g: runner.catch_up(g)),
        }
        best = dict.fromkeys(ways, 0.0)
        for round_ in range(1, args.rounds + 1):
            for name, run in ways.items():
                events, seconds = timed(run)
                best[name] = max(best[name], events / seconds)
                print(f"round {round_} {name:8}: {events:,} events, {events / seconds:,.0f}/s")
        ledger.close()
        runner.store.close()
        print(
            f"bench view_isolation events={events} baseline_per_s={best['baseline']:.0f} "
            f"ours_per_s={best['ours']:.0f} ratio={best['ours'] / best['baseline']:.2f}"
        )


if __name__ == "__main__":
    main()
