"""The largest request body the service reads (LEDGER_MAX_BODY_BYTES), enforced before any
route, dependency or sign-in check reads a byte of it: a declared ``Content-Length`` over the
limit is refused without reading the body at all; a body sent in chunks is counted as it
arrives and refused when it passes the limit. Either way the route that reads the body gets a
413 (problem+json from the API, the error page from the web page), and no request, signed in
or not, makes the service hold more than the limit.

The routes that take a proof document (``POST /v1/claims/{id}/documents``, and the page's
submit form, which may carry one file per kind of proof) accept larger bodies: the document
limit (LEDGER_DOCUMENT_MAX_BYTES) per file plus 1 MiB for the rest of the form
(``upload_limit``); every other route keeps LEDGER_MAX_BODY_BYTES. The route itself refuses
a file over the document limit as it streams it (``ledger.store.documents``)."""

from __future__ import annotations

import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.domain.catalog import ProofItem
from ledger.service.settings import Settings

ENVELOPE = 1024 * 1024
"""What a document upload's form may hold beside its files."""
UPLOAD_ROUTES = (
    re.compile(r"^/v1/claims/[^/]+/documents$"),  # one file
    re.compile(r"^/claims/[^/]+/submission$"),  # the page's submit form: a file per kind
)


def upload_limit(settings: Settings) -> tuple[int, int]:
    """The largest bodies of the two upload routes (``UPLOAD_ROUTES``, in order)."""
    one = settings.document_max_bytes + ENVELOPE
    return one, settings.document_max_bytes * len(ProofItem) + ENVELOPE


class LimitBodySize:
    def __init__(self, app: ASGIApp, limit: int, uploads: tuple[int, int] = (0, 0)) -> None:
        self.app = app
        self.limit = limit
        self.uploads = uploads

    def limit_of(self, scope: Scope) -> int:
        """The largest body of this request's route: an upload route's, or the others'."""
        if scope.get("method") == "POST":
            for route, upload in zip(UPLOAD_ROUTES, self.uploads, strict=True):
                if route.match(scope.get("path", "")):
                    return max(self.limit, upload)
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        limit = self.limit_of(scope)
        received = 0
        too_large = HTTPException(
            413, f"the request body is larger than this service accepts ({limit:,} bytes)"
        )

        async def counted() -> Message:
            nonlocal received
            if declared.isdigit() and int(declared) > limit:
                raise too_large  # not a byte of it read
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large
            return message

        await self.app(scope, counted, send)
