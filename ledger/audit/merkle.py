"""The log as a Merkle tree (RFC 9162, section 2.1), in the order followers read it.

Leaf ``i`` is the ``i``-th event of the log (from 0): ``SHA-256(0x00 || its stored hash)``;
an inner node is ``SHA-256(0x01 || left || right)``; a tree of ``n`` leaves splits at the
largest power of two below ``n``. Only the nodes of *complete* subtrees are stored (``level``,
``index``: the node over leaves ``index * 2**level`` to ``(index + 1) * 2**level - 1``), and
they never change once written: the root of any past tree size, and every inclusion and
consistency proof, is folded from at most ``log2(n)`` such nodes per hash of the proof.

This module is the tree's arithmetic, free of any store: which stored nodes a root or a proof
needs (``NodeKey``), and how to fold them (``range_root``). ``ledger.audit.tree`` keeps the
nodes in the store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

NodeKey = tuple[int, int]
"""(level, index) of a stored complete subtree."""
Range = tuple[int, int]
"""Leaves ``start`` to ``end - 1``."""
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the empty tree."""


def leaf_hash(event_hash: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + event_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(width: int) -> int:
    """The largest power of two below ``width`` (``width`` > 1)."""
    return 1 << ((width - 1).bit_length() - 1)


def range_keys(start: int, end: int) -> list[NodeKey]:
    """The complete subtrees whose nodes make up the subtree over ``start`` to ``end - 1``
    (a subtree of an RFC 9162 tree: ``start`` is a multiple of the largest power of two that
    fits), from the left: the decreasing powers of two of its width."""
    keys = []
    while start < end:
        level = (end - start).bit_length() - 1
        keys.append((level, start >> level))
        start += 1 << level
    return keys


def range_root(hashes: Sequence[bytes]) -> bytes:
    """The root of a subtree from its complete subtrees' nodes (``range_keys`` order)."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for node in reversed(hashes[:-1]):
        root = node_hash(node, root)
    return root


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The subtrees whose roots are the inclusion proof of leaf ``index`` in the tree of
    ``size`` leaves (RFC 9162, 2.1.3.1), from the leaf up."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    ranges, start, end = [], 0, size
    while end - start > 1:
        k = split(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    return ranges[::-1]


def consistency_ranges(old: int, new: int) -> list[Range]:
    """The subtrees whose roots are the consistency proof from the tree of ``old`` leaves to
    the tree of ``new`` leaves (RFC 9162, 2.1.4.1), in the proof's order."""
    if not 0 < old <= new:
        raise ValueError(f"no consistency proof from {old} to {new} leaves")
    ranges: list[Range] = []
    start, end, whole = 0, new, True
    while end - start != old:
        k = split(end - start)
        if old <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, old, whole = start + k, old - k, False
    if not whole:
        ranges.append((start, end))
    return ranges[::-1]


def keys_of(ranges: Sequence[Range]) -> list[NodeKey]:
    """Every stored node the roots of these subtrees need (each once)."""
    return list(dict.fromkeys(key for start, end in ranges for key in range_keys(start, end)))


def roots_of(ranges: Sequence[Range], nodes: Mapping[NodeKey, bytes]) -> list[bytes]:
    """The roots of these subtrees, folded from the stored nodes (``keys_of``)."""
    return [range_root([nodes[key] for key in range_keys(start, end)]) for start, end in ranges]


class Frontier:
    """The tree's right edge as it grows: the roots of the complete subtrees that make up
    the tree of ``size`` leaves (``range_keys(0, size)``), each with no parent yet. Appending
    a leaf costs one hash per level it completes (about 2 hashes a leaf in all)."""

    def __init__(self, size: int = 0, edge: Sequence[bytes] = ()) -> None:
        if len(edge) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} edge nodes")
        self.size = size
        self.edge = list(edge)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf (a leaf hash); the complete subtrees it makes: (level, index, hash)."""
        made = [(0, self.size, leaf)]
        node, level, index = leaf, 0, self.size
        while index & 1:
            node = node_hash(self.edge.pop(), node)
            level, index = level + 1, index >> 1
            made.append((level, index, node))
        self.edge.append(node)
        self.size += 1
        return made

    def root(self) -> bytes:
        return range_root(self.edge)


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) computed from scratch, as RFC 9162 defines it (recursively)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return node_hash(tree_root(leaves[:k]), tree_root(leaves[k:]))
