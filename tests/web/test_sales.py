"""Referral pages: the partner's referrals and one referral (referral admins, R41), and the
co-sell referrals (sellers, R42)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from ledger.domain.principal import Principal, Role
from ledger.projections.pages import Page
from ledger.projections.referral_queries import ReferralRow
from tests.factories import ADMIN_A, ADMIN_B, NORTHWIND, REVIEWER, SELLER
from tests.web.client import Site, consent_requested

REFERRALS_A = Principal("ria@a.example", "P-A", frozenset({Role.REFERRAL_ADMIN}))
REFERRALS_B = Principal("rob@b.example", "P-B", frozenset({Role.REFERRAL_ADMIN}))


def referral_of(web: Site, claim_id: UUID) -> UUID:
    referral_id = web.services.read_models.claims.details(ADMIN_A, claim_id).referral_id
    assert referral_id is not None
    return referral_id


def consented(web: Site, claim_id: UUID) -> None:
    token = web.consent_token(claim_id)
    claim, link = web.services.consent_tokens.read(token, web.clock.now)
    web.services.ledger.answer_consent(claim, link, True, web.clock.now)
    web.services.workers.run_once()  # the co-sell policy


def test_the_referral_list_and_one_referral(web: Site) -> None:
    claim_id = consent_requested(web)  # Fabrikam, a $20,000.00 deal: a partner-led referral
    referral_id = referral_of(web, claim_id)
    web.sign_in(REFERRALS_A)
    listed = web.get("/referrals")
    assert listed.status_code == 200
    html = listed.text
    assert "<caption>Your partner&#39;s referrals</caption>" in html  # the page's own escaping
    assert f'<a href="/referrals/{referral_id}">Fabrikam</a>' in html
    for text in ("Migration workshop", "New", "Partner-led", "Marketing qualified", "$20,000.00"):
        assert text in html
    assert "Next page" not in html

    one = web.get(f"/referrals/{referral_id}")
    assert one.status_code == 200
    for text in (str(referral_id), str(claim_id), "Pending partner action", "Partner A"):
        assert text in one.text


def test_the_referral_list_pages_with_a_next_link(
    web: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    consent_requested(web)
    consent_requested(web, value=NORTHWIND, name="Northwind", customer_email="it@northwind.com")
    queries = web.services.read_models.referrals
    search = queries.search

    def one_a_page(principal: Principal, status: Any, cursor: Any, limit: int) -> Page[ReferralRow]:
        return search(principal, status, cursor, 1)

    monkeypatch.setattr(queries, "search", one_a_page)
    web.sign_in(REFERRALS_A)
    first = web.get("/referrals").text
    assert "Next page" in first and first.count('<a href="/referrals/') == 1
    link = first.split('<p><a href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    second = web.get("/referrals" + link).text
    assert "Next page" not in second and second.count('<a href="/referrals/') == 1
    assert ("Fabrikam" in first) != ("Fabrikam" in second)
    assert ("Northwind" in first) != ("Northwind" in second)


def test_another_partners_referral_is_a_404_page(web: Site) -> None:
    referral_id = referral_of(web, consent_requested(web))
    web.sign_in(REFERRALS_B)
    for path in (f"/referrals/{referral_id}", "/referrals/not-a-referral"):
        response = web.get(path)
        assert response.status_code == 404, path
        assert "text/html" in response.headers["content-type"]
        assert "no referral" in response.text and "Fabrikam" not in response.text
    assert "Fabrikam" not in web.get("/referrals").text  # nor is it listed


def test_the_co_sell_page_for_sellers(web: Site) -> None:
    claim_id = consent_requested(web)
    web.sign_in(SELLER)
    assert "No co-sell referral yet." in web.get("/co-sell").text
    consented(web, claim_id)  # Fabrikam is managed: the referral becomes co-sell
    page = web.get("/co-sell")
    assert page.status_code == 200
    html = page.text
    assert "<caption>Co-sell referrals</caption>" in html
    for text in ("Fabrikam", "Partner A", "Migration workshop", "Co-sell", "Sales qualified"):
        assert text in html
    assert "Pending seller engagement" in html


def test_each_page_is_for_its_role(web: Site) -> None:
    referral_id = referral_of(web, consent_requested(web))
    for principal, paths in (
        (SELLER, ["/referrals", f"/referrals/{referral_id}", "/referrals/nope"]),
        (ADMIN_A, ["/referrals", f"/referrals/{referral_id}", "/co-sell"]),
        (REVIEWER, ["/co-sell", "/referrals"]),
        (REFERRALS_A, ["/co-sell"]),
        (ADMIN_B, ["/co-sell"]),
    ):
        web.sign_in(principal)
        for path in paths:
            response = web.get(path)
            assert response.status_code == 403, (principal.user_id, path)
            assert "text/html" in response.headers["content-type"]
    web.sign_out()
    assert web.get("/co-sell").headers["location"] == "/sign-in?next=/co-sell"


def test_a_referral_in_portuguese_says_estado_and_subestado(web: Site) -> None:
    """The referral's status words as the rest of the site says a state ("Estado")."""
    referral_id = referral_of(web, consent_requested(web))
    web.sign_in(REFERRALS_A)
    web.client.headers["Accept-Language"] = "pt-BR"
    one = web.get(f"/referrals/{referral_id}").text
    assert "<dt>Estado</dt>" in one and "<dt>Subestado</dt>" in one
    assert "Substatus" not in one and ">Status<" not in one
    assert '<th scope="col">Estado</th>' in web.get("/referrals").text
