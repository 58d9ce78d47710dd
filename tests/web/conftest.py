"""Fixtures of the web page's tests: the app with a browser-like client (``site``, signed in as
ADMIN_A; ``web``, nobody signed in); and in a real browser (marked ``browser``): one ``ledger
serve`` and one headless Chromium for the whole session, a fresh JavaScript-less context per
test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from testkit.pgcluster import free_port
from tests.conftest import Clock, Inbox
from tests.factories import ADMIN_A
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, LedgerWeb, ledger_serve
from tests.web.client import Site, make_site


@pytest.fixture
def web(tmp_path: Path, clock: Clock) -> Iterator[Site]:
    """The app on a fresh SQLite file, the test catalog and clock; nobody signed in."""
    yield from make_site(tmp_path, clock)


@pytest.fixture
def site(web: Site) -> Site:
    """The same, signed in as ADMIN_A."""
    web.sign_in(ADMIN_A)
    return web


@pytest.fixture(scope="session")
def session_smtp() -> Iterator[tuple[Inbox, int]]:
    """An SMTP server (aiosmtpd) on loopback for the whole session: its inbox and its port."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture(scope="session")
def ledger_web(
    tmp_path_factory: pytest.TempPathFactory, session_smtp: tuple[Inbox, int]
) -> Iterator[LedgerWeb]:
    """``ledger serve`` as a process for the whole session (a fresh SQLite file, the test
    catalog, SMTP to ``session_smtp``). Tests share it: each makes the data it looks at and
    expects no tab to be empty or to hold only its own rows."""
    with ledger_serve(tmp_path_factory.mktemp("ledger-web"), session_smtp) as server:
        yield server


@pytest.fixture(scope="module")
def own_web(
    tmp_path_factory: pytest.TempPathFactory, session_smtp: tuple[Inbox, int]
) -> Iterator[LedgerWeb]:
    """A ``ledger serve`` of the test module's own, for tests whose claims would collide with
    other modules' on the session's server (the same customer claimed twice, a claim limit
    reached by another module's claims)."""
    with ledger_serve(tmp_path_factory.mktemp("own-web"), session_smtp) as server:
        yield server


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (scripts/test does)")
    with sync_playwright() as started:
        yield started


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """Debian's headless Chromium, one for the session."""
    launched = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser, ledger_web: LedgerWeb) -> Iterator[Page]:
    """A page in a fresh browser context with JavaScript disabled, at a desktop width."""
    context = browser.new_context(java_script_enabled=False, viewport=DESKTOP)
    context.set_default_timeout(15_000)
    opened = context.new_page()
    yield opened
    context.close()
