"""Response models: what the OpenAPI document promises and the tests check against."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from ledger.aggregates.values import usd_text
from ledger.domain.catalog import Deadlines, EngagementKind, PayoutModel, ProofItem
from ledger.domain.customer_ids import IdType
from ledger.interface.bodies import ConsentAnswer as ConsentAnswer

ClaimSort = Literal[
    "created_at", "-created_at", "updated_at", "-updated_at", "state", "-state",
    "engagement_id", "-engagement_id", "friendly_name", "-friendly_name",
]  # fmt: skip
"""The claim list's sort keys (those of ``ledger.projections.claim_queries.Sort``)."""
UsdText = Annotated[Decimal, PlainSerializer(usd_text, return_type=str)]
"""An amount in USD, written with exactly two decimals."""


class Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CustomerIdOut(Out):
    type: str
    value: str


class CommandOut(Out):
    """Something the caller may do to the claim now, and where to send it."""

    name: str
    label: str
    method: Literal["POST"]
    href: str


class ProofOut(Out):
    kind: ProofItem
    reference: str


CUSTOMER_NAME = (
    "The customer: the directory's name of the customer's tenant (an MSX opportunity's tenant "
    "for an opportunity id), recorded when the claim was made; null when none was recorded "
    "(claims made before it was, or an id no tenant of the directory owns): then customer_id "
    "alone names the customer"
)


class ClaimSummary(Out):
    claim_id: UUID
    partner_id: str
    engagement_id: str
    friendly_name: str = Field(description="The claim's name, as the partner gave it (R3)")
    customer_name: str | None = Field(description=CUSTOMER_NAME)
    customer_id: CustomerIdOut
    location_id: str
    origin: Literal["added", "claimed"]
    state: str
    label: str
    terminal: bool
    actions: list[str]
    commands: list[CommandOut]
    running_deadline: str | None
    running_deadline_kind: str | None
    days_left: int | None
    created_at: str
    updated_at: str
    version: int


class ReferralLink(Out):
    referral_id: UUID
    link: str
    co_sell: bool
    may_open: bool


class ContactOut(Out):
    name: str
    email: str
    language: str = "en"


class ContactsOut(Out):
    customer: ContactOut
    partner: ContactOut


class ClaimDetails(ClaimSummary):
    partner_id: str
    resolved_tenant_id: str | None
    deadlines: dict[str, str]
    contacts: ContactsOut
    deal_size_usd: str | None
    payout_model: str
    fixed_payout_usd: str | None
    hours: int | None
    proposed_payout_usd: str | None
    payout_usd: str | None
    had_consent: bool
    disputed: bool
    submissions: int
    last_reason: str | None
    referral: ReferralLink | None
    proof: list[ProofOut]
    consent_email: Literal["pending", "sent", "stuck", "superseded"] | None = Field(
        description="The latest consent e-mail: waiting to be sent, sent, stuck (a send was "
        "interrupted; it is sent again shortly with the same Message-ID), or superseded; "
        "null before consent is requested"
    )
    as_of: str | None = Field(
        default=None,
        description="Set on an answer to ?as_of=: the time the claim is shown as it stood "
        "at (folded from its events up to then); null for the claim as it is now",
    )


class CreatedClaims(Out):
    claims: list[ClaimDetails]


class ClaimPage(Out):
    items: list[ClaimSummary]
    next_cursor: str | None


class QueueItem(ClaimSummary):
    partner_id: str
    proof: list[ProofOut]


class QueuePage(Out):
    items: list[QueueItem]
    next_cursor: str | None


class TabItem(Out):
    """A known customer (kind ``customer``) or one of the partner's claims (kind ``claim``)."""

    kind: Literal["customer", "claim"]
    friendly_name: str = Field(
        description="The claim's name, as the partner gave it; for a known customer, the name "
        "of the first claim it consented on"
    )
    customer_name: str | None = Field(description=CUSTOMER_NAME)
    customer_id: CustomerIdOut
    actions: list[str] = []
    commands: list[CommandOut] = []
    reasons: list[str] | None = None
    rule: str | None = None
    hint: str | None = None
    claim_id: UUID | None = None
    state: str | None = None
    label: str | None = None
    days_left: int | None = None
    running_deadline: str | None = None
    payout_usd: str | None = None
    version: int | None = None


class TabPage(Out):
    tab: Literal["eligible", "ineligible", "completed"]
    items: list[TabItem]
    next_cursor: str | None
    note: str | None
    as_of: str | None = Field(
        default=None, description="Set on an answer to ?as_of=: the time the tab is shown at"
    )


class HistoryEntry(Out):
    version: int
    event: str
    occurred_at: str
    actor: dict[str, Any]
    data: dict[str, Any]


class EligibilityResult(Out):
    engagement_id: str
    eligible: bool
    reasons: list[str]
    rule: str | None
    hint: str | None
    fixed_payout_usd: UsdText | None
    proposed_payout_usd: UsdText | None


class EngagementSummary(Out):
    id: str
    name: str
    solution_area: str
    kind: EngagementKind
    payout_model: PayoutModel
    allowed_id_types: list[IdType]
    your_eligible_locations: list[str]


