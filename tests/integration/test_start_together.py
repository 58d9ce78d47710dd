"""Processes started at the same instant on a fresh PostgreSQL database all come up healthy:
the schema is created under one advisory lock. Two `ledger serve` and two `ledger workers`
processes, ten fresh databases in a row."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from testkit.chaos import SECRET, Server
from testkit.pgcluster import create_database, free_port
from testkit.serving import until

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def following(process: subprocess.Popen[bytes], log: Path) -> bool:
    """Whether the workers process says it follows the log, or stopped."""
    return "following the event log" in log.read_text() or process.poll() is not None


def start_together(database_url: str, folder: Path) -> list[str]:
    """Two servers and two workers at once on the database; the output of each."""
    env = {**os.environ, "LEDGER_DATABASE_URL": database_url, "LEDGER_SECRET_KEY": SECRET}
    servers = [Server(env, free_port(), folder / f"serve-{n}.log") for n in range(2)]
    logs = [folder / f"workers-{n}.log" for n in range(2)]
    workers = []
    for server in servers:
        server.start()
    for log in logs:
        with log.open("wb") as out:
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "cli", "workers"],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        for server in servers:
            server.wait()
        for process, log in zip(workers, logs, strict=True):
            until(functools.partial(following, process, log))
            assert process.poll() is None, log.read_text()
        time.sleep(0.5)  # a worker's first rounds: views, policies, deadlines
        assert all(process.poll() is None for process in workers)
    finally:
        for server in servers:
            server.stop()
        for process in workers:
            process.terminate()
            process.wait(timeout=20)
    return [path.read_text() for path in [*(s.log for s in servers), *logs]]


def test_four_processes_started_together_on_a_create_database(postgres_server: str) -> None:
    for _ in range(10):
        with tempfile.TemporaryDirectory() as folder:
            outputs = start_together(create_database(postgres_server), Path(folder))
        assert not [o for o in outputs if "Traceback" in o or "Error" in o], outputs
