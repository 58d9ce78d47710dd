"""The customer's consent page: no sign-in, the signed single-use link (R23, R24), the answer
forms bound to the link, and a page that says why a link cannot be answered."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from uuid import UUID

from ledger.aggregates.claim import ClaimState
from ledger.domain.commands import Cancel
from ledger.words.i18n import Formats
from tests.conftest import Clock
from tests.factories import ADMIN_A, AUDITOR, NORTHWIND
from tests.web.client import Site, consent_requested, forms


def state(web: Site, claim_id: UUID) -> ClaimState:
    return web.read_models.claims.details(ADMIN_A, claim_id).state


def events(web: Site, claim_id: UUID) -> list[str]:
    return [h.event for h in web.read_models.claims.history(AUDITOR, claim_id)]


def no_buttons(html: str) -> bool:
    return "<button" not in html.split('<main id="main"', 1)[1] and not [
        f for f in forms(html) if f.action.startswith("/consent/")
    ]


def test_the_page_shows_who_asks_for_what_and_the_two_buttons(web: Site) -> None:
    claim_id = consent_requested(web)
    token = web.consent_token(claim_id)
    page = web.get(f"/consent/{token}")  # no session
    assert page.status_code == 200
    html = page.text
    request = web.services.ledger.consent_request(
        *web.services.consent_tokens.read(token, web.clock.now), web.clock.now
    )
    deadline = Formats("en").long_date(request.expires_at)
    hour = Formats("en").time(request.expires_at)
    for text in ("Partner A", "Migration workshop", "Fabrikam", "$20,000.00", deadline, hour):
        assert text in html
    accept = web.form(html, f"/consent/{token}", "accept")
    decline = web.form(html, f"/consent/{token}", "decline")
    assert accept.value("decision") == "accept" and decline.value("decision") == "decline"
    assert accept.value("form_key") != decline.value("form_key")
    assert ">Accept</button>" in html and ">Decline</button>" in html
    assert "Sign out" not in html


def visible(html: str) -> str:
    """The page's main text, tags removed and white space made single spaces."""
    main = html.split('<main id="main"', 1)[1].split(">", 1)[1]
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", main)).split())


def brazilian_contact() -> dict[str, dict[str, str]]:
    return {
        "customer": {"name": "Nina", "email": "it@northwind.com", "language": "pt-BR"},
        "partner": {"name": "Pat Partner", "email": "pat@a.example"},
    }


