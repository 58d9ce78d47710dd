"""The consent e-mail (R23) and its reminder (R24): plain text and HTML, the link on one line.

Both parts are sent as 8bit: no quoted-printable soft breaks can cut the link, which is
always on a line of its own (well under the 998 characters a mail line may have).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import default
from email.utils import format_datetime
from html import escape

from babel.dates import format_date

DEFAULT_FROM = "claims@claim-ledger.invalid"


# The e-mail's words in each language a customer contact may be written to (SPEC 7).
WORDS = {
    "en": {
        "subject": "{partner} asks for your consent: {engagement}",
        "reminder_subject": "Reminder: {subject}",
        "hello": "Hello,",
        "reminder": "This is a reminder; earlier links no longer work.",
        "asks": "{partner} has nominated {customer} for {engagement}.",
        "answer": "Please accept or decline by {deadline}:",
        "once": "The link works once and names this claim only. No account is needed.",
    },
    "pt-BR": {
        "subject": "{partner} pede o seu consentimento: {engagement}",
        "reminder_subject": "Lembrete: {subject}",
        "hello": "Olá,",
        "reminder": "Este é um lembrete; os links anteriores não funcionam mais.",
        "asks": "{partner} indicou {customer} para {engagement}.",
        "answer": "Aceite ou recuse até {deadline}:",
        "once": "O link funciona uma única vez e vale só para esta declaração. "
        "Não é preciso ter uma conta.",
    },
}


@dataclass(frozen=True)
class ConsentMail:
    """What one consent e-mail says, and to whom, in the contact's language."""

    email_id: str
    recipient: str
    partner: str
    engagement: str
    customer: str
    expires_at: datetime
    link: str
    requested_at: datetime
    """When the partner asked for it: the e-mail's Date, the same when it is sent again."""
    reminder: bool = False
    language: str = "en"

    def _words(self) -> dict[str, str]:
        return WORDS.get(self.language, WORDS["en"])

    @property
    def subject(self) -> str:
        words = self._words()
        asks = words["subject"].format(partner=self.partner, engagement=self.engagement)
        return words["reminder_subject"].format(subject=asks) if self.reminder else asks

    def _asks(self) -> str:
        return self._words()["asks"].format(
            partner=self.partner, customer=self.customer, engagement=self.engagement
        )

    def text(self) -> str:
        words = self._words()
        reminder = f"{words['reminder']}\n\n" if self.reminder else ""
        return (
            f"{words['hello']}\n\n{reminder}{self._asks()} "
            f"{words['answer'].format(deadline=self._deadline())}\n\n"
            f"{self.link}\n\n{words['once']}\n"
        )

    def html(self) -> str:
        words = self._words()
        reminder = f"<p>{escape(words['reminder'])}</p>\n" if self.reminder else ""
        link = escape(self.link, quote=True)
        asks = words["asks"].format(
            partner=f"<strong>{escape(self.partner)}</strong>",
            customer=f"<strong>{escape(self.customer)}</strong>",
            engagement=f"<strong>{escape(self.engagement)}</strong>",
        )
        answer = escape(words["answer"].format(deadline=self._deadline()))
        return (
            f'<!DOCTYPE html>\n<html lang="{escape(self.language)}">\n'
            '<head><meta charset="utf-8">\n'
            f"<title>{escape(self.subject)}</title></head>\n<body>\n"
            f"<p>{escape(words['hello'])}</p>\n{reminder}"
            f"<p>{asks} {answer}</p>\n"
            f'<p><a href="{link}">\n{link}\n</a></p>\n'
            f"<p>{escape(words['once'])}</p>\n"
            "</body>\n</html>\n"
        )

    def message(self, sender: str | None) -> EmailMessage:
        message = EmailMessage(policy=default)
        message["To"] = self.recipient
        message["From"] = sender or DEFAULT_FROM
        message["Subject"] = self.subject
        message["Message-ID"] = f"<{self.email_id}@claim-ledger>"
        message["Date"] = format_datetime(self.requested_at)
        message.set_content(self.text(), cte="8bit")
        message.add_alternative(self.html(), subtype="html", cte="8bit")
        message["Content-Language"] = self.language  # after the parts: set_content clears it
        return message

    def _deadline(self) -> str:
        return format_date(self.expires_at, format="long", locale=self.language.replace("-", "_"))
