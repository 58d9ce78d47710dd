"""SPEC 6.1, the contract details: ETags and policies, actions by name, every validation error,
empty bodies, the eligibility check's payouts and hints, what reviewers see, the referral list,
and amounts with two decimals. On both stores."""

from __future__ import annotations

import csv
import io
from typing import Any

from api.presenters import CSV_COLUMNS
from ledger.domain.principal import Principal, Role
from tests.api.client import Api
from tests.api.helpers import (
    REFERRAL_ADMIN_A,
    assert_problem,
    body,
    consent_body,
    consented,
    new_claim,
    proof_body,
)
from tests.factories import ADMIN_A, ADMIN_B, LITWARE, NORTHWIND, REVIEWER, SELLER, USER_A1

REFERRAL_ADMIN_B = Principal("rib@b.example", "P-B", frozenset({Role.REFERRAL_ADMIN}))
CLAIM_COMMANDS = {"request_consent", "send_consent_reminder", "submit", "dispute", "cancel"}
REVIEW_COMMANDS = {"start", "request_information", "approve", "reject", "reject_final"}


def policies(api: Api) -> None:
    """Let the referral and co-sell policies follow the log, as the workers do."""
    api.services.workers.run_once()


def post(api: Api, path: str, payload: Any = None, etag: str | None = None, **kw: Any) -> Any:
    headers = {"If-Match": etag} if etag else {}
    return api.post(path, payload, headers=headers, **kw)


# -- ETag and policies ------------------------------------------------------------------------


def test_an_etag_stays_valid_while_policies_add_their_events(api: Api) -> None:
    created = api.post("/v1/claims", body(["E-WS"]))
    claim_id = created.json()["claims"][0]["claim_id"]
    etag = created.headers["etag"]
    consent = post(api, f"/v1/claims/{claim_id}/consent-request", consent_body(), etag)
    assert consent.status_code == 200, consent.text
    policies(api)  # the referral policy records ReferralCreated on the claim
    events = [e["event"] for e in api.get(f"/v1/claims/{claim_id}/history").json()]
    assert events[-1] == "ReferralCreated"
    reminder = post(api, f"/v1/claims/{claim_id}/consent-reminder", None, consent.headers["etag"])
    assert reminder.status_code == 200, reminder.text

    token = api.consent_token(claim_id)
    assert api.post(f"/v1/consent/{token}", {"decision": "accept"}, None).status_code == 200
    answered = api.get(f"/v1/claims/{claim_id}")
    policies(api)  # the co-sell policy records UpgradedToCoSell (Fabrikam is managed)
    events = [e["event"] for e in api.get(f"/v1/claims/{claim_id}/history").json()]
    assert events[-1] == "UpgradedToCoSell"
    submitted = post(
        api, f"/v1/claims/{claim_id}/submission", proof_body(), answered.headers["etag"]
    )
    assert submitted.status_code == 200, submitted.text


def test_a_persons_change_still_makes_an_etag_stale(api: Api) -> None:
    created = api.post("/v1/claims", body(["E-WS"]))
    claim_id = created.json()["claims"][0]["claim_id"]
    first = created.headers["etag"]
    assert (
        post(api, f"/v1/claims/{claim_id}/consent-request", consent_body(), first).status_code
        == 200
    )
    policies(api)
    stale = post(api, f"/v1/claims/{claim_id}/cancellation", {}, first)
    assert_problem(stale, 412, "stale-version")
    future = post(api, f"/v1/claims/{claim_id}/cancellation", {}, '"99"')
    assert_problem(future, 412, "stale-version")


# -- actions by name ----------------------------------------------------------------------------


def test_commands_name_what_the_caller_may_do_and_where(api: Api) -> None:
    claim_id = new_claim(api, ["E-WS"])
    details = api.get(f"/v1/claims/{claim_id}").json()
    assert [c["name"] for c in details["commands"]] == ["request_consent", "cancel"]
    assert [c["label"] for c in details["commands"]] == details["actions"]
    assert details["actions"] == ["Send customer consent email", "Cancel"]
    request = details["commands"][0]
    assert (request["method"], request["href"]) == (
        "POST",
        f"/v1/claims/{claim_id}/consent-request",
    )
    assert api.post(request["href"], consent_body()).status_code == 200
    listed = api.get("/v1/claims").json()["items"][0]
    assert [c["name"] for c in listed["commands"]] == ["send_consent_reminder", "cancel"]
    row = api.get("/v1/engagements/E-WS/customers").json()["items"][0]
    assert [c["name"] for c in row["commands"]] == ["send_consent_reminder", "cancel"]
    # Others see the claim, but may not act on it.
    assert api.get(f"/v1/claims/{claim_id}", REVIEWER).json()["commands"] == []


