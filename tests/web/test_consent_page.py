"""The customer's consent page: no sign-in, the signed single-use link (R23, R24), the answer
forms bound to the link, and a page that says why a link cannot be answered."""

from __future__ import annotations

from datetime import timedelta
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
    deadline = Formats("en").datetime(request.expires_at)
    for text in ("Partner A", "Migration workshop", "Fabrikam", "$20,000.00", deadline):
        assert text in html
    accept = web.form(html, f"/consent/{token}", "accept")
    decline = web.form(html, f"/consent/{token}", "decline")
    assert accept.value("decision") == "accept" and decline.value("decision") == "decline"
    assert accept.value("form_key") != decline.value("form_key")
    assert ">Accept</button>" in html and ">Decline</button>" in html
    assert "Sign out" not in html


def test_the_page_follows_the_browsers_language(web: Site) -> None:
    token = web.consent_token(consent_requested(web))
    page = web.get(f"/consent/{token}", headers={"Accept-Language": "pt-BR,pt;q=0.9"})
    assert page.status_code == 200 and '<html lang="pt-BR">' in page.text
    assert "US$" in page.text  # the deal size as a Brazilian reads it


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
