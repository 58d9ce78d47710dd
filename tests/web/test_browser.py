"""The page in a real browser (headless Chromium, JavaScript disabled): signing in and out, the
engagements, the Customers page and its tabs, the language switch, the 404 page; axe-core
finds no serious or critical violation on any of them, and each is kept as a screenshot."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from ledger.words.i18n import LOCALES_DIR
from testkit.serving import until
from tests.conftest import text_of
from tests.factories import ADMIN_A, LITWARE, NORTHWIND, REVIEWER, create
from tests.web.browser import LedgerWeb, assert_page_accessible, axe_violations, shot, sign_in

pytestmark = pytest.mark.browser
PORTUGUESE = LOCALES_DIR / "pt_BR" / "LC_MESSAGES" / "messages.po"


@pytest.fixture(scope="module")
def claims(ledger_web: LedgerWeb) -> dict[str, str]:
    """Two claims of Partner A on the Data assessment, made through the API: Northwind just
    added (Eligible), Litware approved (Completed)."""
    partner, reviewer, customer = (
        ledger_web.api(ADMIN_A),
        ledger_web.api(REVIEWER),
        ledger_web.api(),
    )

    def ok(response: Any, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json()

    def new(name: str, tenant: str) -> str:
        body = create(["E-AS"], name=name, value=tenant, customer_email=f"cio@{name.lower()}.com")
        made = ok(partner.post("/v1/claims", json=body.model_dump(mode="json")), 201)
        return str(made["claims"][0]["claim_id"])

    northwind, litware = new("Northwind", NORTHWIND), new("Litware", LITWARE)
    path = f"/v1/claims/{litware}"
    consent = {"deal_size_usd": "15000.00", "disclaimer_accepted": True}
    ok(partner.post(f"{path}/consent-request", json=consent))
    message = until(
        lambda: next((m for m in ledger_web.inbox.messages if m["To"] == "cio@litware.com"), None)
    )
    token = re.search(r"/consent/(\S+)", text_of(message))
    assert token is not None
    ok(customer.post(f"/v1/consent/{token.group(1)}", json={"decision": "accept"}))
    proof = {"proof": [{"kind": "poe_document", "reference": "poe.pdf"}]}
    ok(partner.post(f"{path}/submission", json=proof))
    ok(reviewer.post(f"{path}/review", json={"action": "start"}))
    ok(reviewer.post(f"{path}/review", json={"action": "approve"}))
    return {"northwind": northwind, "litware": litware}


def test_axe_runs_on_the_page_as_it_is_without_its_scripts(
    browser: Browser, ledger_web: LedgerWeb
) -> None:
    """The accessibility check itself: axe runs (it finds the missing alt text) while the
    page's own script, which would have added it, is blocked."""
    url = f"{ledger_web.url}/axe-self-check"
    html = (
        '<!doctype html><html lang="en"><head><title>Check</title></head><body><main>'
        '<h1>Check</h1><img src="/static/web/none.png">'
        "<script>document.querySelector('img').alt = 'added by a script'</script>"
        "</main></body></html>"
    )
    found = {v["id"] for v in axe_violations(browser, url, [], html=html)}
    assert "image-alt" in found


def test_sign_in_then_the_engagements(page: Page, ledger_web: LedgerWeb) -> None:
    page.goto(f"{ledger_web.url}/")
    assert page.url == f"{ledger_web.url}/sign-in?next=/"  # a page that needs a principal
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    shot(page, "sign-in")
    assert_page_accessible(page)

    page.get_by_label("Bearer token").fill("not-a-token")
    page.get_by_role("main").get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("The token is not valid: paste the whole")
    expect(page.get_by_label("Bearer token")).to_have_attribute("aria-invalid", "true")
    shot(page, "sign-in-refused")
    assert_page_accessible(page)

    sign_in(page, ledger_web, ADMIN_A)
    assert page.url == f"{ledger_web.url}/"
    expect(page.get_by_role("heading", level=1)).to_have_text("Engagements")
    table = page.get_by_role("table", name="Engagements and the locations")
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(5)
    expect(rows.filter(has_text="Data assessment")).to_contain_text("LOC-A1")
    expect(rows.filter(has_text="Project at A2 only")).to_contain_text("LOC-A2")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Engagements"))
    expect(page.get_by_text(ADMIN_A.user_id)).to_be_visible()
    shot(page, "engagements")
    assert_page_accessible(page)


