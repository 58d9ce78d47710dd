"""Words for people (SPEC 12) on the page, in Portuguese: every mistake a person can make in
the wizard and on a claim's forms is said in a sentence that names the field and says what to
do, every problem of a form listed; the amounts read as the page's language writes them; the
Ineligible reasons, the 403 page, the sign-in and the consent link's closed pages in words."""

from __future__ import annotations

import html
import re
from decimal import Decimal
from uuid import UUID

import httpx
import pytest

from ledger.domain.principal import Principal, Role
from ledger.words.i18n import COOKIE
from tests.factories import ADMIN_A, FABRIKAM, LITWARE
from tests.web.client import Site, sign_in_with
from tests.web.test_claims import action_form, error_of, form, section
from tests.web.test_wizard import CONTACTS, PLACE, current_step, customer, field_error, walk_to

EMPTY_CONTACTS = dict.fromkeys(CONTACTS, "")


def in_portuguese(site: Site) -> Site:
    """The browser asks for Portuguese (its header; signing in clears the language cookie)."""
    site.client.headers["Accept-Language"] = "pt-BR,pt;q=0.9,en-US;q=0.8,en;q=0.7"
    return site


@pytest.fixture
def pt(site: Site) -> Site:
    """The page signed in as ADMIN_A, in Portuguese (the header's language switch)."""
    return in_portuguese(site)


def summary(page: httpx.Response) -> list[tuple[str | None, str]]:
    """The error summary at the top: each problem's anchor (the field it links to) and text."""
    found = re.search(r'<div class="error-summary".*?</ul>', page.text, re.S)
    assert found, page.text
    items = re.findall(r'<li>(?:<a href="#([^"]+)">)?([^<]*)', found.group(0))
    return [(anchor or None, html.unescape(text).strip()) for anchor, text in items]


def shown(page: httpx.Response, field_id: str) -> str:
    return html.unescape(field_error(page, field_id))


LIBRARY_TEXT = ("should", "valid decimal", "at least 1", "value is not", "Error", "String")


def assert_words_only(page: httpx.Response) -> None:
    """No library text, slug or internal name in what the page says."""
    said = " ".join(text for _, text in summary(page))
    for text in (*LIBRARY_TEXT, "tenant_id", "criteria-not-met", "msx_opportunity_id"):
        assert text not in said, said


# -- the wizard ----------------------------------------------------------------------------


def test_an_empty_name_asks_for_the_friendly_name(pt: Site) -> None:
    page = walk_to(pt, "E-WS", {"friendly_name": "", "location_id": "LOC-A1"})
    assert page.status_code == 422 and current_step(page) == "1. Nome e local"
    assert shown(page, "friendly_name") == "Informe o nome amigável. (R3)"
    assert summary(page) == [("friendly_name", "Informe o nome amigável. (R3)")]
    assert_words_only(page)


def test_a_tpid_with_letters_says_what_a_tpid_is(pt: Site) -> None:
    page = walk_to(pt, "E-WS", PLACE, customer("tpid", "12ab"))
    assert page.status_code == 422 and current_step(page) == "2. ID do cliente"
    message = "Um TPID contém apenas dígitos, por exemplo 1000000. (R4)"
    assert shown(page, "customer_id-value") == message
    assert summary(page) == [("customer_id-value", message)]


def test_no_engagement_ticked_asks_for_one(pt: Site) -> None:
    engagements = walk_to(pt, "E-WS", PLACE, customer("tenant_id", FABRIKAM))
    assert current_step(engagements) == "3. Compromissos"
    page = pt.submit(engagements, "next", {"engagement_ids": []})
    assert page.status_code == 422 and current_step(page) == "3. Compromissos"
    assert shown(page, "engagement_ids") == "Escolha pelo menos um compromisso."
    assert_words_only(page)


def test_empty_contacts_list_every_field_by_its_name(pt: Site) -> None:
    contacts = walk_to(pt, "E-WS", PLACE, customer("tenant_id", FABRIKAM), {})
    assert current_step(contacts) == "4. Contatos"
    page = pt.submit(contacts, "next", EMPTY_CONTACTS)
    assert page.status_code == 422 and current_step(page) == "4. Contatos"
    assert summary(page) == [
        ("contacts-customer-name", "Informe o nome do contato do cliente. (R13)"),
        (
            "contacts-customer-email",
            "Informe o endereço de e-mail do contato do cliente no formato nome@exemplo.com. (R13)",
        ),
        ("contacts-partner-name", "Informe o nome do contato do parceiro. (R13)"),
        (
            "contacts-partner-email",
            "Informe o endereço de e-mail do contato do parceiro no formato "
            "nome@exemplo.com. (R13)",
        ),
    ]
    assert shown(page, "contacts-partner-name") == "Informe o nome do contato do parceiro. (R13)"
    assert_words_only(page)


