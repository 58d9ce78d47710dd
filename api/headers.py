"""Protective headers on every response: no sniffing and no framing anywhere; no caching of what
a principal or a consent link sees; on the web page's HTML a Content-Security-Policy without any
script (the API docs keep their own scripts, not framing); and no Referer from the consent
page, whose URL is a secret. A redirect to our own host names only the path: the Host header is
the client's word, never echoed back as a place to go."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
DOCS = ("/docs", "/redoc")  # Swagger UI and ReDoc run their own scripts (served by us)
DOCS_POLICY = "frame-ancestors 'none'"
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
                headers["X-Frame-Options"] = "DENY"
                if headers.get("content-type", "").startswith("text/html"):
                    headers["Content-Security-Policy"] = (
                        DOCS_POLICY if path.startswith(DOCS) else PAGE_POLICY
                    )
                if path.startswith(CONSENT):
                    headers["Referrer-Policy"] = "no-referrer"
                if "location" in headers:
                    headers["Location"] = local_location(headers["location"], request)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def local_location(location: str, request: Headers) -> str:
    """An absolute redirect to the host the request named becomes a path on this site."""
    target = urlsplit(location)
    if not target.netloc or target.netloc != request.get("host"):
        return location
    return (target.path or "/") + (f"?{target.query}" if target.query else "")
