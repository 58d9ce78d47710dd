"""The programme at a glance (SPEC 13): the partner's dashboard and the programme's figures,
charts drawn on the server with their numbers in a table beside each."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from ledger.domain import access
from ledger.interface.charts import stylesheet
from ledger.projections.summary import require_programme_access, require_summary_access
from web.labels import DROP_OUT_LABELS, FUNNEL_LABELS
from web.pages import PageDep

router = APIRouter(include_in_schema=False)


@router.get("/charts.css")
def charts_css() -> Response:
    """The charts' own styles (the page's policy allows no style inside them)."""
    return Response(stylesheet(), media_type="text/css")


@router.get("/dashboard")
def dashboard(
    page: PageDep, engagement: Annotated[str | None, Query(max_length=100)] = None
) -> Response:
    """The partner's claims by stage, payouts approved and pending, and the claims that need
    attention, for one engagement or all."""
    principal = page.principal
    principal.require_partner_role()
    catalog = page.services.ledger.catalog
    chosen = engagement or None
    if chosen is not None:
        access.engagement(catalog, chosen)  # the 404 page for an engagement there is not
    require_summary_access(principal)
    models = page.read_models
    summary, _ = models.live.figures(models.claims.store, principal, chosen, page.now)
    return page.render(
        "dashboard.html",
        summary=summary,
        engagements=catalog.engagements,
        chosen=chosen,
        engagement_name=catalog.engagement_name,
        funnel_labels=FUNNEL_LABELS,
        drop_out_labels=DROP_OUT_LABELS,
    )


@router.get("/programme")
def programme(page: PageDep) -> Response:
    """Per engagement: claims by state, approval rate, time in review, payouts by month."""
    principal = page.principal
    require_programme_access(principal)
    models = page.read_models
    total, engagements = models.live.figures(models.claims.store, principal, None, page.now)
    return page.render(
        "programme.html",
        total=total,
        engagements=engagements,
        engagement_name=page.services.ledger.catalog.engagement_name,
    )
