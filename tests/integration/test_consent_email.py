"""Consent e-mails over a real SMTP exchange (aiosmtpd on loopback): R23, R24, exactly once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message

import pytest

from ledger.domain.errors import ConflictError
from ledger.projections.claim_queries import ClaimQueries
from ledger.projections.claims import Status
from ledger.runtime.bootstrap import bootstrap
from ledger.runtime.workers import Workers
from ledger.service.application import Ledger
from ledger.service.settings import Settings
from ledger.words.i18n import Formats
from testkit.pgcluster import free_port
from tests.conftest import Clock, Inbox, text_of
from tests.factories import ADMIN_A, NORTHWIND, consent_request, create, days

STUCK_AFTER = timedelta(seconds=Settings.model_fields["mail_retry_seconds"].default)
"""The default LEDGER_MAIL_RETRY_SECONDS."""


@pytest.fixture
def mailing(
    stored_ledger: Ledger, settings: Settings, clock: Clock, smtp: tuple[Inbox, int]
) -> Iterator[Workers]:
    configured = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp[1],
            "mail_from": "claims@ledger.example",
            "public_url": "https://claims.example/",
        }
    )
    services = bootstrap(configured, ledger=stored_ledger, clock=clock)
    yield services.workers
    services.store.close()


def token_in(message: Message) -> str:
    body = text_of(message)
    match = re.search(r"https://claims\.example/consent/(\S+)", body)
    assert match, body
    return match.group(1)


def test_r23_the_consent_email_carries_a_working_single_use_link(
    stored_ledger: Ledger, mailing: Workers, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    assert mailing.run_once() > 0
    (message,) = inbox.messages
    assert message["To"] == "cio@fabrikam.com"
    assert message["From"] == "claims@ledger.example"
    assert "Migration workshop" in message["Subject"]
    named_claim, link_id = mailing.tokens.read(token_in(message), days(2))
    assert named_claim == claim_id
    stored_ledger.answer_consent(named_claim, link_id, True, days(2))
    with pytest.raises(ConflictError):  # single use
        stored_ledger.answer_consent(named_claim, link_id, True, days(2))
    with pytest.raises(ConflictError):  # and it expires with the consent deadline
        mailing.tokens.read(token_in(message), days(30))


def test_r24_a_reminder_invalidates_the_previous_link(
    stored_ledger: Ledger, mailing: Workers, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    mailing.run_once()
    stored_ledger.send_consent_reminder(ADMIN_A, claim_id, days(5))
    mailing.run_once()
    first, second = inbox.messages
    assert "reminder" in text_of(second) and "reminder" in text_of(second, "html")
    _, old_link = mailing.tokens.read(token_in(first), days(6))
    _, new_link = mailing.tokens.read(token_in(second), days(6))
    with pytest.raises(ConflictError) as refused:
        stored_ledger.answer_consent(claim_id, old_link, True, days(6))
    assert refused.value.slug == "consent-link-superseded"
    stored_ledger.answer_consent(claim_id, new_link, False, days(6))


def test_the_email_is_in_the_language_picked_for_the_customer_contact(
    stored_ledger: Ledger, mailing: Workers, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    contacts = {
        "customer": {"name": "Clara", "email": "cio@fabrikam.com", "language": "pt-BR"},
        "partner": {"name": "Pat", "email": "pat@a.example"},
    }
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(["E-WS"], contacts=contacts), days(0))
    claim = stored_ledger.get_claim(ADMIN_A, claim_id)
    assert claim.contacts.customer.language == "pt-BR"  # recorded with the contact
    stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    mailing.run_once()
    (message,) = inbox.messages
    assert "pede o seu consentimento" in str(message["Subject"])
    assert "Aceite ou recuse" in text_of(message) and "Aceite ou recuse" in text_of(message, "html")


def test_each_email_is_sent_once_across_restarts(
    stored_ledger: Ledger, mailing: Workers, smtp: tuple[Inbox, int], clock: Clock
) -> None:
    inbox, _ = smtp
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    mailing.run_once()
    restart = bootstrap(mailing.settings, ledger=stored_ledger, clock=clock)
    restarted = restart.workers
    try:
        restarted.run_once()
        restarted.views.replay()  # even rebuilding the outbox does not send again
        restarted.run_once()
    finally:
        restart.store.close()
    assert len(inbox.messages) == 1
    (row,) = mailing.mailer.outbox(claim_id)
    assert row["channel"] == "smtp"


def test_an_email_interrupted_while_sending_is_sent_again_with_the_same_message_id(
    stored_ledger: Ledger,
    mailing: Workers,
    smtp: tuple[Inbox, int],
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At least once: a worker that died between sending and marking leaves the e-mail
    'sending' (stuck, listed meanwhile); after STUCK_AFTER another round sends it again with
    the same Message-ID, so a receiver drops the duplicate."""
    inbox, _ = smtp
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    mailer = mailing.mailer

    def crash(*args: object) -> None:
        raise KeyboardInterrupt("the worker died after sending, before marking")

    monkeypatch.setattr(mailer, "_mark", crash)
    with pytest.raises(KeyboardInterrupt):
        mailing.run_once()
    monkeypatch.undo()
    mailing.run_once()  # within STUCK_AFTER: another worker may still be sending it
    assert len(inbox.messages) == 1
    email_id = mailing.mailer.outbox(claim_id)[0]["email_id"]
    assert [row["email_id"] for row in mailer.stuck()] == [email_id]
    claims = ClaimQueries(mailing.store, stored_ledger.catalog, clock, STUCK_AFTER)
    # Within STUCK_AFTER it may still be on its way; after it, the details call it stuck.
    assert claims.details(ADMIN_A, claim_id).consent_email is Status.PENDING
    clock.now += STUCK_AFTER + timedelta(seconds=1)
    assert claims.details(ADMIN_A, claim_id).consent_email is Status.STUCK
    mailing.run_once()
    assert claims.details(ADMIN_A, claim_id).consent_email is Status.SENT
    first, again = inbox.messages
    assert first["Message-ID"] == again["Message-ID"] == f"<{email_id}@claim-ledger>"
    assert mailer.stuck() == []
    clock.now += STUCK_AFTER * 2
    mailing.run_once()
    assert len(inbox.messages) == 2  # delivered now: never again


