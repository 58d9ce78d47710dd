"""The documents folder: uploaded proof documents kept by the SHA-256 of their content
(docs/documents.md).

A file is written to a temporary file in the folder while it is hashed and counted, chunk by
chunk (it never sits whole in memory), then renamed atomically to its hash: several servers
may share the folder, and two uploads of the same content end as one file. Its type is
recognised by its content (``filetype`` for the binary formats, a text check of our own for
CSV), never by its name. Reading it back checks its hash first.
"""

from __future__ import annotations

import codecs
import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import filetype  # type: ignore[import-untyped]

from ledger.domain.errors import InvalidInputError, TooLargeError, UnsupportedMediaError

CHUNK = 1024 * 1024
HEAD = 8192
"""The first bytes the type is recognised by (``filetype`` reads no more)."""
CSV = "text/csv"
ACCEPTED = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    CSV: ".csv",
}
"""The media types accepted, with the extension a download's name gets when it has none."""


@dataclass(frozen=True)
class StoredFile:
    sha256: str
    size: int
    media_type: str


def _looks_delimited(head: bytes, whole: bool) -> bool:
    """CSV: UTF-8 text without NUL bytes whose lines are delimited (a comma, semicolon or
    tab on every non-blank line). ``whole``: ``head`` is the entire file."""
    if b"\x00" in head:
        return False
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=whole)
    except UnicodeDecodeError:
        return False
    lines = text.splitlines()
    if not whole and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut short
    lines = [line for line in lines if line.strip()]
    return bool(lines) and any(all(d in line for line in lines) for d in ",;\t")


def sniff(head: bytes, whole: bool) -> str | None:
    """The accepted media type of a file beginning with ``head``; None if not accepted."""
    kind = filetype.guess(head[:HEAD])
    if kind is not None:
        return str(kind.mime) if kind.mime in ACCEPTED else None
    return CSV if _looks_delimited(head, whole) else None


class _CsvText:
    """The rest of a CSV file checked as it streams: UTF-8 throughout, no NUL byte."""

    def __init__(self) -> None:
        self.decoder = codecs.getincrementaldecoder("utf-8")()

    def feed(self, chunk: bytes, final: bool = False) -> None:
        try:
            self.decoder.decode(chunk, final=final)
        except UnicodeDecodeError:
            raise UnsupportedMediaError("document-type-not-accepted", field="file") from None
        if b"\x00" in chunk:
            raise UnsupportedMediaError("document-type-not-accepted", field="file")


def _megabytes(limit: int) -> str:
    return f"{limit / (1024 * 1024):g} MB"


class DocumentFolder:
    """The folder the documents are kept in, each as ``<sha256>`` (lower-case hex)."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes

    def file(self, sha256: str) -> Path:
        return self.path / sha256

    def store(self, chunks: Iterable[bytes]) -> StoredFile:
        """Write ``chunks`` as one document: hashed and counted as they are written to a
        temporary file here, its type recognised from its first bytes, then renamed to its
        hash. Refused: empty (422), larger than the limit (413), not accepted (415)."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".upload-", dir=self.path)
        try:
            with os.fdopen(fd, "wb") as out:
                stored = self._write(chunks, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, self.file(stored.sha256))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return stored

    def _write(self, chunks: Iterable[bytes], out: BinaryIO) -> StoredFile:
        digest, size, head = hashlib.sha256(), 0, b""
        media_type: str | None = None
        text: _CsvText | None = None
        for chunk in chunks:
            size += len(chunk)
            if size > self.max_bytes:
                limit = _megabytes(self.max_bytes)
                raise TooLargeError("document-too-large", field="file", params={"limit": limit})
            digest.update(chunk)
            out.write(chunk)
            if media_type is None:
                head += chunk
                if len(head) >= HEAD:
                    media_type, text = self._recognised(head, whole=False)
            elif text is not None:
                text.feed(chunk)
        if size == 0:
            raise InvalidInputError("document-empty", field="file")
        if media_type is None:
            media_type, text = self._recognised(head, whole=True)
        elif text is not None:
            text.feed(b"", final=True)
        return StoredFile(digest.hexdigest(), size, media_type)

    @staticmethod
    def _recognised(head: bytes, whole: bool) -> tuple[str, _CsvText | None]:
        media_type = sniff(head, whole)
        if media_type is None:
            raise UnsupportedMediaError("document-type-not-accepted", field="file")
        if media_type != CSV:
            return media_type, None
        text = _CsvText()
        text.feed(head, final=whole)
        return media_type, text

    def check(self, sha256: str) -> str | None:
        """None when the file is there and hashes to ``sha256``; else "missing", or the hash
        it has now."""
        try:
            found = self.hash_of(self.file(sha256))
        except FileNotFoundError:
            return "missing"
        return None if found == sha256 else found

    @staticmethod
    def hash_of(path: Path) -> str:
        digest = hashlib.sha256()
        with path.open("rb") as source:
            while chunk := source.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest()
