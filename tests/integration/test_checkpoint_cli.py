"""``ledger checkpoint``, ``ledger prove`` and ``ledger verify --checkpoint`` as an operator
runs them, on both stores: the printed note verifies with the printed key (by
``cryptography`` and by the Go checksum database's code), the proofs verify against it, and a
kept checkpoint proves a log that grew and fails, naming the event, on a rewritten one."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.service.application import open_ledger
from ledger.service.settings import Settings
from tests.factories import consented_claim, make_catalog
from tests.integration.test_cli import ledger_cli
from tests.integration.test_tamper import Table, more
from tests.outside import Outside


def check_signature(note: str, verifier_key: str) -> tuple[str, int, bytes]:
    """Verify the note's signature from the printed verifier key alone (name+hash+base64 of
    0x01 and the Ed25519 key) with cryptography; the checkpoint's origin, size and root."""
    name, key_hash, encoded = verifier_key.strip().split("+", 2)
    raw = base64.b64decode(encoded)
    assert raw[0] == 1 and len(raw) == 33
    assert hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() == key_hash
    text, _, signatures = note.rpartition("\n\n")
    line = signatures.strip()
    assert line.startswith(f"\u2014 {name} ")
    signed = base64.b64decode(line.split(" ")[-1])
    assert signed[:4].hex() == key_hash
    Ed25519PublicKey.from_public_bytes(raw[1:]).verify(signed[4:], (text + "\n").encode())
    origin, size, root = text.split("\n")
    return origin, int(size), base64.b64decode(root)


def rewrite_one_event(settings: Settings, before: int) -> tuple[int, str]:
    """Change one byte of an event among the log's first ``before`` (as test_tamper does)."""
    ledger = open_ledger(settings, make_catalog())
    try:
        table = Table(ledger, settings)
        target = table.rows()[before // 2]
        table.set_state(target.notification_id, target.state.replace(b"}", b" }", 1))
        return target.notification_id, str(target.originator_id)
    finally:
        ledger.close()


def played(settings: Settings) -> str:
    """Real commands on the store (test_tamper's); a claim's id among them."""
    ledger = open_ledger(settings, make_catalog())
    try:
        claim = consented_claim(ledger)
        for _ in range(3):
            more(ledger)
        return str(claim)
    finally:
        ledger.close()


def test_checkpoint_prove_and_verify(settings: Settings, tmp_path: Path, outside: Outside) -> None:
    played(settings)
    made = ledger_cli(settings, "checkpoint", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    key = ledger_cli(settings, "checkpoint", "--public-key", cwd=tmp_path).stdout
    origin, size, root = check_signature(made.stdout, key)
    assert origin.endswith("/ledger") and size > 20
    assert outside.note(key.strip(), made.stdout).startswith(origin)
    if settings.is_sqlite:  # the key made once, beside the store, for its owner only
        key_file = Path(str(settings.sqlite_path) + ".checkpoint-key")
        assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    kept = tmp_path / "checkpoint.txt"
    kept.write_text(made.stdout)

    ledger = open_ledger(settings, make_catalog())
    try:
        more(ledger)
    finally:
        ledger.close()
    extended = ledger_cli(settings, "verify", "--checkpoint", str(kept), cwd=tmp_path)
    assert extended.returncode == 0, extended.stdout + extended.stderr
    said = " ".join(extended.stdout.split())
    assert f"the log's first {size:,} events are the tree of the checkpoint" in said
    assert root.hex() in said

    notification, originator = rewrite_one_event(settings, size)
    failed = ledger_cli(settings, "verify", "--checkpoint", str(kept), cwd=tmp_path)
    assert failed.returncode == 1
    said = " ".join(failed.stdout.split())
    assert f"NOT PROVEN the log does not extend the checkpoint {origin} {size}" in said
    assert f"notification {notification} (originator {originator}" in said


def test_prove_prints_proofs_that_verify(
    settings: Settings, tmp_path: Path, outside: Outside
) -> None:
    claim = played(settings)
    made = ledger_cli(settings, "checkpoint", cwd=tmp_path)
    key = ledger_cli(settings, "checkpoint", "--public-key", cwd=tmp_path).stdout
    _, size, root = check_signature(made.stdout, key)
    proved = ledger_cli(settings, "prove", claim, cwd=tmp_path)
    assert proved.returncode == 0, proved.stderr
    lines = [json.loads(line) for line in proved.stdout.splitlines()]
    assert [line["version"] for line in lines] == list(range(1, len(lines) + 1))
    for line in lines:
        assert line["tree_size"] == size
        path = [bytes.fromhex(h) for h in line["hashes"]]
        outside.inclusion(line["leaf_index"], size, bytes.fromhex(line["leaf_hash"]), root, path)
    unknown = ledger_cli(settings, "prove", "0f8fad5b-d9cb-469f-a165-70867728950e", cwd=tmp_path)
    assert unknown.returncode == 1
