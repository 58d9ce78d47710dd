"""The Add customer and Claim customer wizards (SPEC 7), walked as a browser without
JavaScript walks them: each step a form posted back with the answers so far."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ledger.domain.commands import Cancel, CreateClaims, parse
from ledger.domain.customer_ids import CustomerId
from ledger.domain.principal import Principal
from ledger.runtime.erasure import forget
from tests.factories import (
    ADMIN_A,
    ADMIN_B,
    AUDITOR,
    FABRIKAM,
    LITWARE,
    NORTHWIND,
    USER_A1,
    consent_request,
    create,
    days,
)
from tests.web.client import Answers, Site

PLACE: Answers = {"friendly_name": "Fabrikam", "location_id": "LOC-A1"}
CONTACTS: Answers = {
    "contacts.customer.name": "Cora Customer",
    "contacts.customer.email": "cio@fabrikam.com",
    "contacts.partner.name": "Pat Partner",
    "contacts.partner.email": "pat@a.example",
}


def current_step(page: httpx.Response) -> str:
    """The step the step list marks as the current one."""
    found = re.search(
        r'<ol class="steps"[^>]*>.*?<li aria-current="step">([^<]*)</li>', page.text, re.S
    )
    assert found, page.text
    return found.group(1).strip()


def field_error(page: httpx.Response, field_id: str) -> str:
    """The message shown next to a field, which the field names as describing it."""
    found = re.search(rf'<p class="error" id="{field_id}-error">([^<]*)</p>', page.text)
    assert found, f"no error next to {field_id} in:\n{page.text}"
    assert re.search(rf'aria-describedby="[^"]*{field_id}-error', page.text)
    return found.group(1)


def value_of(page: httpx.Response, name: str) -> str:
    """What the page's form would send as ``name`` (what was typed, kept)."""
    return Site.form(page).value(name)


def walk_to(site: Site, engagement: str, *steps: Answers) -> httpx.Response:
    """Open the add wizard of ``engagement`` and answer ``steps`` in turn, each with Next."""
    page: httpx.Response = site.client.get(f"/engagements/{engagement}/add")
    for answers in steps:
        assert page.status_code == 200, page.text
        page = site.submit(page, "next", answers)
    return page


def customer(kind: str, value: str) -> Answers:
    return {"customer_id.type": kind, "customer_id.value": value}


def claims_made(site: Site) -> list[UUID]:
    return list(site.services.ledger.claim_ids())


def confirmed(site: Site, response: httpx.Response, engagement: str) -> list[UUID]:
    """The claims a 303 after Add customer names, as its confirmation page links them."""
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith(f"/engagements/{engagement}/added?claims=")
    ids = [UUID(part) for part in location.split("=", 1)[1].split(",")]
    page = site.client.get(location)
    assert page.status_code == 200, page.text
    for claim_id in ids:
        assert f'href="/claims/{claim_id}"' in page.text
    return ids


def test_the_whole_add_wizard_makes_the_claim_and_confirms_it(site: Site) -> None:
    first = site.client.get("/engagements/E-WS/add")
    assert current_step(first) == "1. Name and location"
    assert '<option value="LOC-A1"' in first.text and "LOC-A3" not in first.text  # not enrolled
    second = site.submit(first, "next", PLACE)
    assert current_step(second) == "2. Customer ID"
    assert all(f'value="{t}"' in second.text for t in ("domain", "tpid", "msx_opportunity_id"))

    third = site.submit(second, "next", customer("domain", "https://www.Fabrikam.com/about"))
    assert current_step(third) == "3. Engagements"
    form = site.form(third)
    assert form.get("engagement_ids") == ["E-WS"]  # the current engagement, checked by default
    assert 'value="E-AS"' in third.text  # eligible too, not checked

    back = site.submit(third, "back")  # Back keeps what was typed, and changes nothing
    assert current_step(back) == "2. Customer ID"
    assert value_of(back, "customer_id.value") == "https://www.Fabrikam.com/about"
    third = site.submit(back, "next")

    fourth = site.submit(third, "next")
    assert current_step(fourth) == "4. Contacts"
    assert "tenant_mismatch_reason" not in fourth.text  # asked for tenant ids only (R8)
    review = site.submit(fourth, "next", CONTACTS)
    assert current_step(review) == "5. Review"
    assert "Migration workshop" in review.text and "$5,000.00" in review.text
    assert "Data assessment" not in review.text
    assert claims_made(site) == []

    (claim_id,) = confirmed(site, site.submit(review, "add"), "E-WS")
    row = site.services.read_models.claims.details(ADMIN_A, claim_id)
    assert (row.engagement_id, row.friendly_name, row.origin) == ("E-WS", "Fabrikam", "added")
    assert (row.location_id, row.customer_id.key) == ("LOC-A1", "domain:fabrikam.com")
    assert str(row.contacts.customer.email) == "cio@fabrikam.com"


