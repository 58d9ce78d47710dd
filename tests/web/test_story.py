"""The whole story of the web page, in a real browser with JavaScript off (SPEC section 7):
a partner adds a customer through the wizard and sends the consent e-mail, the customer opens
the e-mailed link (from a real SMTP server) and accepts, the partner submits proof, a reviewer
approves, and the claim shows on the Completed tab with its history; then the partner claims
the now known customer for another engagement. On the way: a refused step with its message,
a used consent link, both languages, another partner's claim, and axe-core on every page.
Each page is kept as a screenshot (test-artefacts/screenshots/story-*.png)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import text_of
from tests.factories import ADMIN_A, ADMIN_B, ALL_PROOF, FABRIKAM, REVIEWER
from tests.web.browser import DESKTOP, LedgerWeb, assert_page_accessible, shot, sign_in

pytestmark = pytest.mark.browser


def look(page: Page, name: str) -> None:
    """Every page of the story: a screenshot at both widths, and axe-core on it."""
    shot(page, f"story-{name}")
    assert_page_accessible(page)


def consent_link(ledger_web: LedgerWeb, recipient: str, seconds: float = 20) -> str:
    """The link of the latest consent e-mail to ``recipient``, as the customer receives it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        mails = [m for m in ledger_web.inbox.messages if m["To"] == recipient]
        if mails:
            found = re.search(r"(http://\S+/consent/\S+)", text_of(mails[-1]))
            assert found is not None, text_of(mails[-1])
            return found.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no consent e-mail to {recipient}")


