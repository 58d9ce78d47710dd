"""Every page a partner, a reviewer, a referral admin and a seller reach, 320 px wide, in both
languages: no element is wider than the screen, and no table hides a column: each row is one
block whose cells are labelled with their column's header and shown whole. Kept as
screenshots (test-artefacts/screenshots/narrow-*.png).

The measures run in JavaScript (Playwright's own evaluation) in a JavaScript-enabled context;
the page's own scripts cannot run there, as every page's ``script-src 'none'`` policy says.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from ledger.domain.principal import Principal, Role
from ledger.words.i18n import COOKIE
from testkit.serving import until
from tests.conftest import text_of
from tests.factories import ADMIN_A, ADMIN_B, ALL_PROOF, NORTHWIND, REVIEWER, SELLER, SUB1, create
from tests.web.browser import NARROW, LedgerWeb, shot, sign_in

pytestmark = pytest.mark.browser
REFERRALS_A = Principal("ria@a.example", "P-A", frozenset({Role.REFERRAL_ADMIN}))
LANGUAGES = ("en", "pt-BR")

OVERFLOWS = """() => {
  const width = document.documentElement.clientWidth;
  const name = (e) => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '')
    + ' "' + (e.textContent || '').trim().slice(0, 40) + '"';
  const found = [];
  for (const e of document.querySelectorAll('body *')) {
    if (e.closest('thead') || e.closest('.skip')) continue;  // hidden by design, until focused
    const style = getComputedStyle(e);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    const box = e.getBoundingClientRect();
    if (box.width && (box.left < -0.5 || box.right > width + 0.5)) {
      found.push(name(e) + ' spans ' + Math.round(box.left) + '..' + Math.round(box.right));
    }
    const clips = !['visible', 'clip'].includes(style.overflowX);
    if (clips && !e.matches('input, select, textarea') && e.scrollWidth > e.clientWidth + 1) {
      found.push(name(e) + ' scrolls or clips ' + e.scrollWidth + ' in ' + e.clientWidth);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, width, found};
}"""

CELLS = """() => {
  const width = document.documentElement.clientWidth;
  const problems = [];
  let cells = 0;
  for (const table of document.querySelectorAll('table')) {
    const headers = [...table.querySelectorAll('thead th')].map(h => h.textContent.trim());
    for (const row of table.querySelectorAll('tbody tr')) {
      const own = [...row.children];
      if (own.length === 1 && own[0].colSpan > 1) continue;  // "nothing here yet"
      own.forEach((cell, i) => {
        cells += 1;
        const where = headers[i] + ' of "' + row.textContent.trim().slice(0, 30) + '"';
        if (cell.dataset.label !== headers[i]) {
          problems.push(where + ': labelled ' + JSON.stringify(cell.dataset.label));
        }
        if (!cell.textContent.trim()) return;  // an empty cell may be left out
        const box = cell.getBoundingClientRect();
        const label = getComputedStyle(cell, '::before').content;
        if (!box.width || !box.height) problems.push(where + ': not shown');
        if (box.left < -0.5 || box.right > width + 0.5) problems.push(where + ': off screen');
        if (cell.scrollWidth > cell.clientWidth + 1) problems.push(where + ': cut');
        if (!label.includes(headers[i])) problems.push(where + ': shows label ' + label);
      });
    }
  }
  return {cells, problems};
}"""


def check(page: Page, name: str) -> None:
    """The page at 320 px: nothing wider than the screen, every table cell labelled by its
    column and whole; then its screenshots (both widths)."""
    page.set_viewport_size(NARROW)
    measured: dict[str, Any] = page.evaluate(OVERFLOWS)
    assert measured["scrollWidth"] <= measured["width"] == 320, (name, measured)
    assert not measured["found"], (name, measured["found"])
    cells: dict[str, Any] = page.evaluate(CELLS)
    assert not cells["problems"], (name, cells["problems"])
    shot(page, f"narrow-{name}")


def visit(page: Page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, url
    assert "script-src 'none'" in response.headers["content-security-policy"]


@pytest.fixture(scope="module")
def data(own_web: LedgerWeb) -> dict[str, str]:
    """Claims of their own (customer ids no other test claims): partner A's workshop for
    Fabrikam's subscription, consented (a co-sell referral: Fabrikam is managed) and
    submitted; its workshop for TPID 333, just added; partner B's for Northwind, consented
    then cancelled (its Completed tab)."""
    api, anyone = own_web.api, own_web.api()

    def ok(response: Any, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json()

    def new(principal: Principal, kind: str, value: str, email: str, location: str) -> str:
        body = create(["E-WS"], id_type=kind, value=value, customer_email=email, location=location)
        made = ok(api(principal).post("/v1/claims", json=body.model_dump(mode="json")), 201)
        return str(made["claims"][0]["claim_id"])

    def consented(principal: Principal, claim_id: str, email: str) -> None:
        asked = {"deal_size_usd": "15000.00", "disclaimer_accepted": True}
        ok(api(principal).post(f"/v1/claims/{claim_id}/consent-request", json=asked))
        mail = until(lambda: next((m for m in own_web.inbox.messages if m["To"] == email), None))
        token = re.search(r"/consent/(\S+)", text_of(mail))
        assert token is not None
        ok(anyone.post(f"/v1/consent/{token.group(1)}", json={"decision": "accept"}))

    shared = new(ADMIN_A, "azure_subscription_id", SUB1, "narrow@fabrikam.com", "LOC-A1")
    consented(ADMIN_A, shared, "narrow@fabrikam.com")
    proof = {"proof": [{"kind": k, "reference": f"files/{shared}/{k}.pdf"} for k in ALL_PROOF]}
    ok(api(ADMIN_A).post(f"/v1/claims/{shared}/submission", json=proof))
    added = new(ADMIN_A, "tpid", "333", "narrow@litware.com", "LOC-A1")
    ended = new(ADMIN_B, "tenant_id", NORTHWIND, "narrow@northwind.com", "LOC-B1")
    consented(ADMIN_B, ended, "narrow@northwind.com")
    ok(api(ADMIN_B).post(f"/v1/claims/{ended}/cancellation", json={}))
    referral = until(lambda: ok(api(ADMIN_A).get(f"/v1/claims/{shared}"))["referral"])
    until(lambda: "shared" in str(ok(api(SELLER).get("/v1/co-sell/referrals"))))
    return {"shared": shared, "added": added, "referral": referral["link"].rsplit("/", 1)[1]}


@pytest.fixture
def narrow(browser: Browser, own_web: LedgerWeb) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=True, viewport=NARROW)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def signed_in(page: Page, own_web: LedgerWeb, principal: Principal, language: str) -> None:
    sign_in(page, own_web, principal)
    page.context.add_cookies([{"name": COOKIE, "value": language, "url": own_web.url}])


def pages_of(role: str, data: dict[str, str]) -> list[tuple[str, str]]:
    """(name, path) of every page of a role's, with rows in each table."""
    shared, added = data["shared"], data["added"]
    return {
        "partner": [
            ("engagements", "/"),
            ("claims", "/claims"),
            ("customers-eligible", "/engagements/E-WS/customers"),
            ("customers-ineligible", "/engagements/E-AS/customers?tab=ineligible"),
            ("claim-submitted", f"/claims/{shared}"),
            ("claim-added", f"/claims/{added}"),
            ("claims-made", f"/engagements/E-WS/added?claims={added},{shared}"),
        ],
        "partner-b": [("customers-completed", "/engagements/E-WS/customers?tab=completed")],
        "reviewer": [
            ("review", "/review"),
            ("review-claim", f"/review/{shared}"),
            ("reviewer-claim", f"/claims/{shared}"),
        ],
        "referral-admin": [
            ("referrals-home", "/"),
            ("referrals", "/referrals"),
            ("referral", f"/referrals/{data['referral']}"),
        ],
        "seller": [("co-sell", "/co-sell")],
    }[role]


