"""The Add customer and Claim customer wizards (SPEC 7): one step a page, no JavaScript.

Each step is a form that carries the other steps' answers as hidden fields, so moving between
steps changes nothing (its CSRF token is checked all the same); only the review's button makes
claims, through ``PageRequest.submit``. Every check is the Ledger's: leaving a step asks it what can
be asked with the answers so far, and a refusal is shown on the step that asks for the field
it names, with everything typed kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from ledger.domain import access
from ledger.domain.catalog import Engagement
from ledger.domain.commands import CreateClaims, EligibilityCheck, invalid_input, parse
from ledger.domain.creation import EligibilityPreview
from ledger.domain.customer_ids import CustomerId, IdType
from ledger.domain.errors import InvalidInputError, LedgerError, NotFoundError
from ledger.interface.dependencies import CommandRunnerDep
from ledger.interface.refusals import status_of
from ledger.service.ledger_base import Done, RequestKey
from ledger.words.i18n import N_
from web.labels import ID_TYPES
from web.pages import FieldErrors, Fields, FormDep, PageDep, PageRequest

router = APIRouter(include_in_schema=False)
Origin = Literal["added", "claimed"]


@dataclass(frozen=True)
class Step:
    name: str
    """Its template is ``wizard_<name>.html``."""
    title: str
    fields: tuple[str, ...]
    """The form fields it asks, named by their path in ``CreateClaims``."""


PLACE = Step("place", N_("Name and location"), ("friendly_name", "location_id"))
CUSTOMER = Step("customer", N_("Customer ID"), ("customer_id.type", "customer_id.value"))
ENGAGEMENTS = Step("engagements", N_("Engagements"), ("engagement_ids", "hours"))
CONTACTS = Step(
    "contacts",
    N_("Contacts"),
    (
        "contacts.customer.name",
        "contacts.customer.email",
        "contacts.customer.language",
        "contacts.partner.name",
        "contacts.partner.email",
        "tenant_mismatch_reason",
    ),
)
REVIEW = Step("review", N_("Review"), ())
STEPS: dict[Origin, tuple[Step, ...]] = {
    "added": (PLACE, CUSTOMER, ENGAGEMENTS, CONTACTS, REVIEW),
    "claimed": (PLACE, ENGAGEMENTS, CONTACTS, REVIEW),  # the customer is given (R17)
}
INPUTS = PLACE.fields + CUSTOMER.fields + ENGAGEMENTS.fields + CONTACTS.fields


def _matches(name: str, field: str) -> bool:
    """Whether a refusal's ``field`` is the input ``name``, a part of it, or a group of it."""
    return name == field or name.startswith(field + ".") or field.startswith(name + ".")


