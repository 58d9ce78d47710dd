"""The partner contact's notification e-mail: plain text and HTML, the claim page's link on a
line of its own, in the contact's language (``ledger.words.notices`` says what).

Built like the consent e-mail (``ledger.policies.consent_message``): both parts sent as
8bit, the ``Message-ID`` the outbox's e-mail id (the same when it is sent again) and its
``Date`` when the claim's event happened (or the reminder was recorded).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from email.message import EmailMessage
from html import escape
from typing import Any

from ledger.aggregates.values import one_line
from ledger.domain.catalog import Catalog
from ledger.policies.consent_message import WRAPS, mime_message
from ledger.projections.base import parse_ts
from ledger.projections.notices import REMINDER
from ledger.words.notices import OPEN, WHY_YOU, NoticeFacts, NoticeWords


@dataclass(frozen=True)
class PartnerMail:
    """What one notification to a claim's partner contact says, and to whom."""

    email_id: str
    recipient: str
    facts: NoticeFacts
    link: str
    """The claim's page on the configured public address."""
    occurred_at: datetime
    language: str = "en"

    @property
    def words(self) -> NoticeWords:
        return NoticeWords(self.facts, self.language)

    @property
    def subject(self) -> str:
        return self.words.subject()

    def _quote(self, html: bool) -> list[str]:
        """The reviewer's words, quoted, after what they are (none when there are none)."""
        quoted = self.words.quoted()
        if quoted is None:
            return []
        label, said = quoted
        if html:
            lines = escape(said).replace("\n", "<br>\n")
            return [f"<p>{escape(label)}</p>\n<blockquote><p>{lines}</p></blockquote>"]
        return [label + "\n" + "\n".join(f"> {line}" for line in said.splitlines())]

    def _said(self, html: bool) -> list[str]:
        """The body before the link: text paragraphs, or HTML blocks."""
        words = self.words

        def block(text: str, escaped: bool = False) -> str:
            if not html:
                return text
            return f"<p>{text if escaped else escape(text)}</p>"

        blocks = [block(words.hello()), block(words.happened(html=html), escaped=True)]
        blocks += self._quote(html)
        payout, next_step = words.payout(), words.next_step(html=html)
        blocks += [block(payout)] if payout else []
        blocks += [block(next_step, escaped=True)] if next_step else []
        return blocks

    def text(self) -> str:
        words = self.words
        paragraphs = [*self._said(html=False), f"{words.sentence(OPEN)}:\n{self.link}"]
        return "\n\n".join([*paragraphs, words.sentence(WHY_YOU)]) + "\n"

    def html(self) -> str:
        words = self.words
        link = escape(self.link, quote=True)
        body = "".join(f"{b}\n" for b in self._said(html=True))
        return (
            f'<!DOCTYPE html>\n<html lang="{escape(self.language)}">\n'
            '<head><meta charset="utf-8">\n'
            f"<title>{escape(self.subject)}</title></head>\n<body>\n"
            f'{body}<p><a href="{link}">{escape(words.sentence(OPEN))}</a></p>\n'
            f'<p style="{WRAPS}">\n{link}\n</p>\n'
            f"<p>{escape(words.sentence(WHY_YOU))}</p>\n"
            "</body>\n</html>\n"
        )

    def message(self, sender: str | None) -> EmailMessage:
        return mime_message(self, sender, self.occurred_at)


def still_due(row: dict[str, Any]) -> bool:
    """Whether the e-mail of an outbox row is still to be sent: every one is, but the
    reminder of a deadline that no longer runs (the claim moved on before its turn)."""
    if row["kind"] != REMINDER:
        return True
    return bool(row.get("running_deadline") == row["expires_at"])


def partner_mail(
    row: dict[str, Any], contacts: dict[str, Any], catalog: Catalog, base_url: str
) -> PartnerMail:
    """The notification of an outbox row (joined with its claim's row), to the claim's
    partner contact in its language; every name on one line."""
    contact = contacts.get("partner", {})
    payout = row.get("payout_usd")
    facts = NoticeFacts(
        kind=row["kind"],
        contact=one_line(str(contact.get("name", ""))),
        claim=one_line(row["customer_name"]),
        customer=one_line(row.get("claim_customer_name") or row.get("customer_value") or ""),
        engagement=one_line(catalog.engagement_name(row["engagement_id"])),
        deadline=parse_ts(row["expires_at"]) if row["expires_at"] else None,
        detail=row.get("detail"),
        state=row.get("claim_state"),
        payout_usd=None if payout is None else Decimal(payout),
    )
    return PartnerMail(
        email_id=row["email_id"],
        recipient=row["recipient"],
        facts=facts,
        link=f"{base_url.rstrip('/')}/claims/{row['claim_id']}",
        occurred_at=parse_ts(row["created_at"]),
        language=str(contact.get("language") or "en"),
    )
