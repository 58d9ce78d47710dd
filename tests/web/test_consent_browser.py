"""The consent page in a real browser (headless Chromium, JavaScript off), opened from the
e-mail a real SMTP server received (SPEC 12): it names the customer by its tenant's name,
says who asks, what the engagement gives, what consenting means and the deal, speaks the
language picked for the customer contact and switches to the other by its link. Kept as
screenshots at a desktop width and at 320 px, both languages; axe-core finds nothing serious."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from testkit.serving import until
from tests.conftest import text_of
from tests.factories import ADMIN_B, SUB1, create
from tests.web.browser import LedgerWeb, assert_page_accessible, shot, sign_in

pytestmark = pytest.mark.browser
RECIPIENT = "ana@fabrikam.com"


@pytest.fixture(scope="module")
def link(ledger_web: LedgerWeb) -> str:
    """The consent link Partner B's claim of Fabrikam (by its Azure subscription, on its own
    seat) e-mailed to a contact who reads Portuguese; the claim's friendly name is not the
    customer's."""
    partner = ledger_web.api(ADMIN_B)

    def ok(response: Any, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json()

    contacts = {
        "customer": {"name": "Ana Souza", "email": RECIPIENT, "language": "pt-BR"},
        "partner": {"name": "Bea Berger", "email": "bea@b.example"},
    }
    body = create(
        ["E-WS"],
        name="Cloud move, phase 2",
        id_type="azure_subscription_id",
        value=SUB1,
        location="LOC-B1",
        contacts=contacts,
    ).model_dump(mode="json")
    (claim,) = ok(partner.post("/v1/claims", json=body), 201)["claims"]
    assert claim["customer_name"] == "Fabrikam"
    consent = {"deal_size_usd": "48000.00", "disclaimer_accepted": True}
    ok(partner.post(f"/v1/claims/{claim['claim_id']}/consent-request", json=consent))
    message = until(
        lambda: next((m for m in ledger_web.inbox.messages if m["To"] == RECIPIENT), None)
    )
    body_text = " ".join(text_of(message).split())
    assert "Partner B pede que Fabrikam confirme o compromisso Migration workshop" in body_text
    assert "Cloud move" not in body_text
    found = re.search(r"(http://\S+/consent/\S+)", text_of(message))
    assert found is not None
    return found.group(1)


def test_the_consent_page_in_the_contacts_language_then_in_english(page: Page, link: str) -> None:
    page.goto(link)
    assert page.locator("html").get_attribute("lang") == "pt-BR"
    main = page.get_by_role("main")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Pedido de consentimento")
    expect(main).to_contain_text(
        "Partner B pede que Fabrikam confirme o compromisso Migration workshop"
    )
    expect(main).to_contain_text("Bea Berger")
    expect(main).to_contain_text("bea@b.example")
    expect(main).to_contain_text("Um workshop realizado por Partner B")
    expect(main).to_contain_text("Recusar não lhe custa nada")
    expect(main).to_contain_text("48.000,00")
    expect(main).not_to_contain_text("Cloud move")
    expect(page.get_by_role("button", name="Aceitar")).to_be_visible()
    shot(page, "consent-page-pt-BR")
    assert_page_accessible(page)

    with page.expect_navigation():
        page.get_by_role("link", name="Read this page in English").click()
    assert page.url == link  # back on the same link
    assert page.locator("html").get_attribute("lang") == "en"
    expect(main).to_contain_text(
        "Partner B asks Fabrikam to confirm the engagement Migration workshop, so that "
        "Partner B may claim programme funding for it."
    )
    expect(main).to_contain_text("What consenting means")
    expect(main).to_contain_text("Declining costs you nothing and changes nothing else")
    expect(main).to_contain_text("$48,000.00")
    expect(page.get_by_role("button", name="Accept")).to_be_visible()
    expect(page.get_by_role("link", name="Leia esta página em português")).to_be_visible()
    shot(page, "consent-page-en")
    assert_page_accessible(page)


def test_the_partners_claims_list_finds_the_claim_by_its_customers_name(
    page: Page, ledger_web: LedgerWeb, link: str
) -> None:
    sign_in(page, ledger_web, ADMIN_B, next="/claims?customer=fabrikam")
    table = page.get_by_role("table", name="Your claims")
    row = table.locator("tbody tr").filter(has_text="Cloud move, phase 2")
    expect(row).to_contain_text("Fabrikam")
    expect(row).to_contain_text(f"Azure subscription ID: {SUB1}")
    expect(table.get_by_role("columnheader", name="Customer")).to_be_visible()
    shot(page, "claims-found-by-customer-name")
    assert_page_accessible(page)
