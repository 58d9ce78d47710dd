"""A small catalog made for the tests, principals, and command builders."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_DNS, UUID, uuid5

import pytest

from ledger.domain.catalog import Catalog
from ledger.domain.commands import CreateClaims, RequestConsent, Submit, parse
from ledger.domain.principal import Principal, Role
from ledger.projections import customers_page
from ledger.service.application import Ledger
from testkit.views import T0 as T0
from testkit.views import view_snapshot as view_snapshot


def guid(name: str) -> str:
    return str(uuid5(NAMESPACE_DNS, name))


FABRIKAM = guid("fabrikam")  # managed; domain fabrikam.com; TPID 111; subscription SUB1
NORTHWIND = guid("northwind")  # not managed; domain northwind.com; TPID 222
LITWARE = guid("litware")  # TPID 333 is listed for the workshop, its tenant id is not
SUB1 = guid("fabrikam-sub-1")
ALL_PROOF = ["invoice", "poe_document", "customer_survey", "partner_survey"]

CATALOG_DATA: dict[str, Any] = {
    "engagements": [
        {
            "id": "E-WS",
            "name": "Migration workshop",
            "solution_area": "Azure",
            "kind": "workshop",
            "payout_model": "fixed",
            "allowed_id_types": ["domain", "tenant_id", "tpid", "azure_subscription_id"],
            "customer_claim_limit": 1,
            "required_proof": ALL_PROOF,
            "fixed_payout_usd": "5000.00",
            "referrals_enabled": True,
            "referral_min_deal_size_usd": "1000",
            "eligible_locations": ["LOC-A1", "LOC-A2", "LOC-B1"],
            "eligible_customers": {
                "tenant_id": [FABRIKAM, NORTHWIND],
                "tpid": ["333"],
                "azure_subscription_id": [SUB1],
            },
        },
        {
            "id": "E-AS",
            "name": "Data assessment",
            "solution_area": "Data & AI",
            "kind": "assessment",
            "payout_model": "fixed",
            "allowed_id_types": ["domain", "tenant_id"],
            "customer_claim_limit": 2,
            "deadlines": {
                "consent_days": 10,
                "first_submission_days": 20,
                "review_completion_days": 40,
                "dispute_days": 15,
            },
            "required_proof": ["poe_document"],
            "fixed_payout_usd": "2500.00",
            "eligible_locations": ["LOC-A1", "LOC-B1", "LOC-C1"],
            "eligible_customers": {"tenant_id": [FABRIKAM, NORTHWIND, LITWARE]},
        },
        {
            "id": "E-VAR",
            "name": "AI pilot",
            "solution_area": "Data & AI",
            "kind": "project_s",
            "payout_model": "variable",
            "allowed_id_types": ["msx_opportunity_id"],
            "customer_claim_limit": 1,
            "required_proof": ["invoice"],
            "variable": {
                "hourly_rate_tiers": [
                    {"min_opportunity_usd": "1000", "rate_usd": "150"},
                    {"min_opportunity_usd": "50000", "rate_usd": "200"},
                ],
                "max_hours": 200,
                "payout_cap_usd": "30000",
            },
            "eligible_locations": ["LOC-A1", "LOC-B1"],
            "eligible_customers": {
                "msx_opportunity_id": ["7-SMALL00001", "7-LARGE00001", "7-NORATE0001"]
            },
        },
        {
            "id": "E-TPID",
            "name": "Readiness assessment",
            "solution_area": "Modern Work",
            "kind": "assessment",
            "payout_model": "fixed",
            "allowed_id_types": ["tenant_id", "tpid"],
            "customer_claim_limit": 1,
            "required_proof": ["customer_survey"],
            "fixed_payout_usd": "1500.00",
            "eligible_locations": ["LOC-A1"],
            "eligible_customers": {"tpid": ["111"]},
        },
        {
            "id": "E-A2",
            "name": "Project at A2 only",
            "solution_area": "Security",
            "kind": "project_m",
            "payout_model": "fixed",
            "allowed_id_types": ["tenant_id"],
            "customer_claim_limit": 1,
            "required_proof": ["invoice"],
            "fixed_payout_usd": "15000.00",
            "eligible_locations": ["LOC-A2"],
            "eligible_customers": {"tenant_id": [FABRIKAM]},
        },
    ],
    "partners": [
        {
            "id": "P-A",
            "name": "Partner A",
            "locations": [
                {"id": "LOC-A1", "country": "US", "enrolled": True},
                {"id": "LOC-A2", "country": "CA", "enrolled": True},
                {"id": "LOC-A3", "country": "MX", "enrolled": False},
            ],
        },
        {
            "id": "P-B",
            "name": "Partner B",
            "locations": [{"id": "LOC-B1", "country": "DE", "enrolled": True}],
        },
        {
            "id": "P-C",
            "name": "Partner C",
            "locations": [{"id": "LOC-C1", "country": "FR", "enrolled": True}],
        },
    ],
    "directory": {
        "tenants": [
            {
                "tenant_id": FABRIKAM,
                "name": "Fabrikam",
                "domains": ["fabrikam.com"],
                "tpid": "111",
                "azure_subscription_ids": [SUB1],
                "managed": True,
            },
            {
                "tenant_id": NORTHWIND,
                "name": "Northwind",
                "domains": ["northwind.com"],
                "tpid": "222",
            },
            {"tenant_id": LITWARE, "name": "Litware", "domains": ["litware.com"], "tpid": "333"},
        ],
        "opportunities": [
            {"id": "7-SMALL00001", "tenant_id": FABRIKAM, "amount_usd": "10000"},
            {"id": "7-LARGE00001", "tenant_id": NORTHWIND, "amount_usd": "80000"},
            {"id": "7-NORATE0001", "tenant_id": LITWARE, "amount_usd": "100"},
        ],
    },
}


def make_catalog() -> Catalog:
    return Catalog.model_validate(CATALOG_DATA)


ADMIN_A = Principal("ann@a.example", "P-A", frozenset({Role.INCENTIVES_ADMIN}))
USER_A1 = Principal(
    "ulf@a.example", "P-A", frozenset({Role.INCENTIVES_USER}), frozenset({"LOC-A1"})
)
ADMIN_B = Principal("bea@b.example", "P-B", frozenset({Role.INCENTIVES_ADMIN}))
ADMIN_C = Principal("cy@c.example", "P-C", frozenset({Role.INCENTIVES_ADMIN}))
REVIEWER = Principal("rex@programme.example", None, frozenset({Role.REVIEWER}))
AUDITOR = Principal("aud@programme.example", None, frozenset({Role.AUDITOR}))
SELLER = Principal("sam@programme.example", None, frozenset({Role.SELLER}))


def create(
    engagements: list[str] | None = None,
    *,
    origin: str = "added",
    id_type: str = "tenant_id",
    value: str = FABRIKAM,
    location: str = "LOC-A1",
    name: str = "Fabrikam",
    customer_email: str = "cio@fabrikam.com",
    **extra: Any,
) -> CreateClaims:
    return parse(
        CreateClaims,
        {
            "origin": origin,
            "friendly_name": name,
            "location_id": location,
            "customer_id": {"type": id_type, "value": value},
            "engagement_ids": engagements or ["E-WS"],
            "contacts": {
                "customer": {"name": "Cora Customer", "email": customer_email},
                "partner": {"name": "Pat Partner", "email": "pat@a.example"},
            },
            **extra,
        },
    )


def consent_request(deal: str = "20000.00") -> RequestConsent:
    return parse(RequestConsent, {"deal_size_usd": deal, "disclaimer_accepted": True})


def proof(kinds: list[str] | None = None) -> Submit:
    items = [{"kind": k, "reference": f"doc-{k}.pdf"} for k in (kinds or ALL_PROOF)]
    return parse(Submit, {"proof": items})


def days(n: float) -> datetime:
    return T0 + timedelta(days=n)


def popo_ledger() -> Ledger:
    return Ledger(make_catalog(), env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def consented_claim(
    ledger: Ledger,
    principal: Principal = ADMIN_A,
    engagements: list[str] | None = None,
    **kwargs: Any,
) -> UUID:
    """A claim whose customer consented at day 1."""
    (claim_id,) = ledger.create_claims(principal, create(engagements, **kwargs), days(0))
    link = ledger.request_consent(principal, claim_id, consent_request(), days(0.5))
    ledger.answer_consent(claim_id, link, True, days(1))
    return claim_id


CUSTOMER_NAME = {FABRIKAM: "Fabrikam", NORTHWIND: "Northwind", LITWARE: "Litware"}
CUSTOMER_EMAIL = {
    FABRIKAM: "cio@fabrikam.com",
    NORTHWIND: "it@northwind.com",
    LITWARE: "it@litware.com",
}


def know(
    ledger: Ledger, tenant: str, principal: Principal = ADMIN_A, location: str = "LOC-A1"
) -> UUID:
    """Make a customer known to the partner: it consents to an assessment claim."""
    return consented_claim(
        ledger,
        principal,
        location=location,
        engagements=["E-AS"],
        value=tenant,
        customer_email=CUSTOMER_EMAIL[tenant],
        name=CUSTOMER_NAME[tenant],
    )


def read_kept_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, a Customers tab that reads every known customer (not the kept tab)
    fails the test."""

    def not_read(*_: object) -> None:
        raise AssertionError("every known customer was read, not the kept tab")

    monkeypatch.setattr(customers_page._Known, "_prefilter", not_read)
