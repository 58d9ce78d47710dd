"""The customer's consent, through the single-use signed link (R23, R24): no account."""

from __future__ import annotations

from fastapi import APIRouter, Path, Response

from api.deps import (
    CommandRunnerDep,
    ConsentTokensDep,
    IdempotencyKey,
    LedgerDep,
    NowDep,
    json_response,
)
from api.schemas import ConsentAnswer, ConsentResult, ConsentView, errors
from ledger.aggregates.claim import ClaimState
from ledger.aggregates.values import usd_text
from ledger.service.ledger_base import Done, RequestKey

router = APIRouter(prefix="/v1/consent", tags=["consent"])
Token = Path(max_length=2000, description="The token of the link in the consent e-mail")


@router.get("/{token}", response_model=ConsentView, responses=errors(404, 409, 422))
def see_consent_request(
    ledger: LedgerDep, tokens: ConsentTokensDep, now: NowDep, token: str = Token
) -> ConsentView:
    """What the customer is asked to consent to."""
    request = ledger.consent_request(*tokens.read(token, now), now)
    return ConsentView(
        claim_id=request.claim_id,
        customer_name=request.customer_name,
        engagement_name=request.engagement_name,
        partner_name=request.partner_name,
        deal_size_usd=None if request.deal_size_usd is None else usd_text(request.deal_size_usd),
        expires_at=request.expires_at.isoformat(),
        state=request.state.value,
        label=request.state.label,
        answerable=request.answerable,
    )


@router.post("/{token}", response_model=ConsentResult, responses=errors(404, 409, 422))
def answer_consent(
    body: ConsentAnswer,
    ledger: LedgerDep,
    tokens: ConsentTokensDep,
    commands: CommandRunnerDep,
    now: NowDep,
    key: IdempotencyKey = None,
    token: str = Token,
) -> Response:
    """Accept or decline; a second answer, an old link or a late one changes nothing (R24)."""

    claim_id, link_id = tokens.read(token, now)

    def act(request: RequestKey) -> Done[ClaimState]:
        accept = body.decision == "accept"
        return ledger.run(request, ledger.answer_consent, claim_id, link_id, accept, now)

    def answer(done: Done[ClaimState]) -> Response:
        state = done.result
        return json_response(ConsentResult(claim_id=claim_id, state=state.value, label=state.label))

    owner = "consent:" + token[-40:]
    return commands.run("answer_consent", owner, key, body.model_dump_json(), act, answer)
