"""Without SMTP settings: each e-mail written as an .eml file, logged with its link (SPEC 6.1)."""

from __future__ import annotations

import email
import logging
import re
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest

from ledger.projections.store import ViewStore
from ledger.runtime.workers import Workers
from ledger.service.application import Ledger
from ledger.service.settings import Settings
from tests.factories import ADMIN_A, consent_request, create, days


def read_eml(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=default)
    assert isinstance(message, EmailMessage)
    return message


def test_an_email_without_smtp_is_written_to_the_mail_folder_and_logged(
    stored_ledger: Ledger,
    workers: Workers,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="ledger.mail")
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    assert workers.run_once() > 0

    (path,) = settings.mail_directory().glob("*.eml")
    message = read_eml(path)
    assert message["To"] == "cio@fabrikam.com"
    assert message["Subject"] == "Partner A asks for your consent: Migration workshop"
    plain, html = message.get_body(("plain",)), message.get_body(("html",))
    assert plain is not None and html is not None
    link = re.search(r"http://127\.0\.0\.1:8000/consent/\S+", plain.get_content())
    assert link is not None
    assert link.group(0) in path.read_text().splitlines()  # whole, on one line in the file
    assert f'href="{link.group(0)}"' in html.get_content()
    for part in (plain.get_content(), html.get_content()):
        assert "Partner A" in part and "Migration workshop" in part and "Fabrikam" in part
    named_claim, _ = workers.tokens.read(link.group(0).rsplit("/", 1)[1], days(2))
    assert named_claim == claim_id

    (row,) = workers.mailer.outbox(claim_id)
    assert (row["channel"], row["file_name"], row["status"]) == ("file", path.name, "sent")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "ledger.mail"]
    assert "Migration workshop" in line and row["email_id"] in line
    assert "cio@fabrikam.com" not in line  # personal data stays out of the logs
    assert link.group(0) in line.split()  # whole, readable: no quoted-printable

    workers.run_once()  # once only
    assert len(list(settings.mail_directory().glob("*.eml"))) == 1


def test_a_mail_folder_that_cannot_be_written_is_retried(
    stored_ledger: Ledger, workers: Workers, tmp_path: Path
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    mailer = workers.mailer
    mailer.settings = workers.settings.model_copy(update={"mail_dir": blocked / "mail"})
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    workers.run_once()
    assert [row["status"] for row in mailer.outbox(claim_id)] == ["pending"]  # not stuck
    mailer.settings = workers.settings.model_copy(update={"mail_dir": tmp_path / "mail"})
    workers.run_once()
    assert [row["status"] for row in mailer.outbox(claim_id)] == ["sent"]
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1


def test_a_store_made_before_mail_files_gains_their_columns(settings: Settings) -> None:
    store = ViewStore.open(settings.eventsourcing_env())
    with store.transaction(commit=True) as tx:
        tx.execute("DROP TABLE mail_deliveries")
        tx.execute(
            "CREATE TABLE mail_deliveries (email_id TEXT PRIMARY KEY, channel TEXT NOT NULL, "
            "delivered_at TEXT NOT NULL)"
        )
        tx.execute("INSERT INTO mail_deliveries VALUES ('e-1', 'smtp', '2026-01-01')")
    store.close()
    for _ in range(2):  # and opening it again changes nothing
        reopened = ViewStore.open(settings.eventsourcing_env())
        with reopened.transaction() as tx:
            rows = tx.rows("SELECT * FROM mail_deliveries")
        reopened.close()
        assert rows == [
            {
                "email_id": "e-1",
                "channel": "smtp",
                "delivered_at": "2026-01-01",
                "file_name": None,
                "public_url": None,
            }
        ]
