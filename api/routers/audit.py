"""Audit: erasing a contact's personal data (auditors)."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import NowDep, PrincipalDep, ServicesDep
from api.schemas import EraseContact, ErasureOut, errors
from ledger.erasure import forget

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.post(
    "/erasures", status_code=201, response_model=ErasureOut, responses=errors(401, 403, 404, 422)
)
def erase_contact(
    body: EraseContact, services: ServicesDep, principal: PrincipalDep, now: NowDep
) -> ErasureOut:
    """Erase a contact's personal data (auditors): its name and e-mail address read
    `[erased]` in every answer from now on, its consent e-mail files are removed, and an
    `Erased` record says who erased it and when. Asked again, the contact is not found (404):
    its key, the only way to it, is gone."""
    erasure = forget(
        services.ledger,
        services.workers.views,
        services.settings.mail_directory(),
        principal,
        body.email,
        now,
    )
    return ErasureOut(
        key_id=erasure.key_id,
        erased_at=erasure.erased_at.isoformat(),
        erased_by=erasure.erased_by,
        claims=list(erasure.claims),
        mail_files_removed=erasure.mail_files_removed,
    )
