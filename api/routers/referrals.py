"""Referrals (for referral admins) and co-sell referrals (for sellers)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from api.deps import PrincipalDep, ServicesDep
from api.schemas import ERRORS, ReferralOut

router = APIRouter(prefix="/v1", tags=["referrals"], responses=ERRORS)


@router.get("/referrals/{referral_id}", response_model=ReferralOut)
def get_referral(referral_id: UUID, svc: ServicesDep, principal: PrincipalDep) -> ReferralOut:
    """A partner-led referral made from a claim (referral admins of its partner, R41)."""
    return ReferralOut.model_validate(svc.workers.read_models.referral(principal, referral_id))


@router.get("/co-sell/referrals", response_model=list[ReferralOut])
def co_sell_referrals(svc: ServicesDep, principal: PrincipalDep) -> list[ReferralOut]:
    """Referrals upgraded to co-sell (sellers, R42)."""
    rows = svc.workers.read_models.co_sell_referrals(principal)
    return [ReferralOut.model_validate(row) for row in rows]
