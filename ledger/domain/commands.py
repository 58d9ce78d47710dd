"""Command inputs, validated with pydantic; shared by the application, the CLI and the API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from ledger.aggregates.values import (
    ONE_LINE,
    PRINTABLE,
    Contacts,
    OneLine100,
    Reason,
    Usd,
    text,
)
from ledger.domain.catalog import ProofItem
from ledger.domain.customer_ids import IdType
from ledger.domain.errors import InvalidInputError, Problem
from ledger.words.refusals import Words

Id = Annotated[str, text(100)]


class Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(frozen=True, extra="forbid", json_schema_extra={"examples": list(examples)})


CONTACTS_EXAMPLE = {
    "customer": {"name": "Cora Customer", "email": "cio@fabrikam.com"},
    "partner": {"name": "Pat Partner", "email": "pat@contoso.example"},
}
CUSTOMER_ID_EXAMPLE = {"type": "domain", "value": "fabrikam.com"}
EngagementIds = Annotated[
    list[Id],
    Field(
        min_length=1,
        max_length=50,
        description="The engagements to claim the customer for: one claim each, all or none",
    ),
]
Hours = Annotated[
    int | None,
    Field(description="Hours of work, for a variable-payout engagement only (R12)"),
]
LocationId = Annotated[Id, Field(description="The partner's location the claim is made through")]
OptionalReason = Annotated[Reason | None, Field(description="Why, in a few words (optional)")]


class CustomerIdInput(Command):
    model_config = _examples(CUSTOMER_ID_EXAMPLE)

    type: Annotated[IdType, Field(description="Which of the five customer ids this is (R4)")]
    value: Annotated[
        str,
        StringConstraints(max_length=300),
        Field(description="The id's value; normalised (a domain's scheme and path dropped, ...)"),
    ]


class CreateClaims(Command):
    """Add a customer, or claim a known one, for one or more engagements (R1-R19)."""

    model_config = _examples(
        {
            "origin": "added",
            "friendly_name": "Fabrikam",
            "location_id": "LOC-1001",
            "customer_id": CUSTOMER_ID_EXAMPLE,
            "engagement_ids": ["ENG-AZ-MIGRATE-WS"],
            "contacts": CONTACTS_EXAMPLE,
        }
    )

    origin: Annotated[
        Literal["added", "claimed"],
        Field(description="added: a customer new to you; claimed: a known one (R15)"),
    ]
    friendly_name: Annotated[
        OneLine100, Field(description="The customer's name as you know it, on one line")
    ]
    location_id: LocationId
    customer_id: Annotated[CustomerIdInput, Field(description="The customer, by one of its ids")]
    engagement_ids: EngagementIds
    contacts: Annotated[Contacts, Field(description="The customer's and the partner's contact")]
    tenant_mismatch_reason: Annotated[
        Reason | None,
        Field(
            description="Why the customer contact's e-mail is outside the tenant's verified "
            "domains; required then (R8)"
        ),
    ] = None
    hours: Hours = None


class EligibilityCheck(Command):
    """Preview for the add flow: per engagement, eligible or not, with reasons."""

    model_config = _examples({"location_id": "LOC-1001", "customer_id": CUSTOMER_ID_EXAMPLE})

    location_id: LocationId
    customer_id: Annotated[CustomerIdInput, Field(description="The customer, by one of its ids")]
    engagement_ids: Annotated[
        list[Id] | None,
        Field(
            min_length=1,
            max_length=50,
            description="The engagements to check; all the location's eligible ones by default",
        ),
    ] = None
    hours: Hours = None


class RequestConsent(Command):
    model_config = _examples({"deal_size_usd": "25000.00", "disclaimer_accepted": True})

    deal_size_usd: Annotated[
        Usd, Field(description="The estimated deal size in USD, > 0, two decimals (R21, R22)")
    ]
    disclaimer_accepted: Annotated[
        bool, Field(description="The partner accepts the disclaimer; must be true (R21)")
    ]
    contacts: Annotated[
        Contacts | None, Field(description="The contacts as confirmed now; unchanged if left out")
    ] = None


class ProofInput(Command):
    """One item of a submission: its kind, and the document by its id (one uploaded to the
    claim, ``POST /v1/claims/{id}/documents``) or a reference to it (a file name or link)."""

    kind: Annotated[ProofItem, Field(description="Which kind of proof this item is")]
    reference: Annotated[
        str | None,
        text(500),
        Field(description="Where the document is: a file name, link or id"),
    ] = None
    document_id: Annotated[
        UUID | None,
        Field(description="A document uploaded to this claim, of this kind"),
    ] = None


class Submit(Command):
    model_config = _examples(
        {
            "proof": [
                {"kind": "invoice", "reference": "invoice-2026-001.pdf"},
                {"kind": "poe_document", "reference": "poe.pdf"},
            ]
        }
    )

    proof: Annotated[
        list[ProofInput],
        Field(max_length=20, description="Every item of the engagement's required proof (R30)"),
    ]


class Cancel(Command):
    model_config = _examples({"reason": "the customer chose another partner"})

    reason: OptionalReason = None


class Dispute(Command):
    model_config = _examples({"reason": "the signed survey is attached"})

    reason: OptionalReason = None


class Review(Command):
    model_config = _examples({"action": "reject", "reason": "the invoice is missing"})

    action: Annotated[
        Literal["start", "request_information", "approve", "reject", "reject_final"],
        Field(description="The reviewer's action, by the name the claim's commands give"),
    ]
    reason: Annotated[
        Reason | None,
        Field(description="Why; required for every action but start and approve (R32)"),
    ] = None


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


OUR_PATTERNS = {ONE_LINE: "string_one_line", PRINTABLE: "string_printable"}
"""The problem types of our text patterns (pydantic would quote the regular expression)."""
PARAMS = (str, int, float, Decimal)
"""The parameters of a pydantic problem a sentence may show (its limits: ``max_length``, ...)."""


def problem_of(error: Mapping[str, Any], strip: int = 0) -> Problem:
    """A pydantic validation problem as ours: the field's dotted path (less ``strip`` leading
    parts, e.g. FastAPI's ``body``), the rule it breaks, and the key of its sentence."""
    location = [str(part) for part in error.get("loc", ())][strip:]
    kind = str(error.get("type", "value_error"))
    context = error.get("ctx") or {}
    kind = OUR_PATTERNS.get(str(context.get("pattern")), kind)
    if kind == "json_invalid":
        location = []
    field = ".".join(location) or None
    params = {k: v for k, v in context.items() if isinstance(v, PARAMS)}
    if location:  # a field we do not know (extra_forbidden) is named as it was sent
        params["name"] = location[-1][:100]
    return Problem(
        field,
        FIELD_RULES.get(location[0]) if location else None,
        Words(kind, field, params),
    )


def field_problems(errors: Sequence[Mapping[str, Any]], strip: int = 0) -> list[Problem]:
    """Each validation problem (SPEC 6.1), in order: every one, not only the first."""
    return [problem_of(error, strip) for error in errors]


def parse(model: type[C], data: object) -> C:
    """Validate ``data`` as ``model``; every problem is listed, the first one named (422)."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise invalid_input(field_problems(error.errors())) from None


def invalid_input(problems: Sequence[Problem]) -> InvalidInputError:
    """The refusal of input with these problems: every one listed, the first one named."""
    first = problems[0]
    return InvalidInputError(
        "invalid-input", rule=first.rule, field=first.field, words=first.words, problems=problems
    )
