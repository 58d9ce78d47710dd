"""Sign-in for the page: the bearer token kept in an HttpOnly cookie, and the CSRF token every
form that changes something carries, bound to that session."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlsplit

import jwt
from fastapi import Request
from fastapi.responses import RedirectResponse

from ledger.access import AccessTokens, InvalidTokenError
from ledger.principal import Principal

COOKIE = "ledger_session"


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


@dataclass(frozen=True)
class Session:
    """A signed-in browser: who, until when, and the secret its forms are bound to."""

    principal: Principal
    token: str
    expires_at: datetime

    def csrf_for(self, form_key: str) -> str:
        secret = hashlib.sha256(self.token.encode()).digest()
        return hmac.new(secret, form_key.encode(), hashlib.sha256).hexdigest()

    def new_form(self) -> tuple[str, str]:
        """A fresh form key (one change per rendered form) and its CSRF token."""
        key = secrets.token_urlsafe(18)
        return key, self.csrf_for(key)

    def check(self, form_key: str, csrf: str) -> None:
        expected, given = self.csrf_for(form_key).encode(), (csrf or "").encode()
        if not form_key or not hmac.compare_digest(expected, given):  # bytes: any text is safe
            raise CsrfRefusedError()


def read_session(request: Request, tokens: AccessTokens) -> Session | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        principal = tokens.principal(token)
        expires = int(jwt.decode(token, options={"verify_signature": False})["exp"])
    except (InvalidTokenError, jwt.PyJWTError, KeyError, ValueError):
        return None
    return Session(principal, token, datetime.fromtimestamp(expires).astimezone())


def start_session(
    target: str, token: str, tokens: AccessTokens, secure: bool, now: datetime
) -> RedirectResponse:
    """Redirect to ``target`` with the session cookie set; it expires with the token."""
    tokens.principal(token)  # refuses a forged, expired or foreign token
    expires = int(jwt.decode(token, options={"verify_signature": False})["exp"])
    response = RedirectResponse(safe_next(target), status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=max(0, expires - int(now.timestamp())),
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    return response


def end_session(secure: bool) -> RedirectResponse:
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=secure)
    return response
