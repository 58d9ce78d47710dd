"""The Merkle tree's arithmetic against implementations that are not ours, over random tree
sizes (1 to 300), leaves and split points: every root is the RFC 9162 root computed from
scratch and ``pymerkle``'s; every inclusion and consistency proof verifies with the Go
checksum database's ``tlog`` (``tests/outside``) and is ``pymerkle``'s audit path; a proof
with any hash, index or size changed fails."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymerkle import InmemoryTree
from pymerkle import verify_inclusion as pymerkle_verify_inclusion

from ledger.audit import merkle
from tests.outside import Outside, OutsideError

MOST = 300
EVENT_HASHES = [hashlib.sha256(b"event %d" % i).digest() for i in range(MOST)]
LEAVES = [merkle.leaf_hash(h) for h in EVENT_HASHES]


def grown() -> dict[merkle.NodeKey, bytes]:
    """The stored nodes of the tree of MOST leaves, made one leaf at a time, as the store
    keeps them: the tree of any smaller size is in them too (a tree only grows)."""
    edge, nodes = merkle.Frontier(), {}
    for leaf in LEAVES:
        for level, index, node in edge.append(leaf):
            nodes[(level, index)] = node
    return nodes


NODES = grown()
THEIRS = InmemoryTree(algorithm="sha256")
for event_hash in EVENT_HASHES:
    THEIRS.append_entry(event_hash)  # pymerkle hashes an entry as SHA-256(0x00 || entry)


def root(size: int) -> bytes:
    (found,) = merkle.roots_of([(0, size)], NODES)
    return found


sizes = st.integers(min_value=1, max_value=MOST)


@given(size=sizes)
def test_every_root_is_the_rfc_9162_root(size: int) -> None:
    assert root(size) == merkle.tree_root(LEAVES[:size]) == THEIRS.get_root(size)


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_inclusion_proofs_verify_outside(data: st.DataObject, outside: Outside) -> None:
    size = data.draw(sizes)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    path = merkle.roots_of(merkle.inclusion_ranges(index, size), NODES)
    outside.inclusion(index, size, LEAVES[index], root(size), path)
    theirs = THEIRS.prove_inclusion(index + 1, size)  # pymerkle counts leaves from 1
    assert theirs.path == [LEAVES[index], *path]
    pymerkle_verify_inclusion(LEAVES[index], root(size), theirs)
    for wrong in _changed(index, size, path, data):
        with pytest.raises(OutsideError):
            outside.inclusion(*wrong)


def _changed(
    index: int, size: int, path: list[bytes], data: st.DataObject
) -> list[tuple[int, int, bytes, bytes, list[bytes]]]:
    """The same proof with one thing changed: a hash of the path, the leaf, the index, the
    size (its root then the root of that size)."""
    leaf, top = LEAVES[index], root(size)
    wrong = []
    if path:
        at = data.draw(st.integers(min_value=0, max_value=len(path) - 1))
        flipped = bytes([path[at][0] ^ 1]) + path[at][1:]
        wrong.append((index, size, leaf, top, [*path[:at], flipped, *path[at + 1 :]]))
        wrong.append((index, size, leaf, top, path[:-1]))
    wrong.append((index, size, bytes([leaf[0] ^ 1]) + leaf[1:], top, path))
    if size > 1:
        other = (index + 1) % size
        wrong.append((other, size, leaf, top, path))
    if size < MOST:
        wrong.append((index, size + 1, leaf, root(size + 1), path))
    return wrong


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_consistency_proofs_verify_outside(data: st.DataObject, outside: Outside) -> None:
    new = data.draw(sizes)
    old = data.draw(st.integers(min_value=1, max_value=new))
    path = merkle.roots_of(merkle.consistency_ranges(old, new), NODES)
    outside.consistency(old, new, root(old), root(new), path)
    if path:
        at = data.draw(st.integers(min_value=0, max_value=len(path) - 1))
        flipped = [*path[:at], bytes([path[at][0] ^ 1]) + path[at][1:], *path[at + 1 :]]
        with pytest.raises(OutsideError):
            outside.consistency(old, new, root(old), root(new), flipped)
    if old > 1:
        with pytest.raises(OutsideError):
            outside.consistency(old - 1, new, root(old), root(new), path)
    if old < new:
        with pytest.raises(OutsideError):
            outside.consistency(old, new, root(old + 1), root(new), path)
        with pytest.raises(OutsideError):
            outside.consistency(old, new, root(old), root(new - 1), path)
