"""GET /v1/reports/summary (SPEC 13): every field, scoping, roles and as_of."""

from __future__ import annotations

from typing import Any

import pytest

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
from tests.api.test_claim_as_of import BAD_AS_OF, assert_invalid_as_of, at, ok, review
from tests.api.test_tabs_as_of import two_claims_over_days
from tests.conftest import Clock
from tests.factories import ADMIN_A, ADMIN_B, AUDITOR, NORTHWIND, REVIEWER, SELLER, USER_A1, days

PATH = "/v1/reports/summary"


def summary(api: Api, principal: Any = ADMIN_A, **params: Any) -> Any:
    return ok(api.get(PATH, principal, params=params))


def partner_b_claim(api: Api) -> str:
    response = api.post(
        "/v1/claims",
        body(
            location="LOC-B1",
            value=NORTHWIND,
            name="Northwind B",
            customer_email="it@northwind.com",
        ),
        ADMIN_B,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["claims"][0]["claim_id"])


def test_every_field_after_an_approval_and_a_cancellation(api: Api, clock: Clock) -> None:
    two_claims_over_days(api, clock)
    found = summary(api)
    assert found["total_claims"] == 2
    assert found["claims_by_state"] == {"approved": 1, "cancelled": 1}
    assert found["funnel"] == {
        "claimed_or_added": 2,
        "consent_requested": 1,
        "consent_received": 1,
        "submitted": 1,
        "approved": 1,
    }
    assert found["drop_outs"] == {"declined": 0, "expired": 0, "cancelled": 1, "rejected": 0}
    assert found["payouts_usd"] == {"approved": "5000.00", "pending": "0.00"}
    assert found["attention_required"] == []
    assert found["approval_rate"] == 1.0
    assert found["review_days_median"] == 2.0 and found["review_days_p90"] == 2.0
    assert found["payouts_approved_by_month"] == {days(6).strftime("%Y-%m"): "5000.00"}
    assert found["as_of"] is None


def test_the_funnel_counts_the_stages_a_claim_reached_before_it_dropped_out(
    api: Api, clock: Clock
) -> None:
    clock.now = days(1)
    declined = new_claim(api, value=NORTHWIND, name="Northwind", customer_email="it@northwind.com")
    assert api.post(f"/v1/claims/{declined}/consent-request", consent_body()).status_code == 200
    token = api.consent_token(declined)
    assert api.post(f"/v1/consent/{token}", {"decision": "decline"}, None).status_code == 200
    cancelled = consented(api)
    assert api.post(f"/v1/claims/{cancelled}/cancellation", {}).status_code == 200
    found = summary(api)
    assert found["claims_by_state"] == {"cancelled": 1, "consent_declined": 1}
    assert found["funnel"] == {
        "claimed_or_added": 2,
        "consent_requested": 2,
        "consent_received": 1,
        "submitted": 0,
        "approved": 0,
    }
    assert found["drop_outs"] == {"declined": 1, "expired": 0, "cancelled": 1, "rejected": 0}
    clock.now = days(3)
    then = summary(api, as_of=at(2))
    assert then["funnel"] == found["funnel"] and then["drop_outs"] == found["drop_outs"]


def test_attention_lists_information_requested_and_near_deadlines_nearest_first(
    api: Api, clock: Clock
) -> None:
    clock.now = days(0)
    later = new_claim(api, value=NORTHWIND, name="Northwind", customer_email="it@northwind.com")
    clock.now = days(1)
    waiting = consented(api)
    assert api.post(f"/v1/claims/{waiting}/submission", proof_body()).status_code == 200
    review(api, waiting, "start")
    response = api.post(
        f"/v1/claims/{waiting}/review",
        {"action": "request_information", "reason": "The invoice, please."},
        REVIEWER,
    )
    assert response.status_code == 200, response.text
    (item,) = summary(api)["attention_required"]  # Northwind's consent deadline: day 30
    assert item["claim_id"] == waiting and item["state"] == "partner_action_required"
    assert item["link"] == f"/v1/claims/{waiting}" and item["friendly_name"] == "Fabrikam"
    clock.now = days(24)
    found = summary(api)
    assert [a["claim_id"] for a in found["attention_required"]] == sorted(
        [waiting, later],
        key=lambda c: next(
            a["deadline"] for a in found["attention_required"] if a["claim_id"] == c
        ),
    )
    assert {a["claim_id"] for a in found["attention_required"]} == {waiting, later}
    assert found["payouts_usd"] == {"approved": "0.00", "pending": "10000.00"}


