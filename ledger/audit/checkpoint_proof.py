"""Whether the log extends a checkpoint kept earlier (``ledger verify --checkpoint FILE``).

The checkpoint's signature is checked with the ledger's verifier key; then the Merkle root of
the log's first ``tree_size`` events, each taken as the hash its *content* chains to (as
``verify`` recomputes it), must be the checkpoint's root. So a checkpoint proves the content
of every event it covers, even after someone rewrote the events, their hashes and the stored
tree consistently. When the root differs, the first event whose leaf differs from the stored
tree's is named (when the stored tree was not rebuilt too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.audit import merkle
from ledger.audit.checkpoints import CheckpointText
from ledger.audit.tamper import Verification
from ledger.audit.tree import LogTree


@dataclass(frozen=True)
class CheckpointProof:
    checkpoint: CheckpointText
    root: bytes | None
    """The root the log's first events recompute to; None when the log holds fewer."""
    differs: str | None = None
    """Where the log first differs from the stored tree, in words (when the root differs)."""

    @property
    def holds(self) -> bool:
        return self.root == self.checkpoint.root


def prove_checkpoint(
    ledger: Any, result: Verification, checkpoint: CheckpointText
) -> CheckpointProof:
    """Compare the checkpoint with the leaves ``verify(..., tree_size=...)`` recomputed."""
    size = checkpoint.tree_size
    if len(result.leaves) < size:
        return CheckpointProof(checkpoint, None, f"the log holds {len(result.leaves)} events")
    root = merkle.Frontier()
    for leaf in result.leaves[:size]:
        root.append(leaf)
    found = root.root()
    if found == checkpoint.root:
        return CheckpointProof(checkpoint, found)
    return CheckpointProof(checkpoint, found, _first_difference(ledger, result.leaves[:size]))


def _first_difference(ledger: Any, leaves: list[bytes]) -> str:
    """The first event whose recomputed leaf is not the stored tree's, in words."""
    tree = LogTree.of(ledger)
    stored = min(tree.size(), len(leaves))
    for start in range(0, stored, 2000):
        keys = [(0, index) for index in range(start, min(start + 2000, stored))]
        nodes = tree.tables.nodes_at(keys)
        for key in keys:
            if nodes[key] != leaves[key[1]]:
                return _named(tree, key[1])
    return (
        "the stored tree has the same leaves as the log: the events, their hashes and the "
        "tree were all rewritten, or the checkpoint is of another log"
    )


def _named(tree: LogTree, index: int) -> str:
    rows = tree.tables.rows(f"SELECT * FROM {tree.tables.leaves} WHERE leaf_index = ?", (index,))
    notification = int(rows[0]["notification_id"])
    event = tree.tables.event_of(notification)
    what = "" if event is None else f" (originator {event[0]}, version {event[1]})"
    return (
        f"event {index} of the log, notification {notification}{what}, is not the one the tree "
        "recorded: its content changed"
    )
