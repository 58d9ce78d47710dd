"""Whether the projections and policies are running, said to ``/readyz`` and ``/metrics``.

In one process (``ledger serve``) the workers are a thread of the API's process: its liveness
is asked directly. Beside the API (``ledger serve --processes N``, or ``ledger workers`` run
by a service manager) they are a process of their own, on PostgreSQL: that process records a
heartbeat, one row of ``workers_heartbeat`` updated every ``BEAT_SECONDS`` by a thread of its
own (not by the rounds: a long catch-up is not a dead process), with its pid and how many
times ``ledger serve`` restarted it. The API's processes read that row; a row older than
``LEDGER_WORKERS_STALE_SECONDS`` says the workers process is not running. Times are the
database's, so that no two machines' clocks are compared.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import datetime

from ledger.projections.store import Tx, ViewStore
from ledger.runtime.bootstrap import Services
from ledger.runtime.workers import Workers
from ledger.service.settings import Settings
from ledger.store.outage import unreachable
from ledger.store.schema import schema_lock

log = logging.getLogger("ledger.workers")
BEAT_SECONDS = 1.0
"""How often the workers process says it is alive: one UPDATE of one row."""
DDL = (
    "CREATE TABLE IF NOT EXISTS workers_heartbeat (grp TEXT PRIMARY KEY, pid BIGINT NOT NULL, "
    "restarts BIGINT NOT NULL, started_at TIMESTAMPTZ NOT NULL, seen_at TIMESTAMPTZ NOT NULL)"
)
FORGET_AFTER = "7 days"
"""Rows of groups not seen for this long (earlier runs of ``ledger serve``) are deleted."""


def ensure_table(store: ViewStore, settings: Settings) -> None:
    """Create the heartbeat's table (PostgreSQL only), one process at a time."""
    if store.is_postgres:
        with schema_lock(settings.eventsourcing_env()), store.transaction(commit=True) as tx:
            tx.execute(DDL)


def own_group() -> str:
    """The group of a ``ledger workers`` started by hand: this host and this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Heartbeat:
    """The workers process's heartbeat: a thread updating its row every ``BEAT_SECONDS``."""

    def __init__(self, store: ViewStore, group: str, restarts: int) -> None:
        self.store = store
        self.group = group
        self.restarts = restarts
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = ""  # "", or how the failure was told: "said" (outage) or "logged"
        self._started = False  # this process's start is recorded (its row exists)

    def start(self) -> None:
        self.beat(first=True)
        self._thread = threading.Thread(target=self._run, name="ledger-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(BEAT_SECONDS):
            self.beat()

    def beat(self, first: bool = False) -> None:
        """Record that this process is alive (at its start: its pid, restarts and start time
        too, and forget long-gone groups); a failure is logged once, and retried."""
        first = first or not self._started  # until the start is recorded (a failed first beat)
        try:
            with self.store.transaction(commit=True) as tx:
                if first:
                    self._record_start(tx)
                else:
                    tx.execute(
                        "UPDATE workers_heartbeat SET seen_at = now() WHERE grp = ?", (self.group,)
                    )
            self._started = True
        except Exception as error:
            said = unreachable(error)  # a lost database: said once by ledger.store.outage
            if not self._failing and not said:
                log.warning("cannot record the workers' heartbeat (retrying): %s", error)
            self._failing = "said" if said else "logged"
            return
        if self._failing == "logged":
            log.info("the workers' heartbeat is recorded again")
        self._failing = ""

    def _record_start(self, tx: Tx) -> None:
        tx.execute(
            "INSERT INTO workers_heartbeat VALUES (?, ?, ?, now(), now()) ON CONFLICT (grp) DO "
            "UPDATE SET pid = excluded.pid, restarts = excluded.restarts, "
            "started_at = now(), seen_at = now()",
            (self.group, os.getpid(), self.restarts),
        )
        tx.execute(
            f"DELETE FROM workers_heartbeat WHERE seen_at < now() - interval '{FORGET_AFTER}'"
        )


@dataclass(frozen=True)
class Seen:
    """What the API's process knows of the workers: running or not, and since when."""

    running: bool
    restarts: int = 0
    last_seen: datetime | None = None
    age_seconds: float | None = None


class WorkersWatch:
    """The API's view of the workers: a thread of this process (``workers``), a process
    beating in the database (``group``: its own, or None: the freshest of any), or nothing
    to watch (neither: ``ledger serve --no-workers`` without a process to watch)."""

    def __init__(
        self,
        store: ViewStore,
        *,
        workers: Workers | None = None,
        process: bool = False,
        group: str | None = None,
        stale_seconds: float = 5.0,
    ) -> None:
        self.store = store
        self.workers = workers
        self.process = process and store.is_postgres
        self.group = group
        self.stale_seconds = stale_seconds

    @property
    def watched(self) -> bool:
        return self.workers is not None or self.process

    def seen(self) -> Seen:
        """Whether the workers run; raises when the store cannot be read."""
        if self.workers is not None:
            return Seen(running=self.workers.running())
        if not self.process:
            return Seen(running=True)
        where, params = ("grp = ?", (self.group,)) if self.group else ("TRUE", ())
        with self.store.transaction() as tx:
            row = tx.one(
                "SELECT restarts, seen_at, EXTRACT(EPOCH FROM now() - seen_at) AS age "
                f"FROM workers_heartbeat WHERE {where} ORDER BY seen_at DESC LIMIT 1",
                params,
            )
        if row is None:
            return Seen(running=False)
        age = float(row["age"])
        return Seen(age <= self.stale_seconds, int(row["restarts"]), row["seen_at"], age)

    def problem(self) -> str | None:
        """Why the service is not ready on the workers' account, in words; None if it is."""
        seen = self.seen()
        if seen.running:
            return None
        if self.workers is not None:
            return "the projections and policies stopped in this process: restart `ledger serve`"
        if seen.last_seen is None:
            return "the workers process has not started yet (views, policies and e-mails wait)"
        return (
            f"the workers process is not running (last seen {seen.age_seconds:.0f} s ago, at "
            f"{seen.last_seen:%Y-%m-%d %H:%M:%S %Z}): views, policies and e-mails wait; "
            "`ledger serve` restarts it, or start `ledger workers`"
        )


def watch_for(services: Services, run_workers: bool) -> WorkersWatch:
    """What the API built on ``services`` watches: its own workers thread when it runs them,
    else the workers process the settings name (its heartbeat's table made if need be)."""
    settings = services.settings
    if run_workers:
        return WorkersWatch(services.store, workers=services.workers)
    process = settings.watch_workers_process and services.store.is_postgres
    if process:
        ensure_table(services.store, settings)
    return WorkersWatch(
        services.store,
        process=process,
        group=settings.workers_group,
        stale_seconds=settings.workers_stale_seconds,
    )


def heartbeat_for(services: Services, restarts: int) -> Heartbeat | None:
    """The heartbeat of a workers process on ``services`` (None on SQLite, served by one
    process): of the group the settings name, else of this host and process."""
    if not services.store.is_postgres:
        return None
    ensure_table(services.store, services.settings)
    return Heartbeat(services.store, services.settings.workers_group or own_group(), restarts)
