"""Protective headers: nosniff everywhere, no-store for principals and consent links, a CSP
without script and framing on the page's HTML, no Referer from the consent page."""

from __future__ import annotations

from tests.api.client import Api
from tests.api.helpers import consent_body, new_claim
from tests.factories import ADMIN_A
from tests.web.client import sign_in_with


def test_every_response_says_nosniff_and_private_ones_are_not_stored(api: Api) -> None:
    public = api.get("/healthz", None)
    assert public.headers["x-content-type-options"] == "nosniff"
    assert "cache-control" not in public.headers
    for response in (api.get("/v1/claims"), api.get("/v1/engagements/NOPE")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"


def test_the_consent_link_is_not_stored_nor_referred(api: Api) -> None:
    claim_id = new_claim(api, ["E-WS"])
    assert api.post(f"/v1/claims/{claim_id}/consent-request", consent_body()).is_success
    token = api.consent_token(claim_id)
    for path in (f"/v1/consent/{token}", f"/consent/{token}"):
        response = api.get(path, None)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"


def test_pages_forbid_scripts_and_framing_but_the_api_docs_keep_theirs(api: Api) -> None:
    page = api.client.get("/sign-in")
    policy = page.headers["content-security-policy"]
    assert "script-src 'none'" in policy and "frame-ancestors 'none'" in policy
    for docs in ("/docs", "/redoc"):  # their own scripts run, but nobody frames them
        headers = api.client.get(docs).headers
        assert headers["content-security-policy"] == "frame-ancestors 'none'"
        assert headers["x-frame-options"] == "DENY"
    token = api.auth(ADMIN_A)["Authorization"].split()[1]
    assert sign_in_with(api.client, token).status_code == 303
    signed_in = api.client.get("/")
    assert signed_in.status_code == 200
    assert signed_in.headers["cache-control"] == "no-store"


def test_a_redirect_never_sends_the_client_to_the_host_it_named(api: Api) -> None:
    for host in ("evil.example", "testserver"):
        response = api.client.get(
            "/v1/claims/?customer=a", headers={"Host": host}, follow_redirects=False
        )
        assert response.status_code == 307
        assert response.headers["location"] == "/v1/claims?customer=a"
