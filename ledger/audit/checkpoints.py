"""Signed checkpoints of the log's Merkle tree (C2SP ``tlog-checkpoint``; docs/checkpoints.md).

A checkpoint's text is three lines: the log's origin, the tree size (decimal), the root hash
(standard base64); it is published as a signed note (``ledger.audit.notes``) and kept in
``merkle_checkpoints`` (size, root, note, time), one per tree size, the latest served.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from eventsourcing.persistence import IntegrityError

from ledger.audit.notes import NoteError, Signer, Verifier, open_note
from ledger.audit.tree import LogTree, TreeTables


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root: bytes
    note: str
    made_at: datetime


@dataclass(frozen=True)
class CheckpointText:
    """What a checkpoint's text says."""

    origin: str
    tree_size: int
    root: bytes


def checkpoint_text(origin: str, tree_size: int, root: bytes) -> str:
    return f"{origin}\n{tree_size}\n{base64.b64encode(root).decode()}\n"


def read_checkpoint(note: str, verifier: Verifier) -> CheckpointText:
    """The checkpoint a signed note holds, once its signature by ``verifier`` verified
    (NoteError saying what is wrong otherwise)."""
    lines = open_note(note, verifier).split("\n")
    if len(lines) < 4 or not lines[1].isdigit():
        raise NoteError("not a checkpoint: origin, tree size and root hash lines expected")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except (binascii.Error, ValueError):
        root = b""
    if len(root) != 32:
        raise NoteError("not a checkpoint: its root hash is not 32 bytes in base64")
    return CheckpointText(lines[0], int(lines[1]), root)


class Checkpoints:
    """The signed checkpoints kept beside the tree."""

    def __init__(self, tables: TreeTables) -> None:
        self.tables = tables

    def latest(self) -> Checkpoint | None:
        found = self.tables.rows(
            f"SELECT * FROM {self.tables.checkpoints} ORDER BY tree_size DESC LIMIT 1"
        )
        if not found:
            return None
        row = found[0]
        made_at = datetime.fromisoformat(row["made_at"])
        return Checkpoint(int(row["tree_size"]), bytes(row["root"]), row["note"], made_at)

    def publish(self, tree: LogTree, signer: Signer, origin: str, now: datetime) -> Checkpoint:
        """A checkpoint of the tree as it is, signed and kept, unless the latest already
        has its size (then the latest)."""
        size = tree.size()
        latest = self.latest()
        if latest is not None and latest.tree_size >= size:
            return latest
        root = tree.root(size)
        note = signer.sign(checkpoint_text(origin, size, root))
        try:
            self.tables.execute(
                f"INSERT INTO {self.tables.checkpoints} VALUES (?, ?, ?, ?)",
                (size, root, note, now.isoformat()),
            )
        except IntegrityError:  # another process signed this size first: the same root
            found = self.latest()
            assert found is not None
            return found
        return Checkpoint(size, root, note, now)
