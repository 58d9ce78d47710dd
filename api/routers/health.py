"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.deps import MetricsDep, ServicesDep, ViewsDep
from api.schemas import Health, problem_response
from ledger.interface.refusals import problem

router = APIRouter(tags=["operations"])
READY_LAG = 1000
"""The views may be at most this many events behind the log for the service to be ready."""


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is alive (answered on the event loop: no thread, no store)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: problem_response("Not ready")})
def readyz(views: ViewsDep, services: ServicesDep) -> Response:
    """The store is reachable and the views are caught up within a bound. A read replica
    that cannot be reached is said in the checks, not a 503: its reads go to the primary."""
    try:
        lag = views.lag()
    except Exception as error:  # the store is down: not ready, and say why
        return problem(503, "not-ready", "Not ready", f"the store is unreachable: {error}")
    if lag > READY_LAG:
        return problem(503, "not-ready", "Not ready", f"the views are {lag} events behind")
    checks: dict[str, str | int | None] = {"store": "ok", "projection_lag_events": lag}
    if services.replica is not None:  # the read replica (docs/replicas.md)
        replica_lag = services.replica.lag(views.position())
        checks["replica"] = "ok" if replica_lag is not None else "unreachable: reading the primary"
        checks["replica_lag_events"] = replica_lag
    body = Health(status="ready", checks=checks)
    return Response(body.model_dump_json(), media_type="application/json")


@router.get("/metrics", response_class=Response)
def metrics(metrics: MetricsDep) -> Response:
    """Prometheus metrics: requests, command latency, projection lag, events appended."""
    return Response(metrics.exposition(), media_type="text/plain; version=0.0.4")
