"""One access log line per request, and the request's id (``X-Request-Id``), echoed.

A pure ASGI middleware: the id comes from the request when it is sane (printable, at most 128
characters, no spaces) or is made (uuid4 hex); it is set on the response and kept in
``ledger.service.log_output.request_id`` so that every line logged while serving carries it.
The line names the route template (``/v1/claims/{claim_id}``), never the path, so that the
tokens in consent links stay out of the logs.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from prometheus_client import Counter
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.service import log_output as logs

HEADER = "X-Request-Id"
SANE_ID = re.compile(r"[\x21-\x7e]{1,128}")

log = logging.getLogger("ledger.access")


def request_id_from(scope: Scope) -> str:
    """The caller's X-Request-Id when sane, else a new one."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            given: str = value.decode("latin-1")
            if SANE_ID.fullmatch(given):
                return given
            break
    return uuid.uuid4().hex


def route_of(scope: Scope) -> str:
    """The route template a request matched; the path itself for the framework's own fixed
    routes (the OpenAPI schema); ``unmatched`` for the rest."""
    route = getattr(scope.get("route"), "path", None)
    if route is None and "endpoint" in scope and not scope.get("path_params"):
        route = scope["path"]
    return str(route or "unmatched")


class AccessLog:
    """The access log line of each request, and its count in ``requests`` (by method, route
    and status) when given."""

    def __init__(self, app: ASGIApp, requests: Counter | None = None) -> None:
        self.app = app
        self.requests = requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        token = logs.request_id.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            route = route_of(scope)
            if self.requests is not None:
                self.requests.labels(scope["method"], route, str(status)).inc()
            milliseconds = round((time.perf_counter() - started) * 1000, 1)
            log.info(
                "%s %s %s %.1f ms request_id=%s",
                scope["method"],
                route,
                status,
                milliseconds,
                request_id,
                extra={
                    "method": scope["method"],
                    "route": route,
                    "status": status,
                    "duration_ms": milliseconds,
                    "request_id": request_id,
                },
            )
            logs.request_id.reset(token)
