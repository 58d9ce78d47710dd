"""The documents' part of ``ledger verify``: every file a claim's ``DocumentAttached`` event
recorded is in the documents folder and hashes to the SHA-256 the event recorded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from eventsourcing.utils import get_topic

from ledger.aggregates.claim import Claim
from ledger.audit.tamper import Finding
from ledger.store.documents import DocumentFolder

PAGE = 500


def attached(ledger: Any) -> Iterator[tuple[int, Claim.DocumentAttached]]:
    """Every ``DocumentAttached`` event of the log, with its notification id, in log order."""
    topic = get_topic(Claim.DocumentAttached)
    position = 0
    while True:
        page = ledger.event_log.page_after(position, PAGE, [topic])
        for notification in page.notifications:
            yield notification.id, ledger.mapper.to_domain_event(notification)
        if not page.notifications or page.position == position:
            return
        position = page.position


def verify_documents(ledger: Any, folder: DocumentFolder) -> tuple[int, list[Finding]]:
    """How many documents were checked, and each one missing or changed, naming its claim
    and document."""
    checked, findings = 0, []
    for notification_id, event in attached(ledger):
        checked += 1
        document = event.document
        found = folder.check(document.sha256)
        if found is None:
            continue
        state = "missing" if found == "missing" else f"changed (its sha256 is now {found})"
        findings.append(
            Finding(
                "document file",
                f"document {document.id} ({document.name}) of claim {event.originator_id}: "
                f"its file {folder.file(document.sha256)} is {state}; recorded sha256 "
                f"{document.sha256}",
                notification_id,
                event.originator_id,
                event.originator_version,
            )
        )
    return checked, findings
