"""What every page asks of the service besides itself (its icon), and how a page route answers
what goes wrong: always an HTML page, never the API's problem+json."""

from __future__ import annotations

import pytest

from ledger.interface.refusals import PROBLEM
from tests.web.client import Site

HTML = "text/html"


def test_the_page_names_its_icon_and_favicon_ico_answers(site: Site) -> None:
    page = site.get("/")
    assert '<link rel="icon" href="/static/web/favicon.svg" type="image/svg+xml">' in page.text
    icon = site.get("/static/web/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    asked = site.get("/favicon.ico")  # where a browser looks without reading the page
    assert asked.status_code == 200 and asked.headers["content-type"] == "image/svg+xml"
    assert asked.content == icon.content and asked.content.startswith(b"<svg")
    counted = site.get("/metrics").text
    assert 'route="/favicon.ico",status="200"' in counted
    assert 'route="unmatched"' not in counted


@pytest.mark.parametrize("path", ["/engagements/E-AS/claim", "/engagements/E-AS/add", "/sign-in"])
def test_a_form_that_cannot_be_read_is_a_page(site: Site, path: str) -> None:
    """Multipart data without its boundary (the framework's 400): no query string either."""
    for content_type in ("multipart/form-data", "multipart/form-data; boundary=x"):
        posted = site.client.post(path, content=b"junk", headers={"Content-Type": content_type})
        assert posted.status_code == 400, posted.text
        assert posted.headers["content-type"].startswith(HTML)
        assert "<h1>This form could not be read</h1>" in posted.text
        assert "Nothing was changed." in posted.text


def test_the_api_still_answers_problem_json(site: Site) -> None:
    posted = site.client.post(
        "/v1/claims", content=b"junk", headers={"Content-Type": "multipart/form-data"}
    )
    assert posted.headers["content-type"].startswith(PROBLEM)
    refused = site.get("/v1/engagements?x=a%00b")
    assert refused.status_code == 422 and refused.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(
    "address", ["/engagements/E-AS/claim?customer=a%00b", "/claims?customer=%1f", "/claims/%7f"]
)
def test_a_control_character_on_a_page_route_is_a_page(site: Site, address: str) -> None:
    for answer in (site.get(address), site.post(address, {})):
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith(HTML)
        assert "<h1>This cannot be done</h1>" in answer.text
        assert "cannot hold control characters such as NUL" in answer.text


def test_an_error_of_ours_on_a_page_is_a_page(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(site.services.read_models.claims, "search", broken)
    shown = site.get("/claims")
    assert shown.status_code == 500 and shown.headers["content-type"].startswith(HTML)
    assert "<h1>Something went wrong</h1>" in shown.text and "a bug" not in shown.text
    answered = site.get("/v1/claims", headers={"Authorization": "Bearer x"})
    assert answered.headers["content-type"].startswith(PROBLEM)  # the API's own routes
