"""What the API and the page both ask of a request: the services the app was built with, the
time of the request, the metrics, and the one way to run a command (once per key, timed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Request, Response

from ledger.domain.errors import LedgerError
from ledger.interface.metrics import Metrics
from ledger.interface.refusals import from_ledger_error
from ledger.runtime.bootstrap import Services
from ledger.service.ledger_base import Done, RequestKey
from ledger.words.i18n import negotiate

T = TypeVar("T")


def _services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


ServicesDep = Annotated[Services, Depends(_services)]


def _now(services: ServicesDep) -> datetime:
    """The time of this request, from the app's clock."""
    return services.clock()


def _metrics(request: Request) -> Metrics:
    found: Metrics = request.app.state.metrics
    return found


NowDep = Annotated[datetime, Depends(_now)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]


class CommandRunner:
    """Runs a write once per Idempotency-Key, timed; the same user's next read shows it.

    ``act`` runs the command through ``Ledger.run`` under the request it is given: the key's
    record is saved with the command's events, so a retry after any crash answers from it,
    with ``Idempotent-Replayed: true`` and no new events.
    """

    def __init__(self, request: Request, services: ServicesDep, metrics: MetricsDep) -> None:
        self.services = services
        self.metrics = metrics
        self.language = negotiate(request.headers.get("accept-language"))
        """The caller's language: a refusal's words are said in it (English by default)."""

    def refused(self, error: LedgerError) -> Response:
        """The API's problem+json of a refusal, in the caller's language."""
        return from_ledger_error(error, self.language)

    def run(
        self,
        name: str,
        owner: str,
        key: str | None,
        fingerprint: str,
        act: Callable[[RequestKey], Done[T]],
        answer: Callable[[Done[T]], Response],
        refused: Callable[[LedgerError], Response] | None = None,
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
            return (refused or self.refused)(error)
        response = answer(done)
        if done.position is not None:
            self.services.freshness.wrote(owner, done.position)
            response.headers["Ledger-Position"] = str(done.position)
        if done.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response


CommandRunnerDep = Annotated[CommandRunner, Depends()]
