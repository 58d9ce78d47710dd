"""GET /v1/events: the feed of what happened, scoped to the reader, from signed cursors, with
stable ids, personal data as reads show it, and a long poll (on SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from ledger.domain.principal import Principal
from tests.api.client import Api
from tests.api.helpers import assert_problem, consent_body, consented, new_claim
from tests.factories import (
    ADMIN_A,
    ADMIN_B,
    AUDITOR,
    NORTHWIND,
    REVIEWER,
    SELLER,
    USER_A1,
    create,
)

PATH = "/v1/events"


def feed(api: Api, principal: Principal = ADMIN_A, **params: Any) -> Any:
    response = api.get(PATH, principal, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def everything(api: Api, principal: Principal = ADMIN_A, limit: int = 100) -> list[Any]:
    """Every event the principal may see, read page by page until a page comes back empty."""
    items, after = [], None
    while True:
        found = feed(api, principal, limit=limit, **({"after": after} if after else {}))
        items += found["items"]
        if not found["items"]:
            return items
        after = found["next"]


def partner_b_claim(api: Api) -> str:
    made = api.post(
        "/v1/claims",
        create(
            ["E-WS"], location="LOC-B1", value=NORTHWIND, customer_email="it@northwind.com"
        ).model_dump(mode="json"),
        ADMIN_B,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["claims"][0]["claim_id"])


def test_a_partner_reads_its_claims_events_in_order_with_ids_that_never_change(api: Api) -> None:
    claim_id = consented(api)
    partner_b_claim(api)
    api.services.workers.policies.catch_up()  # the referral policy records its events
    first = everything(api)
    assert [e["claim_id"] for e in first] == [claim_id] * len(first)
    types = [e["type"] for e in first]
    assert types[:3] == ["Added", "ConsentRequested", "ConsentGiven"]
    assert {"ReferralCreated", "Referral.Created", "UpgradedToCoSell"} <= set(types)
    versions = [e["version"] for e in first if "." not in e["type"]]
    assert versions == sorted(versions) and versions[0] == 1
    positions = [e["position"] for e in first]
    assert positions == sorted(positions)
    again = everything(api, limit=2)
    assert [e["id"] for e in again] == [e["id"] for e in first]
    assert len({e["id"] for e in first}) == len(first)
    added = first[0]
    assert set(added) == {
        "id",
        "position",
        "type",
        "claim_id",
        "version",
        "occurred_at",
        "actor",
        "data",
    }
    assert added["actor"]["kind"] == "user" and added["actor"]["id"] == ADMIN_A.user_id
    assert added["data"]["partner_id"] == "P-A"
    assert added["data"]["contacts"]["customer"]["email"].endswith("@fabrikam.com")


def test_each_reader_sees_what_is_theirs(api: Api) -> None:
    mine = new_claim(api)
    elsewhere = new_claim(api, ["E-A2"], location="LOC-A2")
    theirs = partner_b_claim(api)

    def claims_of(principal: Principal) -> set[str]:
        return {e["claim_id"] for e in everything(api, principal)}

    assert claims_of(ADMIN_A) == {mine, elsewhere}
    assert claims_of(USER_A1) == {mine}
    assert claims_of(ADMIN_B) == {theirs}
    audited = everything(api, AUDITOR)
    assert {mine, elsewhere, theirs} <= {e["claim_id"] for e in audited}
    assert any(e["claim_id"] is None for e in audited)  # the records beside the claims too


def test_the_next_cursor_moves_on_and_a_later_event_comes_after_it(api: Api) -> None:
    new_claim(api)
    page = feed(api)
    assert feed(api, after=page["next"])["items"] == []
    later = new_claim(api, value=NORTHWIND, customer_email="it@northwind.com")
    found = feed(api, after=page["next"])
    assert [e["claim_id"] for e in found["items"]] == [later]
    assert found["items"][0]["position"] > page["items"][-1]["position"]


def test_a_contact_erased_reads_erased_under_the_same_id(api: Api) -> None:
    claim_id = new_claim(api, customer_email="erase.me@fabrikam.com")
    assert api.post(f"/v1/claims/{claim_id}/consent-request", consent_body()).status_code == 200
    before = {e["id"]: e for e in everything(api)}
    erased = api.post("/v1/audit/erasures", {"email": "erase.me@fabrikam.com"}, AUDITOR)
    assert erased.status_code == 201, erased.text
    after = {e["id"]: e for e in everything(api)}
    assert list(after) == list(before)  # the same events, under the same ids
    asked = next(e for e in after.values() if e["type"] == "ConsentRequested")
    assert asked["data"]["contacts"]["customer"]["email"] == "[erased]"
    assert before[asked["id"]]["data"]["contacts"]["customer"]["email"] == "erase.me@fabrikam.com"


def test_an_empty_answer_waits_for_the_next_event(api: Api) -> None:
    new_claim(api)
    start = feed(api)["next"]
    begun = time.monotonic()
    assert feed(api, after=start, wait=0.3)["items"] == []
    assert time.monotonic() - begun >= 0.3

    def later() -> None:
        time.sleep(0.5)
        new_claim(api, value=NORTHWIND, customer_email="it@northwind.com")

    writer = threading.Thread(target=later)
    writer.start()
    begun = time.monotonic()
    found = feed(api, after=start, wait=20)
    writer.join()
    assert len(found["items"]) == 1 and time.monotonic() - begun < 10


@pytest.mark.parametrize("principal", [REVIEWER, SELLER])
def test_other_roles_are_refused(api: Api, principal: Principal) -> None:
    assert_problem(api.get(PATH, principal), 403, "role-required")


def test_no_token_is_401(api: Api) -> None:
    assert api.get(PATH, None).status_code == 401


@pytest.mark.parametrize(
    "params",
    [
        {"after": "garbage"},
        {"after": "12.AAAAAAAAAAAAAAAAAAAAAAAA"},
        {"after": "0"},
        {"after": "-1.x"},
    ],
)
def test_a_cursor_never_given_is_refused(api: Api, params: dict[str, str]) -> None:
    refused = api.get(PATH, params=params)
    assert_problem(refused, 422, "invalid-cursor")
    assert refused.json()["field"] == "after"
    assert "feed position" in refused.json()["detail"]


def test_another_partners_cursor_is_refused(api: Api) -> None:
    new_claim(api)
    cursor = feed(api, ADMIN_A)["next"]
    assert_problem(api.get(PATH, ADMIN_B, params={"after": cursor}), 422, "invalid-cursor")
    assert_problem(api.get(PATH, AUDITOR, params={"after": cursor}), 422, "invalid-cursor")


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 501}, {"wait": 31}, {"wait": -1}])
def test_limits_out_of_range_are_refused(api: Api, params: dict[str, int]) -> None:
    assert api.get(PATH, params=params).status_code == 422
