"""`ledger serve --processes N`: N API processes and one process for views and policies, on
PostgreSQL; refused on SQLite."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from ledger.domain.access import AccessTokens
from ledger.service.clock import utc_now
from ledger.service.settings import Settings
from testkit.chaos import SECRET, chaos_catalog
from testkit.pgcluster import create_database, free_port
from testkit.processes import children
from testkit.serving import wait_healthy
from testkit.workload import PARTNER, claim_body

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_two_api_processes_and_one_for_the_workers(postgres_server: str, tmp_path: Path) -> None:
    catalog = chaos_catalog(tmp_path, 50)
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": create_database(postgres_server),
        "LEDGER_SECRET_KEY": SECRET,
        "LEDGER_CATALOG": str(catalog),
        "LEDGER_HEADER_TIMEOUT_SECONDS": "1",
    }
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--port", str(port), "--processes", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, serve, log.read_text, seconds=60)
        token = AccessTokens(Settings(secret_key=SECRET).signing_key()).mint(
            PARTNER, timedelta(hours=1), utc_now()
        )
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=auth, timeout=30) as client:
            for i in range(20):  # requests spread over both processes by the kernel
                made = client.post("/v1/claims", json=claim_body(i))
                assert made.status_code == 201, made.text
                claim_id = made.json()["claims"][0]["claim_id"]
                position = made.headers["ledger-position"]
                read = client.get(f"/v1/claims/{claim_id}", headers={"Ledger-Position": position})
                assert read.status_code == 200, read.text
        for _ in range(4):  # each API process closes a connection whose headers never come
            with socket.create_connection(("127.0.0.1", port), timeout=20) as silent:
                assert silent.recv(1024) == b""
        assert len(children(serve.pid)) >= 3  # two API processes and the workers process
        assert "2 API processes, and one process for the projections" in log.read_text()
    finally:
        serve.terminate()  # SIGTERM: the API processes and the workers process end
        serve.wait(timeout=30)
    said = log.read_text()
    assert "Traceback" not in said, said
    stops = [line for line in said.splitlines() if "stopped" in line]
    assert len(stops) == 1, said
    assert "ledger.serve: stopped: the 2 API processes and the workers process have ended" in said


def test_sqlite_is_served_by_one_process() -> None:
    with tempfile.TemporaryDirectory() as folder:
        env = {
            **os.environ,
            "LEDGER_DATABASE_URL": f"sqlite:///{folder}/ledger.sqlite3",
            "LEDGER_SECRET_KEY": SECRET,
        }
        done = subprocess.run(
            [sys.executable, "-m", "cli", "serve", "--processes", "2"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2
    assert "--processes needs PostgreSQL" in done.stdout
