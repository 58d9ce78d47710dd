"""The engagements, and the Customers page of each (SPEC section 5): three tabs."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ledger.domain import access
from web.pages import PageDep

router = APIRouter(include_in_schema=False)
TABS = ("eligible", "ineligible", "completed")


@router.get("/")
def engagements(page: PageDep) -> Response:
    principal = page.principal
    catalog = page.services.ledger.catalog
    if not principal.is_partner_user:  # reviewers, sellers, referral admins: their own pages
        return page.render("home.html")
    partner = access.partner_of(catalog, principal)
    rows = [(e, access.eligible_locations(principal, partner, e)) for e in catalog.engagements]
    return page.render("engagements.html", partner=partner, rows=rows)


@router.get("/engagements/{engagement_id}/customers")
def customers(
    page: PageDep,
    engagement_id: str,
    tab: Annotated[Literal["eligible", "ineligible", "completed"], Query()] = "eligible",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    principal = page.principal
    engagement = access.engagement(page.services.ledger.catalog, engagement_id)
    result = page.services.read_models.customers.tab(principal, engagement.id, tab, cursor, 50)
    return page.render(
        "customers.html",
        engagement=engagement,
        tab=tab,
        tabs=TABS,
        result=result,
        commands=lambda row: access.allowed_commands(
            principal, row.state, row.partner_id, row.location_id
        ),
    )
