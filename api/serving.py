"""How uvicorn serves the app: its HTTP/1.1 protocol with a deadline for a request's headers.

uvicorn arms a timer only between requests on a kept-alive connection; a client that opens a
connection and sends its headers a byte at a time (or never) holds it, and a worker's share of
sockets, for as long as it likes. Here every request's headers must arrive within
``LEDGER_HEADER_TIMEOUT_SECONDS`` of its first byte (of the connection's opening, for the
first), or the connection is closed; and a response that refused a body before it was all
read (LEDGER_MAX_BODY_BYTES) closes the connection rather than waiting for the rest of it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ledger.service.settings import Settings

log = logging.getLogger("ledger.http")


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing a connection whose headers come too slowly."""

    header_timeout = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        """A response sent before its request's body was all read (a refused upload) ends the
        connection: the rest of that body is not waited for."""
        super().on_response_complete()
        if self.cycle is not None and self.cycle.more_body and not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "unknown"
            log.warning("closed a connection from %s: its request headers came too slowly", client)
            self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The options ``uvicorn.run`` takes for this service (one process or several). The
    protocol is named by its module's class (several processes import it by that name); each
    process sets its deadline from its settings (``app_from_environment`` calls this too)."""
    HeaderDeadlineProtocol.header_timeout = settings.header_timeout_seconds
    return {"http": HeaderDeadlineProtocol, "log_config": None, "access_log": False}
