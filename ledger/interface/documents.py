"""Proof documents at the interface: an upload's parts read and stored, and a stored file
served only after its hash is checked (docs/documents.md). The API and the page share it."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO
from uuid import UUID, uuid4

from ledger.aggregates.values import AttachedDocument
from ledger.domain.catalog import ProofItem
from ledger.domain.errors import ConflictError
from ledger.store.documents import ACCEPTED, CHUNK, DocumentFolder

log = logging.getLogger("ledger.documents")
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\"\\/]+")


def chunks(source: BinaryIO) -> Iterator[bytes]:
    """An uploaded file, a chunk at a time (python-multipart spooled it to disk above 1 MB)."""
    source.seek(0)
    while chunk := source.read(CHUNK):
        yield chunk


def upload_name(filename: str | None, media_type: str) -> str:
    """The name a document is kept under: the last part of the client's file name, on one
    line, without quotes or slashes; ``document.EXT`` when it gives none."""
    base = PurePosixPath((filename or "").replace("\\", "/")).name
    name = " ".join(_UNSAFE.sub(" ", base).split())[:255]
    return name or f"document{ACCEPTED.get(media_type, '')}"


def store_upload(
    folder: DocumentFolder, source: BinaryIO, filename: str | None, kind: ProofItem
) -> AttachedDocument:
    """Store an uploaded file (refused: empty, too large, not accepted) and describe it as
    the claim's event will record it."""
    stored = folder.store(chunks(source))
    return AttachedDocument(
        id=uuid4(),
        kind=kind,
        name=upload_name(filename, stored.media_type),
        media_type=stored.media_type,
        size=stored.size,
        sha256=stored.sha256,
    )


def checked_file(folder: DocumentFolder, claim_id: UUID, document: AttachedDocument) -> Path:
    """The stored file of ``document``, once its content hashes to what was recorded; a
    missing or changed file is logged (an error: someone changed the evidence) and refused
    (409 ``document-changed``), never served."""
    found = folder.check(document.sha256)
    if found is not None:
        log.error(
            "document %s of claim %s does not match its record: recorded sha256 %s, stored file %s",
            document.id,
            claim_id,
            document.sha256,
            "missing" if found == "missing" else f"sha256 {found}",
        )
        raise ConflictError(
            "document-changed",
            extra={"document_id": str(document.id), "claim_id": str(claim_id)},
        )
    return folder.file(document.sha256)
