"""The auditor's desk over HTTP (SPEC 14): every partner's claims, a claim's history as JSON
Lines, and the erasures listed."""

from __future__ import annotations

import json

from tests.api.client import Api
from tests.api.helpers import body
from tests.factories import ADMIN_A, ADMIN_B, AUDITOR, LITWARE, REVIEWER


def _claims(api: Api) -> tuple[str, str]:
    mine = api.post("/v1/claims", body(["E-WS"]), ADMIN_A)
    theirs = api.post(
        "/v1/claims",
        body(["E-AS"], value=LITWARE, location="LOC-B1", customer_email="it@litware.com"),
        ADMIN_B,
    )
    assert mine.status_code == theirs.status_code == 201, theirs.text
    return mine.json()["claims"][0]["claim_id"], theirs.json()["claims"][0]["claim_id"]


def test_an_auditor_lists_every_partners_claims_and_filters_by_partner(api: Api) -> None:
    a, b = _claims(api)
    every = api.get("/v1/claims", AUDITOR)
    assert every.status_code == 200, every.text
    found = {i["claim_id"]: i["partner_id"] for i in every.json()["items"]}
    assert found == {a: "P-A", b: "P-B"}
    only_b = api.get("/v1/claims", AUDITOR, params={"partner_id": "P-B"}).json()["items"]
    assert [i["claim_id"] for i in only_b] == [b]
    for claim_id in (a, b):  # each one's details and history too
        assert api.get(f"/v1/claims/{claim_id}", AUDITOR).status_code == 200
        assert api.get(f"/v1/claims/{claim_id}/history", AUDITOR).status_code == 200
    csv = api.get("/v1/claims", AUDITOR, headers={"Accept": "text/csv"}).text
    assert len(csv.strip().splitlines()) == 3

    own = api.get("/v1/claims", ADMIN_A).json()["items"]  # a partner's list: its own alone
    assert [i["claim_id"] for i in own] == [a]
    assert api.get("/v1/claims", ADMIN_A, params={"partner_id": "P-B"}).status_code == 403
    assert api.get("/v1/claims", REVIEWER).status_code == 403


def test_a_claims_history_as_json_lines(api: Api) -> None:
    a, b = _claims(api)
    plain = api.get(f"/v1/claims/{b}/history", AUDITOR).json()
    answer = api.get(f"/v1/claims/{b}/history", AUDITOR, headers={"Accept": "application/jsonl"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/jsonl")
    lines = [json.loads(line) for line in answer.text.splitlines()]
    assert [(r["version"], r["event"]) for r in lines] == [
        (e["version"], e["event"]) for e in plain
    ]
    assert set(lines[0]) == {"version", "event", "occurred_at", "actor", "data"}
    assert lines[0]["actor"]["id"] == ADMIN_B.user_id
    mine = api.get(f"/v1/claims/{a}/history", ADMIN_A, headers={"Accept": "application/jsonl"})
    assert mine.status_code == 200 and mine.text.count("\n") == len(mine.text.splitlines())
    theirs = api.get(f"/v1/claims/{b}/history", ADMIN_A, headers={"Accept": "application/jsonl"})
    assert theirs.status_code == 404
    refused = api.get(f"/v1/claims/{b}/history", REVIEWER, headers={"Accept": "application/jsonl"})
    assert refused.status_code == 403


def test_the_erasures_are_listed_for_auditors(api: Api) -> None:
    _claims(api)
    assert api.get("/v1/audit/erasures", AUDITOR).json() == []
    made = api.post("/v1/audit/erasures", {"email": "it@litware.com"}, AUDITOR)
    assert made.status_code == 201, made.text
    listed = api.get("/v1/audit/erasures", AUDITOR)
    assert listed.status_code == 200 and listed.json() == [made.json()]
    assert "litware" not in listed.text.lower()
    for principal in (ADMIN_A, REVIEWER):
        assert api.get("/v1/audit/erasures", principal).status_code == 403
