"""Waiting on a `ledger serve` started as a process: one way for every test that does."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

import httpx

T = TypeVar("T")


def until(predicate: Callable[[], T | None], seconds: float = 15) -> T:
    """The first truthy value of ``predicate``, polled for at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("waited in vain")


def wait_healthy(
    url: str,
    process: subprocess.Popen[bytes] | subprocess.Popen[str] | None = None,
    output: Callable[[], str] = lambda: "",
    seconds: float = 30,
) -> None:
    """Until ``url``/healthz answers 200; fails at once if ``process`` stopped meanwhile."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"ledger serve stopped at start:\n{output()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"ledger serve did not answer /healthz:\n{output()}")