def test_a_bad_address_is_said_without_the_validators_words(pt: Site) -> None:
    contacts = walk_to(pt, "E-WS", PLACE, customer("tenant_id", FABRIKAM), {})
    page = pt.submit(contacts, "next", CONTACTS | {"contacts.customer.email": "cora@"})
    assert page.status_code == 422
    assert shown(page, "contacts-customer-email") == (
        "Informe o endereço de e-mail do contato do cliente no formato nome@exemplo.com. (R13)"
    )
    assert "There must be something" not in page.text and "@-sign" not in page.text


def test_hours_are_whole_numbers_read_in_the_pages_language(pt: Site) -> None:
    engagements = walk_to(pt, "E-VAR", PLACE, customer("msx_opportunity_id", "7-SMALL00001"))
    page = pt.submit(engagements, "next", {"hours": "10,5"})
    assert page.status_code == 422
    assert shown(page, "hours") == "Informe as horas como um número inteiro, por exemplo 40. (R12)"
    contacts = pt.submit(page, "next", {"hours": "10"})
    assert current_step(contacts) == "4. Contatos"


def test_ineligible_engagements_give_their_reasons_and_hints_in_words(pt: Site) -> None:
    page = walk_to(pt, "E-AS", PLACE | {"friendly_name": "Litware"}, customer("tenant_id", LITWARE))
    ineligible = html.unescape(page.text.split("<caption>Não qualificado</caption>")[1])
    workshop = re.search(r"Migration workshop</th>\s*<td[^>]*>(.*?)</td>", ineligible, re.S)
    assert workshop, ineligible
    assert "O cliente não atende aos critérios de qualificação do compromisso (R9)" in (
        workshop.group(1)
    )
    assert f"ID do locatário {LITWARE} não está na lista de clientes qualificados" in (
        workshop.group(1)
    )
    assert "o TPID do cliente se qualificaria" in workshop.group(1)
    pilot = re.search(r"AI pilot</th>\s*<td[^>]*>(.*?)</td>", ineligible, re.S)
    assert pilot and "Este compromisso não aceita este tipo de ID de cliente (R5)" in pilot.group(1)
    assert "Este compromisso aceita apenas o ID da oportunidade MSX do cliente" in pilot.group(1)
    for slug in ("criteria-not-met", "id-type-not-allowed", "tenant_id", "tpid "):
        assert slug not in ineligible


# -- the claim's consent request: amounts as people type them ------------------------------


def test_a_deal_size_is_read_as_portuguese_writes_it(pt: Site) -> None:
    claim_id = pt.new_claim()
    page = pt.get(f"/claims/{claim_id}")
    assert "por exemplo 25.000,00" in section(page.text, "request_consent")

    refused = pt.post(
        f"/claims/{claim_id}/consent-request",
        form(pt, claim_id, "request_consent").data(answers={"deal_size_usd": "20,000"}),
    )
    assert refused.status_code == 422
    assert summary(refused) == [
        (
            "deal_size_usd",
            "Informe o tamanho estimado do negócio como um valor, por exemplo 25.000,00. (R21)",
        ),
        (
            "disclaimer_accepted",
            "Marque a caixa para aceitar o aviso de isenção de responsabilidade: só então o "
            "e-mail de consentimento é enviado. (R21)",
        ),
    ]
    assert "25.000,00" in error_of(refused.text, "deal_size_usd")
    assert pt.state(claim_id) == "customer_claimed"

    sent = pt.post(
        f"/claims/{claim_id}/consent-request",
        action_form(refused.text, "request_consent").data(
            answers={"deal_size_usd": "15.000,50", "disclaimer_accepted": "true"}
        ),
    )
    assert sent.status_code == 303, sent.text
    row = pt.read_models.claims.details(ADMIN_A, claim_id)
    assert row.deal_size_usd == Decimal("15000.50")
    assert re.search(r"US\$\s15\.000,50", html.unescape(pt.get(f"/claims/{claim_id}").text))


@pytest.mark.parametrize(
    ("language", "typed"),
    [("en", "15,000.50"), ("en", "15000.50"), ("pt-BR", "15000.50"), ("pt-BR", "15.000,50")],
)
def test_a_deal_size_as_each_language_writes_it_or_plain(
    site: Site, language: str, typed: str
) -> None:
    site.client.cookies.set(COOKIE, language)
    claim_id = site.new_claim()
    answers = {"deal_size_usd": typed, "disclaimer_accepted": "true"}
    sent = site.post(
        f"/claims/{claim_id}/consent-request",
        form(site, claim_id, "request_consent").data(answers=answers),
    )
    assert sent.status_code == 303, sent.text
    assert site.read_models.claims.details(ADMIN_A, claim_id).deal_size_usd == Decimal("15000.50")