def test_a_refusal_names_its_allowed_actions_as_commands_and_the_review_body_do(api: Api) -> None:
    claim_id = new_claim(api, ["E-WS"])
    refused = api.post(f"/v1/claims/{claim_id}/review", {"action": "start"}, REVIEWER)
    assert_problem(refused, 409, "invalid-state-transition")
    assert refused.json()["allowed_actions"] == ["request_consent", "cancel"]
    assert set(refused.json()["allowed_actions"]) <= CLAIM_COMMANDS | REVIEW_COMMANDS

    claim_id = consented(api, engagements=["E-AS"])
    assert api.post(f"/v1/claims/{claim_id}/submission", proof_body()).status_code == 200
    details = api.get(f"/v1/claims/{claim_id}", REVIEWER).json()
    assert [c["name"] for c in details["commands"]] == ["start"]
    assert details["actions"] == ["Start review"]
    start = details["commands"][0]
    assert start["href"] == f"/v1/claims/{claim_id}/review"
    assert api.post(start["href"], {"action": start["name"]}, REVIEWER).status_code == 200
    names = [c["name"] for c in api.get(f"/v1/claims/{claim_id}", REVIEWER).json()["commands"]]
    assert names == ["request_information", "approve", "reject", "reject_final"]
    wrong = api.post(f"/v1/claims/{claim_id}/review", {"action": "start"}, REVIEWER)
    assert wrong.json()["allowed_actions"] == names


# -- every validation error ---------------------------------------------------------------------


def test_a_422_lists_every_problem_and_names_the_first(api: Api) -> None:
    payload = body(["E-WS"])
    payload["friendly_name"] = ""
    payload["contacts"]["customer"]["email"] = "not-an-address"
    response = api.post("/v1/claims", payload)
    assert_problem(response, 422, "invalid-input")
    problem = response.json()
    fields = [e["field"] for e in problem["errors"]]
    assert fields == ["friendly_name", "contacts.customer.email"]
    assert [e["rule"] for e in problem["errors"]] == ["R3", "R13"]
    assert [e["message"] for e in problem["errors"]] == [
        "Enter the friendly name.",
        "Enter the customer contact's e-mail address in the form name@example.com.",
    ]
    assert problem["field"] == "friendly_name" and problem["detail"] == "Enter the friendly name."


def test_every_query_problem_is_listed_too(api: Api) -> None:
    response = api.get("/v1/claims?limit=0&cursor=" + "x" * 600)
    assert_problem(response, 422, "invalid-input")
    assert {e["field"] for e in response.json()["errors"]} == {"limit", "cursor"}


# -- bodies ---------------------------------------------------------------------------------------


def test_commands_whose_fields_are_all_optional_take_no_body(api: Api) -> None:
    claim_id = new_claim(api, ["E-WS"])
    assert api.client.post(
        f"/v1/claims/{claim_id}/consent-request", json=consent_body(), headers=api.auth(ADMIN_A)
    ).is_success
    reminder = api.client.post(f"/v1/claims/{claim_id}/consent-reminder", headers=api.auth(ADMIN_A))
    assert reminder.status_code == 200, reminder.text
    cancel = api.client.post(f"/v1/claims/{claim_id}/cancellation", headers=api.auth(ADMIN_A))
    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["state"] == "cancelled"

    rejected = consented(api)
    assert api.post(f"/v1/claims/{rejected}/submission", proof_body()).status_code == 200
    for review in ({"action": "start"}, {"action": "reject", "reason": "no invoice"}):
        assert api.post(f"/v1/claims/{rejected}/review", review, REVIEWER).status_code == 200
    dispute = api.client.post(f"/v1/claims/{rejected}/dispute", headers=api.auth(ADMIN_A))
    assert dispute.status_code == 200, dispute.text
    assert dispute.json()["state"] == "disputed"


# -- the eligibility check ------------------------------------------------------------------------


def test_the_eligibility_check_gives_the_payout_of_each_engagement(api: Api) -> None:
    fixed = api.post(
        "/v1/eligibility-checks",
        {"location_id": "LOC-A1", "customer_id": {"type": "tenant_id", "value": LITWARE}},
    ).json()
    by_id = {e["engagement_id"]: e for e in fixed}
    assert by_id["E-AS"]["eligible"] and by_id["E-AS"]["fixed_payout_usd"] == "2500.00"
    assert by_id["E-AS"]["proposed_payout_usd"] is None
    variable = api.post(
        "/v1/eligibility-checks",
        {
            "location_id": "LOC-A1",
            "customer_id": {"type": "msx_opportunity_id", "value": "7-LARGE00001"},
            "engagement_ids": ["E-VAR"],
            "hours": 100,
        },
    ).json()[0]
    assert variable["fixed_payout_usd"] is None
    assert variable["proposed_payout_usd"] == "20000.00"  # 100 h at the 200 USD band


