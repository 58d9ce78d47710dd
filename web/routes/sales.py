"""Referrals: the partner's referrals and one referral (referral admins, R41), and the co-sell
referrals (sellers, R42)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ledger.domain.errors import NotFoundError
from ledger.domain.principal import Role
from web.pages import PageDep

router = APIRouter(include_in_schema=False)


def _names(page: PageDep) -> dict[str, Any]:
    """The catalog's names for the ids a referral row carries."""
    catalog = page.services.ledger.catalog
    return {"partner_name": catalog.partner_name, "engagement_name": catalog.engagement_name}


@router.get("/referrals")
def referrals(
    page: PageDep, cursor: Annotated[str | None, Query(max_length=500)] = None
) -> Response:
    """The partner's referrals, newest first, in pages of 50."""
    result = page.read_models.referrals.search(page.principal, None, cursor, 50)
    return page.render("referrals.html", result=result, **_names(page))


@router.get("/referrals/{referral_id}")
def referral(page: PageDep, referral_id: str) -> Response:
    """One referral of the partner; another partner's (or none) is a 404 page."""
    principal = page.principal
    try:
        found = UUID(referral_id)
    except ValueError:
        principal.require_role(Role.REFERRAL_ADMIN)  # 403 before 404, as the query does
        raise NotFoundError("referral-not-found", params={"referral": referral_id[:100]}) from None
    row = page.read_models.referrals.referral(principal, found)
    return page.render("referral.html", row=row, **_names(page))


@router.get("/co-sell")
def co_sell(page: PageDep) -> Response:
    """The referrals upgraded to co-sell, for sellers."""
    rows = page.read_models.referrals.co_sell(page.principal)
    return page.render("co_sell.html", rows=rows, **_names(page))
