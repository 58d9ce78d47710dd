"""The benchmarks' workload, which the tests of served processes play too: a partner, an
engagement with many customers, and the body that claims customer ``i``."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_DNS, uuid5

from ledger.domain.catalog import Catalog
from ledger.domain.principal import Principal, Role

PARTNER = Principal("bench", "P-BENCH", frozenset({Role.INCENTIVES_ADMIN}))


def tenant(i: int) -> str:
    return str(uuid5(NAMESPACE_DNS, f"bench-tenant-{i}"))


def bench_engagement(
    customers: int, engagement_id: str = "E-BENCH", limit: int = 1
) -> dict[str, Any]:
    """A workshop whose list holds the first ``customers`` tenants."""
    return {
        "id": engagement_id,
        "name": "Bench workshop",
        "solution_area": "Azure",
        "kind": "workshop",
        "payout_model": "fixed",
        "allowed_id_types": ["tenant_id"],
        "customer_claim_limit": limit,
        "required_proof": ["invoice"],
        "fixed_payout_usd": "1000.00",
        "eligible_locations": ["LOC-1"],
        "eligible_customers": {"tenant_id": [tenant(i) for i in range(customers)]},
    }


def bench_catalog(customers: int, *, open_engagement: bool = False) -> Catalog:
    """The bench catalog: one workshop (E-BENCH, a claim a customer) listing ``customers``
    tenants; with ``open_engagement``, another listing them all with room for many claims
    (E-BENCH-OPEN, on which no claim is made: every known customer stays claimable)."""
    engagements = [bench_engagement(customers)]
    if open_engagement:
        engagements.append(bench_engagement(customers, "E-BENCH-OPEN", 1000))
    return Catalog.model_validate(
        {
            "engagements": engagements,
            "partners": [
                {
                    "id": "P-BENCH",
                    "name": "Bench",
                    "locations": [{"id": "LOC-1", "country": "US", "enrolled": True}],
                }
            ],
            "directory": {
                "tenants": [
                    {"tenant_id": tenant(i), "name": f"T{i}", "domains": [f"t{i}.example"]}
                    for i in range(customers)
                ]
            },
        }
    )


def claim_body(i: int) -> dict[str, Any]:
    """The body that adds customer ``i`` for the bench engagement."""
    return {
        "origin": "added",
        "friendly_name": f"T{i}",
        "location_id": "LOC-1",
        "customer_id": {"type": "tenant_id", "value": tenant(i)},
        "engagement_ids": ["E-BENCH"],
        "contacts": {
            "customer": {"name": "C", "email": f"c@t{i}.example"},
            "partner": {"name": "P", "email": "p@bench.example"},
        },
    }
