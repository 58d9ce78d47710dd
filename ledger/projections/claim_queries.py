"""Queries of the claims and history views, scoped by ``ledger.domain.access``: typed rows."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from ledger.aggregates.claim import Claim, ClaimFacts, ClaimState, DeadlineKind, fold
from ledger.aggregates.values import TRUSTED, Contacts, ProofDocument
from ledger.audit.as_of import events_until
from ledger.domain import access
from ledger.domain.access import Purpose
from ledger.domain.catalog import Catalog, PayoutModel
from ledger.domain.customer_ids import CustomerId, IdType
from ledger.domain.errors import InvalidInputError, NotFoundError
from ledger.domain.principal import Principal, Role
from ledger.projections.base import parse_ts, ts
from ledger.projections.claims import Status, email_id, row_of, status
from ledger.projections.notices import CONSENT_KINDS
from ledger.projections.pages import Page, keyset_cursor, keyset_of, sql_page
from ledger.projections.store import Tx, ViewStore
from ledger.service.clock import Clock, utc_now
from ledger.words.i18n import N_
from ledger.words.refusals import Terms, Words


def _time(text: str | None) -> datetime | None:
    return None if text is None else parse_ts(text)


def _proof(data: str) -> tuple[ProofDocument, ...]:
    return tuple(ProofDocument.model_validate(p) for p in json.loads(data)["proof"])


def _money(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


@dataclass(frozen=True)
class ClaimRow:
    """One claim as the claims view shows it."""

    claim_id: UUID
    partner_id: str
    location_id: str
    engagement_id: str
    friendly_name: str
    """The claim's name, as the partner gave it."""
    customer_id: CustomerId
    resolved_tenant_id: str | None
    customer_name: str | None
    """The directory's name of the customer's tenant, recorded when the claim was made (None:
    not recorded then, or no tenant owns the id: the customer id names the customer)."""
    origin: Literal["added", "claimed"]
    state: ClaimState
    version: int
    created_at: datetime
    updated_at: datetime
    running_deadline_kind: DeadlineKind | None
    running_deadline: datetime | None
    deadlines: dict[DeadlineKind, datetime]
    contacts: Contacts
    deal_size_usd: Decimal | None
    payout_model: PayoutModel
    fixed_payout_usd: Decimal | None
    hours: int | None
    proposed_payout_usd: Decimal | None
    payout_usd: Decimal | None
    had_consent: bool
    disputed: bool
    submissions: int
    last_reason: str | None
    referral_id: UUID | None
    co_sell: bool
    proof: tuple[ProofDocument, ...] = ()
    """The proof of the latest submission (details and the review queue only)."""
    consent_email: Status | None = None
    """The delivery of the latest consent e-mail, if one was requested (details only)."""

    @classmethod
    def of(cls, row: dict[str, Any]) -> ClaimRow:
        kind = row["running_deadline_kind"]
        return cls(
            claim_id=UUID(row["claim_id"]),
            partner_id=row["partner_id"],
            location_id=row["location_id"],
            engagement_id=row["engagement_id"],
            friendly_name=row["friendly_name"],
            customer_id=CustomerId.model_construct(
                type=IdType(row["customer_type"]), value=row["customer_value"]
            ),
            resolved_tenant_id=row["resolved_tenant_id"],
            customer_name=row["customer_name"],
            origin=row["origin"],
            state=ClaimState(row["state"]),
            version=int(row["version"]),
            created_at=parse_ts(row["created_at"]),
            updated_at=parse_ts(row["updated_at"]),
            running_deadline_kind=None if kind is None else DeadlineKind(kind),
            running_deadline=_time(row["running_deadline"]),
            deadlines=_in_order(json.loads(row["deadlines"])),
            contacts=Contacts.model_validate_json(row["contacts"], context=TRUSTED),  # ours
            deal_size_usd=_money(row["deal_size_usd"]),
            payout_model=PayoutModel(row["payout_model"]),
            fixed_payout_usd=_money(row["fixed_payout_usd"]),
            hours=row["hours"],
            proposed_payout_usd=_money(row["proposed_payout_usd"]),
            payout_usd=_money(row["payout_usd"]),
            had_consent=bool(row["had_consent"]),
            disputed=bool(row["disputed"]),
            submissions=int(row["submissions"]),
            last_reason=row["last_reason"],
            referral_id=None if row["referral_id"] is None else UUID(row["referral_id"]),
            co_sell=bool(row["co_sell"]),
        )

    def days_left(self, now: datetime) -> int | None:
        """Whole days, rounded up, until the running deadline (None when none runs)."""
        if self.running_deadline is None or self.state.terminal:
            return None
        return max(0, math.ceil((self.running_deadline - now).total_seconds() / 86400))


