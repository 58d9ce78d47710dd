"""Every row of SPEC section 6: success and each error the spec names, on both stores."""

from __future__ import annotations

import csv
import io
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import ProgrammingError

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
from tests.factories import (
    ADMIN_A,
    ADMIN_B,
    AUDITOR,
    LITWARE,
    NORTHWIND,
    REVIEWER,
    SELLER,
    USER_A1,
)


def submitted(api: Api) -> str:
    claim_id = consented(api)
    assert api.post(f"/v1/claims/{claim_id}/submission", proof_body()).status_code == 200
    return claim_id


def reviewed(api: Api, claim_id: str, *actions: str) -> Any:
    response = None
    for action in actions:
        response = api.post(
            f"/v1/claims/{claim_id}/review", {"action": action, "reason": "r"}, REVIEWER
        )
        assert response.status_code == 200, response.text
    return response


# -- engagements -------------------------------------------------------------------------


def test_get_engagements(api: Api) -> None:
    response = api.get("/v1/engagements")
    assert response.status_code == 200
    by_id = {e["id"]: e for e in response.json()}
    assert by_id["E-WS"]["your_eligible_locations"] == ["LOC-A1", "LOC-A2"]
    assert api.get("/v1/engagements", USER_A1).json()[0]["your_eligible_locations"] == ["LOC-A1"]
    assert_problem(api.get("/v1/engagements", None), 401, "unauthorized")
    assert_problem(api.get("/v1/engagements", REVIEWER), 403, "role-required", "R1")


def test_get_one_engagement(api: Api) -> None:
    response = api.get("/v1/engagements/E-VAR")
    assert response.status_code == 200
    detail = response.json()
    assert detail["max_hours"] == 200 and detail["deadlines"]["consent_days"] == 30
    assert detail["hourly_rate_tiers"][1] == {
        "min_opportunity_usd": "50000.00",
        "rate_usd": "200.00",
    }
    assert_problem(api.get("/v1/engagements/E-NONE"), 404, "engagement-not-found")


def test_get_customers_tab(api: Api) -> None:
    consented(api)
    eligible = api.get("/v1/engagements/E-WS/customers?tab=eligible").json()
    assert eligible["tab"] == "eligible"
    assert [i["label"] for i in eligible["items"]] == ["Customer consent received"]
    ineligible = api.get("/v1/engagements/E-VAR/customers", params={"tab": "ineligible"}).json()
    assert ineligible["items"] == [] and ineligible["note"]
    completed = api.get("/v1/engagements/E-WS/customers?tab=completed&limit=1").json()
    assert completed["items"] == [] and completed["next_cursor"] is None
    assert_problem(api.get("/v1/engagements/E-WS/customers?tab=all"), 422, "invalid-input")
    assert_problem(api.get("/v1/engagements/E-WS/customers?cursor=zzz"), 422, "invalid-cursor")
    assert_problem(api.get("/v1/engagements/E-NONE/customers"), 404, "engagement-not-found")
    assert_problem(api.get("/v1/engagements/E-WS/customers", SELLER), 403, "role-required")


# -- eligibility and creation -------------------------------------------------------------


def test_post_eligibility_checks(api: Api) -> None:
    check = {
        "location_id": "LOC-A1",
        "customer_id": {"type": "msx_opportunity_id", "value": "7-large00001"},
        "engagement_ids": ["E-VAR", "E-WS"],
        "hours": 10,
    }
    response = api.post("/v1/eligibility-checks", check)
    assert response.status_code == 200, response.text
    by_id = {r["engagement_id"]: r for r in response.json()}
    assert by_id["E-VAR"]["eligible"] and by_id["E-VAR"]["proposed_payout_usd"] == "2000.00"
    assert by_id["E-WS"]["reasons"] == ["id-type-not-allowed"] and by_id["E-WS"]["rule"] == "R5"
    bad = {**check, "customer_id": {"type": "tenant_id", "value": "nope"}}
    assert_problem(api.post("/v1/eligibility-checks", bad), 422, "invalid-customer-id", "R4")


