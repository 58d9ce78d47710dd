"""The consent e-mail (R23) and its reminder (R24): plain text and HTML, the link on one line.

Both parts are sent as 8bit: no quoted-printable soft breaks can cut the link, which is
always on a line of its own (well under the 998 characters a mail line may have).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.policy import default
from html import escape

DEFAULT_FROM = "claims@claim-ledger.invalid"


@dataclass(frozen=True)
class ConsentMail:
    """What one consent e-mail says, and to whom."""

    email_id: str
    recipient: str
    partner: str
    engagement: str
    customer: str
    expires_at: datetime
    link: str
    reminder: bool = False

    @property
    def subject(self) -> str:
        asks = f"{self.partner} asks for your consent: {self.engagement}"
        return f"Reminder: {asks}" if self.reminder else asks

    def text(self) -> str:
        reminder = "This is a reminder; earlier links no longer work.\n\n" if self.reminder else ""
        return (
            f"Hello,\n\n{reminder}{self.partner} has nominated {self.customer} for "
            f"{self.engagement}. Please accept or decline by {self._deadline()}:\n\n"
            f"{self.link}\n\n"
            "The link works once and names this claim only. No account is needed.\n"
        )

    def html(self) -> str:
        reminder = (
            "<p>This is a reminder; earlier links no longer work.</p>\n" if self.reminder else ""
        )
        link = escape(self.link, quote=True)
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8">\n'
            f"<title>{escape(self.subject)}</title></head>\n<body>\n<p>Hello,</p>\n{reminder}"
            f"<p><strong>{escape(self.partner)}</strong> has nominated "
            f"<strong>{escape(self.customer)}</strong> for "
            f"<strong>{escape(self.engagement)}</strong>. "
            f"Please accept or decline by {escape(self._deadline())}:</p>\n"
            f'<p><a href="{link}">\n{link}\n</a></p>\n'
            "<p>The link works once and names this claim only. No account is needed.</p>\n"
            "</body>\n</html>\n"
        )

    def message(self, sender: str | None) -> EmailMessage:
        message = EmailMessage(policy=default)
        message["To"] = self.recipient
        message["From"] = sender or DEFAULT_FROM
        message["Subject"] = self.subject
        message["Message-ID"] = f"<{self.email_id}@claim-ledger>"
        message.set_content(self.text(), cte="8bit")
        message.add_alternative(self.html(), subtype="html", cte="8bit")
        return message

    def _deadline(self) -> str:
        return f"{self.expires_at.day} {self.expires_at:%B %Y}"
