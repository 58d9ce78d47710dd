"""A refusal as HTTP answers it: its status from one table, and its problem+json (RFC 9457)."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from ledger.domain.errors import (
    ConflictError,
    ForbiddenError,
    IdentityProviderUnavailableError,
    InvalidInputError,
    LedgerError,
    NotFoundError,
    RuleRefusedError,
    StaleVersionError,
    TooLargeError,
    UnsupportedMediaError,
)
from ledger.words.i18n import DEFAULT

PROBLEM = "application/problem+json"
TYPE_BASE = "https://claim-ledger.dev/problems/"

# The one table from the kind of domain refusal to its HTTP status. A class not named here
# answers with its nearest named base class (InvalidTransitionError as a ConflictError,
# IneligibleError as a RuleRefusedError); LedgerError itself is the fallback.
STATUS_BY_ERROR: dict[type[LedgerError], int] = {
    LedgerError: 422,
    InvalidInputError: 422,
    RuleRefusedError: 422,
    ForbiddenError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    StaleVersionError: 412,
    TooLargeError: 413,
    UnsupportedMediaError: 415,
    IdentityProviderUnavailableError: 503,
}


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body = {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in (extra or {}).items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def status_of(error: LedgerError) -> int:
    """The HTTP status for ``error``: its class's entry, or its nearest base class's."""
    for kind in type(error).__mro__:
        status = STATUS_BY_ERROR.get(kind)
        if status is not None:
            return status
    return STATUS_BY_ERROR[LedgerError]


def from_ledger_error(error: LedgerError, language: str = DEFAULT) -> JSONResponse:
    """The refusal's problem+json: its ``detail`` and each of its ``errors[].message`` the
    sentences of ``ledger.words.refusals`` in ``language``."""
    extra = {"rule": error.rule, "field": error.field, **error.extra}
    if error.problems:
        extra["errors"] = error.listed(language)
    status = status_of(error)
    return problem(
        status,
        error.slug,
        error.slug.replace("-", " ").capitalize(),
        error.say(language),
        extra=extra,
        headers={"Retry-After": "5"} if status == 503 else None,  # a moment, then again
    )
