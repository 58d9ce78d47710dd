"""The outbox's e-mails, delivered over SMTP or written to files: the customer's consent
e-mails (R23, R24) and the partner contact's notifications (``ledger.projections.notices``,
``ledger.policies.reminders``).

Delivery is recorded in ``mail_deliveries``, which a replay never rebuilds: an e-mail is
claimed there ('sending') before it is sent and marked after, so that two workers never send
it at the same time and a delivered one is never sent again. A worker that dies between
claiming and marking leaves it 'sending' (listed as stuck meanwhile); after
``LEDGER_MAIL_RETRY_SECONDS`` (five minutes) another round takes it over and sends it again
with the same ``Message-ID``, so that it is delivered at least once and a receiver drops the
duplicate. An SMTP refusal releases the claim and the e-mail is tried again. Without
LEDGER_SMTP_HOST, each e-mail is written as an ``.eml`` file to the mail folder (channel
'file') and logged with its link.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
from datetime import datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from uuid import UUID

from ledger.aggregates.values import one_line
from ledger.domain.catalog import Catalog
from ledger.policies.consent_message import ConsentMail
from ledger.policies.partner_message import PartnerMail, partner_mail, still_due
from ledger.projections.base import parse_ts, ts
from ledger.projections.claims import Status, status
from ledger.projections.notices import CONSENT_KINDS
from ledger.projections.store import ViewStore
from ledger.service.settings import Settings
from ledger.service.tokens import ConsentTokens
from ledger.store.personal import ERASED
from ledger.words.consent import ConsentFacts

log = logging.getLogger("ledger.mail")
Mail = ConsentMail | PartnerMail
"""An e-mail of the outbox: the customer's consent e-mail or a partner's notification."""


_COLUMNS = (
    "email_id, claim_id, link_id, kind, recipient, customer_name, engagement_id, expires_at, "
    "created_at, superseded, detail"
)
_OUTBOX = (
    "SELECT o.*, c.partner_id, c.contacts AS claim_contacts, c.deal_size_usd, "
    "c.customer_name AS claim_customer_name, c.customer_value, c.state AS claim_state, "
    "c.running_deadline, c.payout_usd, d.channel, d.delivered_at, d.file_name, d.public_url "
    f"FROM (SELECT {_COLUMNS} FROM {{p}}outbox "
    f"UNION ALL SELECT {_COLUMNS} FROM deadline_reminders) o "
    "LEFT JOIN {p}claims c ON c.claim_id = o.claim_id "
    "LEFT JOIN mail_deliveries d ON d.email_id = o.email_id"
)


def _contacts(row: dict[str, Any]) -> dict[str, Any]:
    """The claim's contacts (opened), as the claims view holds them; none if it has none."""
    contacts = row.get("claim_contacts")
    return dict(json.loads(contacts)) if contacts else {}


def _language(contacts: dict[str, Any]) -> str:
    """The language the partner picked for the customer contact (English by default)."""
    return str(contacts.get("customer", {}).get("language") or "en")


