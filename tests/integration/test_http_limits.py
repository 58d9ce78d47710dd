"""What a client can make `ledger serve` hold, on a real socket: a body over
LEDGER_MAX_BODY_BYTES is refused (413) without being read whole, and a connection whose request
headers do not arrive within LEDGER_HEADER_TIMEOUT_SECONDS is closed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from testkit.pgcluster import free_port
from testkit.serving import wait_healthy
from tests.factories import CATALOG_DATA

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    folder = tmp_path_factory.mktemp("limits")
    (folder / "catalog.json").write_text(json.dumps(CATALOG_DATA))
    port = free_port()
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": f"sqlite:///{folder / 'ledger.sqlite3'}",
        "LEDGER_CATALOG": str(folder / "catalog.json"),
        "LEDGER_MAX_BODY_BYTES": str(LIMIT),
        "LEDGER_HEADER_TIMEOUT_SECONDS": "1",
    }
    log = folder / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process, log.read_text)
        yield "127.0.0.1", port
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert "Traceback" not in log.read_text()


def connect(server: tuple[str, int]) -> socket.socket:
    return socket.create_connection(server, timeout=20)


def answer(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received


def test_a_declared_body_over_the_limit_is_refused_unread(server: tuple[str, int]) -> None:
    with connect(server) as connection:
        connection.sendall(
            b"POST /v1/claims HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 500000000\r\n\r\n{"
        )
        response = answer(connection)  # the server answers and closes: 500 MB never sent
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), response[:300]
    assert json.loads(body)["type"].endswith("/body-too-large")


def test_a_body_in_chunks_is_cut_off_at_the_limit(server: tuple[str, int]) -> None:
    with connect(server) as connection:
        connection.sendall(
            b"POST /v1/claims HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"4000\r\n" + b" " * 0x4000 + b"\r\n"
        sent = 0
        try:
            for _ in range(256):  # 4 MiB offered
                connection.sendall(chunk)
                sent += 0x4000
        except OSError:  # the server closed the connection once it had refused the body
            pass
        response = answer(connection)
    assert response.startswith(b"HTTP/1.1 413"), response[:300]
    assert sent < 4 * 1024 * 1024


def test_a_page_form_over_the_limit_gets_the_error_page(server: tuple[str, int]) -> None:
    host, port = server
    page = httpx.post(f"http://{host}:{port}/sign-in", data={"token": "x" * (LIMIT + 1)})
    assert page.status_code == 413 and page.headers["content-type"].startswith("text/html")
    assert "This form is too large" in page.text


def test_headers_that_do_not_come_close_the_connection(server: tuple[str, int]) -> None:
    with connect(server) as silent, connect(server) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        assert answer(silent) == b""  # closed, with nothing said
        assert answer(slow) == b""


def test_a_kept_alive_connection_gets_the_same_deadline(server: tuple[str, int]) -> None:
    with connect(server) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        first = b""
        while b'"ok"' not in first:
            first += connection.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
        assert answer(connection) == b""
    host, port = server
    assert httpx.get(f"http://{host}:{port}/healthz").status_code == 200  # others still served
