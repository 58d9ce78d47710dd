"""The partner contact's notifications through the outbox, over a real SMTP exchange and to
mail files: each kind in English and Portuguese, deadline reminders once per deadline (the
tests' clock), none twice after a restart or a replay, erasure, and ``ledger outbox``."""

from __future__ import annotations

from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from typer.testing import CliRunner

from cli.main import app
from ledger.domain.commands import Dispute, Review, parse
from ledger.policies.reminders import record_reminders
from ledger.runtime.bootstrap import Services, bootstrap
from ledger.runtime.erasure import forget
from ledger.runtime.workers import Workers
from ledger.service.application import Ledger
from ledger.service.settings import Settings
from tests.conftest import Clock, Inbox, text_of
from tests.factories import (
    ADMIN_A,
    AUDITOR,
    NORTHWIND,
    REVIEWER,
    consent_request,
    create,
    days,
    proof,
)
from tests.integration import test_consent_email, test_outbox_cli

mailing = test_consent_email.mailing  # the fixtures of the consent e-mail's and outbox's tests
outbox_cli = test_outbox_cli.outbox_cli
listed = test_outbox_cli.listed
PARTNER = "pat@a.example"
LINK = "https://claims.example/claims/"
WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "consent_given": ("Fabrikam gave consent: Fabrikam", "deliver the engagement"),
        "information_requested": ("Information requested: Fabrikam", "reviewer's comments"),
        "rejected": ("Claim rejected: Fabrikam", "The reason given", "dispute the decision"),
        "approved": ("Claim approved: Fabrikam", "Approved payout: $2,500.00"),
        "consent_declined": ("Fabrikam declined consent: Fabrikam", "The claim is closed"),
        "expired": ("Claim expired: Fabrikam", "consent was not received in time"),
        "rejected_final": ("Claim rejected for good: Fabrikam", "This decision is final"),
        "deadline_reminder": ("Deadline on", "Next: request the customer's consent"),
    },
    "pt-BR": {
        "consent_given": ("Fabrikam deu consentimento: Fabrikam", "realize o compromisso"),
        "information_requested": ("Informações solicitadas: Fabrikam", "comentários do revisor"),
        "rejected": ("Declaração rejeitada: Fabrikam", "O motivo informado", "contestar a decisão"),
        "approved": ("Declaração aprovada: Fabrikam", "Pagamento aprovado: US$"),
        "consent_declined": ("Fabrikam recusou o consentimento: Fabrikam", "está encerrada"),
        "expired": ("Declaração expirada: Fabrikam", "não foi recebido a tempo"),
        "rejected_final": ("Declaração rejeitada em definitivo: Fabrikam", "é definitiva"),
        "deadline_reminder": ("Prazo em", "solicite o consentimento do cliente"),
    },
}


def partner_claim(
    ledger: Ledger,
    language: str,
    engagement: str = "E-AS",
    customer_email: str = "cio@fabrikam.com",
    **extra: Any,
) -> UUID:
    contacts = {
        "customer": {"name": "Cora Customer", "email": customer_email},
        "partner": {"name": "Pat Partner", "email": PARTNER, "language": language},
    }
    command = create([engagement], contacts=contacts, **extra)
    (claim_id,) = ledger.create_claims(ADMIN_A, command, days(0))
    return claim_id


def consented(ledger: Ledger, language: str, engagement: str = "E-AS", **extra: Any) -> UUID:
    claim_id = partner_claim(ledger, language, engagement, **extra)
    link = ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    ledger.answer_consent(claim_id, link, True, days(2))
    return claim_id


def review(ledger: Ledger, claim_id: UUID, action: str, at: float, reason: str = "") -> None:
    body = {"action": action, **({"reason": reason} if reason else {})}
    ledger.review(REVIEWER, claim_id, parse(Review, body), days(at))


def to_partner(inbox: Inbox) -> list[Message]:
    return [m for m in inbox.messages if m["To"] == PARTNER]


def subject_of(message: Message) -> str:
    return str(make_header(decode_header(message["Subject"])))


