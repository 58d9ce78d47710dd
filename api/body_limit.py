"""The largest request body the service reads (LEDGER_MAX_BODY_BYTES), enforced before any
route, dependency or sign-in check reads a byte of it: a declared ``Content-Length`` over the
limit is refused without reading the body at all; a body sent in chunks is counted as it
arrives and refused when it passes the limit. Either way the route that reads the body gets a
413 (problem+json from the API, the error page from the web page), and no request, signed in
or not, makes the service hold more than the limit."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class LimitBodySize:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    def _too_large(self) -> HTTPException:
        return HTTPException(
            413, f"the request body is larger than this service accepts ({self.limit:,} bytes)"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        received = 0

        async def counted() -> Message:
            nonlocal received
            if declared.isdigit() and int(declared) > self.limit:
                raise self._too_large()  # not a byte of it read
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise self._too_large()
            return message

        await self.app(scope, counted, send)