def test_the_page_speaks_the_language_picked_for_the_contact_until_the_reader_picks(
    web: Site,
) -> None:
    """SPEC 12: the customer contact's language, whatever the browser prefers; a link switches
    (the language cookie), and the page then speaks the one picked."""
    claim_id = consent_requested(
        web, value=NORTHWIND, name="Pilot up north", contacts=brazilian_contact()
    )
    token = web.consent_token(claim_id)
    page = web.get(f"/consent/{token}", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert page.status_code == 200 and '<html lang="pt-BR">' in page.text
    assert "US$" in page.text  # the deal size as a Brazilian reads it
    text = visible(page.text)
    assert (
        "Partner A pede que Northwind confirme o compromisso Migration workshop, para que "
        "Partner A possa solicitar o financiamento do programa para ele." in text
    )
    assert "Um workshop realizado por Partner A e financiado pelo programa" in text
    assert "Recusar não lhe custa nada e não muda mais nada" in text
    switch = f"/language?to=en&amp;next=/consent/{token}"
    assert f'<a href="{switch}" lang="en" hreflang="en">Read this page in English</a>' in (
        page.text
    )
    chosen = web.get(unescape(switch), follow_redirects=False)
    assert chosen.status_code == 303 and chosen.headers["location"] == f"/consent/{token}"
    english = web.get(f"/consent/{token}")
    assert '<html lang="en">' in english.text
    assert "Partner A asks Northwind to confirm the engagement" in visible(english.text)
    assert "Leia esta página em português" in english.text


def test_every_page_of_the_link_speaks_the_contacts_language(web: Site) -> None:
    """The thanks, a used link's page and a refused answer too, whatever the browser says."""
    claim_id = consent_requested(web, value=NORTHWIND, contacts=brazilian_contact())
    token = web.consent_token(claim_id)
    english = {"Accept-Language": "en"}
    asked = web.get(f"/consent/{token}", headers=english).text
    accept = web.form(asked, f"/consent/{token}", "accept")
    answered = web.post(f"/consent/{token}", accept.data(), headers=english)
    done = web.get(answered.headers["location"], headers=english)
    used = web.get(f"/consent/{token}", headers=english)
    forged = web.post(f"/consent/{token}", {"decision": "accept"}, headers=english)
    for page in (done, used, forged):
        assert '<html lang="pt-BR">' in page.text
    assert used.status_code == 409 and forged.status_code == 403


def test_the_page_names_the_customer_and_says_what_consenting_means(web: Site) -> None:
    """SPEC 12: the tenant's name, never the friendly name; who asks (partner and contact),
    what the engagement is and gives, what consenting means, that declining costs nothing,
    the deal size and the deadline."""
    claim_id = consent_requested(
        web, value=NORTHWIND, name="Pilot up north", customer_email="it@northwind.com"
    )
    token = web.consent_token(claim_id)
    page = web.get(f"/consent/{token}")
    text = visible(page.text)
    assert "Pilot up north" not in page.text  # the partner's own name for the claim
    for said in (
        "Partner A asks Northwind to confirm the engagement Migration workshop, so that "
        "Partner A may claim programme funding for it.",
        "Who asks Partner A Pat Partner · pat@a.example",
        f"Customer Northwind Tenant ID: {NORTHWIND}",
        "Engagement Migration workshop (Workshop)",
        "What it gives you A workshop delivered by Partner A and funded by the programme, at no "
        "cost to Northwind.",
        "If you accept, Partner A may claim programme funding for this engagement with "
        "Northwind, and Northwind is named to the programme, with your name and e-mail address "
        "as its contact.",
        "Declining costs you nothing and changes nothing else",
        "Estimated deal size $20,000.00",
        "Answer by " + Formats("en").long_date(web.clock.now + timedelta(days=30)),
    ):
        assert said in text, said


def test_accept_then_the_confirmation_and_the_claim_is_consent_received(web: Site) -> None:
    claim_id = consent_requested(web)
    token = web.consent_token(claim_id)
    accept = web.form(web.get(f"/consent/{token}").text, f"/consent/{token}", "accept")
    answered = web.post(f"/consent/{token}", accept.data())
    assert answered.status_code == 303, answered.text
    assert answered.headers["location"] == f"/consent/{token}/done"
    assert state(web, claim_id) is ClaimState.CONSENT_RECEIVED
    done = web.get(answered.headers["location"])
    assert done.status_code == 200
    assert "Thank you" in done.text
    assert "You accepted: Partner A may claim Migration workshop for Fabrikam." in done.text

    again = web.get(f"/consent/{token}")  # the same link again: used
    assert again.status_code == 409
    assert "This link was already used" in again.text and no_buttons(again.text)


def test_decline(web: Site) -> None:
    claim_id = consent_requested(web)
    token = web.consent_token(claim_id)
    decline = web.form(web.get(f"/consent/{token}").text, f"/consent/{token}", "decline")
    answered = web.post(f"/consent/{token}", decline.data())
    assert answered.headers["location"] == f"/consent/{token}/done"
    assert state(web, claim_id) is ClaimState.CONSENT_DECLINED
    assert "You declined" in web.get(answered.headers["location"]).text


def test_the_thanks_say_only_what_was_recorded_through_the_link(web: Site) -> None:
    """The confirmation reads the claim, not the address: before an answer it sends the
    customer back to the question, and a decision in the address changes nothing."""
    claim_id = consent_requested(web)
    token = web.consent_token(claim_id)
    for address in (f"/consent/{token}/done", f"/consent/{token}/done?decision=accept"):
        early = web.get(address)
        assert early.status_code == 303 and early.headers["location"] == f"/consent/{token}"
    assert state(web, claim_id) is ClaimState.AWAITING_CONSENT

    decline = web.form(web.get(f"/consent/{token}").text, f"/consent/{token}", "decline")
    web.post(f"/consent/{token}", decline.data())
    shown = web.get(f"/consent/{token}/done?decision=accept")
    assert shown.status_code == 200 and "You declined" in shown.text
    assert "You accepted" not in shown.text

    other = consent_requested(
        web, value=NORTHWIND, name="Northwind", customer_email="it@northwind.com"
    )
    other_token = web.consent_token(other)
    web.services.ledger.cancel(ADMIN_A, other, Cancel(), web.clock.now)
    closed = web.get(f"/consent/{other_token}/done")
    assert closed.status_code == 409 and "withdrawn" in closed.text and no_buttons(closed.text)


def test_the_same_form_posted_twice_makes_one_change(web: Site) -> None:
    claim_id = consent_requested(web)
    token = web.consent_token(claim_id)
    page = web.get(f"/consent/{token}").text
    accept = web.form(page, f"/consent/{token}", "accept")
    first = web.post(f"/consent/{token}", accept.data())
    second = web.post(f"/consent/{token}", accept.data())
    assert first.status_code == second.status_code == 303
    assert second.headers["location"] == first.headers["location"]
    assert events(web, claim_id).count("ConsentGiven") == 1

    # the other button of the same page, afterwards: refused by the claim, nothing changes
    decline = web.form(page, f"/consent/{token}", "decline")
    late = web.post(f"/consent/{token}", decline.data())
    assert late.status_code == 409 and "This link was already used" in late.text
    assert state(web, claim_id) is ClaimState.CONSENT_RECEIVED
    assert "Declined" not in events(web, claim_id)


def test_a_post_without_the_hidden_token_is_403_and_changes_nothing(web: Site) -> None:
    claim_id = consent_requested(web)
    token = web.consent_token(claim_id)
    accept = web.form(web.get(f"/consent/{token}").text, f"/consent/{token}", "accept")
    without = accept.data(without={"csrf"})
    forged = accept.data(answers={"csrf": "0" * 64})
    other_key = accept.data(answers={"form_key": "another-key"})
    for data in (without, forged, other_key, {"decision": "accept"}):
        response = web.post(f"/consent/{token}", data)
        assert response.status_code == 403
        assert "This answer cannot be accepted" in response.text and no_buttons(response.text)
    # the hidden token of one link does not answer through another
    other = web.consent_token(
        consent_requested(web, value=NORTHWIND, name="Northwind", customer_email="it@northwind.com")
    )
    assert web.post(f"/consent/{other}", accept.data()).status_code == 403
    assert state(web, claim_id) is ClaimState.AWAITING_CONSENT
    assert "ConsentGiven" not in events(web, claim_id)


def test_a_reminders_older_link_says_superseded(web: Site) -> None:
    claim_id = consent_requested(web)
    old = web.consent_token(claim_id)
    web.services.ledger.send_consent_reminder(ADMIN_A, claim_id, web.clock.now)
    web.services.workers.run_once()
    new = web.consent_token(claim_id)
    assert new != old
    page = web.get(f"/consent/{old}")
    assert page.status_code == 409
    assert "This link was replaced by a newer e-mail" in page.text and no_buttons(page.text)
    assert "R24" not in page.text  # words for the customer, not a rule id
    assert web.get(f"/consent/{new}").status_code == 200


def test_a_superseded_form_posted_is_refused(web: Site) -> None:
    claim_id = consent_requested(web)
    old = web.consent_token(claim_id)
    accept = web.form(web.get(f"/consent/{old}").text, f"/consent/{old}", "accept")
    web.services.ledger.send_consent_reminder(ADMIN_A, claim_id, web.clock.now)
    web.services.workers.run_once()
    refused = web.post(f"/consent/{old}", accept.data())
    assert refused.status_code == 409 and "replaced by a newer e-mail" in refused.text
    assert state(web, claim_id) is ClaimState.AWAITING_CONSENT


def test_a_late_link_says_late(web: Site, clock: Clock) -> None:
    claim_id = consent_requested(web)
    token = web.consent_token(claim_id)
    accept = web.form(web.get(f"/consent/{token}").text, f"/consent/{token}", "accept")
    deadline = web.read_models.claims.details(ADMIN_A, claim_id).running_deadline
    assert deadline is not None
    clock.now = deadline + timedelta(minutes=1)
    page = web.get(f"/consent/{token}")
    assert page.status_code == 409
    assert "This link has expired" in page.text and no_buttons(page.text)
    refused = web.post(f"/consent/{token}", accept.data())
    assert refused.status_code == 409 and "This link has expired" in refused.text
    web.services.workers.run_once(deadlines=True)  # the claim expires: the link is still late
    web.services.workers.views.catch_up()
    after = web.get(f"/consent/{token}")
    assert after.status_code == 409 and "This link has expired" in after.text
    assert state(web, claim_id) is ClaimState.CONSENT_EXPIRED


def test_a_tampered_token_says_not_valid(web: Site) -> None:
    token = web.consent_token(consent_requested(web))
    middle = len(token) // 2
    tampered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    for path in (f"/consent/{tampered}", "/consent/not-a-token", f"/consent/{tampered}/done"):
        page = web.get(path)
        assert page.status_code == 404, path
        assert "This link is not valid" in page.text and no_buttons(page.text)


def test_a_cancelled_claims_link_says_withdrawn(web: Site) -> None:
    claim_id = consent_requested(web)
    token = web.consent_token(claim_id)
    web.services.ledger.cancel(ADMIN_A, claim_id, Cancel(), web.clock.now)
    page = web.get(f"/consent/{token}")
    assert page.status_code == 409
    assert "This consent request was withdrawn" in page.text and no_buttons(page.text)


def test_a_hidden_token_that_is_not_ascii_is_403(web: Site) -> None:
    claim_id = consent_requested(web)
    token = web.consent_token(claim_id)
    accept = web.form(web.get(f"/consent/{token}").text, f"/consent/{token}", "accept")
    response = web.post(f"/consent/{token}", accept.data(answers={"csrf": "é" * 64}))
    assert response.status_code == 403
    assert state(web, claim_id) is ClaimState.AWAITING_CONSENT


def test_the_brand_on_the_consent_pages_leads_nowhere(web: Site) -> None:
    """The customer has no account: "/" would send them to the sign-in page."""
    claim_id = consent_requested(web)
    token = web.consent_token(claim_id)
    page = web.get(f"/consent/{token}").text
    accept = web.form(page, f"/consent/{token}", "accept")
    done = web.get(web.post(f"/consent/{token}", accept.data()).headers["location"]).text
    closed = web.get(f"/consent/{token}").text  # used: the closed page
    for html in (page, done, closed):
        assert '<span class="brand">Claim Ledger</span>' in html
        assert 'class="brand" href' not in html
    assert '<a class="brand" href="/">' in web.get("/sign-in").text  # elsewhere, it leads home
