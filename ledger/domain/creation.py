"""The creation rules (R1-R19) as pure decisions: catalog and principal in, terms or refusal out.

The Ledger reads what these need (the known customers, the seats that count live claims) and
saves what they decide; nothing here touches the store or the clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from ledger.aggregates.claim import ClaimTerms
from ledger.aggregates.seat import Seat
from ledger.aggregates.values import ReferralTerms
from ledger.domain import access
from ledger.domain.catalog import Catalog, Engagement
from ledger.domain.commands import CreateClaims, CustomerIdInput
from ledger.domain.customer_ids import CustomerId, IdType, parse_customer_id
from ledger.domain.eligibility import Eligibility, Resolution, assess, proposed_payout, resolve
from ledger.domain.errors import (
    ConflictError,
    IneligibleError,
    NotFoundError,
    RuleRefusedError,
)
from ledger.domain.principal import Principal
from ledger.words.refusals import Words


@dataclass(frozen=True)
class CreationPlan:
    """A creation checked against the catalog; what is left is the live claim counts."""

    partner_id: str
    location_id: str
    resolution: Resolution
    engagements: tuple[Engagement, ...]
    command: CreateClaims
    tenant_mismatch_reason: str | None

    @property
    def customer_id(self) -> CustomerId:
        return self.resolution.customer_id

    @property
    def eligibility_key(self) -> str:
        return self.resolution.subject.key


@dataclass(frozen=True)
class EligibilityPreview:
    engagement_id: str
    eligibility: Eligibility
    fixed_payout_usd: Decimal | None
    """What a fixed-payout engagement pays."""
    proposed_payout_usd: Decimal | None
    """What a variable-payout engagement would pay for the hours given (R12)."""


def named_engagements(catalog: Catalog, engagement_ids: Sequence[str]) -> list[Engagement]:
    """The engagements a request names, once each; an unknown one is refused."""
    found = []
    for engagement_id in dict.fromkeys(engagement_ids):
        engagement = catalog.engagement(engagement_id)
        if engagement is None:
            raise RuleRefusedError(
                "unknown-engagement",
                field="engagement_ids",
                params={"engagement": engagement_id[:100]},
            )
        found.append(engagement)
    return found


def resolve_input(catalog: Catalog, customer_id: CustomerIdInput) -> Resolution:
    """Parse (R4) and resolve (R6, R7) a customer id as typed by the user."""
    return resolve(catalog, parse_customer_id(customer_id.type, customer_id.value))


def plan_claims(catalog: Catalog, principal: Principal, command: CreateClaims) -> CreationPlan:
    """Every creation rule that needs only the catalog: R1-R8, R12's single engagement."""
    partner = access.partner_of(catalog, principal)
    location_id = access.location_for_claims(principal, partner, command.location_id)
    resolution = resolve_input(catalog, command.customer_id)
    engagements = named_engagements(catalog, command.engagement_ids)
    _check_engagements(engagements, location_id)
    return CreationPlan(
        partner_id=partner.id,
        location_id=location_id,
        resolution=resolution,
        engagements=tuple(engagements),
        command=command,
        tenant_mismatch_reason=tenant_mismatch_reason(command, resolution),
    )


def _check_engagements(engagements: Sequence[Engagement], location_id: str) -> None:
    if len(engagements) > 1 and any(e.variable for e in engagements):
        raise RuleRefusedError(
            "variable-payout-single-engagement", rule="R12", field="engagement_ids"
        )
    for engagement in engagements:
        if location_id not in engagement.eligible_locations:
            raise RuleRefusedError(
                "location-not-eligible",
                rule="R2",
                field="location_id",
                extra={"engagement_id": engagement.id},
                params={"location": location_id, "engagement": engagement.name},
            )


def check_choice(
    catalog: Catalog,
    engagements: Sequence[Engagement],
    location_id: str,
    resolution: Resolution,
    hours: int | None,
) -> None:
    """What creation refuses of the chosen engagements alone: R2's location, R12's single
    engagement and its hours. The page's wizard asks it as soon as the engagements are chosen."""
    _check_engagements(engagements, location_id)
    for engagement in engagements:
        proposed_payout(catalog, engagement, resolution, hours)