def _in_order(deadlines: dict[str, str]) -> dict[DeadlineKind, datetime]:
    """A claim's deadlines in the order they run (consent, first submission, review
    completion, dispute), whatever order the view stored them in."""
    return {k: parse_ts(deadlines[k.value]) for k in DeadlineKind if k.value in deadlines}


@dataclass(frozen=True)
class HistoryRow:
    """One event of a claim, as the audit trail shows it."""

    version: int
    event: str
    occurred_at: datetime
    actor: dict[str, Any]
    data: dict[str, Any]


class Sort(StrEnum):
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    STATE = "state"
    ENGAGEMENT_ID = "engagement_id"
    FRIENDLY_NAME = "friendly_name"


SORT_LABELS = {
    Sort.CREATED_AT: N_("Created"),
    Sort.UPDATED_AT: N_("Last change"),
    Sort.STATE: N_("State"),
    Sort.ENGAGEMENT_ID: N_("Engagement"),
    Sort.FRIENDLY_NAME: N_("Claim name"),
}
"""Each sort as the claims page's sort list labels it, and a refusal names it."""


@dataclass(frozen=True)
class ClaimFilter:
    """Which of the partner's claims a list shows, and in which order (``-`` descending)."""

    engagement_id: str | None = None
    state: str | None = None
    customer: str | None = None
    sort: str = "-created_at"
    partner_id: str | None = None
    """Only this partner's claims (auditors; a partner role reads its own alone)."""

    def __post_init__(self) -> None:
        if self.sort.lstrip("-") not in {s.value for s in Sort}:
            raise InvalidInputError(
                "invalid-sort",
                field="sort",
                params={"sorts": Terms(tuple(SORT_LABELS.values()), style="or")},
                extra={"allowed": [s.value for s in Sort]},  # the codes an API caller sends
            )
        if self.state is not None and self.state not in {s.value for s in ClaimState}:
            raise InvalidInputError(
                "invalid-state", field="state", params={"state": self.state[:100]}
            )

    @property
    def key(self) -> str:
        return self.sort.lstrip("-")

    @property
    def descending(self) -> bool:
        return self.sort.startswith("-")


def location_clause(principal: Principal) -> tuple[str, list[Any]]:
    """The principal's locations as SQL (R1): nothing for admins, the named ones otherwise."""
    scope = principal.location_scope()
    if scope is None:
        return "", []
    locations = sorted(scope)
    return f" AND location_id IN ({', '.join('?' for _ in locations) or 'NULL'})", locations


def list_scope(principal: Principal, partner_id: str | None) -> tuple[str, list[Any]]:
    """The claims a list may show, as SQL: a partner role's own at its locations (R1); an
    auditor's, every partner's or the one named, at every location."""
    partner = access.claims_of(principal, partner_id)
    if principal.is_partner_user and partner == principal.partner_id:
        scope, params = location_clause(principal)
        return "SELECT * FROM {p}claims WHERE partner_id = ?" + scope, [partner, *params]
    if partner is None:
        return "SELECT * FROM {p}claims WHERE 1 = 1", []
    return "SELECT * FROM {p}claims WHERE partner_id = ?", [partner]


def claim_at(events: Sequence[Claim.Event], moment: datetime) -> ClaimRow | None:
    """The claim as it stood at ``moment``: its facts folded from its events up to then with
    the aggregate's ``evolve``; None before it existed. No access check: the caller's."""
    until = events_until(events, moment)
    return ClaimRow.of(row_of(fold(until))) if until else None


