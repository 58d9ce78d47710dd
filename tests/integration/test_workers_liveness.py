"""The parts of a process group that heals, one at a time: the supervisor restarting a real
process that keeps ending, a child ending when its parent is not the one it was told, and
/readyz and /metrics saying whether the workers run (a thread, or a process's heartbeat)."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cli.site import create_app
from cli.supervise import LONGEST_PAUSE, SETTLED_AFTER, WorkersSupervisor, next_pause
from ledger.runtime.heartbeat import Heartbeat
from ledger.service.settings import Settings
from testkit.serving import until
from tests.factories import make_catalog


def test_a_process_that_keeps_ending_is_restarted_with_a_growing_pause(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    starts = tmp_path / "starts"
    ends = (
        "import os, sys; open(sys.argv[1], 'a').write(os.environ['LEDGER_WORKERS_RESTARTS'] + ' ')"
        "; sys.exit(3)"
    )
    supervisor = WorkersSupervisor(0.05, [sys.executable, "-c", ends, str(starts)])
    with caplog.at_level(logging.WARNING, "ledger.serve"):
        supervisor.start()
        until(lambda: supervisor.restarts >= 4, 60)
        supervisor.stop()
    assert starts.read_text().split()[:4] == ["0", "1", "2", "3"]  # each told its count
    said = [r.getMessage() for r in caplog.records if "workers process" in r.getMessage()]
    assert all("ended (exit status 3)" in line for line in said), said
    pauses = [float(p) for p in re.findall(r"again in ([\d.]+) s", " ".join(said))]
    assert pauses[:4] == [0.05, 0.1, 0.2, 0.4], said


def test_the_pause_is_capped_and_starts_again_after_a_settled_run() -> None:
    assert next_pause(0.0, 0.0, 0.5) == 0.5
    assert next_pause(0.5, 1.0, 0.5) == 1.0
    assert next_pause(LONGEST_PAUSE, 1.0, 0.5) == LONGEST_PAUSE
    assert next_pause(LONGEST_PAUSE, SETTLED_AFTER, 0.5) == 0.5


def test_stopping_ends_the_running_process(tmp_path: Path) -> None:
    supervisor = WorkersSupervisor(0.05, [sys.executable, "-c", "import time; time.sleep(60)"])
    supervisor.start()
    until(lambda: supervisor.process is not None, 30)
    supervisor.stop()
    assert supervisor.process is not None and supervisor.process.poll() is not None
    assert supervisor.restarts == 0  # a stop is not an end to restart from


def test_a_child_whose_parent_already_died_ends() -> None:
    """The race PR_SET_PDEATHSIG cannot cover: the parent died before the child asked."""
    code = (
        "from cli.supervise import die_with_parent; import time; die_with_parent(1); time.sleep(30)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == -15
    kept = "import os; from cli.supervise import die_with_parent; die_with_parent(os.getppid())"
    assert subprocess.run([sys.executable, "-c", kept], timeout=60).returncode == 0


def test_one_process_says_when_its_workers_thread_stopped(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    app = create_app(settings, catalog=make_catalog(), run_workers=True)
    with TestClient(app) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["workers"] == "running"
        assert "ledger_workers_running 1.0" in client.get("/metrics").text
        app.state.services.workers.stop()
        stopped = client.get("/readyz")
        assert stopped.status_code == 503
        assert "the projections and policies stopped" in stopped.json()["detail"]
        assert "ledger_workers_running 0.0" in client.get("/metrics").text


@pytest.mark.postgres
def watching(postgres_url: str, tmp_path: Path, group: str, **more: float) -> Settings:
    """Settings of an API process that watches the workers process ``group`` beat."""
    return Settings(
        database_url=postgres_url,
        secret_key="a-test-signing-key-that-is-long-enough-for-hs256",
        mail_dir=tmp_path / "mail",
        documents_dir=tmp_path / "documents",
        watch_workers_process=True,
        workers_group=group,
        **more,  # type: ignore[arg-type]
    )


def test_the_api_follows_a_workers_process_heartbeat(postgres_url: str, tmp_path: Path) -> None:
    settings = watching(postgres_url, tmp_path, "here:1", workers_stale_seconds=3)
    app = create_app(settings, catalog=make_catalog(), run_workers=False)
    with TestClient(app) as client:
        waiting = client.get("/readyz")
        assert waiting.status_code == 503
        assert "the workers process has not started yet" in waiting.json()["detail"]
        heartbeat = Heartbeat(app.state.services.store, "here:1", restarts=2)
        heartbeat.start()
        until(lambda: client.get("/readyz").status_code == 200)
        time.sleep(4)  # longer than the stale bound: the beats go on
        assert client.get("/readyz").status_code == 200
        metrics = client.get("/metrics").text
        assert "ledger_workers_restarts_total 2.0" in metrics
        assert "ledger_workers_running 1.0" in metrics
        heartbeat.stop()
        gone = until(lambda: client.get("/readyz").json().get("detail"))
        assert "the workers process is not running (last seen" in gone
        assert "ledger_workers_running 0.0" in client.get("/metrics").text


def test_a_workers_process_whose_first_beat_failed_is_seen_at_its_next(
    postgres_url: str, tmp_path: Path
) -> None:
    """The first beat records the process's row; when it fails (the database blinked), the
    next beat records it instead of updating a row that is not there (which would leave
    /readyz saying "not started yet" for as long as the process lives)."""
    settings = watching(postgres_url, tmp_path, "blink:1")
    app = create_app(settings, catalog=make_catalog(), run_workers=False)
    with TestClient(app) as client:
        store = app.state.services.store
        heartbeat = Heartbeat(store, "blink:1", restarts=0)
        with store.transaction(commit=True) as tx:  # the first beat fails: no table to write
            tx.execute("ALTER TABLE workers_heartbeat RENAME TO workers_heartbeat_away")
        heartbeat.beat(first=True)
        with store.transaction(commit=True) as tx:
            tx.execute("ALTER TABLE workers_heartbeat_away RENAME TO workers_heartbeat")
        heartbeat.beat()
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
