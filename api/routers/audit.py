"""The audit: the running log digest (auditors)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import LedgerDep, PrincipalDep
from api.problems import problem
from api.schemas import LogDigestOut, errors, problem_response
from ledger import audit

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get(
    "/digest",
    response_model=LogDigestOut,
    responses={**errors(401, 403), 503: problem_response("The store keeps no hashes")},
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