def test_post_claims(api: Api) -> None:
    response = api.post("/v1/claims", body(["E-WS", "E-AS"]))
    assert response.status_code == 201, response.text
    made = response.json()["claims"]
    assert [c["engagement_id"] for c in made] == ["E-WS", "E-AS"]
    assert made[0]["label"] == "Customer claimed" and made[0]["origin"] == "added"
    assert response.headers["location"] == f"/v1/claims/{made[0]['claim_id']}"
    problem = api.post("/v1/claims", body(["E-AS"])).json()
    assert problem["rule"] == "R14" and problem["existing_claim_id"] == made[1]["claim_id"]
    assert_problem(api.post("/v1/claims", body(["E-AS"])), 409, "claim-already-exists", "R14")
    assert_problem(
        api.post("/v1/claims", body(["E-WS"], location="LOC-B1"), ADMIN_B),
        422, "claim-limit-reached", "R10",
    )  # fmt: skip
    assert_problem(
        api.post(
            "/v1/claims", body(origin="claimed", value=NORTHWIND, customer_email="a@northwind.com")
        ),
        404,
        "customer-not-known",
    )
    bad_id = api.post("/v1/claims", body(id_type="tpid", value="12-34"))
    assert_problem(bad_id, 422, "invalid-customer-id", "R4")
    assert bad_id.json()["field"] == "customer_id.value"
    assert_problem(
        api.post("/v1/claims", body(location="LOC-A2"), USER_A1), 403, "location-not-allowed"
    )
    assert_problem(api.post("/v1/claims", body(), None), 401, "unauthorized")


def test_post_claims_for_a_known_customer(api: Api) -> None:
    consented(api)
    assert_problem(api.post("/v1/claims", body(["E-AS"])), 409, "customer-already-known", "R15")
    response = api.post("/v1/claims", body(["E-AS"], origin="claimed"))
    assert response.status_code == 201 and response.json()["claims"][0]["origin"] == "claimed"


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"friendly_name": "   "}, "friendly_name", "R3"),
        (
            {"contacts": {"customer": {"name": "C", "email": "nope"}}},
            "contacts.customer.email",
            "R13",
        ),
        ({"origin": "stolen"}, "origin", None),
        ({"engagement_ids": []}, "engagement_ids", None),
        ({"friendly_name": "\U0001d509" * 5000}, "friendly_name", "R3"),  # odd, huge unicode
        ({"hours": "many"}, "hours", "R12"),
        ({"unexpected": 1}, "unexpected", None),
    ],
)
def test_post_claims_refuses_malformed_bodies_naming_the_field(
    api: Api, change: dict[str, Any], field: str, rule: str | None
) -> None:
    response = api.post("/v1/claims", {**body(), **change})
    assert_problem(response, 422, "invalid-input", rule)
    assert response.json()["field"] == field


def test_malformed_json_and_unknown_routes_are_problems(api: Api) -> None:
    raw = api.client.post(
        "/v1/claims",
        content=b"{not json",
        headers={**api.auth(ADMIN_A), "content-type": "application/json"},
    )
    assert_problem(raw, 422, "invalid-input")
    assert_problem(api.get("/v1/nowhere"), 404, "not-found")
    assert_problem(api.client.delete("/v1/claims"), 405, "method-not-allowed")


# -- reads -------------------------------------------------------------------------------


def test_get_claims(api: Api) -> None:
    first = new_claim(api, ["E-WS"])
    new_claim(api, ["E-AS"])
    page = api.get("/v1/claims", params={"engagement_id": "E-WS"}).json()
    assert [c["claim_id"] for c in page["items"]] == [first]
    paged = api.get("/v1/claims", params={"limit": 1}).json()
    assert paged["next_cursor"] and len(paged["items"]) == 1
    rest = api.get("/v1/claims", params={"limit": 1, "cursor": paged["next_cursor"]}).json()
    assert rest["items"][0]["claim_id"] != paged["items"][0]["claim_id"]
    csv_response = api.get("/v1/claims", headers={"Accept": "text/csv"})
    assert csv_response.headers["content-type"].startswith("text/csv")
    assert csv_response.text.splitlines()[0].startswith("claim_id,engagement_id")
    assert len(csv_response.text.splitlines()) == 3
    assert api.get("/v1/claims", ADMIN_B).json()["items"] == []
    assert_problem(api.get("/v1/claims?sort=secret"), 422, "invalid-input")


