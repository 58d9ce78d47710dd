"""Bearer tokens: missing, expired, tampered, wrong signature; every role against every endpoint."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta
from typing import Any

import jwt
import pytest

from ledger.domain.access import AccessTokens
from ledger.domain.principal import Principal, Role
from ledger.service.clock import utc_now
from tests.api.client import Api
from tests.factories import ADMIN_A, ADMIN_B, create, days

PROBLEM = "application/problem+json"
CLAIM = "{claim}"
DOCUMENT = "00000000-0000-4000-8000-000000000000"
"""A document id no claim has (the document endpoint's path names one)."""
ZERO = "00000000-0000-0000-0000-000000000000"


def principal_with(role: Role) -> Principal:
    partner = (
        "P-A"
        if role in {Role.INCENTIVES_ADMIN, Role.INCENTIVES_USER, Role.REFERRAL_ADMIN}
        else None
    )
    return Principal(f"{role.value}@example", partner, frozenset({role}), frozenset({"LOC-A1"}))


# Which roles may call each endpoint (SPEC section 6); the rest get 403.
PARTNER = {Role.INCENTIVES_ADMIN, Role.INCENTIVES_USER}
ENDPOINTS: list[tuple[str, str, Any, set[Role]]] = [
    ("GET", "/v1/engagements", None, PARTNER),
    ("GET", "/v1/engagements/E-WS", None, PARTNER),
    ("GET", "/v1/engagements/E-WS/customers", None, PARTNER),
    ("POST", "/v1/eligibility-checks", {"location_id": "LOC-A1", "customer_id": {"type": "tpid", "value": "1"}}, PARTNER),
    ("POST", "/v1/claims", "create", PARTNER),
    ("GET", "/v1/claims", None, PARTNER | {Role.AUDITOR}),
    ("GET", f"/v1/claims/{CLAIM}", None, PARTNER | {Role.REVIEWER, Role.AUDITOR}),
    ("GET", f"/v1/claims/{CLAIM}/history", None, PARTNER | {Role.AUDITOR}),
    ("POST", f"/v1/claims/{CLAIM}/consent-request", {"deal_size_usd": "1.00", "disclaimer_accepted": True}, PARTNER),
    ("POST", f"/v1/claims/{CLAIM}/consent-reminder", None, PARTNER),
    ("POST", f"/v1/claims/{CLAIM}/submission", {"proof": []}, PARTNER),
    ("POST", f"/v1/claims/{CLAIM}/dispute", {}, PARTNER),
    ("POST", f"/v1/claims/{CLAIM}/cancellation", {}, PARTNER),
    ("POST", f"/v1/claims/{CLAIM}/review", {"action": "start"}, {Role.REVIEWER}),
    ("GET", "/v1/review-queue", None, {Role.REVIEWER}),
    ("GET", "/v1/referrals", None, {Role.REFERRAL_ADMIN}),
    ("GET", "/v1/referrals/00000000-0000-0000-0000-000000000000", None, {Role.REFERRAL_ADMIN}),
    ("GET", "/v1/co-sell/referrals", None, {Role.SELLER}),
    ("GET", "/v1/audit/digest", None, {Role.AUDITOR}),
    ("POST", "/v1/audit/erasures", {"email": "nobody@x.example"}, {Role.AUDITOR}),
    ("GET", "/v1/audit/erasures", None, {Role.AUDITOR}),
    ("GET", "/v1/reports/summary", None, PARTNER | {Role.REVIEWER, Role.AUDITOR}),
    ("GET", "/v1/events", None, PARTNER | {Role.AUDITOR}),
    ("POST", f"/v1/claims/{CLAIM}/documents", None, PARTNER),
    ("GET", f"/v1/claims/{CLAIM}/documents/{DOCUMENT}", None, PARTNER | {Role.REVIEWER, Role.AUDITOR}),
    ("GET", "/v1/audit/checkpoint", None, {Role.AUDITOR}),
    ("GET", f"/v1/audit/proofs/inclusion?event_id={DOCUMENT}", None, PARTNER | {Role.AUDITOR}),
    ("GET", "/v1/audit/proofs/consistency?from=1&to=1", None, {Role.AUDITOR}),
    ("POST", "/v1/webhooks", {"url": "https://127.0.0.1/hooks", "events": ["*"]}, {Role.INCENTIVES_ADMIN}),
    ("GET", "/v1/webhooks", None, {Role.INCENTIVES_ADMIN}),
    ("DELETE", f"/v1/webhooks/{ZERO}", None, {Role.INCENTIVES_ADMIN}),
    ("GET", f"/v1/webhooks/{ZERO}/deliveries", None, {Role.INCENTIVES_ADMIN}),
    ("POST", f"/v1/webhooks/{ZERO}/deliveries/{ZERO}/retry", None, {Role.INCENTIVES_ADMIN}),
]  # fmt: skip
PUBLIC = {("GET", "/v1/consent/{token}"), ("POST", "/v1/consent/{token}")}
"""The consent link's page: the customer has no account, the link's token is the key."""


def call(api: Api, method: str, path: str, payload: Any, headers: dict[str, str]) -> Any:
    if method in ("GET", "DELETE"):
        return api.client.request(method, path, headers=headers)
    if payload == "create":
        payload = create(["E-WS"]).model_dump(mode="json")
    return api.client.post(path, json=payload or {}, headers=headers)


@pytest.mark.parametrize(
    ("method", "path", "payload", "allowed"), ENDPOINTS, ids=lambda v: str(v)[:40]
)
def test_every_role_against_every_endpoint(
    api: Api, method: str, path: str, payload: Any, allowed: set[Role]
) -> None:
    (claim_id,) = api.services.ledger.create_claims(ADMIN_A, create(["E-AS"]), days(0))
    api.services.workers.views.catch_up()
    path = path.replace(CLAIM, str(claim_id))
    for role in Role:
        response = call(api, method, path, payload, api.auth(principal_with(role)))
        if role in allowed:
            assert response.status_code not in {401, 403}, (role, response.text)
            assert response.status_code < 500
        else:
            assert response.status_code == 403, (role, response.text)
            assert response.headers["content-type"].startswith(PROBLEM)
    unauthenticated = call(api, method, path, payload, {})
    assert unauthenticated.status_code == 401


def operations(api: Api) -> set[tuple[str, str]]:
    """Every (method, path) of the app's API, from its routes."""
    paths: dict[str, dict[str, Any]] = api.app.openapi()["paths"]
    return {
        (method.upper(), path)
        for path, methods in paths.items()
        if path.startswith("/v1/")
        for method in methods
    }


def test_the_table_lists_every_endpoint_that_needs_a_token(api: Api) -> None:
    listed = {(method, path.replace(CLAIM, "{claim_id}")) for method, path, _, _ in ENDPOINTS}
    assert len(listed) == len(ENDPOINTS)
    routes = {(m, re.sub(r"\{\w+\}", "{}", p)) for m, p in operations(api) - PUBLIC}
    listed = {(m, p.split("?")[0]) for m, p in listed}
    assert routes == {(m, re.sub(r"E-WS|\{claim_id\}|0{8}-[0-9-]+", "{}", p)) for m, p in listed}
    assert len(routes) == 33


def claim_operations(api: Api) -> set[tuple[str, str]]:
    """Every (method, path) of the app that names a claim, from its routes."""
    paths: dict[str, dict[str, Any]] = api.app.openapi()["paths"]
    return {
        (method.upper(), path.replace("{claim_id}", CLAIM))
        for path, operations in paths.items()
        if "{claim_id}" in path
        for method in operations
    }


def test_cross_partner_claims_are_not_found(api: Api) -> None:
    (claim_id,) = api.services.ledger.create_claims(ADMIN_A, create(["E-AS"]), days(0))
    api.services.workers.views.catch_up()
    listed = {
        (method, path.replace(DOCUMENT, "{document_id}"))
        for method, path, _, _ in ENDPOINTS
        if CLAIM in path
    }
    assert listed == claim_operations(api), "ENDPOINTS must list every claim endpoint"
    partners = [e for e in ENDPOINTS if CLAIM in e[1] and Role.INCENTIVES_ADMIN in e[3]]
    # Every claim endpoint but the review, which is the reviewers' (they see every partner).
    assert len(partners) == len(claim_operations(api)) - 1 == 9
    tried = 0
    for method, path, payload, _ in partners:
        response = call(api, method, path.replace(CLAIM, str(claim_id)), payload, api.auth(ADMIN_B))
        assert response.status_code == 404, (path, response.text)
        assert response.json()["type"].endswith("/claim-not-found")
        tried += 1
    assert tried == 9


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["reviewer", "incentives_admin"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


@pytest.mark.parametrize(
    "kind",
    ["missing", "expired", "tampered", "wrong-signature", "not-a-jwt", "consent-token", "basic"],
)
def test_bad_tokens_are_401(api: Api, kind: str) -> None:
    key = api.settings.signing_key()
    good = AccessTokens(key).mint(ADMIN_A, timedelta(hours=1), utc_now())
    headers = {
        "missing": {},
        "expired": {"Authorization": "Bearer " + AccessTokens(key).mint(ADMIN_A, timedelta(seconds=-5), utc_now())},
        "tampered": {"Authorization": "Bearer " + _tamper(good)},
        "wrong-signature": {"Authorization": "Bearer " + AccessTokens("another-key-" + "x" * 32).mint(ADMIN_A, timedelta(hours=1), utc_now())},
        "not-a-jwt": {"Authorization": "Bearer hello"},
        "consent-token": {"Authorization": "Bearer " + jwt.encode({"typ": "consent", "sub": "x", "lnk": "y", "exp": 4102444800, "roles": []}, key, algorithm="HS256")},
        "basic": {"Authorization": "Basic YWxhZGRpbjpvcGVuc2VzYW1l"},
    }[kind]  # fmt: skip
    response = api.client.get("/v1/claims", headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.headers["www-authenticate"].startswith("Bearer")
    if kind == "expired":
        assert "expired" in response.json()["detail"]


def test_a_good_token_works(api: Api) -> None:
    assert api.client.get("/v1/claims", headers=api.auth(ADMIN_A)).status_code == 200
