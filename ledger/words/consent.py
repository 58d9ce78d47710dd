"""What the customer is told when asked for consent (R23, R24, SPEC 12): the sentences the
consent e-mail and the consent page share, in the gettext catalogs, said in the language
picked for the customer contact.

Who asks (the partner and its contact), what the engagement is and gives the customer, what
consenting means, that declining costs nothing, the deal size and the deadline. The customer
is named by the directory's name of its tenant (its id when the claim recorded none); the
claim's friendly name is the partner's own and never stands in for the customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from html import escape

from ledger.words.i18n import N_, Formats, translations

SUBJECT = N_("%(partner)s asks for your consent: %(engagement)s")
REMINDER_SUBJECT = N_("Reminder: %(subject)s")
HELLO = N_("Hello,")
HELLO_NAME = N_("Hello %(name)s,")
"""The greeting, with the customer contact's name (``HELLO`` when the name is not known)."""
REMINDER = N_("This is a reminder; earlier links no longer work.")
ASKS = N_(
    "%(partner)s asks %(customer)s to confirm the engagement %(engagement)s, so that "
    "%(partner)s may claim programme funding for it."
)
GIVES = {
    "assessment": N_(
        "An assessment delivered by %(partner)s and funded by the programme, at no cost to "
        "%(customer)s."
    ),
    "workshop": N_(
        "A workshop delivered by %(partner)s and funded by the programme, at no cost to "
        "%(customer)s."
    ),
    "project": N_(
        "A project delivered by %(partner)s and funded by the programme, at no cost to "
        "%(customer)s."
    ),
}
"""What the engagement gives the customer, by its kind (the project sizes alike)."""
GIVES_ANY = N_(
    "An engagement delivered by %(partner)s and funded by the programme, at no cost to "
    "%(customer)s."
)
"""An engagement whose kind is not known (one that has left the catalog)."""
MEANS = N_(
    "If you accept, %(partner)s may claim programme funding for this engagement with "
    "%(customer)s, and %(customer)s is named to the programme, with your name and e-mail "
    "address as its contact."
)
DECLINING = N_(
    "Declining costs you nothing and changes nothing else: %(partner)s then cannot claim "
    "programme funding for this engagement."
)
CONTACT = N_("Your contact at %(partner)s: %(name)s (%(email)s)")
DEAL_SIZE = N_("Estimated deal size: %(amount)s")
ANSWER_BY = N_("Please accept or decline by %(deadline)s:")
ANSWER_LINK = N_("Answer the consent request")
"""The consent link's words (the address itself follows, on a line of its own)."""
ONCE = N_("The link works once and names this claim only. No account is needed.")


@dataclass(frozen=True)
class ConsentFacts:
    """What a consent request tells the customer: every name on one line already."""

    partner: str
    partner_contact: str
    partner_email: str
    customer: str
    """The directory's name of the customer's tenant; its id when the claim recorded none."""
    engagement: str
    kind: str | None
    """The engagement's kind (``workshop``, ``project_m``, ...); None once it left the catalog."""
    deal_size_usd: Decimal | None
    expires_at: datetime
    customer_contact: str = ""
    """The customer contact's name, to greet them by (empty: not known, a plain greeting)."""


def _strong(value: str) -> str:
    return f"<strong>{escape(value)}</strong>"


class ConsentWords:
    """The consent request's sentences in ``language``, as text, or as HTML (``html=True``:
    the sentence escaped, the names put in it escaped and in bold)."""

    def __init__(self, facts: ConsentFacts, language: str) -> None:
        self.facts = facts
        self.language = language
        self.formats = Formats(language)
        self._gettext = translations(language).gettext

    def say(self, message: str, *, html: bool = False, **values: str) -> str:
        """``message`` translated, with ``values`` put in."""
        text = self._gettext(message)
        if not html:
            return text % values
        return escape(text) % {name: _strong(value) for name, value in values.items()}

    def subject(self, reminder: bool = False) -> str:
        facts = self.facts
        asks = self.say(SUBJECT, partner=facts.partner, engagement=facts.engagement)
        return self.say(REMINDER_SUBJECT, subject=asks) if reminder else asks

    def asks(self, html: bool = False) -> str:
        """Who asks whom to confirm what: the request in one sentence."""
        facts = self.facts
        return self.say(
            ASKS,
            html=html,
            partner=facts.partner,
            customer=facts.customer,
            engagement=facts.engagement,
        )

    def gives(self) -> str:
        """What the engagement gives the customer, by its kind."""
        kind = self.facts.kind or ""
        message = GIVES.get("project" if kind.startswith("project") else kind, GIVES_ANY)
        return self.say(message, partner=self.facts.partner, customer=self.facts.customer)

    def means(self) -> str:
        """What consenting means: the claim, and what is shared with the programme."""
        return self.say(MEANS, partner=self.facts.partner, customer=self.facts.customer)

    def declining(self) -> str:
        return self.say(DECLINING, partner=self.facts.partner)

    def contact(self) -> str:
        """Who at the partner the customer can ask."""
        facts = self.facts
        return self.say(
            CONTACT, partner=facts.partner, name=facts.partner_contact, email=facts.partner_email
        )

    def deal_size(self) -> str | None:
        """The deal size as the reader writes amounts; None before one was given."""
        amount = self.facts.deal_size_usd
        return None if amount is None else self.say(DEAL_SIZE, amount=self.formats.usd(amount))

    def answer_by(self) -> str:
        deadline = self.formats.long_date(self.facts.expires_at)
        return self.say(ANSWER_BY, deadline=deadline)

    def hello(self) -> str:
        """The greeting: the customer contact by name when it is known."""
        name = self.facts.customer_contact
        return self.say(HELLO_NAME, name=name) if name else self.sentence(HELLO)

    def sentence(self, message: str) -> str:
        """A sentence with nothing put in (``HELLO``, ``REMINDER``, ``ANSWER_LINK``,
        ``ONCE``)."""
        return self._gettext(message)
