"""Web sign-in through the identity provider (authorisation code with PKCE), with the local
issuer of ``tests.oidc_issuer`` over real HTTP: the sign-in page offers it; the callback starts
a session for the person the ID token names; a tampered state, a code sent back with another
browser's flow (so another code verifier), a replayed nonce or an expired flow are refused with
the sign-in page and a reason, and start no session."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from cli.site import create_app
from ledger.service.settings import Settings
from testkit.pgcluster import free_port
from tests.conftest import Clock
from tests.factories import make_catalog
from tests.oidc_issuer import Issuer, running_issuer
from tests.web.client import Site
from web.routes.provider_sign_in import FLOW_COOKIE

UMA = {
    "sub": "uma@a.example",
    "roles": ["incentives_user"],
    "partner_id": "P-A",
    "locations": ["LOC-A1"],
}


@pytest.fixture
def issuer(clock: Clock) -> Iterator[Issuer]:
    with running_issuer() as running:
        running.now = clock.now
        running.user = dict(UMA)
        yield running


def site_of(tmp_path: Path, clock: Clock, **oidc: str) -> Iterator[Site]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    settings = settings.model_copy(update=oidc)
    app = create_app(settings, catalog=make_catalog(), clock=clock, run_workers=False)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield Site(app, client, settings, clock)


@pytest.fixture
def site(tmp_path: Path, clock: Clock, issuer: Issuer) -> Iterator[Site]:
    """The page, set up for sign-in at the local issuer (client ``claim-ledger``)."""
    yield from site_of(
        tmp_path,
        clock,
        oidc_issuer=issuer.url,
        oidc_client_id=issuer.client_id,
        oidc_provider_name="Contoso ID",
    )


def begin(site: Site, next: str = "/claims") -> tuple[dict[str, str], str]:
    """A browser starts a sign-in: the query it is sent to the provider with, and its flow
    cookie; the provider then redirects it straight back (it agreed)."""
    site.client.cookies.clear()
    started = site.client.get(f"/sign-in/provider?{urlencode({'next': next})}")
    assert started.status_code == 303, started.text
    asked = {k: v[0] for k, v in parse_qs(urlsplit(started.headers["location"]).query).items()}
    return asked, started.cookies[FLOW_COOKIE]


def at_provider(address: str) -> dict[str, str]:
    """The provider's redirect back: the callback's query (code and state)."""
    back = httpx.get(address, follow_redirects=False)
    assert back.status_code == 302, back.text
    return {k: v[0] for k, v in parse_qs(urlsplit(back.headers["location"]).query).items()}


def callback(site: Site, cookie: str, query: dict[str, str]) -> httpx.Response:
    site.client.cookies.clear()
    response: httpx.Response = site.client.get(
        f"/sign-in/provider/callback?{urlencode(query)}",
        headers={"Cookie": f"{FLOW_COOKIE}={cookie}"},
    )
    return response


def sign_in_at(site: Site, issuer: Issuer) -> tuple[dict[str, str], str, dict[str, str]]:
    asked, cookie = begin(site)
    return asked, cookie, at_provider(f"{issuer.url}/authorize?{urlencode(asked)}")


def signed_in_as(site: Site, response: httpx.Response) -> str | None:
    """Who the page says is signed in with the response's session cookie (None: nobody)."""
    site.client.cookies.clear()
    session = response.cookies.get("ledger_session")
    if session is None:
        return None
    page = site.client.get("/", headers={"Cookie": f"ledger_session={session}"})
    return "uma@a.example" if "uma@a.example" in page.text else None


@pytest.mark.parametrize(
    ("language", "says"), [("en", "Sign in with Contoso ID"), ("pt-BR", "Entrar com Contoso ID")]
)
def test_the_sign_in_page_offers_the_provider(site: Site, language: str, says: str) -> None:
    page = site.client.get("/sign-in?next=/claims", headers={"Accept-Language": language})
    assert page.status_code == 200
    assert says in page.text
    assert 'href="/sign-in/provider?next=/claims"' in page.text
    assert 'name="token"' in page.text  # `ledger token`'s still works beside it


def test_without_a_client_id_there_is_no_provider_sign_in(tmp_path: Path, clock: Clock) -> None:
    for site in site_of(tmp_path, clock):
        assert "/sign-in/provider" not in site.client.get("/sign-in").text
        assert site.client.get("/sign-in/provider").status_code == 404


