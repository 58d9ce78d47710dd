"""A claim's history in words and times in the reader's zone, in a real browser (JavaScript
off): the claim page in English at a desktop width, then in Portuguese with the zone set to
São Paulo through the header's link, its history one labelled block per event at 320 px;
axe-core on each page, each kept as a screenshot (test-artefacts/screenshots/history-*.png)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from testkit.serving import until
from tests.conftest import text_of
from tests.factories import ADMIN_C, NORTHWIND, REVIEWER, create
from tests.web.browser import DESKTOP, NARROW, LedgerWeb, assert_page_accessible, shot, sign_in

pytestmark = pytest.mark.browser


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture(scope="module")
def claim_id(ledger_web: LedgerWeb) -> str:
    """Partner C's claim of Northwind for the data assessment (no other test of the session
    acts for partner C, whose known customers it changes), through the API: consent asked
    and given, proof submitted, information requested, resubmitted, approved."""
    partner, reviewer, customer = (
        ledger_web.api(ADMIN_C),
        ledger_web.api(REVIEWER),
        ledger_web.api(),
    )
    body = create(
        ["E-AS"],
        location="LOC-C1",
        value=NORTHWIND,
        name="Northwind",
        customer_email="cfo@northwind.com",
    )
    made = _ok(partner.post("/v1/claims", json=body.model_dump(mode="json")), 201)
    path = f"/v1/claims/{made['claims'][0]['claim_id']}"
    consent = {"deal_size_usd": "20000.00", "disclaimer_accepted": True}
    _ok(partner.post(f"{path}/consent-request", json=consent))
    mail = until(
        lambda: next((m for m in ledger_web.inbox.messages if m["To"] == "cfo@northwind.com"), None)
    )
    token = re.search(r"/consent/(\S+)", text_of(mail))
    assert token is not None
    _ok(customer.post(f"/v1/consent/{token.group(1)}", json={"decision": "accept"}))
    proof = {"proof": [{"kind": "poe_document", "reference": "poe-0042.pdf"}]}
    _ok(partner.post(f"{path}/submission", json=proof))
    _ok(reviewer.post(f"{path}/review", json={"action": "start"}))
    asked = {"action": "request_information", "reason": "Attach the signed invoice"}
    _ok(reviewer.post(f"{path}/review", json=asked))
    _ok(partner.post(f"{path}/submission", json=proof))
    _ok(reviewer.post(f"{path}/review", json={"action": "start"}))
    _ok(reviewer.post(f"{path}/review", json={"action": "approve"}))
    return str(made["claims"][0]["claim_id"])


def test_the_history_in_english_then_in_portuguese_in_sao_paulo(
    page: Page, ledger_web: LedgerWeb, claim_id: str
) -> None:
    sign_in(page, ledger_web, ADMIN_C, next=f"/claims/{claim_id}")
    history = page.get_by_role("table", name="Every event of this claim")
    expect(history).to_contain_text("Consent requested by cy@c.example: deal size $20,000.00")
    expect(history).to_contain_text("Information requested by rex@programme.example: comments")
    expect(history).to_contain_text("Claim approved by rex@programme.example: payout $2,500.00")
    expect(history.locator("tbody tr").first.locator("td").nth(1)).to_contain_text(" UTC")
    for raw in ("ConsentRequested", "deal_size_usd", "eligibility_key", "(user)"):
        expect(history).not_to_contain_text(raw)
    deadlines = page.get_by_role("table", name="Deadlines of this claim").locator("tbody th")
    expect(deadlines).to_have_text(["Customer consent", "First submission", "Review completion"])
    shot(page, "history-english")
    assert_page_accessible(page)

    page.get_by_role("link", name="Português (Brasil)").click()
    page.get_by_role("link", name="Fuso horário: UTC").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Fuso horário")
    page.get_by_label("Fuso horário").select_option("America/Sao_Paulo")
    shot(page, "history-time-zone")
    assert_page_accessible(page)
    with page.expect_navigation():
        page.get_by_role("button", name="Salvar").click()
    assert page.url.endswith(f"/claims/{claim_id}")  # back where the person was

    history = page.get_by_role("table", name="Todos os eventos desta declaração")
    expect(history).to_contain_text(
        "Consentimento solicitado por cy@c.example: tamanho do negócio US$\xa020.000,00"
    )
    expect(history).to_contain_text("Declaração aprovada por rex@programme.example")
    expect(history.locator("tbody tr").first.locator("td").nth(1)).to_contain_text(" BRT")
    expect(
        page.get_by_role("link", name="Fuso horário: Brasil (São Paulo)", exact=True)
    ).to_be_visible()
    page.set_viewport_size(NARROW)
    for row in history.locator("tbody tr").all():  # one block per event, within the screen
        box = row.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= NARROW["width"]
    page.set_viewport_size(DESKTOP)
    shot(page, "history-portuguese")
    assert_page_accessible(page)
