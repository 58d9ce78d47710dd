"""Claims: creation, the partner's list, details, history, and every claim command."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Header, Query, Response
from pydantic import BaseModel

from api import presenters
from api.deps import (
    AsOf,
    CommandRunnerDep,
    Cursor,
    IdempotencyKey,
    IfMatch,
    LedgerDep,
    Limit,
    NowDep,
    PrincipalDep,
    ReadModelsDep,
    ServicesDep,
    etag,
    expected_version,
    json_response,
)
from api.schemas import (
    ClaimDetails,
    ClaimPage,
    ClaimSort,
    CreatedClaims,
    EligibilityResult,
    HistoryEntry,
    QueuePage,
    errors,
)
from ledger.aggregates.claim import ClaimState
from ledger.audit.as_of import parse_as_of
from ledger.domain.commands import (
    Cancel,
    CreateClaims,
    Dispute,
    EligibilityCheck,
    RequestConsent,
    Review,
    Submit,
)
from ledger.interface import exports
from ledger.projections.claim_queries import ClaimFilter, ClaimRow
from ledger.service.ledger_base import BoundCommand, Done, RequestKey

router = APIRouter(prefix="/v1", tags=["claims"])
CustomerFilter = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Only the claims whose customer's name (the tenant's, customer_name), "
        "claim name (friendly_name) or customer id contains this, in any case",
    ),
]
PartnerFilter = Annotated[
    str | None,
    Query(max_length=100, description="Only this partner's claims (auditors, who see all)"),
]
READ = errors(401, 403, 404, 422)
COMMAND = errors(401, 403, 404, 409, 412, 422)


class ClaimCommands:
    """A partner's or reviewer's command on one claim, answered with the claim as it is now."""

    def __init__(
        self,
        commands: CommandRunnerDep,
        services: ServicesDep,
        ledger: LedgerDep,
        principal: PrincipalDep,
        now: NowDep,
    ) -> None:
        self.commands = commands
        self.queries = services.read_models.claims  # its queries that need no views
        self.ledger = ledger
        self.principal = principal
        self.now = now

    def folded(self, claim_id: UUID, version: int | None) -> ClaimRow:
        """The claim as a command left it, from the write model: up to the ``version`` its
        save reached (the first run's, on a replay), whatever happened since; None: now."""
        events = self.ledger.claim_events(claim_id)
        return self.queries.folded(self.principal, events[:version])

    def run(
        self,
        claim_id: UUID,
        key: str | None,
        if_match: str | None,
        command: BoundCommand[..., Any],
        body: BaseModel | None = None,
    ) -> Response:
        """Run ``command(principal, claim_id, [body,] now, version)`` once per key."""
        inputs = () if body is None else (body,)
        version = expected_version(if_match)

        def act(request: RequestKey) -> Done[object]:
            args = (self.principal, claim_id, *inputs, self.now, version)
            return self.ledger.run(request, command, *args)

        def answer(done: Done[object]) -> Response:
            row = self.folded(claim_id, saved_version(claim_id, done))
            details = presenters.claim_details(row, self.now, self.principal)
            return json_response(details, ETag=etag(row.version))

        name = command.__name__
        return self.commands.run(
            name,
            self.principal.user_id,
            key,
            f"{name} {claim_id} {'' if body is None else body.model_dump_json()}",
            act,
            answer,
        )


ClaimCommandsDep = Annotated[ClaimCommands, Depends()]


def saved_version(claim_id: UUID, done: Done[object]) -> int | None:
    """The claim's version in the command's save; for a replay of a record made before the
    records kept it, the version the command returned (None: the claim as it is now)."""
    if claim_id in done.versions:
        return done.versions[claim_id]
    result = done.result
    return result if isinstance(result, int) and not isinstance(result, bool) else None


@router.post(
    "/eligibility-checks",
    response_model=list[EligibilityResult],
    responses=errors(401, 403, 409, 422),
)
def check_eligibility(
    body: EligibilityCheck, ledger: LedgerDep, principal: PrincipalDep
) -> list[EligibilityResult]:
    """Preview for the add flow: per engagement, eligible or not with reasons, and payout.
    It changes nothing, so it takes no Idempotency-Key: asking again answers alike."""
    return [
        EligibilityResult(
            engagement_id=p.engagement_id,
            eligible=p.eligibility.eligible,
            reasons=list(p.eligibility.reasons),
            rule=p.eligibility.rule,
            hint=None if p.eligibility.hint is None else p.eligibility.hint.say(),
            fixed_payout_usd=p.fixed_payout_usd,
            proposed_payout_usd=p.proposed_payout_usd,
        )
        for p in ledger.preview_eligibility(principal, body)
    ]


@router.post(
    "/claims",
    status_code=201,
    response_model=CreatedClaims,
    responses=errors(401, 403, 404, 409, 422),
)
def create_claims(
    body: CreateClaims, cmds: ClaimCommandsDep, key: IdempotencyKey = None
) -> Response:
    """Add a customer (origin "added") or claim a known one ("claimed"), per engagement."""
    principal, now = cmds.principal, cmds.now

    def act(request: RequestKey) -> Done[list[UUID]]:
        return cmds.ledger.run(request, cmds.ledger.create_claims, principal, body, now)

    def answer(done: Done[list[UUID]]) -> Response:
        ids = done.result
        rows = [cmds.folded(i, 1) for i in ids]  # each as its creation left it
        made = CreatedClaims(claims=[presenters.claim_details(r, now, principal) for r in rows])
        headers = {"Location": f"/v1/claims/{ids[0]}"}
        if len(rows) == 1:  # the one claim made: its ETag, as a read of it would give
            headers["ETag"] = etag(rows[0].version)
        return json_response(made, 201, **headers)

    return cmds.commands.run(
        "create_claims",
        principal.user_id,
        key,
        "create " + body.model_dump_json(),
        act,
        answer,
    )


@router.get(
    "/claims",
    response_model=ClaimPage,
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON, or CSV"},
        **errors(401, 403, 422),
    },
)
def list_claims(
    read_models: ReadModelsDep,
    principal: PrincipalDep,
    now: NowDep,
    engagement_id: Annotated[
        str | None, Query(max_length=100, description="Only the claims of this engagement")
    ] = None,
    state: Annotated[ClaimState | None, Query(description="Only the claims in this state")] = None,
    customer: CustomerFilter = None,
    sort: Annotated[
        ClaimSort, Query(description="The sort key; a leading - sorts descending")
    ] = "-created_at",
    partner_id: PartnerFilter = None,
    cursor: Cursor = None,
    limit: Limit = 50,
    accept: Annotated[
        str | None, Header(description="text/csv for the whole list as CSV; JSON otherwise")
    ] = None,
) -> Response:
    """Your claims (an auditor's: every partner's, or `partner_id`'s): filter by engagement,
    state or customer; sort; CSV with Accept: text/csv."""
    where = ClaimFilter(
        engagement_id=engagement_id,
        state=None if state is None else state.value,
        customer=customer,
        sort=sort,
        partner_id=partner_id,
    )
    if accept and "text/csv" in accept:
        text = presenters.claims_csv(read_models.claims.every(principal, where))
        return Response(text, media_type="text/csv; charset=utf-8")
    page = read_models.claims.search(principal, where, cursor, limit)
    items = [presenters.claim_summary(row, now, principal) for row in page.items]
    return json_response(ClaimPage(items=items, next_cursor=page.next_cursor))


