"""A profile of the lifecycle commands on PostgreSQL (or SQLite): CPU by function, and
round trips.

Run: ``.venv/bin/python -m bench.command_profile [--lifecycles N] [--top K] [--sort KEY]
[--store sqlite]``. On a durable throwaway cluster (or a SQLite file), one writer plays
``N`` lifecycles (four commands each, as ``bench.command_rate`` does) three ways:
unprofiled, for the CPU per command of this process and of the server (postmaster and
backends); with every psycopg execute counted and timed (statements per command, and each
one's wall time; none on SQLite); and under cProfile on a CPU clock (the ``K`` functions
with the most cumulative CPU, or by ``--sort tottime``; the profiler about doubles what it
measures: read shares). ``docs/scaling.md`` quotes it.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import psycopg

from bench import command_rate
from bench.command_rate import lifecycle
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from testkit.pgcluster import create_database, throwaway_cluster
from testkit.workload import bench_catalog


@contextmanager
def counted_statements() -> Iterator[tuple[Counter[str], dict[str, float]]]:
    """Every psycopg execute meanwhile, counted and timed by its statement's first words."""
    counts: Counter[str] = Counter()
    seconds: dict[str, float] = {}
    original = psycopg.Cursor.execute

    def execute(self: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(self, query, params, **kwargs)
        finally:
            text = query if isinstance(query, str) else query.as_string(self.connection)
            key = " ".join(text.split())[:80]
            counts[key] += 1
            seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - started

    psycopg.Cursor.execute = execute  # type: ignore[method-assign]
    try:
        yield counts, seconds
    finally:
        psycopg.Cursor.execute = original  # type: ignore[method-assign]


def play(ledger: Ledger, first: int, count: int) -> Callable[[], None]:
    def run() -> None:
        for i in range(first, first + count):
            lifecycle(ledger, i)

    return run


def profile(ledger: Ledger, lifecycles: int, top: int, sort: str = "cumulative") -> None:
    commands = 4 * lifecycles
    cpu, server = time.process_time(), command_rate.server_cpu()
    play(ledger, 0, lifecycles)()
    cpu, server = time.process_time() - cpu, command_rate.server_cpu() - server
    print(
        f"bench command_profile python_cpu_ms_per_command={1000 * cpu / commands:.3f} "
        f"server_cpu_ms_per_command={1000 * server / commands:.3f}"
    )
    with counted_statements() as (counts, seconds):
        play(ledger, lifecycles, lifecycles)()
    for statement, n in counts.most_common():
        each = 1000 * seconds[statement] / n
        print(f"  {n / commands:5.2f} per command, {each:.3f} ms each: {statement}")
    print(f"  {sum(counts.values()) / commands:5.2f} statements per command")
    profiler = cProfile.Profile(time.process_time)
    profiler.runcall(play(ledger, 2 * lifecycles, lifecycles))
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(sort).print_stats(top)
    print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lifecycles", type=int, default=300, help="claims per pass")
    parser.add_argument("--top", type=int, default=60, help="functions shown")
    parser.add_argument(
        "--sort", default="cumulative", help="pstats order: cumulative, tottime, ..."
    )
    parser.add_argument("--store", choices=["postgresql", "sqlite"], default="postgresql")
    args = parser.parse_args()
    with ExitStack() as stack:
        if args.store == "sqlite":
            folder = stack.enter_context(tempfile.TemporaryDirectory())
            url = f"sqlite:///{folder}/ledger.sqlite3"
        else:
            server = stack.enter_context(throwaway_cluster(durable=True))
            command_rate._server_pid = command_rate.find_server(server)
            url = create_database(server)
        catalog = bench_catalog(3 * args.lifecycles + 20)
        ledger = open_ledger(Settings(database_url=url), catalog)
        stack.callback(ledger.close)
        play(ledger, 3 * args.lifecycles, 20)()  # warm: connections, prepared statements
        profile(ledger, args.lifecycles, args.top, args.sort)


if __name__ == "__main__":
    main()