def test_get_claims_customer_filter_takes_percent_and_underscore_as_themselves(
    api: Api,
) -> None:
    new_claim(api, ["E-WS"], name="Fabrikam")
    odd = new_claim(
        api, ["E-AS"], name="100% Litware_EU", value=LITWARE, customer_email="it@litware.com"
    )

    def found(customer: str) -> list[str]:
        page = api.get("/v1/claims", params={"customer": customer}).json()
        return [c["claim_id"] for c in page["items"]]

    assert found("%") == found("_") == found("0% l") == [odd]
    assert found("fab%") == found("f_brikam") == found("\\") == []
    assert len(found("a")) == 2


def test_get_claims_as_csv_writes_formulas_as_text(api: Api) -> None:
    new_claim(api, ["E-WS"], name='=HYPERLINK("https://evil.example","Open")')
    new_claim(api, ["E-AS"], name="@SUM(A1)", value=LITWARE, customer_email="it@litware.com")
    text = api.get("/v1/claims", headers={"Accept": "text/csv"}).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["friendly_name"] for r in rows) == [
        '\'=HYPERLINK("https://evil.example","Open")',
        "'@SUM(A1)",
    ]


def test_get_claim(api: Api) -> None:
    claim_id = new_claim(api)
    response = api.get(f"/v1/claims/{claim_id}")
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    assert response.json()["contacts"]["customer"]["email"] == "cio@fabrikam.com"
    assert_problem(api.get(f"/v1/claims/{claim_id}", ADMIN_B), 404, "claim-not-found")
    assert api.get(f"/v1/claims/{claim_id}", REVIEWER).status_code == 200
    assert_problem(
        api.get("/v1/claims/00000000-0000-0000-0000-000000000000"), 404, "claim-not-found"
    )
    assert_problem(api.get("/v1/claims/not-a-uuid"), 422, "invalid-input")


def test_get_claim_history(api: Api) -> None:
    claim_id = consented(api)
    history = api.get(f"/v1/claims/{claim_id}/history").json()
    assert [h["event"] for h in history] == ["Added", "ConsentRequested", "ConsentGiven"]
    assert history[2]["actor"]["kind"] == "customer"
    assert api.get(f"/v1/claims/{claim_id}/history", AUDITOR).status_code == 200
    assert_problem(api.get(f"/v1/claims/{claim_id}/history", ADMIN_B), 404, "claim-not-found")


# -- consent -------------------------------------------------------------------------------


def test_post_consent_request(api: Api) -> None:
    claim_id = new_claim(api)
    assert_problem(
        api.post(f"/v1/claims/{claim_id}/consent-request", consent_body("0")),
        422,
        "invalid-input",
        "R21",
    )
    stale = api.post(
        f"/v1/claims/{claim_id}/consent-request", consent_body(), headers={"If-Match": '"7"'}
    )
    assert_problem(stale, 412, "stale-version")
    response = api.post(
        f"/v1/claims/{claim_id}/consent-request", consent_body(), headers={"If-Match": '"1"'}
    )
    assert response.status_code == 200 and response.headers["etag"] == '"2"'
    assert response.json()["label"] == "Awaiting customer consent response"
    assert_problem(
        api.post(f"/v1/claims/{claim_id}/consent-request", consent_body()),
        409,
        "invalid-state-transition",
    )


def test_post_consent_reminder(api: Api) -> None:
    claim_id = new_claim(api)
    assert_problem(
        api.post(f"/v1/claims/{claim_id}/consent-reminder"), 409, "invalid-state-transition", "R24"
    )
    api.post(f"/v1/claims/{claim_id}/consent-request", consent_body())
    old = api.consent_token(claim_id)
    assert api.post(f"/v1/claims/{claim_id}/consent-reminder").status_code == 200
    assert_problem(
        api.post(f"/v1/consent/{old}", {"decision": "accept"}, None),
        409,
        "consent-link-superseded",
        "R24",
    )