STUCK_AFTER = timedelta(seconds=300)
"""The mailer's retry window by default (``LEDGER_MAIL_RETRY_SECONDS``)."""


def like_literal(text: str) -> str:
    """``text`` for a LIKE pattern, matching itself: its ``%``, ``_`` and ``\\`` escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ClaimQueries:
    def __init__(
        self,
        store: ViewStore,
        catalog: Catalog,
        clock: Clock = utc_now,
        stuck_after: timedelta = STUCK_AFTER,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.clock = clock
        self.stuck_after = stuck_after
        """A consent e-mail taken for sending longer ago than this is stuck (the mailer's
        retry window); a younger one is still on its way."""

    def _stuck_before(self) -> str:
        return ts(self.clock() - self.stuck_after)

    def _row(self, tx: Tx, principal: Principal, claim_id: UUID, purpose: Purpose) -> ClaimRow:
        found = tx.one("SELECT * FROM {p}claims WHERE claim_id = ?", (str(claim_id),))
        if found is None:
            raise NotFoundError("claim-not-found", params={"claim": claim_id})
        row = ClaimRow.of(found)
        access.authorize_claim(principal, row.claim_id, row.partner_id, row.location_id, purpose)
        return row

    def folded(
        self,
        principal: Principal,
        events: Sequence[Claim.Event],
        delivered_by: datetime | None = None,
    ) -> ClaimRow:
        """``shown`` for the claim after ``events`` (its first ones, from the write model),
        folded with the aggregate's ``evolve``: the aggregate at that version."""
        return self.shown(principal, fold(events), delivered_by)

    def shown(
        self, principal: Principal, facts: ClaimFacts, delivered_by: datetime | None = None
    ) -> ClaimRow:
        """A claim as ``details`` shows it once the views include the events that made these
        ``facts`` (an aggregate's): a command's answer, without waiting for the views.
        With ``delivered_by``, a consent e-mail counts as delivered only if it was by then."""
        row = replace(ClaimRow.of(row_of(facts)), proof=facts.proof)
        access.authorize_claim(
            principal, row.claim_id, row.partner_id, row.location_id, Purpose.READ
        )
        if facts.last_link_id is None:
            return row
        with self.store.transaction() as tx:
            delivery = tx.one(
                "SELECT channel, delivered_at FROM mail_deliveries WHERE email_id = ?",
                (email_id(facts.last_link_id),),
            )
        if delivery and delivered_by and parse_ts(delivery["delivered_at"]) > delivered_by:
            delivery = None
        waiting = row.state is ClaimState.AWAITING_CONSENT
        superseded = 0 if waiting or delivery is not None else 1
        email = {
            "superseded": superseded,
            "channel": delivery and delivery["channel"],
            "delivered_at": delivery and delivery["delivered_at"],
        }
        return replace(row, consent_email=status(email, self._stuck_before()))

    def as_of(
        self, principal: Principal, events: Sequence[Claim.Event], moment: datetime
    ) -> ClaimRow:
        """The claim as it stood at ``moment``, as ``details`` would have shown it then:
        folded from ``events`` (all of the claim's, from the write model) up to ``moment``,
        with the same access rules; not found before the claim existed."""
        created = events[0]
        assert isinstance(created, Claim.Created), "a claim's events start with it"
        access.authorize_claim(
            principal, created.originator_id, created.partner_id, created.location_id, Purpose.READ
        )
        until = events_until(events, moment)
        if not until:
            raise NotFoundError(
                "claim-not-found",
                words=Words("claim-not-yet", params={"claim": created.originator_id, "at": moment}),
            )
        return self.folded(principal, until, delivered_by=moment)

    def details(self, principal: Principal, claim_id: UUID) -> ClaimRow:
        """A claim as its partner, a reviewer or an auditor may see it, with its proof."""
        with self.store.transaction() as tx:
            row = self._row(tx, principal, claim_id, Purpose.READ)
            latest = tx.one(
                "SELECT o.superseded, d.channel, d.delivered_at FROM {p}outbox o "
                "LEFT JOIN mail_deliveries d ON d.email_id = o.email_id WHERE o.claim_id = ? "
                "AND o.kind IN (?, ?) ORDER BY o.created_at DESC, o.email_id DESC LIMIT 1",
                (str(claim_id), *CONSENT_KINDS),
            )
            if latest is not None:
                row = replace(row, consent_email=status(latest, self._stuck_before()))
            return self._with_proof(tx, [row])[0]

    @staticmethod
    def _with_proof(tx: Tx, rows: list[ClaimRow]) -> list[ClaimRow]:
        """The rows with the proof of each one's latest submission, from the history view."""
        submitted = [str(r.claim_id) for r in rows if r.submissions]
        if not submitted:
            return rows
        marks = ", ".join("?" for _ in submitted)
        latest: dict[str, str] = {}
        for h in tx.rows(
            f"SELECT claim_id, data FROM {{p}}history WHERE event = 'Submitted' "
            f"AND claim_id IN ({marks}) ORDER BY version",
            submitted,
        ):
            latest[h["claim_id"]] = h["data"]
        return [
            replace(r, proof=_proof(latest[str(r.claim_id)])) if str(r.claim_id) in latest else r
            for r in rows
        ]

    def search(
        self, principal: Principal, where: ClaimFilter, cursor: str | None = None, limit: int = 50
    ) -> Page[ClaimRow]:
        """The partner's claims (an auditor's: every partner's, or the one named), filtered
        and sorted, with a keyset cursor."""
        sql, args = list_scope(principal, where.partner_id)
        if where.engagement_id:
            sql, args = sql + " AND engagement_id = ?", [*args, where.engagement_id]
        if where.state:
            sql, args = sql + " AND state = ?", [*args, where.state]
        if where.customer:
            needle = f"%{like_literal(where.customer.lower())}%"
            sql += " AND (LOWER(customer_name) LIKE ? ESCAPE '\\'"
            sql += " OR LOWER(friendly_name) LIKE ? ESCAPE '\\'"
            sql += " OR customer_value LIKE ? ESCAPE '\\')"
            args += [needle, needle, needle]
        key, op = where.key, "<" if where.descending else ">"
        after = keyset_of(cursor)
        if after is not None:
            sql += f" AND ({key} {op} ? OR ({key} = ? AND claim_id {op} ?))"
            args += [after[0], after[0], after[1]]
        order = "DESC" if where.descending else "ASC"
        sql += f" ORDER BY {key} {order}, claim_id {order} LIMIT ?"
        with self.store.transaction() as tx:
            rows = tx.rows(sql, [*args, limit + 1])
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = keyset_cursor(rows[-1][key], rows[-1]["claim_id"]) if more else None
        return Page([ClaimRow.of(r) for r in rows], next_cursor)

    def every(self, principal: Principal, where: ClaimFilter) -> Iterator[ClaimRow]:
        """Every claim the list would show, page after page (for exports)."""
        cursor: str | None = None
        while True:
            page = self.search(principal, where, cursor, 500)
            yield from page.items
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def history(self, principal: Principal, claim_id: UUID) -> list[HistoryRow]:
        """Every event of the claim, in order, with time and actor: the audit trail."""
        with self.store.transaction() as tx:
            self._row(tx, principal, claim_id, Purpose.HISTORY)
            rows = tx.rows(
                "SELECT * FROM {p}history WHERE claim_id = ? ORDER BY version", (str(claim_id),)
            )
        return [
            HistoryRow(
                version=r["version"],
                event=r["event"],
                occurred_at=parse_ts(r["occurred_at"]),
                actor=json.loads(r["actor"]),
                data=json.loads(r["data"]),
            )
            for r in rows
        ]

    def review_queue(
        self, principal: Principal, cursor: str | None = None, limit: int = 50
    ) -> Page[ClaimRow]:
        """Claims waiting for a reviewer: submitted (oldest first), then under review."""
        principal.require_role(Role.REVIEWER)
        with self.store.transaction() as tx:
            page = sql_page(
                tx,
                "SELECT * FROM {p}claims WHERE state IN ('submitted', 'under_review') "
                "ORDER BY state DESC, updated_at, claim_id",
                [],
                cursor,
                limit,
            )
            rows = self._with_proof(tx, [ClaimRow.of(r) for r in page.items])
        return Page(rows, page.next_cursor)
