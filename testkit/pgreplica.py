"""A throwaway PostgreSQL primary and its streaming replica (``pg_basebackup -R``), for the
read replica's tests and benchmark: both on their own loopback ports, stopped and deleted after.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from testkit.pgcluster import _bindir, _run, free_port


@dataclass(frozen=True)
class Pair:
    primary: str
    """The primary's server URL (its ``postgres`` database)."""
    replica: str
    """The replica's server URL (its ``postgres`` database)."""

    def on_replica(self, database_url: str) -> str:
        """The URL of the database ``database_url`` names on the primary, on the replica."""
        return f"{self.replica.rsplit('/', 1)[0]}/{database_url.rsplit('/', 1)[1]}"


def _options(port: int, base: Path, durable: bool) -> str:
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c max_connections=300"
    options += " -c wal_level=replica -c hot_standby=on"
    if not durable:  # synchronous_commit stays on: off, the WAL reaches the replica in 200 ms
        options += " -c fsync=off"
    return options


@contextlib.contextmanager
def primary_and_replica(*, durable: bool = False) -> Iterator[Pair]:
    """Start a primary, copy it with ``pg_basebackup -R`` and start the copy as a hot standby
    streaming from it; yield both URLs; stop both and delete them."""
    bindir = _bindir()
    as_postgres = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="ledger-pg-pair-"))
    if as_postgres:
        shutil.chown(base, "postgres")
    primary, replica = base / "primary", base / "replica"
    ports = free_port(), free_port()
    started: list[Path] = []
    try:
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(primary),
                "-U",
                "ledger",
                "-A",
                "trust",
                "-E",
                "UTF8",
            ],
            as_postgres,
        )
        _start(bindir, primary, _options(ports[0], base, durable), base / "primary.log")
        started.append(primary)
        _run(
            [
                *(str(bindir / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(ports[0])),
                *("-U", "ledger", "-D", str(replica), "-R", "-X", "stream"),
            ],
            as_postgres,
        )
        _start(bindir, replica, _options(ports[1], base, durable), base / "replica.log")
        started.append(replica)
        pair = Pair(
            f"postgresql://ledger@127.0.0.1:{ports[0]}/postgres",
            f"postgresql://ledger@127.0.0.1:{ports[1]}/postgres",
        )
        _await_standby(pair.replica)
        yield pair
    finally:
        for data in reversed(started):
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], as_postgres)
        shutil.rmtree(base, ignore_errors=True)


def _start(bindir: Path, data: Path, options: str, log: Path) -> None:
    as_postgres = os.geteuid() == 0
    command = [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(log), "-w"]
    _run([*command, "start"], as_postgres)


def _await_standby(url: str, seconds: float = 30.0) -> None:
    """Until the replica answers queries as a standby in recovery."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                if row is not None and row[0]:
                    return
        except psycopg.OperationalError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the replica did not start streaming from the primary")
        time.sleep(0.1)


def pause_replay(replica_url: str) -> None:
    """Stop the replica replaying what the primary streams (it keeps receiving it)."""
    with psycopg.connect(replica_url, autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")


def resume_replay(replica_url: str) -> None:
    with psycopg.connect(replica_url, autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_resume()")


def await_replayed(primary_url: str, replica_url: str, seconds: float = 30.0) -> None:
    """Until the replica has replayed everything the primary wrote so far."""
    with psycopg.connect(primary_url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    deadline = time.monotonic() + seconds
    with psycopg.connect(replica_url, autocommit=True) as conn:
        while True:
            found = conn.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (row[0],)
            ).fetchone()
            if found is not None and found[0]:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("the replica did not replay the primary's writes")
            time.sleep(0.02)
