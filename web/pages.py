"""One request of the web page: its language, its session, and how it answers (HTML)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from babel.support import NullTranslations
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.datastructures import UploadFile

from ledger.aggregates.claim import Action, ClaimState, action_label
from ledger.audit.as_of import parse_as_of
from ledger.domain.catalog import ProofItem
from ledger.domain.errors import LedgerError
from ledger.domain.principal import Principal
from ledger.interface import charts
from ledger.interface.dependencies import CommandRunnerDep, NowDep, ServicesDep
from ledger.interface.refusals import status_of
from ledger.service.ledger_base import Done, RequestKey
from ledger.words import i18n
from ledger.words.refusals import Words
from web import labels
from web.session import (
    CsrfRefusedError,
    Session,
    SignInRequiredError,
    read_session,
    same_origin,
)

TEMPLATES = Path(__file__).parent / "templates"


def install_text_translations(environment: Environment, translations: NullTranslations) -> None:
    """``_()`` and ``ngettext()`` whose translations are text, never markup.

    Jinja2's newstyle gettext marks a translation safe (so that ``%(name)s`` can be escaped
    into it); a message id that came from a request would then reach the page as HTML. Here
    the translation is escaped first, so whatever ``_()`` is given shows as the text it is.
    """

    def gettext(message: str) -> Markup:
        return escape(translations.gettext(message))

    def ngettext(singular: str, plural: str, count: int) -> Markup:
        return escape(translations.ngettext(singular, plural, count))

    environment.install_gettext_callables(  # type: ignore[attr-defined]
        gettext, ngettext, newstyle=True
    )


class Templates:
    """One Jinja2 environment per language, with its gettext catalog installed."""

    def __init__(self) -> None:
        self.environments: dict[str, Environment] = {}
        for language in i18n.LANGUAGES:
            environment = Environment(
                loader=FileSystemLoader(TEMPLATES),
                autoescape=select_autoescape(["html"]),
                extensions=["jinja2.ext.i18n"],
                trim_blocks=True,
                lstrip_blocks=True,
            )
            install_text_translations(environment, i18n.compile_catalog(language))
            environment.globals["id_type_labels"] = labels.ID_TYPES
            environment.globals["reason_labels"] = labels.REASONS
            environment.globals["kind_labels"] = labels.KINDS
            environment.globals["bar_chart"] = charts.bar_chart
            environment.globals["state_label"] = labels.state_label
            self.environments[language] = environment

    def render(self, language: str, name: str, context: Mapping[str, Any]) -> str:
        return self.environments[language].get_template(name).render(context)


@dataclass
class FieldErrors:
    """A refusal as a form shows it: a message per field, and the summary at the top."""

    by_field: dict[str, str] = field(default_factory=dict)
    summary: list[tuple[str | None, str]] = field(default_factory=list)

    @classmethod
    def of(cls, error: LedgerError, language: str) -> FieldErrors:
        """Every problem of the refusal (not only the first), each in ``language`` with the
        rule it breaks as a reference: "Enter the friendly name. (R3)"."""
        found = cls()
        items = [(p.field, p.words.say(language), p.rule) for p in error.problems] or [
            (error.field, error.say(language), error.rule)
        ]
        for name, message, rule in items:
            text = f"{message} ({rule})" if rule else message
            found.summary.append((name, text))
            if name and name not in found.by_field:
                found.by_field[name] = text
        return found


class PageRequest:
    """The request's language and session, and the one way to render or run a form."""

    def __init__(self, request: Request, services: ServicesDep, now: NowDep) -> None:
        self._reader(request, services, now)
        self.session: Session | None = read_session(request, services.sign_ins, now)
        if self.session is not None:  # the page shows what this user's forms just did
            self.read_models = services.freshness.read(self.session.principal.user_id)

    def _reader(self, request: Request, services: ServicesDep, now: NowDep) -> None:
        self.request = request
        self.services = services
        self.now = now
        self.language = i18n.negotiate(
            request.headers.get("accept-language"), request.cookies.get(i18n.COOKIE)
        )
        self.zone = i18n.zone_of(request.cookies.get(i18n.ZONE_COOKIE))
        self.read_models = services.read_models
        """The read models this page reads: the read replica's when it shows the user's
        writes (``ledger.runtime.freshness``)."""

    @classmethod
    def signed_out(cls, request: Request, services: ServicesDep, now: NowDep) -> PageRequest:
        """The request in its reader's language without its session, which is read from the
        database (for the page that says the database cannot be reached)."""
        page = cls.__new__(cls)
        page._reader(request, services, now)
        page.session = None
        return page

    def speak(self, language: str) -> None:
        """Speak ``language``, picked for this reader elsewhere (the customer contact's, on
        the consent page), unless the reader chose one here (the language links' cookie)."""
        if self.request.cookies.get(i18n.COOKIE) not in i18n.LANGUAGES:
            self.language = i18n.negotiate(None, language)

    @staticmethod
    def action_label(state: ClaimState, action: Action) -> str:
        return action_label(state, action)

    @property
    def formats(self) -> i18n.Formats:
        return i18n.Formats(self.language, self.zone)

    @property
    def zone_label(self) -> str:
        """The chosen time zone's place in the reader's words, for the header's "Time zone:"
        (``Brazil (São Paulo)``; ``UTC`` unless they chose another)."""
        return i18n.zone_place(self.zone, self.language)

    def as_of(self, text: str) -> datetime:
        """The time an as-of read shows: a date-time input's local time is the reader's
        zone's; one that names its zone or offset (ISO-8601, as the API takes) stands as
        written. A bad one is the InvalidInputError of ``parse_as_of`` (a 422 page)."""
        try:
            local: datetime | None = datetime.fromisoformat(text)
        except ValueError:
            local = None
        if local is not None and local.tzinfo is None:
            text = local.replace(tzinfo=ZoneInfo(self.zone)).isoformat()
        return parse_as_of(text, self.now)

    def local_input(self, moment: datetime) -> str:
        """``moment`` as a date-time input shows it, in the reader's zone."""
        return moment.astimezone(ZoneInfo(self.zone)).strftime("%Y-%m-%dT%H:%M")

    def say(self, what: LedgerError | Words | None) -> str:
        """A refusal, or a reason or hint in words, in the page's language."""
        if what is None:
            return ""
        return what.say(self.language)

    def require_session(self) -> Session:
        if self.session is None:
            path = self.request.url.path
            query = self.request.url.query
            raise SignInRequiredError(path + (f"?{query}" if query else ""))
        return self.session

    @property
    def principal(self) -> Principal:
        return self.require_session().principal

    def new_form(self, action: str) -> tuple[str, str]:
        """A fresh form key and its CSRF token, for each form a page renders (posting to
        ``action``: the token fits no other form)."""
        return self.session.new_form(action) if self.session else ("", "")

    def check_form(self, form: Fields) -> Session:
        """The session a POST belongs to, once its form proves it was rendered here, for this
        session and this address; otherwise the 403 page (CsrfRefusedError), nothing done."""
        session = self.require_session()
        if not same_origin(self.request, self.services.settings.public_url):
            raise CsrfRefusedError()
        session.check(self.request.url.path, form.get("form_key"), form.get("csrf"))
        return session

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        templates: Templates = self.request.app.state.templates
        html = templates.render(
            self.language,
            name,
            {
                "page": self,
                "fmt": self.formats,
                "lang": self.language,
                "languages": i18n.LANGUAGES,
                "principal": self.session.principal if self.session else None,
                "path": self.request.url.path,
                "query": self.request.url.query,
                "errors": FieldErrors(),
                **context,
            },
        )
        return HTMLResponse(html, status_code=status)

    def error_page(self, error: LedgerError) -> HTMLResponse:
        """The page of a refusal that has no form to show it in, with the API's status."""
        status = status_of(error)
        return self.render("error.html", status, error=error, title=error.slug, code=status)

    def refused(self, name: str, error: LedgerError, **context: Any) -> HTMLResponse:
        """The form again, as typed, with the refusal next to its field and in the summary."""
        errors = FieldErrors.of(error, self.language)
        return self.render(name, status_of(error), errors=errors, **context)

    def submit(
        self,
        commands: CommandRunnerDep,
        form: Fields,
        act: Callable[[RequestKey], Done[str]],
        refused: Callable[[LedgerError], HTMLResponse],
    ) -> Response:
        """Run a form's change once per rendered form (its key): ``act`` runs the command
        under the request it is given (``Ledger.run``), then 303 to the address it answers;
        a refusal answers ``refused`` with the API's status code."""
        session = self.check_form(form)

        def run(request: RequestKey) -> Done[Response]:
            try:
                done = act(request)
            except LedgerError as error:
                return Done(refused(error))
            return done.answering(RedirectResponse(done.result, status_code=303))

        fields = sorted((k, v) for k, v in form.items if k not in {"csrf", "form_key"})
        fingerprint = self.request.url.path + " " + json.dumps(fields)
        return commands.run(
            "form " + self.request.url.path.split("/")[-1],
            session.principal.user_id,
            "form:" + form.get("form_key"),
            fingerprint,
            run,
            lambda done: done.result,
            self.error_page,
        )


PageDep = Annotated[PageRequest, Depends()]


class Fields:
    """A posted form's text fields, in order; a name may come more than once (checkboxes).
    ``files``: the files a multipart form carried, by name (those a file was chosen for)."""

    def __init__(
        self, items: list[tuple[str, str]], files: dict[str, UploadFile] | None = None
    ) -> None:
        self.items = items
        self.files = files or {}

    def get(self, name: str, default: str = "") -> str:
        return next((v for k, v in self.items if k == name), default)

    def getlist(self, name: str) -> list[str]:
        return [v for k, v in self.items if k == name]

    def __contains__(self, name: object) -> bool:
        return any(k == name for k, _ in self.items)


async def _form(request: Request) -> Fields:
    """The posted form; its files stay spooled (on disk above 1 MB) until the request ends."""
    data = await request.form(max_files=len(ProofItem))
    files = {k: v for k, v in data.multi_items() if isinstance(v, UploadFile) and v.filename}
    return Fields([(k, v) for k, v in data.multi_items() if isinstance(v, str)], files)


FormDep = Annotated[Fields, Depends(_form)]
