"""The key ring's part of ``ledger verify``: every contact key the stored events were sealed
under is still in the key ring, or was erased on purpose. A key that is neither was lost (a
backup restored without its ``contact_keys`` table, say): that contact's name and e-mail
address can no longer be read anywhere, and nothing else would say so, as a lost key reads
``[erased]`` just as an erased one does."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger.audit.tamper import Finding
from ledger.store.personal import JSON_MARK, key_ids

PAGE = 500


def sealed_under(ledger: Any) -> dict[str, tuple[int, UUID, int]]:
    """Each contact key id the stored events seal a value under, with the first event that
    does (notification id, claim, version), in log order."""
    mapper, position = ledger.mapper, 0
    found: dict[str, tuple[int, UUID, int]] = {}
    while True:
        page = ledger.event_log.page_after(position, PAGE)
        for notification in page.notifications:
            state = notification.state
            if mapper.cipher:
                state = mapper.cipher.decrypt(state)
            if mapper.compressor:
                state = mapper.compressor.decompress(state)
            text = state.decode()
            if JSON_MARK not in text:
                continue
            for key_id in key_ids([text]):
                where = (
                    notification.id,
                    notification.originator_id,
                    notification.originator_version,
                )
                found.setdefault(key_id, where)
        if not page.notifications or page.position == position:
            return found
        position = page.position


def verify_contact_keys(ledger: Any) -> tuple[int, list[Finding]]:
    """How many contact keys the events use, and a finding for each one lost from the key
    ring (neither there nor erased), naming the first event sealed under it."""
    used = sealed_under(ledger)
    lost = ledger.keyring.lost(used)
    findings = [
        Finding(
            "contact key",
            f"the contact key {key_id} is not in the key ring (the contact_keys table) and "
            "was never erased, so this contact's name and e-mail address cannot be read: "
            "restore the key ring from the same backup as the events (docs/operations.md)",
            *used[key_id],
        )
        for key_id in sorted(lost, key=lambda k: used[k][0])
    ]
    return len(used), findings
