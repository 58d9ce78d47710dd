"""The CPU a command costs on PostgreSQL against the same commands in memory, in turns.

Run: ``.venv/bin/python -m bench.cpu_ratio [--rounds R] [--lifecycles N]``. Three ledgers
play whole claim lifecycles (four commands each, as ``bench.command_rate``), one writer, in
rounds of ``N`` lifecycles each, taking turns (the order turns too, so none gains from going
first or from the machine's moods):

- ``memory``: the library's in-memory store, the commands' CPU alone;
- ``postgresql``: a durable throwaway PostgreSQL, as the ledger opens it;
- ``postgresql pool=first-in-first-out``: the same, its connection pool handing out its idle
  connections in the order psycopg_pool keeps them (the ledger hands out the one returned
  last, ``ledger.store.pool``).

Each PostgreSQL line's ``cpu_ms_per_command`` is this process's CPU and the server's (the
postmaster and its children); ``ratio_to_memory`` is the median, over the rounds, of the
round's figure against the same round's memory one (issue "Writes near the limit" asks for 3
at most). ``bench.command_rate`` prints the same figures from one run of each, which move by
a fifth from run to run on a shared machine.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections import deque
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field

from bench import command_rate
from bench.command_rate import WARM, lifecycle, warm
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from ledger.store.log import ConcurrentPostgresRecorder
from testkit.pgcluster import create_database, throwaway_cluster
from testkit.workload import bench_catalog


@dataclass
class Line:
    name: str
    ledger: Ledger
    python: list[float] = field(default_factory=list)
    server: list[float] = field(default_factory=list)

    def total(self, i: int) -> float:
        """Round ``i``'s CPU per command, this process's and the server's."""
        return self.python[i] + self.server[i]


def first_in_first_out(ledger: Ledger) -> Ledger:
    """``ledger`` with its pool's idle connections taken in psycopg_pool's own order."""
    recorder = ledger.recorder
    assert isinstance(recorder, ConcurrentPostgresRecorder)
    pool = recorder.datastore.pool
    with pool._lock:
        pool._pool = deque(pool._pool)
    return ledger


def play_round(line: Line, first: int, lifecycles: int) -> None:
    """``lifecycles`` lifecycles from customer ``first``: the CPU per command noted (the
    garbage of earlier rounds collected first: each round pays for its own)."""
    gc.collect()
    python, server = time.process_time(), command_rate.server_cpu()
    for i in range(first, first + lifecycles):
        lifecycle(line.ledger, i)
    commands = 4 * lifecycles
    line.python.append(1000 * (time.process_time() - python) / commands)
    line.server.append(1000 * (command_rate.server_cpu() - server) / commands)


def turns(lines: list[Line], rounds: int) -> Iterator[Line]:
    """Each line once a round, the order turned by one each round."""
    for r in range(rounds):
        k = r % len(lines)
        yield from lines[k:] + lines[:k]


def report(lines: list[Line]) -> None:
    memory, rounds = lines[0], len(lines[0].python)
    print(
        f"bench cpu_ratio store=memory rounds={rounds} "
        f"cpu_ms_per_command={statistics.median(memory.python):.3f}"
    )
    for line in lines[1:]:
        ratios = [line.total(i) / memory.python[i] for i in range(rounds)]
        print(
            f"bench cpu_ratio {line.name} rounds={rounds} "
            f"python_cpu_ms_per_command={statistics.median(line.python):.3f} "
            f"server_cpu_ms_per_command={statistics.median(line.server):.3f} "
            f"cpu_ms_per_command={statistics.median(map(line.total, range(rounds))):.3f} "
            f"ratio_to_memory={statistics.median(ratios):.2f} "
            f"(rounds {min(ratios):.2f}-{max(ratios):.2f})",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=9, help="turns of each line")
    parser.add_argument("--lifecycles", type=int, default=200, help="lifecycles per turn")
    args = parser.parse_args()
    lifecycles = 3 * args.rounds * args.lifecycles
    catalog = bench_catalog(lifecycles + 3 * WARM)
    with ExitStack() as stack:
        server = stack.enter_context(throwaway_cluster(durable=True))
        command_rate._server_pid = command_rate.find_server(server)

        def stored(fifo: bool) -> Ledger:
            ledger = open_ledger(Settings(database_url=create_database(server)), catalog)
            stack.callback(ledger.close)
            return first_in_first_out(ledger) if fifo else ledger

        lines = [
            Line("memory", Ledger(catalog, env={"PERSISTENCE_MODULE": "eventsourcing.popo"})),
            Line("store=postgresql pool=most-recent-first", stored(fifo=False)),
            Line("store=postgresql pool=first-in-first-out", stored(fifo=True)),
        ]
        for n, line in enumerate(lines):
            warm(line.ledger, lifecycles + n * WARM)
        first = 0
        for line in turns(lines, args.rounds):
            play_round(line, first, args.lifecycles)
            first += args.lifecycles
        report(lines)


if __name__ == "__main__":
    main()
