"""The HTTP API: create_api(settings) wires the Ledger, the workers and the API's routers
(the page is mounted beside it by the CLI's ``serve``: ``cli.site``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from api import docs, problems
from api.access_log import AccessLog
from api.body_limit import LimitBodySize, upload_limit
from api.headers import ProtectiveHeaders
from api.routers import (
    audit,
    claims,
    consent,
    documents,
    engagements,
    events,
    health,
    referrals,
    reports,
)
from api.routers import checkpoints as checkpoint_routes
from api.routers import webhooks as webhook_routes
from api.safe_input import RefuseControlCharacters
from api.schemas import errors
from ledger.domain.catalog import Catalog
from ledger.interface.metrics import Metrics
from ledger.runtime.bootstrap import Services, bootstrap
from ledger.runtime.heartbeat import watch_for
from ledger.service.clock import Clock, utc_now
from ledger.service.settings import Settings

DESCRIPTION = """An event-sourced ledger for partner incentive claims.

Authenticate with `Authorization: Bearer <token>` (`ledger token --help`). Errors are
`application/problem+json` with a stable `type`, the rule id and the field. POSTs accept
`Idempotency-Key`; claim reads return an `ETag` that claim commands take as `If-Match`.
"""


def create_api(
    settings: Settings,
    *,
    catalog: Catalog | None = None,
    clock: Clock = utc_now,
    run_workers: bool = True,
) -> FastAPI:
    """The API on the configured store; workers follow the log inside it unless told not to."""
    services = bootstrap(settings, catalog=catalog, clock=clock)
    watch = watch_for(services, run_workers)  # the workers' liveness: /readyz and /metrics
    metrics = Metrics(services.ledger, services.workers.views, watch, services.replica)
    app = FastAPI(
        title="Claim Ledger",
        version="1",
        description=DESCRIPTION,
        lifespan=_lifespan(services, run_workers),
        docs_url=None,  # /docs and /redoc come from api.docs, with assets served here
        redoc_url=None,
    )
    app.state.services = services
    app.state.metrics = metrics
    app.state.workers_watch = watch
    problems.install(app)
    docs.install(app)
    install_middleware(app, settings, metrics)
    include_routers(app)
    return app


ROUTERS = (
    engagements.router,
    claims.router,
    consent.router,
    referrals.router,
    audit.router,
    documents.router,
    checkpoint_routes.router,
    reports.router,
    events.router,
    webhook_routes.router,
    health.router,
)


def include_routers(app: FastAPI) -> None:
    """Every router; those that read the database document its 503 (the engagements read the
    catalog alone, and the health routes say their own 503s)."""
    for router in ROUTERS:
        unreachable = router not in (engagements.router, health.router)
        app.include_router(router, responses=errors(503) if unreachable else None)


def _lifespan(
    services: Services, run_workers: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_workers:
            services.workers.start()
        try:
            yield
        finally:
            services.close()

    return lifespan


def install_middleware(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    """Innermost first: the body limit, the control characters, the headers, the access log
    (outermost: it times and counts every answer, refusals included)."""
    app.add_middleware(LimitBodySize, limit=settings.max_body_bytes, uploads=upload_limit(settings))
    app.add_middleware(RefuseControlCharacters)
    app.add_middleware(ProtectiveHeaders)
    app.add_middleware(AccessLog, requests=metrics.requests)
