"""The API's documentation pages in a real browser, with their scripts running: every request
they make stays on this site (ReDoc's footer logo included), so they work offline."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Request, Route

from tests.web.browser import DESKTOP, LedgerWeb

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("path", "shown"), [("/docs", ".swagger-ui"), ("/redoc", ".api-content")])
def test_the_documentation_fetches_nothing_from_outside(
    browser: Browser, ledger_web: LedgerWeb, path: str, shown: str
) -> None:
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=True)
    outside: list[str] = []
    asked: list[str] = []

    def stay_here(route: Route) -> None:
        if route.request.url.startswith(ledger_web.url):
            route.continue_()
        else:  # never let it out (a machine without internet would fail it anyway)
            outside.append(route.request.url)
            route.abort()

    def note(request: Request) -> None:
        asked.append(request.url)

    try:
        page = context.new_page()
        page.route("**/*", stay_here)
        page.on("request", note)
        page.goto(f"{ledger_web.url}{path}")
        page.locator(shown).first.wait_for()
        page.wait_for_load_state("networkidle")
        assert "Claim Ledger" in page.content()
    finally:
        context.close()
    assert not outside, outside
    assert any(url.endswith("/openapi.json") for url in asked), asked