def test_several_engagements_make_one_claim_each(site: Site) -> None:
    page = walk_to(site, "E-WS", PLACE, customer("tenant_id", FABRIKAM))
    review = site.submit(
        site.submit(page, "next", {"engagement_ids": ["E-WS", "E-AS"]}), "next", CONTACTS
    )
    assert "$5,000.00" in review.text and "$2,500.00" in review.text
    made = confirmed(site, site.submit(review, "add"), "E-WS")
    rows = [site.services.read_models.claims.details(ADMIN_A, i) for i in made]
    assert sorted(r.engagement_id for r in rows) == ["E-AS", "E-WS"]


def test_a_malformed_customer_id_is_shown_next_to_its_field_and_kept(site: Site) -> None:
    page = walk_to(site, "E-WS", PLACE, customer("tenant_id", "not-a-guid"))
    assert page.status_code == 422
    assert current_step(page) == "2. Customer ID"
    message = field_error(page, "customer_id-value")
    assert "A tenant ID is a GUID, for example" in message and "(R4)" in message
    assert value_of(page, "customer_id.value") == "not-a-guid"
    assert re.search(r'<option value="tenant_id" selected', page.text)
    assert 'role="alert"' in page.text and 'href="#customer_id-value"' in page.text


def test_an_unknown_domain_asks_for_the_tenant_id_or_tpid(site: Site) -> None:
    page = walk_to(site, "E-WS", PLACE, customer("domain", "unknown.example"))
    assert page.status_code == 422
    message = field_error(page, "customer_id-value")
    assert "tenant ID or TPID instead. (R6)" in message
    assert value_of(page, "customer_id.value") == "unknown.example"


def test_a_refused_first_step_keeps_the_answers(site: Site) -> None:
    page = walk_to(site, "E-WS", {"friendly_name": "   ", "location_id": "LOC-A2"})
    assert page.status_code == 422 and current_step(page) == "1. Name and location"
    assert "(R3)" in field_error(page, "friendly_name")
    assert re.search(r'<option value="LOC-A2" selected', page.text)


def test_ineligible_engagements_are_listed_with_their_reasons(site: Site) -> None:
    page = walk_to(
        site, "E-AS", PLACE | {"friendly_name": "Litware"}, customer("tenant_id", LITWARE)
    )
    assert current_step(page) == "3. Engagements"
    eligible, ineligible = page.text.split("<caption>Ineligible</caption>")
    assert 'value="E-AS" checked' in eligible and 'value="E-WS"' not in eligible
    workshop = re.search(r"Migration workshop</th>\s*<td[^>]*>(.*?)</td>", ineligible, re.S)
    assert workshop, ineligible
    assert "does not meet the engagement&#39;s criteria (R9)" in workshop.group(1)
    assert "the customer&#39;s TPID would qualify" in workshop.group(1)  # R9's hint
    pilot = re.search(r"AI pilot</th>\s*<td[^>]*>(.*?)</td>", ineligible, re.S)
    assert pilot and "does not take this type of customer ID (R5)" in pilot.group(1)
    assert "criteria-not-met" not in page.text and "id-type-not-allowed" not in page.text


def test_variable_payout_asks_hours_and_reviews_the_proposed_payout(site: Site) -> None:
    page = walk_to(site, "E-VAR", PLACE, customer("msx_opportunity_id", "7-small00001"))
    assert site.form(page).get("engagement_ids") == ["E-VAR"]
    assert 'id="hours"' in page.text

    missing = site.submit(page, "next")
    assert missing.status_code == 422 and current_step(missing) == "3. Engagements"
    assert "(R12)" in field_error(missing, "hours")

    review = site.submit(site.submit(missing, "next", {"hours": "10"}), "next", CONTACTS)
    assert current_step(review) == "5. Review"
    assert "Proposed payout" in review.text and "$1,500.00" in review.text  # 10 h x 150
    assert "10 hours" in review.text
    (claim_id,) = confirmed(site, site.submit(review, "add"), "E-VAR")
    row = site.services.read_models.claims.details(ADMIN_A, claim_id)
    assert (row.hours, str(row.proposed_payout_usd)) == (10, "1500.00")


