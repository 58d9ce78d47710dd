"""POST /v1/audit/erasures: every status code and problem type, and what the answers show
afterwards (details, history, the CSV list)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.client import Api
from tests.api.helpers import assert_problem, consented
from tests.factories import ADMIN_A, AUDITOR

EMAIL = "zoe.erasable@fabrikam.com"
CONTACTS = {
    "customer": {"name": "Zoe Erasable", "email": EMAIL},
    "partner": {"name": "Pat Partner", "email": "pat@a.example"},
}


def test_an_auditor_erases_a_contact_and_every_answer_shows_erased(api: Api) -> None:
    claim_id = consented(api, contacts=CONTACTS)
    assert EMAIL in api.get(f"/v1/claims/{claim_id}").text
    response = api.post("/v1/audit/erasures", {"email": EMAIL.upper()}, AUDITOR)
    assert response.status_code == 201, response.text
    erased = response.json()
    assert erased["claims"] == [claim_id] and erased["erased_by"] == AUDITOR.user_id
    assert set(erased) == {"key_id", "erased_at", "erased_by", "claims", "mail_files_removed"}
    details = api.get(f"/v1/claims/{claim_id}").json()
    assert details["contacts"]["customer"] == {
        "name": "[erased]",
        "email": "[erased]",
        "language": "en",
    }
    answers = [
        api.get(f"/v1/claims/{claim_id}").text,
        api.get(f"/v1/claims/{claim_id}/history").text,
        api.get("/v1/claims", headers={"Accept": "text/csv"}).text,
        api.get(f"/v1/claims/{claim_id}/history", AUDITOR).text,
    ]
    for text in answers:
        assert EMAIL not in text.lower() and "erasable" not in text.lower()
    again = api.post("/v1/audit/erasures", {"email": EMAIL}, AUDITOR)
    assert_problem(again, 404, "contact-not-found")


def test_an_unknown_contact_is_not_found(api: Api) -> None:
    response = api.post("/v1/audit/erasures", {"email": "nobody@x.example"}, AUDITOR)
    assert_problem(response, 404, "contact-not-found")


@pytest.mark.parametrize(
    "body", [{}, {"email": "no-at-sign"}, {"email": EMAIL, "name": "x"}, {"email": 3}]
)
def test_a_bad_body_is_422(api: Api, body: dict[str, Any]) -> None:
    assert_problem(api.post("/v1/audit/erasures", body, AUDITOR), 422, "invalid-input")


def test_without_a_token_401_and_for_a_partner_403(api: Api) -> None:
    assert_problem(api.post("/v1/audit/erasures", {"email": EMAIL}, None), 401, "unauthorized")
    assert api.post("/v1/audit/erasures", {"email": EMAIL}, ADMIN_A).status_code == 403
