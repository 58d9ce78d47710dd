"""The customer's consent page: the signed, single-use link of the consent e-mail, no sign-in
(R23, R24). Accept or decline; a used, superseded, late or tampered link says which.

The customer has no session, so the answer forms are bound to the link instead: each carries
a fresh form key and an HMAC of the key and the link under the app's signing key, and the form
key is the answer's idempotency key (the same form posted twice answers once)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ledger.aggregates.claim import Claim, ClaimState
from ledger.domain.commands import parse
from ledger.domain.errors import LedgerError
from ledger.interface.bodies import ConsentAnswer
from ledger.interface.dependencies import CommandRunnerDep
from ledger.interface.refusals import status_of
from ledger.service.ledger_base import ConsentRequest, Done, RequestKey
from ledger.words.consent import ConsentWords
from web.pages import FormDep, PageDep

router = APIRouter(include_in_schema=False)

# What each refusal of a link means to the customer (the page's wording, not a rule).
CASES = {
    "consent-link-invalid": "invalid",
    "consent-link-expired": "late",
    "deadline-passed": "late",
    "consent-link-superseded": "superseded",
    "consent-already-answered": "used",
}


def form_token(signing_key: str, token: str, form_key: str) -> str:
    """The hidden field that proves an answer form was rendered here for this link."""
    secret = hashlib.sha256(b"consent-form\0" + signing_key.encode()).digest()
    return hmac.new(secret, f"{form_key}\0{token}".encode(), hashlib.sha256).hexdigest()


def _new_form(page: PageDep, token: str) -> tuple[str, str]:
    key = secrets.token_urlsafe(18)
    return key, form_token(page.services.settings.signing_key(), token, key)


def _valid_form(page: PageDep, token: str, form_key: str, check: str) -> bool:
    expected = form_token(page.services.settings.signing_key(), token, form_key)
    return bool(form_key) and hmac.compare_digest(expected.encode(), check.encode())


def _case(error: LedgerError) -> str:
    if error.slug == "consent-already-answered":  # closed: answered, or closed another way
        state = error.extra.get("state")
        if state == ClaimState.CONSENT_EXPIRED.value:
            return "late"
        if state == ClaimState.CANCELLED.value:
            return "withdrawn"
    return CASES.get(error.slug, "closed")


def _closed(page: PageDep, error: LedgerError, **context: Any) -> HTMLResponse:
    """The page of a link that cannot be answered: which case it is, no buttons."""
    return page.render(
        "consent_closed.html", status_of(error), error=error, case=_case(error), **context
    )


def _request(page: PageDep, token: str) -> ConsentRequest:
    claim_id, link_id = page.services.consent_tokens.read(token, page.now)
    return page.services.ledger.consent_request(claim_id, link_id, page.now)


def _speak_to_the_contact(page: PageDep, token: str) -> None:
    """Every page of a link that names a claim of ours (a closed one too) speaks the language
    picked for the claim's customer contact, unless the reader picked another."""
    try:
        claim_id, _, _ = page.services.consent_tokens.names(token)
    except LedgerError:
        return  # not a link of ours: the browser's language
    claim = page.services.ledger.find(claim_id, Claim)
    if claim is not None:
        page.speak(claim.contacts.customer.language)


@router.get("/consent/{token}")
def consent(page: PageDep, token: str) -> Response:
    """Who asks, for what and what it gives the customer, what consenting means, the deal
    size and the deadline, in the customer contact's language; Accept and Decline when
    answerable."""
    _speak_to_the_contact(page, token)
    try:
        request = _request(page, token)
    except LedgerError as error:
        return _closed(page, error)
    if request.refusal is not None:
        return _closed(page, request.refusal, request=request)
    return page.render(
        "consent.html",
        request=request,
        words=ConsentWords(request.facts(), page.language),
        token=token,
        new_form=lambda: _new_form(page, token),
    )


@router.post("/consent/{token}")
def answer(page: PageDep, commands: CommandRunnerDep, form: FormDep, token: str) -> Response:
    """``Ledger.answer_consent`` once per rendered form, then the confirmation (303)."""
    _speak_to_the_contact(page, token)
    form_key = form.get("form_key")
    if not _valid_form(page, token, form_key, form.get("csrf")):
        return page.render("consent_closed.html", 403, error=None, case="forged")
    decision = form.get("decision")

    def act(request: RequestKey) -> Done[Response]:
        try:
            accept = parse(ConsentAnswer, {"decision": decision}).decision == "accept"
            claim_id, link_id = page.services.consent_tokens.read(token, page.now)
            ledger = page.services.ledger
            done = ledger.run(request, ledger.answer_consent, claim_id, link_id, accept, page.now)
        except LedgerError as error:
            return Done(_closed(page, error))
        return done.answering(RedirectResponse(f"/consent/{token}/done", status_code=303))

    return commands.run(
        "answer_consent",
        "consent:" + token[-40:],
        "form:" + form_key,
        f"consent {decision}",
        act,
        lambda done: done.result,
        lambda error: _closed(page, error),
    )


@router.get("/consent/{token}/done")
def done(page: PageDep, token: str) -> Response:
    """Thank you, for the answer recorded through this link; a link answered through nothing
    (yet) is sent back to its question, one closed another way gets the page that says so."""
    _speak_to_the_contact(page, token)
    try:
        claim_id, link_id, _ = page.services.consent_tokens.names(token)
        request = page.services.ledger.consent_request(claim_id, link_id, page.now)
    except LedgerError as error:
        return _closed(page, error)
    if request.answer is None:
        if request.refusal is not None:
            return _closed(page, request.refusal, request=request)
        return RedirectResponse(f"/consent/{token}", status_code=303)
    decision = "accept" if request.answer else "decline"
    return page.render("consent_done.html", request=request, decision=decision)
