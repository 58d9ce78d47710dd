"""Inclusion and consistency proofs as the API and the command line ask for them
(docs/checkpoints.md): which event (by its stable event id, or a claim's id and version),
who may see it, and which tree size (by default the latest checkpoint's)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger.audit.checkpoints import Checkpoints
from ledger.audit.event_ids import event_id as stable_id
from ledger.audit.tree import ConsistencyProof, InclusionProof, Leaf, LogTree
from ledger.domain.errors import InvalidInputError, NotFoundError
from ledger.domain.principal import Principal, Role


def find_leaf(
    ledger: Any,
    tree: LogTree,
    principal: Principal,
    event: str | None,
    claim: UUID | None,
    version: int | None,
) -> Leaf:
    """The leaf of the event named by ``event`` (its stable id) or by ``claim`` and
    ``version``, brought into the tree; auditors any event, partners their claims' events
    (another's is not found, as a claim is not)."""
    if (event is None) == (claim is None) or (claim is None) != (version is None):
        raise InvalidInputError("proof-event-required", field="event_id")
    wanted = event if event is not None else stable_id(claim, version)  # type: ignore[arg-type]
    tree.extend()
    leaf = tree.tables.leaf_by_event(wanted.strip().lower())
    if Role.AUDITOR not in principal.roles:
        _require_own_claim(ledger, tree, principal, leaf, claim)
    if leaf is None:
        raise NotFoundError("event-not-found", params={"event": wanted})
    return leaf


def _require_own_claim(
    ledger: Any, tree: LogTree, principal: Principal, leaf: Leaf | None, claim: UUID | None
) -> None:
    """A partner may prove its claims' events only (``history``'s rules: 404 for another
    partner's claim, 403 for a location not theirs or a role without a partner)."""
    principal.require_partner_role()
    found = None if leaf is None else tree.tables.event_of(leaf.notification_id)
    owner = claim if claim is not None else (None if found is None else found[0])
    if owner is None:
        return
    try:
        ledger.history(principal, owner)
    except NotFoundError:
        raise NotFoundError("event-not-found", params={"event": str(owner)}) from None


def default_size(tree: LogTree) -> int:
    """The latest checkpoint's tree size, else the tree's."""
    latest = Checkpoints(tree.tables).latest()
    return latest.tree_size if latest is not None else tree.size()


def inclusion(tree: LogTree, leaf: Leaf, tree_size: int | None) -> InclusionProof:
    """The proof that the leaf is in the tree of ``tree_size`` leaves (by default the latest
    checkpoint's)."""
    size = default_size(tree) if tree_size is None else tree_size
    held = tree.size()
    if not 1 <= size <= held:
        raise InvalidInputError("tree-size-beyond", field="tree_size", params={"size": held})
    if leaf.index >= size:
        params = {"leaf": leaf.index, "size": size}
        raise InvalidInputError("event-after-tree-size", field="tree_size", params=params)
    return tree.inclusion(leaf.index, size)


def consistency(tree: LogTree, old: int, new: int) -> ConsistencyProof:
    """The proof that the tree of ``new`` leaves extends the tree of ``old`` leaves."""
    tree.extend()
    held = tree.size()
    if not 1 <= old <= new <= held:
        raise InvalidInputError("consistency-sizes", field="from", params={"size": held})
    return tree.consistency(old, new)