def test_an_english_page_gives_its_example_in_english(site: Site) -> None:
    claim_id = site.new_claim()
    answers = {"deal_size_usd": "15.000,50", "disclaimer_accepted": "true"}
    refused = site.post(
        f"/claims/{claim_id}/consent-request",
        form(site, claim_id, "request_consent").data(answers=answers),
    )
    assert refused.status_code == 422
    assert error_of(refused.text, "deal_size_usd") == (
        "Enter the estimated deal size as an amount, for example 25,000.00. (R21)"
    )


# -- pages without a form: 403, sign-in, the customer's closed link ---------------------------


def test_the_403_page_says_which_role_is_needed(web: Site) -> None:
    in_portuguese(web).sign_in(Principal("rex@programme.example", None, frozenset()))
    page = web.get("/engagements/E-WS/add")
    assert page.status_code == 403
    assert (
        "Isto exige o papel de Administrador de incentivos ou Usuário de incentivos. (R1)"
        in html.unescape(page.text)
    )
    assert "incentives_admin" not in page.text


def test_a_bad_token_is_refused_in_words(web: Site) -> None:
    in_portuguese(web)
    refused = sign_in_with(web.client, "not-a-token")
    assert refused.status_code == 401
    text = html.unescape(refused.text)
    assert "O token não é válido: cole o token inteiro, exatamente como foi impresso." in text
    assert "DecodeError" not in text and "Error" not in text


def closed(web: Site, token: str) -> str:
    web.client.cookies.set(COOKIE, "pt-BR")  # the customer chose Portuguese on the page
    page = web.get(f"/consent/{token}")
    assert page.status_code == 409 and '<html lang="pt-BR">' in page.text
    assert not re.search(r"\(R\d+\)", page.text), "a rule id on the customer's page"
    return html.unescape(page.text)


def consent_link(web: Site) -> tuple[UUID, str]:
    claim_id = web.awaiting()
    web.services.workers.run_once()
    return claim_id, web.consent_token(claim_id)


def test_a_used_and_a_superseded_link_say_so_to_the_customer(web: Site) -> None:
    claim_id, token = consent_link(web)
    ledger, now = web.services.ledger, web.clock.now
    web.services.ledger.send_consent_reminder(ADMIN_A, claim_id, now)
    web.services.workers.run_once()
    newest = web.consent_token(claim_id)
    assert "Este link foi substituído por um e-mail mais recente" in closed(web, token)

    link_claim, link = web.services.consent_tokens.read(newest, now)
    ledger.answer_consent(link_claim, link, True, now)
    assert "Este link já foi usado" in closed(web, newest)


def title_and_heading(page: httpx.Response) -> tuple[str, str]:
    """The page's <title> (without the site's name) and its heading."""
    title = re.search(r"<title>(.*?) · ", page.text, re.S)
    heading = re.search(r"<h1>(.*?)</h1>", page.text, re.S)
    assert title and heading
    return html.unescape(title.group(1)), html.unescape(heading.group(1))


def test_an_error_pages_title_says_what_its_heading_says(site: Site) -> None:
    """405 says in words that the address takes no such request; 404 is not found; the
    <title> and the heading agree on each (in each language)."""
    wrong = site.get("/sign-out")
    assert wrong.status_code == 405
    said = "This address does not take this kind of request"
    assert title_and_heading(wrong) == (said, said)
    missing = site.get("/no/such/page")
    assert missing.status_code == 404
    assert title_and_heading(missing) == ("Page not found", "Page not found")
    in_portuguese(site)
    wrong = site.get("/sign-out")
    said = "Este endereço não aceita este tipo de pedido"
    assert title_and_heading(wrong) == (said, said)
    assert "Página não encontrada" not in wrong.text


@pytest.mark.parametrize("roles", [{"reviewer"}, {"auditor"}, {"referral_admin"}, {"seller"}])
def test_programme_roles_are_sent_back_to_the_home_page_not_the_engagements(
    web: Site, roles: set[str]
) -> None:
    web.sign_in(Principal("rex@programme.example", None, frozenset(Role(r) for r in roles)))
    for path in ("/no/such/page", "/engagements/E-WS/add"):
        page = web.get(path)
        assert page.status_code in (403, 404), path
        assert '<a href="/">Back to the home page</a>' in page.text
        assert "Back to the engagements" not in page.text


def test_partner_users_are_sent_back_to_the_engagements(site: Site) -> None:
    page = site.get("/no/such/page")
    assert '<a href="/">Back to the engagements</a>' in page.text
