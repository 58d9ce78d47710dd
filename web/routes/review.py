"""The reviewer's pages: the queue of claims waiting for review, and one claim's review forms."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from ledger.aggregates.claim import REASON_REQUIRED, REVIEW_ACTIONS, Action
from ledger.domain import access
from ledger.domain.commands import Review, parse
from ledger.domain.errors import LedgerError, NotFoundError
from ledger.domain.principal import Principal, Role
from ledger.interface.dependencies import CommandRunnerDep
from ledger.projections.claim_queries import ClaimRow
from ledger.service.ledger_base import Done, RequestKey
from ledger.words.i18n import N_
from web.pages import FormDep, PageDep

router = APIRouter(include_in_schema=False)

# Which review forms carry a reason field: where R32 asks for one (the aggregate's list).
REASON_ASKED = REASON_REQUIRED
REASON_LABELS = {
    Action.REQUEST_INFORMATION: N_("What information is needed"),
    Action.REJECT: N_("Why you reject the claim"),
    Action.REJECT_FINAL: N_("Why you reject the claim for good"),
}
"""Each reason field's label, a sentence of its own (not the action's name put in one)."""


def _claim_id(text: str) -> UUID:
    """The claim a path names; an id that is not one is a claim that is not found."""
    try:
        return UUID(text)
    except ValueError:
        raise NotFoundError("claim-not-found", params={"claim": text[:100]}) from None


def _context(page: PageDep, principal: Principal) -> dict[str, Any]:
    """What the review templates need beside the rows: names, the forms allowed now, keys."""
    catalog = page.services.ledger.catalog
    session = page.require_session()

    def forms(row: ClaimRow) -> list[Action]:
        allowed = access.allowed_commands(principal, row.state, row.partner_id, row.location_id)
        return [a for a in allowed if a in REVIEW_ACTIONS]

    return {
        "forms": forms,
        "reason_asked": REASON_ASKED,
        "reason_labels": REASON_LABELS,
        "partner_name": catalog.partner_name,
        "engagement_name": catalog.engagement_name,
        "new_form": session.new_form,  # one key per form: each is its own change
    }


@router.get("/review")
def queue(
    page: PageDep,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    done: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """Claims waiting for a reviewer, each with its details, proof and the forms allowed now;
    ``done`` names the claim a form just changed, shown as it is now."""
    principal = page.principal
    result = page.read_models.claims.review_queue(principal, cursor, 50)
    changed = None
    if done:
        try:
            changed = page.read_models.claims.details(principal, UUID(done))
        except (ValueError, LedgerError):
            changed = None
    return page.render("review.html", result=result, changed=changed, **_context(page, principal))


def _claim_page(
    page: PageDep,
    principal: Principal,
    claim_id: UUID,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    principal.require_role(Role.REVIEWER)
    row = page.read_models.claims.details(principal, claim_id)
    documents = page.services.ledger.documents(principal, claim_id)
    return page.render(
        "review_claim.html",
        status,
        row=row,
        documents=documents,
        **_context(page, principal),
        **context,
    )


@router.get("/review/{claim_id}")
def claim(page: PageDep, claim_id: str) -> Response:
    """One claim for review: its details, proof and the review forms allowed now."""
    return _claim_page(page, page.principal, _claim_id(claim_id))


@router.post("/review/{claim_id}")
def review(page: PageDep, commands: CommandRunnerDep, form: FormDep, claim_id: str) -> Response:
    """A review form: ``Ledger.review`` with the action, the reason, and the claim's version
    as the form saw it; then the queue with the claim as it is now."""
    principal, found = page.principal, _claim_id(claim_id)
    principal.require_role(Role.REVIEWER)  # the 403 page before any form is read
    action, reason = form.get("action"), form.get("reason")
    version = form.get("version")

    def act(request: RequestKey) -> Done[str]:
        command = parse(Review, {"action": action, "reason": reason.strip() or None})
        expected = int(version) if version.isdigit() and len(version) <= 12 else None
        ledger = page.services.ledger
        done = ledger.run(request, ledger.review, principal, found, command, page.now, expected)
        return done.answering(f"/review?done={found}")

    def refused(error: LedgerError) -> HTMLResponse:
        try:
            row = page.read_models.claims.details(principal, found)
        except LedgerError as unreachable:  # no such claim: the error page, not the form
            return page.error_page(unreachable)
        return page.refused(
            "review_claim.html",
            error,
            row=row,
            documents=page.services.ledger.documents(principal, found),
            failed=action,
            typed=reason,
            **_context(page, principal),
        )

    return page.submit(commands, form, act, refused)