def tenant_mismatch_reason(command: CreateClaims, resolution: Resolution) -> str | None:
    """R8: a contact outside the tenant's verified domains needs a recorded reason."""
    if resolution.customer_id.type is not IdType.TENANT_ID:
        return None
    verified = resolution.tenant.domains if resolution.tenant else []
    if command.contacts.customer.email_domain in verified:
        return None
    if command.tenant_mismatch_reason is None:
        raise RuleRefusedError(
            "tenant-domain-mismatch-reason-required",
            rule="R8",
            field="tenant_mismatch_reason",
            params={"domain": command.contacts.customer.email_domain},
        )
    return command.tenant_mismatch_reason


def check_origin(origin: Literal["added", "claimed"], known: bool) -> None:
    """R15: add a customer that is new to the partner, claim one that is known."""
    if origin == "added" and known:
        raise ConflictError("customer-already-known", rule="R15", field="customer_id")
    if origin == "claimed" and not known:
        raise NotFoundError("customer-not-known", rule="R15")


def check_eligible(plan: CreationPlan, seats: Mapping[str, Seat]) -> None:
    """Refuse the whole creation if any engagement is not eligible (R10, R11, R14)."""
    refused: dict[str, Eligibility] = {}
    for engagement in plan.engagements:
        seat = seats[engagement.id]
        seat.refuse_second_live_claim(plan.partner_id)
        verdict = assess(engagement, plan.resolution, seat.count)
        if not verdict.eligible:
            refused[engagement.id] = verdict
    if not refused:
        return
    reasons = {e: list(v.reasons) for e, v in refused.items()}
    name = {e.id: e.name for e in plan.engagements}
    words = Words(
        "not-eligible",
        "engagement_ids",
        {"reasons": tuple(v.words(name[e]) for e, v in refused.items())},
    )
    slugs = {r for v in refused.values() for r in v.reasons}
    if len(slugs) == 1:
        (slug,) = slugs
        rule = next(iter(refused.values())).rule
        raise RuleRefusedError(
            slug, rule=rule, field="engagement_ids", extra={"reasons": reasons}, words=words
        )
    raise IneligibleError(reasons, words=words)


def claim_terms(catalog: Catalog, plan: CreationPlan, engagement: Engagement) -> ClaimTerms:
    """What the claim for one engagement records (R12's payout is computed here, once)."""
    command = plan.command
    return ClaimTerms(
        partner_id=plan.partner_id,
        location_id=plan.location_id,
        engagement_id=engagement.id,
        friendly_name=command.friendly_name,
        customer_id=plan.customer_id,
        eligibility_key=plan.eligibility_key,
        resolved_tenant_id=plan.resolution.tenant_id,
        customer_name=plan.resolution.customer_name,
        tenant_mismatch_reason=plan.tenant_mismatch_reason,
        contacts=command.contacts,
        payout_model=engagement.payout_model,
        fixed_payout_usd=engagement.fixed_payout_usd,
        hours=command.hours if engagement.variable else None,
        proposed_payout_usd=proposed_payout(catalog, engagement, plan.resolution, command.hours),
        deadline_days=engagement.deadlines,
        required_proof=tuple(engagement.required_proof),
        referral_terms=ReferralTerms(
            enabled=engagement.referrals_enabled,
            min_deal_size_usd=engagement.referral_min_deal_size_usd,
        ),
    )


def preview(
    catalog: Catalog,
    engagement: Engagement,
    resolution: Resolution,
    live_or_approved: int,
    hours: int | None,
) -> EligibilityPreview:
    """One engagement of the add flow's preview: eligible or not, and the payout."""
    verdict = assess(engagement, resolution, live_or_approved)
    payout = None
    if verdict.eligible and hours is not None:
        payout = proposed_payout(catalog, engagement, resolution, hours)
    return EligibilityPreview(engagement.id, verdict, engagement.fixed_payout_usd, payout)
