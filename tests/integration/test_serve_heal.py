"""`ledger serve --processes 2` heals: kill -9 of the workers process, of an API process and
of the parent, each followed by what an operator or a service manager does (nothing, or
start it again). The times measured are printed (pytest -s), not asserted: the bounds
below are only how long a test waits before it fails."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from ledger.domain.access import AccessTokens
from ledger.service.clock import utc_now
from ledger.service.settings import Settings
from testkit.chaos import SECRET, chaos_catalog
from testkit.pgcluster import create_database, free_port
from testkit.processes import alive, children, cmdline, port_free
from testkit.serving import until, wait_healthy
from testkit.workload import PARTNER, claim_body

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
WAIT = 60.0
"""The longest any step is waited for before the test fails (the times seen are seconds)."""


def timed(what: Callable[[], object]) -> float:
    started = time.monotonic()
    until(what, WAIT)
    return time.monotonic() - started


@dataclass
class Group:
    """One ``ledger serve --processes 2`` started as a real process, with its log."""

    env: dict[str, str]
    port: int
    log: Path
    serve: subprocess.Popen[bytes] | None = None
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)
    known: set[int] = field(default_factory=set)
    """Every process of the group seen: those still running at the end are ended (a test
    that failed may have left them)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, terminal: bool = False) -> float:
        """Start it (``terminal``: in a process group of its own, as a shell's foreground
        job is); the seconds until it answered /healthz."""
        began = time.monotonic()
        command = ["serve", "--port", str(self.port), "--processes", "2"]
        with self.log.open("ab") as out:
            self.serve = subprocess.Popen(
                [sys.executable, "-m", "cli", *command],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                process_group=0 if terminal else None,
            )
        self.started.append(self.serve)
        wait_healthy(self.url, self.serve, self.log.read_text, seconds=WAIT)
        return time.monotonic() - began

    @property
    def pid(self) -> int:
        assert self.serve is not None
        return self.serve.pid

    def family(self) -> list[int]:
        """The parent and its children."""
        found = [self.pid, *children(self.pid)]
        self.known.update(found)
        return found

    def workers_pid(self) -> int | None:
        found = [c for c in self.family() if "cli workers" in cmdline(c)]
        return found[0] if found else None

    def api_pids(self) -> list[int]:
        return [c for c in self.family() if "spawn_main" in cmdline(c)]

    def ready(self) -> httpx.Response | None:
        try:
            answer = httpx.get(f"{self.url}/readyz", timeout=5)
        except httpx.TransportError:
            return None
        return answer if answer.status_code == 200 else None

    def not_ready(self) -> str | None:
        answer = httpx.get(f"{self.url}/readyz", timeout=5)
        return str(answer.json()["detail"]) if answer.status_code == 503 else None

    def caught_up(self) -> bool:
        answer = self.ready()
        return answer is not None and answer.json()["checks"]["projection_lag_events"] == 0

    def metrics(self) -> str:
        return httpx.get(f"{self.url}/metrics", timeout=5).text

    def stop(self) -> None:
        for process in self.started:
            if process.poll() is None:
                self.family()
                process.terminate()
                process.wait(timeout=30)
        for pid in self.known:  # still running, and still ours (not a pid used again)
            if alive(pid) and any(mark in cmdline(pid) for mark in ("-m cli", "spawn_main")):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def group(postgres_server: str, tmp_path: Path) -> Iterator[Group]:
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": create_database(postgres_server),
        "LEDGER_SECRET_KEY": SECRET,
        "LEDGER_CATALOG": str(chaos_catalog(tmp_path, 100)),
        "LEDGER_WORKERS_STALE_SECONDS": "2",  # twice the beat: a loaded machine does not flap
    }
    started = Group(env, free_port(), tmp_path / "serve.log")
    try:
        yield started
    finally:
        started.stop()
    assert "Traceback" not in started.log.read_text(), started.log.read_text()


def post_claims(url: str, numbers: range) -> list[str]:
    """Add a claim for each customer number; their ids."""
    token = AccessTokens(Settings(secret_key=SECRET).signing_key()).mint(
        PARTNER, timedelta(hours=1), utc_now()
    )
    made = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
        for i in numbers:
            answer = client.post("/v1/claims", json=claim_body(i), timeout=30)
            assert answer.status_code == 201, answer.text
            made.append(answer.json()["claims"][0]["claim_id"])
    return made