def write_eml(folder: Path, name: str, message: EmailMessage) -> Path:
    """Write ``message`` as ``folder/name``, whole or not at all (a reader never sees half)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    partial = folder / f".{name}.partial"
    partial.write_bytes(message.as_bytes())
    os.replace(partial, path)
    return path


class ConsentMailer:
    def __init__(
        self,
        store: ViewStore,
        settings: Settings,
        catalog: Catalog,
        tokens: ConsentTokens,
    ) -> None:
        self.store = store
        self.settings = settings
        self.catalog = catalog
        self.tokens = tokens
        self.stuck_after = timedelta(seconds=settings.mail_retry_seconds)
        """How long an e-mail may stay 'sending' before another round sends it again."""

    def pending(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """E-mails of the latest consent links that no one has delivered yet (and, given
        ``now``, those a worker took for sending longer than ``stuck_after`` ago)."""
        stuck_before = ts(now - self.stuck_after) if now is not None else ""
        with self.store.transaction() as tx:
            return tx.rows(
                _OUTBOX + " WHERE o.superseded = 0 AND (d.email_id IS NULL OR "
                "(d.channel = 'sending' AND d.delivered_at < ?)) "
                "ORDER BY o.created_at, o.email_id",
                [stuck_before],
            )

    def outbox(
        self, claim_id: UUID | None = None, only: Status | None = None
    ) -> list[dict[str, Any]]:
        """The consent e-mails (of one claim, or all), oldest first, with their delivery and
        ``status``; ``only`` keeps those of one status."""
        sql, args = _OUTBOX, []
        if claim_id is not None:
            sql, args = sql + " WHERE o.claim_id = ?", [str(claim_id)]
        with self.store.transaction() as tx:
            rows = tx.rows(sql + " ORDER BY o.created_at, o.email_id", args)
        for row in rows:
            row["status"] = status(row)
        return [row for row in rows if only is None or row["status"] == only]

    def stuck(self) -> list[dict[str, Any]]:
        """E-mails claimed for sending by a worker that stopped before it marked them."""
        with self.store.transaction() as tx:
            return tx.rows("SELECT * FROM mail_deliveries WHERE channel = 'sending'")

    def link(self, row: dict[str, Any]) -> str:
        """The e-mail's link: as it was sent (tokens are deterministic), or will be sent."""
        token = self.tokens.issue(
            UUID(row["claim_id"]), UUID(row["link_id"]), parse_ts(row["expires_at"])
        )
        base = row.get("public_url") or self.settings.public_url
        return f"{base.rstrip('/')}/consent/{token}"

    def facts(self, row: dict[str, Any]) -> ConsentFacts:
        """What the e-mail of an outbox row tells the customer: the customer's name as the
        claim recorded it (its id when it recorded none: the friendly name is the partner's
        name for the claim, never the customer's), the partner's and the engagement's from the
        catalog, the partner's contact and the deal size from the claim; every name on one
        line (a line break in a name starts no paragraph of its own)."""
        partner = self.catalog.partner_name(row["partner_id"]) if row.get("partner_id") else None
        engagement = self.catalog.engagement(row["engagement_id"])
        contact = _contacts(row).get("partner", {})
        deal = row.get("deal_size_usd")
        return ConsentFacts(
            partner=one_line(partner or "A partner"),
            partner_contact=one_line(str(contact.get("name", ""))),
            partner_email=one_line(str(contact.get("email", ""))),
            customer=one_line(row.get("claim_customer_name") or row.get("customer_value") or ""),
            engagement=one_line(self.catalog.engagement_name(row["engagement_id"])),
            kind=None if engagement is None else engagement.kind.value,
            deal_size_usd=None if deal is None else Decimal(deal),
            expires_at=parse_ts(row["expires_at"]),
            customer_contact=one_line(str(_contacts(row).get("customer", {}).get("name", ""))),
        )

    def mail(self, row: dict[str, Any]) -> Mail:
        """What the e-mail of an outbox row says, with a fresh link: the customer's consent
        e-mail, or a notification to the partner contact."""
        if row["kind"] not in CONSENT_KINDS:
            base = row.get("public_url") or self.settings.public_url
            return partner_mail(row, _contacts(row), self.catalog, base)
        return ConsentMail(
            email_id=row["email_id"],
            recipient=row["recipient"],
            facts=self.facts(row),
            link=self.link(row),
            requested_at=parse_ts(row["created_at"]),
            reminder=row["kind"] == "consent_reminder",
            language=_language(_contacts(row)),
        )

    def message(self, row: dict[str, Any]) -> EmailMessage:
        return self.mail(row).message(self.settings.mail_from)

    def _claim(self, email_id: str, now: datetime) -> bool:
        """Take the e-mail for sending, or take over one stuck in 'sending' since before
        ``stuck_after``; False if another worker has it (or it was delivered)."""
        with self.store.transaction(commit=True) as tx:
            taken = tx.execute(
                "INSERT INTO mail_deliveries (email_id, channel, delivered_at) "
                "VALUES (?, 'sending', ?) ON CONFLICT DO NOTHING",
                (email_id, ts(now)),
            )
            if taken:
                return True
            return (
                tx.execute(
                    "UPDATE mail_deliveries SET delivered_at = ? WHERE email_id = ? "
                    "AND channel = 'sending' AND delivered_at < ?",
                    (ts(now), email_id, ts(now - self.stuck_after)),
                )
                == 1
            )

    def _mark(
        self, email_id: str, channel: str | None, now: datetime, file_name: str | None = None
    ) -> None:
        with self.store.transaction(commit=True) as tx:
            if channel is None:
                tx.execute("DELETE FROM mail_deliveries WHERE email_id = ?", (email_id,))
            else:
                tx.execute(
                    "UPDATE mail_deliveries SET channel = ?, delivered_at = ?, file_name = ?, "
                    "public_url = ? WHERE email_id = ?",
                    (channel, ts(now), file_name, self.settings.public_url, email_id),
                )

    def deliver_pending(self, now: datetime) -> int:
        """Send (or, without SMTP settings, write to a file) every pending e-mail once."""
        delivered = 0
        for row in self.pending(now):
            if not self._claim(row["email_id"], now):
                continue
            mail = self.mail(row)
            if mail.recipient == ERASED:  # the contact was erased: never sent, never retried
                self._mark(row["email_id"], "erased", now)
                continue
            if not still_due(row):  # a reminder of a deadline that no longer runs
                self._mark(row["email_id"], "superseded", now)
                continue
            channel, file_name = self._deliver(mail, now)
            self._mark(row["email_id"], channel, now, file_name)
            delivered += channel is not None
        return delivered

    def _deliver(self, mail: Mail, now: datetime) -> tuple[str | None, str | None]:
        """Over SMTP, or to a file without SMTP settings: the channel (None: released, to be
        tried again) and the file's name."""
        message = mail.message(self.settings.mail_from)
        try:
            if not self.settings.smtp_host:
                return "file", self._write(mail, message, now)
            with smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port, timeout=30) as smtp:
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as error:
            log.warning("could not deliver %s: %s; will retry", mail.email_id, error)
            return None, None
        return "smtp", None

    def _write(self, mail: Mail, message: EmailMessage, now: datetime) -> str:
        """The e-mail as an .eml file in the mail folder, and one readable log line; its name."""
        name = f"{now:%Y%m%d-%H%M%S}-{mail.email_id}.eml"
        path = write_eml(self.settings.mail_directory(), name, message)
        log.info(  # not the address: personal data stays out of the logs
            "e-mail %s (SMTP not configured, saved as %s): %s; link: %s",
            mail.email_id,
            path,
            mail.subject,
            mail.link,
            extra={"email_id": mail.email_id, "subject": mail.subject, "link": mail.link},
        )
        return name
