"""The programme at a glance as JSON (SPEC 13): the figures of the dashboard, scoped alike."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import presenters
from api.deps import AsOf, LedgerDep, NowDep, PrincipalDep, ReadModelsDep
from api.schemas import SummaryOut, errors
from ledger.audit.as_of import parse_as_of
from ledger.projections.summary import summary_of

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/summary", response_model=SummaryOut, responses=errors(401, 403, 404, 422))
def summary(
    ledger: LedgerDep,
    read_models: ReadModelsDep,
    principal: PrincipalDep,
    now: NowDep,
    engagement_id: Annotated[
        str | None,
        Query(max_length=100, description="Only this engagement's claims (all without it)"),
    ] = None,
    as_of: AsOf = None,
) -> SummaryOut:
    """Claims by state, the funnel, payouts approved and pending (USD), the claims that need
    the partner's attention (a deadline within 7 days, or information requested; nearest
    first) and time in review: a partner's own claims, every claim for reviewers and auditors.
    With `as_of`: the same figures replayed from the events up to that time."""
    at = None if as_of is None else parse_as_of(as_of, now)
    found = summary_of(
        read_models.claims.store, ledger, read_models.replays, principal, engagement_id, now, at
    )
    return presenters.summary(found, at)