def test_get_and_post_consent(api: Api) -> None:
    claim_id = new_claim(api)
    api.post(f"/v1/claims/{claim_id}/consent-request", consent_body())
    token = api.consent_token(claim_id)
    view = api.get(f"/v1/consent/{token}", None).json()
    assert view["answerable"] and view["engagement_name"] == "Migration workshop"
    assert view["partner_name"] == "Partner A" and view["deal_size_usd"] == "20000.00"
    assert_problem(
        api.post(f"/v1/consent/{token}", {"decision": "maybe"}, None), 422, "invalid-input"
    )
    answered = api.post(f"/v1/consent/{token}", {"decision": "decline"}, None)
    assert answered.status_code == 200 and answered.json()["state"] == "consent_declined"
    assert_problem(
        api.post(f"/v1/consent/{token}", {"decision": "accept"}, None),
        409,
        "consent-already-answered",
    )
    assert_problem(api.get(f"/v1/consent/{token[:-3]}xyz", None), 404, "consent-link-invalid")
    assert_problem(api.get("/v1/consent/" + "x" * 3000, None), 422, "invalid-input")


# -- submission, dispute, cancellation, review -----------------------------------------------


def test_post_submission(api: Api) -> None:
    claim_id = new_claim(api)
    assert_problem(
        api.post(f"/v1/claims/{claim_id}/submission", proof_body()), 409, "invalid-state-transition"
    )
    claim_id = consented(api, engagements=["E-AS"])
    missing = api.post(f"/v1/claims/{claim_id}/submission", proof_body(["invoice"]))
    assert_problem(missing, 422, "proof-missing", "R30")
    assert missing.json()["missing"] == ["poe_document"]
    response = api.post(f"/v1/claims/{claim_id}/submission", proof_body())
    assert response.status_code == 200 and response.json()["state"] == "submitted"


def test_post_cancellation(api: Api) -> None:
    claim_id = new_claim(api)
    response = api.post(f"/v1/claims/{claim_id}/cancellation", {"reason": "withdrawn"})
    assert response.status_code == 200 and response.json()["label"] == "Canceled"
    claim_id = submitted(api)
    assert_problem(
        api.post(f"/v1/claims/{claim_id}/cancellation", {}), 409, "invalid-state-transition", "R31"
    )
    assert_problem(
        api.post(f"/v1/claims/{claim_id}/cancellation", {}, ADMIN_B), 404, "claim-not-found"
    )


def test_post_review(api: Api) -> None:
    claim_id = submitted(api)
    assert_problem(
        api.post(f"/v1/claims/{claim_id}/review", {"action": "start"}), 403, "role-required"
    )
    assert_problem(
        api.post(f"/v1/claims/{claim_id}/review", {"action": "approve"}, REVIEWER),
        409,
        "invalid-state-transition",
    )
    reviewed(api, claim_id, "start")
    no_reason = api.post(f"/v1/claims/{claim_id}/review", {"action": "reject"}, REVIEWER)
    assert_problem(no_reason, 422, "reason-required", "R32")
    assert_problem(
        api.post(f"/v1/claims/{claim_id}/review", {"action": "ok"}, REVIEWER), 422, "invalid-input"
    )
    approved = api.post(f"/v1/claims/{claim_id}/review", {"action": "approve"}, REVIEWER)
    assert approved.status_code == 200 and approved.json()["payout_usd"] == "5000.00"


def test_post_dispute(api: Api) -> None:
    claim_id = submitted(api)
    assert_problem(
        api.post(f"/v1/claims/{claim_id}/dispute", {}), 409, "invalid-state-transition", "R34"
    )
    reviewed(api, claim_id, "start", "reject")
    response = api.post(f"/v1/claims/{claim_id}/dispute", {"reason": "see the new survey"})
    assert response.status_code == 200 and response.json()["state"] == "disputed"


def test_get_review_queue(api: Api) -> None:
    claim_id = submitted(api)
    queue = api.get("/v1/review-queue", REVIEWER).json()
    assert [i["claim_id"] for i in queue["items"]] == [claim_id]
    assert_problem(api.get("/v1/review-queue"), 403, "role-required")


# -- referrals ------------------------------------------------------------------------------


def test_get_referral_and_co_sell_referrals(api: Api) -> None:
    claim_id = consented(api)
    api.services.workers.run_once()  # the referral and co-sell policies
    details = api.get(f"/v1/claims/{claim_id}").json()
    referral_id = details["referral"]["referral_id"]
    assert details["referral"]["co_sell"] is True
    referral = api.get(f"/v1/referrals/{referral_id}", REFERRAL_ADMIN_A)
    assert referral.status_code == 200 and referral.json()["type"] == "shared"
    assert_problem(api.get(f"/v1/referrals/{referral_id}"), 403, "role-required")
    other = Principal("rb", "P-B", frozenset({Role.REFERRAL_ADMIN}))
    assert_problem(api.get(f"/v1/referrals/{referral_id}", other), 404, "referral-not-found")
    co_sell = api.get("/v1/co-sell/referrals", SELLER).json()
    assert [r["claim_id"] for r in co_sell] == [claim_id]
    assert_problem(api.get("/v1/co-sell/referrals"), 403, "role-required")


