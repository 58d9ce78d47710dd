"""`ledger outbox`: the e-mails (customers' consent e-mails, partner contacts' notifications)
and their delivery status."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from cli.common import (
    _services,
    console,
)
from ledger.policies.consent_email import Mail
from ledger.projections.claims import Status

KINDS = {
    "consent_request": "consent request (customer)",
    "consent_reminder": "consent reminder (customer)",
    "consent_given": "consent given (partner)",
    "consent_declined": "consent declined (partner)",
    "information_requested": "information requested (partner)",
    "approved": "claim approved (partner)",
    "rejected": "claim rejected (partner)",
    "rejected_final": "claim rejected for good (partner)",
    "expired": "claim expired (partner)",
    "deadline_reminder": "deadline reminder (partner)",
}
"""What each kind of e-mail is, as a person reads it, and to whom it goes."""


def outbox(
    status: Annotated[
        Status | None, typer.Option(help="Only the e-mails with this delivery status.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per e-mail.")] = False,
) -> None:
    """The e-mails, oldest first: what each is (a customer's consent request or reminder, a
    partner contact's notification), recipient, subject, link and delivery status (pending,
    sent, stuck: claimed by a worker that stopped; superseded: never to be sent)."""
    services = _services()
    try:
        mailer = services.workers.mailer
        rows = mailer.outbox(only=status)
        mails = [mailer.mail(row) for row in rows]
    finally:
        services.close()
    folder = services.settings.mail_directory()
    if as_json:
        for row, mail in zip(rows, mails, strict=True):
            record = {
                "email_id": row["email_id"],
                "claim_id": row["claim_id"],
                "kind": row["kind"],
                "what": KINDS.get(row["kind"], row["kind"]),
                "to": mail.recipient,
                "subject": mail.subject,
                "link": mail.link,
                "status": row["status"],
                "channel": row["channel"],
                "created_at": row["created_at"],
                "delivered_at": row["delivered_at"],
                "file": str(folder / row["file_name"]) if row["file_name"] else None,
            }
            sys.stdout.write(json.dumps(record) + "\n")
        return
    _print_outbox(rows, mails)


def _print_outbox(rows: list[dict[str, Any]], mails: list[Mail]) -> None:
    def minute(stamp: str | None) -> str:
        return "" if stamp is None else stamp[:16].replace("T", " ")

    table = Table(title=f"E-mails ({len(rows)})")
    for column in ("#", "status", "e-mail", "to", "subject", "created (UTC)", "delivered (UTC)"):
        table.add_column(column, justify="right" if column == "#" else "left")
    for number, (row, mail) in enumerate(zip(rows, mails, strict=True), start=1):
        delivered = ""
        if row["status"] == Status.SENT:
            delivered = f"{minute(row['delivered_at'])} {row['file_name'] or row['channel']}"
        table.add_row(
            str(number), str(row["status"]), KINDS.get(row["kind"], row["kind"]),
            escape(mail.recipient), escape(mail.subject),
            minute(row["created_at"]), delivered,
        )  # fmt: skip
    console.print(table)
    for number, mail in enumerate(mails, start=1):  # whole, on one line each: to copy
        console.print(f"#{number} {mail.link}", highlight=False, soft_wrap=True)
