"""Referrals (for referral admins) and co-sell referrals (for sellers)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from api import presenters
from api.deps import Cursor, Limit, PrincipalDep, ReadModelsDep
from api.schemas import ReferralOut, ReferralPage, errors
from ledger.aggregates.referral import ReferralStatus

router = APIRouter(prefix="/v1", tags=["referrals"])


@router.get("/referrals", response_model=ReferralPage, responses=errors(401, 403, 422))
def list_referrals(
    read_models: ReadModelsDep,
    principal: PrincipalDep,
    status: Annotated[
        ReferralStatus | None, Query(description="Only the referrals in this status")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> ReferralPage:
    """Your partner's referrals, newest first (referral admins, R41), in cursor pages."""
    page = read_models.referrals.search(
        principal, None if status is None else status.value, cursor, limit
    )
    items = [presenters.referral(row) for row in page.items]
    return ReferralPage(items=items, next_cursor=page.next_cursor)


@router.get(
    "/referrals/{referral_id}", response_model=ReferralOut, responses=errors(401, 403, 404, 422)
)
def get_referral(
    referral_id: UUID, read_models: ReadModelsDep, principal: PrincipalDep
) -> ReferralOut:
    """A partner-led referral made from a claim (referral admins of its partner, R41)."""
    return presenters.referral(read_models.referrals.referral(principal, referral_id))


@router.get("/co-sell/referrals", response_model=list[ReferralOut], responses=errors(401, 403, 422))
def co_sell_referrals(read_models: ReadModelsDep, principal: PrincipalDep) -> list[ReferralOut]:
    """Referrals upgraded to co-sell (sellers, R42)."""
    return [presenters.referral(row) for row in read_models.referrals.co_sell(principal)]
