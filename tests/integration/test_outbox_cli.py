"""`ledger outbox`: every consent e-mail with its recipient, subject, link and status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from ledger.runtime.workers import Workers
from ledger.service.application import Ledger
from ledger.service.settings import Settings
from tests.factories import ADMIN_A, CATALOG_DATA, NORTHWIND, consent_request, create, days


@pytest.fixture
def outbox_cli(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(CATALOG_DATA))
    monkeypatch.setenv("LEDGER_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("LEDGER_CATALOG", str(catalog))
    monkeypatch.setenv("LEDGER_MAIL_DIR", str(settings.mail_directory()))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("LEDGER_PUBLIC_URL", raising=False)
    if settings.secret_key:
        monkeypatch.setenv("LEDGER_SECRET_KEY", settings.secret_key)
    return CliRunner()


def listed(runner: CliRunner, *args: str) -> list[dict[str, Any]]:
    result = runner.invoke(app, ["outbox", "--json", *args])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_the_outbox_lists_pending_sent_stuck_and_superseded_emails(
    stored_ledger: Ledger, workers: Workers, outbox_cli: CliRunner
) -> None:
    sent, stuck = stored_ledger.create_claims(ADMIN_A, create(["E-WS", "E-AS"]), days(0))
    northwind = create(["E-WS", "E-AS"], value=NORTHWIND, customer_email="it@northwind.com")
    pending, reminded = stored_ledger.create_claims(ADMIN_A, northwind, days(0))
    stored_ledger.request_consent(ADMIN_A, sent, consent_request(), days(1))
    served = workers.settings.serving("127.0.0.1", 8100)  # as `ledger serve --port 8100`
    workers.mailer.settings = served
    workers.run_once()  # delivered: a file in the mail folder
    workers.mailer.settings = workers.settings
    for claim_id in (stuck, pending, reminded):
        stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(2))
    stored_ledger.send_consent_reminder(ADMIN_A, reminded, days(3))
    workers.views.catch_up()  # the outbox knows them; no one has sent them
    (stuck_row,) = workers.mailer.outbox(stuck)
    assert workers.mailer._claim(stuck_row["email_id"], days(3))  # a worker that then died

    emails = listed(outbox_cli)
    by_claim: dict[str, list[str]] = {}
    for entry in emails:
        by_claim.setdefault(entry["claim_id"], []).append(entry["status"])
    assert by_claim == {
        str(sent): ["sent"],
        str(stuck): ["stuck"],
        str(pending): ["pending"],
        str(reminded): ["superseded", "pending"],
    }
    (delivered,) = [e for e in emails if e["status"] == "sent"]
    assert delivered["to"] == "cio@fabrikam.com"
    assert delivered["subject"] == "Partner A asks for your consent: Migration workshop"
    assert delivered["link"].startswith("http://127.0.0.1:8100/consent/")  # as it was sent
    assert delivered["link"] in Path(delivered["file"]).read_text().splitlines()
    assert all(
        e["link"].startswith("http://127.0.0.1:8000/consent/")  # as they would be sent now
        for e in emails
        if e["status"] != "sent"
    )
    assert Path(delivered["file"]).is_file() and delivered["channel"] == "file"

    assert [e["claim_id"] for e in listed(outbox_cli, "--status", "stuck")] == [str(stuck)]
    assert {e["to"] for e in listed(outbox_cli, "--status", "pending")} == {"it@northwind.com"}
    assert len(listed(outbox_cli, "--status", "pending")) == 2
    assert listed(outbox_cli, "--status", "sent") == [delivered]

    table = outbox_cli.invoke(app, ["outbox", "--status", "sent"])
    assert table.exit_code == 0, table.output
    assert "cio@fabrikam.com" in table.stdout and "it@northwind.com" not in table.stdout
    assert delivered["link"] in table.stdout.splitlines()[-1]  # whole, to copy
    refused = outbox_cli.invoke(app, ["outbox", "--status", "lost"])
    assert refused.exit_code == 2
