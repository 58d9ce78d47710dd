"""Helpers of the API tests: request bodies, problem checks, claims in a given state."""

from __future__ import annotations

from typing import Any

from ledger.domain.principal import Principal, Role
from tests.api.client import Api
from tests.factories import ALL_PROOF, create

REFERRAL_ADMIN_A = Principal("ria@a.example", "P-A", frozenset({Role.REFERRAL_ADMIN}))
PROBLEM = "application/problem+json"


def body(engagements: list[str] | None = None, **kwargs: Any) -> dict[str, Any]:
    return create(engagements, **kwargs).model_dump(mode="json")


def consent_body(deal: str = "20000.00") -> dict[str, Any]:
    return {"deal_size_usd": deal, "disclaimer_accepted": True}


def proof_body(kinds: list[str] = ALL_PROOF) -> dict[str, Any]:
    return {"proof": [{"kind": k, "reference": f"{k}.pdf"} for k in kinds]}


def assert_problem(response: Any, status: int, slug: str, rule: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["type"].endswith("/" + slug), problem
    assert problem["status"] == status and problem["title"] and problem["detail"]
    if rule:
        assert problem["rule"] == rule


def new_claim(api: Api, engagements: list[str] | None = None, **kwargs: Any) -> str:
    response = api.post("/v1/claims", body(engagements, **kwargs))
    assert response.status_code == 201, response.text
    return str(response.json()["claims"][0]["claim_id"])


def consented(api: Api, **kwargs: Any) -> str:
    claim_id = new_claim(api, **kwargs)
    assert api.post(f"/v1/claims/{claim_id}/consent-request", consent_body()).status_code == 200
    token = api.consent_token(claim_id)
    assert api.post(f"/v1/consent/{token}", {"decision": "accept"}, None).status_code == 200
    return claim_id
