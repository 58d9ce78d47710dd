"""Fixtures: the test catalog, in-memory and real stores (SQLite file, throwaway PostgreSQL),
and an SMTP server on loopback."""

from __future__ import annotations

import email
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from ledger.runtime.bootstrap import ReadModels, Services, bootstrap
from ledger.runtime.workers import Workers
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from testkit.pgcluster import create_database, drop_database, free_port, throwaway_cluster
from tests.factories import days, make_catalog, popo_ledger
from tests.outside import Outside, build


@pytest.fixture
def ledger() -> Ledger:
    """The Ledger on the in-memory store: for rules, where the store is not the question."""
    return popo_ledger()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server: LEDGER_TEST_POSTGRES_URL, or a throwaway cluster started here."""
    url = os.environ.get("LEDGER_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    with throwaway_cluster() as started:
        yield started


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the test server, dropped afterwards."""
    url = create_database(postgres_server)
    yield url
    drop_database(postgres_server, url)


CHECKPOINT_KEY = (
    "PRIVATE+KEY+ledger.test/ledger+61d1d022+AVrwXkhLJf6gjDZdFLyvrTTG88OllVYoet9FG6BRpVp7"
)
"""A checkpoint signer key for the tests' PostgreSQL stores (a SQLite store makes its own)."""


@pytest.fixture(params=["sqlite", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for a fresh store of each kind."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "ledger.sqlite3"
        return Settings(database_url=f"sqlite:///{path}")
    return postgres_settings(request.getfixturevalue("postgres_url"), tmp_path_factory.mktemp("pg"))


def postgres_settings(url: str, files: Path) -> Settings:
    """Settings for the PostgreSQL database at ``url``, its mail and documents under ``files``."""
    return Settings(
        database_url=url,
        secret_key="a-test-signing-key-that-is-long-enough-for-hs256",
        mail_dir=files / "mail",  # not ./mail, where the tests run
        documents_dir=files / "documents",  # nor ./documents
        checkpoint_key=CHECKPOINT_KEY,  # required on PostgreSQL
    )


@pytest.fixture
def pg_settings(postgres_url: str, tmp_path: Path) -> Settings:
    """Settings for a fresh PostgreSQL database alone (``settings`` gives both stores)."""
    return postgres_settings(postgres_url, tmp_path)


@pytest.fixture
def stored_ledger(settings: Settings) -> Iterator[Ledger]:
    """The Ledger on a real store (parametrised: SQLite file and PostgreSQL)."""
    ledger = open_ledger(settings, make_catalog())
    yield ledger
    ledger.close()


class Clock:
    """A clock the tests move by hand."""

    def __init__(self) -> None:
        self.now = days(0)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def services(stored_ledger: Ledger, settings: Settings, clock: Clock) -> Iterator[Services]:
    """Every service over the stored ledger, wired as the app wires them, on the test clock."""
    built = bootstrap(settings, ledger=stored_ledger, clock=clock)
    yield built
    built.workers.stop()
    built.store.close()


@pytest.fixture
def workers(services: Services) -> Workers:
    """Projections and policies over the stored ledger."""
    return services.workers


@pytest.fixture
def read_models(services: Services) -> ReadModels:
    """The queries of the read models over the stored ledger's views."""
    return services.read_models


class Inbox:
    """The messages an SMTP server received."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """An SMTP server (aiosmtpd) on loopback: its inbox and its port."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def text_of(message: Message, subtype: str = "plain") -> str:
    """The decoded text of the message's ``text/<subtype>`` part."""
    for part in message.walk():
        if part.get_content_type() == f"text/{subtype}":
            body = part.get_payload(decode=True)
            assert isinstance(body, bytes)
            return body.decode(part.get_content_charset() or "utf-8")
    raise AssertionError(f"no text/{subtype} part")


@pytest.fixture
def fresh_database(postgres_server: str) -> Iterator[Callable[[], str]]:
    """One database per round: every round starts from no claims at all."""
    created: list[str] = []

    def make() -> str:
        created.append(create_database(postgres_server))
        return created[-1]

    yield make
    for url in created:
        drop_database(postgres_server, url)


@pytest.fixture(scope="session")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outside]:
    """The Go checksum database's RFC 9162 and signed-note verifier (``tests/outside``);
    skipped without Go, except in CI, where ``scripts/test`` installs it."""
    binary = build(tmp_path_factory.mktemp("outside"))
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("Go and golang.org/x/mod are missing: scripts/test installs them")
        pytest.skip("the outside verifier needs Go and golang.org/x/mod (scripts/test)")
    verifier = Outside(binary)
    yield verifier
    verifier.close()
