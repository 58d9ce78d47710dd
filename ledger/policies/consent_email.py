"""Consent e-mails (R23, R24): the outbox view, delivered over SMTP or logged.

Delivery is recorded in ``mail_deliveries``, which a replay never rebuilds: an e-mail is
claimed there ('sending') before it is sent and marked after, so no restart and no second
worker sends it twice. A worker that dies between claiming and marking leaves it 'sending'
for good: at most once, never twice. ``stuck`` lists those for an operator; the partner's
"Resend consent email" (R24) sends a new link. An SMTP refusal releases the claim and the
e-mail is tried again.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from uuid import UUID

from ledger.catalog import Catalog
from ledger.projections.base import parse_ts, ts
from ledger.projections.store import ViewStore
from ledger.settings import Settings
from ledger.tokens import ConsentTokens

log = logging.getLogger("ledger.mail")


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

    def pending(self) -> list[dict[str, Any]]:
        """E-mails of the latest consent links that no one has delivered yet."""
        with self.store.transaction() as tx:
            return tx.rows(
                "SELECT * FROM {p}outbox o WHERE o.superseded = 0 AND NOT EXISTS ("
                "SELECT 1 FROM mail_deliveries d WHERE d.email_id = o.email_id) "
                "ORDER BY o.created_at, o.email_id"
            )

    def outbox(self, claim_id: UUID | None = None) -> list[dict[str, Any]]:
        """The consent e-mails (of one claim, or all), oldest first, with their delivery."""
        sql = (
            "SELECT o.*, d.channel, d.delivered_at FROM {p}outbox o "
            "LEFT JOIN mail_deliveries d ON d.email_id = o.email_id"
        )
        args: list[Any] = []
        if claim_id is not None:
            sql, args = sql + " WHERE o.claim_id = ?", [str(claim_id)]
        with self.store.transaction() as tx:
            return tx.rows(sql + " ORDER BY o.created_at, o.email_id", args)

    def stuck(self) -> list[dict[str, Any]]:
        """E-mails claimed for sending by a worker that stopped before it marked them."""
        with self.store.transaction() as tx:
            return tx.rows("SELECT * FROM mail_deliveries WHERE channel = 'sending'")

    def link(self, row: dict[str, Any]) -> str:
        token = self.tokens.issue(
            UUID(row["claim_id"]), UUID(row["link_id"]), parse_ts(row["expires_at"])
        )
        return f"{self.settings.public_url.rstrip('/')}/consent/{token}"

    def message(self, row: dict[str, Any]) -> EmailMessage:
        engagement = self.catalog.engagement(row["engagement_id"])
        title = engagement.name if engagement else row["engagement_id"]
        expires = parse_ts(row["expires_at"]).strftime("%d %B %Y")
        message = EmailMessage()
        message["To"] = row["recipient"]
        message["From"] = self.settings.mail_from or "claims@claim-ledger.invalid"
        message["Subject"] = f"Your consent is requested: {title}"
        message["Message-ID"] = f"<{row['email_id']}@claim-ledger>"
        reminder = (
            "This is a reminder; earlier links no longer work.\n\n"
            if (row["kind"] == "consent_reminder")
            else ""
        )
        message.set_content(
            f"Hello,\n\n{reminder}A partner has nominated {row['customer_name']} for "
            f"{title}. Please accept or decline by {expires}:\n\n{self.link(row)}\n\n"
            "The link works once and names this claim only. No account is needed.\n"
        )
        return message

    def _claim(self, email_id: str, now: datetime) -> bool:
        """Take the e-mail for sending; False if another worker (or an earlier run) has."""
        with self.store.transaction(commit=True) as tx:
            return (
                tx.execute(
                    "INSERT INTO mail_deliveries VALUES (?, 'sending', ?) ON CONFLICT DO NOTHING",
                    (email_id, ts(now)),
                )
                == 1
            )

    def _mark(self, email_id: str, channel: str | None, now: datetime) -> None:
        with self.store.transaction(commit=True) as tx:
            if channel is None:
                tx.execute("DELETE FROM mail_deliveries WHERE email_id = ?", (email_id,))
            else:
                tx.execute(
                    "UPDATE mail_deliveries SET channel = ?, delivered_at = ? WHERE email_id = ?",
                    (channel, ts(now), email_id),
                )

    def deliver_pending(self, now: datetime) -> int:
        """Send (or, without SMTP settings, log) every pending e-mail once; how many."""
        delivered = 0
        for row in self.pending():
            if not self._claim(row["email_id"], now):
                continue
            message = self.message(row)
            if not self.settings.smtp_host:
                log.info("consent e-mail (SMTP not configured):\n%s", message)
                self._mark(row["email_id"], "log", now)
                delivered += 1
                continue
            try:
                with smtplib.SMTP(
                    self.settings.smtp_host, self.settings.smtp_port, timeout=30
                ) as smtp:
                    smtp.send_message(message)
            except (OSError, smtplib.SMTPException) as error:
                log.warning("could not send %s: %s; will retry", row["email_id"], error)
                self._mark(row["email_id"], None, now)
                continue
            self._mark(row["email_id"], "smtp", now)
            delivered += 1
        return delivered
