"""Signed notes (C2SP ``signed-note``) with Ed25519 keys, as the Go checksum database has them.

A note is UTF-8 text ending in a newline, then a blank line, then one line per signature:
``— <key name> <base64(key id (4 bytes, big-endian) || signature)>``. The key id is the first
4 bytes of ``SHA-256(key name || 0x0A || 0x01 || public key)`` (0x01: Ed25519); the signature
is Ed25519 over the text, its final newline included.

The keys as text: the verifier key ``<name>+<key id as 8 hex digits>+<base64(0x01 || public
key)>``, the signer key ``PRIVATE+KEY+<name>+<key id>+<base64(0x01 || 32-byte seed)>``
(``golang.org/x/mod/sumdb/note``'s ``GenerateKey`` makes them so).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = b"\x01"
DASH = "\u2014 "
PRIVATE = "PRIVATE+KEY+"


class NoteError(ValueError):
    """A key, a note or a signature that is not what it should be (a sentence saying why)."""


def key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public).digest()[:4]


def _check_name(name: str) -> str:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise NoteError(f"a key name is not empty and has no spaces or '+': {name!r}")
    return name


@dataclass(frozen=True)
class Verifier:
    name: str
    public: bytes

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.public)

    @property
    def text(self) -> str:
        encoded = base64.b64encode(ED25519 + self.public).decode()
        return f"{self.name}+{self.id.hex()}+{encoded}"

    @classmethod
    def parse(cls, text: str) -> Verifier:
        """The verifier key ``name+hash+key`` (NoteError if it is not one, or its hash is
        not its key's)."""
        name, hash_hex, key = _fields(text.strip(), 3)
        raw = _decode(key, "the key")
        if len(raw) != 33 or raw[:1] != ED25519:
            raise NoteError("the key is not an Ed25519 key (0x01 and 32 bytes)")
        verifier = cls(_check_name(name), raw[1:])
        if verifier.id.hex() != hash_hex.lower():
            raise NoteError(f"the key's hash is {verifier.id.hex()}, not {hash_hex}")
        return verifier

    def verifies(self, text: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, text)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Signer:
    name: str
    seed: bytes

    @classmethod
    def generate(cls, name: str) -> Signer:
        key = Ed25519PrivateKey.generate()
        return cls(_check_name(name), key.private_bytes_raw())

    @classmethod
    def parse(cls, text: str) -> Signer:
        """The signer key ``PRIVATE+KEY+name+hash+key`` (NoteError if it is not one)."""
        text = text.strip()
        if not text.startswith(PRIVATE):
            raise NoteError("a signer key starts with PRIVATE+KEY+")
        name, hash_hex, key = _fields(text.removeprefix(PRIVATE), 3)
        raw = _decode(key, "the key")
        if len(raw) != 33 or raw[:1] != ED25519:
            raise NoteError("the key is not an Ed25519 key (0x01 and a 32-byte seed)")
        signer = cls(_check_name(name), raw[1:])
        if signer.verifier.id.hex() != hash_hex.lower():
            raise NoteError(f"the key's hash is {signer.verifier.id.hex()}, not {hash_hex}")
        return signer

    @property
    def text(self) -> str:
        encoded = base64.b64encode(ED25519 + self.seed).decode()
        return f"{PRIVATE}{self.name}+{self.verifier.id.hex()}+{encoded}"

    @property
    def verifier(self) -> Verifier:
        public = Ed25519PrivateKey.from_private_bytes(self.seed).public_key()
        return Verifier(self.name, public.public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, text: str) -> str:
        """The signed note of ``text`` (which ends in a newline and has no blank line)."""
        if not text.endswith("\n") or "\n\n" in text or text.startswith("\n"):
            raise NoteError("a note's text ends in a newline and has no blank line")
        signature = Ed25519PrivateKey.from_private_bytes(self.seed).sign(text.encode())
        encoded = base64.b64encode(self.verifier.id + signature).decode()
        return f"{text}\n{DASH}{self.name} {encoded}\n"


def open_note(note: str, verifier: Verifier) -> str:
    """The text of a signed note once a signature by ``verifier`` is found valid on it
    (NoteError saying what is wrong otherwise)."""
    text, blank, signatures = note.rpartition("\n\n")
    if not blank or not signatures.endswith("\n"):
        raise NoteError("not a signed note: no blank line before the signatures")
    text += "\n"
    for line in signatures[:-1].split("\n"):
        if not line.startswith(DASH):
            raise NoteError(f"not a signature line: {line[:60]!r}")
        name, _, encoded = line.removeprefix(DASH).partition(" ")
        raw = _decode(encoded, "a signature")
        if name == verifier.name and raw[:4] == verifier.id:
            if verifier.verifies(text.encode(), raw[4:]):
                return text
            raise NoteError(f"the signature of {name} does not verify")
    raise NoteError(f"the note carries no signature by {verifier.name}+{verifier.id.hex()}")


def _fields(text: str, count: int) -> list[str]:
    fields = text.split("+", count - 1)
    if len(fields) != count:
        raise NoteError(f"a key is {count} fields joined by '+'")
    return fields


def _decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not base64") from None
