"""The auditor's desk in a browser (JavaScript off): the home page, every partner's claims, a
claim as of a time, the audit page and its erasure, in both languages, at a desktop width and
320 px; axe-core finds no serious problem on any of them. Screenshots:
test-artefacts/screenshots/auditor-*.png."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page

from ledger.words.i18n import COOKIE
from tests.factories import ADMIN_A, ADMIN_B, AUDITOR, FABRIKAM, LITWARE, NORTHWIND, create
from tests.web.browser import DESKTOP, LedgerWeb, assert_page_accessible, shot, sign_in
from tests.web.test_narrow_browser import check

pytestmark = pytest.mark.browser


def _claims(server: LedgerWeb, language: str) -> str:
    """A claim of partner A's (its own customer and contact per language, as the server is
    the module's) and one of partner B's, made once; the first one's id."""
    own = {"en": ("E-WS", FABRIKAM, "fabrikam.com"), "pt-BR": ("E-AS", NORTHWIND, "northwind.com")}
    engagement, customer, domain = own[language]
    email = f"ava@{domain}"
    with server.api(ADMIN_A) as api:
        body = create([engagement], value=customer, customer_email=email)
        answer = api.post("/v1/claims", json=body.model_dump(mode="json"))
        assert answer.status_code == 201, answer.text
    with server.api(ADMIN_B) as api:
        body = create(["E-AS"], value=LITWARE, location="LOC-B1", customer_email="it@litware.com")
        made = api.post("/v1/claims", json=body.model_dump(mode="json")).status_code
        assert made in (201, 409)  # once for the module
    return str(answer.json()["claims"][0]["claim_id"])


def _look(page: Page, name: str) -> None:
    """Accessible, nothing wider than 320 px, and its screenshots at both widths."""
    assert_page_accessible(page)
    shot(page, name)
    check(page, name)
    page.set_viewport_size(DESKTOP)


@pytest.mark.parametrize("language", ["en", "pt-BR"])
def test_the_auditor_walks_the_desk(browser: Browser, own_web: LedgerWeb, language: str) -> None:
    claim_id = _claims(own_web, language)
    context = browser.new_context(java_script_enabled=False, viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        sign_in(page, own_web, AUDITOR)
        context.add_cookies([{"name": COOKIE, "value": language, "url": own_web.url}])
        page.goto(f"{own_web.url}/")
        assert page.locator('nav a[href="/audit"]').count() == 1
        _look(page, f"auditor-home-{language}")
        page.goto(f"{own_web.url}/claims")
        assert page.locator("td[data-label]").count() > 0
        _look(page, f"auditor-claims-{language}")
        page.goto(f"{own_web.url}/claims/{claim_id}")
        _look(page, f"auditor-claim-{language}")
        later = datetime.now(UTC) + timedelta(minutes=2)  # a later time: the claim now
        page.locator("#as_of").fill(later.strftime("%Y-%m-%dT%H:%M"))
        with page.expect_navigation():
            page.locator("form.as-of button").click()
        assert page.locator("#as-of-banner").count() == 1
        _look(page, f"auditor-claim-as-of-{language}")
        page.goto(f"{own_web.url}/audit")
        _look(page, f"auditor-audit-{language}")
        page.locator("#email").fill(
            "ava@" + ("fabrikam.com" if language == "en" else "northwind.com")
        )
        with page.expect_navigation():
            page.locator("#erase form button").click()
        assert page.locator("#erase-count").count() == 1
        _look(page, f"auditor-erase-confirm-{language}")
        with page.expect_navigation():
            page.locator("#erase button.danger").click()
        assert "/audit?erased=" in page.url
        assert page.locator('p.done[role="status"]').count() == 1
        assert page.locator("td[data-label] code.digest").count() >= 1
        _look(page, f"auditor-audit-erased-{language}")
    finally:
        context.close()
