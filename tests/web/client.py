"""The page tests' browser: the app on a SQLite file with the test catalog and clock, sign-in
by cookie, and the forms of a page read as a browser reads them (one parser: a checkbox
checked twice under one name is sent twice; an unchecked one, a button not pressed and a
disabled field are not sent), to post them back as a browser without JavaScript would."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from cli.site import create_app
from ledger.domain.access import AccessTokens
from ledger.domain.principal import Principal
from ledger.runtime.bootstrap import ReadModels, Services
from ledger.service.clock import utc_now
from ledger.service.settings import Settings
from tests.conftest import Clock
from tests.factories import ADMIN_A, AUDITOR, consent_request, create, make_catalog, proof
from web.session import COOKIE, Session

Answers = dict[str, str | list[str]]
Typed = Mapping[str, str | list[str]]
Fields = Mapping[str, str] | Iterable[tuple[str, str]]
KEYS = ("form_key", "csrf")
"""A form's single-use key and the CSRF token bound to it and to the form's action."""


@dataclass
class Form:
    """One ``<form>`` of a page: where it posts, what it would send, and its buttons."""

    action: str
    method: str = "get"
    id: str = ""
    fields: list[tuple[str, str]] = field(default_factory=list)
    """What the browser sends, in order: a name as often as it comes (checkboxes)."""
    buttons: list[tuple[str, str]] = field(default_factory=list)

    def get(self, name: str) -> list[str]:
        """Every value the form would send under ``name``."""
        return [v for k, v in self.fields if k == name]

    def value(self, name: str) -> str:
        """The one value the form sends under ``name``."""
        found = self.get(name)
        assert len(found) == 1, f"the form to {self.action} sends {name} {found}: {self.fields}"
        return found[0]

    def keys(self) -> dict[str, str]:
        return {k: self.value(k) for k in KEYS}

    def data(
        self,
        button: str | None = None,
        answers: Typed | None = None,
        *,
        without: Collection[str] = (),
    ) -> list[tuple[str, str]]:
        """What the browser sends: the fields with ``answers`` typed in (a list: the boxes
        checked under that name), and the pressed button (by its value); none of
        ``without``."""
        answers = answers or {}
        sent = [(k, v) for k, v in self.fields if k not in answers]
        for name, value in answers.items():
            sent += [(name, v) for v in ([value] if isinstance(value, str) else value)]
        if button is not None:
            pressed = [(k, v) for k, v in self.buttons if v == button]
            assert pressed, f"no button {button} in {self.buttons}"
            sent.append(pressed[0])
        return [(k, v) for k, v in sent if k not in without]


class _Forms(HTMLParser):
    """Every form of a page, read as a browser reads it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._open: Form | None = None
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._open = Form(a.get("action", ""), a.get("method", "get").lower(), a.get("id", ""))
            self.forms.append(self._open)
        form = self._open
        if form is None or "disabled" in a:
            return
        kind = a.get("type", "text").lower()
        if tag == "button" or (tag == "input" and kind in {"submit", "image"}):
            if "name" in a:
                form.buttons.append((a["name"], a.get("value", "")))
        elif tag == "input" and a.get("name") and kind not in {"reset", "button", "file"}:
            if kind in {"checkbox", "radio"} and "checked" not in a:
                return
            form.fields.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select" and a.get("name"):
            self._select, self._options = a["name"], []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            form.fields.append((a["name"], ""))

    def handle_data(self, data: str) -> None:
        if self._open is not None and self._textarea is not None:
            name, text = self._open.fields[-1]
            self._open.fields[-1] = (name, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None and self._open is not None:
            chosen = [v for v, selected in self._options if selected] or [
                v for v, _ in self._options[:1]
            ]
            self._open.fields += [(self._select, v) for v in chosen]
            self._select = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "form":
            self._open = None


def forms(html: str) -> list[Form]:
    """Every form of the page (or part of a page), in order."""
    reader = _Forms()
    reader.feed(html)
    reader.close()
    return reader.forms


def sign_in_with(client: TestClient, token: str) -> Response:
    """Sign in as a browser does: the form (its CSRF token and cookie), then the token."""
    client.cookies.clear()
    page = client.get("/sign-in")
    (form,) = [f for f in forms(page.text) if f.action == "/sign-in" and f.method == "post"]
    response: Response = client.post(
        "/sign-in",
        content=urlencode(form.data(answers={"token": token})),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    return response


def read_session(client: TestClient, services: Services) -> Session:
    """The server's session of the client's cookie (to mint keys the page would render)."""
    session_id = client.cookies.get(COOKIE)
    assert session_id, "not signed in"
    found = services.sign_ins.find(session_id, utc_now())
    assert found is not None, "the session ended"
    return Session(found.principal, session_id, found.expires_at)


@dataclass
class Site:
    """The app, a browser-like client of it (redirects not followed), and the store."""

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

    # -- the browser ------------------------------------------------------------------------

    def sign_in(self, principal: Principal) -> None:
        token = AccessTokens(self.settings.signing_key()).mint(
            principal, timedelta(hours=1), utc_now()
        )
        response = sign_in_with(self.client, token)
        assert response.status_code == 303, response.text

    def sign_out(self) -> None:
        self.client.cookies.clear()

    def get(self, path: str, **kwargs: Any) -> Response:
        response: Response = self.client.get(path, **kwargs)
        return response

    def post(self, path: str, fields: Fields, **kwargs: Any) -> Response:
        """POST form fields, a name as often as it comes (as checkboxes send it)."""
        pairs = list(fields.items() if isinstance(fields, Mapping) else fields)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        headers.update(kwargs.pop("headers", {}))
        response: Response = self.client.post(
            path, content=urlencode(pairs), headers=headers, **kwargs
        )
        return response

    @staticmethod
    def form(page: Response | str, action: str | None = None, form_id: str | None = None) -> Form:
        """The page's POST form to ``action`` (and with ``form_id``, when given): the only
        one there is; with neither, the page's last POST form."""
        html = page if isinstance(page, str) else page.text
        found = [f for f in forms(html) if f.method == "post"]
        if action is not None:
            found = [f for f in found if action in {f.action, f.action.split("?")[0]}]
        if form_id is not None:
            found = [f for f in found if f.id == form_id]
        assert found, f"no form posting to {action} ({form_id}) in:\n{html}"
        if action is not None or form_id is not None:
            assert len(found) == 1, f"{len(found)} forms post to {action} ({form_id})"
        return found[-1]

    def submit(
        self, page: Response, button: str | None = "next", answers: Typed | None = None
    ) -> Response:
        """Fill in the page's (last) form with ``answers`` and press ``button``."""
        form = self.form(page)
        return self.post(form.action, form.data(button, answers))

    # -- the store behind it ----------------------------------------------------------------

    def consent_token(self, claim_id: UUID) -> str:
        """The token of the latest consent e-mail of a claim, as the customer receives it."""
        self.services.workers.views.catch_up()
        rows = self.services.workers.mailer.outbox(claim_id)
        latest = [r for r in rows if not r["superseded"]] or rows  # a reminder supersedes
        return self.services.workers.mailer.link(latest[-1]).rsplit("/", 1)[1]

    def new_claim(
        self, engagements: list[str] | None = None, principal: Principal = ADMIN_A, **kwargs: Any
    ) -> UUID:
        (claim_id,) = self.services.ledger.create_claims(
            principal, create(engagements, **kwargs), self.clock()
        )
        self.services.workers.views.catch_up()
        return claim_id

    def awaiting(self, **kwargs: Any) -> UUID:
        """A claim whose consent was requested now (its e-mail not sent)."""
        claim_id = self.new_claim(**kwargs)
        self.services.ledger.request_consent(ADMIN_A, claim_id, consent_request(), self.clock())
        self.services.workers.views.catch_up()
        return claim_id

    def consented(self, **kwargs: Any) -> UUID:
        claim_id = self.new_claim(**kwargs)
        ledger = self.services.ledger
        link = ledger.request_consent(ADMIN_A, claim_id, consent_request(), self.clock())
        ledger.answer_consent(claim_id, link, True, self.clock())
        self.services.workers.views.catch_up()
        return claim_id

    def events(self, claim_id: UUID) -> list[str]:
        return [h.event for h in self.read_models.claims.history(AUDITOR, claim_id)]

    def state(self, claim_id: UUID) -> str:
        return self.read_models.claims.details(AUDITOR, claim_id).state.value


def make_site(tmp_path: Path, clock: Clock) -> Iterator[Site]:
    """The app on a fresh SQLite store, on the test clock, with no background workers, and
    nobody signed in."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'ledger.sqlite3'}", mail_dir=tmp_path / "mail"
    )
    app = create_app(settings, catalog=make_catalog(), clock=clock, run_workers=False)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield Site(app, client, settings, clock)


def consent_requested(site: Site, principal: Principal = ADMIN_A, **kwargs: Any) -> UUID:
    """A claim (Fabrikam on the workshop, unless told) whose consent e-mail was sent now."""
    ledger, now = site.services.ledger, site.clock.now
    (claim_id,) = ledger.create_claims(principal, create(**kwargs), now)
    ledger.request_consent(principal, claim_id, consent_request(), now)
    site.services.workers.run_once()
    return claim_id


def submitted(site: Site, principal: Principal = ADMIN_A, **kwargs: Any) -> UUID:
    """A claim whose customer consented and whose partner submitted every proof item, now."""
    claim_id = consent_requested(site, principal, **kwargs)
    ledger, now = site.services.ledger, site.clock.now
    claim_id_, link_id = site.services.consent_tokens.read(site.consent_token(claim_id), now)
    ledger.answer_consent(claim_id_, link_id, True, now)
    ledger.submit(principal, claim_id, proof(), now)
    site.services.workers.run_once()
    return claim_id
