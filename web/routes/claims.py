"""The partner's claims (SPEC section 7): the list with its filters, sort, pages and CSV, and
one claim's details, history and the partner's actions as forms.

Every rule is the Ledger's and the read models': the page reads, runs one command, and shows
what they answer (a refusal next to its field, with the API's status code).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from itertools import takewhile
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, HTMLResponse, Response

from ledger.aggregates.claim import PARTNER_ACTIONS, Action, ClaimState
from ledger.audit.history_words import HistoryLine, HistoryWords
from ledger.domain import access
from ledger.domain.catalog import ProofItem
from ledger.domain.commands import (
    Cancel,
    Dispute,
    RequestConsent,
    Submit,
    invalid_input,
    parse,
)
from ledger.domain.errors import (
    ForbiddenError,
    InvalidInputError,
    LedgerError,
    NotFoundError,
    Problem,
    StaleVersionError,
)
from ledger.domain.principal import Principal
from ledger.interface import exports
from ledger.interface.dependencies import CommandRunnerDep
from ledger.interface.documents import checked_file, store_upload
from ledger.projections.claim_queries import SORT_LABELS, ClaimFilter, ClaimRow, Sort
from ledger.service.ledger_base import Done, RequestKey
from ledger.words.i18n import Formats
from ledger.words.refusals import Words
from web.pages import Fields, FormDep, PageDep

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
FILTERS = ("partner_id", "engagement_id", "state", "customer", "sort", "order")

Text = Annotated[str | None, Query()]


# -- the list ------------------------------------------------------------------------------


def _filters(
    partner_id: Text = None,
    engagement_id: Text = None,
    state: Text = None,
    customer: Text = None,
    sort: Text = None,
    order: Text = None,
) -> dict[str, str]:
    """The list's filters as typed (blank ones left out): for the form and the links."""
    typed = {
        "partner_id": partner_id,
        "engagement_id": engagement_id,
        "state": state,
        "customer": customer,
        "sort": sort,
        "order": order,
    }
    return {k: v.strip() for k, v in typed.items() if v and v.strip()}


Filters = Annotated[dict[str, str], Depends(_filters)]


def _where(filters: dict[str, str]) -> ClaimFilter:
    """The read model's filter; a sort or state it does not know is its InvalidInputError."""
    key = filters.get("sort", Sort.CREATED_AT.value)
    descending = filters.get("order", "desc") != "asc"
    return ClaimFilter(
        engagement_id=filters.get("engagement_id"),
        state=filters.get("state"),
        customer=filters.get("customer"),
        sort=("-" if descending else "") + key,
        partner_id=filters.get("partner_id"),
    )


@router.get("/claims")
def claims(page: PageDep, filters: Filters, cursor: Text = None) -> Response:
    principal, catalog = page.principal, page.services.ledger.catalog
    context: dict[str, Any] = {
        "filters": filters,
        "filter_query": urlencode(filters),
        "engagements": catalog.engagements,
        "engagement_names": {e.id: e.name for e in catalog.engagements},
        "partners": catalog.partners if access.sees_every_partner(principal) else None,
        "partner_names": {p.id: p.name for p in catalog.partners},
        "states": list(ClaimState),
        "sorts": SORT_LABELS,
        "commands": lambda row: _partner_actions(principal, row),
    }
    try:
        result = page.read_models.claims.search(principal, _where(filters), cursor, PAGE_SIZE)
    except InvalidInputError as error:
        return page.refused("claims.html", error, result=None, **context)
    return page.render("claims.html", result=result, **context)


@router.get("/claims.csv")
def claims_csv(page: PageDep, filters: Filters) -> Response:
    """The whole filtered list (every page) as the API's CSV, to download."""
    rows = page.read_models.claims.every(page.principal, _where(filters))
    return Response(
        exports.claims_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="claims.csv"'},
    )


# -- one claim -----------------------------------------------------------------------------


def _uuid(claim_id: str) -> UUID:
    """The claim id of a path; one that is not a UUID names no claim (a 404 page)."""
    try:
        return UUID(claim_id)
    except ValueError:
        raise NotFoundError("claim-not-found", params={"claim": claim_id[:100]}) from None


def _partner_actions(principal: Principal, row: ClaimRow) -> tuple[Action, ...]:
    """The partner's actions the principal may take now (the reviewer's are /review's)."""
    allowed = access.allowed_commands(principal, row.state, row.partner_id, row.location_id)
    return tuple(a for a in allowed if a in PARTNER_ACTIONS)


