"""`ledger checkpoint` and `ledger prove`: the log's signed checkpoints and the inclusion
proofs of a claim's events (docs/checkpoints.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.markup import escape

from cli.common import OPERATOR, _ledger, console, errors, settings_or_exit
from ledger.audit.checkpoint_proof import CheckpointProof
from ledger.audit.checkpoints import CheckpointText, read_checkpoint
from ledger.audit.notes import NoteError, Signer, Verifier
from ledger.audit.tamper import UnverifiableStoreError
from ledger.audit.tree import LogTree
from ledger.domain.errors import LedgerError, NotFoundError
from ledger.runtime import proofs
from ledger.runtime.checkpointing import checkpoint_origin, checkpoint_signer, publish_now
from ledger.service.clock import utc_now
from ledger.service.settings import SettingsError


def checkpoint(
    public_key: Annotated[
        bool, typer.Option("--public-key", help="Print the verifier key of the checkpoints.")
    ] = False,
    new_key: Annotated[
        bool,
        typer.Option("--new-key", help="Print a new signer key for LEDGER_CHECKPOINT_KEY."),
    ] = False,
) -> None:
    """Bring the log's Merkle tree to the log's head, sign a checkpoint of it (unless the
    latest has its size) and print it as a signed note; with --public-key, the key that
    verifies it (name+hash+key)."""
    settings = settings_or_exit()
    if new_key:
        sys.stdout.write(Signer.generate(checkpoint_origin(settings)).text + "\n")
        return
    try:
        signer = checkpoint_signer(settings)
    except SettingsError as error:
        errors.print(f"[red]settings error[/red]: {escape(str(error))}")
        raise typer.Exit(2) from None
    if public_key:
        sys.stdout.write(signer.verifier.text + "\n")
        return
    ledger = _ledger()
    try:
        sys.stdout.write(publish_now(ledger, settings, utc_now()).note)
    except UnverifiableStoreError as error:
        errors.print(f"[red]cannot sign a checkpoint[/red]: {escape(str(error))}")
        raise typer.Exit(2) from None
    finally:
        ledger.close()


def prove(
    claim_id: Annotated[str, typer.Argument(help="The claim's id (a UUID).")],
    tree_size: Annotated[
        int | None,
        typer.Option(min=1, help="The tree size; by default the latest checkpoint's."),
    ] = None,
) -> None:
    """Print the RFC 9162 inclusion proof of every event of a claim, one JSON object a line
    (event_id, version, leaf_index, tree_size, leaf_hash, hashes)."""
    try:
        claim = UUID(claim_id)
    except ValueError:
        raise typer.BadParameter(f"{claim_id!r} is not a claim id (a UUID)") from None
    ledger = _ledger()
    try:
        events = ledger.history(OPERATOR, claim)
        tree = LogTree.of(ledger)
        for event in events:
            version = event.originator_version
            leaf = proofs.find_leaf(ledger, tree, OPERATOR, None, claim, version)
            found = proofs.inclusion(tree, leaf, tree_size)
            record = {
                "event_id": leaf.event_id,
                "version": version,
                "leaf_index": found.leaf_index,
                "tree_size": found.tree_size,
                "leaf_hash": found.leaf_hash.hex(),
                "hashes": [h.hex() for h in found.hashes],
            }
            sys.stdout.write(json.dumps(record) + "\n")
    except NotFoundError:
        console.print(f"[red]no claim {claim}[/red]")
        raise typer.Exit(1) from None
    except (LedgerError, UnverifiableStoreError) as error:
        errors.print(f"[red]cannot prove[/red]: {escape(str(error))}")
        raise typer.Exit(2) from None
    finally:
        ledger.close()


def read_checkpoint_file(path: Path, key: str | None) -> CheckpointText:
    """The checkpoint in the file, its signature verified by ``key`` (a verifier key), else
    by the ledger's own; exit 2 saying why when it cannot be read, exit 1 when its signature
    does not verify."""
    try:
        note = path.read_text(encoding="utf-8")
        verifier = Verifier.parse(key) if key else checkpoint_signer(settings_or_exit()).verifier
    except (OSError, UnicodeDecodeError, NoteError, SettingsError) as error:
        errors.print(f"[red]cannot read the checkpoint[/red]: {escape(str(error))}")
        raise typer.Exit(2) from None
    try:
        return read_checkpoint(note, verifier)
    except NoteError as error:
        console.print(f"[red]NOT PROVEN[/red] {path}: {escape(str(error))}", highlight=False)
        raise typer.Exit(1) from None


def print_checkpoint_proof(proof: CheckpointProof) -> None:
    """Whether the log extends the checkpoint, and where it first differs if not."""
    text = proof.checkpoint
    if proof.holds:
        console.print(
            f"the log's first {text.tree_size:,} events are the tree of the checkpoint "
            f"{text.origin} {text.tree_size} (root {text.root.hex()}): the log extends it",
            highlight=False,
            soft_wrap=True,
        )
        return
    found = "none" if proof.root is None else proof.root.hex()
    console.print(
        f"[red]NOT PROVEN[/red] the log does not extend the checkpoint {text.origin} "
        f"{text.tree_size}: its first events recompute to the root {found}, not "
        f"{text.root.hex()}; {proof.differs}",
        highlight=False,
        soft_wrap=True,
    )
