"""Liveness, readiness and metrics."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from api.deps import MetricsDep, ServicesDep, ViewsDep
from api.schemas import Health, errors, problem_response
from ledger.interface.refusals import problem
from ledger.projections.base import ts
from ledger.projections.dead_letters import DeadLetter
from ledger.runtime.heartbeat import WorkersWatch
from ledger.store.outage import unreachable

log = logging.getLogger("ledger.readiness")
router = APIRouter(tags=["operations"])
STUCK_ADVICE = ". Fix the cause, then run `ledger dead-letters retry` (see `ledger dead-letters`)."
READY_LAG = 1000
"""The views may be at most this many events behind the log for the service to be ready."""


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is alive (answered on the event loop: no thread, no store)."""
    return Health(status="ok")


def _workers_watch(request: Request) -> WorkersWatch:
    found: WorkersWatch = request.app.state.workers_watch
    return found


@router.get("/readyz", response_model=Health, responses={503: problem_response("Not ready")})
def readyz(
    request: Request,
    views: ViewsDep,
    services: ServicesDep,
    watch: Annotated[WorkersWatch, Depends(_workers_watch)],
) -> Response:
    """The store is reachable, the workers run, no view or policy is stopped at an event,
    and the views are caught up within a bound. A read replica that cannot be reached is
    said in the checks, not a 503: its reads go to the primary."""
    try:
        lag = views.lag()
        stuck = views.stuck()
        stopped = watch.problem()
    except Exception as error:  # the store is down: not ready, and say why
        if unreachable(error):  # at once, or within LEDGER_DATABASE_TIMEOUT_SECONDS
            detail = "the database is unreachable: the requests are answered 503 until it is back"
            return problem(503, "not-ready", "Not ready", detail, headers={"Retry-After": "1"})
        return _unreadable(error, request.app.state)
    if stopped is not None:
        return problem(503, "not-ready", "Not ready", stopped)
    if stuck:
        detail = "; ".join(d.says() for d in stuck) + STUCK_ADVICE
        letters = [_stopped(d) for d in stuck]
        return problem(503, "not-ready", "Not ready", detail, extra={"stopped": letters})
    if lag > READY_LAG:
        return problem(503, "not-ready", "Not ready", f"the views are {lag} events behind")
    checks: dict[str, str | int | None] = {"store": "ok", "projection_lag_events": lag}
    if watch.watched:
        checks["workers"] = "running"
    if services.replica is not None:  # the read replica (docs/replicas.md)
        replica_lag = services.replica.lag(views.position())
        checks["replica"] = "ok" if replica_lag is not None else "unreachable: reading the primary"
        checks["replica_lag_events"] = replica_lag
    body = Health(status="ready", checks=checks)
    return Response(body.model_dump_json(), media_type="application/json")


def _unreadable(error: Exception, state: Any) -> Response:
    """The store failed for a reason of its own (a table missing, a permission): a 503 that
    says so in words. The error itself goes to the log, for the operator, not to whoever asks
    /readyz (it can name tables, hosts and statements); once per error and app (``state``),
    not at every probe of a load balancer."""
    said = f"{type(error).__name__}: {error}"
    if said != getattr(state, "readyz_unreadable", None):
        log.warning("/readyz: the store could not be read: %s", said)
        state.readyz_unreadable = said
    detail = "the store could not be read: the service's log says why"
    return problem(503, "not-ready", "Not ready", detail)


def _stopped(letter: DeadLetter) -> dict[str, Any]:
    """A stopped view or policy as /readyz lists it."""
    return {
        "kind": letter.kind,
        "name": letter.name,
        "event_position": letter.position,
        "event_type": letter.event_type,
        "event_id": letter.event_id,
        "claim_id": letter.claim_id,
        "error": letter.error,
        "since": ts(letter.first_failed_at),
        "attempts": letter.attempts,
    }


@router.get("/metrics", response_class=Response, responses=errors(503))
def metrics(metrics: MetricsDep) -> Response:
    """Prometheus metrics: requests, command latency, projection lag, events appended."""
    return Response(metrics.exposition(), media_type="text/plain; version=0.0.4")
