"""Claim views: one row per claim (details, lists, tabs, queue, due deadlines), its history,
and the consent e-mail outbox (R23, R24)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from ledger.aggregates.claim import EXPIRY_STATE, GOVERNING_DEADLINE, Claim, ClaimState
from ledger.projections.base import BatchProjection, dumps, money, ts
from ledger.projections.store import Tx, columns

CLAIM_COLUMNS = [name for name, _ in columns("claims")]
OUTBOX_NAMESPACE = uuid5(NAMESPACE_URL, "https://claim-ledger.dev/email")


def email_id(link_id: UUID) -> str:
    return str(uuid5(OUTBOX_NAMESPACE, str(link_id)))


UPSERT_CLAIM = "(claim_id) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in CLAIM_COLUMNS if c != "claim_id"
)
CONSENT_CLOSED = (Claim.ConsentGiven, Claim.Declined, Claim.Expired, Claim.Cancelled)
EVENT_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor"}


def event_data(event: Claim.Event) -> dict[str, Any]:
    """An event's own fields as JSON types: what the audit trail shows."""
    return event.model_dump(mode="json", exclude=EVENT_FIELDS)


def _new_row(event: Claim.Created) -> dict[str, Any]:
    return {
        "claim_id": str(event.originator_id),
        "partner_id": event.partner_id,
        "location_id": event.location_id,
        "engagement_id": event.engagement_id,
        "friendly_name": event.friendly_name,
        "customer_type": event.customer_id.type.value,
        "customer_value": event.customer_id.value,
        "eligibility_key": event.eligibility_key,
        "resolved_tenant_id": event.resolved_tenant_id,
        "origin": "added" if isinstance(event, Claim.Added) else "claimed",
        "state": ClaimState.CUSTOMER_CLAIMED.value,
        "live": 1,
        "had_consent": 0,
        "version": 0,
        "created_at": ts(event.timestamp),
        "updated_at": ts(event.timestamp),
        "running_deadline_kind": None,
        "running_deadline": None,
        "deadlines": {"consent": ts(event.consent_deadline)},
        "deal_size_usd": None,
        "payout_model": event.payout_model.value,
        "fixed_payout_usd": money(event.fixed_payout_usd),
        "proposed_payout_usd": money(event.proposed_payout_usd),
        "hours": event.hours,
        "payout_usd": None,
        "contacts": event.contacts.model_dump(mode="json"),
        "referral_id": None,
        "co_sell": 0,
        "disputed": 0,
        "submissions": 0,
        "last_reason": None,
    }


def fold(events: Sequence[Claim.Event]) -> tuple[dict[str, Any], UUID | None]:
    """A claim's row as the claims view holds it after ``events`` (its first ones, in order),
    folded in memory; and its latest consent link."""
    assert events and isinstance(events[0], Claim.Created), "a claim's events start with it"
    row, outbox = _new_row(events[0]), _OutboxPage()
    link = None
    for event in events:
        ClaimViews.apply(row, event, outbox)
        if isinstance(event, Claim.ConsentRequested | Claim.ConsentReminderSent):
            link = event.link_id
    return dict(zip(CLAIM_COLUMNS, ClaimViews.values(row), strict=True)), link


