"""`ledger replay` and `ledger migrate`: the read models rebuilt, the events copied to
another store."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape

from cli.common import (
    _ledger,
    _progress_bar,
    _tracked,
    _views,
    console,
    errors,
    say_store_unreachable,
    settings_or_exit,
    store_unreachable,
)
from ledger.domain.catalog import Catalog, CatalogError, load_catalog
from ledger.projections.runner import ReplayStoppedError
from ledger.runtime.migrate import copy_events, open_source
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings, SettingsError


def replay() -> None:
    """Rebuild every read model from the events into fresh tables, then switch to them."""
    ledger = _ledger()
    views = _views(ledger)
    started = time.perf_counter()
    try:
        with _progress_bar("replay") as progress:
            applied = views.replay(_tracked(progress, "replaying events"))
    except ReplayStoppedError as stopped:
        errors.print(
            f"[red]cannot replay[/red]: {escape(str(stopped))}; the views still read generation "
            f"{views.store.generation()}. Fix the cause and run `ledger replay` again."
        )
        raise typer.Exit(1) from None
    seconds = time.perf_counter() - started
    console.print(
        f"replayed {applied:,} events in {seconds:.1f} s ({applied / max(seconds, 1e-9):,.0f} "
        f"events/s); the views now read generation {views.store.generation()}"
    )
    views.store.close()


def migrate(
    to: Annotated[
        str,
        typer.Option(
            "--to", help="The database URL of the new, empty store (sqlite:/// or postgresql://)."
        ),
    ],
) -> None:
    """Copy every event of this store (LEDGER_DATABASE_URL), in the order they were written,
    into a new, empty store of this release's layout (hash chain, commit order, contacts
    sealed), with progress; then point LEDGER_DATABASE_URL at it and run `ledger replay`."""
    settings = settings_or_exit()
    try:
        target_settings = Settings(database_url=to)
        catalog = load_catalog(settings.catalog)
        source = open_source(settings, catalog)
        target = _target(target_settings, catalog)
    except (ValidationError, SettingsError, CatalogError) as error:
        errors.print(f"[red]cannot migrate[/red]: {escape(str(error))}")
        raise typer.Exit(2) from None
    try:
        with _progress_bar("migrate") as progress:
            copied = copy_events(source, target, _tracked(progress, "copying events"))
    except ValueError as error:
        errors.print(f"[red]cannot migrate[/red]: {escape(str(error))}")
        raise typer.Exit(2) from None
    finally:
        source.close()
        target.close()
    console.print(
        f"copied {copied:,} events into the new store; set LEDGER_DATABASE_URL to it and run "
        "`ledger replay` (keep LEDGER_SECRET_KEY, or the SQLite key file, so that consent "
        "links and tokens stay valid)"
    )


def _target(settings: Settings, catalog: Catalog) -> Ledger:
    """The new store, or one line naming it (not LEDGER_DATABASE_URL) when it cannot be
    reached."""
    try:
        return open_ledger(settings, catalog)
    except Exception as error:
        if not store_unreachable(error):
            raise
        say_store_unreachable(settings, named_by="--to")
        raise typer.Exit(2) from None
