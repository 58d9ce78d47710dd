"""Command inputs, validated with pydantic; shared by the application, the CLI and the API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, TypedDict, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from ledger.aggregates.values import Contacts, ProofDocument, Reason, Text100, Usd, text
from ledger.errors import InvalidInputError

Id = Annotated[str, text(100)]


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CustomerIdInput(Command):
    type: Annotated[str, StringConstraints(max_length=40)]
    value: Annotated[str, StringConstraints(max_length=300)]


class CreateClaims(Command):
    """Add a customer, or claim a known one, for one or more engagements (R1-R19)."""

    origin: Literal["added", "claimed"]
    friendly_name: Text100
    location_id: Id
    customer_id: CustomerIdInput
    engagement_ids: Annotated[list[Id], Field(min_length=1, max_length=50)]
    contacts: Contacts
    tenant_mismatch_reason: Reason | None = None
    hours: int | None = None


class EligibilityCheck(Command):
    """Preview for the add flow: per engagement, eligible or not, with reasons."""

    location_id: Id
    customer_id: CustomerIdInput
    engagement_ids: Annotated[list[Id], Field(min_length=1, max_length=50)] | None = None
    hours: int | None = None


class RequestConsent(Command):
    deal_size_usd: Usd
    disclaimer_accepted: bool
    contacts: Contacts | None = None


class Submit(Command):
    proof: Annotated[list[ProofDocument], Field(max_length=20)]


class Cancel(Command):
    reason: Reason | None = None


class Dispute(Command):
    reason: Reason | None = None


class Review(Command):
    action: Literal["start", "request_information", "approve", "reject", "reject_final"]
    reason: Reason | None = None


C = TypeVar("C", bound=BaseModel)

# The rule a malformed field breaks, by the first part of its path.
FIELD_RULES = {
    "friendly_name": "R3",
    "customer_id": "R4",
    "contacts": "R13",
    "hours": "R12",
    "deal_size_usd": "R21",
    "disclaimer_accepted": "R21",
    "proof": "R30",
}


class FieldProblem(TypedDict):
    field: str | None
    message: str
    rule: str | None


def field_problems(errors: Sequence[Mapping[str, Any]], strip: int = 0) -> list[FieldProblem]:
    """Each validation problem as ``{"field", "message", "rule"}`` (SPEC 6.1): the field's
    dotted path (less ``strip`` leading parts, e.g. FastAPI's ``body``) and the rule it breaks.
    """
    problems: list[FieldProblem] = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ())][strip:]
        message = str(error["msg"])
        if error.get("type") == "json_invalid":
            location, message = [], "malformed JSON"
        problems.append(
            {
                "field": ".".join(location) or None,
                "message": message,
                "rule": FIELD_RULES.get(location[0]) if location else None,
            }
        )
    return problems


def parse(model: type[C], data: object) -> C:
    """Validate ``data`` as ``model``; every problem is listed, the first one named (422)."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = field_problems(error.errors())
        first = problems[0]
        raise InvalidInputError(
            "invalid-input",
            f"{first['field'] or 'body'}: {first['message']}",
            rule=first["rule"],
            field=first["field"],
            extra={"errors": problems},
        ) from None