class RateTierOut(Out):
    min_opportunity_usd: UsdText
    rate_usd: UsdText


class EngagementDetail(EngagementSummary):
    customer_claim_limit: int
    deadlines: Deadlines
    required_proof: list[ProofItem]
    fixed_payout_usd: UsdText | None
    hourly_rate_tiers: list[RateTierOut] | None
    max_hours: int | None
    payout_cap_usd: UsdText | None
    referrals_enabled: bool
    referral_min_deal_size_usd: UsdText


class ConsentView(Out):
    claim_id: UUID
    customer_name: str = Field(
        description="The customer asked: the directory's name of its tenant, or its id when "
        "the claim recorded no name"
    )
    engagement_name: str
    partner_name: str
    deal_size_usd: str | None
    expires_at: str
    state: str
    label: str
    answerable: bool


class ConsentResult(Out):
    claim_id: UUID
    state: str
    label: str


class ReferralOut(Out):
    referral_id: UUID
    claim_id: UUID
    partner_id: str
    engagement_id: str
    customer_name: str
    customer_type: str
    customer_value: str
    tenant_id: str
    status: str
    substatus: str
    type: str
    qualification: str
    deal_value_usd: str
    created_at: str
    updated_at: str


class ReferralPage(Out):
    items: list[ReferralOut]
    next_cursor: str | None


class Problem(Out):
    """An error (RFC 9457), with the rule it enforces and the field it concerns."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    rule: str | None = None
    field: str | None = None


def problem_response(description: str) -> dict[str, Any]:
    return {
        "model": Problem,
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


UNREACHABLE = (
    "the database cannot be reached just now (database-unavailable), or stopped the request "
    "for another one (database-busy): try again"
)
"""A 503 with Retry-After, which every route that reads the database may answer."""
ERROR_DESCRIPTIONS = {
    401: "No bearer token, or not a valid one",
    403: "Your role or location does not allow it",
    404: "Not found, or another partner's",
    409: "The claim's state, or another claim, conflicts",
    412: "If-Match names a version a person has changed since",
    422: "Invalid input, or a rule refuses it",
    503: UNREACHABLE.capitalize(),
}


def unavailable(description: str) -> dict[str, Any]:
    """A route's own 503 (``description``), beside the database's."""
    return problem_response(f"{description}; or {UNREACHABLE}")


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The problem responses an endpoint can answer, for its OpenAPI entry."""
    return {status: problem_response(ERROR_DESCRIPTIONS[status]) for status in statuses}


class Health(Out):
    status: str
    checks: dict[str, Any] = {}


class EraseContact(BaseModel):
    """Whose personal data to erase: the contact's e-mail address (any case)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"email": "cio@fabrikam.com"}]}
    )

    email: Annotated[
        str,
        Field(
            min_length=3,
            max_length=320,
            pattern=r"^[^\x00-\x1f\x7f]+@.+$",
            description="The contact's e-mail address, as any claim named it (any case)",
        ),
    ]


class ErasureOut(Out):
    """What an erasure did, named by the contact's key id (never its name or address)."""

    key_id: str
    erased_at: str
    erased_by: str
    claims: list[UUID]
    mail_files_removed: int


class LogDigestOut(Out):
    """The running log digest: SHA-256 chained over every stored event's hash, in the order
    followers read the log, up to and including notification ``at`` (docs/audit.md)."""

    at: int = Field(
        ge=0, description="The notification id of the last event the digest covers; 0: none"
    )
    digest: str = Field(
        pattern="^[0-9a-f]{64}$",
        description="The digest in hex; 64 zeros for the empty log. `ledger verify --digest "
        "D --at N` proves later that the log up to N is still the one digested D",
    )


class PayoutsOut(Out):
    approved: UsdText
    pending: UsdText


class AttentionOut(Out):
    claim_id: UUID
    friendly_name: str
    engagement_id: str
    state: str
    deadline: str | None
    link: str


class SummaryOut(Out):
    total_claims: int
    claims_by_state: dict[str, int]
    funnel: dict[str, int]
    drop_outs: dict[str, int]
    payouts_usd: PayoutsOut
    attention_required: list[AttentionOut]
    approval_rate: float | None
    review_days_median: float | None
    review_days_p90: float | None
    payouts_approved_by_month: dict[str, UsdText]
    as_of: str | None = None


class FeedEventOut(Out):
    id: str = Field(description="The event's id: the same on every read and every delivery")
    position: int = Field(description="The log position a follower that applied it is at")
    type: str = Field(description='The event\'s type, for example "ConsentGiven"')
    claim_id: str | None = Field(description="The claim it belongs to (a referral's: its claim)")
    version: int = Field(description="The event's number in its claim's (or record's) history")
    occurred_at: str = Field(description="When it happened (ISO-8601, UTC)")
    actor: dict[str, Any] = Field(description="Who did it")
    data: dict[str, Any] = Field(
        description="The event's own fields, as reads show them ([erased] after an erasure)"
    )


class FeedOut(Out):
    items: list[FeedEventOut]
    next: str = Field(description="The cursor to ask from next (as ?after=)")
