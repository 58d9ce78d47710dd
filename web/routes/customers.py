"""The engagements, and the Customers page of each (SPEC section 5): three tabs."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ledger.domain import access
from ledger.domain.errors import InvalidInputError
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
    partner_id: Annotated[str | None, Query(max_length=100)] = None,
    as_of: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """The tab now; with ``as_of`` (auditors: and ``partner_id``), as it stood then."""
    principal = page.principal
    engagement = access.engagement(page.services.ledger.catalog, engagement_id)
    past: dict[str, str] = {}
    if (as_of and as_of.strip()) or partner_id:
        try:
            moment = page.as_of(as_of.strip()) if as_of and as_of.strip() else page.now
            result = page.read_models.customers.tab_as_of(
                principal, page.services.ledger.claim_events, engagement.id, tab, moment,
                partner_id, cursor, 50,
            )  # fmt: skip
        except InvalidInputError as error:
            return page.error_page(error)
        past = {"partner_id": partner_id or "", "as_of": page.local_input(moment)}
    else:
        result = page.read_models.customers.tab(principal, engagement.id, tab, cursor, 50)
    return page.render(
        "customers.html",
        engagement=engagement,
        tab=tab,
        tabs=TABS,
        result=result,
        as_of=moment if past else None,
        past_query="&" + urlencode(past) if past else "",
        commands=lambda row: (
            ()
            if past
            else access.allowed_commands(principal, row.state, row.partner_id, row.location_id)
        ),
    )
