"""The app's services and the request dependencies the routers share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from api.idempotency import IdempotencyStore
from api.metrics import Metrics
from ledger.access import AccessTokens, InvalidTokenError
from ledger.application import Ledger
from ledger.errors import InvalidInputError
from ledger.principal import Principal
from ledger.settings import Settings
from ledger.workers import Workers


@dataclass
class Services:
    settings: Settings
    ledger: Ledger
    workers: Workers
    access: AccessTokens
    idempotency: IdempotencyStore
    metrics: Metrics
    clock: Callable[[], datetime]

    def now(self) -> datetime:
        return self.clock()

    def written(self) -> None:
        """Read-your-writes: bring the views up to the write that just succeeded."""
        self.workers.views.catch_up()


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(services)]
bearer = HTTPBearer(auto_error=False, description="A token from `ledger token ...`")


def principal(
    svc: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None:
        raise InvalidTokenError("an Authorization: Bearer token is required")
    return svc.access.principal(credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(principal)]
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Repeat a POST safely: same key, same answer"),
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
        raise InvalidInputError(
            "invalid-if-match", 'If-Match takes the claim\'s ETag, e.g. "3"', field="If-Match"
        )
    return int(text)


def etag(version: int) -> str:
    return f'"{version}"'


def json_response(model: BaseModel, status: int = 200, **headers: str) -> Response:
    body: Any = model.model_dump(mode="json")
    return JSONResponse(body, status_code=status, headers=headers or None)
