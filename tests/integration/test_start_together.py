"""Processes started at the same instant on a fresh PostgreSQL database all come up: the
schema is created under one advisory lock (here: four services of separate connections,
started together by a barrier, ten fresh databases in a row)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from ledger.bootstrap import bootstrap
from ledger.settings import Settings
from tests.factories import make_catalog

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def start_together(settings: Settings, count: int = 4) -> list[BaseException]:
    """Start ``count`` services at once on the database ``settings`` names; their failures."""
    barrier = threading.Barrier(count)
    failures: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            services = bootstrap(settings, catalog=make_catalog())
            services.workers.run_once()
            services.close()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=start) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_four_services_started_together_on_a_fresh_database(
    fresh_database: Callable[[], str],
) -> None:
    for _ in range(10):
        settings = Settings(database_url=fresh_database(), secret_key="k" * 40)
        assert start_together(settings) == []
