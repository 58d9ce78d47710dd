"""Signing in through the identity provider in a real browser (headless Chromium, JavaScript
off) against ``ledger serve``, with the local issuer of ``tests.oidc_issuer``: the sign-in page
in both languages (screenshots, and at 320 px), the PKCE sign-in from the button to the
signed-in page, and a tampered state or another flow's code (a wrong code verifier) refused."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route

from ledger.words.i18n import COOKIE
from tests.conftest import Inbox
from tests.oidc_issuer import Issuer, running_issuer
from tests.web.browser import DESKTOP, LedgerWeb, ledger_serve, shot
from tests.web.test_narrow_browser import check

pytestmark = pytest.mark.browser
UMA = {"sub": "uma@a.example", "roles": ["incentives_admin"], "partner_id": "P-A"}


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with running_issuer() as running:
        running.user = dict(UMA)
        yield running


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, session_smtp: tuple[Inbox, int], issuer: Issuer
) -> Iterator[LedgerWeb]:
    settings = {
        "LEDGER_OIDC_ISSUER": issuer.url,
        "LEDGER_OIDC_CLIENT_ID": issuer.client_id,
        "LEDGER_OIDC_PROVIDER_NAME": "Contoso ID",
    }
    with ledger_serve(tmp_path_factory.mktemp("oidc-web"), session_smtp, settings) as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False, viewport=DESKTOP)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def speak(page: Page, server: LedgerWeb, language: str) -> None:
    host = urlsplit(server.url).hostname
    page.context.add_cookies([{"name": COOKIE, "value": language, "domain": host, "path": "/"}])


@pytest.mark.parametrize(
    ("language", "button"), [("en", "Sign in with Contoso ID"), ("pt-BR", "Entrar com Contoso ID")]
)
def test_the_provider_signs_a_person_in(
    page: Page, server: LedgerWeb, language: str, button: str
) -> None:
    speak(page, server, language)
    page.goto(f"{server.url}/sign-in?next=/claims")
    shot(page, f"oidc-sign-in-{language}")
    check(page, f"oidc-sign-in-{language}")
    page.set_viewport_size(DESKTOP)
    with page.expect_navigation(url=f"{server.url}/claims"):
        page.get_by_role("link", name=button).click()
    assert page.locator(".who").inner_text() == "uma@a.example"
    assert page.context.cookies(server.url)  # the session's cookie


def a_code_of_another_browser(server: LedgerWeb, issuer: Issuer) -> str:
    """A code the provider gave another browser's sign-in (not yet spent)."""
    with httpx.Client(follow_redirects=False) as other:
        started = other.get(f"{server.url}/sign-in/provider")
        back = other.get(started.headers["location"])
    return parse_qs(urlsplit(back.headers["location"]).query)["code"][0]


def changed(route: Route, **query: str) -> None:
    """The sign-in through the provider, its answer changed on the way back: the ledger's
    redirect to the provider (with the flow's cookie) is fetched, the provider's redirect
    back asked for, and the browser sent to it with ``query`` changed. (Playwright does not
    route redirected requests, so the redirects are followed here.)"""
    started = route.fetch(max_redirects=0)
    back = urlsplit(httpx.get(started.headers["location"]).headers["location"])
    asked = {k: v[0] for k, v in parse_qs(back.query).items()} | query
    headers = [h for h in started.headers_array if h["name"].lower() == "set-cookie"]
    headers.append({"name": "Location", "value": back._replace(query=urlencode(asked)).geturl()})
    route.fulfill(status=303, headers={h["name"]: h["value"] for h in headers})


@pytest.mark.parametrize("tampering", ["state", "code"])
def test_a_tampered_state_or_another_flows_code_is_refused(
    page: Page, server: LedgerWeb, issuer: Issuer, tampering: str
) -> None:
    """A changed state is refused before the code is used; another browser's code with this
    browser's flow fails at the provider (this flow's code verifier does not fit its
    challenge). Either way the sign-in page says so, and nobody is signed in."""
    swap = (
        {"state": "forged-state"}
        if tampering == "state"
        else {"code": a_code_of_another_browser(server, issuer)}
    )
    page.route(
        lambda url: urlsplit(url).path == "/sign-in/provider", lambda route: changed(route, **swap)
    )
    page.goto(f"{server.url}/sign-in")
    with page.expect_response(lambda answer: "/sign-in/provider/callback?" in answer.url) as found:
        page.get_by_role("link", name="Sign in with Contoso ID").click()
    assert found.value.status == 401, (page.url, page.content())
    alert = page.get_by_role("alert")
    says = {
        "state": "This sign-in did not come back as it left",
        "code": "The identity provider did not complete your sign-in",
    }[tampering]
    assert says in alert.inner_text()
    assert page.locator(".who").count() == 0
    assert not [c for c in page.context.cookies(server.url) if c["name"] == "ledger_session"]
    if tampering == "code":
        verifier = issuer.exchanges[-1]["code_verifier"]
        assert verifier and issuer.codes  # refused by the provider, the other code unspent
