"""The consent e-mail (R23) and its reminder (R24): plain text and HTML, the link on one line.

In the HTML part the link is words ("Answer the consent request"); the address follows in a
paragraph of its own that may break anywhere, so that a phone's screen holds the message.

What it says is the consent page's sentences (``ledger.words.consent``), in short, in the
language picked for the customer contact: who asks, what the engagement gives the customer,
what consenting means and that declining costs nothing, the deal size and the deadline.

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
from typing import Protocol

from ledger.words.consent import ANSWER_LINK, ONCE, REMINDER, ConsentFacts, ConsentWords

DEFAULT_FROM = "claims@claim-ledger.invalid"
WRAPS = "word-break:break-all;overflow-wrap:anywhere"
"""The style of the address's paragraph: it breaks anywhere (an address has no spaces)."""


@dataclass(frozen=True)
class ConsentMail:
    """What one consent e-mail says, and to whom, in the contact's language."""

    email_id: str
    recipient: str
    facts: ConsentFacts
    link: str
    requested_at: datetime
    """When the partner asked for it: the e-mail's Date, the same when it is sent again."""
    reminder: bool = False
    language: str = "en"

    @property
    def words(self) -> ConsentWords:
        return ConsentWords(self.facts, self.language)

    @property
    def subject(self) -> str:
        return self.words.subject(self.reminder)

    def _paragraphs(self) -> list[str]:
        """The body's paragraphs as text, before the link: the request, what it gives, what
        it means, the deal size and the partner's contact."""
        words = self.words
        about = [words.gives(), words.means(), words.declining()]
        facts = [fact for fact in (words.deal_size(), words.contact()) if fact]
        return [" ".join(about), "\n".join(facts)]

    def text(self) -> str:
        words = self.words
        reminder = [words.sentence(REMINDER)] if self.reminder else []
        paragraphs = [
            words.hello(),
            *reminder,
            words.asks(),
            *self._paragraphs(),
            words.answer_by(),
            self.link,
            words.sentence(ONCE),
        ]
        return "\n\n".join(paragraphs) + "\n"

    def html(self) -> str:
        words = self.words
        link = escape(self.link, quote=True)
        paragraphs = [
            escape(words.hello()),
            *([escape(words.sentence(REMINDER))] if self.reminder else []),
            words.asks(html=True),
            *(escape(p).replace("\n", "<br>\n") for p in self._paragraphs()),
            escape(words.answer_by()),
        ]
        body = "".join(f"<p>{p}</p>\n" for p in paragraphs)
        return (
            f'<!DOCTYPE html>\n<html lang="{escape(self.language)}">\n'
            '<head><meta charset="utf-8">\n'
            f"<title>{escape(self.subject)}</title></head>\n<body>\n"
            f'{body}<p><a href="{link}">{escape(words.sentence(ANSWER_LINK))}</a></p>\n'
            f'<p style="{WRAPS}">\n{link}\n</p>\n'
            f"<p>{escape(words.sentence(ONCE))}</p>\n"
            "</body>\n</html>\n"
        )

    def message(self, sender: str | None) -> EmailMessage:
        return mime_message(self, sender, self.requested_at)


class Mail(Protocol):
    """What an e-mail of the outbox says: its id, recipient, language, subject and parts."""

    @property
    def email_id(self) -> str: ...

    @property
    def recipient(self) -> str: ...

    @property
    def language(self) -> str: ...

    @property
    def subject(self) -> str: ...

    def text(self) -> str: ...

    def html(self) -> str: ...


def mime_message(mail: Mail, sender: str | None, sent_at: datetime) -> EmailMessage:
    """The e-mail as sent: its headers (a Message-ID from its id, the same on a retry), a
    plain-text part and an HTML alternative, in its language."""
    message = EmailMessage(policy=default)
    message["To"] = mail.recipient
    message["From"] = sender or DEFAULT_FROM
    message["Subject"] = mail.subject
    message["Message-ID"] = f"<{mail.email_id}@claim-ledger>"
    message["Date"] = format_datetime(sent_at)
    message.set_content(mail.text(), cte="8bit")
    message.add_alternative(mail.html(), subtype="html", cte="8bit")
    message["Content-Language"] = mail.language  # after the parts: set_content clears it
    return message
