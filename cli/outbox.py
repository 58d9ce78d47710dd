"""`ledger outbox`: the consent e-mails and their delivery status."""

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
from ledger.policies.consent_message import ConsentMail
from ledger.projections.claims import Status


def outbox(
    status: Annotated[
        Status | None, typer.Option(help="Only the e-mails with this delivery status.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per e-mail.")] = False,
) -> None:
    """The consent e-mails, oldest first: recipient, subject, link and delivery status
    (pending, sent, stuck: claimed by a worker that stopped; superseded: never to be sent)."""
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


def _print_outbox(rows: list[dict[str, Any]], mails: list[ConsentMail]) -> None:
    def minute(stamp: str | None) -> str:
        return "" if stamp is None else stamp[:16].replace("T", " ")

    table = Table(title=f"Consent e-mails ({len(rows)})")
    for column in ("#", "status", "to", "subject", "created (UTC)", "delivered (UTC)"):
        table.add_column(column, justify="right" if column == "#" else "left")
    for number, (row, mail) in enumerate(zip(rows, mails, strict=True), start=1):
        delivered = ""
        if row["status"] == Status.SENT:
            delivered = f"{minute(row['delivered_at'])} {row['file_name'] or row['channel']}"
        table.add_row(
            str(number), str(row["status"]), escape(mail.recipient), escape(mail.subject),
            minute(row["created_at"]), delivered,
        )  # fmt: skip
    console.print(table)
    for number, mail in enumerate(mails, start=1):  # whole, on one line each: to copy
        console.print(f"#{number} {mail.link}", highlight=False, soft_wrap=True)