def assert_says(message: Message, language: str, kind: str, claim_id: UUID) -> None:
    subject, *body = WORDS[language][kind]
    assert subject in subject_of(message), subject_of(message)
    assert message["Content-Language"] == language
    for part in ("plain", "html"):
        text = text_of(message, part)
        assert f"{LINK}{claim_id}" in text
        assert all(said in text.replace("&#x27;", "'") for said in body), (kind, text)
        assert "_" not in text.split(LINK)[0] or part == "html"  # no slug in the words


@pytest.mark.parametrize("language", ["en", "pt-BR"])
def test_each_notification_reaches_the_partner_contact_in_its_language(
    stored_ledger: Ledger,
    mailing: Workers,
    smtp: tuple[Inbox, int],
    language: str,
) -> None:
    inbox, _ = smtp
    claim_id = consented(stored_ledger, language)
    stored_ledger.submit(ADMIN_A, claim_id, proof(["poe_document"]), days(3))
    review(stored_ledger, claim_id, "start", 4)
    review(stored_ledger, claim_id, "request_information", 4, "Please attach the signed POE.")
    stored_ledger.submit(ADMIN_A, claim_id, proof(["poe_document"]), days(5))
    review(stored_ledger, claim_id, "start", 6)
    review(stored_ledger, claim_id, "reject", 6, "The POE is not signed by the customer.")
    stored_ledger.dispute(ADMIN_A, claim_id, parse(Dispute, {"reason": "signed"}), days(7))
    stored_ledger.submit(ADMIN_A, claim_id, proof(["poe_document"]), days(8))
    review(stored_ledger, claim_id, "start", 9)
    review(stored_ledger, claim_id, "approve", 9)
    mailing.run_once(deadlines=False)
    kinds = ["consent_given", "information_requested", "rejected", "approved"]
    messages = to_partner(inbox)
    assert len(messages) == len(kinds)
    for message, kind in zip(messages, kinds, strict=True):
        assert_says(message, language, kind, claim_id)
    assert "Please attach the signed POE." in text_of(messages[1])
    assert "The POE is not signed by the customer." in text_of(messages[2], "html")
    assert "Pat Partner" in text_of(messages[0])  # greeted by name


@pytest.mark.parametrize("language", ["en", "pt-BR"])
def test_declined_expired_and_rejected_for_good_in_each_language(
    stored_ledger: Ledger,
    mailing: Workers,
    smtp: tuple[Inbox, int],
    clock: Clock,
    language: str,
) -> None:
    inbox, _ = smtp
    declined = partner_claim(stored_ledger, language)
    link = stored_ledger.request_consent(ADMIN_A, declined, consent_request(), days(1))
    stored_ledger.answer_consent(declined, link, False, days(2))
    final = consented(stored_ledger, language, value=NORTHWIND, customer_email="it@northwind.com")
    stored_ledger.submit(ADMIN_A, final, proof(["poe_document"]), days(3))
    review(stored_ledger, final, "start", 4)
    review(stored_ledger, final, "reject_final", 4, "Not an eligible engagement.")
    expiring = partner_claim(stored_ledger, language, engagement="E-WS")
    clock.now = days(31)  # past E-WS's consent deadline (30 days)
    mailing.run_once(deadlines=True)
    mailing.run_once()
    by_kind = {subject_of(m): m for m in to_partner(inbox)}
    said = {kind: next(m for s, m in by_kind.items() if WORDS[language][kind][0] in s) for kind
            in ("consent_declined", "rejected_final", "expired")}  # fmt: skip
    assert_says(said["consent_declined"], language, "consent_declined", declined)
    assert_says(said["rejected_final"], language, "rejected_final", final)
    assert_says(said["expired"], language, "expired", expiring)
    assert "Not an eligible engagement." in text_of(said["rejected_final"])


def reminders(inbox: Inbox) -> list[Message]:
    return [m for m in to_partner(inbox) if subject_of(m).startswith(("Deadline", "Prazo"))]


