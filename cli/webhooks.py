"""`ledger webhooks`: a partner's webhook deliveries (status, attempts, last answer), and
retrying a failed one, as the partner's Webhooks page does."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cli.common import _services, console
from ledger.domain.principal import Principal, Role
from ledger.policies.webhooks import Delivery, Subscription, Webhooks
from ledger.service.clock import utc_now

OPERATOR = "ledger-cli"


def webhooks(
    partner: Annotated[str, typer.Option(help="The partner whose webhooks to show.")],
    status: Annotated[
        str | None,
        typer.Option(
            help="Only deliveries in this status: pending, retrying, sending, delivered, failed."
        ),
    ] = None,
    retry: Annotated[
        str | None, typer.Option(help="Send this failed delivery again (its id).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per delivery.")] = False,
) -> None:
    """The partner's webhook deliveries, the latest event first, per subscription."""
    services = _services()
    principal = Principal(OPERATOR, partner, frozenset({Role.INCENTIVES_ADMIN}))
    hooks = services.workers.webhooks.subscriptions
    try:
        if retry is not None:
            _retry(hooks, principal, retry)
        found = [
            (subscription, delivery)
            for subscription in hooks.subscriptions(principal)
            for delivery in hooks.deliveries(principal, subscription.id)
            if status is None or delivery.status == status
        ]
    finally:
        services.close()
    if as_json:
        for subscription, delivery in found:
            sys.stdout.write(json.dumps(_record(subscription, delivery)) + "\n")
        return
    _print(found)


def _retry(hooks: Webhooks, principal: Principal, delivery_id: str) -> None:
    for subscription in hooks.subscriptions(principal):
        if any(d.id == delivery_id for d in hooks.deliveries(principal, subscription.id)):
            done = hooks.retry(principal, subscription.id, delivery_id, utc_now())
            console.print(f"delivery {delivery_id}: {done.status}")
            return
    console.print(f"[red]no delivery {escape(delivery_id)} of {escape(principal.partner_id or '')}")
    raise typer.Exit(1)


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _record(subscription: Subscription, delivery: Delivery) -> dict[str, object]:
    return {
        "subscription_id": subscription.id,
        "url": subscription.url,
        "delivery_id": delivery.id,
        "event_id": delivery.event_id,
        "type": delivery.type,
        "claim_id": delivery.claim_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_response_code": delivery.last_code,
        "last_error": delivery.last_error,
        "next_attempt_at": _time(delivery.next_attempt_at),
        "delivered_at": _time(delivery.delivered_at),
    }


def _print(found: list[tuple[Subscription, Delivery]]) -> None:
    table = Table(title=f"Webhook deliveries ({len(found)})")
    for column in ("url", "event", "type", "status", "attempts", "last answer", "delivery"):
        table.add_column(column)
    for subscription, delivery in found:
        answer = delivery.last_error or ""
        if delivery.last_code is not None:
            answer = f"{delivery.last_code} {answer}".strip()
        table.add_row(
            escape(subscription.url), delivery.event_id, delivery.type, delivery.status,
            str(delivery.attempts), answer, delivery.id,
        )  # fmt: skip
    console.print(table)
