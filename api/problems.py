"""Every error as application/problem+json (RFC 9457), mapped in one place."""

from __future__ import annotations

import logging
from dataclasses import replace

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ledger.domain.access import InvalidTokenError
from ledger.domain.commands import field_problems, invalid_input
from ledger.domain.errors import LedgerError, Problem
from ledger.interface.refusals import from_ledger_error, problem
from ledger.store.outage import OUTAGE_ERRORS, retry_after, transient, unreachable
from ledger.words.i18n import negotiate
from ledger.words.refusals import Words, say, source

log = logging.getLogger("api")


def language_of(request: Request) -> str:
    """The language the caller reads: English unless ``Accept-Language`` asks for ours."""
    return negotiate(request.headers.get("accept-language"))


async def ledger_error(request: Request, error: LedgerError) -> JSONResponse:
    return from_ledger_error(error, language_of(request))


async def invalid_token(request: Request, error: InvalidTokenError) -> JSONResponse:
    return problem(
        401,
        "unauthorized",
        "Unauthorized",
        error.say(language_of(request)),
        headers={"WWW-Authenticate": 'Bearer realm="claim-ledger"'},
    )


async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
    """Every problem of the request in ``errors``; ``detail`` and ``field`` name the first."""
    raw = list(error.errors()) or [{"loc": (), "type": "value_error"}]
    first_location = [str(part) for part in raw[0].get("loc", ())]
    where = first_location[0] if first_location else "body"
    strip = 1 if where in {"body", "query", "path", "header"} else 0
    problems = field_problems(raw, strip)
    if where != "body":  # only a body's fields break the rules of the commands
        problems = [replace(p, rule=None) for p in problems]
    return from_ledger_error(invalid_input(problems), language_of(request))


async def http_error(request: Request, error: HTTPException) -> JSONResponse:
    language = language_of(request)
    if error.status_code == 400:  # a body that is not even text: invalid input like the rest
        refusal = invalid_input([Problem(None, None, Words("body_not_text"))])
        return from_ledger_error(refusal, language)
    slug = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}.get(
        error.status_code, "http-error"
    )
    said = source(slug) is not None
    return problem(
        error.status_code,
        slug,
        slug.replace("-", " ").capitalize(),
        say(slug, language=language) if said else str(error.detail),
        headers=dict(error.headers or {}),
    )


async def unexpected(request: Request, error: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    detail = say("internal-error", language=language_of(request))
    return problem(500, "internal-error", "Internal error", detail)


async def database_unavailable(request: Request, error: Exception) -> JSONResponse:
    """The database out of reach (``ledger.store.outage``): 503, to be retried; any other
    error of the same kinds is an error of ours, but for the database stopping the request's
    transaction for another's (a deadlock): 503 database-busy, to be sent again at once."""
    if transient(error):
        return database_busy(request)
    if not unreachable(error):
        return await unexpected(request, error)
    timeout = request.app.state.services.settings.database_timeout_seconds
    return problem(
        503,
        "database-unavailable",
        "Database unavailable",
        say("database-unavailable", language=language_of(request)),
        headers={"Retry-After": retry_after(timeout)},
    )


def database_busy(request: Request) -> JSONResponse:
    log.warning(
        "%s %s: the database stopped it for another transaction", request.method, request.url.path
    )
    return problem(
        503,
        "database-busy",
        "Database busy",
        say("database-busy", language=language_of(request)),
        headers={"Retry-After": "1"},
    )


def install(app: FastAPI) -> None:
    """Answer every error as problem+json."""
    app.add_exception_handler(LedgerError, ledger_error)  # type: ignore[arg-type]
    app.add_exception_handler(InvalidTokenError, invalid_token)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, unexpected)
    for kind in OUTAGE_ERRORS:
        app.add_exception_handler(kind, database_unavailable)
