"""The holes a probe of the page found, each shut: request text shown as markup, CSRF tokens that
fit any form, login CSRF, sessions that outlive sign-out, unlimited sign-in guessing, and a
refusal answered as the API's JSON."""

from __future__ import annotations

import logging
from datetime import timedelta
from urllib.parse import quote
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from ledger.aggregates.claim import ClaimState
from ledger.domain.access import AccessTokens
from ledger.domain.principal import Principal
from ledger.runtime.sessions import FAILURES_ALLOWED
from ledger.service.clock import utc_now
from tests.factories import ADMIN_A, FABRIKAM, REVIEWER, USER_A1
from tests.web.client import Site, consent_requested, sign_in_with
from web.session import COOKIE, SIGN_IN_COOKIE

INJECTED = '<h1 id="injected">Injected</h1><form id="evil" method="post"></form>'


def token_for(web: Site, principal: Principal) -> str:
    return AccessTokens(web.settings.signing_key()).mint(principal, timedelta(hours=1), utc_now())


def consent_received(web: Site) -> UUID:
    """A claim whose customer accepted: its page offers Submit claim."""
    claim_id = consent_requested(web)
    claim, link = web.services.consent_tokens.read(web.consent_token(claim_id), web.clock.now)
    web.services.ledger.answer_consent(claim, link, True, web.clock.now)
    web.services.workers.run_once()
    return claim_id


def state(web: Site, claim_id: UUID) -> ClaimState:
    return web.read_models.claims.details(ADMIN_A, claim_id).state


# -- F1: what a request carries is text on every page -----------------------------------


def test_request_text_never_reaches_a_page_as_markup(web: Site) -> None:
    """Every page that shows or translates part of its address, given markup there."""
    claim_id = consent_requested(web)
    mark = quote(INJECTED)
    addresses = [
        f"/engagements/E-WS/claim?customer={mark}",
        f"/engagements/E-WS/claim?customer={quote('tenant_id:')}{mark}",
        f"/engagements/E-WS/claim?customer={mark}:{quote(FABRIKAM)}",
        f"/engagements/E-WS/add?step={mark}",
        f"/engagements/{mark}/customers",
        f"/engagements/E-WS/customers?tab={mark}",
        f"/engagements/E-WS/customers?cursor={mark}",
        f"/engagements/E-WS/added?claims={mark}",
        f"/claims?customer={mark}&engagement={mark}&state={mark}&sort={mark}",
        f"/claims/{mark}",
        f"/claims/{claim_id}?as_of={mark}",
        f"/sign-in?next=/{mark}",
        f"/consent/{mark}",
        f"/consent/{mark}/done",
        f"/nowhere/{mark}",
    ]
    for principal in (ADMIN_A, REVIEWER):
        web.sign_in(principal)
        for address in [*addresses, f"/review?done={mark}", f"/review/{mark}"]:
            page = web.get(address)
            assert page.status_code < 500, (address, page.status_code)
            assert 'id="injected"' not in page.text and 'id="evil"' not in page.text, address


# -- F9: a CSRF token fits one form --------------------------------------------------------


def test_the_sign_out_forms_keys_fit_no_other_form(web: Site) -> None:
    claim_id = consent_received(web)
    web.sign_in(ADMIN_A)
    page = web.get(f"/claims/{claim_id}").text
    sign_out = web.form(page, "/sign-out")
    submission = web.form(page, f"/claims/{claim_id}/submission")
    references = [n for n, _ in submission.fields if n.endswith(".reference")]
    assert len(references) == 4
    typed = dict.fromkeys(references, "https://files.a.example/proof.pdf")
    posted = web.post(submission.action, submission.data(answers={**typed, **sign_out.keys()}))
    assert posted.status_code == 403 and "text/html" in posted.headers["content-type"]
    cancel = web.form(page, f"/claims/{claim_id}/cancellation#cancel")
    posted = web.post(submission.action, submission.data(answers={**typed, **cancel.keys()}))
    assert posted.status_code == 403
    assert state(web, claim_id) is ClaimState.CONSENT_RECEIVED
    assert web.post(submission.action, submission.data(answers=typed)).status_code == 303


def test_a_post_from_another_site_is_refused_with_good_keys(web: Site) -> None:
    claim_id = consent_requested(web)
    web.sign_in(ADMIN_A)
    address = f"/claims/{claim_id}/cancellation"
    cancel = web.form(web.get(f"/claims/{claim_id}").text, f"{address}#cancel")
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        posted = web.post(address, cancel.data(answers={"confirm": "yes"}), headers=headers)
        assert posted.status_code == 403, headers
    assert state(web, claim_id) is ClaimState.AWAITING_CONSENT


