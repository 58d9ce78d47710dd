"""`ledger history`: a claim's events, in order, and the claim as it stood at a time."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

import typer
from rich.markup import escape

from cli.common import (
    OPERATOR,
    _ledger,
    console,
)
from ledger.aggregates.claim import Claim
from ledger.aggregates.values import usd_text
from ledger.audit.as_of import events_until, parse_as_of
from ledger.audit.event_fields import event_details, recorded_fields
from ledger.domain.errors import InvalidInputError, NotFoundError
from ledger.projections.base import ts
from ledger.projections.claim_queries import ClaimRow, claim_at
from ledger.service.clock import utc_now


def history(
    claim_id: Annotated[str, typer.Argument(help="The claim's id (a UUID).")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per event.")] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="ISO-8601 time with a time zone: the events up to then, and the claim as "
            "it stood then.",
        ),
    ] = None,
) -> None:
    """Print a claim's events, in order, with time and actor: the audit trail."""
    try:
        claim_uuid = UUID(claim_id)
    except ValueError:
        raise typer.BadParameter(f"{claim_id!r} is not a claim id (a UUID)") from None
    moment = None if as_of is None else _parse_as_of(as_of)
    ledger = _ledger()
    try:
        events = ledger.history(OPERATOR, claim_uuid)
    except NotFoundError:
        console.print(f"[red]no claim {claim_uuid}[/red]")
        raise typer.Exit(1) from None
    if moment is not None:
        _history_as_of(claim_uuid, events, moment, as_json)
        return
    if as_json:
        for event in events:
            sys.stdout.write(json.dumps(_event_record(event)) + "\n")
        return
    console.print(f"[bold]Claim {claim_uuid}[/bold]: {len(events)} events")
    _print_events(events)


def _event_record(event: Claim.Event) -> dict[str, object]:
    return {
        "version": event.originator_version,
        "event": type(event).__name__,
        "occurred_at": event.occurred_at.isoformat(),
        "actor": event.actor.model_dump(mode="json"),
        "data": event_details(event),
    }


def _print_events(events: list[Claim.Event]) -> None:
    for event in events:
        console.print(
            f"[bold]#{event.originator_version}[/bold] "
            f"{event.occurred_at:%Y-%m-%d %H:%M:%S} UTC  [cyan]{type(event).__name__}[/cyan]  "
            f"by {event.actor.kind.value}:{escape(event.actor.id)}"
        )
        _print_fields(event_details(event))


def _print_fields(data: object) -> None:
    """Recorded values as they are: text such as ``[erased]`` or ``[/x]`` is not markup."""
    for key, value in recorded_fields(data):
        console.print(f"    {key}: {value}", highlight=False, soft_wrap=True, markup=False)


def _parse_as_of(text: str) -> datetime:
    try:
        return parse_as_of(text, utc_now(), field="--as-of")
    except InvalidInputError as error:
        raise typer.BadParameter(error.detail, param_hint="--as-of") from None


def _history_as_of(
    claim_id: UUID, events: list[Claim.Event], moment: datetime, as_json: bool
) -> None:
    """The events up to ``moment``, then the claim as it stood then (SPEC 11)."""
    until = events_until(events, moment)
    claim = claim_at(until, moment)
    if claim is None:
        console.print(
            f"[red]claim {claim_id} did not exist yet at {moment:%Y-%m-%d %H:%M:%S} UTC[/red]"
        )
        raise typer.Exit(1)
    record = _claim_record(claim, moment)
    if as_json:
        for event in until:
            sys.stdout.write(json.dumps(_event_record(event)) + "\n")
        sys.stdout.write(json.dumps({"as_of": ts(moment), "claim": record}) + "\n")
        return
    console.print(
        f"[bold]Claim {claim_id}[/bold] as of {moment:%Y-%m-%d %H:%M:%S} UTC: "
        f"{len(until)} of {len(events)} events"
    )
    _print_events(until)
    console.print(
        f"[bold]As of {moment:%Y-%m-%d %H:%M:%S} UTC[/bold]: [cyan]{claim.state.label}[/cyan]"
    )
    _print_fields(record)


def _claim_record(claim: ClaimRow, moment: datetime) -> dict[str, object]:
    """The claim as it stood at ``moment``: state, deadlines and days left then, payout."""

    def money(amount: Decimal | None) -> str | None:
        return None if amount is None else usd_text(amount)

    return {
        "claim_id": str(claim.claim_id),
        "partner_id": claim.partner_id,
        "engagement_id": claim.engagement_id,
        "location_id": claim.location_id,
        "friendly_name": claim.friendly_name,
        "customer_id": {"type": claim.customer_id.type.value, "value": claim.customer_id.value},
        "state": claim.state.value,
        "label": claim.state.label,
        "terminal": claim.state.terminal,
        "version": claim.version,
        "updated_at": ts(claim.updated_at),
        "deadlines": {kind.value: ts(at) for kind, at in claim.deadlines.items()},
        "running_deadline_kind": claim.running_deadline_kind and claim.running_deadline_kind.value,
        "running_deadline": claim.running_deadline and ts(claim.running_deadline),
        "days_left": claim.days_left(moment),
        "deal_size_usd": money(claim.deal_size_usd),
        "payout_model": claim.payout_model.value,
        "fixed_payout_usd": money(claim.fixed_payout_usd),
        "hours": claim.hours,
        "proposed_payout_usd": money(claim.proposed_payout_usd),
        "payout_usd": money(claim.payout_usd),
        "had_consent": claim.had_consent,
        "submissions": claim.submissions,
        "disputed": claim.disputed,
        "last_reason": claim.last_reason,
        "referral_id": claim.referral_id and str(claim.referral_id),
        "co_sell": claim.co_sell,
        "contacts": claim.contacts.model_dump(mode="json"),
    }