def _required_proof(page: PageDep, row: ClaimRow) -> list[ProofItem]:
    """The proof the claim's submission must carry, as recorded on the claim (R30)."""
    return list(page.services.ledger.required_proof(page.principal, row.claim_id))


def _history(
    page: PageDep, claim_id: UUID, until: datetime | None = None
) -> list[HistoryLine] | None:
    """The claim's history in the reader's words and time zone (up to ``until``, when
    given); None for a reviewer, who reads the details, not the audit trail (HISTORY)."""
    try:
        events = page.read_models.claims.history(page.principal, claim_id)
    except ForbiddenError:
        return None
    if until is not None:
        events = list(takewhile(lambda e: e.occurred_at <= until, events))
    names = {e.id: e.name for e in page.services.ledger.catalog.engagements}
    return HistoryWords(page.formats, names).lines(events)


def _show(
    page: PageDep,
    claim_id: UUID,
    *,
    error: LedgerError | None = None,
    active: str | None = None,
    typed: Fields | None = None,
    confirming: bool = False,
) -> HTMLResponse:
    """The claim's page; after a refusal, the refused form as typed with its errors."""
    principal = page.principal
    queries = page.read_models.claims
    if isinstance(error, StaleVersionError):
        page.services.workers.views.catch_up()  # show the claim as it is now: the primary's
        queries = page.services.read_models.claims  # views (a replica may not show it yet)
    row = queries.details(principal, claim_id)
    context: dict[str, Any] = {
        "row": row,
        "history": _history(page, claim_id),
        "actions": _partner_actions(principal, row),
        "required_proof": _required_proof(page, row),
        "documents": page.services.ledger.documents(principal, claim_id),
        "may_open_referrals": access.may_open_referrals(principal),
        "engagement": page.services.ledger.catalog.engagement(row.engagement_id),
        "active": active,
        "typed": typed or Fields([]),
        "confirming": confirming,
        "stale": isinstance(error, StaleVersionError),
        "as_of": None,
        "as_of_value": "",
    }
    if error is not None:
        return page.refused("claim_details.html", error, **context)
    return page.render("claim_details.html", **context)


@router.get("/claims/{claim_id}")
def claim(
    page: PageDep,
    claim_id: str,
    confirm: Annotated[str | None, Query()] = None,
    as_of: Text = None,
) -> Response:
    if as_of and as_of.strip():
        try:
            moment = page.as_of(as_of.strip())
        except InvalidInputError as error:
            return page.error_page(error)
        return _show_as_of(page, _uuid(claim_id), moment)
    return _show(page, _uuid(claim_id), confirming=confirm == "cancel")


def _show_as_of(page: PageDep, claim_id: UUID, moment: datetime) -> HTMLResponse:
    """The claim as it stood at ``moment``, its history up to then: nothing to do there."""
    events = page.services.ledger.claim_events(claim_id)
    row = page.read_models.claims.as_of(page.principal, events, moment)
    return page.render(
        "claim_details.html",
        row=row,
        history=_history(page, claim_id, moment),
        actions=(),
        required_proof=[],
        documents=(),
        may_open_referrals=access.may_open_referrals(page.principal),
        engagement=page.services.ledger.catalog.engagement(row.engagement_id),
        active=None,
        typed=Fields([]),
        confirming=False,
        stale=False,
        as_of=moment,
        as_of_value=page.local_input(moment),
    )


@router.get("/claims/{claim_id}/history.jsonl")
def history_jsonl(page: PageDep, claim_id: str) -> Response:
    """The claim's history as JSON Lines, to download (whoever reads it on the claim page)."""
    uuid = _uuid(claim_id)
    rows = page.read_models.claims.history(page.principal, uuid)
    return Response(
        exports.history_jsonl(rows),
        media_type=exports.JSONL,
        headers={"Content-Disposition": f'attachment; filename="claim-{uuid}-history.jsonl"'},
    )


def _version(form: Fields) -> int:
    """The claim version the form was rendered with: its command's expected version."""
    text = form.get("version").strip()
    if not text.isdigit() or len(text) > 12:
        raise InvalidInputError("invalid-version", field="version")
    return int(text)


Command = Callable[[RequestKey, Principal, UUID, datetime, int], Done[Any]]
"""One of the claim's commands, run through ``Ledger.run`` under the request given."""


