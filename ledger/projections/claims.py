"""Claim views: one row per claim (details, lists, tabs, queue, due deadlines), its history,
the consent e-mail outbox (R23, R24), the partners' known customers (R15) and the Customers
tabs kept beside them (``ledger.projections.customer_tabs``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.utils import get_topic
from pydantic import TypeAdapter

from ledger.aggregates.claim import (
    GOVERNING_DEADLINE,
    Claim,
    ClaimFacts,
    ClaimState,
    DeadlineKind,
    evolve,
    fold,
)
from ledger.aggregates.known import KnownCustomer
from ledger.aggregates.values import TRUSTED
from ledger.projections.base import BatchProjection, dumps, money, parse_ts, ts
from ledger.projections.customer_tabs import KeptTabs, Known
from ledger.projections.notices import CONSENT_KINDS, notice_row
from ledger.projections.store import Tx, columns

CLAIM_COLUMNS = [name for name, _ in columns("claims")]
OUTBOX_NAMESPACE = uuid5(NAMESPACE_URL, "https://claim-ledger.dev/email")


def email_id(link_id: UUID) -> str:
    return str(uuid5(OUTBOX_NAMESPACE, str(link_id)))


UPSERT_CLAIM = "(claim_id) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in CLAIM_COLUMNS if c != "claim_id"
)
UPSERT_FACTS = "(claim_id) DO UPDATE SET facts = excluded.facts"
EVENT_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic", "actor"}
FACTS: TypeAdapter[ClaimFacts] = TypeAdapter(ClaimFacts)
"""A claim's facts as the view keeps them between pages (JSON, contacts as the events had them)."""


def event_data(event: Claim.Event) -> dict[str, Any]:
    """An event's own fields as JSON types: what the audit trail shows."""
    return event.model_dump(mode="json", exclude=EVENT_FIELDS)


def row_of(facts: ClaimFacts) -> dict[str, Any]:
    """A claim's row in the claims view: its columns, derived from its facts alone."""
    terms, kind = facts.terms, GOVERNING_DEADLINE.get(facts.state)
    return {
        "claim_id": str(facts.claim_id),
        "partner_id": terms.partner_id,
        "location_id": terms.location_id,
        "engagement_id": terms.engagement_id,
        "friendly_name": terms.friendly_name,
        "customer_type": terms.customer_id.type.value,
        "customer_value": terms.customer_id.value,
        "eligibility_key": terms.eligibility_key,
        "resolved_tenant_id": terms.resolved_tenant_id,
        "origin": facts.origin,
        "state": facts.state.value,
        "live": int(not facts.state.terminal),
        "had_consent": int(facts.consent_given_at is not None),
        "version": facts.version,
        "created_at": ts(facts.created_at),
        "updated_at": ts(facts.updated_at),
        "running_deadline_kind": None if kind is None else kind.value,
        "running_deadline": None if kind is None else ts(facts.deadlines[kind]),
        "deadlines": dumps({k.value: ts(v) for k, v in facts.deadlines.items()}),
        "deal_size_usd": money(facts.deal_size_usd),
        "payout_model": terms.payout_model.value,
        "fixed_payout_usd": money(terms.fixed_payout_usd),
        "proposed_payout_usd": money(terms.proposed_payout_usd),
        "hours": terms.hours,
        "payout_usd": money(facts.payout_usd),
        "contacts": dumps(facts.contacts.model_dump(mode="json")),
        "referral_id": None if facts.referral_id is None else str(facts.referral_id),
        "co_sell": int(facts.co_sell),
        "disputed": int(facts.disputed),
        "submissions": facts.submissions,
        "last_reason": facts.last_reason,
        "customer_name": terms.customer_name,
    }


def _known_row(event: KnownCustomer.Recognised) -> tuple[Any, ...]:
    """A known customer's row (R15): the partner's, recognised by its first consent."""
    return (
        event.partner_id,
        event.customer_id.type.value,
        event.customer_id.value,
        event.friendly_name,
        str(event.first_claim_id),
        ts(event.timestamp),
        event.customer_name,
    )


def _known(event: KnownCustomer.Recognised) -> Known:
    """The known customer as the kept tabs take it: its row without the first claim and time."""
    partner_id, id_type, value, name, _, _, customer_name = _known_row(event)
    return partner_id, id_type, value, name, customer_name


def _history_row(event: Claim.Event) -> tuple[Any, ...]:
    return (
        str(event.originator_id),
        event.originator_version,
        type(event).__name__,
        ts(event.timestamp),
        dumps(event.actor.model_dump(mode="json")),
        dumps(event_data(event)),
    )


