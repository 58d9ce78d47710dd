"""Signing in and out, and choosing the language."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

import jwt
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from ledger.domain.access import InvalidTokenError
from ledger.runtime.sessions import SignedIn
from ledger.words import i18n
from web.pages import Fields, FormDep, PageDep
from web.session import (
    end_session,
    keep_sign_in_nonce,
    safe_next,
    same_origin,
    sign_in_form_is_ours,
    sign_in_form_keys,
    start_session,
)

router = APIRouter(include_in_schema=False)
log = logging.getLogger("ledger.sign_in")


def secure(page: PageDep) -> bool:
    """Secure cookies when the site is served over https (LEDGER_PUBLIC_URL)."""
    return page.services.settings.public_url.startswith("https://")


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def sign_in_page(page: PageDep, status: int = 200, **context: object) -> Response:
    """The sign-in form with its CSRF token (bound to the browser's sign-in cookie), and the
    identity provider's sign-in when it is set up."""
    nonce, csrf = sign_in_form_keys(page.request, page.services.settings.signing_key())
    flow = page.services.access_tokens.flow  # the identity provider's sign-in, when set up
    provider = flow.provider_name if flow else None
    response = page.render("sign_in.html", status, csrf=csrf, provider=provider, **context)
    return keep_sign_in_nonce(response, nonce, secure(page))


@router.get("/sign-in")
def sign_in_form(page: PageDep, next: Annotated[str | None, Query()] = None) -> Response:
    return sign_in_page(page, next=safe_next(next))


@router.post("/sign-in")
def sign_in(page: PageDep, form: FormDep) -> Response:
    """Start a session for a valid token posted by our own form; a client that keeps failing
    waits (429) before its next try is read."""
    target, client = safe_next(form.get("next")), client_of(page.request)
    refused = _refused_before_the_token(page, form, target, client)
    if refused is not None:
        return refused
    sign_ins, token = page.services.sign_ins, form.get("token").strip()
    try:
        principal = page.services.access_tokens.principal(token)
    except InvalidTokenError as error:
        sign_ins.failed(client, page.now)
        reason = f"{error} ({error.cause})" if error.cause else str(error)
        log.warning(
            "sign-in refused: user=%s client=%s reason=%s", _claimed_user(token), client, reason
        )
        token_error = error.say(page.language)
        return sign_in_page(page, 401, next=target, problem="token", token_error=token_error)
    sign_ins.succeeded(client)
    log.info("signed in: user=%s client=%s", principal.user_id, client)
    expires = int(jwt.decode(token, options={"verify_signature": False})["exp"])
    signed_in = SignedIn(principal, datetime.fromtimestamp(expires, page.now.tzinfo))
    return start_session(target, signed_in, sign_ins, secure(page), page.now)


def _refused_before_the_token(
    page: PageDep, form: Fields, target: str, client: str
) -> Response | None:
    """A client locked out by its failures (429), or a form that is not ours (403)."""
    locked = locked_out(page, target, client)
    if locked is not None:
        return locked
    settings = page.services.settings
    if same_origin(page.request, settings.public_url) and sign_in_form_is_ours(
        page.request, settings.signing_key(), form.get("csrf")
    ):
        return None
    log.warning("sign-in refused: user=- client=%s reason=the form is not ours (CSRF)", client)
    return sign_in_page(page, 403, next=target, problem="form")


def locked_out(page: PageDep, target: str, client: str) -> Response | None:
    """The sign-in page (429) for a client whose sign-ins keep failing, until it may retry."""
    waiting = page.services.sign_ins.locked_for(client, page.now)
    if waiting is None:
        return None
    log.warning("sign-in refused: user=- client=%s reason=too many failures", client)
    minutes = max(1, round(waiting.total_seconds() / 60))
    response = sign_in_page(page, 429, next=target, problem="locked", minutes=minutes)
    response.headers["Retry-After"] = str(int(waiting.total_seconds()))
    return response


def _claimed_user(token: str) -> str:
    """Who a refused token says it is (unverified: for the log line only)."""
    try:
        claimed = jwt.decode(token, options={"verify_signature": False}).get("sub", "-")
    except jwt.PyJWTError:
        return "-"
    return str(claimed).replace("\n", " ").replace("\r", " ")[:200]


@router.post("/sign-out")
def sign_out(page: PageDep, form: FormDep) -> Response:
    session = page.check_form(form)
    log.info("signed out: user=%s client=%s", session.principal.user_id, client_of(page.request))
    return end_session(session, page.services.sign_ins, secure(page))


@router.get("/language")
def choose_language(
    to: Annotated[str, Query()], next: Annotated[str | None, Query()] = None
) -> Response:
    """Switch the page's language: a cookie, then back to where the person was."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if to in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, to, max_age=365 * 86400, samesite="lax", path="/")
    return response