def _act(
    page: PageDep,
    commands: CommandRunnerDep,
    form: Fields,
    claim_id: str,
    action: Action,
    run: Command,
) -> Response:
    """Run one of the claim's commands once per rendered form, then back to the claim (303);
    a refusal shows the claim again with the form as typed and the API's status code."""
    uuid = _uuid(claim_id)

    def act(request: RequestKey) -> Done[str]:
        done = run(request, page.principal, uuid, page.now, _version(form))
        return done.answering(f"/claims/{uuid}")

    def refused(error: LedgerError) -> HTMLResponse:
        try:
            return _show(page, uuid, error=error, active=action.value, typed=form)
        except LedgerError as unreadable:  # not found, or not the principal's to see
            return page.error_page(unreadable)

    return page.submit(commands, form, act, refused)


CONTACT_PARTS = ("name", "email", "language")
CONSENT_FORM = (
    *(f"contacts.{side}.{part}" for side in ("customer", "partner") for part in CONTACT_PARTS),
    "deal_size_usd",
    "disclaimer_accepted",
)
"""The consent request form's fields, in the order the page shows them (and its summary)."""
DEAL_SIZE_EXAMPLE = Decimal("25000")


def _consent(form: Fields, formats: Formats) -> RequestConsent:
    """The consent request as typed, the deal size read in the page's language ("15.000,50"
    in pt-BR); every problem of the form listed at once, in the form's order."""
    typed = form.get("deal_size_usd").strip()
    amount = formats.read_amount(typed) if typed else None
    own: list[Problem] = []
    if typed and amount is None:
        example = {"example": formats.amount(DEAL_SIZE_EXAMPLE)}
        own.append(
            Problem("deal_size_usd", "R21", Words("amount_format", "deal_size_usd", example))
        )
    try:
        return parse(RequestConsent, _consent_body(form, typed if amount is None else str(amount)))
    except InvalidInputError as error:
        found = [p for p in error.problems if not (own and p.field == "deal_size_usd")] + own
        if "disclaimer_accepted" not in form:  # else the claim refuses it on its own (R21)
            disclaimer = Words("disclaimer-not-accepted", "disclaimer_accepted")
            found.append(Problem("disclaimer_accepted", "R21", disclaimer))
        order = {name: i for i, name in enumerate(CONSENT_FORM)}
        raise invalid_input(sorted(found, key=lambda p: order.get(p.field or "", 0))) from None


def _consent_body(form: Fields, deal_size: str) -> dict[str, Any]:
    return {
        "deal_size_usd": deal_size,
        "disclaimer_accepted": "disclaimer_accepted" in form,
        "contacts": {
            side: {
                "name": form.get(f"contacts.{side}.name"),
                "email": form.get(f"contacts.{side}.email").strip(),
                "language": form.get(f"contacts.{side}.language") or "en",
            }
            for side in ("customer", "partner")
        },
    }


def _proof(form: Fields, kinds: Sequence[ProofItem], uploaded: dict[int, UUID]) -> Submit:
    """The proof for each required kind: the document uploaded with the form, or the
    reference typed; a kind with neither is an item left out, which the claim refuses by
    name (R30). A problem of the n-th item is named by its field."""
    items = [
        (i, _proof_item(form, i, kind, uploaded.get(i)))
        for i, kind in enumerate(kinds)
        if form.get(f"proof.{i}.reference").strip() or i in uploaded
    ]
    try:
        return parse(Submit, {"proof": [item for _, item in items]})
    except InvalidInputError as error:
        raise invalid_input(
            [_renumbered(p, [i for i, _ in items]) for p in error.problems]
        ) from None


def _proof_item(
    form: Fields, index: int, kind: ProofItem, document_id: UUID | None
) -> dict[str, str]:
    item = {"kind": kind.value}
    reference = form.get(f"proof.{index}.reference").strip()
    if reference:
        item["reference"] = reference
    if document_id is not None:
        item["document_id"] = str(document_id)
    return item


def _uploaded(
    page: PageDep,
    form: Fields,
    who: Principal,
    claim_id: UUID,
    kinds: Sequence[ProofItem],
    version: int | None,
) -> dict[int, UUID]:
    """The files chosen in the form, stored and recorded on the claim: the document id of
    each kind's file, by its place in the form. A file that is refused (empty, too large, not
    of an accepted type) is named by its field; a claim that takes no upload now (a form
    posted again) records none, and the submission says why, or answers as it did. Each
    upload is a version of the claim after the form's ``version``."""
    ledger, found = page.services.ledger, dict[int, UUID]()
    for index, kind in enumerate(kinds):
        file = form.files.get(f"proof.{index}.file")
        if file is None:
            continue
        try:
            document = store_upload(page.services.documents, file.file, file.filename, kind)
        except LedgerError as error:
            field = f"proof.{index}.file"
            raise type(error)(error.slug, field=field, params=error.words.params) from None
        try:
            expected = None if version is None else version + len(found)
            ledger.attach_document(who, claim_id, document, page.now, expected)
        except LedgerError:
            return {}
        found[index] = document.id
    return found


