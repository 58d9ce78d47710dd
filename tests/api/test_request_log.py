"""One access log line per request, with the request id, and X-Request-Id echoed (SPEC 6.1)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.service.settings import Settings
from tests.api.client import Api, make_api
from tests.conftest import Clock
from tests.factories import create


@pytest.fixture
def sqlite_api(tmp_path: Path) -> Iterator[Api]:
    yield from make_api(Settings(database_url=f"sqlite:///{tmp_path / 'l.sqlite3'}"), Clock())


def access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "ledger.access"]


def test_the_request_id_is_taken_from_the_request_or_made_and_echoed(
    sqlite_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ledger.access")
    given = sqlite_api.client.get("/healthz", headers={"X-Request-Id": "abc-123.XYZ"})
    assert given.headers["X-Request-Id"] == "abc-123.XYZ"
    made = sqlite_api.client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-Id"])
    for insane in ("x" * 129, "two words", "tab\there"):
        replaced = sqlite_api.client.get("/healthz", headers={"X-Request-Id": insane})
        assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-Id"])
    ids = [r.request_id for r in access_lines(caplog)]  # type: ignore[attr-defined]
    assert ids[:2] == ["abc-123.XYZ", made.headers["X-Request-Id"]]
    assert len(ids) == 5  # one line per request


def test_the_access_line_names_method_route_status_duration_and_request_id(
    sqlite_api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ledger.access")
    created = sqlite_api.post("/v1/claims", create(["E-WS"]).model_dump(mode="json"))
    claim_id = created.json()["claims"][0]["claim_id"]
    read = sqlite_api.get(f"/v1/claims/{claim_id}", headers={"X-Request-Id": "r-7"})
    assert read.status_code == 200
    sqlite_api.get("/v1/consent/not-a-token", principal=None)
    post, get, consent = access_lines(caplog)
    assert (post.method, post.route, post.status) == ("POST", "/v1/claims", 201)  # type: ignore[attr-defined]
    assert get.getMessage().startswith("GET /v1/claims/{claim_id} 200 ")
    assert get.getMessage().endswith(" ms request_id=r-7")
    assert get.levelname == "INFO" and get.duration_ms >= 0  # type: ignore[attr-defined]
    assert "not-a-token" not in consent.getMessage()  # the route, never the path's token
    assert consent.route == "/v1/consent/{token}"  # type: ignore[attr-defined]
