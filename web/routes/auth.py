"""Signing in and out, and choosing the language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse, Response

from ledger.access import InvalidTokenError
from web import i18n
from web.pages import FormDep, PageDep
from web.session import end_session, safe_next, start_session

router = APIRouter(include_in_schema=False)


def _secure(page: PageDep) -> bool:
    """Secure cookies when the site is served over https (LEDGER_PUBLIC_URL)."""
    return page.services.settings.public_url.startswith("https://")


@router.get("/sign-in")
def sign_in_form(page: PageDep, next: Annotated[str | None, Query()] = None) -> Response:
    return page.render("sign_in.html", next=safe_next(next))


@router.post("/sign-in")
def sign_in(page: PageDep, form: FormDep) -> Response:
    target = safe_next(form.get("next"))
    try:
        return start_session(
            target,
            form.get("token").strip(),
            page.services.access_tokens,
            _secure(page),
            page.now,
        )
    except InvalidTokenError as error:
        return page.render("sign_in.html", 401, next=target, token_error=str(error))


@router.post("/sign-out")
def sign_out(page: PageDep, form: FormDep) -> Response:
    session = page.require_session()
    session.check(form.get("form_key"), form.get("csrf"))
    return end_session(_secure(page))


@router.get("/language")
def choose_language(
    to: Annotated[str, Query()], next: Annotated[str | None, Query()] = None
) -> Response:
    """Switch the page's language: a cookie, then back to where the person was."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if to in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, to, max_age=365 * 86400, samesite="lax", path="/")
    return response