@pytest.mark.parametrize("language", ["en", "pt-BR"])
def test_a_deadline_is_reminded_of_once_seven_days_before_even_after_a_restart_and_replay(
    stored_ledger: Ledger,
    mailing: Workers,
    smtp: tuple[Inbox, int],
    clock: Clock,
    language: str,
) -> None:
    inbox, _ = smtp
    claim_id = partner_claim(stored_ledger, language, engagement="E-WS")  # consent: 30 days
    clock.now = days(22.99)
    mailing.run_once(deadlines=True)
    assert reminders(inbox) == []
    clock.now = days(23)  # 7 days before
    mailing.run_once(deadlines=True)
    mailing.run_once(deadlines=True)
    (reminder,) = reminders(inbox)
    assert_says(reminder, language, "deadline_reminder", claim_id)
    restart = bootstrap(mailing.settings, ledger=stored_ledger, clock=clock)
    try:
        restart.workers.run_once(deadlines=True)
        restart.workers.views.replay()
        clock.now = days(25)
        restart.workers.run_once(deadlines=True)
        restart.workers.run_once(deadlines=True)
    finally:
        restart.store.close()
    assert len(reminders(inbox)) == 1
    rows = [r for r in mailing.mailer.outbox(claim_id) if r["kind"] == "deadline_reminder"]
    assert [r["status"] for r in rows] == ["sent"]


def test_a_deadline_that_moves_gets_a_reminder_of_its_own(
    stored_ledger: Ledger,
    mailing: Workers,
    smtp: tuple[Inbox, int],
    clock: Clock,
) -> None:
    """E-AS: dispute_days 15. Rejected on day 4: dispute by day 19, reminded on day 12;
    disputed on day 13: submit again by day 28, reminded on day 21."""
    inbox, _ = smtp
    claim_id = consented(stored_ledger, "en")
    stored_ledger.submit(ADMIN_A, claim_id, proof(["poe_document"]), days(3))
    review(stored_ledger, claim_id, "start", 4)
    review(stored_ledger, claim_id, "reject", 4, "Unsigned.")
    clock.now = days(12)
    mailing.run_once(deadlines=True)
    mailing.run_once()
    (first,) = reminders(inbox)
    assert "dispute it on the claim's page" in text_of(first)
    stored_ledger.dispute(ADMIN_A, claim_id, parse(Dispute, {"reason": "signed"}), days(13))
    clock.now = days(20.9)
    mailing.run_once(deadlines=True)
    assert len(reminders(inbox)) == 1
    clock.now = days(21)
    mailing.run_once(deadlines=True)
    mailing.run_once()
    first, second = reminders(inbox)
    assert "submit the claim again" in text_of(second)
    assert first["Message-ID"] != second["Message-ID"]


def test_reminder_days_is_a_setting(
    stored_ledger: Ledger,
    mailing: Workers,
    smtp: tuple[Inbox, int],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEDGER_REMINDER_DAYS", "2")
    assert Settings().reminder_days == 2
    inbox, _ = smtp
    mailing.settings = mailing.settings.model_copy(update={"reminder_days": 2})
    partner_claim(stored_ledger, "en", engagement="E-WS")
    clock.now = days(27.9)
    mailing.run_once(deadlines=True)
    assert reminders(inbox) == []
    clock.now = days(28)
    mailing.run_once(deadlines=True)
    mailing.run_once()
    assert len(reminders(inbox)) == 1


def test_a_reminder_whose_deadline_no_longer_runs_is_not_sent(
    stored_ledger: Ledger,
    mailing: Workers,
    smtp: tuple[Inbox, int],
    clock: Clock,
) -> None:
    inbox, _ = smtp
    claim_id = partner_claim(stored_ledger, "en", engagement="E-WS")
    clock.now = days(24)
    mailing.views.catch_up()
    assert record_reminders(mailing.views, clock.now, 7) == 1
    assert record_reminders(mailing.views, clock.now, 7) == 0  # recorded once
    link = stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(24))
    stored_ledger.answer_consent(claim_id, link, True, days(24))
    mailing.run_once(deadlines=False)
    assert reminders(inbox) == []
    (row,) = [r for r in mailing.mailer.outbox(claim_id) if r["kind"] == "deadline_reminder"]
    assert row["status"] == "superseded"


