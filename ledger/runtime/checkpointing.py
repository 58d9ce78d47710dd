"""The checkpoints' settings, key and publishing (docs/checkpoints.md): the origin, the signer
key (``LEDGER_CHECKPOINT_KEY``, else made once and kept in a 0600 file beside a SQLite store),
and the workers' publishing when the tree grew, at most every
``LEDGER_CHECKPOINT_INTERVAL_SECONDS``."""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ledger.audit.checkpoints import Checkpoint, Checkpoints
from ledger.audit.notes import NoteError, Signer
from ledger.audit.tree import LogTree
from ledger.service.settings import Settings, SettingsError

log = logging.getLogger("ledger.checkpoints")
TREE_EVENTS_PER_ROUND = 10_000
"""A backlog is added to the tree this much a worker round, so that the views are not held up."""


def checkpoint_origin(settings: Settings) -> str:
    """``LEDGER_CHECKPOINT_ORIGIN``, else the public URL's host (and port) + ``/ledger``."""
    if settings.checkpoint_origin:
        return settings.checkpoint_origin.strip()
    return f"{urlsplit(settings.public_url).netloc or 'localhost'}/ledger"


def key_file(settings: Settings) -> Path:
    return Path(str(settings.sqlite_path) + ".checkpoint-key")


def checkpoint_signer(settings: Settings) -> Signer:
    """The signer key: ``LEDGER_CHECKPOINT_KEY``, else the key file beside the SQLite store,
    made (named after the origin) the first time. SettingsError when there is none to be had
    or it is not a signer key."""
    try:
        if settings.checkpoint_key:
            return Signer.parse(settings.checkpoint_key)
        if not settings.is_sqlite:
            raise SettingsError(
                "LEDGER_CHECKPOINT_KEY is required when the store is PostgreSQL (every "
                "process must sign with the same key): make one with `ledger checkpoint "
                "--new-key`"
            )
        return Signer.parse(_read_or_make(key_file(settings), checkpoint_origin(settings)))
    except NoteError as error:
        raise SettingsError(f"LEDGER_CHECKPOINT_KEY or its key file: {error}") from None


def _read_or_make(path: Path, name: str) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_text()
        with os.fdopen(descriptor, "w") as file:
            file.write(Signer.generate(name).text + "\n")
    return path.read_text()


class Publisher:
    """What the workers do for the checkpoints each round: extend the tree (a bounded part of
    a backlog), and sign a checkpoint when it grew and the last is older than the interval."""

    def __init__(self, ledger: Any, settings: Settings) -> None:
        self.tree = LogTree.of(ledger)
        self.checkpoints = Checkpoints(self.tree.tables)
        self.signer = checkpoint_signer(settings)
        self.origin = checkpoint_origin(settings)
        self.interval = settings.checkpoint_interval_seconds
        self._next = 0.0

    def round(self, now: datetime) -> Checkpoint | None:
        """One round; the checkpoint signed, if one was."""
        self.tree.extend(max_events=TREE_EVENTS_PER_ROUND)
        if time.monotonic() < self._next:
            return None
        latest = self.checkpoints.latest()
        if latest is not None and latest.tree_size >= self.tree.size():
            return None
        if latest is not None and (now - latest.made_at).total_seconds() < self.interval:
            return None
        self._next = time.monotonic() + self.interval
        return self.checkpoints.publish(self.tree, self.signer, self.origin, now)

    @property
    def caught_up(self) -> bool:
        return self.tree.caught_up


def publish_now(ledger: Any, settings: Settings, now: datetime) -> Checkpoint:
    """Bring the tree to the log's head and sign a checkpoint of it (the latest, if the tree
    did not grow since)."""
    tree = LogTree.of(ledger)
    tree.extend()
    return Checkpoints(tree.tables).publish(
        tree, checkpoint_signer(settings), checkpoint_origin(settings), now
    )
