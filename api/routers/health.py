"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import MetricsDep, ViewsDep
from api.schemas import Health, errors, problem_response
from ledger.interface.refusals import problem
from ledger.store.outage import unreachable

router = APIRouter(tags=["operations"])
READY_LAG = 1000
"""The views may be at most this many events behind the log for the service to be ready."""


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is alive (answered on the event loop: no thread, no store)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: problem_response("Not ready")})
def readyz(views: ViewsDep) -> Response:
    """The store is reachable and the views are caught up within a bound."""
    try:
        lag = views.lag()
    except Exception as error:  # the store is down: not ready, and say why
        if unreachable(error):  # at once, or within LEDGER_DATABASE_TIMEOUT_SECONDS
            detail = "the database is unreachable: the requests are answered 503 until it is back"
            return problem(503, "not-ready", "Not ready", detail, headers={"Retry-After": "1"})
        return problem(503, "not-ready", "Not ready", f"the store is unreachable: {error}")
    if lag > READY_LAG:
        return problem(503, "not-ready", "Not ready", f"the views are {lag} events behind")
    body = Health(status="ready", checks={"store": "ok", "projection_lag_events": lag})
    return Response(body.model_dump_json(), media_type="application/json")


@router.get("/metrics", response_class=Response, responses=errors(503))
def metrics(metrics: MetricsDep) -> Response:
    """Prometheus metrics: requests, command latency, projection lag, events appended."""
    return Response(metrics.exposition(), media_type="text/plain; version=0.0.4")
