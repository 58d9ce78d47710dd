"""Erasing a contact's personal data: its key is deleted, its e-mail files are removed, and
an ``Erased`` record says who did it and when.

The events are not touched (they are evidence, and the hash chain covers them as stored): the
contact's name and address in them, and in the views, are sealed under the contact's key
(``ledger.store.personal``), and read ``[erased]`` once the key is gone. What is not sealed is
removed: the e-mails written to the mail folder for that contact (the customer's consent
e-mails, the partner contact's notifications and deadline reminders). An e-mail still waiting
to be sent is never sent (its recipient reads ``[erased]``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from uuid import UUID

from ledger.aggregates.erasure import ContactErasure
from ledger.domain.errors import NotFoundError
from ledger.domain.principal import Principal, Role
from ledger.projections.base import ts
from ledger.projections.runner import ViewRunner
from ledger.projections.store import ViewStore
from ledger.service.application import Ledger


@dataclass(frozen=True)
class Erasure:
    """What an erasure did: the contact's key id (never its name or address)."""

    key_id: str
    erased_at: datetime
    erased_by: str
    claims: tuple[UUID, ...]
    mail_files_removed: int


def forget(
    ledger: Ledger,
    views: ViewRunner,
    mail_folder: Path,
    principal: Principal,
    email: str,
    now: datetime,
) -> Erasure:
    """Erase the personal data of the contact with this e-mail address (auditors only)."""
    principal.require_role(Role.AUDITOR)
    key_id = ledger.keyring.key_id_of(email)
    if key_id is None:
        raise NotFoundError("contact-not-found", field="email")
    views.catch_up()  # the views hold every claim and e-mail written so far
    claims, files = _holders(views.store, key_id)
    ledger.keyring.erase(key_id, ts(now))
    removed = 0
    for name in files:
        path = mail_folder / name
        if path.is_file():
            path.unlink()
            removed += 1
    record = ContactErasure.record(
        key_id=key_id,
        actor=principal.actor,
        claims=claims,
        mail_files_removed=removed,
        now=now,
    )
    ledger.save(record)
    ledger.keyring.await_other_processes()  # from now on, every process seals anew
    return Erasure(key_id, now, principal.user_id, claims, removed)


def claims_holding(ledger: Ledger, views: ViewRunner, principal: Principal, email: str) -> int:
    """How many claims an erasure of this contact would touch, erasing nothing (auditors
    only): the confirmation step's count. Not found as ``forget`` is."""
    principal.require_role(Role.AUDITOR)
    key_id = ledger.keyring.key_id_of(email)
    if key_id is None:
        raise NotFoundError("contact-not-found", field="email")
    views.catch_up()
    claims, _ = _holders(views.store, key_id)
    return len(claims)


def erasures(ledger: Ledger, principal: Principal) -> list[Erasure]:
    """Every erasure made, the latest first, from its ``Erased`` record (auditors only):
    when, by whom, the key id and the claims; never the contact's name or address."""
    principal.require_role(Role.AUDITOR)
    found: list[Erasure] = []
    for key_id in ledger.keyring.erased():
        events = list(ledger.events.get(ContactErasure.id_for(key_id)))
        record = events[0] if events else None
        if isinstance(record, ContactErasure.Erased):  # else: a crash before its record
            found.append(
                Erasure(
                    key_id=record.key_id,
                    erased_at=record.timestamp,
                    erased_by=record.actor.id,
                    claims=tuple(record.claims),
                    mail_files_removed=record.mail_files_removed,
                )
            )
    return found


def _holders(store: ViewStore, key_id: str) -> tuple[tuple[UUID, ...], list[str]]:
    """The claims whose views hold strings sealed under the key, and the mail files written
    for e-mails to it (read as stored: sealed)."""
    pattern = f"%{key_id}%"  # a key id is 32 hex digits: it matches its own sealed strings only
    with store.transaction(sealed=True) as tx:
        claims = {
            r["claim_id"]
            for r in tx.rows("SELECT claim_id FROM {p}claims WHERE contacts LIKE ?", [pattern])
        }
        claims |= {
            r["claim_id"]
            for r in tx.rows(
                "SELECT DISTINCT claim_id FROM {p}history WHERE actor LIKE ? OR data LIKE ?",
                [pattern, pattern],
            )
        }
        files = [  # the consent e-mails, the partner's notifications and its reminders
            r["file_name"]
            for table in ("{p}outbox", "deadline_reminders")
            for r in tx.rows(
                f"SELECT d.file_name FROM {table} o JOIN mail_deliveries d "
                "ON d.email_id = o.email_id WHERE o.recipient LIKE ? AND d.file_name IS NOT NULL",
                [pattern],
            )
        ]
    return tuple(sorted(UUID(c) for c in claims)), files
