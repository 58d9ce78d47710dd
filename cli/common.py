"""What every command shares: the console, the settings or a clear exit, the Ledger or
every service opened from them, and the progress bar."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from ledger.domain.catalog import CatalogError
from ledger.domain.principal import Principal, Role
from ledger.projections.runner import ViewRunner
from ledger.projections.store import ViewStore
from ledger.runtime.bootstrap import Services, bootstrap
from ledger.service.application import Ledger, open_ledger
from ledger.service.clock import Clock, utc_now
from ledger.service.settings import Settings, SettingsError
from ledger.store.outage import unreachable

console = Console()
errors = Console(stderr=True, soft_wrap=True)
"""Where a command says why it cannot go on (standard error; its results go to standard output)."""
OPERATOR = Principal("cli-operator", roles=frozenset({Role.AUDITOR}))


def settings_or_exit() -> Settings:
    """The LEDGER_* settings, or a clear message and exit code 2 when one is wrong."""
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        name = "LEDGER_" + str(first["loc"][0]).upper() if first["loc"] else "LEDGER_*"
        errors.print(f"[red]settings error[/red] {name}: {escape(_setting_problem(first))}")
        raise typer.Exit(2) from None


def _setting_problem(problem: Mapping[str, Any]) -> str:
    """What is wrong with a setting, in our words rather than the validation library's."""
    context = problem.get("ctx") or {}
    if "error" in context:  # our own check's sentence
        return str(context["error"])
    if problem["type"] == "string_too_short":
        return f"must be at least {context['min_length']} characters long"
    if problem["type"] in {"int_parsing", "int_type"}:
        return "must be a whole number"
    if problem["type"] in {"bool_parsing", "bool_type"}:
        return "must be 1 or 0 (true or false)"
    return str(problem["msg"])


def store_unreachable(error: BaseException) -> bool:
    """Whether ``error``, or one it was raised from, is PostgreSQL refusing a connection (or
    a pool that never got one): not a bug, the operator's to fix."""
    return unreachable(error)


def say_store_unreachable(
    settings: Settings | None = None, named_by: str = "LEDGER_DATABASE_URL"
) -> None:
    """One line: the store's URL (LEDGER_DATABASE_URL's, or that of ``settings`` made from the
    option ``named_by``) without its password, and what to check."""
    shown = (settings or settings_or_exit()).database_shown
    errors.print(
        f"[red]cannot reach the store[/red] {escape(shown)}: check that PostgreSQL runs there "
        f"and accepts connections, and that {named_by} names the right host, port, database, "
        "user and password",
        soft_wrap=True,
    )


def _ledger() -> Ledger:
    settings = settings_or_exit()
    try:
        return open_ledger(settings)
    except CatalogError as error:
        errors.print(f"[red]catalog error[/red]: {escape(str(error))}")
    except SettingsError as error:
        errors.print(f"[red]settings error[/red]: {escape(str(error))}")
    raise typer.Exit(2)


def _parse_now(now: str | None) -> datetime:
    if now is None:
        return utc_now()
    try:
        parsed = datetime.fromisoformat(now)
    except ValueError:
        raise typer.BadParameter(f"{now!r} is not an ISO-8601 date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _views(ledger: Ledger) -> ViewRunner:
    return ViewRunner(ledger, ViewStore.open(settings_or_exit().eventsourcing_env()))


def _services(clock: Clock = utc_now) -> Services:
    """Every service, wired as ``ledger serve`` wires them; a wrong setting exits with 2."""
    settings = settings_or_exit()
    try:
        return bootstrap(settings, clock=clock)
    except CatalogError as error:
        errors.print(f"[red]catalog error[/red]: {escape(str(error))}")
    except SettingsError as error:
        errors.print(f"[red]settings error[/red]: {escape(str(error))}")
    raise typer.Exit(2)


def _progress_bar(description: str) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>10} events/s"),
        TimeElapsedColumn(),
        console=console,
    )


def _tracked(progress: Progress, description: str) -> Callable[[int, int], None]:
    task = progress.add_task(description, total=None, rate="")
    started = time.perf_counter()

    def update(done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - started, 1e-9)
        progress.update(task, completed=done, total=total, rate=f"{rate:,.0f}")

    return update