def test_a_variable_payout_engagement_is_chosen_alone(site: Site) -> None:
    """R12: the Ledger refuses a variable-payout engagement with another; the step shows it."""
    page = walk_to(site, "E-VAR", PLACE, customer("msx_opportunity_id", "7-SMALL00001"))
    refused = site.submit(page, "next", {"engagement_ids": ["E-VAR", "E-WS"], "hours": "10"})
    assert refused.status_code == 422 and current_step(refused) == "3. Engagements"
    assert "claimed on its own" in field_error(refused, "engagement_ids")
    assert value_of(refused, "hours") == "10"


def test_a_tenant_id_asks_a_reason_when_the_contact_is_outside_its_domains(site: Site) -> None:
    page = walk_to(site, "E-WS", PLACE, customer("tenant_id", FABRIKAM), {})
    assert current_step(page) == "4. Contacts"
    assert 'name="tenant_mismatch_reason"' in page.text
    elsewhere = CONTACTS | {"contacts.customer.email": "cora@gmail.example"}

    refused = site.submit(page, "next", elsewhere)
    assert refused.status_code == 422 and current_step(refused) == "4. Contacts"
    assert "(R8)" in field_error(refused, "tenant_mismatch_reason")
    assert value_of(refused, "contacts.customer.email") == "cora@gmail.example"
    assert claims_made(site) == []

    reason = "the CIO uses a personal address"
    review = site.submit(refused, "next", {"tenant_mismatch_reason": reason})
    assert current_step(review) == "5. Review" and reason in review.text
    (claim_id,) = confirmed(site, site.submit(review, "add"), "E-WS")
    claim = site.services.ledger.get_claim(ADMIN_A, claim_id)
    assert claim.terms.tenant_mismatch_reason == reason


def know(site: Site, principal: Principal = ADMIN_A) -> None:
    """Make Fabrikam (by tenant id) known to partner A: it consents to an assessment claim."""
    ledger = site.services.ledger
    (claim_id,) = ledger.create_claims(principal, create(["E-AS"]), days(0))
    link = ledger.request_consent(principal, claim_id, consent_request(), days(0))
    ledger.answer_consent(claim_id, link, True, days(0))
    site.services.workers.views.catch_up()


def test_claim_a_known_customer(site: Site) -> None:
    know(site)
    path = f"/engagements/E-WS/claim?customer={quote(f'tenant_id:{FABRIKAM}')}"
    page = site.client.get(path)
    assert page.status_code == 200, page.text
    assert "Claim customer" in page.text
    assert re.findall(r'<ol class="steps".*?</ol>', page.text, re.S)[0].count("<li") == 4
    assert current_step(page) == "1. Name and location"
    assert 'name="customer_id.value"' not in page.text  # the customer is given

    engagements = site.submit(page, "next", PLACE)
    assert current_step(engagements) == "2. Engagements"
    assert site.form(engagements).get("engagement_ids") == ["E-WS"]
    contacts = site.submit(engagements, "next")
    assert current_step(contacts) == "3. Contacts"
    review = site.submit(contacts, "next", CONTACTS)
    assert current_step(review) == "4. Review"

    made = site.submit(review, "add")
    (claim_id,) = confirmed(site, made, "E-WS")
    assert "Customer claimed" in site.client.get(made.headers["location"]).text
    row = site.services.read_models.claims.details(ADMIN_A, claim_id)
    assert (row.origin, row.engagement_id, row.customer_id.value) == ("claimed", "E-WS", FABRIKAM)


def test_claiming_a_customer_that_is_not_known_shows_the_ledgers_404(site: Site) -> None:
    path = f"/engagements/E-WS/claim?customer={quote(f'tenant_id:{FABRIKAM}')}"
    page = site.submit(site.submit(site.client.get(path), "next", PLACE), "next")
    refused = site.submit(page, "next", CONTACTS)
    assert refused.status_code == 404
    assert "No known customer has this ID: add the customer instead. (R15)" in refused.text
    assert claims_made(site) == []


