"""Proof documents: uploaded to a claim (multipart), and downloaded once their hash is
checked (docs/documents.md)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel
from starlette.datastructures import FormData, UploadFile

from api.deps import (
    CommandRunnerDep,
    IdempotencyKey,
    IfMatch,
    NowDep,
    PrincipalDep,
    ServicesDep,
    expected_version,
    json_response,
)
from api.schemas import Out, errors, problem_response
from ledger.aggregates.values import AttachedDocument
from ledger.domain.catalog import ProofItem
from ledger.domain.commands import invalid_input, parse
from ledger.domain.errors import InvalidInputError, Problem
from ledger.interface.documents import checked_file, store_upload
from ledger.service.ledger_base import Done, RequestKey
from ledger.words.refusals import Words

router = APIRouter(prefix="/v1", tags=["documents"])


class Document(Out):
    id: UUID
    kind: ProofItem
    name: str
    media_type: str
    size: int
    sha256: str


class _Kind(BaseModel):
    kind: ProofItem


UPLOAD = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "kind"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "The document: PDF, PNG, JPEG, DOCX, XLSX or CSV "
                            "(recognised by its content), at most LEDGER_DOCUMENT_MAX_BYTES",
                        },
                        "kind": {
                            "type": "string",
                            "enum": [k.value for k in ProofItem],
                            "description": "Which of the claim's required proof it is",
                        },
                    },
                    "examples": [{"file": "invoice-2026-001.pdf", "kind": "invoice"}],
                }
            }
        },
    }
}
UPLOAD_ERRORS = {
    **errors(401, 403, 404, 409, 412, 422),
    413: problem_response("The file is larger than LEDGER_DOCUMENT_MAX_BYTES"),
    415: problem_response("The file is not a PDF, PNG, JPEG, DOCX, XLSX or CSV document"),
}


def _parts(form: FormData) -> tuple[UploadFile, ProofItem]:
    """The upload's file and kind; every missing or invalid part listed (422)."""
    problems: list[Problem] = []
    file = form.get("file")
    if not isinstance(file, UploadFile):
        problems.append(Problem("file", None, Words("missing", "file")))
    kind: ProofItem | None = None
    try:
        kind = parse(_Kind, {"kind": form.get("kind")}).kind
    except InvalidInputError as error:
        problems.extend(error.problems)
    if problems or not isinstance(file, UploadFile) or kind is None:
        raise invalid_input(problems)
    return file, kind


@router.post(
    "/claims/{claim_id}/documents",
    status_code=201,
    response_model=Document,
    responses=UPLOAD_ERRORS,
    openapi_extra=UPLOAD,
)
async def upload_document(
    claim_id: UUID,
    request: Request,
    services: ServicesDep,
    principal: PrincipalDep,
    commands: CommandRunnerDep,
    now: NowDep,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """Upload a proof document (multipart: ``file``, ``kind``): PDF, PNG, JPEG, DOCX, XLSX or
    CSV, recognised by content. The file is stored first (no database connection held while
    it arrives), then one short command records it on the claim."""
    ledger = services.ledger
    await run_in_threadpool(ledger.may_attach, principal, claim_id)
    async with request.form(max_files=1, max_fields=4) as form:
        file, kind = _parts(form)
        document = await run_in_threadpool(
            store_upload, services.documents, file.file, file.filename, kind
        )

    version = expected_version(if_match)

    def act(request_key: RequestKey) -> Done[Any]:
        command = ledger.attach_document
        return ledger.run(request_key, command, principal, claim_id, document, now, version)

    def answer(done: Done[Any]) -> Response:
        found: AttachedDocument = ledger.document(principal, claim_id, done.result)
        return json_response(Document.model_validate(found.model_dump()), status=201)

    fingerprint = f"attach_document {claim_id} {kind.value} {document.name} {document.sha256}"
    return await run_in_threadpool(
        commands.run, "attach_document", principal.user_id, key, fingerprint, act, answer
    )


@router.get(
    "/claims/{claim_id}/documents/{document_id}",
    response_class=FileResponse,
    responses={
        200: {"description": "The document, as an attachment", "content": {"*/*": {}}},
        **errors(401, 403, 404, 422),
        409: problem_response("The stored file no longer matches its recorded SHA-256"),
    },
)
def download_document(
    claim_id: UUID, document_id: UUID, services: ServicesDep, principal: PrincipalDep
) -> Response:
    """The document's file, as an attachment, once its content hashes to what its upload
    recorded (a changed file is refused, 409 ``document-changed``, and logged): for the
    claim's partner, reviewers and auditors."""
    document = services.ledger.document(principal, claim_id, document_id)
    path = checked_file(services.documents, claim_id, document)
    return FileResponse(
        path,
        media_type=document.media_type,
        filename=document.name,
        content_disposition_type="attachment",
    )
