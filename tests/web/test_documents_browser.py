"""Proof documents in a browser (JavaScript off): the partner uploads a file in the submit
form (a PDF named .png, recognised by its content), the claim page lists it with its link,
the reviewer opens it from the review page. Screenshots: test-artefacts/screenshots/
documents-*.png."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from testkit.serving import until
from tests.conftest import text_of
from tests.documents import PDF
from tests.factories import ADMIN_A, FABRIKAM, REVIEWER, create
from tests.web.browser import DESKTOP, LedgerWeb, assert_page_accessible, shot, sign_in

pytestmark = pytest.mark.browser
RECIPIENT = "cfo@fabrikam.com"


def _consented(server: LedgerWeb) -> str:
    """Partner A's claim whose customer accepted through the e-mailed link."""
    with server.api(ADMIN_A) as api:
        body = create(["E-WS"], value=FABRIKAM, name="Fabrikam proof", customer_email=RECIPIENT)
        made = api.post("/v1/claims", json=body.model_dump(mode="json"))
        assert made.status_code == 201, made.text
        claim_id = str(made.json()["claims"][0]["claim_id"])
        consent = {"deal_size_usd": "20000.00", "disclaimer_accepted": True}
        asked = api.post(f"/v1/claims/{claim_id}/consent-request", json=consent)
        assert asked.status_code == 200, asked.text
    message = until(lambda: next((m for m in server.inbox.messages if m["To"] == RECIPIENT), None))
    found = re.search(r"/consent/(\S+)", text_of(message))
    assert found is not None
    with server.api() as anyone:
        answer = anyone.post(f"/v1/consent/{found.group(1)}", json={"decision": "accept"})
        assert answer.status_code == 200, answer.text
    return claim_id


def _page(browser: Browser) -> Any:
    context = browser.new_context(java_script_enabled=False, viewport=DESKTOP)
    context.set_default_timeout(15_000)
    return context


def _look(page: Page, name: str) -> None:
    assert_page_accessible(page)
    shot(page, name)


def test_upload_in_the_submit_form_and_open_it_from_the_review(
    browser: Browser, own_web: LedgerWeb, tmp_path: Path
) -> None:
    claim_id = _consented(own_web)
    scan = tmp_path / "signed-invoice.png"  # a PDF, whatever its name says
    scan.write_bytes(PDF)
    context = _page(browser)
    page = context.new_page()
    try:
        sign_in(page, own_web, ADMIN_A)
        page.goto(f"{own_web.url}/claims/{claim_id}")
        page.locator("#proof-0-file").set_input_files(str(scan))
        for i in range(1, 4):
            page.locator(f"#proof-{i}-reference").fill(f"https://files.example/doc-{i}.pdf")
        _look(page, "documents-submit-form")
        with page.expect_navigation():
            page.locator("#submit button[type=submit]").click()
        main = page.get_by_role("main")
        assert "Submitted" in main.inner_text()
        link = page.get_by_role("link", name="signed-invoice.png").first
        href = link.get_attribute("href")
        assert href and href.startswith(f"/claims/{claim_id}/documents/")
        _look(page, "documents-claim-page")
        got = page.request.get(f"{own_web.url}{href}")
        assert got.status == 200 and got.body() == PDF
        assert got.headers["content-type"] == "application/pdf"

        sign_in(page, own_web, REVIEWER)
        page.goto(f"{own_web.url}/review/{claim_id}")
        assert page.get_by_role("link", name="signed-invoice.png").count() >= 1
        _look(page, "documents-review-page")
        assert page.request.get(f"{own_web.url}{href}").body() == PDF
    finally:
        context.close()