def _renumbered(problem: Problem, numbers: list[int]) -> Problem:
    """A problem of the n-th item sent, named by the field of the form it came from."""
    parts = str(problem.field or "").split(".")
    if len(parts) > 2 and parts[0] == "proof" and parts[1].isdigit():
        return problem.at(".".join(["proof", str(numbers[int(parts[1])]), *parts[2:]]))
    return problem


def _reason(form: Fields) -> str | None:
    return form.get("reason").strip() or None


@router.post("/claims/{claim_id}/consent-request")
def request_consent(
    page: PageDep, commands: CommandRunnerDep, form: FormDep, claim_id: str
) -> Response:
    ledger = page.services.ledger
    return _act(
        page,
        commands,
        form,
        claim_id,
        Action.REQUEST_CONSENT,
        lambda request, who, uuid, now, version: ledger.run(
            request, ledger.request_consent, who, uuid, _consent(form, page.formats), now, version
        ),
    )


@router.post("/claims/{claim_id}/consent-reminder")
def send_consent_reminder(
    page: PageDep, commands: CommandRunnerDep, form: FormDep, claim_id: str
) -> Response:
    ledger = page.services.ledger
    return _act(
        page,
        commands,
        form,
        claim_id,
        Action.SEND_CONSENT_REMINDER,
        lambda request, who, uuid, now, version: ledger.run(
            request, ledger.send_consent_reminder, who, uuid, now, version
        ),
    )


@router.post("/claims/{claim_id}/submission")
def submit(page: PageDep, commands: CommandRunnerDep, form: FormDep, claim_id: str) -> Response:
    ledger = page.services.ledger

    def run(
        request: RequestKey, who: Principal, uuid: UUID, now: datetime, version: int
    ) -> Done[Any]:
        kinds = ledger.required_proof(who, uuid)
        uploaded = _uploaded(page, form, who, uuid, kinds, version)
        proof = _proof(form, kinds, uploaded)
        if version is not None:
            version += len(uploaded)  # the uploads of this form are versions of the claim
        return ledger.run(request, ledger.submit, who, uuid, proof, now, version)

    return _act(page, commands, form, claim_id, Action.SUBMIT, run)


@router.get("/claims/{claim_id}/documents/{document_id}")
def document(page: PageDep, claim_id: str, document_id: str) -> Response:
    """A proof document of the claim, as an attachment, once its hash is checked (for its
    partner, reviewers and auditors); a changed file is the 409 page, never served."""
    try:
        uuid = _uuid(claim_id)
        found = page.services.ledger.document(page.principal, uuid, _uuid(document_id))
        path = checked_file(page.services.documents, uuid, found)
    except LedgerError as error:
        return page.error_page(error)
    return FileResponse(
        path,
        media_type=found.media_type,
        filename=found.name,
        content_disposition_type="attachment",
    )


@router.post("/claims/{claim_id}/dispute")
def dispute(page: PageDep, commands: CommandRunnerDep, form: FormDep, claim_id: str) -> Response:
    ledger = page.services.ledger
    return _act(
        page,
        commands,
        form,
        claim_id,
        Action.DISPUTE,
        lambda request, who, uuid, now, version: ledger.run(
            request,
            ledger.dispute,
            who,
            uuid,
            parse(Dispute, {"reason": _reason(form)}),
            now,
            version,
        ),
    )


@router.post("/claims/{claim_id}/cancellation")
def cancel(page: PageDep, commands: CommandRunnerDep, form: FormDep, claim_id: str) -> Response:
    """Two steps: the first post asks "Are you sure?"; only the confirmation cancels."""
    if form.get("confirm") != "yes":
        page.check_form(form)
        return _show(page, _uuid(claim_id), active=Action.CANCEL.value, typed=form, confirming=True)
    ledger = page.services.ledger
    return _act(
        page,
        commands,
        form,
        claim_id,
        Action.CANCEL,
        lambda request, who, uuid, now, version: ledger.run(
            request,
            ledger.cancel,
            who,
            uuid,
            parse(Cancel, {"reason": _reason(form)}),
            now,
            version,
        ),
    )
