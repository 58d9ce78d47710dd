"""The API tests' client: the app on a store, a TestClient, and tokens for every kind of
principal."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from fastapi import FastAPI
from fastapi.testclient import TestClient

from cli.site import create_app
from ledger.domain.access import AccessTokens
from ledger.domain.principal import Principal
from ledger.runtime.bootstrap import Services
from ledger.service.clock import utc_now
from ledger.service.settings import Settings
from tests.conftest import Clock
from tests.factories import ADMIN_A, make_catalog


@dataclass
class Api:
    app: FastAPI
    client: TestClient
    settings: Settings

    @property
    def services(self) -> Services:
        found: Services = self.app.state.services
        return found

    def auth(self, principal: Principal, ttl: float = 3600) -> dict[str, str]:
        token = AccessTokens(self.settings.signing_key()).mint(
            principal, timedelta(seconds=ttl), utc_now()
        )
        return {"Authorization": f"Bearer {token}"}

    def get(
        self, path: str, principal: Principal | None = ADMIN_A, settle: bool = True, **kwargs: Any
    ) -> Any:
        """GET as ``principal``; first, unless told not to, the views catch up, as the
        service's workers keep them between requests (the app here runs without them)."""
        if settle:
            self.settle()
        headers = {**(self.auth(principal) if principal else {}), **kwargs.pop("headers", {})}
        return self.client.get(path, headers=headers, **kwargs)

    def settle(self) -> None:
        """What the workers do between requests: views up to date, policies run."""
        self.services.workers.views.catch_up()

    def post(
        self, path: str, body: Any = None, principal: Principal | None = ADMIN_A, **kwargs: Any
    ) -> Any:
        headers = {**(self.auth(principal) if principal else {}), **kwargs.pop("headers", {})}
        return self.client.post(
            path, json=body if body is not None else {}, headers=headers, **kwargs
        )

    def head(self) -> int:
        return self.services.ledger.recorder.max_notification_id() or 0

    def consent_token(self, claim_id: UUID | str) -> str:
        """The token of the latest consent e-mail of a claim, as the customer receives it."""
        self.services.workers.views.catch_up()
        rows = self.services.workers.mailer.outbox(UUID(str(claim_id)))
        latest = [r for r in rows if not r["superseded"]] or rows  # a reminder supersedes
        link = self.services.workers.mailer.link(latest[-1])
        return link.rsplit("/", 1)[1]


def make_api(settings: Settings, clock: Clock) -> Generator[Api, None, None]:
    app = create_app(settings, catalog=make_catalog(), clock=clock, run_workers=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(app, client, settings)