@router.get("/claims/{claim_id}", response_model=ClaimDetails, responses=READ)
def get_claim(
    claim_id: UUID,
    read_models: ReadModelsDep,
    principal: PrincipalDep,
    now: NowDep,
    ledger: LedgerDep,
    as_of: AsOf = None,
) -> Response:
    """Claim details: state, label, actions, deadlines, contacts, payout, referral link.
    With `as_of`: the claim as it stood then, folded from its events, without an ETag."""
    if as_of is not None:
        at = parse_as_of(as_of, now)
        past = read_models.claims.as_of(principal, ledger.claim_events(claim_id), at)
        return json_response(presenters.claim_details(past, now, principal, as_of=at))
    row = read_models.claims.details(principal, claim_id)
    return json_response(presenters.claim_details(row, now, principal), ETag=etag(row.version))


@router.get(
    "/claims/{claim_id}/history",
    response_model=list[HistoryEntry],
    responses={
        200: {"content": {exports.JSONL: {}}, "description": "JSON, or JSON Lines"},
        **READ,
    },
)
def claim_history(
    claim_id: UUID,
    read_models: ReadModelsDep,
    principal: PrincipalDep,
    accept: Annotated[
        str | None,
        Header(description="application/jsonl for one JSON object per event; JSON otherwise"),
    ] = None,
) -> list[HistoryEntry] | Response:
    """Every event of the claim in order, with time and actor: the audit trail; with
    `Accept: application/jsonl`, one object per line, as `ledger history --json` prints."""
    rows = read_models.claims.history(principal, claim_id)
    if accept and exports.JSONL in accept:
        return Response(exports.history_jsonl(rows), media_type=exports.JSONL)
    return [presenters.history_entry(r) for r in rows]


