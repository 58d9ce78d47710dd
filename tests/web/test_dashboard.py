"""The dashboard (partner roles) and the programme page (reviewers, auditors): charts drawn on
the server with the same numbers in a captioned table, in both languages (SPEC 13)."""

from __future__ import annotations

import re
from uuid import UUID

import pytest

from ledger.domain.commands import Review
from ledger.domain.principal import Principal
from tests.factories import ADMIN_A, ADMIN_B, AUDITOR, NORTHWIND, REVIEWER, SELLER, days
from tests.web.client import Site, submitted

PT = {"Accept-Language": "pt-BR"}


def approved(web: Site) -> UUID:
    claim_id = submitted(web)
    ledger, now = web.services.ledger, web.clock()
    ledger.review(REVIEWER, claim_id, Review(action="start"), now)
    web.clock.now = now + (days(2) - days(0))
    ledger.review(REVIEWER, claim_id, Review(action="approve"), web.clock())
    web.services.workers.run_once()
    return claim_id


def charts(html: str) -> list[str]:
    return re.findall(r'<svg[^>]*role="img"[^>]*aria-label="([^"]*)"', html)


def test_the_dashboard_shows_the_stages_payouts_and_what_needs_attention(web: Site) -> None:
    approved(web)
    waiting = web.awaiting(value=NORTHWIND, name="Northwind", customer_email="it@northwind.com")
    web.clock.now = web.clock() + (days(26) - days(0))  # the consent deadline within 7 days
    web.sign_in(ADMIN_A)
    html = web.get("/dashboard").text
    assert charts(html) == [
        "Claims that reached each stage",
        "Claims that dropped out",
        "Payouts approved and pending (USD)",
    ]
    assert "<script" not in html and " style=" not in html
    assert "<caption>Claims that reached each stage</caption>" in html
    assert re.search(
        r'data-label="Stage">Submitted for review</th><td data-label="Claims">1</td>', html
    )
    assert re.search(
        r'data-label="Payouts">Payouts approved</th><td data-label="Amount">\$5,000.00', html
    )
    assert re.search(
        r'data-label="Payouts">Payouts pending</th><td data-label="Amount">\$5,000.00', html
    )
    assert f'<a href="/claims/{waiting}">Northwind</a>' in html
    assert "Attention required" in html


def test_the_engagement_filter_narrows_every_figure(web: Site) -> None:
    approved(web)
    web.sign_in(ADMIN_A)
    html = web.get("/dashboard", params={"engagement": "E-AS"}).text
    assert "0 claims" in html and '<option value="E-AS" selected>' in html
    assert "1 claim" in web.get("/dashboard").text


def test_a_partner_sees_its_own_claims_only(web: Site) -> None:
    approved(web)
    web.sign_in(ADMIN_B)
    assert "0 claims" in web.get("/dashboard").text


def test_the_dashboard_in_portuguese(web: Site) -> None:
    approved(web)
    web.sign_in(ADMIN_A)
    html = web.get("/dashboard", headers=PT).text
    assert "Painel" in html and "Declarações que chegaram a cada etapa" in html
    assert "US$\xa05.000,00" in html and "Atenção necessária" in html
    assert "Reivindicadas ou adicionadas" in html


def test_the_home_page_links_the_dashboard(web: Site) -> None:
    web.sign_in(ADMIN_A)
    assert 'href="/dashboard"' in web.get("/").text


def test_the_programme_page_per_engagement(web: Site) -> None:
    approved(web)
    web.sign_in(REVIEWER)
    assert 'href="/programme"' in web.get("/").text
    html = web.get("/programme").text
    assert charts(html) == [
        "Claims by state: Migration workshop",
        "Payouts approved per month (USD): Migration workshop",
    ]
    assert re.search(r'data-label="Value">100%</td>', html)
    assert re.search(r'data-label="Value">2.0</td>', html)  # median and p90 of one review
    assert "March 2026" in html and "$5,000.00" in html
    pt = web.get("/programme", headers=PT).text
    assert "Taxa de aprovação" in pt and "março de 2026" in pt and "2,0" in pt


@pytest.mark.parametrize("principal", [SELLER, ADMIN_A])
def test_the_programme_is_for_reviewers_and_auditors(web: Site, principal: Principal) -> None:
    web.sign_in(principal)
    assert web.get("/programme").status_code == 403


@pytest.mark.parametrize("principal", [SELLER, REVIEWER, AUDITOR])
def test_the_dashboard_is_for_partner_roles(web: Site, principal: Principal) -> None:
    web.sign_in(principal)
    assert web.get("/dashboard").status_code == 403


def test_the_charts_stylesheet_is_served(web: Site) -> None:
    css = web.get("/charts.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert ".chart" in css.text and "#chart-" not in css.text


def test_an_engagement_the_catalog_does_not_have_is_the_not_found_page(web: Site) -> None:
    web.sign_in(ADMIN_A)
    page = web.get("/dashboard", params={"engagement": "NOPE"})
    assert page.status_code == 404
    assert "There is no engagement NOPE" in page.text
