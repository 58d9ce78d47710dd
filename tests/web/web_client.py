"""A browser for the page tests: the app on SQLite, sign-in by cookie, and the forms of a page
as the HTML has them (hidden keys included), to post them back as a browser would."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from uuid import UUID

from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from api.app import create_app
from ledger.access import AccessTokens
from ledger.bootstrap import ReadModels, Services
from ledger.clock import utc_now
from ledger.principal import Principal
from ledger.settings import Settings
from tests.conftest import Clock
from tests.factories import ADMIN_A, consent_request, create, make_catalog, proof
from web.session import COOKIE, Session


@dataclass
class Form:
    """One ``<form>`` of a page: where it posts and the values it would send."""

    action: str
    method: str
    id: str
    fields: dict[str, str] = field(default_factory=dict)


class _Forms(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._open: Form | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._open = Form(
                found.get("action", ""), found.get("method", "get"), found.get("id", "")
            )
            self.forms.append(self._open)
        elif self._open is not None and tag == "input" and found.get("name"):
            if found.get("type") not in {"checkbox", "radio"} or "checked" in found:
                self._open.fields[found["name"]] = found.get("value", "")
        elif self._open is not None and tag == "textarea" and found.get("name"):
            self._textarea = found["name"]
            self._open.fields[self._textarea] = ""

    def handle_data(self, data: str) -> None:
        if self._open is not None and self._textarea is not None:
            self._open.fields[self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._open = None


def sign_in_with(client: TestClient, token: str) -> Response:
    """Sign in as a browser does: the form (its CSRF token and cookie), then the token."""
    client.cookies.clear()
    page = client.get("/sign-in")
    (form,) = [f for f in forms(page.text) if f.action == "/sign-in"]
    response: Response = client.post(
        "/sign-in", data={**form.fields, "token": token}, follow_redirects=False
    )
    return response


def read_session(client: TestClient, services: Services) -> Session:
    """The server's session of the client's cookie (to mint keys the page would render)."""
    session_id = client.cookies.get(COOKIE)
    assert session_id, "not signed in"
    found = services.sign_ins.find(session_id, utc_now())
    assert found is not None, "the session ended"
    return Session(found.principal, session_id, found.expires_at)


def forms(html: str) -> list[Form]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


@dataclass
class Web:
    app: FastAPI
    client: TestClient
    settings: Settings
    clock: Clock

    @property
    def services(self) -> Services:
        found: Services = self.app.state.services
        return found

    @property
    def read_models(self) -> ReadModels:
        """The read models once the views caught up, as the service's workers (not running
        here) keep them between requests."""
        self.services.workers.views.catch_up()
        return self.services.read_models

    def sign_in(self, principal: Principal) -> None:
        token = AccessTokens(self.settings.signing_key()).mint(
            principal, timedelta(hours=1), utc_now()
        )
        response = sign_in_with(self.client, token)
        assert response.status_code == 303, response.text

    def sign_out(self) -> None:
        self.client.cookies.clear()

    def get(self, path: str, **kwargs: Any) -> Response:
        response: Response = self.client.get(path, follow_redirects=False, **kwargs)
        return response

    def post(self, path: str, data: dict[str, str], **kwargs: Any) -> Response:
        response: Response = self.client.post(path, data=data, follow_redirects=False, **kwargs)
        return response

    def form(self, html: str, action: str, form_id: str | None = None) -> Form:
        """The page's form that posts to ``action`` (and has ``form_id``, when given)."""
        found = [f for f in forms(html) if f.action == action and f.method == "post"]
        if form_id is not None:
            found = [f for f in found if f.id == form_id]
        assert found, f"no form posting to {action} ({form_id}) in the page"
        return found[0]

    def consent_token(self, claim_id: UUID) -> str:
        """The token of the latest consent e-mail of a claim, as the customer receives it."""
        self.services.workers.views.catch_up()
        rows = self.services.workers.mailer.outbox(claim_id)
        latest = [r for r in rows if not r["superseded"]] or rows
        return self.services.workers.mailer.link(latest[-1]).rsplit("/", 1)[1]


def make_web(tmp_path: Path, clock: Clock) -> Iterator[Web]:
    """The app on a fresh SQLite store, on the test clock, with no background workers."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'ledger.sqlite3'}", mail_dir=tmp_path / "mail"
    )
    app = create_app(settings, catalog=make_catalog(), clock=clock, run_workers=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Web(app, client, settings, clock)


def consent_requested(web: Web, principal: Principal = ADMIN_A, **kwargs: Any) -> UUID:
    """A claim (Fabrikam on the workshop, unless told) whose consent e-mail was sent now."""
    ledger, now = web.services.ledger, web.clock.now
    (claim_id,) = ledger.create_claims(principal, create(**kwargs), now)
    ledger.request_consent(principal, claim_id, consent_request(), now)
    web.services.workers.run_once()
    return claim_id


def submitted(web: Web, principal: Principal = ADMIN_A, **kwargs: Any) -> UUID:
    """A claim whose customer consented and whose partner submitted every proof item, now."""
    claim_id = consent_requested(web, principal, **kwargs)
    ledger, now = web.services.ledger, web.clock.now
    claim_id_, link_id = web.services.consent_tokens.read(web.consent_token(claim_id), now)
    ledger.answer_consent(claim_id_, link_id, True, now)
    ledger.submit(principal, claim_id, proof(), now)
    web.services.workers.run_once()
    return claim_id
