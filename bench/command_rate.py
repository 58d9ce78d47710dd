"""Ledger command rate on SQLite and PostgreSQL, 1 and 4 writers, against a same-run baseline.

Run: ``.venv/bin/python -m bench.command_rate [--lifecycles N]``. Each writer plays whole
claim lifecycles (create, request consent, answer, submit: four commands, each a read and an
atomic save); the baseline is eventsourcing's own save of a one-event aggregate on the same
store with the same writers (``ratio_library``) and, on PostgreSQL, the raw commit rate of one
row per transaction with as many connections (``ratio_raw``); writers are threads of one
process, and on PostgreSQL also 4 processes (``processes=4``, as ``ledger serve --processes``
runs); the in-memory store gives the commands' CPU cost alone. ``ratio_sealed`` is the rate
with the contacts' personal data sealed (as always) against the same commands without;
``group_commit`` says whether the line's commands were written with group commit (as
``LEDGER_GROUP_COMMIT=auto`` has it: on for SQLite, off for PostgreSQL; ``saves_per_transaction``
is how many saves a transaction wrote on average); the same commands are then played with it
turned the other way (``group_commit_on_...`` or ``group_commit_off_...``), and
``ratio_grouped`` is the rate with it on against the rate with it off. Quote the ratios:
these machines are shared and noisy.

``cpu_ms_per_command`` is the CPU time one command costs: this process's (all its threads,
``time.process_time``) and, on PostgreSQL, the server's too (the postmaster started by the
bench and its backends, from ``/proc/<pid>/stat``), over the commands played.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from ledger.domain.commands import CreateClaims, RequestConsent, Submit
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from testkit.pgcluster import create_database, throwaway_cluster
from testkit.workload import PARTNER, bench_catalog, claim_body

T0 = datetime(2026, 1, 5, tzinfo=UTC)


_server_pid: int | None = None
"""The postmaster of the cluster the bench started (None: not on PostgreSQL)."""


def _stat_fields(pid: int) -> list[str]:
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()  # from the state field on


def server_cpu() -> float:
    """Seconds of CPU the PostgreSQL server used so far: the postmaster, its live children
    (backends, checkpointer, WAL writer) and its exited children (reaped)."""
    if _server_pid is None:
        return 0.0
    ticks = 0
    fields = _stat_fields(_server_pid)
    ticks += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            child = _stat_fields(int(entry.name))
        except (OSError, ValueError):
            continue  # gone meanwhile
        if int(child[1]) == _server_pid:  # ppid
            ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def find_server(url: str) -> int | None:
    """The pid of the postmaster listening on ``url``'s port (started by this bench)."""
    port = url.rsplit(":", 1)[1].split("/", 1)[0]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"postgres") and f"-p {port}".encode() in b" ".join(args):
            return int(entry.name)
    return None


def cpu_now() -> float:
    """This process's CPU seconds (all threads) plus the PostgreSQL server's."""
    return time.process_time() + server_cpu()


def lifecycle(ledger: Ledger, i: int) -> None:
    """Four commands on a fresh customer."""
    now = T0 + timedelta(seconds=i)
    create = CreateClaims.model_validate(claim_body(i))
    (claim_id,) = ledger.create_claims(PARTNER, create, now)
    request = RequestConsent.model_validate({"deal_size_usd": "10.00", "disclaimer_accepted": True})
    link = ledger.request_consent(PARTNER, claim_id, request, now)
    ledger.answer_consent(claim_id, link, True, now)
    proof = Submit.model_validate({"proof": [{"kind": "invoice", "reference": "x"}]})
    ledger.submit(PARTNER, claim_id, proof, now)


WARM = 20
"""Lifecycles played on each store before it is measured, not counted: the pool's
connections, prepared statements and first-use costs are not what a command costs."""


def warm(ledger: Ledger, first: int) -> None:
    """``WARM`` lifecycles on customers after the measured ones (from ``first``)."""
    for i in range(first, first + WARM):
        lifecycle(ledger, i)


class Counter(Aggregate):
    def __init__(self) -> None:
        self.n = 0


def run_writers(writers: int, per_writer: int, work: Callable[[int], object]) -> float:
    """Run ``work`` per_writer times in each of ``writers`` threads; return seconds taken."""
    barrier = threading.Barrier(writers + 1)
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        barrier.wait()
        try:
            for k in range(per_writer):
                work(w * per_writer + k)
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - started