class ClaimViews(BatchProjection):
    """Claims, their history and the outbox: each claim's facts evolved by its events (the
    aggregate's ``evolve``), its row derived from them (``row_of``)."""

    name = "claims"

    def process_batch(self, tx: Tx, events: Sequence[Any]) -> None:
        claim_events = [e for e in events if isinstance(e, Claim.Event)]
        known = [e for e in events if isinstance(e, KnownCustomer.Recognised)]
        if not claim_events and not known:
            return
        tabs = KeptTabs(tx, self.catalog)
        kept = tabs.kept()  # asked before this page's known customers are written
        tx.insert_rows("known_customers", [_known_row(e) for e in known])
        rows = self._claims(tx, claim_events) if claim_events else []
        tabs.follow(kept, [_known(e) for e in known], rows)

    def _claims(self, tx: Tx, claim_events: Sequence[Claim.Event]) -> list[dict[str, Any]]:
        """Fold the page's claim events into the claims, their history and the outbox; the
        rows of the claims it changed."""
        facts = self._load(tx, {e.originator_id for e in claim_events})
        page = _OutboxPage(self.store.notifications_since)
        for event in claim_events:
            before = facts.get(event.originator_id)
            facts[event.originator_id] = after = evolve(before, event)
            page.follow(before, after)
            page.notify(event, after)
        tx.insert_rows("history", [_history_row(e) for e in claim_events])
        touched = sorted({e.originator_id for e in claim_events})
        rows = [row_of(facts[c]) for c in touched]
        tx.insert_rows("claims", [tuple(r[c] for c in CLAIM_COLUMNS) for r in rows], UPSERT_CLAIM)
        kept = [(str(c), FACTS.dump_json(facts[c]).decode()) for c in touched]
        tx.insert_rows("claim_facts", kept, UPSERT_FACTS)
        page.write(tx)
        return rows

    @staticmethod
    def _load(tx: Tx, claim_ids: set[UUID]) -> dict[UUID, ClaimFacts]:
        """The facts the view holds of these claims (none of a claim it has not seen yet)."""
        facts: dict[UUID, ClaimFacts] = {}
        ids = sorted(str(c) for c in claim_ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            sql = f"SELECT facts FROM {{p}}claim_facts WHERE claim_id IN ({marks})"
            for row in tx.rows(sql, chunk):
                found = FACTS.validate_json(row["facts"], context=TRUSTED)  # ours
                facts[found.claim_id] = found
        missing = sorted(str(c) for c in claim_ids - set(facts))
        for start in range(0, len(missing), 500):
            facts |= _facts_from_history(tx, missing[start : start + 500])
        return facts


def _facts_from_history(tx: Tx, claim_ids: Sequence[str]) -> dict[UUID, ClaimFacts]:
    """The facts of claims this view showed before it kept their facts (views built by an
    earlier release): folded from its history, the view's own record of their events."""
    marks = ", ".join("?" for _ in claim_ids)
    sql = f"SELECT * FROM {{p}}history WHERE claim_id IN ({marks}) ORDER BY claim_id, version"
    events: dict[UUID, list[Claim.Event]] = {}
    for row in tx.rows(sql, claim_ids):
        event_class = getattr(Claim, row["event"])
        extra = {"originator_topic": get_topic(Claim)} if row["version"] == 1 else {}
        fields = {
            **json.loads(row["data"]),
            **extra,
            "originator_id": row["claim_id"],
            "originator_version": row["version"],
            "timestamp": parse_ts(row["occurred_at"]),
            "actor": json.loads(row["actor"]),
        }
        event = event_class.model_validate(fields, context=TRUSTED)  # ours
        events.setdefault(event.originator_id, []).append(event)
    return {claim_id: fold(found) for claim_id, found in events.items()}


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
    if row["channel"] in ("erased", "superseded"):
        # its recipient's personal data was erased before it went, or (a deadline's
        # reminder) the deadline no longer ran when its turn came
        return Status.SUPERSEDED
    if row["channel"] == "sending":
        taken = row.get("delivered_at")
        on_its_way = stuck_before is not None and taken is not None and taken >= stuck_before
        return Status.PENDING if on_its_way else Status.STUCK
    return Status.SENT


class _OutboxPage:
    """The outbox changes of one page: new e-mails, and which one of a claim is current."""

    def __init__(self, notifications_since: str | None = None) -> None:
        self.emails: dict[str, list[Any]] = {}
        self.current: dict[str, str] = {}  # claim id -> the one e-mail still to send, or ""
        self.since = notifications_since

    def notify(self, event: Claim.Event, after: ClaimFacts) -> None:
        """The partner contact's e-mail about ``event``, if it calls for one."""
        row = notice_row(event, after, self.since)
        if row is not None:
            self.emails[row[0]] = row

    def follow(self, before: ClaimFacts | None, after: ClaimFacts) -> None:
        """The e-mails a change of a claim's facts calls for (R23, R24): one per new consent
        link (a reminder when consent was awaited already); none left to send once the link
        the customer could answer through is gone."""
        link = after.last_link_id
        if link is not None and (before is None or link != before.last_link_id):
            awaited = before is not None and before.state is ClaimState.AWAITING_CONSENT
            self.queue(after, link, "consent_reminder" if awaited else "consent_request")
        elif before is not None and before.consent_link_id and after.consent_link_id is None:
            self.close(str(after.claim_id))

    def queue(self, facts: ClaimFacts, link_id: UUID, kind: str) -> None:
        """One e-mail per consent link; a newer link supersedes the older e-mails (R24)."""
        new_id, claim_id = email_id(link_id), str(facts.claim_id)
        self.supersede(claim_id)
        self.emails[new_id] = [
            new_id,
            claim_id,
            str(link_id),
            kind,
            facts.contacts.customer.email,
            facts.terms.friendly_name,
            facts.terms.engagement_id,
            ts(facts.deadlines[DeadlineKind.CONSENT]),
            ts(facts.updated_at),
            0,
            None,
        ]
        self.current[claim_id] = new_id

    def supersede(self, claim_id: str) -> None:
        """The claim's consent e-mails of this page are not to be sent (the partner's stay)."""
        for other in self.emails.values():
            if other[1] == claim_id and other[3] in CONSENT_KINDS:
                other[9] = 1

    def close(self, claim_id: str) -> None:
        self.supersede(claim_id)
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
                f"AND kind IN ({', '.join('?' for _ in CONSENT_KINDS)}) "
                f"AND claim_id IN ({', '.join('?' for _ in chunk)}) "
                f"AND email_id NOT IN ({', '.join('?' for _ in keep)})",
                [*CONSENT_KINDS, *chunk, *keep],
            )
