"""The claim as it stood at a time (SPEC 11), over HTTP: every status code."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from ledger.projections.base import ts
from tests.api.client import Api
from tests.api.helpers import assert_problem, consent_body, new_claim, proof_body
from tests.conftest import Clock
from tests.factories import (
    ADMIN_A,
    ADMIN_B,
    AUDITOR,
    REVIEWER,
    SELLER,
    USER_A1,
    days,
)

BERLIN = timezone(timedelta(hours=2))


def at(n: float) -> str:
    """Day ``n`` of the tests' clock as ISO-8601, written in another time zone than UTC."""
    return days(n).astimezone(BERLIN).isoformat()


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def accept(api: Api, claim_id: str) -> None:
    token = api.consent_token(claim_id)
    assert api.post(f"/v1/consent/{token}", {"decision": "accept"}, None).status_code == 200


def review(api: Api, claim_id: str, action: str) -> None:
    response = api.post(f"/v1/claims/{claim_id}/review", {"action": action}, REVIEWER)
    assert response.status_code == 200, response.text


def approved_over_days(api: Api, clock: Clock) -> str:
    """A claim added at day 0, consent asked at 2 (its e-mail sent at 2.2), given at 3,
    submitted at 5, reviewed at 6, approved at 7; the clock then stays at day 10."""
    clock.now = days(0)
    claim_id = new_claim(api)
    clock.now = days(2)
    assert api.post(f"/v1/claims/{claim_id}/consent-request", consent_body()).status_code == 200
    api.settle()
    assert api.services.workers.mailer.deliver_pending(days(2.2)) == 1
    clock.now = days(3)
    accept(api, claim_id)
    clock.now = days(5)
    assert api.post(f"/v1/claims/{claim_id}/submission", proof_body()).status_code == 200
    clock.now = days(6)
    review(api, claim_id, "start")
    clock.now = days(7)
    review(api, claim_id, "approve")
    clock.now = days(10)
    return claim_id


def test_the_claim_as_of_a_time_is_the_claim_as_it_stood_then(api: Api, clock: Clock) -> None:
    claim_id = approved_over_days(api, clock)
    now = api.get(f"/v1/claims/{claim_id}")
    assert now.headers["etag"] == '"6"' and now.json()["as_of"] is None
    assert now.json()["state"] == "approved"

    created = api.get(f"/v1/claims/{claim_id}", params={"as_of": at(1)})
    assert "etag" not in created.headers  # never taken for the claim as it is
    first = ok(created)
    assert (first["state"], first["label"], first["version"]) == (
        "customer_claimed", "Customer claimed", 1
    )  # fmt: skip
    assert first["as_of"] == ts(days(1))
    assert first["deadlines"] == {"consent": ts(days(30))}
    assert first["running_deadline"] == ts(days(30))
    assert first["days_left"] == 29  # at day 1, not at day 10 (20 left then)
    assert first["actions"] == [] and first["commands"] == []  # nothing can be done then
    assert first["deal_size_usd"] is None and first["payout_usd"] is None
    assert first["contacts"] == now.json()["contacts"]
    assert first["consent_email"] is None

    asked = ok(api.get(f"/v1/claims/{claim_id}", params={"as_of": at(2)}))  # its very time
    assert (asked["state"], asked["version"], asked["deal_size_usd"]) == (
        "awaiting_consent", 2, "20000.00"
    )  # fmt: skip
    assert asked["consent_email"] == "pending"  # sent at 2.2
    later = ok(api.get(f"/v1/claims/{claim_id}", params={"as_of": at(2.5)}))
    assert later["consent_email"] == "sent" and later["days_left"] == 28

    consented = ok(api.get(f"/v1/claims/{claim_id}", params={"as_of": at(4)}))
    assert consented["label"] == "Customer consent received" and consented["had_consent"]
    assert consented["running_deadline_kind"] == "submission"
    assert consented["deadlines"]["submission"] == ts(days(3 + 90))
    assert consented["days_left"] == 89

    submitted = ok(api.get(f"/v1/claims/{claim_id}", params={"as_of": at(5.5)}))
    assert submitted["state"] == "submitted" and submitted["submissions"] == 1
    assert {p["kind"] for p in submitted["proof"]} == {p["kind"] for p in now.json()["proof"]}
    assert submitted["days_left"] is None and submitted["payout_usd"] is None

    done = ok(api.get(f"/v1/claims/{claim_id}", params={"as_of": at(7)}))
    assert (done["state"], done["terminal"], done["payout_usd"]) == ("approved", True, "5000.00")
    assert done["days_left"] is None and done["version"] == 6