def test_the_keyboard_alone_reaches_the_content(page: Page, ledger_web: LedgerWeb) -> None:
    sign_in(page, ledger_web, ADMIN_A)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0  # shown once focused
    shot(page, "engagements-skip-link")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")  # the table's scrolling region (at 320 px it scrolls sideways)
    expect(page.locator(".table-wrap")).to_be_focused()
    page.keyboard.press("Tab")  # then its first link
    expect(page.get_by_role("link", name="Migration workshop")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{ledger_web.url}/engagements/E-WS/customers")


def _current_tab(page: Page) -> str:
    current = page.get_by_role("navigation", name="Tabs").locator('[aria-current="page"]')
    expect(current).to_have_count(1)
    return current.inner_text()


def test_the_customers_page_and_its_tabs(
    page: Page, ledger_web: LedgerWeb, claims: dict[str, str]
) -> None:
    sign_in(page, ledger_web, ADMIN_A)
    page.get_by_role("link", name="Data assessment").click()
    assert page.url == f"{ledger_web.url}/engagements/E-AS/customers"
    expect(page.get_by_role("heading", level=1)).to_contain_text("Customers")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Data assessment")
    assert _current_tab(page) == "Eligible"
    expect(page.get_by_role("link", name="Add customer")).to_be_visible()
    eligible = page.get_by_role("table", name="Eligible: Data assessment")
    northwind = eligible.locator("tbody tr").filter(has_text="Northwind")
    expect(northwind).to_contain_text("days")
    expect(northwind.get_by_role("link", name="Northwind")).to_have_attribute(
        "href", f"/claims/{claims['northwind']}"
    )
    shot(page, "customers-eligible")
    assert_page_accessible(page)

    page.get_by_role("link", name="Ineligible").click()
    assert page.url.endswith("/engagements/E-AS/customers?tab=ineligible")
    assert _current_tab(page) == "Ineligible"
    expect(page.get_by_role("table", name="Ineligible: Data assessment")).to_be_visible()
    expect(page.get_by_role("link", name="Add customer")).to_have_count(0)
    shot(page, "customers-ineligible")
    assert_page_accessible(page)

    page.get_by_role("link", name="Completed").click()
    assert _current_tab(page) == "Completed"
    completed = page.get_by_role("table", name="Completed: Data assessment")
    expect(completed.get_by_role("columnheader", name="Claim ID")).to_be_visible()
    litware = completed.locator("tbody tr").filter(has_text="Litware")
    expect(litware).to_contain_text("$2,500.00")
    expect(litware.get_by_role("link", name=claims["litware"][:8])).to_have_attribute(
        "href", f"/claims/{claims['litware']}"
    )
    shot(page, "customers-completed")
    assert_page_accessible(page)


def test_the_msx_only_engagement_explains_its_ineligible_tab(
    page: Page, ledger_web: LedgerWeb
) -> None:
    sign_in(page, ledger_web, ADMIN_A, next="/engagements/E-VAR/customers?tab=ineligible")
    assert page.url.endswith("/engagements/E-VAR/customers?tab=ineligible")
    expect(page.get_by_text("accepts only MSX opportunity ids")).to_be_visible()
    shot(page, "customers-msx-only")
    assert_page_accessible(page)


def test_switching_the_language(page: Page, ledger_web: LedgerWeb) -> None:
    sign_in(page, ledger_web, ADMIN_A, next="/engagements/E-AS/customers?tab=completed")
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("link", name="Português (Brasil)").click()
    assert page.url.endswith("/engagements/E-AS/customers?tab=completed")  # where it was
    assert page.locator("html").get_attribute("lang") == "pt-BR"
    expect(page.get_by_role("link", name="Português (Brasil)")).to_have_attribute(
        "aria-current", "true"
    )
    if PORTUGUESE.exists():
        expect(page.get_by_role("heading", level=1)).to_contain_text("Clientes")
        tabs = page.get_by_role("navigation").locator('[aria-current="page"]')
        expect(tabs).to_have_text("Concluído")
        page.get_by_role("link", name="Qualificado", exact=True).click()
        expect(page.get_by_role("link", name="Adicionar cliente")).to_be_visible()
    shot(page, "customers-portuguese")
    assert_page_accessible(page)

    page.goto(f"{ledger_web.url}/")
    assert page.locator("html").get_attribute("lang") == "pt-BR"  # the cookie keeps it
    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    expect(page.get_by_role("heading", level=1)).to_have_text("Engagements")


def test_an_address_that_does_not_exist_is_the_404_page(page: Page, ledger_web: LedgerWeb) -> None:
    sign_in(page, ledger_web, ADMIN_A)
    response = page.goto(f"{ledger_web.url}/no/such/page")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.get_by_role("link", name="Back to the engagements")).to_be_visible()
    shot(page, "not-found")
    assert_page_accessible(page)

    response = page.goto(f"{ledger_web.url}/engagements/E-NONE/customers")
    assert response is not None and response.status == 404
    shot(page, "engagement-not-found")
    assert_page_accessible(page)


def test_signing_out(page: Page, ledger_web: LedgerWeb) -> None:
    sign_in(page, ledger_web, ADMIN_A)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    assert not [c for c in page.context.cookies() if "session" in c["name"]]
    page.goto(f"{ledger_web.url}/engagements/E-AS/customers")
    assert "/sign-in?next=" in page.url  # signed out: the page asks again
    shot(page, "signed-out")
