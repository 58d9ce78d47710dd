"""The catalog's decisions, pure functions of the catalog and the current claim count.

Their results are recorded in the claim's events (resolved tenant, eligibility key, proposed
payout), so that history stays true after the catalog changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ledger.aggregates.claim import ClaimState
from ledger.domain.catalog import Catalog, Engagement, PayoutModel, Tenant
from ledger.domain.customer_ids import CustomerId, IdType
from ledger.domain.errors import RuleRefusedError
from ledger.words.refusals import Terms, Words, named, names, reason

CRITERIA_NOT_MET = "criteria-not-met"
CLAIM_LIMIT_REACHED = "claim-limit-reached"
ID_TYPE_NOT_ALLOWED = "id-type-not-allowed"


@dataclass(frozen=True)
class Resolution:
    """A customer id as the programme knows it."""

    customer_id: CustomerId
    subject: CustomerId
    """The id the eligibility check runs on: the tenant id for a domain (R6), else as given (R7)."""
    tenant: Tenant | None

    @property
    def tenant_id(self) -> str | None:
        return None if self.tenant is None else self.tenant.tenant_id

    @property
    def customer_name(self) -> str | None:
        """The directory's name of the customer's tenant (an MSX opportunity's tenant for an
        opportunity id); None when no tenant owns the id."""
        return None if self.tenant is None else self.tenant.name


def is_own_subject(kind: IdType) -> bool:
    """R7: whether an id of this type is checked as given; a domain is checked as its
    tenant's id (R6)."""
    return kind is not IdType.DOMAIN


def resolve(catalog: Catalog, customer_id: CustomerId) -> Resolution:
    """Resolve a customer id through the directory; an unknown domain is refused (R6)."""
    tenant = catalog.directory.tenant_for(customer_id.type, customer_id.value)
    if is_own_subject(customer_id.type):
        return Resolution(customer_id, customer_id, tenant)
    if tenant is None:
        raise RuleRefusedError(
            "domain-not-resolved",
            rule="R6",
            field="customer_id.value",
            params={"domain": customer_id.value},
        )
    subject = CustomerId(type=IdType.TENANT_ID, value=tenant.tenant_id)
    return Resolution(customer_id, subject, tenant)


def holds_place(state: ClaimState) -> bool:
    """R10: whether a claim in ``state`` takes one of its customer's places under the claim
    limit: while it is live, and for good once approved (the holdings ``Seat`` keeps)."""
    return not state.terminal or state is ClaimState.APPROVED


def limit_reached(live_or_approved: int, limit: int) -> bool:
    """R10: whether ``live_or_approved`` claims of a customer id leave no place under ``limit``
    (checked by ``assess`` for the pages, by ``Seat.hold`` for a new claim)."""
    return live_or_approved >= limit


@dataclass(frozen=True)
class Eligibility:
    engagement_id: str
    eligible: bool
    reasons: tuple[str, ...] = ()
    rule: str | None = None
    hint: Words | None = None
    """Why not, in words (``ledger.words.refusals``): for ``id-type-not-allowed`` the id types
    the engagement takes; for ``criteria-not-met`` that the id is not on the engagement's
    list and (R9) which other id type of the same customer would qualify."""

    def words(self, engagement_name: str) -> Words:
        """Why the engagement is not eligible, in words: its name, the reasons and the hint."""
        params = {
            "engagement": engagement_name,
            "reason": Terms(tuple(map(reason, self.reasons))),
            "hint": self.hint,
        }
        if self.hint is None:
            return Words("engagement-reason", None, params)
        return Words("engagement-reason-hint", None, params)


def _qualifying_alternatives(engagement: Engagement, resolution: Resolution) -> list[IdType]:
    if resolution.tenant is None:
        return []
    ids = resolution.tenant.ids()
    return [
        kind
        for kind in engagement.allowed_id_types
        if kind is not resolution.subject.type
        and kind is not IdType.DOMAIN
        and any(engagement.lists(kind, value) for value in ids.get(kind, []))
    ]


def assess(engagement: Engagement, resolution: Resolution, live_or_approved: int) -> Eligibility:
    """Whether a customer id may be claimed for an engagement now (R5, R7, R9, R10)."""
    given = resolution.customer_id.type
    if given not in engagement.allowed_id_types:
        allowed = names([t.value for t in engagement.allowed_id_types], "or")
        hint = Words("hint-accepts-only", params={"id_types": allowed})
        return Eligibility(engagement.id, False, (ID_TYPE_NOT_ALLOWED,), "R5", hint)
    subject = resolution.subject
    if not engagement.lists(subject.type, subject.value):
        alternatives = _qualifying_alternatives(engagement, resolution)
        params: dict[str, object] = {
            "id_type": named(subject.type.value),
            "value": subject.value,
            "alternatives": names([k.value for k in alternatives], "or"),
        }
        hint = (
            Words("hint-other-id-qualifies", params=params)
            if alternatives
            else Words("hint-not-listed", params=params)
        )
        rule = "R9" if alternatives else "R10"
        return Eligibility(engagement.id, False, (CRITERIA_NOT_MET,), rule, hint)
    if limit_reached(live_or_approved, engagement.customer_claim_limit):
        return Eligibility(engagement.id, False, (CLAIM_LIMIT_REACHED,), "R10")
    return Eligibility(engagement.id, True)


def proposed_payout(
    catalog: Catalog, engagement: Engagement, resolution: Resolution, hours: int | None
) -> Decimal | None:
    """The variable payout, hours x the rate of the opportunity's band, capped (R12)."""
    if engagement.payout_model is not PayoutModel.VARIABLE:
        return None
    assert engagement.variable is not None  # the catalog guarantees it
    if hours is None or not 1 <= hours <= engagement.variable.max_hours:
        raise RuleRefusedError(
            "hours-required",
            rule="R12",
            field="hours",
            params={"max_hours": engagement.variable.max_hours},
        )
    opportunity = catalog.directory.opportunity(resolution.subject.value)
    payout = (
        None if opportunity is None else engagement.variable.payout(opportunity.amount_usd, hours)
    )
    if payout is None:
        raise RuleRefusedError(
            "opportunity-not-rated",
            rule="R12",
            field="customer_id.value",
            params={"opportunity": resolution.subject.value},
        )
    return payout
