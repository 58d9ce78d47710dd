"""The OpenAPI document: valid, closed values as enums, every field a client sends described,
an example for every request body, and only the status codes each endpoint can answer."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from cli.site import create_app
from ledger.service.settings import Settings
from tests.factories import make_catalog


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("openapi") / "ledger.sqlite3"
    app = create_app(Settings(database_url=f"sqlite:///{path}"), catalog=make_catalog())
    with TestClient(app) as client:
        found: dict[str, Any] = client.get("/openapi.json").json()
    return found


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def properties(
    document: dict[str, Any], schema: dict[str, Any], path: str = ""
) -> list[tuple[str, dict[str, Any]]]:
    """Every property of a request schema, nested models and lists included."""
    schema = resolve(document, schema)
    found = []
    for name, prop in schema.get("properties", {}).items():
        found.append((f"{path}{name}", prop))
        for inner in [prop, prop.get("items", {}), *prop.get("anyOf", []), *prop.get("allOf", [])]:
            inner = inner.get("items", inner) if isinstance(inner, dict) else inner
            if isinstance(inner, dict) and "$ref" in inner:
                found += properties(document, inner, f"{path}{name}.")
    return found


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)


BODIES = 11
"""The operations that take a request body: the 6 claim commands but the reminder, the
eligibility check, creation, the consent answer, the erasure and a webhook's subscription."""


def test_every_field_a_client_sends_is_described(document: dict[str, Any]) -> None:
    undescribed = []
    fields, parameters = 0, 0
    for method, path, operation in operations(document):
        content = operation.get("requestBody", {}).get("content", {})
        for media in content.values():
            for name, prop in properties(document, media["schema"]):
                fields += 1
                if not (prop.get("description") or resolve(document, prop).get("description")):
                    undescribed.append(f"{method.upper()} {path} {name}")
        for parameter in operation.get("parameters", []):
            if parameter["in"] in {"query", "header"}:
                parameters += 1
                if not parameter.get("description"):
                    name = parameter["name"]
                    undescribed.append(f"{method.upper()} {path} {parameter['in']} {name}")
    assert undescribed == []
    assert fields >= 3 * BODIES and parameters >= 40  # the checks saw the fields


def test_every_request_body_has_an_example(document: dict[str, Any]) -> None:
    missing = []
    bodies = []
    for method, path, operation in operations(document):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            bodies.append(f"{method.upper()} {path}")
            schema = media["schema"]
            candidates = [schema, *schema.get("anyOf", [])]
            if not any(resolve(document, c).get("examples") for c in candidates):
                missing.append(f"{method.upper()} {path}")
    assert missing == []
    assert len(bodies) == BODIES, bodies


def test_closed_values_are_enums(document: dict[str, Any]) -> None:
    (claims,) = [op for m, p, op in operations(document) if (m, p) == ("get", "/v1/claims")]
    params = {p["name"]: p["schema"] for p in claims["parameters"]}
    state = resolve(document, params["state"]["anyOf"][0])
    assert "awaiting_consent" in state["enum"]
    assert "-created_at" in params["sort"]["enum"]
    customer_id = document["components"]["schemas"]["CustomerIdInput"]["properties"]["type"]
    assert set(resolve(document, customer_id)["enum"]) >= {"domain", "tenant_id", "tpid"}


def test_reads_answer_no_conflict_and_commands_name_theirs(document: dict[str, Any]) -> None:
    reads, commands = 0, 0
    for method, path, operation in operations(document):
        codes = set(operation["responses"])
        if method == "get":  # a late consent link is a 409, nothing else a read conflicts with
            reads += 1
            assert "412" not in codes, path
            # a late consent link; a document whose stored file changed (document-changed)
            late_or_changed = {
                "/v1/consent/{token}",
                "/v1/claims/{claim_id}/documents/{document_id}",
            }
            assert "409" not in codes or path in late_or_changed, path
        if path.startswith("/v1/claims/{claim_id}/") and method == "post":
            commands += 1
            assert {"404", "409", "412", "422"} <= codes, path
    assert commands == 7  # consent request and reminder, submission, dispute, cancel, review,
    # a document's upload
    assert reads >= 15
    (engagements,) = [
        op for m, p, op in operations(document) if (m, p) == ("get", "/v1/engagements")
    ]
    assert set(engagements["responses"]) == {"200", "401", "403"}


def test_every_route_that_reads_the_database_may_answer_503(document: dict[str, Any]) -> None:
    """A database out of reach is 503 database-unavailable on every route but those that
    read only the catalog (and /healthz, /readyz); a route's own 503 keeps its words beside
    it."""
    catalog_only = {"/healthz", "/v1/engagements", "/v1/engagements/{engagement_id}"}
    for _method, path, operation in operations(document):
        answers = operation["responses"]
        if path in catalog_only:
            assert "503" not in answers, path
            continue
        if path == "/readyz":  # not ready: the database or the views (not-ready)
            assert answers["503"]["description"] == "Not ready"
            continue
        assert "database-unavailable" in answers["503"]["description"], path
        assert "problem+json" in str(answers["503"]["content"]), path
    checkpoint = document["paths"]["/v1/audit/checkpoint"]["get"]["responses"]["503"]
    assert checkpoint["description"].startswith("The store keeps no hashes")
