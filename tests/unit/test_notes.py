"""Signed notes and checkpoints against the known vectors of golang.org/x/mod/sumdb/note
(its note_test.go) and against its code (``tests/outside``)."""

from __future__ import annotations

import base64

import pytest

from ledger.audit.checkpoints import checkpoint_text, read_checkpoint
from ledger.audit.notes import NoteError, Signer, Verifier, open_note
from tests.outside import Outside, OutsideError

# golang.org/x/mod/sumdb/note's test key and note (note_test.go: TestNewVerifier, TestSign).
GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def test_the_go_vectors() -> None:
    signer = Signer.parse(GO_SIGNER)
    assert signer.text == GO_SIGNER
    assert signer.verifier.text == GO_VERIFIER
    assert Verifier.parse(GO_VERIFIER) == signer.verifier
    assert signer.sign(GO_TEXT) == GO_NOTE  # Ed25519 signs deterministically
    assert open_note(GO_NOTE, Verifier.parse(GO_VERIFIER)) == GO_TEXT


@pytest.mark.parametrize(
    "key",
    [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+c74f20a3",
    ],
)
def test_bad_verifier_keys(key: str) -> None:
    with pytest.raises(NoteError):
        Verifier.parse(key)


def test_a_changed_note_does_not_open() -> None:
    verifier = Verifier.parse(GO_VERIFIER)
    for changed in (
        GO_NOTE.replace("cryptography", "cryptographY"),
        GO_NOTE.replace("x08go", "x08gp"),
        GO_NOTE.replace("\n\n", "\n"),
    ):
        with pytest.raises(NoteError):
            open_note(changed, verifier)
    other = Signer.generate("PeterNeumann").verifier
    with pytest.raises(NoteError):
        open_note(GO_NOTE, other)


def test_our_checkpoints_open_with_go_and_go_s_notes_with_ours(outside: Outside) -> None:
    signer = Signer.generate("ledger.example.com/ledger")
    note = signer.sign(checkpoint_text("ledger.example.com/ledger", 7, bytes(range(32))))
    assert outside.note(signer.verifier.text, note) == (
        f"ledger.example.com/ledger\n7\n{base64.b64encode(bytes(range(32))).decode()}\n"
    )
    read = read_checkpoint(note, signer.verifier)
    assert (read.origin, read.tree_size, read.root) == (
        "ledger.example.com/ledger",
        7,
        bytes(range(32)),
    )
    assert outside.note(GO_VERIFIER, GO_NOTE) == GO_TEXT
    with pytest.raises(OutsideError):
        outside.note(Signer.generate("ledger.example.com/ledger").verifier.text, note)
