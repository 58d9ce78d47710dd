"""A store of an earlier layout (events without hashes or sealed contacts) copied into a new
store: every event, in order; the new store verifies, seals its contacts, refuses nothing, and
its views rebuilt from the copy show the same claims."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import pytest

from ledger.audit.tamper import verify
from ledger.runtime.bootstrap import bootstrap
from ledger.runtime.migrate import copy_events, open_source
from ledger.service.application import open_ledger
from ledger.service.settings import Settings, SettingsError
from tests.factories import (
    ADMIN_A,
    FABRIKAM,
    NORTHWIND,
    consented_claim,
    make_catalog,
    view_snapshot,
)
from tests.integration.test_cli import ledger_cli
from tests.integration.test_tamper import Table


def old_store(settings: Settings) -> list[UUID]:
    """Claims written, then the events table put back as an earlier release left it: no
    hash column, the contacts in the clear (written without sealing)."""
    ledger = open_ledger(settings, make_catalog(), seal_contacts=False)
    customers = [(FABRIKAM, "cio@fabrikam.com"), (NORTHWIND, "it@northwind.com")]
    made = [
        consented_claim(ledger, engagements=["E-AS"], value=tenant, customer_email=email)
        for tenant, email in customers
    ]
    services = bootstrap(settings, ledger=ledger)
    services.workers.run_once()
    services.close()
    reopened = open_ledger(settings, make_catalog())
    table = Table(reopened, settings)
    reopened.close()
    table.execute(f"ALTER TABLE {table.name} DROP COLUMN hash")
    return made


def new_settings(settings: Settings, tmp_path: Path, fresh: Callable[[], str]) -> Settings:
    if settings.is_sqlite:
        return Settings(database_url=f"sqlite:///{tmp_path / 'new.sqlite3'}")
    return settings.model_copy(update={"database_url": fresh()})


@pytest.fixture
def fresh(request: pytest.FixtureRequest, settings: Settings) -> Callable[[], str]:
    if settings.is_sqlite:
        return lambda: ""
    make: Callable[[], str] = request.getfixturevalue("fresh_database")
    return make


def test_an_old_store_is_copied_into_a_new_one_that_verifies(
    settings: Settings, tmp_path: Path, fresh: Callable[[], str]
) -> None:
    claims = old_store(settings)
    with pytest.raises(SettingsError, match="made before events carried hashes"):
        open_ledger(settings, make_catalog())
    source = open_source(settings, make_catalog())
    before = {c: source.history(ADMIN_A, c) for c in claims}
    target_settings = new_settings(settings, tmp_path, fresh)
    target = open_ledger(target_settings, make_catalog())
    seen: list[tuple[int, int]] = []
    copied = copy_events(source, target, lambda done, total: seen.append((done, total)))
    assert copied == source.recorder.max_notification_id() and seen[-1] == (copied, copied)
    assert verify(target).ok
    assert len(before) == 2 and all(before.values())
    for claim_id, events in before.items():  # the same events, in the same order
        assert target.history(ADMIN_A, claim_id) == events
    table = Table(target, target_settings)
    states = b"".join(bytes(r[0]) for r in table.execute(f"SELECT state FROM {table.name}"))
    assert b"cio@fabrikam.com" not in states and b"\\u0001sealed:" in states  # sealed now
    services = bootstrap(target_settings, ledger=target)
    services.workers.run_once()
    assert len(view_snapshot(services.workers)["claims"]) == len(claims)
    with pytest.raises(ValueError, match="already holds events"):
        copy_events(source, target)
    services.close()
    target.close()
    source.close()


def test_ledger_migrate_on_the_command_line(tmp_path: Path) -> None:
    """The command, once, on SQLite (the function is tested on both stores above)."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'old.sqlite3'}")
    assert len(old_store(settings)) == 2
    target = tmp_path / "new.sqlite3"
    run = ledger_cli(settings, "migrate", "--to", f"sqlite:///{target}", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "copied" in run.stdout and "ledger replay" in run.stdout
    migrated = Settings(database_url=f"sqlite:///{target}")
    checked = ledger_cli(migrated, "verify", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
