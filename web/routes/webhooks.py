"""The Webhooks settings (a partner's incentives admin): the subscriptions (address, event
types, active or disabled since, last delivery), Add a webhook (its secret shown once, on the
answer to the form), Delete with a confirmation, and each subscription's delivery log with a
Retry button for a failed delivery; as the API's /v1/webhooks does."""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from ledger.domain.errors import LedgerError
from ledger.policies.webhook_deliveries import ALL
from ledger.policies.webhooks import Webhooks
from ledger.projections.feed import FEED_TYPES
from web.pages import Fields, FormDep, PageDep

router = APIRouter(include_in_schema=False)
HOME = "/settings/webhooks"
FORM_IDS = uuid5(NAMESPACE_URL, "https://claim-ledger.dev/webhook-form")


def _hooks(page: PageDep) -> Webhooks:
    return page.services.workers.webhooks.subscriptions


def _list(page: PageDep, typed: Fields, **context: Any) -> dict[str, Any]:
    return {
        "subscriptions": _hooks(page).subscriptions(page.principal),
        "types": sorted(FEED_TYPES),
        "every": ALL,
        "typed": typed,
        "chosen": typed.getlist("events") if typed.items else [ALL],
        **context,
    }


@router.get(HOME)
def webhooks(page: PageDep) -> Response:
    return page.render("webhooks.html", **_list(page, Fields([])))


@router.post(HOME)
def add_webhook(page: PageDep, form: FormDep) -> Response:
    """Subscribe, then answer the page that shows the secret, this once (the same form posted
    again answers the same subscription: its id follows from the form's key)."""
    session = page.check_form(form)
    made_id = uuid5(FORM_IDS, f"{session.principal.user_id}/{form.get('form_key')}")
    try:
        made, secret = _hooks(page).subscribe(
            page.principal, form.get("url"), form.getlist("events"), page.now, made_id
        )
    except LedgerError as error:
        if error.field not in ("url", "events"):
            raise
        return page.refused("webhooks.html", error, **_list(page, form))
    return page.render("webhook_created.html", 201, subscription=made, secret=secret)


@router.get(HOME + "/{subscription_id}")
def deliveries(page: PageDep, subscription_id: str) -> Response:
    hooks = _hooks(page)
    return page.render(
        "webhook_deliveries.html",
        subscription=hooks.get(page.principal, subscription_id),
        deliveries=hooks.deliveries(page.principal, subscription_id),
    )


@router.post(HOME + "/{subscription_id}/delete")
def delete(page: PageDep, form: FormDep, subscription_id: str) -> Response:
    """Step 1 answers the confirmation; step 2 (``confirm=yes``) deletes, then 303 to the
    list, which no longer shows it."""
    page.check_form(form)
    hooks = _hooks(page)
    if form.get("confirm") != "yes":
        found = hooks.get(page.principal, subscription_id)
        return page.render("webhook_delete.html", subscription=found)
    hooks.delete(page.principal, subscription_id, page.now)
    return RedirectResponse(HOME, status_code=303)


@router.post(HOME + "/{subscription_id}/deliveries/{delivery_id}/retry")
def retry(page: PageDep, form: FormDep, subscription_id: str, delivery_id: str) -> Response:
    page.check_form(form)
    _hooks(page).retry(page.principal, subscription_id, delivery_id, page.now)
    return RedirectResponse(f"{HOME}/{UUID(subscription_id)}#deliveries", status_code=303)
