"""One validation for every query parameter and path segment: no control characters.

NUL above all: PostgreSQL text cannot hold it, so a query that carried one would fail in the
database. Anything below U+0020 (and DEL) is refused before a route runs, as a 422 that names
the parameter, on both stores alike: an ``invalid-input`` refusal answered by the app's own
handler of refusals (problem+json from the API, the error page from the web page).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ledger.domain.commands import invalid_input
from ledger.domain.errors import LedgerError, Problem
from ledger.interface.refusals import from_ledger_error
from ledger.words.i18n import negotiate
from ledger.words.refusals import Words

CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def first_control(scope: Scope) -> str | None:
    """The name of the first parameter (or ``path``) that holds a control character."""
    if CONTROL.search(scope.get("path", "")):
        return "path"
    query = scope.get("query_string", b"").decode("latin-1")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, errors="strict", encoding="utf-8")
    except (UnicodeDecodeError, ValueError):
        return "query"
    return next((name for name, value in pairs if CONTROL.search(name + value)), None)


class RefuseControlCharacters:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        field = first_control(scope) if scope["type"] == "http" else None
        if field is None:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        language = negotiate(headers.get(b"accept-language", b"").decode("latin-1"))
        refusal = invalid_input([Problem(field, None, Words("control_characters", field))])
        response = await answer(scope, refusal, language)
        await response(scope, receive, send)


async def answer(scope: Scope, refusal: LedgerError, language: str) -> Response:
    """The refusal as the app's handler of refusals answers it (the middleware runs outside
    the app's exception handling); problem+json in ``language`` when the app has none."""
    handler = getattr(scope.get("app"), "exception_handlers", {}).get(LedgerError)
    if handler is None:
        return from_ledger_error(refusal, language)
    found: Response = await handler(Request(scope), refusal)
    return found
