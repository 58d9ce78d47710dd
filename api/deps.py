"""The request dependencies: each service the app was built with, as its own ``Annotated``."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Query, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from ledger.domain.access import InvalidTokenError
from ledger.domain.catalog import Catalog
from ledger.domain.errors import InvalidInputError
from ledger.domain.principal import Principal
from ledger.interface.dependencies import CommandRunnerDep as CommandRunnerDep
from ledger.interface.dependencies import MetricsDep as MetricsDep
from ledger.interface.dependencies import NowDep as NowDep
from ledger.interface.dependencies import ServicesDep as ServicesDep
from ledger.projections.runner import ViewRunner
from ledger.runtime.bootstrap import ReadModels
from ledger.runtime.identity import BearerTokens
from ledger.service.application import Ledger
from ledger.service.tokens import ConsentTokens
from ledger.words.refusals import Words

T = TypeVar("T")


def _ledger(services: ServicesDep) -> Ledger:
    return services.ledger


def _catalog(services: ServicesDep) -> Catalog:
    return services.ledger.catalog


def _views(services: ServicesDep) -> ViewRunner:
    return services.workers.views


def _access_tokens(services: ServicesDep) -> BearerTokens:
    return services.access_tokens


def _consent_tokens(services: ServicesDep) -> ConsentTokens:
    return services.consent_tokens


LedgerDep = Annotated[Ledger, Depends(_ledger)]
CatalogDep = Annotated[Catalog, Depends(_catalog)]
ViewsDep = Annotated[ViewRunner, Depends(_views)]
ConsentTokensDep = Annotated[ConsentTokens, Depends(_consent_tokens)]
bearer = HTTPBearer(
    auto_error=False,
    description="A token from `ledger token ...`, or from the identity provider (OpenID Connect)",
)


def principal(
    tokens: Annotated[BearerTokens, Depends(_access_tokens)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None:
        raise InvalidTokenError(Words("token-missing"))
    return tokens.principal(credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(principal)]


def _read_models(
    services: ServicesDep,
    principal: PrincipalDep,
    after: Annotated[
        int | None,
        Query(ge=0, description="Answer once the views include this log position"),
    ] = None,
    position: Annotated[
        int | None,
        Header(alias="Ledger-Position", ge=0, description="As ?after= (a write's answer)"),
    ] = None,
) -> ReadModels:
    """The read models (the replica's when it shows them), once they show this user's own
    writes (and ``after``)."""
    return services.freshness.read(principal.user_id, after if after is not None else position)


ReadModelsDep = Annotated[ReadModels, Depends(_read_models)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Repeat a POST safely: same key, same answer"),
]
Cursor = Annotated[
    str | None, Query(max_length=500, description="The next_cursor of the page before")
]
Limit = Annotated[int, Query(ge=1, le=500, description="At most this many items")]
AsOf = Annotated[
    str | None,
    Query(
        max_length=64,
        description="An ISO-8601 date-time with a time zone (e.g. 2026-03-02T09:00:00Z): "
        "the answer as it stood then, folded from the events up to that time (a later time "
        "is now)",
    ),
]
IfMatch = Annotated[
    str | None, Header(alias="If-Match", description="The claim's ETag; 412 when stale")
]


def expected_version(if_match: str | None) -> int | None:
    """The claim version an If-Match header names: ``"3"``, ``W/"3"`` or ``3``."""
    if if_match is None or if_match.strip() == "*":
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 12:
        raise InvalidInputError("invalid-if-match", field="If-Match")
    return int(text)


def etag(version: int) -> str:
    return f'"{version}"'


def json_response(model: BaseModel, status: int = 200, **headers: str) -> Response:
    body: Any = model.model_dump(mode="json")
    return JSONResponse(body, status_code=status, headers=headers or None)
