"""`ledger history`: a claim's events, in order, and the claim as it stood at a time: in words
for people (the lines of the claim page's history, in English, times in UTC), or with
``--json`` every recorded field as it is, for machines."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from decimal import Decimal
from typing import Annotated
from uuid import UUID

import typer
from rich.markup import escape
from rich.text import Text

from cli.common import (
    OPERATOR,
    _ledger,
    console,
)
from ledger.aggregates.claim import Claim
from ledger.aggregates.values import usd_text
from ledger.audit.as_of import events_until, parse_as_of
from ledger.audit.event_fields import event_details
from ledger.audit.history_words import HistoryWords, RecordedEvent
from ledger.domain.errors import InvalidInputError, NotFoundError
from ledger.projections.base import ts
from ledger.projections.claim_queries import ClaimRow, claim_at
from ledger.service.clock import utc_now
from ledger.words.i18n import Formats

DEADLINE_NAMES = {
    "consent": "Customer consent",
    "submission": "First submission",
    "post_submission": "Review completion",
    "dispute": "Dispute",
}
"""The deadlines as the claim page names them."""


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
    words = HistoryWords(Formats("en"), {e.id: e.name for e in ledger.catalog.engagements})
    if moment is not None:
        _history_as_of(claim_uuid, events, moment, as_json, words)
        return
    if as_json:
        for event in events:
            sys.stdout.write(json.dumps(_event_record(event)) + "\n")
        return
    console.print(f"[bold]Claim {claim_uuid}[/bold]: {len(events)} events")
    _print_events(events, words)


def _event_record(event: Claim.Event) -> dict[str, object]:
    return {
        "version": event.originator_version,
        "event": type(event).__name__,
        "occurred_at": event.occurred_at.isoformat(),
        "actor": event.actor.model_dump(mode="json"),
        "data": event_details(event),
    }


def _print_events(events: list[Claim.Event], words: HistoryWords) -> None:
    """One line per event, as the claim page says it (recorded text is text, not markup)."""
    for line in words.lines([RecordedEvent.of(event) for event in events]):
        said = Text.assemble((f"#{line.version}", "bold"), f" {line.time}  ", line.text)
        console.print(said, highlight=False, soft_wrap=True)


def _print_labelled(values: list[tuple[str, str]]) -> None:
    for label, value in values:
        if value:
            console.print(f"    {label}: {value}", highlight=False, soft_wrap=True, markup=False)


def _parse_as_of(text: str) -> datetime:
    try:
        return parse_as_of(text, utc_now(), field="--as-of")
    except InvalidInputError as error:
        raise typer.BadParameter(error.detail, param_hint="--as-of") from None


def _history_as_of(
    claim_id: UUID,
    events: list[Claim.Event],
    moment: datetime,
    as_json: bool,
    words: HistoryWords,
) -> None:
    """The events up to ``moment``, then the claim as it stood then (SPEC 11)."""
    until = events_until(events, moment)
    claim = claim_at(until, moment)
    then = words.formats.datetime(moment)
    if claim is None:
        console.print(f"[red]claim {claim_id} did not exist yet at {escape(then)}[/red]")
        raise typer.Exit(1)
    if as_json:
        for event in until:
            sys.stdout.write(json.dumps(_event_record(event)) + "\n")
        record = _claim_record(claim, moment)
        sys.stdout.write(json.dumps({"as_of": ts(moment), "claim": record}) + "\n")
        return
    console.print(
        f"[bold]Claim {claim_id}[/bold] as of {escape(then)}: {len(until)} of {len(events)} events"
    )
    _print_events(until, words)
    console.print(f"[bold]As of {escape(then)}[/bold]: [cyan]{claim.state.label}[/cyan]")
    _print_labelled(_claim_in_words(claim, moment, words))


def _claim_in_words(
    claim: ClaimRow, moment: datetime, words: HistoryWords
) -> list[tuple[str, str]]:
    """The claim as it stood at ``moment``, labelled as the claim page labels it: the
    customer (its recorded name, its id), the claim's name, the deadlines (days left then of
    the running one), the money, the referral."""
    left = claim.days_left(moment)
    deadlines = [
        (f"{DEADLINE_NAMES[kind.value]} deadline", words.formats.datetime(at))
        for kind, at in claim.deadlines.items()
    ]
    if left is not None and claim.running_deadline_kind is not None:
        running = DEADLINE_NAMES[claim.running_deadline_kind.value] + " deadline"
        deadlines = [
            (k, f"{v} ({words.days(left)} left)" if k == running else v) for k, v in deadlines
        ]
    customer_id = {"type": claim.customer_id.type.value, "value": claim.customer_id.value}
    return [
        ("Customer", words.text(claim.customer_name)),
        ("Customer id", words.customer_id(customer_id)),
        ("Claim name", claim.friendly_name),
        ("Engagement", words.engagement(claim.engagement_id)),
        ("Location", claim.location_id),
        ("Customer contact", words.contact(claim.contacts.customer.model_dump())),
        ("Partner contact", words.contact(claim.contacts.partner.model_dump())),
        *deadlines,
        *_money_in_words(claim, words),
        ("Submissions", str(claim.submissions) if claim.submissions else ""),
        ("Reviewer's comments", words.text(claim.last_reason)),
        ("Referral", _referral(claim)),
    ]


def _money_in_words(claim: ClaimRow, words: HistoryWords) -> list[tuple[str, str]]:
    fmt = words.formats
    if claim.payout_model.value == "fixed":
        payout = ("Payout", f"Fixed · {fmt.usd(claim.fixed_payout_usd)}")
    else:
        hours = f" ({words.hours(claim.hours)})" if claim.hours else ""
        payout = ("Proposed payout", f"Variable · {fmt.usd(claim.proposed_payout_usd)}{hours}")
    return [
        ("Estimated deal size", fmt.usd(claim.deal_size_usd) or "not given yet"),
        payout,
        ("Approved payout", fmt.usd(claim.payout_usd) or "not approved"),
    ]


def _referral(claim: ClaimRow) -> str:
    if claim.referral_id is None:
        return ""
    return f"{claim.referral_id}" + (" · co-sell" if claim.co_sell else "")


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
