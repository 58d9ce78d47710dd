"""The one table from the kind of domain refusal to its HTTP status."""

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
