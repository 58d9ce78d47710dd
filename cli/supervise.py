"""How ``ledger serve --processes N`` keeps its process group whole.

- The workers process (``ledger workers``) is watched by a thread of the parent: when it
  ends, it is started again after a pause (``LEDGER_WORKERS_RESTART_SECONDS``) that doubles
  up to ``LONGEST_PAUSE`` while it keeps dying, and starts again from the first once it has run
  for ``SETTLED_AFTER`` seconds. One log line says each restart, with the exit status or
  the signal; the count goes to the new process (``LEDGER_WORKERS_RESTARTS``), whose
  heartbeat shows it in ``/metrics``. It runs in a process group of its own, so that a
  terminal's Ctrl-C stops the parent, which stops it, rather than ending it under the watch.
- Every child dies with the parent, even one killed by SIGKILL: on Linux each child asks the
  kernel for SIGTERM when its parent dies (``prctl(PR_SET_PDEATHSIG)``), and ends at once if
  the parent died before it could ask (its parent is then no longer the one named in
  ``LEDGER_SERVE_PID``). Elsewhere only that second check is made: children started before
  the parent was killed outlive it.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable

log = logging.getLogger("ledger.serve")
PARENT_PID = "LEDGER_SERVE_PID"
RESTARTS = "LEDGER_WORKERS_RESTARTS"
PR_SET_PDEATHSIG = 1
LONGEST_PAUSE = 30.0
SETTLED_AFTER = 60.0
STOP_SECONDS = 20.0
"""How long a stopped workers process may take to end before it is killed."""


def _prctl() -> Callable[..., int] | None:
    """libc's prctl, loaded in the parent (never between fork and exec), on Linux only."""
    if not sys.platform.startswith("linux"):
        return None
    prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    return prctl


PRCTL = _prctl()


def die_with_parent(parent_pid: int | None) -> None:
    """Have this process sent SIGTERM when ``parent_pid`` (its parent) dies; if the parent
    has died already, end now."""
    if parent_pid is None:
        return
    if PRCTL is not None:
        PRCTL(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGTERM)


def parent_from_environment() -> int | None:
    """The pid of the ``ledger serve`` this process was started by, if any."""
    named = os.environ.get(PARENT_PID, "")
    return int(named) if named.isdigit() else None


def restarts_from_environment() -> int:
    """How many times ``ledger serve`` restarted the workers process before this one."""
    named = os.environ.get(RESTARTS, "")
    return int(named) if named.isdigit() else 0


def process_group_environment(workers: bool) -> dict[str, str]:
    """What the parent tells every child: its pid (they die with it), and with a workers
    process, that the API processes watch the one of this group (this host, this parent)."""
    parent = os.getpid()
    if not workers:
        return {PARENT_PID: str(parent)}
    return {
        PARENT_PID: str(parent),
        "LEDGER_WATCH_WORKERS_PROCESS": "true",
        "LEDGER_WORKERS_GROUP": f"{socket.gethostname()}:{parent}",
    }


def how_it_ended(code: int) -> str:
    """A process's end in words: its exit status, or the signal that killed it."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def next_pause(pause: float, ran_for: float, first: float) -> float:
    """The pause before the next restart: ``first`` after a settled run (or the first end),
    else double the last one, at most ``LONGEST_PAUSE``."""
    if ran_for >= SETTLED_AFTER or pause <= 0:
        return first
    return min(LONGEST_PAUSE, max(first, pause * 2))


class WorkersSupervisor:
    """Starts ``ledger workers``, and starts it again whenever it ends until ``stop``."""

    def __init__(self, first_pause: float, command: list[str] | None = None) -> None:
        self.first_pause = first_pause
        self.command = command or [sys.executable, "-m", "cli", "workers"]
        self.restarts = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._watch, name="ledger-supervisor", daemon=True)

    def start(self) -> None:
        """Start the workers process and its watch. The process is started by the watching
        thread, which lives as long as the service: the kernel's death signal follows the
        thread that started a child, not the process."""
        self._thread.start()

    def _spawn(self) -> subprocess.Popen[bytes] | None:
        parent = os.getpid()
        env = {**os.environ, PARENT_PID: str(parent), RESTARTS: str(self.restarts)}
        with self._lock:
            if self._stopping.is_set():
                return None
            self.process = subprocess.Popen(  # its own process group: a terminal's Ctrl-C
                self.command,  # stops the parent, which then stops it (not a restart)
                env=env,
                process_group=0,
                preexec_fn=lambda: _lifeline(parent),
            )
            return self.process

    def _watch(self) -> None:
        pause = 0.0
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                process = self._spawn()
            except Exception:  # said, and tried again after the pause
                log.exception("cannot start the workers process")
                process = None
            if process is None and self._stopping.is_set():
                return
            code = process.wait() if process is not None else 1
            if self._stopping.is_set():
                return
            pause = next_pause(pause, time.monotonic() - started, self.first_pause)
            self.restarts += 1
            log.warning(
                "the workers process (pid %s) ended (%s) after %.0f s; starting it again in "
                "%g s (restart %d)",
                process.pid if process is not None else "-", how_it_ended(code),
                time.monotonic() - started, pause, self.restarts,
            )  # fmt: skip
            self._stopping.wait(pause)

    def stop(self) -> None:
        """Stop watching, then end the workers process (SIGTERM, SIGKILL after a while)."""
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._thread.join(timeout=5)


def _lifeline(parent: int) -> None:
    """In the workers process between fork and exec: SIGTERM when the parent dies, and an
    end at once if it died already. Nothing here allocates or takes a lock."""
    if PRCTL is not None:
        PRCTL(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)