PRINCIPALS = {
    "partner": ADMIN_A,
    "partner-b": ADMIN_B,
    "reviewer": REVIEWER,
    "referral-admin": REFERRALS_A,
    "seller": SELLER,
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("role", list(PRINCIPALS))
def test_every_page_of_a_role_fits_320_px(
    narrow: Page, own_web: LedgerWeb, data: dict[str, str], role: str, language: str
) -> None:
    signed_in(narrow, own_web, PRINCIPALS[role], language)
    for name, path in pages_of(role, data):
        visit(narrow, f"{own_web.url}{path}")
        assert narrow.locator("html").get_attribute("lang") == language
        check(narrow, f"{language}-{role}-{name}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_step_of_the_wizard_fits_320_px(
    narrow: Page, own_web: LedgerWeb, language: str
) -> None:
    """Add customer for the readiness assessment by TPID 111 (no other test claims it): its
    third step lists the engagements it is not eligible for, with their reasons."""
    signed_in(narrow, own_web, ADMIN_A, language)
    visit(narrow, f"{own_web.url}/engagements/E-TPID/add")
    answers: list[dict[str, str]] = [
        {"#friendly_name": "Fabrikam (readiness)"},
        {"#customer_id-type": "tpid", "#customer_id-value": "111"},
        {},
        {
            "#contacts-customer-name": "Cora Customer",
            "#contacts-customer-email": "cora@fabrikam.com",
            "#contacts-partner-name": "Pat Partner",
            "#contacts-partner-email": "pat@a.example",
        },
    ]
    for step, fields in enumerate(answers, start=1):
        check(narrow, f"{language}-wizard-step-{step}")
        if step == 3:  # the ineligible engagements, each with its reason, whole
            rows = narrow.locator("table tbody tr")
            expect(rows).to_have_count(3)
            expect(rows.filter(has_text="Migration workshop")).to_contain_text("(R9)")
        for selector, value in fields.items():
            field = narrow.locator(selector)
            if field.evaluate("e => e.tagName") == "SELECT":
                field.select_option(value)
            else:
                field.fill(value)
        with narrow.expect_navigation():
            narrow.locator('button[name="go"][value="next"]').click()
    check(narrow, f"{language}-wizard-step-5")
    expect(narrow.locator("table tbody tr")).to_have_count(1)  # the readiness assessment