def test_a_partner_sees_its_own_and_the_programme_sees_all(api: Api, clock: Clock) -> None:
    two_claims_over_days(api, clock)
    partner_b_claim(api)
    assert summary(api, ADMIN_B)["total_claims"] == 1
    assert summary(api, ADMIN_B)["claims_by_state"] == {"customer_claimed": 1}
    assert summary(api, ADMIN_A)["total_claims"] == 2
    assert summary(api, USER_A1)["total_claims"] == 2  # both at LOC-A1
    assert summary(api, REVIEWER)["total_claims"] == 3
    assert summary(api, AUDITOR)["total_claims"] == 3
    assert summary(api, AUDITOR, engagement_id="E-AS")["total_claims"] == 0


@pytest.mark.parametrize("principal", [SELLER, REFERRAL_ADMIN_A])
def test_roles_without_access_are_403(api: Api, principal: Any) -> None:
    assert_problem(api.get(PATH, principal), 403, "role-required")


def test_no_token_is_401(api: Api) -> None:
    assert api.get(PATH, None).status_code == 401


@pytest.mark.parametrize("as_of", BAD_AS_OF)
def test_a_bad_as_of_is_422(api: Api, as_of: str) -> None:
    assert_invalid_as_of(api.get(PATH, AUDITOR, params={"as_of": as_of}))


def test_as_of_replays_the_events_up_to_then(api: Api, clock: Clock) -> None:
    two_claims_over_days(api, clock)
    then = summary(api, AUDITOR, as_of=at(3.5))
    assert then["total_claims"] == 2
    assert then["claims_by_state"] == {"consent_received": 1, "customer_claimed": 1}
    assert then["payouts_usd"] == {"approved": "0.00", "pending": "10000.00"}
    assert then["as_of"] is not None
    now = summary(api, AUDITOR, as_of=at(100))  # later than now: now
    live = summary(api, AUDITOR)
    assert {k: v for k, v in now.items() if k != "as_of"} == {
        k: v for k, v in live.items() if k != "as_of"
    }


def test_a_replay_as_of_a_time_is_kept_until_the_log_moves(
    api: Api, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ledger.projections.summary as module

    replays: list[object] = []
    replay = module.replayed_inputs

    def counted(*args: Any, **kwargs: Any) -> Any:
        replays.append(args)
        return replay(*args, **kwargs)

    monkeypatch.setattr(module, "replayed_inputs", counted)
    clock.now = days(1)
    new_claim(api)
    clock.now = days(3)
    assert summary(api, as_of=at(2))["total_claims"] == 1
    assert summary(api, REVIEWER, as_of=at(2))["total_claims"] == 1
    assert len(replays) == 1
    clock.now = days(1.5)
    new_claim(api, value=NORTHWIND, name="Northwind", customer_email="it@northwind.com")
    clock.now = days(3)
    assert summary(api, as_of=at(2))["total_claims"] == 2
    assert len(replays) == 2


def test_an_engagement_the_catalog_does_not_have_is_404(api: Api) -> None:
    assert_problem(api.get(PATH, params={"engagement_id": "NOPE"}), 404, "engagement-not-found")


def test_the_live_figures_are_kept_until_the_views_move(
    api: Api, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ledger.projections.summary_live as module

    reads: list[object] = []
    tallies = module.tallies

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(args)
        return tallies(*args, **kwargs)

    monkeypatch.setattr(module, "tallies", counted)
    clock.now = days(1)
    new_claim(api)
    assert summary(api)["total_claims"] == 1
    assert summary(api)["total_claims"] == 1
    assert len(reads) == 1  # the same scope, the views where they were
    assert summary(api, REVIEWER)["total_claims"] == 1
    assert summary(api, AUDITOR)["total_claims"] == 1  # the programme's scope: kept
    assert summary(api, USER_A1)["total_claims"] == 1  # a partner user's: its own
    assert len(reads) == 3
    assert summary(api)["attention_required"] == []
    clock.now = days(60)  # what needs attention is read again: it depends on the clock
    assert len(summary(api)["attention_required"]) == 1
    assert len(reads) == 3
    new_claim(api, value=NORTHWIND, name="Northwind", customer_email="it@northwind.com")
    assert summary(api)["total_claims"] == 2 and len(reads) == 4