def test_a_future_as_of_is_the_claim_now(api: Api, clock: Clock) -> None:
    clock.now = days(0)
    claim_id = new_claim(api)
    clock.now = days(4)
    current = api.get(f"/v1/claims/{claim_id}").json()
    future = ok(api.get(f"/v1/claims/{claim_id}", params={"as_of": "2100-01-01T00:00:00Z"}))
    assert future["as_of"] == ts(days(4))
    assert future.pop("commands") == [] and future.pop("actions") == []
    assert current.pop("commands") and current.pop("actions")
    assert {**current, "as_of": ts(days(4))} == future
    assert future["days_left"] == 26


def test_before_the_claim_existed_and_unknown_claims_are_not_found(api: Api, clock: Clock) -> None:
    clock.now = days(1)
    claim_id = new_claim(api)
    before = api.get(f"/v1/claims/{claim_id}", params={"as_of": at(0.5)})
    assert_problem(before, 404, "claim-not-found")
    assert "did not exist yet" in before.json()["detail"]
    assert ok(api.get(f"/v1/claims/{claim_id}", params={"as_of": at(1)}))["version"] == 1
    unknown = "/v1/claims/00000000-0000-0000-0000-000000000000"
    assert_problem(api.get(unknown, params={"as_of": at(1)}), 404, "claim-not-found")
    for moment in (at(0.5), at(2)):  # another partner's: not found, before or after
        response = api.get(f"/v1/claims/{claim_id}", ADMIN_B, params={"as_of": moment})
        assert_problem(response, 404, "claim-not-found")
        assert "did not exist" not in response.json()["detail"]


BAD_AS_OF = [
    "yesterday",
    "2026-03-02T09:00:00",  # no time zone
    "2026-03-02",
    "1700000000",
    "2026-03-02T09:00:00\x00Z",
    "2026-03-02T09:00:00\nZ",
    "2026-03-02T09:00:00Z" + "0" * 60,
    "0001-01-01T00:00:00+01:00",  # before the first UTC instant there is
    "\uff12\uff10\uff12\uff16-03-02T09:00:00Z",  # full-width digits
]


def assert_invalid_as_of(response: Any) -> None:
    assert_problem(response, 422, "invalid-input")
    problem = response.json()
    assert problem["field"] == "as_of", problem
    assert problem["errors"][0]["field"] == "as_of"


@pytest.mark.parametrize("as_of", BAD_AS_OF)
def test_a_bad_as_of_is_invalid_input_naming_the_field(api: Api, as_of: str) -> None:
    claim_id = new_claim(api)
    assert_invalid_as_of(api.get(f"/v1/claims/{claim_id}", AUDITOR, params={"as_of": as_of}))


def test_as_of_keeps_the_access_rules_of_the_details(api: Api, clock: Clock) -> None:
    clock.now = days(1)
    at_a2 = new_claim(api, location="LOC-A2")
    path = f"/v1/claims/{at_a2}"
    assert_problem(api.get(path, None, params={"as_of": at(2)}), 401, "unauthorized")
    for moment in (at(0.5), at(2)):  # forbidden before it existed too: nothing more to learn
        response = api.get(path, USER_A1, params={"as_of": moment})
        assert_problem(response, 403, "location-not-allowed", "R1")
    for reader in (ADMIN_A, REVIEWER, AUDITOR):
        assert ok(api.get(path, reader, params={"as_of": at(2)}))["state"] == "customer_claimed"
    assert_problem(api.get(path, SELLER, params={"as_of": at(2)}), 403, "role-required")


def test_the_as_of_time_is_shown_in_utc(api: Api, clock: Clock) -> None:
    clock.now = days(1)
    claim_id = new_claim(api)
    clock.now = days(5)
    moment = datetime(2026, 3, 3, 12, 0, tzinfo=timezone(timedelta(hours=-5)))
    shown = ok(api.get(f"/v1/claims/{claim_id}", params={"as_of": moment.isoformat()}))
    assert shown["as_of"] == "2026-03-03T17:00:00.000000Z"