def test_adding_a_known_customer_points_to_claiming_it(site: Site) -> None:
    know(site)
    page = walk_to(site, "E-WS", PLACE, customer("tenant_id", FABRIKAM), {})
    refused = site.submit(page, "next", CONTACTS)
    assert refused.status_code == 409 and current_step(refused) == "2. Customer ID"
    assert "claim it from the Eligible tab instead. (R15)" in refused.text


def test_posting_the_final_form_twice_makes_one_claim(site: Site) -> None:
    review = walk_to(site, "E-WS", PLACE, customer("tenant_id", FABRIKAM), {}, CONTACTS)
    first = site.submit(review, "add")
    again = site.submit(review, "add")
    assert again.status_code == 303
    assert again.headers["location"] == first.headers["location"]
    assert len(claims_made(site)) == 1


def test_a_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(site: Site) -> None:
    review = walk_to(site, "E-WS", PLACE, customer("tenant_id", FABRIKAM), {}, CONTACTS)
    form = site.form(review)
    forged = [(k, v) for k, v in form.data("add", {}) if k != "csrf"]
    assert site.post(form.action, forged).status_code == 403
    tampered = form.data("add", {"csrf": "0" * 64})
    assert site.post(form.action, tampered).status_code == 403
    assert claims_made(site) == []
    step = [(k, v) for k, v in site.form(walk_to(site, "E-WS")).data("next", PLACE) if k != "csrf"]
    assert site.post("/engagements/E-WS/add", step).status_code == 403


def test_the_wizard_needs_a_signed_in_partner_user(site: Site) -> None:
    site.client.cookies.clear()
    page = site.client.get("/engagements/E-WS/add")
    assert page.status_code == 303
    assert page.headers["location"] == "/sign-in?next=/engagements/E-WS/add"
    site.sign_in(Principal("rex@programme.example", None, frozenset()))
    assert site.client.get("/engagements/E-WS/add").status_code == 403
    site.sign_in(ADMIN_A)
    assert site.client.get("/engagements/E-NONE/add").status_code == 404


def test_the_confirmation_shows_only_the_partners_claims(site: Site) -> None:
    (claim_id,) = site.services.ledger.create_claims(ADMIN_A, create(), days(0))
    site.services.workers.views.catch_up()
    assert site.client.get(f"/engagements/E-WS/added?claims={claim_id}").status_code == 200
    assert site.client.get("/engagements/E-WS/added?claims=nonsense").status_code == 404
    site.sign_in(Principal("bea@b.example", "P-B", ADMIN_A.roles))
    assert site.client.get(f"/engagements/E-WS/added?claims={claim_id}").status_code == 404


# -- forms fill what is known ---------------------------------------------------------------


def made(
    site: Site,
    principal: Principal,
    contacts: Answers,
    engagement: str = "E-AS",
    day: int = 1,
    **kwargs: Any,
) -> UUID:
    """A claim ``principal`` made on ``day`` with these contacts, in the views."""
    body = create([engagement], **kwargs).model_dump(mode="json")
    for name, value in contacts.items():
        _, side, part = name.split(".")
        body["contacts"][side][part] = value
    command = parse(CreateClaims, body)
    (claim_id,) = site.services.ledger.create_claims(principal, command, days(day))
    site.services.workers.views.catch_up()
    return claim_id


def known_then_ended(site: Site) -> None:
    """Fabrikam known to partner A (Cora Customer), its assessment claim then cancelled: the
    partner may claim it again."""
    know(site)
    (first,) = site.services.ledger.claim_ids()
    site.services.ledger.cancel(ADMIN_A, first, Cancel(), days(0))
    site.services.workers.views.catch_up()


def contacts_step(site: Site, path: str, *steps: Answers) -> httpx.Response:
    """The wizard at ``path``, answered up to its Contacts step."""
    page: httpx.Response = site.client.get(path)
    for answers in steps:
        page = site.submit(page, "next", answers)
    assert current_step(page).endswith("Contacts"), page.text
    return page


THEIRS: Answers = {"contacts.partner.name": "Other Person", "contacts.partner.email": "o@a.example"}
MINE: Answers = {"contacts.partner.name": "Pat Newer", "contacts.partner.email": "pn@a.example"}


