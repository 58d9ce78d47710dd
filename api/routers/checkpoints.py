"""The log's signed checkpoints and its Merkle proofs (docs/checkpoints.md): auditors, or
anyone for the checkpoint and the consistency proofs with ``LEDGER_CHECKPOINT_PUBLIC=1``;
partners may prove their own claims' events."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool

from api.deps import NowDep, PrincipalDep, ServicesDep, bearer, principal
from api.proof_schemas import ConsistencyProofOut, InclusionProofOut
from api.schemas import errors, unavailable
from ledger.audit.checkpoints import Checkpoints
from ledger.audit.tamper import UnverifiableStoreError
from ledger.audit.tree import LogTree
from ledger.domain.principal import Role
from ledger.interface.refusals import problem
from ledger.runtime import proofs
from ledger.runtime.bootstrap import Services
from ledger.runtime.checkpointing import publish_now
from ledger.service.settings import SettingsError

router = APIRouter(prefix="/v1/audit", tags=["audit"])
UNAVAILABLE = unavailable("The store keeps no hashes, or no checkpoint key is set")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _may_read_public(services: Services, credentials: Credentials) -> None:
    """Auditors; anyone when ``LEDGER_CHECKPOINT_PUBLIC`` is set."""
    if services.settings.checkpoint_public:
        return
    who = principal(services.access_tokens, credentials)
    who.require_role(Role.AUDITOR)


def _unavailable(error: Exception) -> Response:
    return problem(503, "checkpoints-unavailable", "No checkpoints", str(error))


@router.get(
    "/checkpoint",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "The latest signed checkpoint"},
        **errors(401, 403),
        503: UNAVAILABLE,
    },
)
def checkpoint(services: ServicesDep, credentials: Credentials, now: NowDep) -> Response:
    """The latest signed checkpoint of the log's Merkle tree (C2SP tlog-checkpoint, a signed
    note), as text/plain; one is signed now if none was yet. Verify it with the key of
    `ledger checkpoint --public-key`."""
    _may_read_public(services, credentials)
    tree = _tree(services)
    if isinstance(tree, Response):
        return tree
    latest = Checkpoints(tree.tables).latest()
    if latest is None:
        try:
            latest = publish_now(services.ledger, services.settings, now)
        except SettingsError as error:
            return _unavailable(error)
    return Response(latest.note, media_type="text/plain; charset=utf-8")


def _tree(services: Services) -> LogTree | Response:
    try:
        return LogTree.of(services.ledger)
    except UnverifiableStoreError as error:
        return _unavailable(error)


@router.get(
    "/proofs/inclusion",
    response_model=InclusionProofOut,
    responses={**errors(401, 403, 404, 422), 503: UNAVAILABLE},
)
async def inclusion_proof(
    services: ServicesDep,
    who: PrincipalDep,
    event_id: Annotated[str | None, Query(max_length=64, description="The event's id")] = None,
    claim_id: Annotated[UUID | None, Query(description="With version: a claim's event")] = None,
    version: Annotated[int | None, Query(ge=1, description="The claim's event version")] = None,
    tree_size: Annotated[
        int | None, Query(ge=1, description="The tree size; by default the latest checkpoint's")
    ] = None,
) -> InclusionProofOut | Response:
    """The RFC 9162 inclusion proof of one event (its `id` in the event feed, or a claim's
    `claim_id` and `version`) in the tree of `tree_size` events (auditors any event, partners
    their claims' events)."""
    tree = _tree(services)
    if isinstance(tree, Response):
        return tree

    def prove() -> InclusionProofOut:
        leaf = proofs.find_leaf(services.ledger, tree, who, event_id, claim_id, version)
        found = proofs.inclusion(tree, leaf, tree_size)
        return InclusionProofOut(
            leaf_index=found.leaf_index,
            tree_size=found.tree_size,
            leaf_hash=found.leaf_hash.hex(),
            hashes=[h.hex() for h in found.hashes],
        )

    return await run_in_threadpool(prove)


@router.get(
    "/proofs/consistency",
    response_model=ConsistencyProofOut,
    responses={**errors(401, 403, 422), 503: UNAVAILABLE},
)
def consistency_proof(
    services: ServicesDep,
    credentials: Credentials,
    old: Annotated[int, Query(alias="from", ge=1, description="The older tree size")],
    new: Annotated[int, Query(alias="to", ge=1, description="The newer tree size")],
) -> ConsistencyProofOut | Response:
    """The RFC 9162 consistency proof that the tree of `to` events extends the tree of
    `from` events (as the checkpoint: auditors, or anyone with LEDGER_CHECKPOINT_PUBLIC)."""
    _may_read_public(services, credentials)
    tree = _tree(services)
    if isinstance(tree, Response):
        return tree
    found = proofs.consistency(tree, old, new)
    return ConsistencyProofOut(
        from_=found.old_size, to=found.new_size, hashes=[h.hex() for h in found.hashes]
    )
