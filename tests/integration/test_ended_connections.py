"""A connection whose backend the server ended is not a lost database (``ledger.store.outage``).

An administrator's ``pg_terminate_backend`` or ``idle_session_timeout`` ends backends while
their connections idle in the pool: the next command is handed a live connection, not a 503,
and the process says nothing about an outage. A backend ended during a statement fails that
statement alone when a new connection answers. A stopped server is still an outage (the tests
of ``test_outage.py``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.domain.access import AccessTokens
from ledger.runtime.bootstrap import Services, bootstrap
from ledger.service.clock import utc_now
from ledger.service.settings import Settings
from ledger.store.outage import (
    CommitUnknownError,
    backend_ended,
    ended_while_idle,
    unreachable,
)
from testkit.chaos import SECRET
from testkit.pgcluster import create_database
from testkit.serving import until
from testkit.workload import PARTNER
from tests.factories import ADMIN_A, NORTHWIND, create, days, make_catalog
from tests.integration.test_outage import Load, serve

pytestmark = [pytest.mark.postgres]

OTHERS = (
    "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "AND backend_type = 'client backend' {also}"
)
"""Ends every other backend of the database (waiting up to 5 s for each to go)."""
INSERT_WAITING = "AND query LIKE '%INSERT INTO%ledger_events%' AND wait_event_type = 'Lock'"
"""Of those, the one inserting events, waiting for a lock."""


@pytest.fixture
def services(pg_settings: Settings) -> Iterator[Services]:
    opened = bootstrap(pg_settings, catalog=make_catalog())
    yield opened
    opened.close()


def end_backends(url: str, also: str = "") -> int:
    """End the database's other backends (those ``also`` picks among them); how many."""
    with psycopg.connect(url, autocommit=True) as admin:
        return len(admin.execute(OTHERS.format(also=also)).fetchall())


def said_unreachable(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "ledger.database" and "unreachable" in record.getMessage()
    ]


