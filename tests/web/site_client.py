"""The web page on a SQLite store, a signed-in browser-like client, and forms read from pages
and posted back as a browser without JavaScript would post them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.access import AccessTokens
from ledger.bootstrap import Services
from ledger.clock import utc_now
from ledger.principal import Principal
from ledger.settings import Settings
from tests.conftest import Clock
from tests.factories import ADMIN_A, make_catalog

Answers = dict[str, str | list[str]]


@dataclass
class Form:
    """A page's form: where it posts, what it would send, and its submit buttons."""

    action: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    buttons: list[tuple[str, str]] = field(default_factory=list)

    def get(self, name: str) -> list[str]:
        return [v for k, v in self.fields if k == name]

    def data(self, button: str | None, answers: Answers) -> list[tuple[str, str]]:
        """What the browser sends: the fields with ``answers`` typed in, and the button."""
        sent = [(k, v) for k, v in self.fields if k not in answers]
        for name, value in answers.items():
            sent += [(name, v) for v in ([value] if isinstance(value, str) else value)]
        if button is not None:
            assert any(v == button for _, v in self.buttons), (button, self.buttons)
            sent.append(("go", button))
        return sent


class _Forms(HTMLParser):
    """Every POST form of a page, read as a browser reads it."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._select: str | None = None
        self._textarea: str | None = None
        self._options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method") == "post":
            self.forms.append(Form(a.get("action", "")))
        if not self.forms:
            return
        form = self.forms[-1]
        kind = a.get("type", "text")
        if tag == "input" and "name" in a:
            if kind in {"checkbox", "radio"} and "checked" not in a:
                return
            form.fields.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "button" and "name" in a:
            form.buttons.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select, self._options = a["name"], []
        elif tag == "option" and self._select is not None:
            self._options.append((a.get("value", ""), "selected" in a))
        elif tag == "textarea":
            self._textarea = a["name"]
            form.fields.append((a["name"], ""))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            form = self.forms[-1]
            name, text = form.fields[-1]
            form.fields[-1] = (name, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None:
            chosen = [v for v, selected in self._options if selected] or [
                v for v, _ in self._options[:1]
            ]
            self.forms[-1].fields += [(self._select, v) for v in chosen]
            self._select = None
        elif tag == "textarea":
            self._textarea = None


@dataclass
class Site:
    app: FastAPI
    client: TestClient
    settings: Settings

    @property
    def services(self) -> Services:
        found: Services = self.app.state.services
        return found

    def sign_in(self, principal: Principal) -> None:
        token = AccessTokens(self.settings.signing_key()).mint(
            principal, timedelta(hours=1), utc_now()
        )
        self.client.cookies.clear()
        form = self.form(self.client.get("/sign-in"), "/sign-in")
        response = self.post("/sign-in", form.data(None, {"token": token, "next": "/"}))
        assert response.status_code == 303, response.text

    @staticmethod
    def form(page: httpx.Response, action: str | None = None) -> Form:
        """The page's form that posts to ``action`` (its path), else its last form."""
        reader = _Forms()
        reader.feed(page.text)
        forms = [f for f in reader.forms if action is None or f.action.split("?")[0] == action]
        assert forms, f"no form posting to {action} in:\n{page.text}"
        return forms[-1]

    def submit(
        self, page: httpx.Response, button: str | None = "next", answers: Answers | None = None
    ) -> httpx.Response:
        """Fill in the page's (last) form with ``answers`` and press ``button``."""
        form = self.form(page)
        return self.post(form.action, form.data(button, answers or {}))

    def post(self, path: str, fields: list[tuple[str, str]]) -> httpx.Response:
        """POST a form's fields, a name as often as it comes (as checkboxes do)."""
        response: httpx.Response = self.client.post(
            path,
            content=urlencode(fields),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        return response


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """The app on a SQLite file, with the test catalog and clock, signed in as ADMIN_A."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    app = create_app(settings, catalog=make_catalog(), clock=Clock(), run_workers=False)
    client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    with client:
        site = Site(app, client, settings)
        site.sign_in(ADMIN_A)
        yield site
