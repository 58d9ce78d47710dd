"""Protective headers on every response: no sniffing anywhere; no caching of what a principal
or a consent link sees; on the web page's HTML a Content-Security-Policy without any script
and no framing; and no Referer from the consent page, whose URL is a secret."""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
DOCS = ("/docs", "/redoc")  # Swagger UI and ReDoc run their own scripts (served by us)
CONSENT = ("/consent/", "/v1/consent/")


class ProtectiveHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        request = Headers(scope=scope)
        private = (
            "authorization" in request
            or "ledger_session=" in request.get("cookie", "")
            or path.startswith(CONSENT)
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Content-Type-Options"] = "nosniff"
                if private:
                    headers["Cache-Control"] = "no-store"
                html = headers.get("content-type", "").startswith("text/html")
                if html and not path.startswith(DOCS):
                    headers["Content-Security-Policy"] = PAGE_POLICY
                if path.startswith(CONSENT):
                    headers["Referrer-Policy"] = "no-referrer"
            await send(message)

        await self.app(scope, receive, send_with_headers)
