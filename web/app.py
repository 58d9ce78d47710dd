"""Mounts the web page on the app: its routes, stylesheet, templates, and error pages."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from ledger.domain.commands import field_problems, invalid_input
from ledger.domain.errors import LedgerError
from ledger.store.outage import (
    OUTAGE_ERRORS,
    DatabaseUnavailableError,
    retry_after,
    transient,
    unreachable,
)
from web.pages import PageRequest, Templates
from web.routes import (
    audit,
    auth,
    claims,
    consent,
    customers,
    dashboard,
    provider_sign_in,
    review,
    sales,
    settings,
    webhooks,
    wizard,
)
from web.session import CsrfRefusedError, SignInRequiredError, sign_in_url

STATIC = Path(__file__).parent / "static"
Handlers = Mapping[Any, Callable[[Request, Any], Response | Awaitable[Response]]]
log = logging.getLogger("web")
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

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        """The page's icon where browsers look for it without asking the page (its SVG)."""
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    for module in (
        auth,
        provider_sign_in,
        settings,
        customers,
        wizard,
        claims,
        review,
        sales,
        consent,
        audit,
        dashboard,
        webhooks,
    ):
        app.include_router(module.router)
    ErrorPages(dict(app.exception_handlers)).install(app)


class ErrorPages:
    """What a page route answers when something goes wrong: an HTML page in the person's
    language (a refusal with its status, a form that cannot be read, an error of ours);
    every other route keeps the answer of the API's handler (problem+json)."""

    def __init__(self, api: Handlers) -> None:
        self.api = api

    async def _api(self, kind: type[Exception], request: Request, error: Any) -> Response:
        """The answer of the handler the app had for ``kind`` before the page's."""
        found = self.api[kind](request, error)
        return await found if isinstance(found, Awaitable) else found

    async def ledger_error(self, request: Request, error: LedgerError) -> Response:
        if not is_page(request):
            return await self._api(LedgerError, request, error)
        return _page(request).error_page(error)

    async def http_error(self, request: Request, error: HTTPException) -> Response:
        """Not found, not allowed, too large; a form body that cannot be read (400, e.g.
        broken multipart data); any other status the framework raises."""
        if not is_page(request):
            return await self._api(HTTPException, request, error)
        code = error.status_code
        page = _page(request).render("error.html", code, error=None, title="", code=code)
        page.headers.update(error.headers or {})
        return page

    async def invalid_request(self, request: Request, error: RequestValidationError) -> Response:
        """A page's query that does not parse (a tab that is not one, a control character):
        the error page, as a refusal of the ledger's own would be, not the API's JSON."""
        if not is_page(request):
            return await self._api(RequestValidationError, request, error)
        refusal = invalid_input(field_problems(list(error.errors()), strip=1))
        return _page(request).render("error.html", 422, error=refusal, title=refusal.slug, code=422)

    async def unexpected(self, request: Request, error: Exception) -> Response:
        """An error of ours: the API's handler logs it; a page says so in HTML (or, if even
        that fails, the API's answer stands)."""
        answer = await self._api(Exception, request, error)
        if not is_page(request):
            return answer
        try:
            return _page(request).render("error.html", 500, error=None, title="", code=500)
        except Exception:
            log.exception("the error page could not be shown either")
            return answer

    async def database_unavailable(self, request: Request, error: Exception) -> Response:
        """The database out of reach: 503 with Retry-After; a page says so in the reader's
        language, without the session (kept in the database). Another error of these kinds
        is an error of ours, but for the database stopping the request for another's (busy:
        503 to be sent again at once)."""
        busy = transient(error)
        if not busy and not unreachable(error):
            return await self.unexpected(request, error)
        if not is_page(request):
            return await self._api(DatabaseUnavailableError, request, error)
        services = request.app.state.services
        page = PageRequest.signed_out(request, services, services.clock())
        answer = page.render("error.html", 503, error=None, title="", code=503, busy=busy)
        timeout = services.settings.database_timeout_seconds
        answer.headers["Retry-After"] = "1" if busy else retry_after(timeout)
        return answer

    @staticmethod
    async def sign_in_required(request: Request, error: SignInRequiredError) -> Response:
        return RedirectResponse(sign_in_url(error.next_path), status_code=303)

    @staticmethod
    async def csrf_refused(request: Request, error: CsrfRefusedError) -> Response:
        return _page(request).render("error.html", 403, error=None, title="csrf", code=403)

    def install(self, app: FastAPI) -> None:
        for kind, handler in (
            (LedgerError, self.ledger_error),
            (HTTPException, self.http_error),
            (RequestValidationError, self.invalid_request),
            (Exception, self.unexpected),
            *((kind, self.database_unavailable) for kind in OUTAGE_ERRORS),
            (SignInRequiredError, self.sign_in_required),
            (CsrfRefusedError, self.csrf_refused),
        ):
            app.add_exception_handler(kind, handler)  # type: ignore[arg-type]