# -- operations -----------------------------------------------------------------------------


def test_a_store_that_fails_its_own_way_is_not_ready_and_keeps_its_error_in_the_log(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Not out of reach, but failing (a table dropped, a permission taken away): /readyz,
    which anyone may ask, says so in words; the error, naming the table, is in the log."""

    def table_gone() -> int:
        raise ProgrammingError('relation "v1_claims" does not exist')

    monkeypatch.setattr(api.services.workers.views, "lag", table_gone)
    with caplog.at_level("WARNING", logger="ledger.readiness"):
        answer = api.client.get("/readyz")
        assert api.client.get("/readyz").status_code == 503  # a load balancer's next probe
    assert answer.status_code == 503
    assert answer.json()["detail"] == "the store could not be read: the service's log says why"
    assert "v1_claims" not in answer.text
    assert caplog.text.count('relation "v1_claims" does not exist') == 1  # said once


def test_health_readiness_and_metrics(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok", "checks": {}}
    new_claim(api)
    behind = api.client.get("/readyz")  # the app here runs without its workers
    assert behind.status_code == 200 and behind.json()["checks"]["projection_lag_events"] == 3
    api.settle()
    ready = api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["projection_lag_events"] == 0
    api.client.get("/openapi.json")
    api.get(f"/v1/claims/{uuid4()}")
    api.client.get("/nowhere")
    metrics = api.client.get("/metrics").text
    counted = [
        '{method="POST",route="/v1/claims",status="201"} 1.0',
        '{method="GET",route="/openapi.json",status="200"} 1.0',
        '{method="GET",route="/v1/claims/{claim_id}",status="404"} 1.0',
        '{method="GET",route="unmatched",status="404"} 1.0',
    ]
    for line in counted:
        assert f"ledger_http_requests_total{line}" in metrics
    assert 'ledger_command_seconds_count{command="create_claims"} 1.0' in metrics
    assert "ledger_projection_lag_events 0.0" in metrics
    assert "ledger_events_appended 3.0" in metrics
    assert (api.services.ledger.committer is not None) == api.settings.is_sqlite
    if api.settings.is_sqlite:  # group commit on by default: one save, alone
        assert "ledger_command_saves_total 1.0" in metrics
        assert "ledger_command_save_transactions_total 1.0" in metrics
        assert "ledger_command_save_groups_refused_total 0.0" in metrics


@pytest.mark.parametrize(
    "cursor",
    ["zzz", "eyJvZmZzZXQiOiAiYWJjIn0", "eyJvZmZzZXQiOiAtMX0", "eyJ2IjogWzFdLCAiaWQiOiAyfQ",
     "eyJ2IjogIngifQ", "WzEsIDJd", "%%%"],
)  # fmt: skip
def test_crafted_cursors_are_422_not_500(api: Api, cursor: str) -> None:
    new_claim(api)
    for path in ("/v1/claims", "/v1/engagements/E-WS/customers", "/v1/review-queue"):
        principal = REVIEWER if "review" in path else ADMIN_A
        assert_problem(api.get(path, principal, params={"cursor": cursor}), 422, "invalid-cursor")


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/v1/claims", {"friendly_name": "Fab\x00rikam"}),
        ("/v1/claims", {"location_id": "LOC\x00"}),
        ("/v1/claims", {"customer_id": {"type": "tenant_id", "value": "\x00"}}),
        ("/v1/claims", {"tenant_mismatch_reason": "bell\x07"}),
    ],
)
def test_control_characters_are_refused_before_they_reach_an_event(
    api: Api, path: str, payload: dict[str, Any]
) -> None:
    head = api.head()
    response = api.post(path, {**body(), **payload}, headers={"Idempotency-Key": "nul"})
    assert response.status_code == 422, response.text
    assert api.head() == head
    api.services.workers.views.catch_up()  # and the views still follow the log
