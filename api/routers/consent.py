"""The customer's consent, through the single-use signed link (R23, R24): no account."""

from __future__ import annotations

from fastapi import APIRouter, Path, Response

from api.deps import IdempotencyKey, ServicesDep, json_response
from api.schemas import CLAIM_ERRORS, ConsentAnswer, ConsentResult, ConsentView
from ledger.aggregates.claim import Claim, ClaimState, DeadlineKind
from ledger.errors import NotFoundError

router = APIRouter(prefix="/v1/consent", tags=["consent"])
Token = Path(max_length=2000, description="The token of the link in the consent e-mail")


@router.get("/{token}", response_model=ConsentView, responses=CLAIM_ERRORS)
def see_consent_request(svc: ServicesDep, token: str = Token) -> ConsentView:
    """What the customer is asked to consent to."""
    claim_id, link_id = svc.workers.tokens.read(token, svc.now())
    claim = svc.ledger.find(claim_id, Claim)
    if claim is None:  # signed by us for a claim of another store
        raise NotFoundError("consent-link-invalid", "this consent link is not valid", rule="R23")
    engagement = svc.ledger.catalog.engagement(claim.engagement_id)
    partner = svc.ledger.catalog.partner(claim.partner_id)
    return ConsentView(
        claim_id=claim.id,
        customer_name=claim.terms.friendly_name,
        engagement_name=engagement.name if engagement else claim.engagement_id,
        partner_name=partner.name if partner else claim.partner_id,
        deal_size_usd=None if claim.deal_size_usd is None else str(claim.deal_size_usd),
        expires_at=claim.deadlines[DeadlineKind.CONSENT].isoformat(),
        state=claim.state.value,
        label=claim.state.label,
        answerable=claim.state is ClaimState.AWAITING_CONSENT and claim.consent_link_id == link_id,
    )


@router.post("/{token}", response_model=ConsentResult, responses=CLAIM_ERRORS)
def answer_consent(
    body: ConsentAnswer, svc: ServicesDep, key: IdempotencyKey = None, token: str = Token
) -> Response:
    """Accept or decline; a second answer, an old link or a late one changes nothing (R24)."""

    def run() -> Response:
        claim_id, link_id = svc.workers.tokens.read(token, svc.now())
        with svc.metrics.command("answer_consent"):
            svc.ledger.answer_consent(claim_id, link_id, body.decision == "accept", svc.now())
        svc.written()
        claim = svc.ledger.find(claim_id, Claim)
        assert claim is not None  # it was just answered
        return json_response(
            ConsentResult(claim_id=claim_id, state=claim.state.value, label=claim.state.label)
        )

    owner = "consent:" + token[-40:]
    return svc.idempotency.run(owner, key, body.model_dump_json(), run)
