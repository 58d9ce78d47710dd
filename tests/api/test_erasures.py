"""POST /v1/audit/erasures: every status code and problem type, and what the answers show
afterwards (details, history, the CSV list)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.client import Api
from tests.api.helpers import assert_problem, consent_body, consented, new_claim
from tests.factories import ADMIN_A, AUDITOR

EMAIL = "zoe.erasable@fabrikam.com"
CONTACTS = {
    "customer": {"name": "Zoe Erasable", "email": EMAIL},
    "partner": {"name": "Pat Partner", "email": "pat@a.example"},
}
NEW_CONTACT = {"name": "Nia Newcontact", "email": "nia@fabrikam.com", "language": "en"}


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


def test_a_consent_request_to_an_erased_contact_is_refused_and_records_nothing(
    api: Api,
) -> None:
    """R13: the consent e-mail would go to ``[erased]`` and never be sent; the request is
    refused instead, saying a new contact is needed, and nothing is recorded until then."""
    claim_id = new_claim(api, contacts=CONTACTS)
    assert api.post("/v1/audit/erasures", {"email": EMAIL}, AUDITOR).status_code == 201
    history = api.get(f"/v1/claims/{claim_id}/history").json()
    head = api.head()

    refused = api.post(f"/v1/claims/{claim_id}/consent-request", consent_body())
    assert_problem(refused, 422, "contact-erased", "R13")
    assert refused.json()["field"] == "contacts.customer.email"
    assert refused.json()["detail"] == (
        "The customer contact's name and e-mail address were erased: enter a new customer "
        "contact before the consent e-mail is sent."
    )
    portuguese = api.post(
        f"/v1/claims/{claim_id}/consent-request",
        consent_body(),
        headers={"Accept-Language": "pt-BR"},
    )
    assert "foram apagados" in portuguese.json()["detail"]
    assert api.head() == head and api.get(f"/v1/claims/{claim_id}/history").json() == history

    renamed = {**consent_body(), "contacts": {**CONTACTS, "customer": NEW_CONTACT}}
    sent = api.post(f"/v1/claims/{claim_id}/consent-request", renamed)
    assert sent.status_code == 200, sent.text
    assert (
        api.get(f"/v1/claims/{claim_id}").json()["contacts"]["customer"]["email"]
        == (NEW_CONTACT["email"])
    )
