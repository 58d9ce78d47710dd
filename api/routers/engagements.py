"""Engagements and their Customers page."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import PrincipalDep, ServicesDep
from api.schemas import ERRORS, EngagementDetail, EngagementSummary, TabItem, TabPage
from ledger.catalog import Engagement
from ledger.errors import ForbiddenError, NotFoundError
from ledger.principal import Principal

router = APIRouter(prefix="/v1/engagements", tags=["engagements"], responses=ERRORS)


def _locations(svc: ServicesDep, principal: Principal, engagement: Engagement) -> list[str]:
    partner = svc.ledger.catalog.partner(principal.require_partner_role())
    if partner is None:
        raise ForbiddenError("unknown-partner", "your partner is not in the programme")
    mine = {loc.id for loc in partner.locations if principal.may_use_location(loc.id)}
    return [loc for loc in engagement.eligible_locations if loc in mine]


def _summary(svc: ServicesDep, principal: Principal, e: Engagement) -> EngagementSummary:
    return EngagementSummary(
        id=e.id,
        name=e.name,
        solution_area=e.solution_area,
        kind=e.kind,
        payout_model=e.payout_model,
        allowed_id_types=e.allowed_id_types,
        your_eligible_locations=_locations(svc, principal, e),
    )


def _engagement(svc: ServicesDep, engagement_id: str) -> Engagement:
    engagement = svc.ledger.catalog.engagement(engagement_id)
    if engagement is None:
        raise NotFoundError("engagement-not-found", f"no engagement {engagement_id[:100]}")
    return engagement


@router.get("", response_model=list[EngagementSummary])
def list_engagements(svc: ServicesDep, principal: PrincipalDep) -> list[EngagementSummary]:
    """Engagements, with the locations of yours that are eligible for each."""
    return [_summary(svc, principal, e) for e in svc.ledger.catalog.engagements]


@router.get("/{engagement_id}", response_model=EngagementDetail)
def get_engagement(
    engagement_id: str, svc: ServicesDep, principal: PrincipalDep
) -> EngagementDetail:
    """One engagement's rules, deadlines, payout and referral settings."""
    e = _engagement(svc, engagement_id)
    variable = e.variable
    return EngagementDetail(
        **_summary(svc, principal, e).model_dump(),
        customer_claim_limit=e.customer_claim_limit,
        deadlines=e.deadlines,
        required_proof=e.required_proof,
        fixed_payout_usd=e.fixed_payout_usd,
        hourly_rate_tiers=[t.model_dump() for t in variable.hourly_rate_tiers]
        if variable
        else None,
        max_hours=variable.max_hours if variable else None,
        payout_cap_usd=variable.payout_cap_usd if variable else None,
        referrals_enabled=e.referrals_enabled,
        referral_min_deal_size_usd=e.referral_min_deal_size_usd,
    )


@router.get("/{engagement_id}/customers", response_model=TabPage)
def customers_tab(
    engagement_id: str,
    svc: ServicesDep,
    principal: PrincipalDep,
    tab: Literal["eligible", "ineligible", "completed"] = "eligible",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> TabPage:
    """The Customers page tab: Eligible, Ineligible or Completed (cursor pagination)."""
    page = svc.workers.read_models.customers_tab(
        principal, engagement_id, tab, svc.now(), cursor, limit
    )
    items = [TabItem.model_validate(item) for item in page.items]
    return TabPage(tab=tab, items=items, next_cursor=page.next_cursor, note=page.note)
