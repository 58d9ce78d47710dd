"""Two holes of the security probe, played in a real browser (Chromium, JavaScript disabled):
markup in a link's query shown as text, and a form's CSRF keys that fit no other form."""

from __future__ import annotations

import re
from html import escape
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, Route, expect

from tests.factories import ADMIN_B, FABRIKAM, create
from tests.web.browser import LedgerWeb, shot, sign_in
from tests.web.client import Site

pytestmark = pytest.mark.browser
INJECTED = (
    '<h1 id="injected">Injected</h1>'
    '<form id="evil" method="post" action="/sign-out"><button>Continue</button></form>'
)


def test_markup_in_a_claim_link_is_shown_as_text(page: Page, ledger_web: LedgerWeb) -> None:
    sign_in(page, ledger_web, ADMIN_B)
    page.goto(f"{ledger_web.url}/engagements/E-AS/claim?customer={quote(INJECTED)}")
    shot(page, "security-injected-claim-link")
    expect(page.locator("#injected")).to_have_count(0)
    expect(page.locator("#evil")).to_have_count(0)
    expect(page.locator("h1")).to_have_count(1)


def test_the_sign_out_keys_do_not_cancel_a_claim(page: Page, ledger_web: LedgerWeb) -> None:
    """The confirmation form is handed the sign-out form's keys on its way to the browser (a
    page that mixed them up, or an attacker who got one pair): Yes, cancel is refused."""
    body = create(["E-AS"], location="LOC-B1", value=FABRIKAM, customer_email="cio@fabrikam.com")
    made = ledger_web.api(ADMIN_B).post("/v1/claims", json=body.model_dump(mode="json"))
    assert made.status_code == 201, made.text
    claim_id = made.json()["claims"][0]["claim_id"]

    def swap_keys(route: Route) -> None:
        if route.request.method != "POST" or "confirm=yes" in (route.request.post_data or ""):
            route.continue_()
            return
        response = route.fetch()
        route.fulfill(response=response, body=_with_sign_out_keys(response.text()))

    sign_in(page, ledger_web, ADMIN_B, next=f"/claims/{claim_id}")
    page.route(f"**/claims/{claim_id}/cancellation", swap_keys)
    page.locator("#cancel").get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("button", name="Yes, cancel the claim")).to_be_visible()
    with page.expect_navigation() as refused:
        page.get_by_role("button", name="Yes, cancel the claim").click()
    shot(page, "security-csrf-keys-of-another-form")
    assert refused.value is not None and refused.value.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("This form has expired")
    claim = ledger_web.api(ADMIN_B).get(f"/v1/claims/{claim_id}")
    assert claim.json()["state"] == "customer_claimed"


def _with_sign_out_keys(html: str) -> str:
    """The page with the cancellation form's keys replaced by the sign-out form's."""
    keys = Site.form(html, "/sign-out").keys()
    start = html.index('action="/claims/', html.index('class="confirm"'))
    end = html.index("</form>", start)
    form = re.sub(
        r'name="(form_key|csrf)" value="[^"]*"',
        lambda m: f'name="{m.group(1)}" value="{escape(keys[m.group(1)])}"',
        html[start:end],
    )
    return html[:start] + form + html[end:]
