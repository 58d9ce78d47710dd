"""The log's Merkle tree on both stores: kept incrementally beside the log, its roots the
RFC 9162 roots of the stored hashes in the followers' order, its proofs verified by the Go
checksum database's code (``tests/outside``), and nothing of it rebuilt."""

from __future__ import annotations

import threading

from ledger.audit import merkle
from ledger.audit.event_ids import event_id
from ledger.audit.tree import LogTree
from ledger.runtime.bootstrap import Services
from ledger.runtime.erasure import forget
from ledger.runtime.workers import Workers
from ledger.service.application import Ledger
from ledger.service.settings import Settings
from tests.factories import ADMIN_A, AUDITOR, consent_request, create, days
from tests.integration.test_tamper import Table, more, play
from tests.outside import Outside

PERSON = {
    "customer": {"name": "Zoë Erasable", "email": "zoe.erasable@fabrikam.com"},
    "partner": {"name": "Pat Partner", "email": "pat@a.example"},
}


def leaves_of(table: Table) -> list[bytes]:
    rows = table.rows()
    assert all(row.hash is not None for row in rows)
    return [merkle.leaf_hash(row.hash) for row in rows if row.hash is not None]


def test_the_tree_is_the_rfc_9162_tree_of_the_log(
    stored_ledger: Ledger, settings: Settings, outside: Outside
) -> None:
    play(stored_ledger)
    tree = LogTree.of(stored_ledger)
    table = Table(stored_ledger, settings)
    assert tree.extend() == len(table.rows()) == tree.size()
    more(stored_ledger)
    more(stored_ledger)
    leaves = leaves_of(table)
    assert tree.extend() == len(leaves) > 20
    for size in range(1, len(leaves) + 1):
        assert tree.root(size) == merkle.tree_root(leaves[:size])
    size = len(leaves)
    for index in range(size):
        proof = tree.inclusion(index, size)
        assert proof.leaf_hash == leaves[index]
        outside.inclusion(index, size, proof.leaf_hash, proof.root, proof.hashes)
    for old in range(1, size + 1, 3):
        consistent = tree.consistency(old, size)
        outside.consistency(old, size, consistent.old_root, consistent.new_root, consistent.hashes)


def test_leaves_name_the_events_by_their_stable_ids(
    stored_ledger: Ledger, settings: Settings
) -> None:
    play(stored_ledger)
    tree = LogTree.of(stored_ledger)
    tree.extend()
    for index, row in enumerate(Table(stored_ledger, settings).rows()):
        leaf = tree.tables.leaf_by_event(event_id(row.originator_id, row.version))
        assert leaf is not None and (leaf.index, leaf.notification_id) == (
            index,
            row.notification_id,
        )


def test_extenders_at_once_write_each_leaf_once(stored_ledger: Ledger, settings: Settings) -> None:
    play(stored_ledger)
    more(stored_ledger)
    trees = [LogTree(stored_ledger.event_log, LogTree.of(stored_ledger).tables, page_size=3)]
    trees += [LogTree(stored_ledger.event_log, trees[0].tables, page_size=3) for _ in range(3)]
    threads = [threading.Thread(target=tree.extend) for tree in trees]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    leaves = leaves_of(Table(stored_ledger, settings))
    assert trees[0].size() == len(leaves)
    assert trees[0].root(len(leaves)) == merkle.tree_root(leaves)


def test_the_workers_sign_a_checkpoint_when_the_tree_grew(
    stored_ledger: Ledger, workers: Workers, outside: Outside
) -> None:
    play(stored_ledger)
    workers.run_once()
    publisher = workers.checkpoints
    assert publisher is not None
    first = publisher.checkpoints.latest()
    assert first is not None and first.tree_size == publisher.tree.size() > 15
    key = publisher.signer.verifier.text
    assert outside.note(key, first.note).split("\n")[1] == str(first.tree_size)
    more(stored_ledger)
    workers.run_once()  # the tree grew, but the interval has not passed
    assert publisher.checkpoints.latest() == first
    assert publisher.tree.size() > first.tree_size
    publisher.interval, publisher._next = 0.0, 0.0
    workers._next_digest = 0.0  # a round with nothing new still runs a second later
    workers.run_once()
    second = publisher.checkpoints.latest()
    assert second is not None and second.tree_size == publisher.tree.size() > first.tree_size
    proof = publisher.tree.consistency(first.tree_size, second.tree_size)
    outside.consistency(first.tree_size, second.tree_size, first.root, second.root, proof.hashes)
    workers.run_once()  # nothing new: no checkpoint
    assert publisher.checkpoints.latest() == second


def test_an_erasure_keeps_every_proof_valid(
    services: Services, settings: Settings, outside: Outside
) -> None:
    """Erasing a contact deletes a key, never a stored byte: the leaves, the root of every
    size and every proof given before it still verify after it."""
    ledger, workers = services.ledger, services.workers
    (claim_id,) = ledger.create_claims(ADMIN_A, create(contacts=PERSON), days(0))
    ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(0.5))
    tree = LogTree.of(ledger)
    size = tree.extend()
    before = [tree.inclusion(index, size) for index in range(size)]
    forget(
        ledger,
        workers.views,
        settings.mail_directory(),
        AUDITOR,
        PERSON["customer"]["email"],
        days(1),
    )
    grown = tree.extend()
    assert grown > size  # the erasure's record is an event of its own
    assert tree.root(size) == before[0].root
    for proof in before:
        again = tree.inclusion(proof.leaf_index, size)
        assert again == proof
        outside.inclusion(proof.leaf_index, size, proof.leaf_hash, proof.root, proof.hashes)
    later = tree.consistency(size, grown)
    outside.consistency(size, grown, later.old_root, later.new_root, later.hashes)
