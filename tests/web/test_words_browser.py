"""The wizard's refusals in a real browser, in Portuguese (SPEC 12): each problem a sentence
that names its field, every one in the summary at the top, linked to its field; kept as
screenshots (test-artefacts/screenshots/wizard-errors-pt-*.png) and checked by axe-core."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.factories import ADMIN_A, FABRIKAM, create
from tests.web.browser import LedgerWeb, assert_page_accessible, shot, sign_in

pytestmark = pytest.mark.browser


def test_the_wizards_errors_in_portuguese(page: Page, own_web: LedgerWeb) -> None:
    sign_in(page, own_web, ADMIN_A)
    page.goto(f"{own_web.url}/language?to=pt-BR&next=/engagements/E-WS/add")
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


def test_a_deal_size_typed_in_portuguese(page: Page, own_web: LedgerWeb) -> None:
    made = own_web.api(ADMIN_A).post(
        "/v1/claims", json=create(["E-AS"], name="Fabrikam BR").model_dump(mode="json")
    )
    assert made.status_code == 201, made.text
    claim = f"/claims/{made.json()['claims'][0]['claim_id']}"
    sign_in(page, own_web, ADMIN_A)
    page.goto(f"{own_web.url}/language?to=pt-BR&next={claim}")
    deal = page.get_by_label("Tamanho estimado do negócio (USD)")
    expect(page.locator("#deal_size_usd-hint")).to_contain_text("por exemplo 25.000,00")

    deal.fill("20,000")
    page.get_by_role("button", name="Enviar para consentimento").click()
    expect(page.locator(".error-summary").get_by_role("link")).to_have_text(
        [
            "Informe o tamanho estimado do negócio como um valor, por exemplo 25.000,00. (R21)",
            "Marque a caixa para aceitar o aviso de isenção de responsabilidade: só então o "
            "e-mail de consentimento é enviado. (R21)",
        ]
    )
    shot(page, "claim-consent-errors-pt")
    assert_page_accessible(page)

    page.get_by_label("Tamanho estimado do negócio (USD)").fill("15.000,50")
    page.get_by_label("Revisei os detalhes e aceito o aviso").check()
    page.get_by_role("button", name="Enviar para consentimento").click()
    awaiting = page.get_by_text("Aguardando resposta de consentimento do cliente")
    expect(awaiting.first).to_be_visible()
    expect(page.get_by_text("US$ 15.000,50").first).to_be_visible()
