"""What the API and the page both ask of a request: the services the app was built with, the
time of the request, the metrics, and the one way to run a command (once per key, timed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Request, Response

from ledger.bootstrap import Services
from ledger.errors import LedgerError
from ledger.ledger_base import RequestKey
from ledger.log import written
from ledger.service.metrics import Metrics
from ledger.service.refusals import from_ledger_error

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

    The key's record is saved with the command's events (``Ledger.idempotent``): a retry
    after any crash answers from it, with ``Idempotent-Replayed: true`` and no new events.
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
        act: Callable[[], T],
        answer: Callable[[T, RequestKey], Response],
        refused: Callable[[LedgerError], Response] = from_ledger_error,
    ) -> Response:
        """``answer`` comes from the write model (the result, and the request with the versions
        the command saved: on a replay, those of the first run); it carries the log position
        the write reached (``Ledger-Position``), which the same user's next read waits for. A
        refusal answers ``refused`` (the API's problem+json unless told otherwise)."""
        try:
            with (
                self.services.ledger.idempotent(owner, key, fingerprint) as request,
                self.metrics.command(name),
            ):
                result = act()
        except LedgerError as error:
            return refused(error)
        response = answer(result, request)
        position = written.get()
        if position is not None:
            self.services.freshness.wrote(owner, position)
            response.headers["Ledger-Position"] = str(position)
        if request.replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return response


CommandRunnerDep = Annotated[CommandRunner, Depends()]
