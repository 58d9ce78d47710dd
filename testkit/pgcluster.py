"""A throwaway PostgreSQL cluster for the tests: initdb in a temp dir, pg_ctl start, stop."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import psycopg
from psycopg import sql


def _bindir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not candidates:
        raise RuntimeError("PostgreSQL is not installed: run scripts/test, which installs it")
    return Path(candidates[-1]).parent


def pg_tool(name: str) -> str:
    """The path of one of PostgreSQL's programs (pg_dump, pg_restore, ...) of the installed
    server's version."""
    return str(_bindir() / name)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(args: list[str], as_postgres: bool) -> None:
    # PostgreSQL refuses to run as root; CI runs as root, so drop to the postgres user.
    command = ["runuser", "-u", "postgres", "--", *args] if as_postgres else args
    subprocess.run(command, check=True, capture_output=True, text=True)


@contextlib.contextmanager
def throwaway_cluster(*, durable: bool = False) -> Iterator[str]:
    """Start a cluster on a free loopback port; yield its URL; stop and delete it.

    Tests run without fsync (faster, nothing to keep); benchmarks ask for ``durable``.
    """
    bindir = _bindir()
    as_postgres = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
    data = base / "data"
    if as_postgres:
        shutil.chown(base, "postgres")
    port = free_port()
    try:
        _run(
            [str(bindir / "initdb"), "-D", str(data), "-U", "ledger", "-A", "trust", "-E", "UTF8"],
            as_postgres,
        )
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c max_connections=300"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        _run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(base / "log"),
                "-w",
                "start",
            ],
            as_postgres,
        )
        try:
            yield f"postgresql://ledger@127.0.0.1:{port}/postgres"
        finally:
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], as_postgres)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def create_database(server_url: str, name: str | None = None) -> str:
    """A new, empty database on the server at ``server_url`` (a fresh name unless given);
    its URL."""
    name = name or f"ledger_{uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return f"{server_url.rsplit('/', 1)[0]}/{name}"


def drop_database(server_url: str, url: str) -> None:
    """Drop the database ``url`` names, connections and all."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
