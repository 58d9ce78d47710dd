"""A webhook receiver for tests and the bench: an HTTP server on loopback that verifies each
delivery's Standard Webhooks signature and answers as its plan says (2xx, an error status,
hang past the sender's timeout, or hold the request until released)."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook


@dataclass
class Arrival:
    """One request as the receiver saw it."""

    webhook_id: str
    body: dict[str, Any]
    verified: bool
    answered: int | None
    """The status it answered; None when it never could (the sender was gone)."""
    at: float
    host: str = ""
    """Its ``Host`` header."""


@dataclass
class Receiver:
    secret: str | None = None
    plan: list[Any] = field(default_factory=list)
    """What to answer next, one item per request: a status code, ``"hang"`` (sleep
    ``hang_seconds``, then answer 200), or ``"hold"`` (wait until ``release`` is set, then
    answer 200); 200 once the plan is used up."""
    hang_seconds: float = 3.0
    arrivals: list[Arrival] = field(default_factory=list)
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def acknowledged(self) -> list[Arrival]:
        """The deliveries this receiver verified and answered with a 2xx."""
        with self.lock:
            return [a for a in self.arrivals if a.verified and a.answered and a.answered < 300]

    def next_step(self) -> Any:
        with self.lock:
            return self.plan.pop(0) if self.plan else 200

    def verify(self, body: bytes, headers: dict[str, str]) -> bool:
        if self.secret is None:
            return False
        try:
            Webhook(self.secret).verify(body, headers)
        except Exception:
            return False
        return True

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("content-length") or 0))
        headers = {k.lower(): v for k, v in request.headers.items()}
        step = self.next_step()
        status = 200 if step in ("hang", "hold") else int(step)
        arrival = Arrival(
            headers.get("webhook-id", ""),
            json.loads(body or b"{}"),
            self.verify(body, headers),
            None,
            time.monotonic(),
            headers.get("host", ""),
        )
        with self.lock:  # before the answer: the sender moves on once it has it
            self.arrivals.append(arrival)
        if step == "hang":
            time.sleep(self.hang_seconds)
            return  # past the sender's timeout: it gave up, nothing is acknowledged
        if step == "hold":
            self.holding.set()
            self.release.wait(60)
            return  # its sender was killed meanwhile: never answered, never acknowledged
        arrival.answered = status
        try:
            request.send_response(status)
            request.send_header("content-length", "0")
            request.end_headers()
            request.wfile.flush()
        except OSError:
            arrival.answered = None


@contextmanager
def serving(
    receiver: Receiver, tls: ssl.SSLContext | None = None, keep_alive: bool = False
) -> Iterator[Receiver]:
    """The receiver on a free loopback port, in threads of its own, until the block ends;
    over TLS with ``tls`` (a server context); ``keep_alive``: HTTP/1.1, a connection kept
    open for the next request (else each request has its own, as HTTP/1.0)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

        def do_POST(self) -> None:
            receiver.handle(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
