"""Claims: creation, the partner's list, details, history, and every claim command."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import (
    IdempotencyKey,
    IfMatch,
    PrincipalDep,
    Services,
    ServicesDep,
    etag,
    expected_version,
    json_response,
)
from api.schemas import (
    CLAIM_ERRORS,
    ERRORS,
    ClaimDetails,
    ClaimPage,
    CreatedClaims,
    EligibilityResult,
    HistoryEntry,
    QueueItem,
    QueuePage,
)
from ledger.commands import (
    Cancel,
    CreateClaims,
    Dispute,
    EligibilityCheck,
    RequestConsent,
    Review,
    Submit,
)
from ledger.principal import Principal

router = APIRouter(prefix="/v1", tags=["claims"], responses=ERRORS)
CLAIM_RESPONSES = CLAIM_ERRORS


def details(svc: Services, principal: Principal, claim_id: UUID) -> ClaimDetails:
    return ClaimDetails.model_validate(
        svc.workers.read_models.claim_details(principal, claim_id, svc.now())
    )


def _claim_command(
    svc: Services,
    principal: Principal,
    claim_id: UUID,
    key: str | None,
    if_match: str | None,
    command: Callable[..., object],
    body: BaseModel | None = None,
) -> Response:
    """Run a Ledger claim command, ``command(principal, claim_id, [body,] now, version)``,
    once per Idempotency-Key, and answer the claim as the views now show it."""
    name = getattr(command, "__name__", "claim_command")
    inputs = () if body is None else (body,)

    def run() -> Response:
        with svc.metrics.command(name):
            command(principal, claim_id, *inputs, svc.now(), expected_version(if_match))
        svc.written()
        claim = details(svc, principal, claim_id)
        return json_response(claim, ETag=etag(claim.version))

    fingerprint = f"{name} {claim_id} {'' if body is None else body.model_dump_json()}"
    return svc.idempotency.run(principal.user_id, key, fingerprint, run)


@router.post("/eligibility-checks", response_model=list[EligibilityResult])
def check_eligibility(
    body: EligibilityCheck, svc: ServicesDep, principal: PrincipalDep, key: IdempotencyKey = None
) -> Response:
    """Preview for the add flow: per engagement, eligible or not with reasons, and payout."""

    def run() -> Response:
        previews = svc.ledger.preview_eligibility(principal, body)
        results = [
            EligibilityResult(
                engagement_id=p.engagement_id,
                eligible=p.eligibility.eligible,
                reasons=list(p.eligibility.reasons),
                rule=p.eligibility.rule,
                hint=p.eligibility.hint,
                proposed_payout_usd=p.proposed_payout_usd,
            ).model_dump(mode="json")
            for p in previews
        ]
        return JSONResponse(results)

    return svc.idempotency.run(principal.user_id, key, "check " + body.model_dump_json(), run)


@router.post("/claims", status_code=201, response_model=CreatedClaims, responses=CLAIM_RESPONSES)
def create_claims(
    body: CreateClaims, svc: ServicesDep, principal: PrincipalDep, key: IdempotencyKey = None
) -> Response:
    """Add a customer (origin "added") or claim a known one ("claimed"), per engagement."""

    def run() -> Response:
        with svc.metrics.command("create_claims"):
            ids = svc.ledger.create_claims(principal, body, svc.now())
        svc.written()
        made = CreatedClaims(claims=[details(svc, principal, i) for i in ids])
        return json_response(made, 201, Location=f"/v1/claims/{ids[0]}")

    return svc.idempotency.run(principal.user_id, key, "create " + body.model_dump_json(), run)


@router.get(
    "/claims",
    response_model=ClaimPage,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV"}},
)
def list_claims(
    svc: ServicesDep,
    principal: PrincipalDep,
    engagement_id: Annotated[str | None, Query(max_length=100)] = None,
    state: Annotated[str | None, Query(max_length=40)] = None,
    customer: Annotated[str | None, Query(max_length=200)] = None,
    sort: Annotated[str, Query(max_length=40)] = "-created_at",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """Your claims: filter by engagement, state or customer; sort; CSV with Accept: text/csv."""
    models = svc.workers.read_models
    if accept and "text/csv" in accept:
        text = models.claim_list_csv(
            principal, engagement_id=engagement_id, state=state, customer=customer, sort=sort
        )
        return Response(text, media_type="text/csv; charset=utf-8")
    page = models.claim_list(
        principal, svc.now(), engagement_id=engagement_id, state=state, customer=customer,
        sort=sort, cursor=cursor, limit=limit,
    )  # fmt: skip
    return json_response(ClaimPage.model_validate(page.__dict__))


@router.get("/claims/{claim_id}", response_model=ClaimDetails, responses=CLAIM_RESPONSES)
def get_claim(claim_id: UUID, svc: ServicesDep, principal: PrincipalDep) -> Response:
    """Claim details: state, label, actions, deadlines, contacts, payout, referral link."""
    claim = details(svc, principal, claim_id)
    return json_response(claim, ETag=etag(claim.version))


@router.get(
    "/claims/{claim_id}/history", response_model=list[HistoryEntry], responses=CLAIM_RESPONSES
)
def claim_history(claim_id: UUID, svc: ServicesDep, principal: PrincipalDep) -> list[HistoryEntry]:
    """Every event of the claim in order, with time and actor: the audit trail."""
    entries = svc.workers.read_models.history(principal, claim_id)
    return [HistoryEntry.model_validate(entry) for entry in entries]


@router.post(
    "/claims/{claim_id}/consent-request", response_model=ClaimDetails, responses=CLAIM_RESPONSES
)
def request_consent(
    claim_id: UUID,
    body: RequestConsent,
    svc: ServicesDep,
    principal: PrincipalDep,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """Send the consent e-mail: deal size, contacts, disclaimer (R21-R23)."""
    return _claim_command(svc, principal, claim_id, key, if_match, svc.ledger.request_consent, body)


@router.post(
    "/claims/{claim_id}/consent-reminder", response_model=ClaimDetails, responses=CLAIM_RESPONSES
)
def send_consent_reminder(
    claim_id: UUID,
    svc: ServicesDep,
    principal: PrincipalDep,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """Resend the consent e-mail with a new link; the old link stops working (R24)."""
    return _claim_command(svc, principal, claim_id, key, if_match, svc.ledger.send_consent_reminder)


@router.post(
    "/claims/{claim_id}/submission", response_model=ClaimDetails, responses=CLAIM_RESPONSES
)
def submit(
    claim_id: UUID,
    body: Submit,
    svc: ServicesDep,
    principal: PrincipalDep,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """Submit or resubmit with every required proof item (R30)."""
    return _claim_command(svc, principal, claim_id, key, if_match, svc.ledger.submit, body)


@router.post("/claims/{claim_id}/dispute", response_model=ClaimDetails, responses=CLAIM_RESPONSES)
def dispute(
    claim_id: UUID,
    body: Dispute,
    svc: ServicesDep,
    principal: PrincipalDep,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """Dispute a rejection, once, within the dispute days (R34, R35)."""
    return _claim_command(svc, principal, claim_id, key, if_match, svc.ledger.dispute, body)


@router.post(
    "/claims/{claim_id}/cancellation", response_model=ClaimDetails, responses=CLAIM_RESPONSES
)
def cancel(
    claim_id: UUID,
    body: Cancel,
    svc: ServicesDep,
    principal: PrincipalDep,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """Cancel, only before the first submission (R31)."""
    return _claim_command(svc, principal, claim_id, key, if_match, svc.ledger.cancel, body)


@router.post("/claims/{claim_id}/review", response_model=ClaimDetails, responses=CLAIM_RESPONSES)
def review(
    claim_id: UUID,
    body: Review,
    svc: ServicesDep,
    principal: PrincipalDep,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """A reviewer's action: start, request_information, approve, reject, reject_final (R32)."""
    return _claim_command(svc, principal, claim_id, key, if_match, svc.ledger.review, body)


@router.get("/review-queue", response_model=QueuePage)
def review_queue(
    svc: ServicesDep,
    principal: PrincipalDep,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> QueuePage:
    """Claims waiting for a reviewer: submitted first, then under review."""
    page = svc.workers.read_models.review_queue(principal, svc.now(), cursor, limit)
    items = [QueueItem.model_validate(item) for item in page.items]
    return QueuePage(items=items, next_cursor=page.next_cursor)