def next_step(page: Page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Next").click()


def test_the_whole_story(browser: Browser, page: Page, ledger_web: LedgerWeb) -> None:
    # The partner signs in and opens the Customers page of the migration workshop.
    sign_in(page, ledger_web, ADMIN_A)
    look(page, "01-engagements")
    page.get_by_role("link", name="Migration workshop").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Customers")
    look(page, "02-customers-eligible")

    # Add customer: the wizard, one step a page.
    page.get_by_role("link", name="Add customer").click()
    page.get_by_label("Friendly name").fill("Fabrikam")
    page.get_by_label("Location ID").select_option("LOC-A1")
    look(page, "03-add-step-1")
    next_step(page)
    page.get_by_label("Customer ID type").select_option("domain")
    page.get_by_label("Customer ID", exact=True).fill("not a domain!")
    next_step(page)
    # A refused step: the message and the rule next to the field and in the summary, the
    # input kept, the API's status code.
    expect(page.get_by_role("alert")).to_contain_text("R4")
    field = page.get_by_label("Customer ID", exact=True)
    expect(field).to_have_value("not a domain!")
    expect(field).to_have_attribute("aria-invalid", "true")
    look(page, "04-add-step-2-refused")
    field.fill("fabrikam.com")
    next_step(page)
    eligible = page.get_by_role("group", name="Eligible")
    expect(eligible.get_by_role("checkbox", name=re.compile("Migration workshop"))).to_be_checked()
    look(page, "05-add-step-3-engagements")
    next_step(page)
    page.get_by_role("group", name="Customer contact").get_by_label("Name").fill("Cora Customer")
    page.get_by_role("group", name="Customer contact").get_by_label("E-mail", exact=True).fill(
        "cio@fabrikam.com"
    )
    page.get_by_role("group", name="Customer contact").get_by_label(
        "Language of the e-mails"
    ).select_option("pt-BR")  # the customer reads Portuguese: so will the consent e-mail
    page.get_by_role("group", name="Partner contact").get_by_label("Name").fill("Pat Partner")
    page.get_by_role("group", name="Partner contact").get_by_label("E-mail", exact=True).fill(
        "pat@a.example"
    )
    look(page, "06-add-step-4-contacts")
    next_step(page)
    expect(page.get_by_role("main")).to_contain_text("$5,000.00")  # the fixed payout
    look(page, "07-add-step-5-review")
    with page.expect_navigation():
        page.get_by_role("button", name="Add customer").click()
    look(page, "08-added")
    made = page.get_by_role("table", name="Claims made")
    expect(made).to_contain_text("Migration workshop")
    with page.expect_navigation():
        made.get_by_role("rowheader").get_by_role("link").click()
    claim_url = page.url
    assert re.search(r"/claims/[0-9a-f-]{36}$", claim_url), claim_url
    expect(page.get_by_role("main")).to_contain_text("Customer claimed")
    look(page, "09-claim-details")

    # Send customer consent email: deal size, the disclaimer, Send for consent.
    consent = page.locator("section#request_consent")
    consent.get_by_label("Estimated deal size (USD)").fill("25000.00")
    consent.get_by_label(re.compile("accept the disclaimer")).check()
    with page.expect_navigation():
        consent.get_by_role("button", name="Send for consent").click()
    expect(page.get_by_role("main")).to_contain_text("Awaiting customer consent response")
    look(page, "10-consent-sent")

    # The customer opens the e-mailed link (no sign-in) and accepts.
    link = consent_link(ledger_web, "cio@fabrikam.com")
    assert link.startswith(ledger_web.url + "/consent/")
    (mail,) = [m for m in ledger_web.inbox.messages if m["To"] == "cio@fabrikam.com"][-1:]
    assert "pede o seu consentimento" in str(mail["Subject"])  # the contact's language
    customer = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    try:
        asked = customer.new_page()
        asked.goto(link)
        main = asked.get_by_role("main")
        assert asked.locator("html").get_attribute("lang") == "pt-BR"  # the contact's
        expect(main).to_contain_text("Partner A pede que Fabrikam confirme o compromisso")
        expect(main).to_contain_text("25.000,00")
        look(asked, "11-consent-page")
        with asked.expect_navigation():  # the customer prefers English: one link away
            asked.get_by_role("link", name="Read this page in English").click()
        expect(main).to_contain_text("Partner A asks Fabrikam to confirm the engagement")
        expect(main).to_contain_text("Migration workshop")
        expect(main).to_contain_text("$25,000.00")
        look(asked, "11-consent-page-english")
        with asked.expect_navigation():
            asked.get_by_role("button", name="Accept").click()
        expect(asked.get_by_role("main")).to_contain_text("You accepted")
        look(asked, "12-consent-accepted")
        # The same link again: used, no buttons, the API's 409.
        response = asked.goto(link)
        assert response is not None and response.status == 409
        expect(asked.get_by_role("heading", level=1)).to_contain_text("already used")
        expect(asked.get_by_role("button")).to_have_count(0)
        look(asked, "13-consent-link-used")
    finally:
        customer.close()

    # The partner submits proof.
    page.goto(claim_url)
    expect(page.get_by_role("main")).to_contain_text("Customer consent received")
    submit = page.locator("section#submit")
    for field_input in submit.locator("input[name^='proof.'][name$='.reference']").all():
        field_input.fill("files/fabrikam-proof.pdf")
    assert submit.locator("input[name^='proof.'][name$='.reference']").count() == len(ALL_PROOF)
    look(page, "14-submit-form")
    with page.expect_navigation():
        submit.get_by_role("button", name="Submit claim").click()
    expect(page.get_by_role("main")).to_contain_text("Submitted")

    # A reviewer starts the review and approves.
    claim_id = claim_url.rsplit("/", 1)[1]
    reviewer = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    try:
        review = reviewer.new_page()
        sign_in(review, ledger_web, REVIEWER, next="/review")
        expect(review.get_by_role("main")).to_contain_text("Fabrikam")
        look(review, "15-review-queue")
        review.goto(f"{ledger_web.url}/review/{claim_id}")
        with review.expect_navigation():
            review.get_by_role("button", name="Start review").click()
        review.goto(f"{ledger_web.url}/review/{claim_id}")
        look(review, "16-review-claim")
        with review.expect_navigation():
            review.get_by_role("button", name="Approve").click()
        expect(review.get_by_role("main")).to_contain_text("Approved")
        look(review, "17-review-approved")
    finally:
        reviewer.close()

    # The claim is on the Completed tab, its Claim ID linking to the details and history.
    page.goto(f"{ledger_web.url}/engagements/E-WS/customers?tab=completed")
    row = page.get_by_role("row").filter(has_text="Fabrikam")
    expect(row).to_contain_text("Approved")
    look(page, "18-customers-completed")
    with page.expect_navigation():
        row.get_by_role("link").first.click()
    assert page.url == claim_url
    history = page.get_by_role("table", name="Every event of this claim")
    for said in (
        "Customer added and claimed by ann@a.example",
        "Consent requested by ann@a.example",
        "Consent given by the customer",
        "Claim submitted by ann@a.example",
        "Claim approved by rex@programme.example: payout $5,000.00",
    ):
        expect(history).to_contain_text(said)
    expect(history).not_to_contain_text("ConsentGiven")
    look(page, "19-claim-approved-with-history")

    # Another partner's claim is a 404 page.
    other = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    try:
        stranger = other.new_page()
        sign_in(stranger, ledger_web, ADMIN_B)
        response = stranger.goto(claim_url)
        assert response is not None and response.status == 404
        look(stranger, "20-another-partners-claim")
    finally:
        other.close()


def test_claiming_the_known_customer_in_portuguese(page: Page, ledger_web: LedgerWeb) -> None:
    """Fabrikam consented above, so it is known: the partner claims it for the data
    assessment, in Portuguese, with the seed's words."""
    _consented_fabrikam(ledger_web)
    sign_in(page, ledger_web, ADMIN_A, next="/engagements/E-AS/customers")
    page.get_by_role("link", name="Português (Brasil)").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Clientes")
    look(page, "21-pt-customers-eligible")
    row = page.get_by_role("row").filter(has_text="Fabrikam")
    with page.expect_navigation():
        row.get_by_role("link", name="Reivindicar cliente").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Reivindicar cliente")
    name = page.get_by_label("Nome amigável")
    expect(name).to_have_value("Fabrikam")  # the name the partner knows it by
    name.fill("Fabrikam (segurança)")
    look(page, "22-pt-claim-step-1")
    while page.get_by_role("button", name="Avançar").count():
        with page.expect_navigation():
            page.get_by_role("button", name="Avançar").click()
        if page.get_by_role("group", name="Contato do cliente").count():
            group = page.get_by_role("group", name="Contato do cliente")
            if not group.get_by_label("Nome").input_value():
                group.get_by_label("Nome").fill("Cora Cliente")
                group.get_by_label("E-mail", exact=True).fill("cio@fabrikam.com")
                partner = page.get_by_role("group", name="Contato do parceiro")
                partner.get_by_label("Nome").fill("Pat Parceiro")
                partner.get_by_label("E-mail", exact=True).fill("pat@a.example")
    look(page, "23-pt-claim-review")
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile("Adicionar cliente|Reivindicar cliente")).click()
    expect(page.get_by_role("main")).to_contain_text("Fabrikam (segurança)")
    look(page, "24-pt-claimed")

    # Its page in Portuguese; once consent is asked, it says how the e-mail went.
    with page.expect_navigation():
        page.get_by_role("main").get_by_role("link", name=re.compile("^[0-9a-f]{8}-")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Fabrikam (segurança)")
    look(page, "25-pt-claim-details")
    page.get_by_label("Tamanho estimado do negócio (USD)").fill("25000.00")
    page.get_by_label("Revisei os detalhes e aceito o aviso de isenção de responsabilidade").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Enviar para consentimento").click()
    expect(page.locator(".consent-email")).to_have_text(re.compile("^(aguardando envio|enviado)$"))
    look(page, "26-pt-consent-sent")


def _consented_fabrikam(ledger_web: LedgerWeb) -> None:
    """Make Fabrikam known to partner A through the API (when the story did not already)."""
    partner, customer = ledger_web.api(ADMIN_A), ledger_web.api()
    listed = partner.get("/v1/claims", params={"customer": "fabrikam"}).json()["items"]
    if any(item["state"] not in {"customer_claimed", "awaiting_consent"} for item in listed):
        return

    def ok(response: Any, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json()

    body = {
        "origin": "added", "friendly_name": "Fabrikam", "location_id": "LOC-A1",
        "customer_id": {"type": "tenant_id", "value": FABRIKAM}, "engagement_ids": ["E-WS"],
        "contacts": {"customer": {"name": "Cora", "email": "cio@fabrikam.com"},
                     "partner": {"name": "Pat", "email": "pat@a.example"}},
    }  # fmt: skip
    claim_id = ok(partner.post("/v1/claims", json=body), 201)["claims"][0]["claim_id"]
    consent = {"deal_size_usd": "1000.00", "disclaimer_accepted": True}
    ok(partner.post(f"/v1/claims/{claim_id}/consent-request", json=consent))
    token = consent_link(ledger_web, "cio@fabrikam.com").rsplit("/", 1)[1]
    ok(customer.post(f"/v1/consent/{token}", json={"decision": "accept"}))
