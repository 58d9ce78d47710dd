"""The app on each real store (``api``), through the API tests' client (``tests.api.client``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.service.settings import Settings
from tests.api.client import Api, make_api
from tests.conftest import Clock


@pytest.fixture
def api(settings: Settings, clock: Clock) -> Iterator[Api]:
    """The app on SQLite and on PostgreSQL (parametrised by ``settings``)."""
    yield from make_api(settings, clock)
