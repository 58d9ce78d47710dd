"""The one table from the kind of domain refusal to its HTTP status, and the words of a
problem in the caller's language."""

from __future__ import annotations

import json

import pytest

from ledger.domain.errors import (
    ConflictError,
    ForbiddenError,
    IneligibleError,
    InvalidInputError,
    InvalidTransitionError,
    LedgerError,
    NotFoundError,
    RuleRefusedError,
    StaleVersionError,
)
from ledger.interface.refusals import from_ledger_error, status_of
from tests.api.client import Api
from tests.api.helpers import assert_problem, body
from tests.factories import ADMIN_A, REVIEWER


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (LedgerError("x", "base"), 422),
        (InvalidInputError("invalid-input", "bad"), 422),
        (RuleRefusedError("refused", "no"), 422),
        (IneligibleError({"E1": ["expired"]}, "not eligible"), 422),
        (ForbiddenError("role-required", "no role"), 403),
        (NotFoundError("not-found", "unknown"), 404),
        (ConflictError("claim-already-exists", "taken"), 409),
        (InvalidTransitionError("approve", "draft", ["submit"], rule="R40"), 409),
        (StaleVersionError("stale-version", "moved on"), 412),
    ],
)
def test_each_kind_of_refusal_has_its_status(error: LedgerError, status: int) -> None:
    assert status_of(error) == status
    response = from_ledger_error(error)
    assert response.status_code == status
    assert json.loads(bytes(response.body))["status"] == status


def test_a_new_subclass_answers_as_its_nearest_named_base() -> None:
    class SeatTakenError(ConflictError):
        pass

    assert status_of(SeatTakenError("seat-taken", "taken")) == 409


# -- the words of a problem: English, or Portuguese when the caller asks (SPEC 12) -------------

PORTUGUESE = {"Accept-Language": "pt-BR,pt;q=0.9,en;q=0.5"}


def test_every_problem_is_a_sentence_in_english_or_in_portuguese(api: Api) -> None:
    payload = body(["E-WS"])
    payload["friendly_name"] = ""
    payload["contacts"]["customer"]["email"] = "cora@"
    english = api.post("/v1/claims", payload).json()
    portuguese = api.post("/v1/claims", payload, headers=PORTUGUESE).json()
    for problem in (english, portuguese):  # the contract is the same in both
        assert problem["type"].endswith("/invalid-input") and problem["rule"] == "R3"
        assert [e["field"] for e in problem["errors"]] == [
            "friendly_name",
            "contacts.customer.email",
        ]
        assert [e["rule"] for e in problem["errors"]] == ["R3", "R13"]
    assert english["detail"] == "Enter the friendly name."
    assert portuguese["detail"] == "Informe o nome amigável."
    assert [e["message"] for e in portuguese["errors"]] == [
        "Informe o nome amigável.",
        "Informe o endereço de e-mail do contato do cliente no formato nome@exemplo.com.",
    ]
    assert "There must be something" not in str(english) + str(portuguese)


def test_a_refusal_of_the_ledger_is_said_in_the_callers_language(api: Api) -> None:
    check = {"location_id": "LOC-A1", "customer_id": {"type": "tpid", "value": "12ab"}}
    english = api.post("/v1/eligibility-checks", check)
    portuguese = api.post("/v1/eligibility-checks", check, headers=PORTUGUESE)
    for response in (english, portuguese):
        assert_problem(response, 422, "invalid-customer-id", "R4")
        assert response.json()["field"] == "customer_id.value"
    assert english.json()["detail"] == "A TPID contains digits only, for example 1000000."
    assert portuguese.json()["detail"] == "Um TPID contém apenas dígitos, por exemplo 1000000."


def test_a_refused_command_is_said_in_the_callers_language(api: Api) -> None:
    refused = api.post("/v1/claims", body(["E-WS", "E-VAR"]), headers=PORTUGUESE)
    assert_problem(refused, 422, "variable-payout-single-engagement", "R12")
    assert refused.json()["detail"].startswith("Um compromisso de remuneração variável")


def test_a_bad_token_and_a_missing_role_are_sentences_without_class_names(api: Api) -> None:
    bad = {"Authorization": "Bearer not-a-token"}
    english = api.get("/v1/claims", None, headers=bad)
    portuguese = api.get("/v1/claims", None, headers={**bad, **PORTUGUESE})
    assert_problem(english, 401, "unauthorized")
    assert english.json()["detail"] == (
        "The token is not valid: paste the whole token, exactly as it was printed."
    )
    assert portuguese.json()["detail"].startswith("O token não é válido")
    for response in (english, portuguese):
        assert "Error" not in response.json()["detail"]
    forbidden = api.post("/v1/claims", body(), REVIEWER, headers=PORTUGUESE)
    assert_problem(forbidden, 403, "role-required", "R1")
    assert forbidden.json()["detail"] == (
        "Isto exige o papel de Administrador de incentivos ou Usuário de incentivos."
    )


def test_malformed_json_and_an_unknown_address_are_sentences_too(api: Api) -> None:
    malformed = api.client.post(
        "/v1/claims",
        content=b"{not json",
        headers={**api.auth(ADMIN_A), **PORTUGUESE, "Content-Type": "application/json"},
    )
    assert_problem(malformed, 422, "invalid-input")
    assert malformed.json()["detail"] == "O corpo não é um JSON válido: verifique a sintaxe."
    nowhere = api.get("/v1/nowhere", headers=PORTUGUESE)
    assert_problem(nowhere, 404, "not-found")
    assert nowhere.json()["detail"] == "Não há nada neste endereço."
