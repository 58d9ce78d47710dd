"""GET /v1/audit/checkpoint and the proofs, on both stores: who may ask (auditors; partners
their claims' events; anyone for the checkpoint and consistency with
LEDGER_CHECKPOINT_PUBLIC=1), what is refused, and that the answers verify with the Go
checksum database's code (``tests/outside``) against the served checkpoint."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.audit.event_ids import event_id
from ledger.audit.notes import Verifier
from ledger.runtime.checkpointing import checkpoint_signer, publish_now
from ledger.service.settings import Settings
from tests.api.client import Api, make_api
from tests.api.helpers import assert_problem, new_claim
from tests.conftest import Clock
from tests.factories import ADMIN_A, ADMIN_B, AUDITOR, REVIEWER, SELLER, USER_A1
from tests.outside import Outside, OutsideError

CHECKPOINT = "/v1/audit/checkpoint"
INCLUSION = "/v1/audit/proofs/inclusion"
CONSISTENCY = "/v1/audit/proofs/consistency"


def served(api: Api, outside: Outside) -> tuple[int, bytes]:
    """The served checkpoint's size and root, once its signature verified outside."""
    response = api.get(CHECKPOINT, AUDITOR)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    verifier = checkpoint_signer(api.settings).verifier.text
    origin, size, root, _ = outside.note(verifier, response.text).split("\n")
    assert origin == "testserver/ledger" or origin.endswith("/ledger")
    return int(size), base64.b64decode(root)


def test_a_claims_events_are_proved_in_the_served_checkpoint(api: Api, outside: Outside) -> None:
    claim = new_claim(api)
    size, root = served(api, outside)
    assert size >= 2
    for who in (ADMIN_A, AUDITOR):
        by_claim = api.get(INCLUSION, who, params={"claim_id": claim, "version": 1})
        assert by_claim.status_code == 200, by_claim.text
        proof = by_claim.json()
        assert set(proof) == {"leaf_index", "tree_size", "leaf_hash", "hashes"}
        assert proof["tree_size"] == size  # the latest checkpoint's by default
        outside.inclusion(
            proof["leaf_index"],
            size,
            bytes.fromhex(proof["leaf_hash"]),
            root,
            [bytes.fromhex(h) for h in proof["hashes"]],
        )
    stable = event_id(UUID(claim), 1)
    by_id = api.get(INCLUSION, AUDITOR, params={"event_id": stable, "tree_size": size})
    assert by_id.json() == proof
    with pytest.raises(OutsideError):  # another root does not hold it
        outside.inclusion(
            proof["leaf_index"], size, bytes.fromhex(proof["leaf_hash"]), bytes(32), []
        )


def test_the_log_grows_consistently_with_its_checkpoints(api: Api, outside: Outside) -> None:
    new_claim(api)
    old_size, old_root = served(api, outside)
    new_claim(api, ["E-AS"])
    publish_now(api.services.ledger, api.settings, api.services.workers.clock())
    new_size, new_root = served(api, outside)
    assert new_size > old_size
    response = api.get(CONSISTENCY, AUDITOR, params={"from": old_size, "to": new_size})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"]) == (old_size, new_size)
    hashes = [bytes.fromhex(h) for h in body["hashes"]]
    outside.consistency(old_size, new_size, old_root, new_root, hashes)
    with pytest.raises(OutsideError):
        outside.consistency(old_size, new_size, new_root, new_root, hashes)