class Wizard:
    """One engagement's wizard, with the answers given so far."""

    def __init__(
        self,
        page: PageRequest,
        engagement: Engagement,
        origin: Origin,
        answers: dict[str, list[str]],
    ) -> None:
        self.page = page
        self.engagement = engagement
        self.origin = origin
        self.answers = answers
        self.steps = STEPS[origin]
        self.filled: set[str] = set()
        """The sides (customer, partner) whose contact was just filled from earlier claims."""

    def value(self, name: str) -> str:
        return next(iter(self.answers.get(name, [])), "")

    @property
    def action(self) -> str:
        url = self.page.request.url
        return url.path + (f"?{url.query}" if url.query else "")

    @property
    def given(self) -> tuple[str, ...]:
        """The answers fixed by the address rather than asked (the claimed customer)."""
        return CUSTOMER.fields if self.origin == "claimed" else ()

    def hidden(self, step: Step) -> list[tuple[str, str]]:
        """The answers of the other steps, carried by this step's form."""
        carried = [n for n in INPUTS if n not in step.fields and n not in self.given]
        return [(n, v) for n in carried for v in self.answers.get(n, [])]

    def fill_known_contacts(self) -> None:
        """The contacts not answered yet, from the claims this partner made: the partner
        contact this user gave on their last claim; claiming a known customer, the customer
        contact of its last claim (an erased contact is never offered). ``filled`` says which."""
        contacts, principal = self.page.read_models.contacts, self.page.principal
        known = {"partner": contacts.last_partner_contact(principal)}
        customer = self.customer_id()
        if self.origin == "claimed" and customer is not None:
            known["customer"] = contacts.last_customer_contact(principal, customer)
        for side, contact in known.items():
            names = [f"contacts.{side}.{part}" for part in ("name", "email", "language")]
            if contact is None or any(n in self.answers for n in names):
                continue  # nothing known, or answered already (even left empty)
            values = (contact.name, contact.email, contact.language)
            for name, value in zip(names, values, strict=True):
                if name in CONTACTS.fields:
                    self.answers[name] = [value]
            self.filled.add(side)

    def customer_id(self) -> CustomerId | None:
        """The customer id answered so far, if it is one."""
        try:
            kind, value = self.value("customer_id.type"), self.value("customer_id.value")
            return CustomerId.model_validate({"type": kind, "value": value})
        except ValueError:
            return None

    def id_type_name(self) -> str:
        """The customer id type's name (in English: the page translates); nothing for a type
        that is not one of ours (the query's text is never shown as a type)."""
        return ID_TYPES.get(self.value("customer_id.type"), "")

    # -- the command, as far as it is answered ----------------------------------------------

    def draft(self) -> dict[str, Any]:
        value = self.value
        return {
            "origin": self.origin,
            "friendly_name": value("friendly_name"),
            "location_id": value("location_id"),
            "customer_id": {"type": value("customer_id.type"), "value": value("customer_id.value")},
            "engagement_ids": self.answers.get("engagement_ids", []),
            "contacts": {
                who: {
                    "name": value(f"contacts.{who}.name"),
                    "email": value(f"contacts.{who}.email"),
                    "language": value(f"contacts.{who}.language") or "en",
                }
                for who in ("customer", "partner")
            },
            "tenant_mismatch_reason": value("tenant_mismatch_reason").strip() or None,
            "hours": self.hours(),
        }

    def hours(self) -> int | str | None:
        """The hours as typed, read as a whole number in the page's language ("1.000" in
        pt-BR); what does not read as one is left for the command to refuse in words."""
        typed = self.value("hours").strip()
        if not typed:
            return None
        whole = self.page.formats.read_whole(typed)
        return typed if whole is None else whole

    def step_of(self, field: str | None) -> int | None:
        return next(
            (
                i
                for i, s in enumerate(self.steps)
                if field and any(_matches(n, field) for n in s.fields)
            ),
            None,
        )

    def command(self, upto: int) -> CreateClaims | None:
        """The command, once every step is answered; refused for what steps up to ``upto``
        answer wrongly (R3, R4, R12, R13), whatever the later ones still lack."""
        try:
            return parse(CreateClaims, self.draft())
        except InvalidInputError as error:
            # A field no step asks (the claimed customer, given by the address) counts as asked.
            mine = [p for p in error.problems if (self.step_of(p.field) or 0) <= upto]
            if mine:
                raise invalid_input(mine) from None
            return None

    def preview(self, chosen: bool) -> list[EligibilityPreview]:
        """The Ledger's eligibility preview: of every engagement of the location, or of the
        chosen ones with their hours, refused as creation would refuse the choice (R12)."""
        draft = self.draft()
        check = parse(
            EligibilityCheck,
            {
                "location_id": draft["location_id"],
                "customer_id": draft["customer_id"],
                "engagement_ids": draft["engagement_ids"] if chosen else None,
                "hours": draft["hours"] if chosen else None,
            },
        )
        return self.page.services.ledger.preview_eligibility(
            self.page.principal, check, chosen=chosen
        )

    def leave(self, at: int) -> None:
        """What the Ledger says of the answers when step ``at`` is done."""
        command = self.command(at)
        if self.steps[at] is ENGAGEMENTS:
            self.preview(chosen=True)
        elif self.steps[at] is CONTACTS and command is not None:
            self.page.services.ledger.check_claims(self.page.principal, command, self.page.now)

    # -- pages ------------------------------------------------------------------------------

    def context(self, step: Step) -> dict[str, Any]:
        catalog = self.page.services.ledger.catalog
        if step is PLACE:
            partner = access.partner_of(catalog, self.page.principal)
            usable = access.eligible_locations(self.page.principal, partner, self.engagement)
            countries = {loc.id: loc.country for loc in partner.locations}
            return {"locations": [(loc, f"{loc} ({countries[loc]})") for loc in usable]}
        if step is CUSTOMER:
            return {"id_types": list(ID_TYPES.items())}
        if step in (ENGAGEMENTS, REVIEW):
            previews = self.preview(chosen=step is REVIEW)
            named = [(p, catalog.engagement(p.engagement_id)) for p in previews]
            return {"previews": named}
        if step is CONTACTS:  # R8 may ask why the contact is outside the tenant's domains
            return {"asks_reason": self.value("customer_id.type") == IdType.TENANT_ID.value}
        return {}

    def show(self, at: int, errors: FieldErrors | None = None, status: int = 200) -> HTMLResponse:
        step = self.steps[at]
        return self.page.render(
            f"wizard_{step.name}.html",
            status,
            wizard=self,
            step=step,
            at=at,
            errors=errors or FieldErrors(),
            **self.context(step),
        )

    def refused(self, error: LedgerError, at: int) -> HTMLResponse:
        """The step that asks for the first field the refusal names (else step ``at``) again,
        as typed, with the refusal next to each field it names and in the summary."""
        found = FieldErrors.of(error, self.page.language)
        where = [s for name, _ in found.summary if (s := self.step_of(name)) is not None]
        shown = self.steps[min(where, default=at)]
        errors = FieldErrors()
        for field, message in found.summary:
            name = next((n for n in INPUTS if field and _matches(n, field)), None)
            errors.summary.append((name if name in shown.fields else None, message))
            if name and name not in errors.by_field:
                errors.by_field[name] = message
        return self.show(self.steps.index(shown), errors, status_of(error))

    def answer(self, form: Fields, commands: CommandRunnerDep) -> Response:
        """A step's form: Back, Next, or (on the review) the claims made."""
        at = next((i for i, s in enumerate(self.steps) if s.name == form.get("step")), 0)
        if form.get("go") == "add" and self.steps[at] is REVIEW:
            return self.page.submit(commands, form, self.add, lambda e: self.refused(e, at))
        self.page.check_form(form)
        if form.get("go") == "back":
            return self.show(max(0, at - 1))
        following = min(at + 1, len(self.steps) - 1)
        try:
            self.leave(at)
            if self.steps[following] is ENGAGEMENTS and not self.answers.get("engagement_ids"):
                self.answers["engagement_ids"] = [self.engagement.id]  # checked by default
            if self.steps[following] is CONTACTS:
                self.fill_known_contacts()
            return self.show(following)
        except LedgerError as error:
            return self.refused(error, at)

    def add(self, request: RequestKey) -> Done[str]:
        """Make the claims; the confirmation's address."""
        ledger, command = self.page.services.ledger, parse(CreateClaims, self.draft())
        done = ledger.run(
            request, ledger.create_claims, self.page.principal, command, self.page.now
        )
        ids = ",".join(map(str, done.result))
        return done.answering(f"/engagements/{self.engagement.id}/added?claims={ids}")


