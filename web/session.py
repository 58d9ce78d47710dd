"""Sign-in for the page: a session kept on the server, named by an HttpOnly cookie, and the
CSRF token every form that changes something carries, bound to that session and to the form's
address. The sign-in form itself carries one too, bound to a nonce cookie of the browser."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from ledger.domain.principal import Principal
from ledger.runtime.sessions import SignedIn, SignIns

COOKIE = "ledger_session"
SIGN_IN_COOKIE = "ledger_sign_in"


class SignInRequiredError(Exception):
    """The page needs a principal: the handler sends the browser to /sign-in?next=..."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefusedError(Exception):
    """A POST without a valid CSRF token: refused with a 403 page, nothing changed."""


def safe_next(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path of this site (no scheme, host or ``//``), else ``default``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return default
    return target


def sign_in_url(next_path: str) -> str:
    return f"/sign-in?next={quote(safe_next(next_path), safe='/')}"


def form_token(secret: str, action: str, form_key: str) -> str:
    """The CSRF token of one rendered form: bound to a secret, the path the form posts to and
    the form's own key, so that it fits that form of that session and no other."""
    key = hashlib.sha256(secret.encode()).digest()
    path = urlsplit(action).path
    return hmac.new(key, f"{path}\0{form_key}".encode(), hashlib.sha256).hexdigest()


def _matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), (given or "").encode())  # bytes: any text


def same_origin(request: Request, public_url: str) -> bool:
    """Whether a POST came from a page of this site: a browser names the page's origin in
    ``Origin`` (and ``Sec-Fetch-Site``); a form on another site is refused before anything.
    The site is the address asked for, or LEDGER_PUBLIC_URL's (behind a proxy)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in {"same-origin", "none"}:
        return False
    origin = request.headers.get("origin")
    if origin is None:  # an older browser, or a client that is not one: the token decides
        return True
    ours = {request.headers.get("host", "").lower(), urlsplit(public_url).netloc.lower()}
    return urlsplit(origin).netloc.lower() in ours


@dataclass(frozen=True)
class Session:
    """A signed-in browser: who, until when, and the secret its forms are bound to."""

    principal: Principal
    session_id: str
    expires_at: datetime

    def csrf_for(self, action: str, form_key: str) -> str:
        return form_token("session\0" + self.session_id, action, form_key)

    def new_form(self, action: str) -> tuple[str, str]:
        """A fresh form key (one change per rendered form) and its CSRF token, for a form that
        posts to ``action``."""
        key = secrets.token_urlsafe(18)
        return key, self.csrf_for(action, key)

    def check(self, path: str, form_key: str, csrf: str) -> None:
        """Refuse a POST to ``path`` whose form was not rendered for this session and path."""
        if not form_key or not _matches(self.csrf_for(path, form_key), csrf):
            raise CsrfRefusedError()


def read_session(request: Request, sign_ins: SignIns, now: datetime) -> Session | None:
    session_id = request.cookies.get(COOKIE)
    found = sign_ins.find(session_id, now) if session_id else None
    if found is None or session_id is None:
        return None
    return Session(found.principal, session_id, found.expires_at)


def start_session(
    target: str, signed_in: SignedIn, sign_ins: SignIns, secure: bool, now: datetime
) -> RedirectResponse:
    """Redirect to ``target`` with a new session's cookie set; both end with the token."""
    session_id = sign_ins.start(signed_in.principal, signed_in.expires_at, now)
    response = RedirectResponse(safe_next(target), status_code=303)
    response.set_cookie(
        COOKIE,
        session_id,
        max_age=max(0, int((signed_in.expires_at - now).total_seconds())),
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    response.delete_cookie(SIGN_IN_COOKIE, path="/sign-in", secure=secure, httponly=True)
    return response


def end_session(session: Session, sign_ins: SignIns, secure: bool) -> RedirectResponse:
    """Delete the session (everywhere: the cookie is worth nothing after this) and its cookie."""
    sign_ins.end(session.session_id)
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=secure)
    return response


# -- the sign-in form, before there is a session --------------------------------------------


def sign_in_form_keys(request: Request, signing_key: str) -> tuple[str, str]:
    """The browser's sign-in nonce (its cookie, or a new one) and the form's CSRF token."""
    nonce = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(18)
    return nonce, form_token("sign-in\0" + signing_key, "/sign-in", nonce)


def sign_in_form_is_ours(request: Request, signing_key: str, csrf: str) -> bool:
    """Whether a sign-in was posted by the form this browser was given (no login CSRF: a
    page elsewhere cannot sign a browser in as someone else)."""
    nonce = request.cookies.get(SIGN_IN_COOKIE)
    if not nonce:
        return False
    return _matches(form_token("sign-in\0" + signing_key, "/sign-in", nonce), csrf)


def keep_sign_in_nonce(response: Response, nonce: str, secure: bool) -> Response:
    response.set_cookie(
        SIGN_IN_COOKIE, nonce, httponly=True, samesite="strict", secure=secure, path="/sign-in"
    )
    return response