def test_who_may_ask(api: Api) -> None:
    claim = new_claim(api)
    for path, params in (
        (CHECKPOINT, {}),
        (INCLUSION, {"claim_id": claim, "version": 1}),
        (CONSISTENCY, {"from": 1, "to": 1}),
    ):
        assert_problem(api.get(path, None, params=params), 401, "unauthorized")
        assert_problem(api.get(path, REVIEWER, params=params), 403, "role-required")
        assert api.get(path, AUDITOR, params=params).status_code == 200
    for path in (CHECKPOINT, CONSISTENCY):
        assert_problem(api.get(path, ADMIN_A, params={"from": 1, "to": 1}), 403, "role-required")
    assert_problem(
        api.get(INCLUSION, SELLER, params={"claim_id": claim, "version": 1}), 403, "role-required"
    )
    # Another partner's claim is not found; a location the user may not use is forbidden.
    other = api.get(INCLUSION, ADMIN_B, params={"claim_id": claim, "version": 1})
    assert_problem(other, 404, "event-not-found")
    assert api.get(INCLUSION, USER_A1, params={"claim_id": claim, "version": 1}).status_code in (
        200,
        403,
    )


def test_what_is_refused(api: Api) -> None:
    claim = new_claim(api)
    size = len(api.services.ledger.event_log.page_after(0, 1000).notifications)
    unknown = {"event_id": "6f1e0c3a-5b0e-4d8e-9a57-2f4c1d9b7e21"}
    assert_problem(api.get(INCLUSION, AUDITOR, params=unknown), 404, "event-not-found")
    missing = {"claim_id": claim, "version": 99}
    assert_problem(api.get(INCLUSION, AUDITOR, params=missing), 404, "event-not-found")
    for params in ({}, {"claim_id": claim}, {**unknown, "claim_id": claim, "version": 1}):
        assert_problem(api.get(INCLUSION, AUDITOR, params=params), 422, "proof-event-required")
    beyond = {"claim_id": claim, "version": 1, "tree_size": size + 1}
    assert_problem(api.get(INCLUSION, AUDITOR, params=beyond), 422, "tree-size-beyond")
    second = new_claim(api, ["E-AS"])
    last = api.get(INCLUSION, AUDITOR, params={"claim_id": second, "version": 1}).json()
    early = {"claim_id": second, "version": 1, "tree_size": last["leaf_index"]}
    assert_problem(api.get(INCLUSION, AUDITOR, params=early), 422, "event-after-tree-size")
    size = len(api.services.ledger.event_log.page_after(0, 1000).notifications)
    for sizes in ({"from": 2, "to": 1}, {"from": 1, "to": size + 1}):
        assert_problem(api.get(CONSISTENCY, AUDITOR, params=sizes), 422, "consistency-sizes")
    assert api.get(CONSISTENCY, AUDITOR, params={"from": 0, "to": 1}).status_code == 422
    assert api.get(CONSISTENCY, AUDITOR, params={"to": 1}).status_code == 422


@pytest.fixture
def public_api(settings: Settings, clock: Clock) -> Iterator[Api]:
    yield from make_api(settings.model_copy(update={"checkpoint_public": True}), clock)


def test_public_checkpoints_for_outside_witnesses(public_api: Api, outside: Outside) -> None:
    claim = new_claim(public_api)
    response = public_api.get(CHECKPOINT, None)
    assert response.status_code == 200
    key = checkpoint_signer(public_api.settings).verifier.text
    size = int(outside.note(key, response.text).split("\n")[1])
    assert public_api.get(CONSISTENCY, None, params={"from": 1, "to": size}).status_code == 200
    # The inclusion proofs name claims: sign-in still.
    inclusion = public_api.get(INCLUSION, None, params={"claim_id": claim, "version": 1})
    assert_problem(inclusion, 401, "unauthorized")


def test_the_printed_key_verifies_the_signature_with_cryptography(api: Api) -> None:
    new_claim(api)
    note = api.get(CHECKPOINT, AUDITOR).text
    key = Verifier.parse(checkpoint_signer(api.settings).verifier.text)
    text, _, signature_line = note.rpartition("\n\n")
    raw = base64.b64decode(signature_line.split(" ")[-1])
    assert raw[:4] == key.id
    Ed25519PublicKey.from_public_bytes(key.public).verify(raw[4:], (text + "\n").encode())