def test_criteria_not_met_says_which_list_and_which_id_would_qualify(api: Api) -> None:
    (ws,) = api.post(
        "/v1/eligibility-checks",
        {
            "location_id": "LOC-A1",
            "customer_id": {"type": "tenant_id", "value": LITWARE},
            "engagement_ids": ["E-WS"],
        },
    ).json()
    assert ws["reasons"] == ["criteria-not-met"] and ws["rule"] == "R9"
    assert ws["hint"] == (
        f"Tenant ID {LITWARE} is not on this engagement's list of eligible customers; "
        "the customer's TPID would qualify"
    )
    (nowhere,) = api.post(
        "/v1/eligibility-checks",
        {
            "location_id": "LOC-A1",
            "customer_id": {"type": "tpid", "value": "999"},
            "engagement_ids": ["E-TPID"],
        },
    ).json()
    assert nowhere["reasons"] == ["criteria-not-met"]
    assert nowhere["hint"] == "TPID 999 is not on this engagement's list of eligible customers"


# -- reviewers ------------------------------------------------------------------------------------


def test_reviewers_see_the_proof_and_their_commands_in_details_and_queue(api: Api) -> None:
    claim_id = consented(api)
    assert api.post(f"/v1/claims/{claim_id}/submission", proof_body()).status_code == 200
    details = api.get(f"/v1/claims/{claim_id}", REVIEWER).json()
    expected = proof_body()["proof"]
    assert details["proof"] == expected
    (queued,) = api.get("/v1/review-queue", REVIEWER).json()["items"]
    assert queued["proof"] == expected
    assert [c["name"] for c in queued["commands"]] == ["start"]
    assert queued["actions"] == ["Start review"]


# -- referrals ------------------------------------------------------------------------------------


def test_referral_admins_list_their_partners_referrals(api: Api) -> None:
    made = [new_claim(api, ["E-WS"]), new_claim(api, ["E-AS"])]
    for claim_id in made:
        assert api.post(f"/v1/claims/{claim_id}/consent-request", consent_body()).is_success
    other = api.post(
        "/v1/claims",
        body(["E-WS"], location="LOC-B1", value=NORTHWIND, customer_email="it@northwind.com"),
        ADMIN_B,
    )
    other_id = other.json()["claims"][0]["claim_id"]
    assert api.post(f"/v1/claims/{other_id}/consent-request", consent_body(), ADMIN_B).is_success
    policies(api)
    listed = api.get("/v1/referrals", REFERRAL_ADMIN_A).json()
    referral_claims = {r["claim_id"] for r in listed["items"]}
    details = [api.get(f"/v1/claims/{c}").json() for c in made]
    assert referral_claims == {d["claim_id"] for d in details if d["referral"]}
    assert referral_claims and listed["next_cursor"] is None
    assert all(r["partner_id"] == "P-A" for r in listed["items"])
    assert api.get("/v1/referrals?status=new", REFERRAL_ADMIN_A).json() == listed
    first = api.get("/v1/referrals?limit=1", REFERRAL_ADMIN_A).json()
    assert len(first["items"]) == 1
    if len(referral_claims) > 1:
        rest = api.get(f"/v1/referrals?limit=1&cursor={first['next_cursor']}", REFERRAL_ADMIN_A)
        assert rest.json()["items"][0]["claim_id"] != first["items"][0]["claim_id"]
    assert [
        r["partner_id"] for r in api.get("/v1/referrals", REFERRAL_ADMIN_B).json()["items"]
    ] == ["P-B"]
    assert_problem(api.get("/v1/referrals", ADMIN_A), 403, "role-required")
    assert_problem(api.get("/v1/referrals?status=lost", REFERRAL_ADMIN_A), 422, "invalid-input")


# -- amounts --------------------------------------------------------------------------------------


def test_amounts_have_two_decimals_everywhere(api: Api) -> None:
    variable = api.get("/v1/engagements/E-VAR").json()
    assert variable["payout_cap_usd"] == "30000.00"
    assert variable["hourly_rate_tiers"][0] == {
        "min_opportunity_usd": "1000.00",
        "rate_usd": "150.00",
    }
    assert api.get("/v1/engagements/E-WS").json()["referral_min_deal_size_usd"] == "1000.00"
    claim_id = new_claim(api, ["E-WS"])
    assert api.post(f"/v1/claims/{claim_id}/consent-request", consent_body("20000")).is_success
    policies(api)
    details = api.get(f"/v1/claims/{claim_id}").json()
    assert (details["deal_size_usd"], details["fixed_payout_usd"]) == ("20000.00", "5000.00")
    (referral,) = api.get("/v1/referrals", REFERRAL_ADMIN_A).json()["items"]
    assert referral["deal_value_usd"] == "20000.00"
    text = api.get("/v1/claims", headers={"Accept": "text/csv"}).text
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert list(row) == CSV_COLUMNS and row["deal_size_usd"] == "20000.00"
    assert api.get("/v1/claims", USER_A1).status_code == 200
    assert api.get("/v1/co-sell/referrals", SELLER).status_code == 200
