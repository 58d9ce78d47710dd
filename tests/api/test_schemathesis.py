"""Schemathesis against the app's own OpenAPI document: no 5xx, responses match their schemas."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from ledger.service.settings import Settings
from tests.api.client import Api, make_api
from tests.conftest import Clock
from tests.factories import ADMIN_A, create, days


@pytest.fixture
def fuzzed(settings: Settings, clock: Clock) -> Iterator[Api]:
    """The app on SQLite and on PostgreSQL, with two claims to find."""
    for api in make_api(settings, clock):
        api.services.ledger.create_claims(ADMIN_A, create(["E-WS", "E-AS"]), days(0))
        api.services.workers.views.catch_up()
        yield api


@pytest.fixture
def api_schema(fuzzed: Api) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", fuzzed.app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_responses_match_the_schema(
    case: schemathesis.Case[Any], fuzzed: Api
) -> None:
    case.call_and_validate(
        headers=fuzzed.auth(ADMIN_A),
        checks=[
            not_a_server_error,
            response_schema_conformance,
            status_code_conformance,
            content_type_conformance,
        ],
    )
