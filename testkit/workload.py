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


def bench_catalog(customers: int) -> Catalog:
    return Catalog.model_validate(
        {
            "engagements": [
                {
                    "id": "E-BENCH",
                    "name": "Bench workshop",
                    "solution_area": "Azure",
                    "kind": "workshop",
                    "payout_model": "fixed",
                    "allowed_id_types": ["tenant_id"],
                    "customer_claim_limit": 1,
                    "required_proof": ["invoice"],
                    "fixed_payout_usd": "1000.00",
                    "eligible_locations": ["LOC-1"],
                    "eligible_customers": {"tenant_id": [tenant(i) for i in range(customers)]},
                }
            ],
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
