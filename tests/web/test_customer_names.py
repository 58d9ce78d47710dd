"""SPEC 12 on the page: wherever a customer is meant (the Customers tabs, the claims list and
its CSV, the claim page, the review, the wizard's last step) the customer is the directory's
name of its tenant with its id; the friendly name names the claim; ``/claims?customer=``
finds a claim by the customer's name; a claim that recorded no name shows its id alone."""

from __future__ import annotations

import csv
import io
import re
from html import unescape
from uuid import UUID

import pytest

from ledger.domain.commands import Review
from ledger.domain.eligibility import Resolution
from tests.factories import FABRIKAM, NORTHWIND, REVIEWER
from tests.web.client import Site, submitted


def visible(html: str) -> str:
    """The page's main text, tags removed and white space made single spaces."""
    main = html.split('<main id="main"', 1)[1].split(">", 1)[1]
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", main)).split())


def pilot(site: Site) -> UUID:
    """A Northwind claim whose friendly name says nothing of Northwind."""
    return site.new_claim(
        ["E-AS"], value=NORTHWIND, name="Pilot up north", customer_email="it@northwind.com"
    )


def rows(html: str) -> list[str]:
    """Each body row of the page's table, as visible text."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [visible('<main id="main">' + r) for r in body.split("</tr>") if "<t" in r]


def test_the_claims_list_finds_a_claim_by_its_customers_name_and_shows_both_names(
    site: Site,
) -> None:
    north = pilot(site)
    site.new_claim(["E-WS"], name="Lakes")  # Fabrikam's
    page = site.get("/claims?customer=Northwind")
    assert page.status_code == 200
    (row,) = rows(page.text)
    assert row.startswith(f"Pilot up north {str(north)[:8]} Northwind Tenant ID: {NORTHWIND}")
    assert f'href="/claims/{north}"' in page.text
    assert rows(site.get("/claims?customer=northw").text) == [row]
    assert rows(site.get("/claims?customer=up+north").text) == [row]
    text = site.get("/claims.csv?customer=Northwind").text
    (record,) = csv.DictReader(io.StringIO(text))
    assert (record["friendly_name"], record["customer_name"]) == ("Pilot up north", "Northwind")


def test_the_customers_tabs_name_the_customer_and_the_claim_apart(site: Site) -> None:
    site.consented(engagements=["E-AS"], name="First engagement")  # Fabrikam, known now
    north = pilot(site)
    eligible = site.get("/engagements/E-WS/customers?tab=eligible").text
    (known,) = rows(eligible)
    assert known.startswith(f"Fabrikam Tenant ID: {FABRIKAM} — ")  # a customer, no claim yet
    assert "First engagement" not in known
    assert "Claim customer" in known
    assessment = rows(site.get("/engagements/E-AS/customers?tab=eligible").text)
    assert f"Northwind Tenant ID: {NORTHWIND} Pilot up north" in " | ".join(assessment)
    assert (
        f'<a href="/claims/{north}">Pilot up north</a>'
        in site.get("/engagements/E-AS/customers").text
    )


def test_the_claim_page_and_the_review_name_the_customer(site: Site) -> None:
    claim_id = submitted(
        site, value=NORTHWIND, name="Pilot up north", customer_email="it@northwind.com"
    )
    details = visible(site.get(f"/claims/{claim_id}").text)
    assert details.startswith("Claims")
    assert "Pilot up north Northwind · Migration workshop" in details  # the heading
    assert f"Customer Northwind Tenant ID: {NORTHWIND}" in details
    site.sign_out()
    site.sign_in(REVIEWER)
    site.services.ledger.review(REVIEWER, claim_id, Review(action="start"), site.clock())
    review = visible(site.get(f"/review/{claim_id}").text)
    assert f"Customer Northwind · Tenant ID: {NORTHWIND}" in review
    assert "Claim Pilot up north" in review
    queue = visible(site.get("/review").text)
    assert f"Customer Northwind · Tenant ID: {NORTHWIND}" in queue


def test_a_claim_that_recorded_no_name_shows_its_customer_id_alone(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a claim made before names were recorded (its first event's version 1) reads."""
    monkeypatch.setattr(Resolution, "customer_name", property(lambda self: None))
    claim_id = site.new_claim(["E-WS"], name="Lakes")
    listed = rows(site.get("/claims").text)
    assert listed[0].startswith(f"Lakes {str(claim_id)[:8]} Tenant ID: {FABRIKAM} ")
    details = visible(site.get(f"/claims/{claim_id}").text)
    assert f"Lakes {FABRIKAM} · Migration workshop" in details
    assert f"Customer Tenant ID: {FABRIKAM}" in details
    assert "None" not in details
    (tab_row,) = rows(site.get("/engagements/E-WS/customers").text)
    assert tab_row.startswith(f"Tenant ID: {FABRIKAM} Lakes ")


def test_the_wizards_last_page_names_the_customer_and_the_claim(site: Site) -> None:
    page = site.client.get("/engagements/E-AS/add")
    for answers in (
        {"friendly_name": "Pilot up north", "location_id": "LOC-A1"},
        {"customer_id.type": "domain", "customer_id.value": "northwind.com"},
        {},
        {
            "contacts.customer.name": "Nina",
            "contacts.customer.email": "it@northwind.com",
            "contacts.partner.name": "Pat Partner",
            "contacts.partner.email": "pat@a.example",
        },
    ):
        page = site.submit(page, "next", answers)
    added = site.submit(page, "add")
    assert added.status_code == 303, added.text
    (row,) = rows(site.get(added.headers["location"]).text)
    assert "Data assessment Pilot up north Northwind Domain name: northwind.com" in row
