"""Protective headers: nosniff everywhere, no-store for principals and consent links, a CSP
without script and framing on the page's HTML, no Referer from the consent page."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.helpers import consent_body, new_claim
from tests.factories import ADMIN_A


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
    assert "content-security-policy" not in api.client.get("/docs").headers
    token = api.auth(ADMIN_A)["Authorization"].split()[1]
    signed_in = api.client.post("/sign-in", data={"token": token})
    assert signed_in.status_code == 200
    assert signed_in.headers["cache-control"] == "no-store"
