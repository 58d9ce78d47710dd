"""`/docs` and `/redoc` work offline: every asset they name is served by the service itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cli.site import create_app
from ledger.service.settings import Settings
from tests.conftest import Clock
from tests.factories import make_catalog

REFERENCE = re.compile(r"""\b(?:src|href)\s*=\s*["']([^"']*)["']""")
CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    app = create_app(settings, catalog=make_catalog(), clock=Clock(), run_workers=False)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon.png"}),
    ],
)
def test_the_documentation_pages_name_only_assets_of_this_site(
    client: TestClient, page: str, expected: set[str]
) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "http://" not in html
    assert "https://" not in html
    assert "'/openapi.json'" in html or '"/openapi.json"' in html
    references = REFERENCE.findall(html)
    assert {reference.rsplit("/", 1)[-1] for reference in references} == expected
    for reference in references:
        assert reference.startswith("/static/docs/"), reference
        asset = client.get(reference)
        assert asset.status_code == 200, reference
        suffix = Path(reference).suffix
        assert CONTENT_TYPES[suffix] in asset.headers["content-type"], reference
        assert len(asset.content) > 1000, reference


def test_the_cdn_pages_of_fastapi_are_not_served(client: TestClient) -> None:
    paths = [getattr(route, "path", "") for route in client.app.routes]  # type: ignore[attr-defined]
    assert paths.count("/docs") == 1
    assert paths.count("/redoc") == 1
    assert "/docs/oauth2-redirect" not in paths
    assert client.get("/openapi.json").status_code == 200
