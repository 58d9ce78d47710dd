"""Helpers of the browser tests: `ledger serve` as a process, headless Chromium, signing in
through the form, screenshots kept as test artefacts, and axe-core on a page.

The fixtures that use these live in ``tests/web/conftest.py``; tests that need a real browser
are marked ``browser`` (``pytestmark = pytest.mark.browser``) and take the ``page`` fixture.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, Route, ViewportSize

from ledger.domain.access import AccessTokens
from ledger.domain.principal import Principal
from ledger.service.clock import utc_now
from testkit.pgcluster import free_port
from testkit.serving import wait_healthy
from tests.conftest import Inbox
from tests.factories import CATALOG_DATA

KEY = "browser-tests-signing-key-long-enough-for-hs256"
CHROMIUM = Path("/usr/bin/chromium")
# Chromium's own background connections (updates, sync, ...) are refused by a closed network
# and slow every page down; these flags keep it to the pages the tests open.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = ViewportSize(width=1280, height=800)
NARROW = ViewportSize(width=320, height=640)
ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts"
SCREENSHOTS = ARTEFACTS / "screenshots"
BLOCKING = {"serious", "critical"}
NO_SCRIPTS = {"content-security-policy": "script-src 'none'"}


@dataclass
class LedgerWeb:
    """A running ``ledger serve``: its base URL, the SMTP inbox its e-mails reach, its log."""

    url: str
    inbox: Inbox
    log: Path
    process: subprocess.Popen[bytes]

    def token(self, principal: Principal, hours: float = 1) -> str:
        """A bearer token for ``principal``, signed with the server's key."""
        return AccessTokens(KEY).mint(principal, timedelta(hours=hours), utc_now())

    def api(self, principal: Principal | None = None) -> httpx.Client:
        """An HTTP client of the server's API (for setting up data), as ``principal``."""
        headers = {"Authorization": f"Bearer {self.token(principal)}"} if principal else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def ledger_serve(
    directory: Path, smtp: tuple[Inbox, int], settings: Mapping[str, str] | None = None
) -> Iterator[LedgerWeb]:
    """``ledger serve`` on a free port over a fresh SQLite file in ``directory``, the test
    catalog, a real SMTP server, and any further ``settings`` (LEDGER_* variables); stopped
    (its own process only) on leaving."""
    catalog = directory / "catalog.json"
    catalog.write_text(json.dumps(CATALOG_DATA))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": f"sqlite:///{directory / 'ledger.sqlite3'}",
        "LEDGER_CATALOG": str(catalog),
        "LEDGER_SECRET_KEY": KEY,
        "LEDGER_PUBLIC_URL": url,
        "LEDGER_SMTP_HOST": "127.0.0.1",
        "LEDGER_SMTP_PORT": str(smtp[1]),
        "LEDGER_MAIL_FROM": "claims@ledger.example",
        **(settings or {}),
    }
    log = directory / "serve.log"
    with log.open("wb") as sink:  # a file, not a pipe: a long session's log never blocks it
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = LedgerWeb(url, smtp[0], log, process)
    try:
        wait_healthy(server.url, process, server.output)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    output = server.output()
    assert "Traceback" not in output, output


def sign_in(page: Page, server: LedgerWeb, principal: Principal, next: str | None = None) -> None:
    """Sign in as ``principal`` through the ``/sign-in`` form, as a person pastes a token."""
    page.goto(f"{server.url}/sign-in" + (f"?next={quote(next)}" if next else ""))
    page.get_by_label("Bearer token").fill(server.token(principal))
    with page.expect_navigation():
        page.get_by_role("main").get_by_role("button", name="Sign in").click()
    assert "/sign-in" not in page.url, f"still on the sign-in page: {page.content()}"


def shot(page: Page, name: str) -> list[Path]:
    """Full-page screenshots of what ``page`` shows, kept as test artefacts:
    ``test-artefacts/screenshots/<name>.png`` at a desktop width and ``<name>-320.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or DESKTOP
    wide, narrow = SCREENSHOTS / f"{name}.png", SCREENSHOTS / f"{name}-320.png"
    try:
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=str(wide), full_page=True)
        page.set_viewport_size(NARROW)
        page.screenshot(path=str(narrow), full_page=True)
    finally:
        page.set_viewport_size(size)
    return [wide, narrow]


def axe_violations(
    browser: Browser, url: str, cookies: list[Any], html: str | None = None
) -> list[dict[str, Any]]:
    """axe-core's violations on the page at ``url`` as the holder of ``cookies`` gets it (or
    on ``html`` served at ``url``, to check the check), at a desktop width and at 320 px (where
    tables scroll); each violation says at which ``width`` it was found.

    axe runs in JavaScript, and a context with JavaScript disabled fires no timers, so axe
    would never finish there. So the page is opened in a second, JavaScript-enabled context
    whose requests for ``url`` are fetched from the server (with the cookies) and answered
    with a ``Content-Security-Policy: script-src 'none'`` header: the page's own scripts, if
    it had any, cannot run (the page is checked as a browser without JavaScript shows it), while
    Playwright's evaluation, which injects and runs axe, is not subject to the page's CSP.
    """
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=True)
    try:
        if cookies:
            context.add_cookies(cookies)

        def without_scripts(route: Route) -> None:
            if html is not None:
                route.fulfill(body=html, content_type="text/html", headers=NO_SCRIPTS)
                return
            response = route.fetch()
            headers = {
                k: v
                for k, v in response.headers.items()
                if k.lower() not in {"content-length", "content-encoding"}
            }
            route.fulfill(response=response, headers={**headers, **NO_SCRIPTS})

        page = context.new_page()
        page.route(lambda address: address == url, without_scripts)
        page.goto(url)
        found: list[dict[str, Any]] = []
        for size in (DESKTOP, NARROW):
            page.set_viewport_size(size)
            violations: list[dict[str, Any]] = Axe().run(page).response["violations"]
            found += [{**v, "width": size["width"]} for v in violations]
        return found
    finally:
        context.close()


def assert_accessible(browser: Browser, url: str, cookies: list[Any]) -> None:
    """axe-core finds no violation of impact serious or critical on the page at ``url``."""
    found = [v for v in axe_violations(browser, url, cookies) if v.get("impact") in BLOCKING]
    report = "\n".join(
        f"{v['id']} ({v['impact']}, {v['width']} px wide): {v['help']}\n"
        + "\n".join(f"    {n['target']}: {n.get('failureSummary', '')}" for n in v["nodes"])
        for v in found
    )
    assert not found, f"axe-core on {url}:\n{report}"


def assert_page_accessible(page: Page) -> None:
    """``assert_accessible`` on the page ``page`` shows now, with its cookies."""
    browser = page.context.browser
    assert browser is not None
    assert_accessible(browser, page.url, list(page.context.cookies()))
