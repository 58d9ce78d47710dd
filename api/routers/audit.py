"""The audit (auditors): the running log digest, and erasing a contact's personal data."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import LedgerDep, NowDep, PrincipalDep, ServicesDep
from api.schemas import EraseContact, ErasureOut, LogDigestOut, errors, unavailable
from ledger.audit import tamper as audit
from ledger.interface.refusals import problem
from ledger.runtime.erasure import Erasure, erasures, forget

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get(
    "/digest",
    response_model=LogDigestOut,
    responses={**errors(401, 403), 503: unavailable("The store keeps no hashes")},
)
def log_digest(ledger: LedgerDep, principal: PrincipalDep) -> LogDigestOut | Response:
    """The running log digest up to the log's head, and the notification id it is at
    (auditors). Keep it: `ledger verify --digest D --at N` proves later that the log up to N
    was not changed since."""
    try:
        found = audit.current_digest(ledger, principal)
    except audit.UnverifiableStoreError as error:
        return problem(503, "store-without-hashes", "Store without hashes", str(error))
    return LogDigestOut(at=found.at, digest=found.digest.hex())


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
    return _erasure_out(erasure)


@router.get("/erasures", response_model=list[ErasureOut], responses=errors(401, 403))
def list_erasures(ledger: LedgerDep, principal: PrincipalDep) -> list[ErasureOut]:
    """Every erasure made, the latest first (auditors): when, by whom, the contact's key id,
    the claims that held it and the e-mail files removed; never a name or an address."""
    return [_erasure_out(e) for e in erasures(ledger, principal)]


def _erasure_out(erasure: Erasure) -> ErasureOut:
    return ErasureOut(
        key_id=erasure.key_id,
        erased_at=erasure.erased_at.isoformat(),
        erased_by=erasure.erased_by,
        claims=list(erasure.claims),
        mail_files_removed=erasure.mail_files_removed,
    )