def test_an_unreachable_smtp_server_is_retried(
    stored_ledger: Ledger, mailing: Workers, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    mailing.mailer.settings = mailing.settings.model_copy(update={"smtp_port": free_port()})
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    mailing.run_once()
    assert inbox.messages == []
    mailing.mailer.settings = mailing.settings.model_copy(update={"smtp_port": port})
    mailing.run_once()
    assert len(inbox.messages) == 1


def test_a_recorded_name_with_line_breaks_stays_on_its_line(
    stored_ledger: Ledger, mailing: Workers
) -> None:
    """Names are one line since they are checked; one recorded before, with a line break,
    starts no paragraph of its own in the e-mail (nor a header of its own)."""
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    mailing.views.catch_up()
    (row,) = mailing.mailer.outbox(claim_id)
    row = {**row, "claim_customer_name": "Fabrikam\r\n\r\nClick https://evil.example\nnow"}
    message = mailing.mailer.message(row)
    text = text_of(message)
    assert (
        "Partner A asks Fabrikam Click https://evil.example now to confirm the engagement" in text
    )
    assert not any(line.startswith(("Click", "now")) for line in text.splitlines())
    html = message.get_body(("html",))
    assert html is not None and "\nClick" not in html.get_content()


@pytest.mark.parametrize(
    ("language", "asks", "gives"),
    [
        (
            "en",
            "Partner A asks Northwind to confirm the engagement Data assessment, so that "
            "Partner A may claim programme funding for it.",
            "An assessment delivered by Partner A and funded by the programme, at no cost to "
            "Northwind.",
        ),
        (
            "pt-BR",
            "Partner A pede que Northwind confirme o compromisso Data assessment, para que "
            "Partner A possa solicitar o financiamento do programa para ele.",
            "Uma avaliação realizada por Partner A e financiada pelo programa, sem custo para "
            "Northwind.",
        ),
    ],
)
def test_the_email_names_the_customer_by_its_tenants_name_and_says_what_it_asks(
    stored_ledger: Ledger,
    mailing: Workers,
    smtp: tuple[Inbox, int],
    language: str,
    asks: str,
    gives: str,
) -> None:
    """SPEC 12: the tenant's name, never the friendly name; who asks (the partner's contact
    too), what it gives, what consenting means, the deal size and the deadline, in both parts
    of the e-mail the real SMTP server received."""
    inbox, _ = smtp
    contacts = {
        "customer": {"name": "Nina", "email": "it@northwind.com", "language": language},
        "partner": {"name": "Pat Partner", "email": "pat@a.example"},
    }
    command = create(["E-AS"], value=NORTHWIND, name="Pilot up north", contacts=contacts)
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, command, days(0))
    stored_ledger.request_consent(ADMIN_A, claim_id, consent_request("20000.00"), days(1))
    mailing.run_once()
    (message,) = inbox.messages
    deal = "$20,000.00" if language == "en" else "US$ 20.000,00"  # spaces made plain
    contact = "Pat Partner (pat@a.example)"
    for subtype in ("plain", "html"):
        body = " ".join(text_of(message, subtype).replace("<strong>", "").split())
        body = body.replace("</strong>", "")
        assert asks in body and gives in body, body
        assert "Pilot up north" not in body  # the partner's name for the claim
        assert deal in body and contact in body
        assert Formats(language).long_date(days(10)) in body  # the assessment's 10 days
