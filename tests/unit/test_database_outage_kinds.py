"""Which errors are a database out of reach (503, retried by the client) and which are faults
of a statement or races the ledger handles itself (never 503)."""

from __future__ import annotations

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, OperationalError, ProgrammingError
from psycopg import errors
from psycopg_pool import PoolTimeout

from ledger.store.outage import (
    ANSWER_SECONDS,
    SETTLE_SECONDS,
    DatabaseUnavailableError,
    Outage,
    backend_ended,
    unreachable,
)


def wrapped(cause: Exception, wrapper: type[Exception] = OperationalError) -> Exception:
    """``cause`` as eventsourcing's datastore raises it: a wrapper raised from it."""
    try:
        raise wrapper(str(cause)) from cause
    except Exception as error:
        return error


@pytest.mark.parametrize(
    "error",
    [
        wrapped(psycopg.OperationalError("server closed the connection unexpectedly")),
        wrapped(PoolTimeout("couldn't get a connection after 2.00 sec")),
        wrapped(errors.AdminShutdown("terminating connection due to administrator command")),
        wrapped(errors.CannotConnectNow("the database system is starting up")),
        wrapped(psycopg.InterfaceError("the connection is closed")),
        DatabaseUnavailableError("the database is unreachable"),
    ],
)
def test_a_database_out_of_reach(error: Exception) -> None:
    assert unreachable(error)


@pytest.mark.parametrize(
    "error",
    [
        wrapped(errors.SerializationFailure("could not serialize access")),
        wrapped(errors.DeadlockDetected("deadlock detected")),
        wrapped(errors.LockNotAvailable("canceling statement due to lock timeout")),
        wrapped(errors.QueryCanceled("canceling statement due to user request")),
        wrapped(errors.UndefinedTable('relation "v1_claims" does not exist'), ProgrammingError),
        wrapped(errors.UniqueViolation("duplicate key value"), IntegrityError),
        OperationalError("an error of the library's own, raised from nothing"),
        ValueError("a bug"),
    ],
)
def test_not_a_database_out_of_reach(error: Exception) -> None:
    assert not unreachable(error)


def test_an_outage_is_said_once_and_lasts_at_least_its_settling_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Lost twice, then answered at once (a server process not yet ended as PostgreSQL goes
    down): still one outage, not over; answered once it is old enough: over, said once."""
    outage = Outage()
    with caplog.at_level("WARNING", logger="ledger.database"):
        outage.lost(wrapped(errors.AdminShutdown("terminating connection")))
        outage.lost(wrapped(errors.AdminShutdown("terminating connection")))
        outage.reached()
        assert outage.since is not None
        outage.since -= SETTLE_SECONDS  # as if it began that long ago
        outage.reached()
        outage.reached()
    assert outage.since is None
    said = [record.getMessage() for record in caplog.records]
    assert len(said) == 2, said
    assert said[0].startswith("the database is unreachable (terminating connection)")
    assert said[1].startswith("the database is reachable again, after 1.")


CLOSED = "consuming input failed: server closed the connection unexpectedly"


@pytest.mark.parametrize(
    ("error", "ended"),
    [
        (wrapped(errors.AdminShutdown("terminating connection")), True),
        (wrapped(errors.IdleSessionTimeout("terminating connection")), True),
        (wrapped(psycopg.OperationalError(CLOSED)), False),  # told by how soon it came
        (wrapped(psycopg.OperationalError("could not receive data: Connection timed out")), False),
        (wrapped(PoolTimeout("couldn't get a connection after 2.00 sec")), False),
        (wrapped(errors.CannotConnectNow("the database system is shutting down")), False),
    ],
)  # fmt: skip
def test_a_backend_the_server_ended_is_told_from_a_database_gone_silent(
    error: Exception, ended: bool
) -> None:
    """A backend the server says it ended is checked with a new connection before an
    outage is said; so is any connection lost sooner than a timeout (the guard's own rule,
    ``tests/integration/test_ended_connections.py``); a timeout is not (a new connection
    would wait as long again)."""
    assert backend_ended(error) is ended


def test_one_new_connection_answers_for_the_callers_behind_it() -> None:
    """Many statements fail at once when every backend is ended: one new connection is
    tried, and its answer, yes or no, stands for ANSWER_SECONDS."""
    outage, tried = Outage(), []

    def fresh() -> None:
        tried.append(1)
        if len(tried) > 1:
            raise psycopg.OperationalError("connection refused")

    assert outage.answers(fresh) and outage.answers(fresh)
    assert len(tried) == 1
    asked_at, answered = outage.answer
    outage.answer = (asked_at - ANSWER_SECONDS, answered)  # as if asked that long ago
    assert not outage.answers(fresh) and not outage.answers(fresh)
    assert len(tried) == 2
