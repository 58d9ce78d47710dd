"""The Customers tabs as they stood at a time (SPEC 11), for auditors: every status code."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.domain.principal import Principal, Role
from ledger.projections.base import ts
from tests.api.client import Api
from tests.api.helpers import assert_problem, consent_body, new_claim, proof_body
from tests.api.test_claim_as_of import BAD_AS_OF, accept, assert_invalid_as_of, at, ok, review
from tests.conftest import Clock
from tests.factories import (
    ADMIN_A,
    ADMIN_B,
    AUDITOR,
    NORTHWIND,
    REVIEWER,
    SELLER,
    USER_A1,
    days,
)


def tab(api: Api, principal: Principal | None, **params: Any) -> Any:
    return api.get("/v1/engagements/E-WS/customers", principal, params=params)


def two_claims_over_days(api: Api, clock: Clock) -> tuple[str, str]:
    """Fabrikam added at 0, consent asked at 1 and given at 2 (a known customer from then),
    submitted at 4, approved at 6; Northwind added at 3, cancelled at 7; now is day 8."""
    clock.now = days(0)
    fabrikam = new_claim(api)
    clock.now = days(1)
    assert api.post(f"/v1/claims/{fabrikam}/consent-request", consent_body()).status_code == 200
    clock.now = days(2)
    accept(api, fabrikam)
    clock.now = days(3)
    northwind = new_claim(api, value=NORTHWIND, name="Northwind", customer_email="it@northwind.com")
    clock.now = days(4)
    assert api.post(f"/v1/claims/{fabrikam}/submission", proof_body()).status_code == 200
    clock.now = days(5)
    review(api, fabrikam, "start")
    clock.now = days(6)
    review(api, fabrikam, "approve")
    clock.now = days(7)
    assert api.post(f"/v1/claims/{northwind}/cancellation").status_code == 200
    clock.now = days(8)
    return fabrikam, northwind


def test_an_auditor_reads_the_tabs_as_they_stood(api: Api, clock: Clock) -> None:
    fabrikam, northwind = two_claims_over_days(api, clock)
    assert ok(tab(api, ADMIN_A, tab="eligible"))["items"] == []  # now: nothing live

    then = ok(tab(api, AUDITOR, tab="eligible", partner_id="P-A", as_of=at(3.5)))
    assert then["as_of"] == ts(days(3.5)) and "As of" in then["note"]
    assert "today's catalog" in then["note"]
    items = then["items"]
    # Nearest deadline first: Northwind's consent (day 33), Fabrikam's submission (day 92).
    assert [i["claim_id"] for i in items] == [northwind, fabrikam]
    assert [i["label"] for i in items] == ["Customer claimed", "Customer consent received"]
    assert [i["days_left"] for i in items] == [30, 89]  # at day 3.5
    assert all(i["commands"] == [] and i["actions"] == [] for i in items)
    assert then["next_cursor"] is None  # Fabrikam, known then, shows as its live claim

    first = ok(tab(api, AUDITOR, tab="eligible", partner_id="P-A", as_of=at(3.5), limit=1))
    assert [i["claim_id"] for i in first["items"]] == [northwind] and first["next_cursor"]
    rest = ok(
        tab(
            api, AUDITOR, tab="eligible", partner_id="P-A", as_of=at(3.5), limit=1,
            cursor=first["next_cursor"],
        )
    )  # fmt: skip
    assert [i["claim_id"] for i in rest["items"]] == [fabrikam] and rest["next_cursor"] is None

    assert ok(tab(api, AUDITOR, tab="completed", partner_id="P-A", as_of=at(5)))["items"] == []
    completed = ok(tab(api, AUDITOR, tab="completed", partner_id="P-A", as_of=at(6.5)))
    assert [(i["claim_id"], i["state"]) for i in completed["items"]] == [(fabrikam, "approved")]
    assert completed["items"][0]["payout_usd"] == "5000.00"
    # Northwind's claim ended without consent: on no tab (R25), then or now.
    assert ok(tab(api, AUDITOR, tab="eligible", partner_id="P-A", as_of=at(7.5)))["items"] == []

    # Known customers: those recognised by the time, with today's eligibility.
    assessment = "/v1/engagements/E-AS/customers"
    before = api.get(assessment, AUDITOR, params={"partner_id": "P-A", "as_of": at(1.5)})
    assert ok(before)["items"] == []
    known = ok(api.get(assessment, AUDITOR, params={"partner_id": "P-A", "as_of": at(2.5)}))
    assert [(i["kind"], i["friendly_name"], i["commands"]) for i in known["items"]] == [
        ("customer", "Fabrikam", [])
    ]
    ineligible = ok(tab(api, AUDITOR, tab="ineligible", partner_id="P-A", as_of=at(7.5)))
    assert [(i["friendly_name"], i["reasons"]) for i in ineligible["items"]] == [
        ("Fabrikam", ["claim-limit-reached"])  # today's count: its approved claim
    ]
    assert ok(tab(api, AUDITOR, tab="ineligible", partner_id="P-A", as_of=at(1)))["items"] == []

    # Without as_of, an auditor's tab is folded as of now; another partner's is its own.
    now = ok(tab(api, AUDITOR, tab="completed", partner_id="P-A"))
    assert now["as_of"] == ts(days(8)) and [i["claim_id"] for i in now["items"]] == [fabrikam]
    assert ok(tab(api, AUDITOR, tab="completed", partner_id="P-B", as_of=at(8)))["items"] == []


def test_a_partner_may_read_its_own_tabs_as_of_a_time(api: Api, clock: Clock) -> None:
    fabrikam, northwind = two_claims_over_days(api, clock)
    mine = ok(tab(api, ADMIN_A, tab="eligible", as_of=at(3.5)))
    assert [i["claim_id"] for i in mine["items"]] == [northwind, fabrikam]
    named = ok(tab(api, ADMIN_A, tab="eligible", as_of=at(3.5), partner_id="P-A"))
    assert named["items"] == mine["items"]
    # An incentives user sees the claims of its locations only (R1), then as now.
    clock.now = days(9)
    elsewhere = new_claim(
        api, value=NORTHWIND, name="Northwind", customer_email="it@northwind.com", location="LOC-A2"
    )
    clock.now = days(10)
    admins = ok(tab(api, ADMIN_A, tab="eligible", as_of=at(9.5)))
    assert elsewhere in [i.get("claim_id") for i in admins["items"]]
    users = ok(tab(api, USER_A1, tab="eligible", as_of=at(9.5)))
    assert elsewhere not in [i.get("claim_id") for i in users["items"]]


def test_tabs_as_of_a_time_refuse_who_may_not_read_them(api: Api, clock: Clock) -> None:
    two_claims_over_days(api, clock)
    assert_problem(tab(api, None, as_of=at(3.5), partner_id="P-A"), 401, "unauthorized")
    for principal in (ADMIN_B, REVIEWER, SELLER):  # another partner's page: auditors only
        response = tab(api, principal, as_of=at(3.5), partner_id="P-A")
        assert_problem(response, 403, "role-required")
    assert_problem(tab(api, SELLER, as_of=at(3.5)), 403, "role-required", "R1")
    assert_problem(tab(api, AUDITOR), 403, "role-required", "R1")  # today's tab: partners'
    missing = tab(api, AUDITOR, as_of=at(3.5))
    assert_problem(missing, 422, "partner-required")
    assert missing.json()["field"] == "partner_id"
    both = Principal("max@a.example", "P-A", frozenset({Role.INCENTIVES_ADMIN, Role.AUDITOR}))
    assert ok(tab(api, both, as_of=at(3.5), partner_id="P-B"))["items"] == []
    assert_problem(tab(api, AUDITOR, as_of=at(3.5), partner_id="P-A", cursor="zzz"), 422,
                   "invalid-cursor")  # fmt: skip
    none = api.get(
        "/v1/engagements/E-NONE/customers", AUDITOR, params={"as_of": at(3.5), "partner_id": "P-A"}
    )
    assert_problem(none, 404, "engagement-not-found")
    msx = api.get(
        "/v1/engagements/E-VAR/customers",
        AUDITOR,
        params={"as_of": at(3.5), "partner_id": "P-A", "tab": "ineligible"},
    )
    assert ok(msx)["items"] == [] and "MSX" in msx.json()["note"]


@pytest.mark.parametrize("as_of", BAD_AS_OF)
def test_a_bad_as_of_on_a_tab_is_invalid_input_naming_the_field(api: Api, as_of: str) -> None:
    assert_invalid_as_of(tab(api, AUDITOR, as_of=as_of, partner_id="P-A"))
