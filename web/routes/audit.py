"""The auditor's audit page (SPEC 14): the log's position and digest now, the last
verification, the erasures, and the Erase a contact form (the e-mail, then a confirmation
naming how many claims it touches, then the erasure, as POST /v1/audit/erasures does)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ledger.audit import tamper
from ledger.audit.checkpoints import Checkpoints
from ledger.audit.tree import LogTree
from ledger.domain.errors import LedgerError
from ledger.domain.principal import Role
from ledger.runtime.erasure import claims_holding, erasures, forget
from web.pages import Fields, FormDep, PageDep

router = APIRouter(include_in_schema=False)
ERASE = "/audit/erasures"
CHECK = "/audit/verifications"


def _audit(page: PageDep, **context: Any) -> dict[str, Any]:
    """What the audit page shows: the log now, the last verification, the erasures."""
    principal = page.principal
    principal.require_role(Role.AUDITOR)
    services = page.services
    try:
        digest: tamper.Digest | None = tamper.current_digest(services.ledger, principal)
        checkpoint = Checkpoints(LogTree.of(services.ledger).tables).latest()
    except tamper.UnverifiableStoreError:
        digest, checkpoint = None, None
    return {
        "digest": digest,
        "checkpoint": checkpoint,
        "verified": services.verifications.last(),
        "erasures": erasures(services.ledger, principal),
        "typed": Fields([]),
        **context,
    }


@router.get("/audit")
def audit(
    page: PageDep,
    erased: Annotated[str | None, Query(max_length=64)] = None,
    checked: Annotated[str | None, Query(max_length=3)] = None,
) -> Response:
    """The audit page; after an erasure (``erased``: its key id) or a check (``checked``)
    it says what was done."""
    context = _audit(page)
    done = next((e for e in context["erasures"] if e.key_id == erased), None)
    return page.render("audit.html", **context, done_erasure=done, checked=bool(checked))


@router.post(CHECK)
def check(page: PageDep, form: FormDep) -> Response:
    """Check the log now, as ``ledger verify`` does, and record the result; then the page."""
    page.check_form(form)
    page.principal.require_role(Role.AUDITOR)
    services = page.services
    try:
        result = tamper.verify(services.ledger)
    except tamper.UnverifiableStoreError:  # the page says that this log cannot be checked
        return RedirectResponse("/audit", status_code=303)
    services.verifications.record(result, page.now)
    return RedirectResponse("/audit?checked=yes#last-check", status_code=303)


def _refused(page: PageDep, error: LedgerError, form: Fields) -> HTMLResponse:
    return page.refused("audit.html", error, **_audit(page, typed=form))


@router.post(ERASE)
def erase(page: PageDep, form: FormDep) -> Response:
    """Step 1 (the e-mail) answers the confirmation; step 2 (``confirm=yes``) erases, then
    303 to /audit, which says so and lists the erasure."""
    page.check_form(form)
    services, email = page.services, form.get("email").strip()
    try:
        if form.get("confirm") != "yes":
            count = claims_holding(services.ledger, services.workers.views, page.principal, email)
            return page.render("audit_confirm.html", email=email, count=count)
        erasure = forget(
            services.ledger,
            services.workers.views,
            services.settings.mail_directory(),
            page.principal,
            email,
            page.now,
        )
    except LedgerError as error:
        if error.field != "email":
            raise
        return _refused(page, error, form)
    return RedirectResponse(f"/audit?erased={erasure.key_id}", status_code=303)