@router.post("/claims/{claim_id}/consent-request", response_model=ClaimDetails, responses=COMMAND)
def request_consent(
    claim_id: UUID,
    body: RequestConsent,
    cmds: ClaimCommandsDep,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """Send the consent e-mail: deal size, contacts, disclaimer (R21-R23)."""
    return cmds.run(claim_id, key, if_match, cmds.ledger.request_consent, body)


@router.post("/claims/{claim_id}/consent-reminder", response_model=ClaimDetails, responses=COMMAND)
def send_consent_reminder(
    claim_id: UUID, cmds: ClaimCommandsDep, key: IdempotencyKey = None, if_match: IfMatch = None
) -> Response:
    """Resend the consent e-mail with a new link; the old link stops working (R24)."""
    return cmds.run(claim_id, key, if_match, cmds.ledger.send_consent_reminder)


@router.post("/claims/{claim_id}/submission", response_model=ClaimDetails, responses=COMMAND)
def submit(
    claim_id: UUID,
    body: Submit,
    cmds: ClaimCommandsDep,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """Submit or resubmit with every required proof item (R30)."""
    return cmds.run(claim_id, key, if_match, cmds.ledger.submit, body)


@router.post("/claims/{claim_id}/dispute", response_model=ClaimDetails, responses=COMMAND)
def dispute(
    claim_id: UUID,
    cmds: ClaimCommandsDep,
    body: Annotated[
        Dispute | None, Body(description="Every field is optional: no body is {}")
    ] = None,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """Dispute a rejection, once, within the dispute days (R34, R35)."""
    return cmds.run(claim_id, key, if_match, cmds.ledger.dispute, body or Dispute())


@router.post("/claims/{claim_id}/cancellation", response_model=ClaimDetails, responses=COMMAND)
def cancel(
    claim_id: UUID,
    cmds: ClaimCommandsDep,
    body: Annotated[
        Cancel | None, Body(description="Every field is optional: no body is {}")
    ] = None,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """Cancel, only before the first submission (R31)."""
    return cmds.run(claim_id, key, if_match, cmds.ledger.cancel, body or Cancel())


@router.post("/claims/{claim_id}/review", response_model=ClaimDetails, responses=COMMAND)
def review(
    claim_id: UUID,
    body: Review,
    cmds: ClaimCommandsDep,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """A reviewer's action: start, request_information, approve, reject, reject_final (R32)."""
    return cmds.run(claim_id, key, if_match, cmds.ledger.review, body)


@router.get("/review-queue", response_model=QueuePage, responses=errors(401, 403, 422))
def review_queue(
    read_models: ReadModelsDep,
    principal: PrincipalDep,
    now: NowDep,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> QueuePage:
    """Claims waiting for a reviewer: submitted first, then under review."""
    page = read_models.claims.review_queue(principal, cursor, limit)
    items = [presenters.queue_item(row, now, principal) for row in page.items]
    return QueuePage(items=items, next_cursor=page.next_cursor)
