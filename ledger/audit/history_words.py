"""A claim's history in words (SPEC 12): each event a line in the reader's language, who did
it in words ("by alice@contoso.example", "by the customer (...)", "by the system"), then the
values that matter to a person, labelled as the page names them, amounts and times formatted
for the reader ("Consent requested by alice@contoso.example: deal size $20,000.00").

It reads an event as the history view keeps it (its name, time, actor and fields as JSON), so
the claim page, which reads the view, and ``ledger history``, which reads the events, say the
same. Never a field's internal name, an event class's name or an id a person has no use for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from ledger.aggregates.base import ActorKind, DomainEvent
from ledger.audit.event_fields import event_details
from ledger.store.personal import ERASED
from ledger.words.i18n import N_, Formats, translations


class Recorded(Protocol):
    """One event of a claim as the audit trail keeps it (the history view's row)."""

    @property
    def version(self) -> int: ...
    @property
    def event(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def actor(self) -> Mapping[str, Any]: ...
    @property
    def data(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class RecordedEvent:
    """An event read from the store, as the history view would keep it."""

    version: int
    event: str
    occurred_at: datetime
    actor: Mapping[str, Any]
    data: Mapping[str, Any]

    @classmethod
    def of(cls, event: DomainEvent) -> RecordedEvent:
        actor = getattr(event, "actor", None)
        return cls(
            version=event.originator_version,
            event=type(event).__name__,
            occurred_at=event.occurred_at,
            actor={} if actor is None else actor.model_dump(mode="json"),
            data=event_details(event),
        )


@dataclass(frozen=True)
class HistoryLine:
    """An event as a person reads it: its number, its time, what happened and by whom, and
    the labelled values that matter (each ``(label, value)``)."""

    version: int
    time: str
    said: str
    values: tuple[tuple[str, str], ...]

    @property
    def text(self) -> str:
        """The whole line: ``said: label value; label value``."""
        if not self.values:
            return self.said
        return f"{self.said}: " + "; ".join(f"{label} {value}" for label, value in self.values)


SENTENCES = {
    "Added": N_("Customer added and claimed %(by)s"),
    "Claimed": N_("Known customer claimed %(by)s"),
    "ConsentRequested": N_("Consent requested %(by)s"),
    "ConsentReminderSent": N_("Consent e-mail sent again %(by)s"),
    "ConsentGiven": N_("Consent given %(by)s"),
    "Declined": N_("Consent declined %(by)s"),
    "Expired": N_("Claim expired %(by)s"),
    "Cancelled": N_("Claim canceled %(by)s"),
    "Submitted": N_("Claim submitted %(by)s"),
    "DocumentAttached": N_("Proof document uploaded %(by)s"),
    "ReviewStarted": N_("Review started %(by)s"),
    "InformationRequested": N_("Information requested %(by)s"),
    "Approved": N_("Claim approved %(by)s"),
    "Rejected": N_("Claim rejected %(by)s"),
    "Rejected final": N_("Claim rejected for good %(by)s"),
    "Disputed": N_("Rejection disputed %(by)s"),
    "ReferralCreated": N_("Referral opened %(by)s"),
    "UpgradedToCoSell": N_("Referral upgraded to co-sell %(by)s"),
}
"""What each event says, by the event's name ("Rejected final": a rejection that is final)."""
SOMETHING = N_("Change recorded %(by)s")
"""An event this module has no sentence for (a test holds every event type to one)."""

BY_USER = N_("by %(user)s")
BY_CUSTOMER = N_("by the customer (%(email)s)")
BY_SYSTEM = N_("by the system")

DEADLINES = {
    "consent": N_("customer consent deadline"),
    "submission": N_("first submission deadline"),
    "post_submission": N_("review completion deadline"),
    "dispute": N_("dispute deadline"),
}
PROOF = {
    "invoice": N_("Invoice"),
    "poe_document": N_("Proof of execution document"),
    "customer_survey": N_("Customer survey"),
    "partner_survey": N_("Partner survey"),
}
ID_TYPES = {
    "domain": N_("Domain name"),
    "tenant_id": N_("Tenant ID"),
    "tpid": N_("TPID (top parent ID)"),
    "azure_subscription_id": N_("Azure subscription ID"),
    "msx_opportunity_id": N_("MSX opportunity ID"),
}
ERASED_WORDS = N_("[erased]")

Values = list[tuple[str, str]]


class HistoryWords:
    """Says a claim's events in one language and time zone (``formats``); engagements are
    named by ``engagement_names`` (id -> name) where known."""

    def __init__(self, formats: Formats, engagement_names: Mapping[str, str] | None = None):
        self.formats = formats
        self.engagement_names = dict(engagement_names or {})
        catalog = translations(formats.language)
        self._ = catalog.gettext
        self.ngettext = catalog.ngettext

    def lines(self, events: Sequence[Recorded]) -> list[HistoryLine]:
        return [self.line(event) for event in events]

    def line(self, event: Recorded) -> HistoryLine:
        data = event.data
        name = "Rejected final" if event.event == "Rejected" and data.get("final") else event.event
        sentence = self._(SENTENCES.get(name, SOMETHING)) % {"by": self.actor(event.actor)}
        values = VALUES.get(event.event, _nothing)(self, event)
        return HistoryLine(
            version=event.version,
            time=self.formats.datetime(event.occurred_at),
            said=sentence,
            values=tuple((label, value) for label, value in values if value),
        )

    # -- words for the parts of an event ---------------------------------------------------

    def actor(self, actor: Mapping[str, Any]) -> str:
        """Who did it: a user by their id (an e-mail address), the customer by their contact's
        address, the ledger itself (deadlines, policies) as the system."""
        kind, who = actor.get("kind"), str(actor.get("id", ""))
        if kind == ActorKind.CUSTOMER.value:
            return self._(BY_CUSTOMER) % {"email": self.text(who)}
        if kind == ActorKind.USER.value and who:
            return self._(BY_USER) % {"user": who}
        return self._(BY_SYSTEM)

    def text(self, value: object) -> str:
        """Recorded text as it is (on one line), erased personal data in words."""
        if value is None:
            return ""
        said = " ".join(str(value).split())
        return self._(ERASED_WORDS) if said == ERASED else said

    def money(self, amount: object) -> str:
        try:
            return "" if amount is None else self.formats.usd(Decimal(str(amount)))
        except InvalidOperation:
            return str(amount)

    def moment(self, at: object) -> str:
        return self.formats.datetime(_time(at))

    def deadline(self, at: object, since: datetime) -> str:
        """A deadline's time and how many days after ``since`` it falls."""
        moment = _time(at)
        if moment is None:
            return ""
        days = round((moment - since).total_seconds() / 86400)
        return f"{self.formats.datetime(moment)} ({self.days(days)})"

    def days(self, count: int) -> str:
        return self.ngettext("%(num)d day", "%(num)d days", count) % {"num": count}

    def hours(self, count: int) -> str:
        return self.ngettext("%(num)d hour", "%(num)d hours", count) % {"num": count}

    def contact(self, contact: object) -> str:
        """``Name (address)``; erased, ``[erased]`` once."""
        if not isinstance(contact, Mapping):
            return ""
        name, email = self.text(contact.get("name")), self.text(contact.get("email"))
        return name if name == email or not email else f"{name} ({email})"

    def customer_id(self, customer_id: object) -> str:
        if not isinstance(customer_id, Mapping):
            return ""
        kind = ID_TYPES.get(str(customer_id.get("type")))
        value = self.text(customer_id.get("value"))
        return f"{value} ({self._(kind)})" if kind else value

    def engagement(self, engagement_id: object) -> str:
        name = self.engagement_names.get(str(engagement_id))
        return f"{name} ({engagement_id})" if name else self.text(engagement_id)

    def proof_items(self, kinds: object) -> str:
        listed = kinds if isinstance(kinds, list) else []
        return ", ".join(self._(PROOF[k]) if k in PROOF else self.text(k) for k in listed)

    def proof_documents(self, documents: object) -> str:
        listed = documents if isinstance(documents, list) else []
        return ", ".join(
            f"{self.proof_items([d.get('kind')])}: {self.text(d.get('reference'))}"
            for d in listed
            if isinstance(d, Mapping)
        )


def _time(at: object) -> datetime | None:
    if isinstance(at, datetime):
        return at
    if not isinstance(at, str) or not at:
        return None
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


# -- the values of each event --------------------------------------------------------------


def _nothing(words: HistoryWords, event: Recorded) -> Values:
    return []


def _created(words: HistoryWords, event: Recorded) -> Values:
    """A new claim: the customer (its recorded name) and how it is known, the claim's name,
    the engagement, the contacts, the payout, the proof it will need, and its consent
    deadline."""
    _, data = words._, event.data
    tenant = data.get("resolved_tenant_id")
    shown_tenant = tenant if tenant != (data.get("customer_id") or {}).get("value") else None
    return [
        (_("customer"), words.text(data.get("customer_name"))),
        (_("customer id"), words.customer_id(data.get("customer_id"))),
        (_("claim name"), words.text(data.get("friendly_name"))),
        (_("tenant"), words.text(shown_tenant)),
        (_("engagement"), words.engagement(data.get("engagement_id"))),
        (_("location"), words.text(data.get("location_id"))),
        (_("customer contact"), words.contact((data.get("contacts") or {}).get("customer"))),
        (_("partner contact"), words.contact((data.get("contacts") or {}).get("partner"))),
        (_("reason for the e-mail domain"), words.text(data.get("tenant_mismatch_reason"))),
        *_payout_terms(words, data),
        (_("proof required"), words.proof_items(data.get("required_proof"))),
        (_(DEADLINES["consent"]), words.deadline(data.get("consent_deadline"), event.occurred_at)),
    ]


def _payout_terms(words: HistoryWords, data: Mapping[str, Any]) -> Values:
    _ = words._
    if data.get("payout_model") == "variable":
        proposed, hours = words.money(data.get("proposed_payout_usd")), data.get("hours")
        counted = "" if hours is None else f" ({words.hours(int(hours))})"
        return [(_("proposed payout"), proposed and proposed + counted)]
    return [(_("fixed payout"), words.money(data.get("fixed_payout_usd")))]


def _consent_requested(words: HistoryWords, event: Recorded) -> Values:
    _, data = words._, event.data
    contacts = data.get("contacts") or {}
    return [
        (_("deal size"), words.money(data.get("deal_size_usd"))),
        (_("customer contact"), words.contact(contacts.get("customer"))),
        (_("partner contact"), words.contact(contacts.get("partner"))),
    ]


def _consent_given(words: HistoryWords, event: Recorded) -> Values:
    _, data, at = words._, event.data, event.occurred_at
    return [
        (_(DEADLINES["submission"]), words.deadline(data.get("submission_deadline"), at)),
        (_(DEADLINES["post_submission"]), words.deadline(data.get("review_deadline"), at)),
    ]


def _expired(words: HistoryWords, event: Recorded) -> Values:
    label = DEADLINES.get(str(event.data.get("deadline")), N_("deadline"))
    return [(words._(label), words.moment(event.data.get("deadline_at")))]


def _reason(words: HistoryWords, event: Recorded) -> Values:
    return [(words._("reason"), words.text(event.data.get("reason")))]


def _submitted(words: HistoryWords, event: Recorded) -> Values:
    return [(words._("proof"), words.proof_documents(event.data.get("proof")))]


def _document_attached(words: HistoryWords, event: Recorded) -> Values:
    document = event.data.get("document") or {}
    return [
        (words._("proof"), words.proof_items([document.get("kind")])),
        (words._("file"), words.text(document.get("name"))),
        (words._("file hash (SHA-256)"), words.text(document.get("sha256"))),
    ]


def _information_requested(words: HistoryWords, event: Recorded) -> Values:
    return [(words._("comments"), words.text(event.data.get("comments")))]


def _approved(words: HistoryWords, event: Recorded) -> Values:
    return [(words._("payout"), words.money(event.data.get("payout_usd")))]


def _rejected(words: HistoryWords, event: Recorded) -> Values:
    at, data = event.occurred_at, event.data
    deadline = words.deadline(data.get("dispute_deadline"), at)
    return [*_reason(words, event), (words._(DEADLINES["dispute"]), deadline)]


def _disputed(words: HistoryWords, event: Recorded) -> Values:
    deadline = words.deadline(event.data.get("reset_deadline"), event.occurred_at)
    return [*_reason(words, event), (words._("deadline to resubmit"), deadline)]


def _referral(words: HistoryWords, event: Recorded) -> Values:
    return [(words._("referral"), words.text(event.data.get("referral_id")))]


VALUES: dict[str, Callable[[HistoryWords, Recorded], Values]] = {
    "Added": _created,
    "Claimed": _created,
    "ConsentRequested": _consent_requested,
    "ConsentGiven": _consent_given,
    "Expired": _expired,
    "Cancelled": _reason,
    "Submitted": _submitted,
    "DocumentAttached": _document_attached,
    "ReviewStarted": _reason,
    "InformationRequested": _information_requested,
    "Approved": _approved,
    "Rejected": _rejected,
    "Disputed": _disputed,
    "ReferralCreated": _referral,
    "UpgradedToCoSell": _referral,
}
"""The labelled values of each event, by its name (the others say all in their sentence)."""
