"""PostgreSQL stopping one transaction for another's: never at start-up, and a 503 to retry.

A process that starts while another applies pages of the views took, in one transaction, a
SHARE lock on every view table (``CREATE INDEX IF NOT EXISTS`` takes it even when the index
exists) while the other held row locks on them in another order: PostgreSQL broke the
deadlock by failing one, and a request answered 500. A store's tables that exist are now left
alone, and a request PostgreSQL stops that way anyway is answered 503 ``database-busy``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from ledger.projections.store import ViewStore
from ledger.service.settings import Settings
from tests.api.client import Api, make_api
from tests.conftest import Clock

OPENED_WITHIN_SECONDS = 60.0
"""Far longer than opening a store takes; without the fix it waits for the holder forever."""


def tables_and_indexes(url: str) -> tuple[list[str], list[str]]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() "
            "AND c.relkind IN ('r', 'i')"
        ).fetchall()
    return [n for n, kind in rows if kind == "r"], [n for n, kind in rows if kind == "i"]


def open_beside(url: str, settings: Settings) -> tuple[bool, list[BaseException]]:
    """Open a view store while another session holds ROW EXCLUSIVE on every table (what a
    page of the views being applied holds): whether it opened, and what it raised."""
    tables, _ = tables_and_indexes(url)
    raised: list[BaseException] = []

    def open_store() -> None:
        try:
            ViewStore.open(settings.eventsourcing_env()).close()
        except BaseException as error:  # reported to the test
            raised.append(error)

    with psycopg.connect(url) as holder:
        for table in tables:
            holder.execute(f'LOCK TABLE "{table}" IN ROW EXCLUSIVE MODE')
        opener = threading.Thread(target=open_store, daemon=True)
        opener.start()
        opener.join(OPENED_WITHIN_SECONDS)
        opened = not opener.is_alive()
        holder.rollback()  # let a waiting opener go, so that it ends
    opener.join()
    return opened, raised


def test_a_store_opening_beside_a_page_being_applied_waits_for_no_table(
    pg_settings: Settings, postgres_url: str
) -> None:
    ViewStore.open(pg_settings.eventsourcing_env()).close()  # the first process made them
    opened, raised = open_beside(postgres_url, pg_settings)
    assert (opened, raised) == (True, [])


def test_a_table_or_index_that_is_missing_is_still_made(
    pg_settings: Settings, postgres_url: str
) -> None:
    ViewStore.open(pg_settings.eventsourcing_env()).close()
    tables, indexes = tables_and_indexes(postgres_url)
    assert {"v1_claims", "web_sessions"} <= set(tables)
    assert {"v1_claims_page", "web_sessions_expiry"} <= set(indexes)
    with psycopg.connect(postgres_url) as connection:
        connection.execute("DROP INDEX v1_claims_page")
        connection.execute("DROP INDEX web_sessions_expiry")
        connection.execute("DROP TABLE v1_history")
    ViewStore.open(pg_settings.eventsourcing_env()).close()
    made_again = tables_and_indexes(postgres_url)
    assert (sorted(made_again[0]), sorted(made_again[1])) == (sorted(tables), sorted(indexes))


# -- a request PostgreSQL stops: 503 database-busy ----------------------------------------------


def a_real_deadlock(url: str) -> psycopg.Error:
    """Two sessions update two rows in opposite orders; PostgreSQL fails one of them."""
    with psycopg.connect(url, autocommit=True) as setup:
        setup.execute("CREATE TABLE seats (seat INT PRIMARY KEY, taken INT NOT NULL)")
        setup.execute("INSERT INTO seats VALUES (1, 0), (2, 0)")
    failures: list[psycopg.Error] = []
    both_hold_one = threading.Barrier(2)

    def take(first: int, second: int) -> None:
        with psycopg.connect(url) as connection:
            try:
                connection.execute("UPDATE seats SET taken = 1 WHERE seat = %s", (first,))
                both_hold_one.wait()
                connection.execute("UPDATE seats SET taken = 1 WHERE seat = %s", (second,))
            except psycopg.Error as error:
                failures.append(error)

    sessions = [threading.Thread(target=take, args=order) for order in ((1, 2), (2, 1))]
    for session in sessions:
        session.start()
    for session in sessions:
        session.join()
    [failure] = failures
    assert failure.sqlstate == "40P01"
    return failure


@pytest.fixture
def pg_api(pg_settings: Settings, clock: Clock) -> Iterator[Api]:
    yield from make_api(pg_settings, clock)


@pytest.fixture
def deadlocked(postgres_url: str) -> OperationalError:
    """The library's wrapper of a real deadlock, as a read raises it."""
    try:
        raise OperationalError("deadlock detected") from a_real_deadlock(postgres_url)
    except OperationalError as error:
        return error


def test_a_request_postgres_stops_for_another_is_503_database_busy(
    pg_api: Api, deadlocked: OperationalError, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stopped(*args: Any, **kwargs: Any) -> Any:
        raise deadlocked

    pg_api.settle()
    monkeypatch.setattr(pg_api.services.read_models.claims, "search", stopped)
    for language, words in (("en", "Send it again"), ("pt-BR", "Envie-o de novo")):
        answer = pg_api.get("/v1/claims", settle=False, headers={"Accept-Language": language})
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "1"
        problem = answer.json()
        assert problem["type"].endswith("/database-busy")
        assert words in problem["detail"]
    monkeypatch.undo()
    assert pg_api.get("/v1/claims", settle=False).status_code == 200


def test_a_page_postgres_stops_for_another_says_so_in_the_readers_language(
    pg_api: Api, deadlocked: OperationalError, monkeypatch: pytest.MonkeyPatch
) -> None:
    def stopped(*args: Any, **kwargs: Any) -> Any:
        raise deadlocked

    monkeypatch.setattr(pg_api.services.sign_ins, "find", stopped)
    pg_api.client.cookies.set("ledger_session", "a-session")
    for language, words in (
        ("en", "let another request finish first"),
        ("pt-BR", "deixar outro pedido terminar antes"),
    ):
        answer = pg_api.client.get("/claims", headers={"Accept-Language": language})
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "1"
        assert answer.headers["content-type"].startswith("text/html")
        assert words in answer.text


def test_another_fault_of_a_statement_is_still_an_error_of_ours(
    pg_api: Api, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(postgres_url) as connection:
        try:
            connection.execute("SELECT 1 / 0")
        except psycopg.Error as error:
            cause = error
    try:
        raise OperationalError("division by zero") from cause
    except OperationalError as error:
        wrapped = error

    def fails(*args: Any, **kwargs: Any) -> Any:
        raise wrapped

    pg_api.settle()
    monkeypatch.setattr(pg_api.services.read_models.claims, "search", fails)
    assert pg_api.get("/v1/claims", settle=False).status_code == 500
