"""`ledger webhooks`: a partner's deliveries with status and last answer, and a retry of a
failed one (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from ledger.runtime.bootstrap import bootstrap
from ledger.service.application import Ledger
from ledger.service.settings import Settings
from testkit.pgcluster import free_port
from tests.conftest import Clock
from tests.factories import ADMIN_A, CATALOG_DATA, create, days


@pytest.fixture
def cli(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(CATALOG_DATA))
    monkeypatch.setenv("LEDGER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LEDGER_CATALOG", str(catalog))
    monkeypatch.setenv("COLUMNS", "200")
    if settings.secret_key:
        monkeypatch.setenv("LEDGER_SECRET_KEY", settings.secret_key)
    return CliRunner()


def listed(runner: CliRunner, *args: str) -> list[dict[str, Any]]:
    result = runner.invoke(app, ["webhooks", "--partner", "P-A", "--json", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_the_deliveries_are_listed_and_a_failed_one_retried(
    stored_ledger: Ledger, settings: Settings, clock: Clock, cli: CliRunner
) -> None:
    allowed = settings.model_copy(update={"webhooks_allow_insecure": True})
    services = bootstrap(allowed, ledger=stored_ledger, clock=clock)
    hooks = services.workers.webhooks
    url = f"http://127.0.0.1:{free_port()}/hooks"  # nothing listens: every attempt fails
    hooks.subscriptions.subscribe(ADMIN_A, url, ["*"], days(0))
    stored_ledger.create_claims(ADMIN_A, create(), days(0))
    while not listed(cli, "--status", "failed"):
        hooks.run_once()
        clock.now += timedelta(hours=2)
    (failed,) = listed(cli)
    assert (failed["type"], failed["url"], failed["last_error"]) == ("Added", url, "unreachable")
    retried = cli.invoke(app, ["webhooks", "--partner", "P-A", "--retry", failed["delivery_id"]])
    assert retried.exit_code == 0 and "retrying" in retried.output, retried.output
    assert [d["status"] for d in listed(cli)] == ["retrying"]
    assert "Webhook deliveries (1)" in cli.invoke(app, ["webhooks", "--partner", "P-A"]).output
    unknown = cli.invoke(app, ["webhooks", "--partner", "P-A", "--retry", "nope"])
    assert unknown.exit_code == 1
    hooks.stop()
    services.store.close()