def test_the_provider_signs_the_person_in_with_pkce(site: Site, issuer: Issuer) -> None:
    asked, cookie, back = sign_in_at(site, issuer)
    assert asked["code_challenge_method"] == "S256" and asked["response_type"] == "code"
    assert asked["redirect_uri"].endswith("/sign-in/provider/callback")
    assert asked["state"] and asked["nonce"] and asked["code_challenge"]
    done = callback(site, cookie, back)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/claims"
    assert signed_in_as(site, done) == "uma@a.example"
    (exchange,) = issuer.exchanges
    assert exchange["grant_type"] == "authorization_code" and exchange["code_verifier"]


def refused(site: Site, response: httpx.Response, says: str) -> None:
    assert response.status_code == 401, response.text
    assert says in response.text, response.text
    assert "ledger_session" not in response.cookies
    assert signed_in_as(site, response) is None


def test_a_tampered_state_is_refused(site: Site, issuer: Issuer) -> None:
    _, cookie, back = sign_in_at(site, issuer)
    refused(
        site,
        callback(site, cookie, {**back, "state": back["state"][:-2] + "xx"}),
        "did not come back as it left",
    )
    assert issuer.exchanges == []  # refused before the code is spent


def test_a_code_sent_back_with_another_flow_fails_its_code_verifier(
    site: Site, issuer: Issuer
) -> None:
    """Code injection: the code of flow A with browser B's flow (its own state, its own
    verifier). The provider refuses the verifier; the code itself was good, as flow A shows."""
    _, cookie_a, back_a = sign_in_at(site, issuer)
    _, cookie_b, back_b = sign_in_at(site, issuer)
    injected = callback(site, cookie_b, {"code": back_a["code"], "state": back_b["state"]})
    refused(site, injected, "The identity provider did not complete your sign-in")
    assert len(issuer.exchanges) == 1
    done = callback(site, cookie_a, back_a)
    assert done.status_code == 303, done.text
    assert signed_in_as(site, done) == "uma@a.example"


def test_an_id_token_with_another_nonce_is_refused(site: Site, issuer: Issuer) -> None:
    issuer.user["nonce"] = "an-old-sign-in"
    _, cookie, back = sign_in_at(site, issuer)
    refused(site, callback(site, cookie, back), "did not come back as it left")


def test_a_flow_older_than_ten_minutes_is_refused(site: Site, issuer: Issuer, clock: Clock) -> None:
    _, cookie, back = sign_in_at(site, issuer)
    clock.now += timedelta(minutes=11)
    refused(site, callback(site, cookie, back), "took too long")


def test_a_forged_flow_cookie_is_refused(site: Site, issuer: Issuer) -> None:
    _, cookie, back = sign_in_at(site, issuer)
    head, body, signature = cookie.split(".")
    refused(site, callback(site, f"{head}.{body}.{signature[::-1]}", back), "sign in again")


def test_an_id_token_without_a_role_is_refused_with_what_to_ask(site: Site, issuer: Issuer) -> None:
    issuer.user["roles"] = ["wiki-editor"]
    _, cookie, back = sign_in_at(site, issuer)
    refused(site, callback(site, cookie, back), "Your account has none of the ledger&#39;s roles")


def test_an_unreachable_provider_is_a_503_page(tmp_path: Path, clock: Clock) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    for site in site_of(tmp_path, clock, oidc_issuer=nowhere, oidc_client_id="claim-ledger"):
        answer = site.client.get("/sign-in/provider")
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "60"
        assert "The identity provider did not answer" in answer.text


def test_failed_sign_ins_lock_the_client_out_of_the_callback_too(
    site: Site, issuer: Issuer
) -> None:
    """Five refused callbacks (a forged state) lock the client out, as five refused tokens
    do: even a good answer of the provider is not read until the window has passed."""
    for _ in range(5):
        _, cookie, back = sign_in_at(site, issuer)
        refused(site, callback(site, cookie, {**back, "state": "forged"}), "sign in again")
    _, cookie, back = sign_in_at(site, issuer)
    locked = callback(site, cookie, back)
    assert locked.status_code == 429, locked.text
    assert "Too many failed sign-ins" in locked.text
    assert int(locked.headers["retry-after"]) > 0
    assert issuer.exchanges == []
