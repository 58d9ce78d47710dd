"""The hash of a stored event and its chain, byte for byte as docs/audit.md writes them."""

from __future__ import annotations

import hashlib
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from ledger.store.chain import (
    ZERO,
    BrokenChainError,
    chained_hashes,
    digest_step,
    event_hash,
    previous_versions,
)

ONE = UUID("12345678-1234-5678-1234-567812345678")
TWO = UUID("87654321-4321-8765-4321-876543218765")
TOPIC = "ledger.aggregates.claim:Claim.Added"


def test_the_hash_is_the_documented_encoding() -> None:
    state = b'{"a": 1}'
    encoded = (
        ZERO
        + ONE.bytes
        + (3).to_bytes(8, "big")
        + len(TOPIC.encode()).to_bytes(4, "big")
        + TOPIC.encode()
        + state
    )
    assert event_hash(ZERO, ONE, 3, TOPIC, state) == hashlib.sha256(encoded).digest()
    assert event_hash(ZERO, str(ONE), 3, TOPIC, state) == event_hash(ZERO, ONE, 3, TOPIC, state)
    assert digest_step(ZERO, b"h" * 32) == hashlib.sha256(ZERO + b"h" * 32).digest()


def test_every_field_counts_and_no_two_encodings_meet() -> None:
    base = event_hash(ZERO, ONE, 1, "a:B", b"cd")
    others = [
        event_hash(b"\x01" * 32, ONE, 1, "a:B", b"cd"),
        event_hash(ZERO, TWO, 1, "a:B", b"cd"),
        event_hash(ZERO, ONE, 2, "a:B", b"cd"),
        event_hash(ZERO, ONE, 1, "a:Bc", b"d"),  # the topic's length keeps it from the state
        event_hash(ZERO, ONE, 1, "a:B", b"ce"),
    ]
    assert len({base, *others}) == 6


def event(originator: UUID, version: int, state: bytes = b"{}") -> StoredEvent:
    return StoredEvent(originator, version, TOPIC, state)


def test_a_save_is_chained_across_its_events_on_the_stored_hashes_before_it() -> None:
    save = [event(ONE, 4), event(TWO, 1), event(ONE, 5)]
    assert previous_versions(save) == [(ONE, 3)]
    stored = b"s" * 32
    one_4 = event_hash(stored, ONE, 4, TOPIC, b"{}")
    assert chained_hashes(save, {ONE: stored}) == [
        one_4,
        event_hash(ZERO, TWO, 1, TOPIC, b"{}"),
        event_hash(one_4, ONE, 5, TOPIC, b"{}"),
    ]


def test_a_save_that_cannot_be_chained_is_refused() -> None:
    with pytest.raises(BrokenChainError, match="version 3 is not stored"):
        chained_hashes([event(ONE, 4)], {})
    with pytest.raises(BrokenChainError, match="version 3 saved after version 1"):
        chained_hashes([event(ONE, 1), event(ONE, 3)], {})
