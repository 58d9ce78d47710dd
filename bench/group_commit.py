"""Group commit on and off, in turns, on SQLite and PostgreSQL, with 1 and 4 writer threads.

Run: ``.venv/bin/python -m bench.group_commit [--rounds R] [--lifecycles N]``. Two ledgers on
two fresh stores of the same kind, one with ``LEDGER_GROUP_COMMIT=on`` and one with ``off``,
play whole claim lifecycles (four commands each, as ``bench.command_rate``) in alternating
rounds (on first in odd rounds, off first in even ones), so that neither gains from going
first or from the machine's moods; ``ratio_grouped`` is the rate with group commit against
the rate without, ``saves_per_transaction`` how many saves a transaction wrote with it.
PostgreSQL is a durable throwaway cluster (it syncs its commits); SQLite runs as the ledger
opens it (WAL). Quote the ratios: these machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Literal, TypeVar

from bench.command_rate import WARM, lifecycle, run_writers, warm
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from testkit.pgcluster import create_database, throwaway_cluster
from testkit.workload import bench_catalog

Mode = Literal["on", "off"]
MODES: tuple[Mode, Mode] = ("on", "off")
M = TypeVar("M", bound=str)


def play(ledgers: Mapping[M, Ledger], writers: int, rounds: int, per_round: int) -> dict[M, float]:
    """Seconds each of two ledgers took over the rounds (``per_round`` lifecycles per writer
    each), in turns: the first goes first in odd rounds, the second in even ones."""
    modes = list(ledgers)
    seconds: dict[M, float] = dict.fromkeys(modes, 0.0)
    for n in range(rounds):
        for mode in modes if n % 2 else modes[::-1]:
            ledger, first = ledgers[mode], n * writers * per_round

            def one(i: int, ledger: Ledger = ledger, first: int = first) -> None:
                lifecycle(ledger, first + i)

            seconds[mode] += run_writers(writers, per_round, one)
    return seconds


def measure(urls: dict[Mode, str], writers: int, rounds: int, per_round: int) -> str:
    lifecycles = rounds * writers * per_round
    catalog = bench_catalog(lifecycles + WARM)
    ledgers = {
        mode: open_ledger(Settings(database_url=urls[mode], group_commit=mode), catalog)
        for mode in MODES
    }
    try:
        for ledger in ledgers.values():
            warm(ledger, lifecycles)
        committer = ledgers["on"].committer
        assert committer is not None
        before = committer.stats.saves, committer.stats.transactions
        seconds = play(ledgers, writers, rounds, per_round)
        saves = committer.stats.saves - before[0]
        transactions = committer.stats.transactions - before[1]
    finally:
        for ledger in ledgers.values():
            ledger.close()
    rates = {mode: 4 * lifecycles / seconds[mode] for mode in MODES}
    return (
        f"on_commands_per_s={rates['on']:.0f} off_commands_per_s={rates['off']:.0f} "
        f"saves_per_transaction={saves / max(1, transactions):.2f} "
        f"ratio_grouped={rates['on'] / rates['off']:.2f}"
    )


def arguments(description: str | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=8, help="turns of each")
    parser.add_argument("--lifecycles", type=int, default=40, help="per writer per round")
    parser.add_argument("--store", choices=["all", "sqlite", "postgresql"], default="all")
    return parser.parse_args()


def store_pairs(only: str, modes: Sequence[M]) -> Iterator[tuple[str, int, dict[M, str]]]:
    """For each kind of store (``only`` or ``all``) and 1 and 4 writers: two fresh stores of
    that kind, one per mode (PostgreSQL: a durable throwaway cluster)."""
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        server = stack.enter_context(throwaway_cluster(durable=True))
        for store in ("sqlite", "postgresql"):
            if only not in {"all", store}:
                continue
            for writers in (1, 4):
                urls = {
                    mode: f"sqlite:///{workdir}/{mode}-{writers}.sqlite3"
                    if store == "sqlite"
                    else create_database(server)
                    for mode in modes
                }
                yield store, writers, urls


def main() -> None:
    args = arguments(__doc__)
    for store, writers, urls in store_pairs(args.store, MODES):
        figures = measure(urls, writers, args.rounds, args.lifecycles)
        print(f"bench group_commit store={store} writers={writers} {figures}", flush=True)


if __name__ == "__main__":
    main()
