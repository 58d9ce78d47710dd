"""The request dependencies: each service the app was built with, as its own ``Annotated``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from api.metrics import Metrics
from api.problems import from_ledger_error
from ledger.access import AccessTokens, InvalidTokenError
from ledger.application import Ledger
from ledger.bootstrap import ReadModels, Services
from ledger.catalog import Catalog
from ledger.errors import InvalidInputError, LedgerError
from ledger.ledger_base import Done, RequestKey
from ledger.principal import Principal
from ledger.projections.runner import ViewRunner
from ledger.tokens import ConsentTokens

T = TypeVar("T")


def _services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(_services)]


def _ledger(services: ServicesDep) -> Ledger:
    return services.ledger


def _catalog(services: ServicesDep) -> Catalog:
    return services.ledger.catalog


def _views(services: ServicesDep) -> ViewRunner:
    return services.workers.views


def _access_tokens(services: ServicesDep) -> AccessTokens:
    return services.access_tokens


def _consent_tokens(services: ServicesDep) -> ConsentTokens:
    return services.consent_tokens


def _now(services: ServicesDep) -> datetime:
    """The time of this request, from the app's clock."""
    return services.clock()


def _metrics(request: Request) -> Metrics:
    found: Metrics = request.app.state.metrics
    return found


LedgerDep = Annotated[Ledger, Depends(_ledger)]
CatalogDep = Annotated[Catalog, Depends(_catalog)]
ViewsDep = Annotated[ViewRunner, Depends(_views)]
ConsentTokensDep = Annotated[ConsentTokens, Depends(_consent_tokens)]
NowDep = Annotated[datetime, Depends(_now)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
bearer = HTTPBearer(auto_error=False, description="A token from `ledger token ...`")


def principal(
    tokens: Annotated[AccessTokens, Depends(_access_tokens)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None:
        raise InvalidTokenError("an Authorization: Bearer token is required")
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
    """The read models, once they show this user's own writes (and ``after``)."""
    services.freshness.read(principal.user_id, after if after is not None else position)
    return services.read_models


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


class Commands:
    """Runs a write once per Idempotency-Key, timed; the same user's next read shows it.

    ``act`` runs the command through ``Ledger.run`` under the request it is given: the key's
    record is saved with the command's events, so a retry after any crash answers from it,
    with ``Idempotent-Replayed: true`` and no new events.
    """

    def __init__(self, services: ServicesDep, metrics: MetricsDep) -> None:
        self.services = services
        self.metrics = metrics

    def run(
        self,
        name: str,
        owner: str,
        key: str | None,
        fingerprint: str,
        act: Callable[[RequestKey], Done[T]],
        answer: Callable[[Done[T]], Response],
        refused: Callable[[LedgerError], Response] = from_ledger_error,
    ) -> Response:
        """``answer`` comes from the write model (what the command's run came to: its result
        and the versions it saved, on a replay those of the first run); it carries the log
        position the write reached (``Ledger-Position``), which the same user's next read
        waits for. A refusal answers ``refused`` (the API's problem+json unless told
        otherwise)."""
        try:
            request = self.services.ledger.request_key(owner, key, fingerprint)
            with self.metrics.command(name):
                done = act(request)
        except LedgerError as error:
            return refused(error)
        response = answer(done)
        if done.position is not None:
            self.services.freshness.wrote(owner, done.position)
            response.headers["Ledger-Position"] = str(done.position)
        if done.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response


CommandsDep = Annotated[Commands, Depends()]


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
