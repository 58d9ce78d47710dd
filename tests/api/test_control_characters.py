"""NUL and other control characters in any query parameter or path segment: 422, never a 500,
on both stores (PostgreSQL text cannot hold NUL)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.client import Api
from tests.api.helpers import REFERRAL_ADMIN_A, assert_problem, body
from tests.factories import ADMIN_A, REVIEWER, SELLER

CLAIM = "00000000-0000-0000-0000-000000000000"


def query_parameters(api: Api) -> list[tuple[str, str]]:
    """Every (GET path, query parameter) of the OpenAPI document."""
    document: dict[str, Any] = api.client.get("/openapi.json").json()
    return [
        (path, parameter["name"])
        for path, item in document["paths"].items()
        if "get" in item
        for parameter in item["get"].get("parameters", [])
        if parameter["in"] == "query"
    ]


@pytest.mark.parametrize("character", ["\x00", "\x1f", "\x7f"])
def test_every_query_parameter_refuses_control_characters(api: Api, character: str) -> None:
    checked = query_parameters(api)
    assert len(checked) >= 10
    for path, name in checked:
        url = path.replace("{claim_id}", CLAIM).replace("{engagement_id}", "E-WS")
        url = url.replace("{referral_id}", CLAIM).replace("{token}", "x")
        for principal in (ADMIN_A, REVIEWER, REFERRAL_ADMIN_A, SELLER):
            response = api.get(url, principal, params={name: f"a{character}b"})
            assert_problem(response, 422, "invalid-input")
            assert response.json()["field"] == name


def test_a_path_segment_refuses_them_too(api: Api) -> None:
    response = api.get("/v1/engagements/E%00WS")
    assert_problem(response, 422, "invalid-input")
    assert response.json()["field"] == "path"
    page = api.get("/engagements/E%01WS/customers", None)  # a page route: the error page
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("line_break", ["\r\n", "\n", "\r", "\t"])
def test_a_name_is_one_line(api: Api, line_break: str) -> None:
    """A line break in a name would start a paragraph of its own in the consent e-mail."""
    name = f"Fabrikam{line_break}Click https://evil.example to confirm"
    refused = api.post("/v1/claims", {**body(["E-WS"]), "friendly_name": name})
    assert_problem(refused, 422, "invalid-input", "R3")
    assert refused.json()["field"] == "friendly_name"
    assert refused.json()["detail"] == "Write the friendly name on one line, without line breaks."
    contacts = body(["E-WS"])
    contacts["contacts"]["customer"]["name"] = name
    refused = api.post("/v1/claims", contacts)
    assert_problem(refused, 422, "invalid-input", "R13")
    assert refused.json()["field"] == "contacts.customer.name"
    assert api.post("/v1/claims", body(["E-WS"], name="Fabrikam  Europe")).status_code == 201
