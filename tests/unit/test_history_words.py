"""A claim's history in words (SPEC 12): every event type of a Claim has a line, in English and
in Portuguese, that names who did it in words and labels its values, with no internal key,
event class name, actor kind, ISO timestamp or unformatted amount; and the times carry the
reader's time zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from ledger.aggregates.base import DomainEvent
from ledger.aggregates.claim import Claim
from ledger.aggregates.values import AttachedDocument
from ledger.audit.history_words import (
    SENTENCES,
    HistoryLine,
    HistoryWords,
    RecordedEvent,
)
from ledger.domain.catalog import ProofItem
from ledger.domain.commands import Cancel, Dispute, Review, Submit, parse
from ledger.service.application import Ledger
from ledger.words.i18n import LANGUAGES, Formats
from tests.factories import (
    ADMIN_A,
    AUDITOR,
    FABRIKAM,
    LITWARE,
    NORTHWIND,
    REVIEWER,
    consent_request,
    create,
    days,
    make_catalog,
    popo_ledger,
)

EVENT_CLASSES = sorted(
    name
    for name, cls in vars(Claim).items()
    if isinstance(cls, type)
    and issubclass(cls, Claim.Event)
    and cls not in {Claim.Event, Claim.Created}
)
"""Every event a claim records (a new one without a line fails below)."""
NAMES = {e.id: e.name for e in make_catalog().engagements}

ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}")
RAW_AMOUNT = re.compile(r"(?<![\w.,-])\d{4,}(?:\.\d+)?(?![\w.,-])")
"""An amount of four digits or more without the locale's grouping (years pass: see below)."""
INTERNAL_KEY = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b|\b[a-z_]+\.[a-z_]+\.[a-z_]+\b")
"""``eligibility_key``, ``deadline_days.consent_days``, ``contacts.customer.email``, ..."""
RAW_VALUES = ("(user)", "(customer)", "(system)", "true", "false", "None", "{", "[")


def review(action: str, reason: str | None = None) -> Review:
    return parse(Review, {"action": action, "reason": reason})


def documents(*kinds: str) -> Submit:
    references = {
        "invoice": "invoice-2026.pdf",
        "poe_document": "poe.pdf",
        "customer_survey": "survey-customer.pdf",
        "partner_survey": "survey-partner.pdf",
    }
    return parse(Submit, {"proof": [{"kind": k, "reference": references[k]} for k in kinds]})


ALL = ("invoice", "poe_document", "customer_survey", "partner_survey")


def _rejected_for_good(ledger: Ledger) -> UUID:
    """Added, consent asked, reminded, referral, consent, co-sell, submitted, reviewed,
    information asked, resubmitted, rejected, disputed, resubmitted, rejected for good; a
    proof document uploaded before the first submission."""
    (claim_id,) = ledger.create_claims(ADMIN_A, create(), days(0))
    ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(0.5))
    link = ledger.send_consent_reminder(ADMIN_A, claim_id, days(0.6))
    ledger.create_referral(claim_id, days(0.7))
    ledger.answer_consent(claim_id, link, True, days(1))
    ledger.upgrade_to_co_sell(claim_id, days(1.1))
    upload = AttachedDocument(
        id=uuid4(),
        kind=ProofItem.INVOICE,
        name="invoice-2026.pdf",
        media_type="application/pdf",
        size=1234,
        sha256="ab" * 32,
    )
    ledger.attach_document(ADMIN_A, claim_id, upload, days(1.5))
    ledger.submit(ADMIN_A, claim_id, documents(*ALL), days(2))
    ledger.review(REVIEWER, claim_id, review("start"), days(3))
    ledger.review(REVIEWER, claim_id, review("request_information", "sign the survey"), days(4))
    ledger.submit(ADMIN_A, claim_id, documents(*ALL), days(5))
    ledger.review(REVIEWER, claim_id, review("start"), days(6))
    ledger.review(REVIEWER, claim_id, review("reject", "the invoice is unreadable"), days(7))
    ledger.dispute(ADMIN_A, claim_id, parse(Dispute, {"reason": "it is readable"}), days(8))
    ledger.submit(ADMIN_A, claim_id, documents(*ALL), days(9))
    ledger.review(REVIEWER, claim_id, review("start"), days(10))
    ledger.review(REVIEWER, claim_id, review("reject_final", "still unreadable"), days(11))
    return claim_id