def read_claims(url: str, claim_ids: list[str]) -> None:
    """Every claim shows in the views (read without waiting on a position)."""
    token = AccessTokens(Settings(secret_key=SECRET).signing_key()).mint(
        PARTNER, timedelta(hours=1), utc_now()
    )
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
        for claim_id in claim_ids:
            assert client.get(f"/v1/claims/{claim_id}").status_code == 200, claim_id


def test_a_killed_workers_process_is_said_and_restarted(group: Group) -> None:
    group.env["LEDGER_WORKERS_RESTART_SECONDS"] = "8"  # long enough to be seen, and written to
    group.start()
    until(group.ready, WAIT)
    killed = group.workers_pid()
    assert killed is not None
    os.kill(killed, signal.SIGKILL)
    said = timed(lambda: (group.not_ready() or "").startswith("the workers process is not"))
    written = post_claims(group.url, range(15))  # while the workers process is down
    assert "the workers process is not running (last seen" in (group.not_ready() or "")
    restarted = timed(lambda: group.workers_pid() not in (None, killed) and group.caught_up())
    read_claims(group.url, written)
    log = group.log.read_text()
    assert f"the workers process (pid {killed}) ended (killed by SIGKILL)" in log, log
    assert "ledger_workers_restarts_total 1.0" in group.metrics()
    assert "ledger_workers_running 1.0" in group.metrics()
    print(f"\nworkers kill -9: /readyz said so {said:.1f} s, restarted and caught up "
          f"{said + restarted:.1f} s after the kill (restart pause 8 s)")  # fmt: skip


def test_a_killed_api_process_leaves_the_port_served(group: Group) -> None:
    group.start()
    until(lambda: len(group.api_pids()) == 2, WAIT)
    killed = group.api_pids()[0]
    os.kill(killed, signal.SIGKILL)
    for _ in range(50):  # each on a new connection: the other process answers
        assert httpx.get(f"{group.url}/healthz", timeout=10).status_code == 200
    replaced = timed(lambda: len(group.api_pids()) == 2 and killed not in group.api_pids())
    read_claims(group.url, post_claims(group.url, range(5)))
    print(f"\nAPI process kill -9: replaced within {replaced:.1f} s, the port served throughout")


def test_a_killed_parent_takes_its_children_and_a_new_serve_starts(group: Group) -> None:
    group.env["LEDGER_WORKERS_RESTART_SECONDS"] = "30"  # the workers stay down till the end
    first_start = group.start()
    until(lambda: group.workers_pid() and len(group.api_pids()) == 2, WAIT)
    os.kill(group.workers_pid() or 0, signal.SIGKILL)
    written = post_claims(group.url, range(30))  # the views do not show these yet
    family = group.family()
    os.kill(group.pid, signal.SIGKILL)
    gone = timed(lambda: not any(alive(pid) for pid in family) and port_free(group.port))
    group.env["LEDGER_WORKERS_RESTART_SECONDS"] = "0.5"
    started = time.monotonic()
    first_200 = group.start()  # what a service manager does: start it again, on the same port
    until(group.caught_up, WAIT)
    caught_up = time.monotonic() - started
    read_claims(group.url, written)
    print(f"\nparent kill -9: children gone, port free within {gone:.1f} s; the new serve "
          f"answered in {first_200:.1f} s (the first: {first_start:.1f} s), views caught up in "
          f"{caught_up:.1f} s")  # fmt: skip


def test_ctrl_c_stops_the_whole_group_without_a_restart(group: Group) -> None:
    """A terminal's Ctrl-C goes to its foreground job's process group: the parent stops the
    workers process, which is in a group of its own and so is not counted as having died."""
    group.start(terminal=True)
    until(lambda: group.workers_pid() and len(group.api_pids()) == 2, WAIT)
    family = group.family()
    workers = group.workers_pid() or 0
    assert os.getpgid(workers) != os.getpgid(group.pid)  # the Ctrl-C below cannot reach it
    os.killpg(group.pid, signal.SIGINT)
    assert group.serve is not None and group.serve.wait(timeout=WAIT) == 0
    until(lambda: not any(alive(pid) for pid in family), WAIT)
    log = group.log.read_text()
    assert "starting it again" not in log, log
    assert "stopped: the 2 API processes and the workers process have ended" in log, log
