"""The partner contact's notifications in the outbox: what happened to the claim (consent
given or declined, information requested, approved, rejected, expired), one e-mail per event,
and the reminders of a running deadline (``ledger.policies.reminders`` records those).

Each is an outbox row like a consent e-mail's, addressed to the claim's partner contact (its
address sealed under the contact's key, as the events keep it), so that delivery, ``ledger
outbox`` and erasure treat them alike. Its id follows from the claim and the event's version
(or the deadline), so that a replay writes the same e-mails again, which the deliveries
already know.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, uuid5

from ledger.aggregates.claim import GOVERNING_DEADLINE, Claim, ClaimFacts
from ledger.projections.base import ts

NOTICES_NAMESPACE = uuid5(NAMESPACE_URL, "https://claim-ledger.dev/email/partner")
CONSENT_KINDS = ("consent_request", "consent_reminder")
"""The customer's consent e-mails; every other kind of the outbox is the partner's."""
REMINDER = "deadline_reminder"


def notice_kind(event: Claim.Event) -> str | None:
    """The kind of the partner's e-mail ``event`` calls for; None if it calls for none."""
    if isinstance(event, Claim.Rejected):
        return "rejected_final" if event.final else "rejected"
    kinds: dict[type[Claim.Event], str] = {
        Claim.ConsentGiven: "consent_given",
        Claim.Declined: "consent_declined",
        Claim.InformationRequested: "information_requested",
        Claim.Approved: "approved",
        Claim.Expired: "expired",
    }
    return kinds.get(type(event))


def _detail(event: Claim.Event) -> str | None:
    """What the e-mail quotes: the reviewer's words, or which deadline passed."""
    if isinstance(event, Claim.InformationRequested):
        return event.comments
    if isinstance(event, Claim.Rejected):
        return event.reason
    if isinstance(event, Claim.Expired):
        return event.deadline.value
    return None


def notice_row(event: Claim.Event, facts: ClaimFacts, since: str | None) -> list[Any] | None:
    """The outbox row of the partner's e-mail about ``event`` (``facts``: the claim after
    it); None if it calls for none. An event older than ``since`` (the store notified no one
    then) is written superseded: never sent."""
    kind = notice_kind(event)
    if kind is None:
        return None
    claim_id, occurred = str(facts.claim_id), ts(event.timestamp)
    governing = GOVERNING_DEADLINE.get(facts.state)
    return [
        str(uuid5(NOTICES_NAMESPACE, f"{claim_id}/{event.originator_version}")),
        claim_id,
        "",
        kind,
        facts.contacts.partner.email,
        facts.terms.friendly_name,
        facts.terms.engagement_id,
        "" if governing is None else ts(facts.deadlines[governing]),
        occurred,
        int(since is not None and occurred < since),
        _detail(event),
    ]


def reminder_id(claim_id: str, deadline_kind: str, deadline: str) -> str:
    """One reminder per running deadline: a deadline that moves gets one of its own."""
    return str(uuid5(NOTICES_NAMESPACE, f"{claim_id}/reminder/{deadline_kind}/{deadline}"))
