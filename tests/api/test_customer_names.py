"""SPEC 12 over the API: a claim carries ``customer_name``, the directory's name of its
customer's tenant, beside its own ``friendly_name``; ``GET /v1/claims?customer=`` finds a
claim by it; the tabs, the CSV and the consent link name the customer by it; the OpenAPI
document says what it is."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from cli.site import create_app
from ledger.service.settings import Settings
from tests.api.client import Api
from tests.api.helpers import body, consent_body, new_claim
from tests.factories import NORTHWIND, make_catalog


def pilot(api: Api) -> str:
    """A Northwind claim whose friendly name says nothing of Northwind."""
    return new_claim(
        api, ["E-AS"], name="Pilot up north", value=NORTHWIND, customer_email="it@northwind.com"
    )


def test_a_claim_names_its_customer_beside_its_own_name(api: Api) -> None:
    sent = body(["E-AS"], name="Pilot up north", value=NORTHWIND, customer_email="it@northwind.com")
    response = api.post("/v1/claims", sent)
    assert response.status_code == 201, response.text
    (made,) = response.json()["claims"]
    assert (made["friendly_name"], made["customer_name"]) == ("Pilot up north", "Northwind")
    details = api.get(f"/v1/claims/{made['claim_id']}").json()
    assert details["customer_name"] == "Northwind"
    assert details["customer_id"] == {"type": "tenant_id", "value": NORTHWIND}


def test_get_claims_finds_a_claim_by_its_customers_name(api: Api) -> None:
    north = pilot(api)
    new_claim(api, ["E-WS"], name="Lakes")  # Fabrikam's

    def found(customer: str) -> list[str]:
        page = api.get("/v1/claims", params={"customer": customer}).json()
        return [c["claim_id"] for c in page["items"]]

    assert found("Northwind") == found("northw") == found("up north") == [north]
    (item,) = api.get("/v1/claims", params={"customer": "Northwind"}).json()["items"]
    assert (item["customer_name"], item["friendly_name"]) == ("Northwind", "Pilot up north")
    assert found("north_") == []  # LIKE's wildcards stay themselves


def test_the_csv_and_the_tabs_name_the_customer(api: Api) -> None:
    north = pilot(api)
    text = api.get("/v1/claims", headers={"Accept": "text/csv"}).text
    (row,) = csv.DictReader(io.StringIO(text))
    assert (row["friendly_name"], row["customer_name"]) == ("Pilot up north", "Northwind")
    tab = api.get("/v1/engagements/E-AS/customers?tab=eligible").json()
    (item,) = [i for i in tab["items"] if i.get("claim_id") == north]
    assert (item["customer_name"], item["friendly_name"]) == ("Northwind", "Pilot up north")


def test_the_consent_link_names_the_customer_by_its_tenants_name(api: Api) -> None:
    north = pilot(api)
    assert api.post(f"/v1/claims/{north}/consent-request", consent_body()).status_code == 200
    seen = api.get(f"/v1/consent/{api.consent_token(north)}", None).json()
    assert seen["customer_name"] == "Northwind"


def test_the_openapi_document_describes_customer_name(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    path = tmp_path_factory.mktemp("openapi") / "ledger.sqlite3"
    app = create_app(Settings(database_url=f"sqlite:///{path}"), catalog=make_catalog())
    with TestClient(app) as client:
        schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for model in ("ClaimSummary", "ClaimDetails", "QueueItem", "TabItem"):
        prop = schemas[model]["properties"]["customer_name"]
        assert {"type": "null"} in prop["anyOf"], model
        assert "tenant" in prop["description"] and "customer_id" in prop["description"]
        assert "claim's name" in schemas[model]["properties"]["friendly_name"]["description"]
    assert "customer_name" in schemas["ClaimSummary"]["required"]
