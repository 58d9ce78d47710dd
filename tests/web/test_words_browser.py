"""The wizard's refusals in a real browser, in Portuguese (SPEC 12): each problem a sentence
that names its field, every one in the summary at the top, linked to its field; kept as
screenshots (test-artefacts/screenshots/wizard-errors-pt-*.png) and checked by axe-core."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.factories import ADMIN_A, FABRIKAM
from tests.web.browser import LedgerWeb, assert_page_accessible, shot, sign_in

pytestmark = pytest.mark.browser


def test_the_wizards_errors_in_portuguese(page: Page, ledger_web: LedgerWeb) -> None:
    sign_in(page, ledger_web, ADMIN_A)
    page.goto(f"{ledger_web.url}/language?to=pt-BR&next=/engagements/E-WS/add")
    assert page.locator("html").get_attribute("lang") == "pt-BR"

    page.get_by_role("button", name="Avançar").click()  # no friendly name
    summary = page.locator(".error-summary")
    expect(summary.get_by_role("heading")).to_have_text("Há um problema")
    expect(summary.get_by_role("link")).to_have_text(["Informe o nome amigável. (R3)"])
    expect(page.locator("#friendly_name-error")).to_have_text("Informe o nome amigável. (R3)")
    shot(page, "wizard-errors-pt-name")
    assert_page_accessible(page)

    page.get_by_label("Nome amigável").fill("Fabrikam")
    page.get_by_role("button", name="Avançar").click()
    page.get_by_label("Tipo de ID do cliente").select_option("tpid")
    page.get_by_label("ID do cliente", exact=True).fill("12ab")
    page.get_by_role("button", name="Avançar").click()
    expect(page.locator("#customer_id-value-error")).to_have_text(
        "Um TPID contém apenas dígitos, por exemplo 1000000. (R4)"
    )
    shot(page, "wizard-errors-pt-tpid")

    page.get_by_label("Tipo de ID do cliente").select_option("tenant_id")
    page.get_by_label("ID do cliente", exact=True).fill(FABRIKAM)
    page.get_by_role("button", name="Avançar").click()
    page.get_by_role("button", name="Avançar").click()  # the engagements, as checked
    page.get_by_role("button", name="Avançar").click()  # the contacts, all empty
    expect(summary.get_by_role("link")).to_have_text(
        [
            "Informe o nome do contato do cliente. (R13)",
            "Informe o endereço de e-mail do contato do cliente no formato nome@exemplo.com. (R13)",
            "Informe o nome do contato do parceiro. (R13)",
            "Informe o endereço de e-mail do contato do parceiro no formato nome@exemplo.com. "
            "(R13)",
        ]
    )
    summary.get_by_role("link").nth(2).click()  # the summary leads to the field
    assert page.url.endswith("#contacts-partner-name")
    shot(page, "wizard-errors-pt-contacts")
    assert_page_accessible(page)
