"""Engagements and their Customers page."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api import presenters
from api.deps import (
    AsOf,
    CatalogDep,
    Cursor,
    LedgerDep,
    Limit,
    NowDep,
    PrincipalDep,
    ReadModelsDep,
)
from api.schemas import EngagementDetail, EngagementSummary, RateTierOut, TabPage, errors
from ledger.audit.as_of import parse_as_of
from ledger.domain import access
from ledger.domain.catalog import Catalog, Engagement
from ledger.domain.principal import Principal
from ledger.projections.base import ts
from ledger.projections.customers_page import CustomersTab, Tab

router = APIRouter(prefix="/v1/engagements", tags=["engagements"])


def _summary(catalog: Catalog, principal: Principal, e: Engagement) -> EngagementSummary:
    partner = access.partner_of(catalog, principal)
    return EngagementSummary(
        id=e.id,
        name=e.name,
        solution_area=e.solution_area,
        kind=e.kind,
        payout_model=e.payout_model,
        allowed_id_types=e.allowed_id_types,
        your_eligible_locations=access.eligible_locations(principal, partner, e),
    )


@router.get("", response_model=list[EngagementSummary], responses=errors(401, 403))
def list_engagements(catalog: CatalogDep, principal: PrincipalDep) -> list[EngagementSummary]:
    """Engagements, with the locations of yours that are eligible for each."""
    return [_summary(catalog, principal, e) for e in catalog.engagements]


@router.get(
    "/{engagement_id}", response_model=EngagementDetail, responses=errors(401, 403, 404, 422)
)
def get_engagement(
    engagement_id: str, catalog: CatalogDep, principal: PrincipalDep
) -> EngagementDetail:
    """One engagement's rules, deadlines, payout and referral settings."""
    e = access.engagement(catalog, engagement_id)
    variable = e.variable
    return EngagementDetail(
        **_summary(catalog, principal, e).model_dump(),
        customer_claim_limit=e.customer_claim_limit,
        deadlines=e.deadlines,
        required_proof=e.required_proof,
        fixed_payout_usd=e.fixed_payout_usd,
        hourly_rate_tiers=[
            RateTierOut(min_opportunity_usd=t.min_opportunity_usd, rate_usd=t.rate_usd)
            for t in variable.hourly_rate_tiers
        ]
        if variable
        else None,
        max_hours=variable.max_hours if variable else None,
        payout_cap_usd=variable.payout_cap_usd if variable else None,
        referrals_enabled=e.referrals_enabled,
        referral_min_deal_size_usd=e.referral_min_deal_size_usd,
    )


@router.get(
    "/{engagement_id}/customers",
    response_model=TabPage,
    responses=errors(401, 403, 404, 422, 503),
)
def customers_tab(
    engagement_id: str,
    read_models: ReadModelsDep,
    principal: PrincipalDep,
    now: NowDep,
    ledger: LedgerDep,
    tab: Annotated[
        Literal["eligible", "ineligible", "completed"], Query(description="Which tab")
    ] = "eligible",
    cursor: Cursor = None,
    limit: Limit = 50,
    as_of: AsOf = None,
    partner_id: Annotated[
        str | None,
        Query(
            max_length=100,
            description="Auditors: the partner whose tab to show as of a time (as_of, or "
            "now); partner roles may name only their own",
        ),
    ] = None,
) -> TabPage:
    """The Customers page tab: Eligible, Ineligible or Completed (cursor pagination).
    With `as_of` (auditors: and `partner_id`): the tab as it stood then."""
    if as_of is None and partner_id is None:
        page = read_models.customers.tab(principal, engagement_id, tab, cursor, limit)
        return _tab_page(tab, page, now, principal, None)
    at = now if as_of is None else parse_as_of(as_of, now)
    page = read_models.customers.tab_as_of(
        principal, ledger.claim_events, engagement_id, tab, at, partner_id, cursor, limit
    )
    return _tab_page(tab, page, at, principal, presenters.AS_OF_NOTE.format(at=ts(at)))


def _tab_page(
    tab: Tab, page: CustomersTab, at: datetime, principal: Principal, as_of_note: str | None
) -> TabPage:
    """A tab's page as the API shows it, its days left counted at ``at``; with
    ``as_of_note``, the tab as it stood at ``at``."""
    past = as_of_note is not None
    msx_note = presenters.MSX_ONLY_NOTE if page.msx_only else None
    return TabPage(
        tab=tab,
        items=[
            presenters.tab_item(item, at, principal, tab == "completed", past=past)
            for item in page.items
        ],
        next_cursor=page.next_cursor,
        note=" ".join(n for n in (as_of_note, msx_note) if n) or None,
        as_of=ts(at) if past else None,
    )
