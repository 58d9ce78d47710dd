"""`/docs` and `/redoc` work offline: every asset they name is served by the service itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.docs import assets_directory
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


def test_redoc_names_no_address_outside_this_site_to_load(client: TestClient) -> None:
    """ReDoc's bundle would load the footer's logo from its CDN (no option turns it off): the
    bundle served here has that address taken out, and is otherwise the package's own."""
    served = client.get("/static/docs/redoc.standalone.js")
    assert served.status_code == 200
    assert "javascript" in served.headers["content-type"]
    assert b"cdn.redoc.ly" not in served.content
    original = (assets_directory() / "redoc.standalone.js").read_bytes()
    assert b"https://cdn.redoc.ly/redoc/logo-mini.svg" in original
    assert served.content == original.replace(b"https://cdn.redoc.ly/redoc/logo-mini.svg", b"")