def test_backends_ended_while_idle_are_replaced_not_an_outage(
    services: Services, pg_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = services.ledger
    ledger.create_claims(ADMIN_A, create(), days(0))
    services.workers.run_once()  # the view store's pool holds connections too
    assert end_backends(pg_settings.database_url) >= 2
    with caplog.at_level(logging.WARNING, logger="ledger.database"):
        made = ledger.create_claims(
            ADMIN_A, create(value=NORTHWIND, customer_email="it@northwind.com"), days(1)
        )
        assert services.workers.run_once() > 0
        assert ledger.recorder.max_notification_id() is not None
    assert len(made) == 1
    assert said_unreachable(caplog) == []


def test_idle_session_timeout_is_not_an_outage(
    pg_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with psycopg.connect(pg_settings.database_url, autocommit=True) as admin:
        name = admin.info.dbname
        admin.execute(f"ALTER DATABASE \"{name}\" SET idle_session_timeout = '300ms'")
    opened = bootstrap(pg_settings, catalog=make_catalog())
    try:
        opened.ledger.create_claims(ADMIN_A, create(), days(0))
        time.sleep(0.8)  # every idle connection's backend has ended
        with caplog.at_level(logging.WARNING, logger="ledger.database"):
            opened.ledger.create_claims(
                ADMIN_A, create(value=NORTHWIND, customer_email="it@northwind.com"), days(1)
            )
            assert opened.workers.run_once() > 0
        assert said_unreachable(caplog) == []
        pool = getattr(opened.ledger.recorder, "datastore").pool  # noqa: B009
        assert pool.get_stats().get("returns_bad", 0) > 0  # ended ones were found, and dropped
    finally:
        opened.close()


def test_a_backend_ended_during_a_statement_fails_that_statement_alone(
    services: Services, pg_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    datastore: Any = getattr(services.ledger.recorder, "datastore")  # noqa: B009
    failed: list[BaseException] = []

    def sleep_in_the_database() -> None:
        try:
            with datastore.get_connection() as connection:
                connection.execute("SELECT pg_sleep(30)")
        except Exception as error:
            failed.append(error)

    sleeper = threading.Thread(target=sleep_in_the_database)
    with caplog.at_level(logging.WARNING, logger="ledger.database"):
        sleeper.start()
        deadline = time.monotonic() + 10
        while not end_backends(pg_settings.database_url, "AND query LIKE 'SELECT pg_sleep%'"):
            assert time.monotonic() < deadline, "the statement never started"
            time.sleep(0.05)
        sleeper.join(10)
        (error,) = failed
        assert unreachable(error) and backend_ended(error), repr(error)
        services.ledger.create_claims(ADMIN_A, create(), days(0))  # no 503: not an outage
    assert said_unreachable(caplog) == []


def test_a_save_whose_backend_ends_midway_is_not_sent_again(
    services: Services, pg_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """A save's statement loses its connection (its backend ended as it waited on a lock):
    whether it committed is not known, so it is not tried again (a second try would be
    refused as a lost race if the first had committed); the command is answered 503 and,
    sent again, is made."""
    url = pg_settings.database_url
    failed: list[BaseException] = []

    def claim() -> None:
        try:
            services.ledger.create_claims(ADMIN_A, create(), days(0))
        except Exception as error:
            failed.append(error)

    with caplog.at_level(logging.WARNING, logger="ledger.database"):
        with psycopg.connect(url) as holding:
            holding.execute("LOCK TABLE ledger_events IN SHARE MODE")  # the INSERT waits
            saving = threading.Thread(target=claim)
            saving.start()
            deadline = time.monotonic() + 10
            while not end_backends(url, INSERT_WAITING):
                assert time.monotonic() < deadline, "the save never reached its insert"
                time.sleep(0.05)
            saving.join(10)
            assert not saving.is_alive(), "the save was tried again, and waits on the lock"
        (error,) = failed
        assert isinstance(error, CommitUnknownError) and unreachable(error), repr(error)
        assert len(services.ledger.create_claims(ADMIN_A, create(), days(0))) == 1
    assert said_unreachable(caplog) == []


def test_a_connection_idle_and_sound_is_kept_and_one_ended_is_not(pg_settings: Settings) -> None:
    url = pg_settings.database_url
    with psycopg.connect(url, autocommit=True) as idle, psycopg.connect(url) as admin:
        assert not ended_while_idle(idle)
        pid = idle.info.backend_pid
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
        assert ended_while_idle(idle)
        with pytest.raises(psycopg.OperationalError):
            idle.execute("SELECT 1")


ENDINGS = 5
"""How many times the served test ends every backend of its database."""


@pytest.mark.slow
def test_a_served_process_under_load_answers_through_backends_ended(
    postgres_server: str, tmp_path: Path
) -> None:
    """``ledger serve`` under load while every backend of its database is ended, again and
    again: only a request in flight at an ending may be answered 503 (a statement of a read,
    which nothing tries again); every request sent after an ending is answered as usual, and
    the process says nothing of an outage."""
    database = create_database(postgres_server)
    processes, url = serve(database, tmp_path, apart=False)
    token = AccessTokens(Settings(secret_key=SECRET).signing_key()).mint(
        PARTNER, timedelta(hours=1), utc_now()
    )
    load = Load(url, {"Authorization": f"Bearer {token}"})
    roles = [load.claimer] * 2 + [load.reader] * 2 + [load.prober]
    threads = [threading.Thread(target=role, daemon=True) for role in roles]
    endings: list[tuple[float, float]] = []
    try:
        for thread in threads:
            thread.start()
        until(lambda: len(load.acknowledged) >= 10, seconds=60)
        for _ in range(ENDINGS):
            began = time.monotonic()
            assert end_backends(database) > 0
            endings.append((began, time.monotonic()))
            time.sleep(0.4)
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(timeout=30)
        for process, _ in processes:
            process.terminate()
            process.wait(timeout=30)
    answers = load.answers
    print(f"\n{len(answers)} answers, {sum(a.status == 503 for a in answers)} of them 503")
    assert [a for a in answers if a.status not in (200, 201, 503)] == []
    after_each = [a for a in answers if any(a.started > ended for _, ended in endings)]
    assert len(after_each) > 20 * ENDINGS  # the load went on
    in_flight = [
        a
        for a in answers
        if a.status == 503
        and not any(a.started <= ended and began <= a.ended for began, ended in endings)
    ]
    assert in_flight == [], in_flight
    said = processes[0][1].read_text()
    assert "unreachable" not in said and "Traceback" not in said, said
