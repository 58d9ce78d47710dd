"""The whole site ``ledger serve`` runs: the API with the web page on the same port."""

from __future__ import annotations

import gc
from typing import TypeVar

from fastapi import FastAPI

from api.app import create_api
from api.serving import uvicorn_options
from ledger.domain.catalog import Catalog
from ledger.service import log_output as logs
from ledger.service.clock import Clock, utc_now
from ledger.service.settings import Settings
from web import app as web

T = TypeVar("T")


def frozen(made: T) -> T:
    """``made``, with every object this process has made so far (the catalog above all:
    hundreds of thousands of them for a directory of 100,000 customers) kept out of the
    garbage collector's full passes: one would walk them all, in the middle of whichever
    request set it off (160-210 ms at 100,000 customers). Called once a process has built
    what it serves with; they stay freed as usual when nothing refers to them."""
    gc.collect()
    gc.freeze()
    return made


def create_app(
    settings: Settings,
    *,
    catalog: Catalog | None = None,
    clock: Clock = utc_now,
    run_workers: bool = True,
) -> FastAPI:
    """The API on the configured store, with the page mounted after the API's own error
    handlers (which still answer every request that is not for the page)."""
    app = create_api(settings, catalog=catalog, clock=clock, run_workers=run_workers)
    web.install(app)
    return app


def app_from_environment() -> FastAPI:
    """The app of one of ``ledger serve --processes N``'s API processes: settings from the
    environment, no workers (one ``ledger workers`` process runs them beside). It dies with
    the ``ledger serve`` that started it (asked for by ``cli/__init__``, the first of ``cli``
    it imports): uvicorn's supervisor starts its processes from its main thread, which lives
    as long as that parent."""
    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)
    uvicorn_options(settings)  # this process's header deadline
    return frozen(create_app(settings, run_workers=False))
