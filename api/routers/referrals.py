"""Referrals (for referral admins) and co-sell referrals (for sellers)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from api import presenters
from api.deps import PrincipalDep, ReadModelsDep
from api.schemas import ERRORS, ReferralOut

router = APIRouter(prefix="/v1", tags=["referrals"], responses=ERRORS)


@router.get("/referrals/{referral_id}", response_model=ReferralOut)
def get_referral(
    referral_id: UUID, read_models: ReadModelsDep, principal: PrincipalDep
) -> ReferralOut:
    """A partner-led referral made from a claim (referral admins of its partner, R41)."""
    return presenters.referral(read_models.referrals.referral(principal, referral_id))


@router.get("/co-sell/referrals", response_model=list[ReferralOut])
def co_sell_referrals(read_models: ReadModelsDep, principal: PrincipalDep) -> list[ReferralOut]:
    """Referrals upgraded to co-sell (sellers, R42)."""
    return [presenters.referral(row) for row in read_models.referrals.co_sell(principal)]