# -- F2: the sign-in form is ours, or nobody is signed in -------------------------------


def test_a_sign_in_not_posted_by_our_form_signs_nobody_in(web: Site) -> None:
    token = token_for(web, ADMIN_A)
    bare = web.client.post("/sign-in", data={"token": token}, follow_redirects=False)
    assert bare.status_code == 403 and COOKIE not in bare.cookies
    assert "This sign-in form was not the one this page gave you" in bare.text

    given = web.form(web.get("/sign-in"), "/sign-in")  # this browser's form and nonce
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        posted = web.post("/sign-in", given.data(answers={"token": token}), headers=headers)
        assert posted.status_code == 403 and COOKIE not in posted.cookies, headers

    other = TestClient(web.app, follow_redirects=False)  # another browser: another nonce
    theirs = web.form(other.get("/sign-in"), "/sign-in")
    assert web.post("/sign-in", theirs.data(answers={"token": token})).status_code == 403
    web.client.cookies.delete(SIGN_IN_COOKIE)
    assert web.post("/sign-in", given.data(answers={"token": token})).status_code == 403

    assert sign_in_with(web.client, token).status_code == 303


# -- F3: signing out ends the session -------------------------------------------------------


def test_sign_out_ends_the_session_and_its_cookie_is_worth_nothing(web: Site) -> None:
    token = token_for(web, ADMIN_A)
    assert sign_in_with(web.client, token).status_code == 303
    cookie = web.client.cookies.get(COOKIE)
    assert cookie and cookie != token and token not in cookie  # the browser holds no token
    assert web.get("/").status_code == 200

    sign_out = web.form(web.get("/").text, "/sign-out")
    assert web.post("/sign-out", sign_out.data()).status_code == 303

    replayed = TestClient(web.app, follow_redirects=False, cookies={COOKIE: cookie})
    assert replayed.get("/").headers["location"] == "/sign-in?next=/"
    assert replayed.get("/claims").status_code == 303
    as_bearer = replayed.get("/v1/claims", headers={"Authorization": f"Bearer {cookie}"})
    assert as_bearer.status_code == 401


# -- F6: guessing tokens is slowed down, and each refusal is logged -----------------------


def test_failed_sign_ins_lock_the_client_out_for_a_while(
    web: Site, caplog: pytest.LogCaptureFixture
) -> None:
    forged = AccessTokens("another-key-of-someone-else-long-enough").mint(
        Principal("mallory@x.example", "P-A", ADMIN_A.roles), timedelta(hours=1), utc_now()
    )
    with caplog.at_level(logging.INFO, logger="ledger.sign_in"):
        for _ in range(FAILURES_ALLOWED):
            assert sign_in_with(web.client, forged).status_code == 401
        locked = sign_in_with(web.client, token_for(web, ADMIN_A))
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert "Too many failed sign-ins from your address" in locked.text
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert "user=mallory@x.example client=testclient reason=The token is not valid" in (refusals[0])
    assert refusals[-1] == "sign-in refused: user=- client=testclient reason=too many failures"

    web.clock.now += timedelta(minutes=16)  # the failures leave the window
    assert sign_in_with(web.client, token_for(web, ADMIN_A)).status_code == 303
    assert sign_in_with(web.client, forged).status_code == 401  # counting starts afresh


# -- F10: a refusal on the wizard's last step is a page, not JSON ------------------------


def test_a_403_on_the_wizards_last_post_is_the_error_page(web: Site) -> None:
    web.sign_in(USER_A1)  # may use LOC-A1 only
    page = web.get("/engagements/E-WS/add")
    assert page.status_code == 200
    form = web.form(page.text, "/engagements/E-WS/add")
    fields = form.data(
        answers={
            "step": "review",
            "go": "add",
            "friendly_name": "Fabrikam",
            "location_id": "LOC-A2",
            "customer_id.type": "tenant_id",
            "customer_id.value": FABRIKAM,
            "engagement_ids": "E-WS",
            "contacts.customer.name": "Cora Customer",
            "contacts.customer.email": "cio@fabrikam.com",
            "contacts.partner.name": "Pat Partner",
            "contacts.partner.email": "pat@a.example",
        }
    )
    answer = web.post("/engagements/E-WS/add", fields)
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert list(web.services.ledger.claim_ids()) == []