def test_an_erased_partner_contact_is_never_mailed_and_its_files_are_removed(
    stored_ledger: Ledger, workers: Workers, settings: Settings, clock: Clock
) -> None:
    """Without SMTP: the notifications are files; erasing the partner contact removes them
    and its pending notification is never sent."""
    first = consented(stored_ledger, "en", engagement="E-WS")  # submission: 90 days
    workers.run_once(deadlines=False)
    clock.now = days(24)  # E-WS's consent deadline (30) is within 7 days: a reminder
    second = partner_claim(
        stored_ledger, "en", "E-WS", customer_email="it@northwind.com", value=NORTHWIND
    )
    workers.run_once(deadlines=True)
    workers.run_once(deadlines=False)
    folder = settings.mail_directory()
    files = sorted(folder.glob("*.eml"))
    partner_files = [f for f in files if PARTNER in f.read_text()]
    assert len(partner_files) == 2  # consent given (first), the reminder (second)
    review_later = consented_events(stored_ledger, first)
    erasure = forget(stored_ledger, workers.views, folder, AUDITOR, PARTNER, days(24))
    assert erasure.mail_files_removed == 2
    assert not any(f.exists() for f in partner_files)
    review_later()  # an event after the erasure: its notification is never sent
    workers.run_once(deadlines=False)
    pending = [r for r in workers.mailer.outbox() if r["kind"] not in ("consent_request",)]
    assert {r["status"] for r in pending} == {"sent", "superseded"}
    assert not any(PARTNER in f.read_text() for f in folder.glob("*.eml"))
    assert {workers.mailer.mail(r).recipient for r in pending} == {"[erased]"}
    assert second


def consented_events(ledger: Ledger, claim_id: UUID) -> Any:
    def submit_and_ask() -> None:
        ledger.submit(ADMIN_A, claim_id, proof(), days(25))
        review(ledger, claim_id, "start", 25)
        review(ledger, claim_id, "request_information", 25, "More, please.")

    return submit_and_ask


def test_ledger_outbox_lists_the_notifications_by_what_they_are(
    stored_ledger: Ledger,
    workers: Workers,
    outbox_cli: CliRunner,
) -> None:
    claim_id = partner_claim(stored_ledger, "pt-BR")
    link = stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    workers.run_once(deadlines=False)
    stored_ledger.answer_consent(claim_id, link, True, days(2))
    workers.run_once(deadlines=False)
    emails = [e for e in listed(outbox_cli) if e["claim_id"] == str(claim_id)]
    assert [(e["kind"], e["what"], e["status"]) for e in emails] == [
        ("consent_request", "consent request (customer)", "sent"),
        ("consent_given", "consent given (partner)", "sent"),
    ]
    given = emails[1]
    assert given["to"] == PARTNER
    assert given["subject"] == "Fabrikam deu consentimento: Fabrikam"
    assert given["link"] == f"http://127.0.0.1:8000/claims/{claim_id}"
    assert given["link"] in Path(given["file"]).read_text()
    table = outbox_cli.invoke(app, ["outbox"]).stdout
    assert "consent given (partner)" in table and "E-mails (2)" in table


def test_a_store_made_before_the_notifications_never_mails_the_partner_about_its_past(
    stored_ledger: Ledger, services: Services, clock: Clock
) -> None:
    """A store of schema version 2 notes when it began to notify: events before then (this
    log's, in March 2026) are folded into the outbox superseded, by its views and a replay."""
    claim_id = consented(stored_ledger, "en")
    with services.store.transaction(commit=True) as tx:
        tx.execute("UPDATE view_state SET value = '2' WHERE key = 'schema_version'")
    upgraded = bootstrap(services.settings, ledger=stored_ledger, clock=clock)
    try:
        assert upgraded.store.notifications_since is not None
        upgraded.workers.run_once(deadlines=False)
        upgraded.workers.views.replay()
        upgraded.workers.run_once(deadlines=False)
        rows = upgraded.workers.mailer.outbox(claim_id)
    finally:
        upgraded.store.close()
    assert [(r["kind"], r["status"]) for r in rows] == [
        ("consent_request", "superseded"),  # answered before any worker ran
        ("consent_given", "superseded"),
    ]
    folder = services.settings.mail_directory()
    assert not any(PARTNER in f.read_text() for f in folder.glob("*.eml"))