def test_the_partner_contact_is_the_one_this_user_gave_last(site: Site) -> None:
    first = contacts_step(site, "/engagements/E-WS/add", PLACE, customer("tenant_id", FABRIKAM), {})
    assert value_of(first, "contacts.partner.name") == ""  # nothing known yet: nothing offered
    made(site, ADMIN_A, CONTACTS)
    litware = {"value": LITWARE, "name": "Litware", "customer_email": "cio@litware.com"}
    made(site, ADMIN_A, MINE, day=2, **litware)  # this user's last claim
    northwind = {"value": NORTHWIND, "name": "Northwind", "customer_email": "cio@northwind.com"}
    made(site, USER_A1, THEIRS, day=3, **northwind)  # another user's, later

    page = contacts_step(site, "/engagements/E-WS/add", PLACE, customer("tenant_id", FABRIKAM), {})
    assert value_of(page, "contacts.partner.name") == "Pat Newer"
    assert value_of(page, "contacts.partner.email") == "pn@a.example"
    assert "Filled in from your last claim" in page.text
    assert value_of(page, "contacts.customer.email") == ""  # an added customer: not guessed

    cleared = site.submit(page, "next", {"contacts.partner.name": ""})  # what is typed stays
    assert value_of(cleared, "contacts.partner.name") == ""
    back = site.submit(site.submit(cleared, "back"), "next")
    assert value_of(back, "contacts.partner.name") == ""  # not filled in again


def test_claiming_a_known_customer_offers_its_last_customer_contact(site: Site) -> None:
    known_then_ended(site)
    dana = {"name": "Dana Newer", "email": "dana@fabrikam.com", "language": "pt-BR"}
    made(site, ADMIN_A, {f"contacts.customer.{k}": v for k, v in dana.items()}, origin="claimed")
    litware = {"value": LITWARE, "name": "L", "customer_email": "cio@litware.com"}
    made(site, ADMIN_A, {"contacts.customer.name": "Lee"}, day=2, **litware)  # another customer
    path = f"/engagements/E-WS/claim?customer={quote(f'tenant_id:{FABRIKAM}')}"
    page = contacts_step(site, path, PLACE, {})
    assert value_of(page, "contacts.customer.name") == "Dana Newer"
    assert value_of(page, "contacts.customer.email") == "dana@fabrikam.com"
    assert value_of(page, "contacts.customer.language") == "pt-BR"
    assert "Filled in from this customer&#39;s last claim" in page.text
    assert value_of(page, "contacts.partner.name") == "Pat Partner"
    review = site.submit(page, "next")
    assert current_step(review) == "4. Review" and "dana@fabrikam.com" in review.text
    assert 'value="add">Claim customer</button>' in review.text  # what the button does here


def test_an_erased_contact_is_never_offered(site: Site) -> None:
    known_then_ended(site)
    gone = {"customer.name": "Dana Gone", "customer.email": "dana@fabrikam.com"}
    gone["partner.email"] = "pat.gone@a.example"
    made(site, ADMIN_A, {f"contacts.{k}": v for k, v in gone.items()}, origin="claimed")
    for email in ("dana@fabrikam.com", "pat.gone@a.example"):
        forget(
            site.services.ledger, site.services.workers.views, site.settings.mail_directory(),
            AUDITOR, email, days(1),
        )  # fmt: skip
    path = f"/engagements/E-WS/claim?customer={quote(f'tenant_id:{FABRIKAM}')}"
    page = contacts_step(site, path, PLACE, {})
    assert "[erased]" not in page.text and "Dana Gone" not in page.text
    assert value_of(page, "contacts.customer.email") == "cio@fabrikam.com"  # the claim before
    assert value_of(page, "contacts.partner.email") == "pat@a.example"


def test_another_location_or_partner_offers_nothing_of_theirs(site: Site) -> None:
    made(site, ADMIN_A, CONTACTS, "E-WS", location="LOC-A2")
    contacts = site.services.read_models.contacts
    assert contacts.last_partner_contact(ADMIN_A) is not None
    assert contacts.last_partner_contact(USER_A1) is None  # another user, another location
    assert contacts.last_partner_contact(ADMIN_B) is None
    fabrikam = CustomerId.model_validate({"type": "tenant_id", "value": FABRIKAM})
    assert contacts.last_customer_contact(ADMIN_A, fabrikam) is not None
    assert contacts.last_customer_contact(USER_A1, fabrikam) is None  # only LOC-A1 for them
    assert contacts.last_customer_contact(ADMIN_B, fabrikam) is None
