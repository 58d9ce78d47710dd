"""What the partner contact is told about a claim (``ledger.policies.partner_message``): the
sentences of each notification, in the gettext catalogs, said in the contact's language.

Who (the contact, greeted by name), which claim (its friendly name, the customer's name and
the engagement's), what happened, the reviewer's words where there are any, and what to do
next, with the deadline when one runs. Never a slug, a state's key or a rule id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from html import escape

from ledger.words.i18n import N_, Formats, translations

HELLO = N_("Hello,")
HELLO_NAME = N_("Hello %(name)s,")
SUBJECTS = {
    "consent_given": N_("%(customer)s gave consent: %(claim_name)s"),
    "consent_declined": N_("%(customer)s declined consent: %(claim_name)s"),
    "information_requested": N_("Information requested: %(claim_name)s"),
    "approved": N_("Claim approved: %(claim_name)s"),
    "rejected": N_("Claim rejected: %(claim_name)s"),
    "rejected_final": N_("Claim rejected for good: %(claim_name)s"),
    "expired": N_("Claim expired: %(claim_name)s"),
    "deadline_reminder": N_("Deadline on %(deadline)s: %(claim_name)s"),
}
HAPPENED = {
    "consent_given": N_(
        "%(customer)s accepted the consent request for your claim %(claim_name)s (%(engagement)s)."
    ),
    "consent_declined": N_(
        "%(customer)s declined the consent request for your claim %(claim_name)s (%(engagement)s)."
    ),
    "information_requested": N_(
        "The programme's reviewer needs more information about your claim %(claim_name)s for "
        "%(customer)s (%(engagement)s)."
    ),
    "approved": N_("Your claim %(claim_name)s for %(customer)s (%(engagement)s) was approved."),
    "rejected": N_("Your claim %(claim_name)s for %(customer)s (%(engagement)s) was rejected."),
    "rejected_final": N_(
        "Your claim %(claim_name)s for %(customer)s (%(engagement)s) was rejected after its "
        "dispute."
    ),
    "expired": N_("Your claim %(claim_name)s for %(customer)s (%(engagement)s) has expired."),
    "deadline_reminder": N_(
        "Your claim %(claim_name)s for %(customer)s (%(engagement)s) has a deadline on "
        "%(deadline)s."
    ),
}
WHY_EXPIRED = {
    "consent": N_("The customer's consent was not received in time."),
    "submission": N_("The proof of execution was not submitted in time."),
    "post_submission": N_("The information the reviewer asked for was not added in time."),
    "dispute": N_("The time to dispute the rejection, or to submit again after it, ran out."),
}
QUOTED = {
    "information_requested": N_("The reviewer's comments:"),
    "rejected": N_("The reason given:"),
    "rejected_final": N_("The reason given:"),
}
PAYOUT = N_("Approved payout: %(amount)s")
NEXT = {
    "consent_given": N_(
        "Next: deliver the engagement and submit the proof of execution by %(deadline)s."
    ),
    "consent_declined": N_(
        "The claim is closed: the programme funds an engagement only with the customer's consent."
    ),
    "information_requested": N_(
        "Next: add the information on the claim's page and submit it again by %(deadline)s."
    ),
    "approved": N_("Nothing more is needed from you."),
    "rejected": N_(
        "If you disagree, you may dispute the decision on the claim's page by %(deadline)s."
    ),
    "rejected_final": N_("This decision is final: the claim is closed."),
    "expired": N_("The claim is closed; nothing more can be done on it."),
}
REMIND = {
    "customer_claimed": N_(
        "Next: request the customer's consent on the claim's page; without consent by "
        "%(deadline)s the claim expires."
    ),
    "awaiting_consent": N_(
        "The customer has not answered the consent request yet. You may send them a "
        "reminder from the claim's page; without consent by %(deadline)s the claim expires."
    ),
    "consent_received": N_(
        "Next: submit the proof of execution on the claim's page by %(deadline)s, or the "
        "claim expires."
    ),
    "partner_action_required": N_(
        "Next: add the information the reviewer asked for and submit again by %(deadline)s, "
        "or the claim expires."
    ),
    "rejected": N_(
        "If you disagree with the rejection, dispute it on the claim's page by %(deadline)s."
    ),
    "disputed": N_("Next: submit the claim again on its page by %(deadline)s, or it expires."),
}
OPEN = N_("Open the claim")
"""The claim page's link's words (the address itself follows, on a line of its own)."""
WHY_YOU = N_("You receive this e-mail as the partner contact of this claim.")


@dataclass(frozen=True)
class NoticeFacts:
    """What a partner notification tells: every name on one line already."""

    kind: str
    contact: str
    """The partner contact's name, to greet them by (empty: not known)."""
    claim: str
    customer: str
    engagement: str
    deadline: datetime | None = None
    detail: str | None = None
    """The reviewer's words; for an expiry, which deadline passed."""
    state: str | None = None
    """For a reminder: the claim's state, which says what is to be done."""
    payout_usd: Decimal | None = None


class NoticeWords:
    """A notification's sentences in ``language``, as text or HTML (the names in bold)."""

    def __init__(self, facts: NoticeFacts, language: str) -> None:
        self.facts = facts
        self.formats = Formats(language)
        self._gettext = translations(language).gettext

    def say(self, message: str, *, html: bool = False) -> str:
        """``message`` translated, with the claim's names and the deadline put in."""
        facts = self.facts
        values = {
            "claim_name": facts.claim,
            "customer": facts.customer,
            "engagement": facts.engagement,
            "deadline": self.formats.long_date(facts.deadline),
            "name": facts.contact,
            "amount": self.formats.usd(facts.payout_usd),
        }
        text = self._gettext(message)
        if not html:
            return text % values
        return escape(text) % {k: f"<strong>{escape(v)}</strong>" for k, v in values.items()}

    def subject(self) -> str:
        return self.say(SUBJECTS[self.facts.kind])

    def hello(self) -> str:
        return self.say(HELLO_NAME if self.facts.contact else HELLO)

    def happened(self, html: bool = False) -> str:
        """What happened, in one sentence (and, for an expiry, why)."""
        said = self.say(HAPPENED[self.facts.kind], html=html)
        why = WHY_EXPIRED.get(self.facts.detail or "") if self.facts.kind == "expired" else None
        return said if why is None else f"{said} {self.say(why, html=html)}"

    def quoted(self) -> tuple[str, str] | None:
        """The reviewer's words and what they are, when the e-mail quotes them."""
        label = QUOTED.get(self.facts.kind)
        if label is None or not self.facts.detail:
            return None
        return self.say(label), self.facts.detail

    def payout(self) -> str | None:
        known = self.facts.kind == "approved" and self.facts.payout_usd is not None
        return self.say(PAYOUT) if known else None

    def next_step(self, html: bool = False) -> str | None:
        """What to do next (None when there is nothing to say)."""
        facts = self.facts
        if facts.kind == "deadline_reminder":
            message = REMIND.get(facts.state or "")
        else:
            message = NEXT.get(facts.kind)
        return None if message is None else self.say(message, html=html)

    def sentence(self, message: str) -> str:
        """A sentence with nothing put in (``OPEN``, ``WHY_YOU``)."""
        return self._gettext(message)
