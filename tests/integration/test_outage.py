"""PostgreSQL stopped (`pg_ctl stop -m immediate`) under load and started again, under a real
`ledger serve`: 503 problem+json with Retry-After meanwhile (never a 500, never a hang),
/readyz 503 then 200, one log line for the outage and one for its end, and nothing that was
acknowledged lost."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest

from ledger.aggregates.claim import Claim
from ledger.domain.access import AccessTokens
from ledger.runtime.bootstrap import bootstrap
from ledger.service.clock import utc_now
from ledger.service.settings import Settings
from ledger.store.outage import OUTAGE_ERRORS, DatabaseUnavailableError, unreachable
from ledger.store.personal import ERASURES_TTL_SECONDS
from testkit.chaos import SECRET, chaos_catalog
from testkit.pgcluster import _bindir, _run, create_database, free_port
from testkit.serving import until, wait_healthy
from testkit.views import view_snapshot
from testkit.workload import PARTNER, bench_catalog, claim_body
from tests.factories import ADMIN_A, create, days, make_catalog

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
TIMEOUT_SECONDS = 2
"""LEDGER_DATABASE_TIMEOUT_SECONDS of the service under test."""
CLIENT_TIMEOUT_SECONDS = 5.0
"""The clients' timeout: a request that takes this long fails the test. The service waits
about TIMEOUT_SECONDS for the database once per request (2.3 s at most seen in ten runs);
callers made to wait in turn would take a multiple of it (6 s seen)."""
CUSTOMERS = 2000
OUTAGE_SECONDS = 6.0


class Cluster:
    """A throwaway PostgreSQL cluster that can be stopped and started again on its port."""

    def __init__(self, base: Path) -> None:
        self.bindir, self.base, self.port = _bindir(), base, free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(base, "postgres")
        initdb = [str(self.bindir / "initdb"), "-D", str(base / "data"), "-U", "ledger"]
        _run([*initdb, "-A", "trust", "-E", "UTF8"], self.as_postgres)
        self.url = f"postgresql://ledger@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str) -> None:
        _run([str(self.bindir / "pg_ctl"), "-D", str(self.base / "data"), *args], self.as_postgres)

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"  # the machine does not crash: only PostgreSQL
        )
        self.pg_ctl("-o", options, "-l", str(self.base / "log"), "-w", "start")

    def stop(self) -> None:
        self.pg_ctl("-m", "immediate", "stop")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    base = Path(tempfile.mkdtemp(prefix="ledger-outage-"))
    try:
        started = Cluster(base)
        started.start()
        try:
            yield started
        finally:
            subprocess.run(  # stopped already, or not: either way no server is left
                [str(started.bindir / "pg_ctl"), "-D", str(base / "data"), "status"],
                capture_output=True,
            )
            if (base / "data" / "postmaster.pid").exists():
                started.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class Answer:
    kind: str
    started: float
    ended: float
    status: int | None  # None: no answer (a transport error, named in ``error``)
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    error: str = ""


@dataclass
class Load:
    """Clients that read and claim until stopped, each answer kept with its times."""

    url: str
    headers: dict[str, str]
    answers: list[Answer] = field(default_factory=list)
    acknowledged: dict[str, UUID] = field(default_factory=dict)
    """Idempotency-Key -> the claim the service said it made (201)."""
    unanswered: dict[str, int] = field(default_factory=dict)
    """Idempotency-Key -> the customer of a claim answered 503 (to be sent again)."""
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    next_customer: int = 0

    def send(self, client: httpx.Client, kind: str, method: str, path: str, **kw: object) -> Answer:
        started = time.monotonic()
        try:
            got = client.request(method, path, **kw)  # type: ignore[arg-type]
            answer = Answer(kind, started, time.monotonic(), got.status_code, dict(got.headers))
            answer.body = got.text
        except httpx.TransportError as error:
            answer = Answer(kind, started, time.monotonic(), None, error=repr(error))
        with self.lock:
            self.answers.append(answer)
        return answer

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=CLIENT_TIMEOUT_SECONDS)

    def claimer(self) -> None:
        with httpx.Client(
            base_url=self.url, headers=self.headers, timeout=CLIENT_TIMEOUT_SECONDS
        ) as c:
            while not self.stop.is_set():
                with self.lock:
                    customer, self.next_customer = self.next_customer, self.next_customer + 1
                key = str(uuid4())
                self.claim(c, key, customer)

    def claim(self, client: httpx.Client, key: str, customer: int) -> Answer:
        answer = self.send(
            client, "claim", "POST", "/v1/claims",
            json=claim_body(customer), headers={"Idempotency-Key": key},
        )  # fmt: skip
        with self.lock:
            if answer.status in (200, 201):  # 200: sent again, and made before
                self.acknowledged[key] = UUID(json.loads(answer.body)["claims"][0]["claim_id"])
                self.unanswered.pop(key, None)
            elif answer.status == 503:
                self.unanswered[key] = customer
        return answer

    def reader(self) -> None:
        with httpx.Client(
            base_url=self.url, headers=self.headers, timeout=CLIENT_TIMEOUT_SECONDS
        ) as c:
            while not self.stop.is_set():
                self.send(c, "read", "GET", "/v1/claims", params={"limit": 20})

    def answered_after(self, kind: str, status: int, moment: float) -> bool:
        with self.lock:
            return any(
                a.kind == kind and a.status == status and a.started >= moment for a in self.answers
            )

    def page_reader(self) -> None:
        """A browser with a session cookie (the session is looked up in the database),
        reading in Portuguese: sent to sign in (303) or told the service is unavailable."""
        with httpx.Client(base_url=self.url, timeout=CLIENT_TIMEOUT_SECONDS) as c:
            c.cookies.set("ledger_session", "not-a-session")
            while not self.stop.is_set():
                self.send(c, "page", "GET", "/claims", headers={"Accept-Language": "pt-BR"})
                time.sleep(0.05)

    def prober(self) -> None:
        with httpx.Client(base_url=self.url, timeout=CLIENT_TIMEOUT_SECONDS) as c:
            while not self.stop.is_set():
                self.send(c, "readyz", "GET", "/readyz")
                time.sleep(0.1)


def serve(
    database_url: str, folder: Path, apart: bool
) -> tuple[list[tuple[subprocess.Popen[bytes], Path]], str]:
    """``ledger serve`` with the workers inside, or (``apart``) without them and one
    ``ledger workers`` process beside it, as ``--processes N`` runs them; each process with
    its log."""
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": database_url,
        "LEDGER_SECRET_KEY": SECRET,
        "LEDGER_CATALOG": str(chaos_catalog(folder, CUSTOMERS)),
        "LEDGER_DATABASE_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
    }
    port = free_port()
    commands = {"serve": ["serve", "--port", str(port)]}
    if apart:
        commands = {"serve": [*commands["serve"], "--no-workers"], "workers": ["workers"]}
    started = []
    for name, command in commands.items():
        log = folder / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "cli", *command],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        started.append((process, log))
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, started[0][0], started[0][1].read_text, seconds=60)
    return started, url


@pytest.mark.parametrize("apart", [False, True], ids=["workers-inside", "workers-apart"])
def test_postgres_stopped_and_started_again_under_load(
    cluster: Cluster, tmp_path: Path, apart: bool
) -> None:
    database = create_database(cluster.url)
    processes, url = serve(database, tmp_path, apart)
    token = AccessTokens(Settings(secret_key=SECRET).signing_key()).mint(
        PARTNER, timedelta(hours=1), utc_now()
    )
    load = Load(url, {"Authorization": f"Bearer {token}"})
    try:
        stopped, restarted = outage_under_load(cluster, load)
        sent_again = dict(load.unanswered)
        with load.client() as c:
            for key, customer in sent_again.items():  # the same Idempotency-Key: not twice
                again = load.claim(c, key, customer)
                assert again.status in (200, 201), again.body
    finally:
        for process, _ in processes:
            process.terminate()
            process.wait(timeout=30)
    report(load.answers, stopped, restarted)
    check_answers(load.answers, stopped, restarted)
    for _, log in processes:  # each process says it once
        check_log(log.read_text())
    check_store(database, load.acknowledged)


def outage_under_load(cluster: Cluster, load: Load) -> tuple[float, float]:
    """Stop PostgreSQL while the clients run, start it again, and wait until each kind of
    request succeeds again; when it was stopped and when started (``time.monotonic``)."""
    roles = [load.claimer] * 3 + [load.reader] * 3 + [load.page_reader, load.prober]
    threads = [threading.Thread(target=role, daemon=True) for role in roles]
    try:
        for thread in threads:
            thread.start()
        until(lambda: len(load.acknowledged) >= 10, seconds=60)
        stopped = time.monotonic()
        cluster.stop()
        time.sleep(OUTAGE_SECONDS)
        restarted = time.monotonic()
        cluster.start()
        until(lambda: load.answered_after("read", 200, restarted), seconds=60)
        until(lambda: load.answered_after("readyz", 200, restarted), seconds=60)
        until(lambda: load.answered_after("claim", 201, restarted), seconds=60)
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(timeout=30)
    return stopped, restarted


def report(answers: list[Answer], stopped: float, restarted: float) -> None:
    """The numbers of the outage (printed, not asserted: the machine is shared)."""
    first_503 = min(a.ended for a in answers if a.status == 503) - stopped
    during = [a.ended - a.started for a in answers if stopped <= a.started < restarted]
    first_200 = min(
        a.ended for a in answers if a.kind == "read" and a.status == 200 and a.started >= restarted
    )
    print(
        f"\noutage: first 503 {first_503:.2f} s after pg_ctl stop; {len(during)} requests "
        f"during the outage, the longest {max(during):.2f} s; first 200 "
        f"{first_200 - restarted:.2f} s after pg_ctl start"
    )


def check_answers(answers: list[Answer], stopped: float, restarted: float) -> None:
    """503 problem+json with Retry-After while the database was away, never a 500 or a
    transport error, and 503s of each kind indeed seen."""
    assert [a for a in answers if a.status is None] == []
    assert [a.body for a in answers if a.status not in (200, 201, 303, 503)] == []
    unavailable = [a for a in answers if a.status == 503]
    for answer in unavailable:
        assert int(answer.headers["retry-after"]) >= 1, answer.headers
        if answer.kind == "page":
            assert answer.headers["content-type"].startswith("text/html"), answer.body
            assert "O serviço está indisponível por alguns instantes" in answer.body
            continue
        assert answer.headers["content-type"] == "application/problem+json", answer.body
        slug = json.loads(answer.body)["type"].rsplit("/", 1)[1]
        assert slug == ("not-ready" if answer.kind == "readyz" else "database-unavailable")
    assert {a.kind for a in unavailable} == {"claim", "read", "readyz", "page"}
    assert all(stopped <= a.ended for a in unavailable)
    ready_after = [a.status for a in answers if a.kind == "readyz" and a.started >= restarted]
    assert ready_after[-1] == 200


def check_log(said: str) -> None:
    """One line when the database is lost and one when it is back; no traceback."""
    assert "Traceback" not in said, said
    assert said.count("the database is unreachable") == 1, said
    assert said.count("the database is reachable again") == 1, said


def check_store(database: str, acknowledged: dict[str, UUID]) -> None:
    """Every claim acknowledged is in the log once and in the views, which equal a replay;
    the log holds no claim that was not acknowledged."""
    services = bootstrap(
        Settings(database_url=database, secret_key=SECRET), catalog=bench_catalog(CUSTOMERS)
    )
    try:
        made: list[UUID] = []
        for page in services.ledger.notification_pages():
            for notification in page:
                event = services.ledger.mapper.to_domain_event(notification)
                if isinstance(event, Claim.Added | Claim.Claimed):
                    made.append(event.originator_id)
        told = set(acknowledged.values())
        assert len(made) == len(set(made)), "a claim made twice"
        assert set(made) == told, f"lost {told - set(made)}, never acknowledged {set(made) - told}"
        services.workers.views.catch_up()
        live = view_snapshot(services.workers)
        assert {UUID(row["claim_id"]) for row in live["claims"]} == set(made)
        services.workers.views.replay()
        assert view_snapshot(services.workers) == live
    finally:
        services.close()


def test_a_contact_sealed_while_the_database_is_lost_is_a_lost_database(cluster: Cluster) -> None:
    """Sealing a contact while its event is serialised, inside pydantic (whose error keeps
    only words), looks at the database: at the erasures, when its last look is over a
    second old, and at the contact's key when a save refused a new one. The database's own
    error comes out (a 503 to the API, one line in the log), not pydantic's (a 500 and a
    traceback)."""
    url = create_database(cluster.url)
    settings = Settings(database_url=url, secret_key=SECRET, database_timeout_seconds=1)
    first = bootstrap(settings, catalog=make_catalog())
    first.ledger.create_claims(ADMIN_A, create(), days(0))
    first.close()
    services = bootstrap(settings, catalog=make_catalog())  # no contact's key in memory yet
    try:
        (claimed,) = [
            event
            for page in services.ledger.notification_pages()
            for event in map(services.ledger.mapper.to_domain_event, page)
            if isinstance(event, Claim.Added)
        ]
        cluster.stop()
        time.sleep(ERASURES_TTL_SECONDS)  # the next seal looks at the erasures
        with pytest.raises(OUTAGE_ERRORS) as raised:  # not PydanticSerializationError
            services.ledger.mapper.to_stored_event(claimed)
        assert unreachable(raised.value), repr(raised.value)
    finally:
        services.close()


def test_a_lone_caller_waits_for_the_pool_once_then_recovers(cluster: Cluster) -> None:
    """A call on a lost database ends in DatabaseUnavailableError, which the library does
    not retry (its own OperationalError it retries ten times, each retry a whole wait for the
    pool); once PostgreSQL is back, the same services work again."""
    url = create_database(cluster.url)
    settings = Settings(database_url=url, secret_key=SECRET, database_timeout_seconds=1)
    services = bootstrap(settings, catalog=make_catalog())
    try:
        recorder = services.ledger.recorder
        assert recorder.max_notification_id() is None  # the pool holds live connections
        cluster.stop()
        with pytest.raises(DatabaseUnavailableError):
            recorder.max_notification_id()
        cluster.start()
        until(lambda: answers(recorder.max_notification_id), seconds=60)
    finally:
        services.close()


def test_a_server_shut_down_cleanly_is_said_lost_at_once(cluster: Cluster) -> None:
    """``pg_ctl stop -m fast`` ends every backend, each saying so on its idle connection:
    the first caller drops them, finds a new connection refused too, and is told the
    database is lost at once, without waiting in the pool for a connection it cannot make."""
    url = create_database(cluster.url)
    settings = Settings(database_url=url, secret_key=SECRET, database_timeout_seconds=5)
    services = bootstrap(settings, catalog=make_catalog())
    try:
        recorder: Any = services.ledger.recorder
        assert recorder.max_notification_id() is None  # the pool holds live connections
        recorder.datastore.pool.pop_stats()
        cluster.pg_ctl("-m", "fast", "stop")
        with pytest.raises(DatabaseUnavailableError):
            recorder.max_notification_id()
        assert recorder.datastore.pool.get_stats().get("requests_queued", 0) == 0
    finally:
        services.close()


def answers(call: Callable[[], object]) -> bool:
    """Whether ``call`` returns, rather than raising that the database is out of reach."""
    try:
        call()
    except OUTAGE_ERRORS:
        return False
    return True