def _the_others(ledger: Ledger) -> list[UUID]:
    """Claimed and canceled; declined; expired; a variable payout approved."""
    claimed = create(["E-AS"], origin="claimed")
    (known,) = ledger.create_claims(ADMIN_A, claimed, days(12))
    ledger.cancel(ADMIN_A, known, parse(Cancel, {"reason": "chose another partner"}), days(13))
    northwind = create(
        ["E-AS"], value=NORTHWIND, name="Northwind", customer_email="a@northwind.com"
    )
    (declined,) = ledger.create_claims(ADMIN_A, northwind, days(12))
    link = ledger.request_consent(ADMIN_A, declined, consent_request(), days(12.5))
    ledger.answer_consent(declined, link, False, days(13))
    litware = create(["E-AS"], value=LITWARE, name="Litware", customer_email="a@litware.com")
    (expired,) = ledger.create_claims(ADMIN_A, litware, days(12))
    ledger.expire(expired, days(40))
    pilot = create(
        ["E-VAR"],
        id_type="msx_opportunity_id",
        value="7-LARGE00001",
        name="Northwind pilot",
        customer_email="b@northwind.com",
        hours=40,
    )
    (approved,) = ledger.create_claims(ADMIN_A, pilot, days(12))
    link = ledger.request_consent(ADMIN_A, approved, consent_request("80000.00"), days(12.5))
    ledger.answer_consent(approved, link, True, days(13))
    ledger.submit(ADMIN_A, approved, documents("invoice"), days(14))
    ledger.review(REVIEWER, approved, review("start"), days(15))
    ledger.review(REVIEWER, approved, review("approve"), days(16))
    return [known, declined, expired, approved]


@pytest.fixture(scope="module")
def histories() -> list[list[Claim.Event]]:
    ledger = popo_ledger()
    claims = [_rejected_for_good(ledger), *_the_others(ledger)]
    return [ledger.history(AUDITOR, claim_id) for claim_id in claims]


def said(events: list[Claim.Event], language: str, zone: str = "UTC") -> list[HistoryLine]:
    words = HistoryWords(Formats(language, zone), NAMES)
    return words.lines([RecordedEvent.of(e) for e in events])


def test_the_scenarios_record_every_event_type(histories: list[list[Claim.Event]]) -> None:
    recorded = {type(e).__name__ for events in histories for e in events}
    assert recorded == set(EVENT_CLASSES)
    assert set(EVENT_CLASSES) <= set(SENTENCES)  # every type has a sentence of its own
    finals = [e for events in histories for e in events if isinstance(e, Claim.Rejected)]
    assert {e.final for e in finals} == {True, False}


def _hidden_ids(events: list[Claim.Event]) -> set[str]:
    """Ids a person has no use for: the consent links, the claim's own id in the fields."""
    links = {str(getattr(e, "link_id", "")) for e in events} - {""}
    return links | {str(events[0].originator_id)}


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_every_line_is_words_for_people(histories: list[list[Claim.Event]], language: str) -> None:
    for events in histories:
        for event, line in zip(events, said(events, language), strict=True):
            text = f"{line.time} {line.text}"
            where = f"{type(event).__name__} in {language}: {text}"
            for name in EVENT_CLASSES:
                assert not re.search(rf"\b{name}\b", text), where
            assert not ISO_TIME.search(line.text), where
            assert not INTERNAL_KEY.search(text), where
            assert not [raw for raw in RAW_VALUES if raw in text], where
            assert not RAW_AMOUNT.search(re.sub(r"\b20\d\d\b", "", text)), where
            assert not [i for i in _hidden_ids(events) if i in text], where
            assert line.time.endswith(" UTC") and line.version == event.originator_version


def _line(events: list[Claim.Event], language: str, event_class: type[DomainEvent]) -> str:
    lines = said(events, language)
    return next(line.text for e, line in zip(events, lines, strict=True) if type(e) is event_class)


def test_the_lines_in_english(histories: list[list[Claim.Event]]) -> None:
    events = histories[0]
    added = _line(events, "en", Claim.Added)
    assert added.startswith("Customer added and claimed by ann@a.example: customer Fabrikam;")
    for part in (
        f"customer id {FABRIKAM} (Tenant ID)",
        "engagement Migration workshop (E-WS)",
        "customer contact Cora Customer (cio@fabrikam.com)",
        "fixed payout $5,000.00",
        "proof required Invoice, Proof of execution document, Customer survey, Partner survey",
        "customer consent deadline Apr 1, 2026, 9:00\u202fAM UTC (30 days)",
    ):
        assert part in added, added
    assert _line(events, "en", Claim.ConsentRequested).startswith(
        "Consent requested by ann@a.example: deal size $20,000.00;"
    )
    given = _line(events, "en", Claim.ConsentGiven)
    assert given.startswith("Consent given by the customer (cio@fabrikam.com): first submission")
    assert "review completion deadline Jul 1, 2026, 9:00\u202fAM UTC (120 days)" in given
    assert _line(events, "en", Claim.ReferralCreated).startswith("Referral opened by the system:")
    assert _line(events, "en", Claim.InformationRequested).endswith(": comments sign the survey")
    rejected = _line(events, "en", Claim.Rejected)
    assert "dispute deadline Apr 8, 2026, 9:00\u202fAM UTC (30 days)" in rejected
    approved = _line(histories[4], "en", Claim.Approved)
    assert approved == "Claim approved by rex@programme.example: payout $8,000.00"
    assert "proposed payout $8,000.00 (40 hours)" in _line(histories[4], "en", Claim.Added)
    expired = _line(histories[3], "en", Claim.Expired)
    assert expired == (
        "Claim expired by the system: customer consent deadline Mar 24, 2026, 9:00\u202fAM UTC"
    )


