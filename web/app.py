"""Mounts the web page on the app: its routes, stylesheet, templates, and error pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from ledger.domain.commands import field_problems, invalid_input
from ledger.domain.errors import LedgerError
from web.pages import PageRequest, Templates
from web.routes import auth, claims, consent, customers, review, sales, settings, wizard
from web.session import CsrfRefusedError, SignInRequiredError, sign_in_url

STATIC = Path(__file__).parent / "static"
Handlers = Mapping[Any, Callable[[Request, Any], Response | Awaitable[Response]]]
API_PREFIXES = ("/v1/", "/docs", "/redoc", "/openapi.json", "/static/", "/healthz", "/readyz")


def is_page(request: Request) -> bool:
    """Whether the request is for the web page (HTML errors) rather than the API (JSON)."""
    return not request.url.path.startswith(API_PREFIXES) and request.url.path != "/metrics"


def _page(request: Request) -> PageRequest:
    services = request.app.state.services
    return PageRequest(request, services, services.clock())


def install(app: FastAPI) -> None:
    """The page's routes and error pages on ``app``, whose own error handlers (the API's
    problem+json) still answer every request that is not for the page."""
    app.state.templates = Templates()
    app.mount("/static/web", StaticFiles(directory=STATIC), name="web-static")
    for module in (auth, settings, customers, wizard, claims, review, sales, consent):
        app.include_router(module.router)
    _install_error_pages(app, dict(app.exception_handlers))


async def _answer(
    handlers: Handlers, kind: type[Exception], request: Request, error: Any
) -> Response:
    """The answer of the handler the app had for ``kind`` before the page's."""
    found = handlers[kind](request, error)
    return await found if isinstance(found, Awaitable) else found


def _install_error_pages(app: FastAPI, api: Handlers) -> None:
    async def ledger_error(request: Request, error: LedgerError) -> Response:
        if not is_page(request):
            return await _answer(api, LedgerError, request, error)
        return _page(request).error_page(error)

    async def http_error(request: Request, error: HTTPException) -> Response:
        if not is_page(request) or error.status_code not in {404, 405, 413}:
            return await _answer(api, HTTPException, request, error)
        return _page(request).render(
            "error.html", error.status_code, error=None, title="", code=error.status_code
        )

    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        """A page's query that does not parse (a tab that is not one, a control character):
        the error page, as a refusal of the ledger's own would be, not the API's JSON."""
        if not is_page(request):
            return await _answer(api, RequestValidationError, request, error)
        refusal = invalid_input(field_problems(list(error.errors()), strip=1))
        return _page(request).render("error.html", 422, error=refusal, title=refusal.slug, code=422)

    async def sign_in_required(request: Request, error: SignInRequiredError) -> Response:
        return RedirectResponse(sign_in_url(error.next_path), status_code=303)

    async def csrf_refused(request: Request, error: CsrfRefusedError) -> Response:
        return _page(request).render("error.html", 403, error=None, title="csrf", code=403)

    app.add_exception_handler(LedgerError, ledger_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(SignInRequiredError, sign_in_required)  # type: ignore[arg-type]
    app.add_exception_handler(CsrfRefusedError, csrf_refused)  # type: ignore[arg-type]