def _wizard(
    page: PageRequest,
    engagement_id: str,
    origin: Origin,
    items: list[tuple[str, str]],
    customer: str | None = None,
) -> Wizard:
    page.require_session()
    engagement = access.engagement(page.services.ledger.catalog, engagement_id)
    answers: dict[str, list[str]] = {}
    for name, value in items:
        if name in INPUTS:
            answers.setdefault(name, []).append(value)
    if customer is not None:  # TYPE:VALUE, as the Eligible tab links it
        kind, _, value = customer.partition(":")
        answers["customer_id.type"], answers["customer_id.value"] = [kind], [value]
    return Wizard(page, engagement, origin, answers)


Customer = Annotated[str, Query(max_length=400, description="TYPE:VALUE")]


@router.get("/engagements/{engagement_id}/add")
def add_customer(page: PageDep, engagement_id: str) -> Response:
    return _wizard(page, engagement_id, "added", []).show(0)


@router.post("/engagements/{engagement_id}/add")
def add_customer_step(
    page: PageDep, engagement_id: str, form: FormDep, commands: CommandRunnerDep
) -> Response:
    return _wizard(page, engagement_id, "added", form.items).answer(form, commands)


@router.get("/engagements/{engagement_id}/claim")
def claim_customer(
    page: PageDep,
    engagement_id: str,
    customer: Customer = "",
    name: Annotated[str, Query(max_length=100, description="The name it is known by")] = "",
) -> Response:
    """Claim customer: the wizard for a known customer, its name as the partner knows it."""
    prefilled = [("friendly_name", name)] if name else []
    return _wizard(page, engagement_id, "claimed", prefilled, customer).show(0)


@router.post("/engagements/{engagement_id}/claim")
def claim_customer_step(
    page: PageDep,
    engagement_id: str,
    form: FormDep,
    commands: CommandRunnerDep,
    customer: Customer = "",
) -> Response:
    return _wizard(page, engagement_id, "claimed", form.items, customer).answer(form, commands)


@router.get("/engagements/{engagement_id}/added")
def added(
    page: PageDep, engagement_id: str, claims: Annotated[str, Query(max_length=2000)] = ""
) -> Response:
    """The confirmation: the claims made, each linked to its details."""
    engagement = access.engagement(page.services.ledger.catalog, engagement_id)
    try:
        ids = [UUID(part) for part in claims.split(",")][:50]
    except ValueError:
        raise NotFoundError("claim-not-found", params={"claim": claims[:100]}) from None
    rows = [page.read_models.claims.details(page.principal, i) for i in ids]
    catalog = page.services.ledger.catalog
    return page.render(
        "wizard_done.html",
        engagement=engagement,
        rows=[(r, catalog.engagement(r.engagement_id)) for r in rows],
    )
