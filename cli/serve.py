"""`ledger serve` and `ledger workers`: the site (``cli.site``) on uvicorn, one process or
several, and the projections and policies alone."""

from __future__ import annotations

import logging
import os
import signal
from types import FrameType
from typing import Annotated

import typer
from rich.markup import escape

from cli.common import (
    _services,
    console,
    errors,
    settings_or_exit,
)
from cli.supervise import WorkersSupervisor, process_group_environment, restarts_from_environment
from ledger.domain.catalog import CatalogError
from ledger.runtime.heartbeat import heartbeat_for
from ledger.service import log_output as logs
from ledger.service.clock import utc_now
from ledger.service.settings import Settings, SettingsError

log = logging.getLogger("ledger.serve")


def workers(
    once: Annotated[bool, typer.Option(help="Catch up once and exit.")] = False,
) -> None:
    """Run the projections and policies alone (for deployments that split them from the API)."""
    from cli.site import frozen

    services = frozen(_services())
    logs.configure(services.settings.log_level, services.settings.log_format)
    runner = services.workers
    if once:
        work = runner.run_once() + runner.webhooks.run_once()
        console.print(f"caught up: {work} items of work; lag {runner.views.lag()} events")
        services.close()
        return
    heartbeat = heartbeat_for(services, restarts_from_environment())  # /readyz, /metrics
    if heartbeat is not None:
        heartbeat.start()
    console.print("following the event log; Ctrl-C to stop")
    try:
        runner.run()
    except KeyboardInterrupt:
        pass
    finally:
        if heartbeat is not None:
            heartbeat.stop()
        services.close()


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[
        bool, typer.Option(help="Run projections and policies inside the service.")
    ] = True,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="API processes (PostgreSQL only); the projections and policies then run "
            "in one `ledger workers` process beside them, started again when it ends.",
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API (docs at /docs) on the configured store."""
    import uvicorn

    from api.serving import uvicorn_options
    from cli.site import create_app, frozen

    settings = _serving_settings(host, port, processes)
    try:  # one process builds the app first: it checks the settings and creates the schema
        made = create_app(settings, clock=utc_now, run_workers=workers and processes == 1)
        application = frozen(made)
    except (CatalogError, SettingsError) as error:
        errors.print(f"[red]cannot start[/red]: {escape(str(error))}")
        raise typer.Exit(2) from None
    _say_where(settings, f"http://{host}:{port}")
    # Our logging only (log_config=None), and our access log instead of uvicorn's.
    if processes == 1:
        _log_the_stop()
        uvicorn.run(application, host=host, port=port, **uvicorn_options(settings))
        return
    application.state.services.close()
    _serve_processes(settings, host, port, processes, workers)
    log.info("stopped: the %d API processes and the workers process have ended", processes)


def _log_the_stop() -> None:
    """One log line when a signal stops the service. uvicorn takes SIGINT and SIGTERM while
    it serves (it answers the open requests and closes the workers and the store), then
    raises the signal again to the handler that was there before it: this one."""

    def stopped(number: int, frame: FrameType | None) -> None:
        log.info(
            "stopped on %s: open requests answered, workers and store closed",
            signal.Signals(number).name,
        )
        raise SystemExit(0)

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, stopped)


def _serving_settings(host: str, port: int, processes: int) -> Settings:
    """The settings to serve with, logging configured; several processes need PostgreSQL."""
    settings = settings_or_exit().serving(host, port)
    logs.configure(settings.log_level, settings.log_format)
    if settings.log_level != "DEBUG":  # its start-up lines: the ones printed below say it
        logging.getLogger("uvicorn").setLevel(logging.WARNING)
    if processes > 1 and settings.is_sqlite:
        console.print(
            "[red]cannot start[/red] --processes needs PostgreSQL: a SQLite file is served "
            "by one process"
        )
        raise typer.Exit(2)
    return settings


def _say_where(settings: Settings, url: str) -> None:
    console.print(f"Claim Ledger on {url} (API docs: {url}/docs; store: {settings.database_shown})")
    console.print(
        "Get a token: ledger token --user alice@contoso.example --partner P-CONTOSO "
        "--role incentives_admin"
    )
    if settings.smtp_host:
        console.print(f"E-mails go over SMTP to {settings.smtp_host}:{settings.smtp_port}")
    else:
        console.print(
            f"E-mails are written to {settings.mail_directory()} (LEDGER_SMTP_HOST unset); "
            "list them with: ledger outbox"
        )


def _serve_processes(
    settings: Settings, host: str, port: int, processes: int, workers: bool
) -> None:
    """``processes`` uvicorn workers of the API and one ``ledger workers`` process."""
    import uvicorn

    from api.serving import uvicorn_options

    os.environ["LEDGER_PUBLIC_URL"] = settings.public_url  # the same links from every process
    os.environ.update(process_group_environment(workers))  # cli.supervise: a group that heals
    follower = None
    if workers:
        follower = WorkersSupervisor(settings.workers_restart_seconds)
        follower.start()
    console.print(
        f"{processes} API processes"
        + (", and one process for the projections and policies" if workers else "")
    )
    try:
        uvicorn.run(
            "cli.site:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=processes,
            **uvicorn_options(settings),
        )
    finally:
        if follower is not None:
            follower.stop()