class ClaimViews(BatchProjection):
    """Claims, their history and the outbox, folded from the claim's events."""

    name = "claims"

    def process_batch(self, tx: Tx, events: Sequence[Any]) -> None:
        claim_events = [e for e in events if isinstance(e, Claim.Event)]
        if not claim_events:
            return
        rows = self._load(tx, {str(e.originator_id) for e in claim_events})
        page = _OutboxPage()
        history: list[tuple[Any, ...]] = []
        for event in claim_events:
            claim_id = str(event.originator_id)
            if isinstance(event, Claim.Created):
                rows[claim_id] = _new_row(event)
            row = rows[claim_id]
            self.apply(row, event, page)
            history.append(
                (
                    claim_id,
                    event.originator_version,
                    type(event).__name__,
                    ts(event.timestamp),
                    dumps(event.actor.model_dump(mode="json")),
                    dumps(event_data(event)),
                )
            )
        tx.insert_rows("history", history)
        touched = {str(e.originator_id) for e in claim_events}
        tx.insert_rows("claims", [self.values(rows[c]) for c in sorted(touched)], UPSERT_CLAIM)
        page.write(tx)

    @staticmethod
    def _load(tx: Tx, claim_ids: set[str]) -> dict[str, dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        ids = sorted(claim_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for row in tx.rows(f"SELECT * FROM {{p}}claims WHERE claim_id IN ({marks})", chunk):
                row["deadlines"] = json.loads(row["deadlines"])
                row["contacts"] = json.loads(row["contacts"])
                rows[row["claim_id"]] = row
        return rows

    @staticmethod
    def values(row: dict[str, Any]) -> tuple[Any, ...]:
        state = ClaimState(row["state"])
        kind = GOVERNING_DEADLINE.get(state)
        row["running_deadline_kind"] = None if kind is None else kind.value
        row["running_deadline"] = None if kind is None else row["deadlines"][kind.value]
        row["live"] = int(not state.terminal)
        values = {**row, "deadlines": dumps(row["deadlines"]), "contacts": dumps(row["contacts"])}
        return tuple(values[c] for c in CLAIM_COLUMNS)

    @staticmethod
    def apply(row: dict[str, Any], event: Claim.Event, outbox: _OutboxPage) -> None:
        row["version"] = event.originator_version
        row["updated_at"] = ts(event.timestamp)
        if not _apply_consent(row, event, outbox):
            _apply_submission(row, event)
        if isinstance(event, CONSENT_CLOSED):
            outbox.close(row["claim_id"])  # nothing left to send


def _apply_consent(row: dict[str, Any], event: Claim.Event, outbox: _OutboxPage) -> bool:
    """Fold an event of the consent part of the lifecycle; False if it is not one."""
    match event:
        case Claim.ConsentRequested():
            row["state"] = ClaimState.AWAITING_CONSENT.value
            row["deal_size_usd"] = money(event.deal_size_usd)
            row["contacts"] = event.contacts.model_dump(mode="json")
            outbox.queue(row, event.link_id, "consent_request", event)
        case Claim.ConsentReminderSent():
            outbox.queue(row, event.link_id, "consent_reminder", event)
        case Claim.ConsentGiven():
            row["state"] = ClaimState.CONSENT_RECEIVED.value
            row["had_consent"] = 1
            row["deadlines"]["submission"] = ts(event.submission_deadline)
            row["deadlines"]["post_submission"] = ts(event.review_deadline)
        case Claim.Declined():
            row["state"] = ClaimState.CONSENT_DECLINED.value
        case Claim.Expired():
            row["state"] = EXPIRY_STATE[event.deadline].value
        case Claim.Cancelled():
            row["state"] = ClaimState.CANCELLED.value
            row["last_reason"] = event.reason
        case _:
            return False
    return True


def _apply_submission(row: dict[str, Any], event: Claim.Event) -> None:
    """Fold an event of submission, review, dispute, referral and co-sell."""
    deadlines = row["deadlines"]
    match event:
        case Claim.Submitted():
            row["state"] = ClaimState.SUBMITTED.value
            row["submissions"] += 1
        case Claim.ReviewStarted():
            row["state"] = ClaimState.UNDER_REVIEW.value
        case Claim.InformationRequested():
            row["state"] = ClaimState.PARTNER_ACTION_REQUIRED.value
            row["last_reason"] = event.comments
        case Claim.Approved():
            row["state"] = ClaimState.APPROVED.value
            row["payout_usd"] = money(event.payout_usd)
        case Claim.Rejected():
            final = ClaimState.REJECTED_FINAL if event.final else ClaimState.REJECTED
            row["state"] = final.value
            row["last_reason"] = event.reason
            if event.dispute_deadline is not None:
                deadlines["dispute"] = ts(event.dispute_deadline)
        case Claim.Disputed():
            row["state"] = ClaimState.DISPUTED.value
            row["disputed"] = 1
            deadlines["post_submission"] = deadlines["dispute"] = ts(event.reset_deadline)
        case Claim.ReferralCreated():
            row["referral_id"] = str(event.referral_id)
        case Claim.UpgradedToCoSell():
            row["co_sell"] = 1


class Status(StrEnum):
    """Pending: not delivered yet; sent: over SMTP or to a file; stuck: claimed by a worker
    that stopped before it marked it; superseded: never delivered, and never will be (a
    newer link replaced it, or the claim no longer waits for consent)."""

    PENDING = "pending"
    SENT = "sent"
    STUCK = "stuck"
    SUPERSEDED = "superseded"


def status(row: dict[str, Any], stuck_before: str | None = None) -> Status:
    """The delivery status of an outbox row (joined with its delivery). An e-mail a worker
    took for sending is stuck once it was taken before ``stuck_before`` (with no time given,
    at once); until then it is still on its way, pending."""
    if row.get("channel") is None:
        return Status.SUPERSEDED if row["superseded"] else Status.PENDING
    if row["channel"] == "erased":  # its recipient's personal data was erased before it went
        return Status.SUPERSEDED
    if row["channel"] == "sending":
        taken = row.get("delivered_at")
        on_its_way = stuck_before is not None and taken is not None and taken >= stuck_before
        return Status.PENDING if on_its_way else Status.STUCK
    return Status.SENT


class _OutboxPage:
    """The outbox changes of one page: new e-mails, and which one of a claim is current."""

    def __init__(self) -> None:
        self.emails: dict[str, list[Any]] = {}
        self.current: dict[str, str] = {}  # claim id -> the one e-mail still to send, or ""

    def queue(self, row: dict[str, Any], link_id: UUID, kind: str, event: Claim.Event) -> None:
        """One e-mail per consent link; a newer link supersedes the older e-mails (R24)."""
        new_id = email_id(link_id)
        for other in self.emails.values():
            if other[1] == row["claim_id"]:
                other[-1] = 1
        self.emails[new_id] = [
            new_id,
            row["claim_id"],
            str(link_id),
            kind,
            row["contacts"]["customer"]["email"],
            row["friendly_name"],
            row["engagement_id"],
            row["deadlines"]["consent"],
            ts(event.timestamp),
            0,
        ]
        self.current[row["claim_id"]] = new_id

    def close(self, claim_id: str) -> None:
        for other in self.emails.values():
            if other[1] == claim_id:
                other[-1] = 1
        self.current[claim_id] = ""

    def write(self, tx: Tx) -> None:
        tx.insert_rows("outbox", list(self.emails.values()))
        claims = sorted(self.current)
        for start in range(0, len(claims), 500):
            chunk = claims[start : start + 500]
            keep = [self.current[c] for c in chunk]
            # Each e-mail id belongs to one claim: keeping them all keeps each claim's own.
            tx.execute(
                f"UPDATE {{p}}outbox SET superseded = 1 WHERE superseded = 0 "
                f"AND claim_id IN ({', '.join('?' for _ in chunk)}) "
                f"AND email_id NOT IN ({', '.join('?' for _ in keep)})",
                [*chunk, *keep],
            )
