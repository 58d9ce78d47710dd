"""The HTTP service: create_app(settings) wires the Ledger, the workers and the routers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import docs, problems
from api.access_log import AccessLog
from api.body_limit import LimitBodySize
from api.headers import ProtectiveHeaders
from api.metrics import Metrics
from api.routers import audit, claims, consent, engagements, health, referrals
from api.safe_input import RefuseControlCharacters
from api.serving import uvicorn_options
from ledger import logs
from ledger.bootstrap import bootstrap
from ledger.catalog import Catalog
from ledger.clock import Clock, utc_now
from ledger.settings import Settings
from web import app as web

DESCRIPTION = """An event-sourced ledger for partner incentive claims.

Authenticate with `Authorization: Bearer <token>` (`ledger token --help`). Errors are
`application/problem+json` with a stable `type`, the rule id and the field. POSTs accept
`Idempotency-Key`; claim reads return an `ETag` that claim commands take as `If-Match`.
"""


def create_app(
    settings: Settings,
    *,
    catalog: Catalog | None = None,
    clock: Clock = utc_now,
    run_workers: bool = True,
) -> FastAPI:
    """The app on the configured store; workers follow the log inside it unless told not to."""
    services = bootstrap(settings, catalog=catalog, clock=clock)
    metrics = Metrics(services.ledger, services.workers.views)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if run_workers:
            services.workers.start()
        try:
            yield
        finally:
            services.close()

    app = FastAPI(
        title="Claim Ledger",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from api.docs, with assets served here
        redoc_url=None,
    )
    app.state.services = services
    app.state.metrics = metrics
    problems.install(app)
    docs.install(app)
    install_middleware(app, settings, metrics)
    web.install(app)  # the page, on the same port (after the API's own error handlers)
    for router in (
        engagements.router,
        claims.router,
        consent.router,
        referrals.router,
        audit.router,
        health.router,
    ):
        app.include_router(router)
    return app


def install_middleware(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    """Innermost first: the body limit, the control characters, the headers, the access log
    (outermost: it times and counts every answer, refusals included)."""
    app.add_middleware(LimitBodySize, limit=settings.max_body_bytes)
    app.add_middleware(RefuseControlCharacters)
    app.add_middleware(ProtectiveHeaders)
    app.add_middleware(AccessLog, requests=metrics.requests)


def app_from_environment() -> FastAPI:
    """The app of one of ``ledger serve --processes N``'s API processes: settings from the
    environment, no workers (one ``ledger workers`` process runs them beside)."""
    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)
    uvicorn_options(settings)  # this process's header deadline
    return create_app(settings, run_workers=False)
