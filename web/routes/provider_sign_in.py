"""Signing in through the organisation's identity provider (OpenID Connect, authorisation code
with PKCE): ``/sign-in/provider`` sends the browser there; the provider sends it back to the
callback, which starts the same session the sign-in form starts."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse, Response

from ledger.domain.access import InvalidTokenError
from ledger.domain.errors import IdentityProviderUnavailableError, NotFoundError
from ledger.runtime.oidc_flow import CALLBACK, FLOW_TTL, SignInFlow
from web.pages import PageDep
from web.routes.auth import client_of, locked_out, secure, sign_in_page
from web.session import safe_next, start_session

router = APIRouter(include_in_schema=False)
log = logging.getLogger("ledger.sign_in")
FLOW_COOKIE = "ledger_sign_in_flow"
FLOW_PATH = "/sign-in/provider"


def _flow(page: PageDep) -> SignInFlow:
    flow = page.services.access_tokens.flow
    if flow is None:  # no LEDGER_OIDC_CLIENT_ID: there is no provider to sign in with
        raise NotFoundError("not-found")
    return flow


@router.get(FLOW_PATH)
def sign_in_at_provider(page: PageDep, next: Annotated[str | None, Query()] = None) -> Response:
    """Off to the provider's sign-in, the flow's state kept in a signed cookie."""
    try:
        address, sealed = _flow(page).begin(safe_next(next), page.now)
    except IdentityProviderUnavailableError as error:
        return _unavailable(page, error)
    response = RedirectResponse(address, status_code=303)
    response.set_cookie(
        FLOW_COOKIE,
        sealed,
        max_age=int(FLOW_TTL.total_seconds()),
        httponly=True,
        samesite="lax",  # the provider's redirect back is a top-level GET from its site
        secure=secure(page),
        path=FLOW_PATH,
    )
    return response


@router.get(CALLBACK)
def back_from_provider(
    page: PageDep,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str, Query(max_length=4000)] = "",
) -> Response:
    """The provider's answer: a session for the person its ID token names, or the sign-in
    page again with what went wrong (a refusal at the provider has no code); nothing is
    read from a client locked out by its failed sign-ins (429)."""
    flow, sign_ins, client = _flow(page), page.services.sign_ins, client_of(page.request)
    locked = locked_out(page, "/", client)  # the token form's failures and these alike
    if locked is not None:
        return locked
    try:
        cookie = page.request.cookies.get(FLOW_COOKIE)
        signed_in = flow.finish(cookie, state, code, page.now)
    except InvalidTokenError as error:
        sign_ins.failed(client, page.now)
        reason = f"{error} ({error.cause})" if error.cause else str(error)
        log.warning("sign-in at the provider refused: client=%s reason=%s", client, reason)
        return sign_in_page(page, 401, problem="token", token_error=error.say(page.language))
    except IdentityProviderUnavailableError as error:
        return _unavailable(page, error)
    sign_ins.succeeded(client)
    log.info("signed in at the provider: user=%s client=%s", signed_in.principal.user_id, client)
    target = flow.opened(cookie, page.now).next
    response = start_session(target, signed_in, sign_ins, secure(page), page.now)
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH, secure=secure(page), httponly=True)
    return response


def _unavailable(page: PageDep, error: IdentityProviderUnavailableError) -> Response:
    """The sign-in page again, saying the provider did not answer (503): try in a minute."""
    response = sign_in_page(page, 503, problem="token", token_error=error.say(page.language))
    response.headers["Retry-After"] = "60"
    return response
