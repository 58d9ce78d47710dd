"""What sealing the contacts' personal data costs a command: sealed and not, in turns, on
SQLite and PostgreSQL, with 1 and 4 writer threads.

Run: ``.venv/bin/python -m bench.sealing [--rounds R] [--lifecycles N] [--store S]``. Two
ledgers on two fresh stores of the same kind, one sealing the contacts' names and addresses
(as the ledger always does) and one storing them plain (``seal_contacts=False``, for this
measure only), play whole claim lifecycles (four commands each, as ``bench.command_rate``;
each a new customer contact, so each creates a key) in alternating rounds, so that neither
gains from going first or from the machine's moods. ``ratio_sealed`` is the sealed rate
against the plain one (``bench.command_rate`` prints the same ratio from one run of each,
which moves by 0.2 from run to run on a shared machine). PostgreSQL is a durable throwaway
cluster; SQLite runs as the ledger opens it (WAL).
"""

from __future__ import annotations

from typing import Literal

from bench.command_rate import WARM, warm
from bench.group_commit import arguments, play, store_pairs
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from testkit.workload import bench_catalog

Mode = Literal["sealed", "plain"]
MODES: tuple[Mode, Mode] = ("sealed", "plain")


def measure(urls: dict[Mode, str], writers: int, rounds: int, per_round: int) -> str:
    lifecycles = rounds * writers * per_round
    catalog = bench_catalog(lifecycles + WARM)
    ledgers: dict[Mode, Ledger] = {
        mode: open_ledger(
            Settings(database_url=urls[mode]), catalog, seal_contacts=mode == "sealed"
        )
        for mode in MODES
    }
    try:
        for ledger in ledgers.values():
            warm(ledger, lifecycles)
        seconds = play(ledgers, writers, rounds, per_round)
    finally:
        for ledger in ledgers.values():
            ledger.close()
    rates = {mode: 4 * lifecycles / seconds[mode] for mode in ledgers}
    return (
        f"sealed_commands_per_s={rates['sealed']:.0f} plain_commands_per_s={rates['plain']:.0f} "
        f"ratio_sealed={rates['sealed'] / rates['plain']:.2f}"
    )


def main() -> None:
    args = arguments(__doc__)
    for store, writers, urls in store_pairs(args.store, MODES):
        figures = measure(urls, writers, args.rounds, args.lifecycles)
        print(f"bench sealing store={store} writers={writers} {figures}", flush=True)


if __name__ == "__main__":
    main()