def test_the_customer_by_its_recorded_name_and_the_claim_by_its_own() -> None:
    """The customer is the tenant's recorded name; the friendly name is the claim's name."""
    added = RecordedEvent(
        version=1,
        event="Added",
        occurred_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        actor={"kind": "user", "id": "ann@a.example"},
        data={
            "friendly_name": "Wide World",
            "customer_name": "Wide World Importers",
            "customer_id": {"type": "tenant_id", "value": FABRIKAM},
        },
    )
    english = HistoryWords(Formats("en")).line(added).text
    assert english == (
        "Customer added and claimed by ann@a.example: customer Wide World Importers; "
        f"customer id {FABRIKAM} (Tenant ID); claim name Wide World"
    )
    portuguese = HistoryWords(Formats("pt-BR")).line(added).text
    assert "cliente Wide World Importers;" in portuguese
    assert portuguese.endswith("; nome da declaração Wide World")


def test_the_lines_in_portuguese(histories: list[list[Claim.Event]]) -> None:
    events = histories[0]
    assert _line(events, "pt-BR", Claim.ConsentRequested).startswith(
        "Consentimento solicitado por ann@a.example: tamanho do negócio US$\xa020.000,00;"
    )
    assert _line(events, "pt-BR", Claim.ConsentGiven).startswith(
        "Consentimento dado pelo cliente (cio@fabrikam.com): prazo do primeiro envio "
        "1 de jun. de 2026 09:00 UTC (90 dias)"
    )
    submitted = _line(events, "pt-BR", Claim.Submitted)
    assert "comprovação Fatura: invoice-2026.pdf, Documento de comprovação de execução" in submitted
    assert _line(events, "pt-BR", Claim.UpgradedToCoSell).startswith(
        "Indicação atualizada para venda conjunta pelo sistema: indicação "
    )
    canceled = _line(histories[1], "pt-BR", Claim.Cancelled)
    assert canceled == "Declaração cancelada por ann@a.example: motivo chose another partner"


def test_every_word_is_translated(histories: list[list[Claim.Event]]) -> None:
    """Each sentence and each label reads otherwise in Portuguese: none is left in English."""
    for events in histories:
        for en, pt in zip(said(events, "en"), said(events, "pt-BR"), strict=True):
            assert en.said != pt.said, en.said
            for (label, _), (rotulo, _) in zip(en.values, pt.values, strict=True):
                assert label != rotulo, label


def test_times_are_in_the_readers_zone(histories: list[list[Claim.Event]]) -> None:
    added = histories[0][0]
    assert added.occurred_at == datetime.fromisoformat("2026-03-02T09:00:00+00:00")
    (line, *_) = said(histories[0], "pt-BR", "America/Sao_Paulo")
    assert line.time == "2 de mar. de 2026 06:00 BRT"
    assert "1 de abr. de 2026 06:00 BRT (30 dias)" in line.text
    (line, *_) = said(histories[0], "en", "Asia/Kolkata")
    assert line.time == "Mar 2, 2026, 2:30\u202fPM IST"
    (line, *_) = said(histories[0], "en", "America/Sao_Paulo")
    assert line.time == "Mar 2, 2026, 6:00\u202fAM UTC-03:00"  # no short name in English


def test_erased_personal_data_reads_erased_in_words() -> None:
    words = {language: HistoryWords(Formats(language)) for language in LANGUAGES}
    erased = RecordedEvent(
        version=3,
        event="ConsentGiven",
        occurred_at=datetime.fromisoformat("2026-03-03T09:00:00+00:00"),
        actor={"kind": "customer", "id": "[erased]"},
        data={"link_id": "x", "submission_deadline": None, "review_deadline": None},
    )
    assert words["en"].line(erased).text == "Consent given by the customer ([erased])"
    assert words["pt-BR"].line(erased).text == "Consentimento dado pelo cliente ([apagado])"
    contact = {"name": "[erased]", "email": "[erased]"}
    assert words["pt-BR"].contact(contact) == "[apagado]"


def test_an_amount_always_has_two_decimals() -> None:
    words = HistoryWords(Formats("pt-BR"))
    assert words.money("20000") == "US$\xa020.000,00"
    assert words.money(Decimal("0")) == "US$\xa00,00"