def commands_seconds(
    settings: Settings, writers: int, lifecycles: int, *, seal_contacts: bool
) -> tuple[float, float, float]:
    """Seconds the writers take to play the lifecycles on a fresh store, the CPU seconds
    spent (``cpu_now``) and the saves per transaction (group commit); with the contacts
    sealed (as always) or, to measure what sealing costs, not."""
    ledger = open_ledger(settings, bench_catalog(lifecycles + WARM), seal_contacts=seal_contacts)
    try:
        warm(ledger, lifecycles)
        stats = ledger.committer.stats if ledger.committer else None
        before = (stats.saves, stats.transactions) if stats else (1, 1)
        cpu = cpu_now()
        seconds = run_writers(writers, lifecycles // writers, lambda i: lifecycle(ledger, i))
        cpu = cpu_now() - cpu
        after = (stats.saves, stats.transactions) if stats else (2, 2)
        return seconds, cpu, (after[0] - before[0]) / max(1, after[1] - before[1])
    finally:
        ledger.close()


def raw_commits(url: str, writers: int, per_writer: int) -> float:
    """PostgreSQL's own rate: one row per transaction into a fresh table, one connection per
    writer; commits per second."""
    import psycopg

    table = f"raw_{next(_tables)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (id BIGSERIAL PRIMARY KEY, data BYTEA NOT NULL)")
    connections = [psycopg.connect(url) for _ in range(writers)]
    row = b"x" * 300  # about one stored event

    def commit(i: int) -> None:
        conn = connections[i // per_writer]
        conn.execute(f"INSERT INTO {table} (data) VALUES (%s)", (row,))
        conn.commit()

    try:
        seconds = run_writers(writers, per_writer, commit)
    finally:
        for conn in connections:
            conn.close()
    return writers * per_writer / seconds


_tables = iter(range(10_000))


def measure(settings_for: Callable[[], Settings], writers: int, lifecycles: int) -> dict[str, Any]:
    per_writer = lifecycles // writers
    settings = settings_for()  # group commit as configured by default (auto)
    seconds, cpu, grouped = commands_seconds(settings, writers, lifecycles, seal_contacts=True)
    plain, _, _ = commands_seconds(settings_for(), writers, lifecycles, seal_contacts=False)
    toggled = "off" if settings.groups_commits else "on"
    other = settings_for().model_copy(update={"group_commit": toggled})
    other_seconds, other_cpu, other_grouped = commands_seconds(
        other, writers, lifecycles, seal_contacts=True
    )
    commands = 4 * per_writer * writers
    library_env = settings_for().eventsourcing_env()
    library_env.pop("APPLICATION_RECORDER_TOPIC", None)  # the library's own recorder
    baseline_app: Application[Any] = Application(env=library_env)
    for _ in range(4 * WARM):
        baseline_app.save(Counter())
    try:
        base_seconds = run_writers(writers, 4 * per_writer, lambda _: baseline_app.save(Counter()))
    finally:
        baseline_app.close()
    result = {
        "commands_per_s": commands / seconds,
        "cpu_ms_per_command": 1000 * cpu / commands,
        "saves_per_transaction": grouped,
        f"group_commit_{toggled}_commands_per_s": commands / other_seconds,
        f"group_commit_{toggled}_cpu_ms_per_command": 1000 * other_cpu / commands,
        f"group_commit_{toggled}_saves_per_transaction": other_grouped,
        "ratio_grouped": (other_seconds / seconds) ** (1 if toggled == "off" else -1),
        "unsealed_commands_per_s": commands / plain,
        "ratio_sealed": plain / seconds,
        "library_saves_per_s": commands / base_seconds,
        "ratio_library": base_seconds / seconds,
    }
    if not settings.is_sqlite:
        result["raw_commits_per_s"] = raw_commits(settings.database_url, writers, 4 * per_writer)
        result["ratio_raw"] = result["commands_per_s"] / result["raw_commits_per_s"]
    return result


def _process_writer(
    url: str, lifecycles: int, writers: int, first: int, count: int, barrier: Any, cpu: Any
) -> None:
    """One writer process: its own Ledger on the store, ``count`` lifecycles from ``first``;
    the CPU seconds they took added to ``cpu``."""
    writer = first // max(count, 1)  # this process's number: its own warm-up customers
    ledger = open_ledger(Settings(database_url=url), bench_catalog(lifecycles + WARM * writers))
    try:
        warm(ledger, lifecycles + writer * WARM)
        barrier.wait()
        started = time.process_time()
        for i in range(first, first + count):
            lifecycle(ledger, i)
        spent = time.process_time() - started
        with cpu.get_lock():
            cpu.value += spent
        barrier.wait()
    finally:
        ledger.close()


def cpu_ticks() -> tuple[int, int]:
    """The machine's (busy, all) CPU ticks so far, from /proc/stat (Linux)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    idle = fields[3] + fields[4]  # idle and iowait
    return sum(fields) - idle, sum(fields)


def busy_since(before: tuple[int, int]) -> float:
    """The share of all cores that were busy since ``before`` (1.0: the machine was full)."""
    busy, total = cpu_ticks()
    return (busy - before[0]) / max(1, total - before[1])


def in_processes(url: str, writers: int, lifecycles: int) -> tuple[float, float, float]:
    """The lifecycles played by ``writers`` processes (each with its own GIL, as
    ``ledger serve --processes N`` runs); commands per second, the machine's busy share and
    the CPU milliseconds per command (the writers' and the server's)."""
    per_writer = lifecycles // writers
    spawn = multiprocessing.get_context("spawn")
    barrier, cpu = spawn.Barrier(writers + 1), spawn.Value("d", 0.0)
    processes = [
        spawn.Process(
            target=_process_writer,
            args=(url, lifecycles, writers, w * per_writer, per_writer, barrier, cpu),
        )
        for w in range(writers)
    ]
    for process in processes:
        process.start()
    barrier.wait(timeout=120)  # all have opened their ledger
    started, ticks, server = time.perf_counter(), cpu_ticks(), server_cpu()
    barrier.wait(timeout=600)  # all are done
    seconds, busy = time.perf_counter() - started, busy_since(ticks)
    server = server_cpu() - server
    for process in processes:
        process.join()
        if process.exitcode:
            raise SystemExit(f"a writer process failed (exit code {process.exitcode})")
    commands = 4 * per_writer * writers
    return commands / seconds, busy, 1000 * (cpu.value + server) / commands


def in_memory(writers: int, lifecycles: int) -> dict[str, Any]:
    """The commands on the library's in-memory store: their CPU cost alone."""
    per_writer = lifecycles // writers
    catalog = bench_catalog(lifecycles + WARM)
    ledger = Ledger(catalog, env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    warm(ledger, lifecycles)
    cpu = time.process_time()
    seconds = run_writers(writers, per_writer, lambda i: lifecycle(ledger, i))
    cpu = time.process_time() - cpu
    commands = 4 * per_writer * writers
    return {"commands_per_s": commands / seconds, "cpu_ms_per_command": 1000 * cpu / commands}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lifecycles", type=int, default=400, help="claims per configuration")
    parser.add_argument("--store", choices=["all", "sqlite", "postgresql"], default="all")
    args = parser.parse_args()
    global _server_pid
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        server = stack.enter_context(throwaway_cluster(durable=True))
        counter = iter(range(10_000))

        def sqlite() -> Settings:
            return Settings(database_url=f"sqlite:///{workdir}/bench-{next(counter)}.sqlite3")

        def postgres() -> Settings:
            return Settings(database_url=create_database(server))

        popo = in_memory(1, args.lifecycles)
        print(
            f"bench command_rate store=memory writers=1 commands_per_s={popo['commands_per_s']:.0f}"
            f" cpu_ms_per_command={popo['cpu_ms_per_command']:.3f}",
            flush=True,
        )
        for store, settings_for in (("sqlite", sqlite), ("postgresql", postgres)):
            if args.store not in {"all", store}:
                continue
            _server_pid = find_server(server) if store == "postgresql" else None
            for writers in (1, 4):
                result = measure(settings_for, writers, args.lifecycles)
                figures = " ".join(
                    f"{k}={v:.2f}"
                    if k.startswith("ratio") or k.endswith("saves_per_transaction")
                    else f"{k}={v:.3f}"
                    if "cpu" in k
                    else f"{k}={v:.0f}"
                    for k, v in result.items()
                )
                on = "on" if settings_for().groups_commits else "off"
                print(
                    f"bench command_rate store={store} writers={writers} group_commit={on} "
                    f"{figures}",
                    flush=True,
                )
            if store == "postgresql":
                rate, busy, cpu_ms = in_processes(create_database(server), 4, args.lifecycles)
                ticks = cpu_ticks()
                raw = raw_commits(create_database(server), 4, args.lifecycles)
                raw_busy = busy_since(ticks)
                print(
                    "bench command_rate store=postgresql writers=4 processes=4 "
                    f"commands_per_s={rate:.0f} cpu_ms_per_command={cpu_ms:.3f} "
                    f"cpu_busy={busy:.2f} raw_commits_per_s={raw:.0f} "
                    f"raw_cpu_busy={raw_busy:.2f} ratio_raw={rate / raw:.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
