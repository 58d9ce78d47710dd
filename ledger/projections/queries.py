"""Queries of the read models, scoped to the principal: the Customers page and the rest.

Eligibility on the Customers page is decided at query time from the known customers, the
live-or-approved counts of the claims view and the current catalog, so that a catalog change
shows without a replay.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from ledger.aggregates.claim import ClaimState, partner_action_labels
from ledger.catalog import Catalog, Engagement
from ledger.customer_ids import CustomerId, IdType
from ledger.eligibility import assess, resolve
from ledger.errors import ForbiddenError, InvalidInputError, LedgerError, NotFoundError
from ledger.principal import Principal, Role
from ledger.projections.base import parse_ts
from ledger.projections.store import Tx, ViewStore

Tab = Literal["eligible", "ineligible", "completed"]
MSX_ONLY_NOTE = (
    "This engagement accepts only MSX opportunity ids: eligibility is decided per "
    "opportunity when a claim is made, so no customer is listed as ineligible."
)
SORTS = {"created_at", "updated_at", "state", "engagement_id", "friendly_name"}
CSV_COLUMNS = [
    "claim_id", "engagement_id", "friendly_name", "customer_type", "customer_value", "state",
    "label", "origin", "location_id", "created_at", "updated_at", "running_deadline",
    "deal_size_usd", "payout_usd", "referral_id",
]  # fmt: skip


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None = None
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _encode_cursor(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(data, dict):
            raise ValueError(cursor)
        return data
    except ValueError:
        raise InvalidInputError(
            "invalid-cursor", "the cursor is not one we gave", field="cursor"
        ) from None


def _bad_cursor() -> InvalidInputError:
    return InvalidInputError("invalid-cursor", "the cursor is not one we gave", field="cursor")


def _offset(cursor: str | None) -> int:
    data = _decode_cursor(cursor)
    offset = data.get("offset", 0)
    if not (type(offset) is int and offset >= 0 and set(data) <= {"offset"}):
        raise _bad_cursor()
    return int(offset)


def _keyset(cursor: str | None) -> tuple[Any, str] | None:
    after = _decode_cursor(cursor)
    if not after:
        return None
    value, claim_id = after.get("v"), after.get("id")
    if not isinstance(value, str | int) or not isinstance(claim_id, str):
        raise _bad_cursor()
    return value, claim_id


def _offset_page(items: list[dict[str, Any]], cursor: str | None, limit: int) -> Page:
    offset = _offset(cursor)
    page = items[offset : offset + limit]
    more = offset + limit < len(items)
    return Page(page, _encode_cursor({"offset": offset + limit}) if more else None)


def _sql_page(
    tx: Tx, sql: str, args: list[Any], cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of an ordered query, read with LIMIT and OFFSET, and the next page's cursor."""
    offset = _offset(cursor)
    rows = tx.rows(sql + " LIMIT ? OFFSET ?", [*args, limit + 1, offset])
    more = len(rows) > limit
    return rows[:limit], _encode_cursor({"offset": offset + limit}) if more else None


def days_left(deadline: str | None, now: datetime) -> int | None:
    if deadline is None:
        return None
    return max(0, math.ceil((parse_ts(deadline) - now).total_seconds() / 86400))


def claim_summary(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    state = ClaimState(row["state"])
    return {
        "claim_id": row["claim_id"],
        "engagement_id": row["engagement_id"],
        "friendly_name": row["friendly_name"],
        "customer_id": {"type": row["customer_type"], "value": row["customer_value"]},
        "location_id": row["location_id"],
        "origin": row["origin"],
        "state": state.value,
        "label": state.label,
        "terminal": state.terminal,
        "actions": list(partner_action_labels(state)),
        "running_deadline": row["running_deadline"],
        "running_deadline_kind": row["running_deadline_kind"],
        "days_left": days_left(row["running_deadline"], now) if not state.terminal else None,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "version": row["version"],
    }


class ReadModels:
    def __init__(self, store: ViewStore, catalog: Catalog) -> None:
        self.store = store
        self.catalog = catalog

    # -- scoping -----------------------------------------------------------------------

    @staticmethod
    def _location_filter(principal: Principal) -> tuple[str, list[Any]]:
        if Role.INCENTIVES_ADMIN in principal.roles:
            return "", []
        locations = sorted(principal.locations)
        marks = ", ".join("?" for _ in locations) or "NULL"
        return f" AND location_id IN ({marks})", locations

    def _engagement(self, engagement_id: str) -> Engagement:
        engagement = self.catalog.engagement(engagement_id)
        if engagement is None:
            raise NotFoundError("engagement-not-found", f"no engagement {engagement_id}")
        return engagement

    def _partner_claim_row(self, tx: Tx, principal: Principal, claim_id: UUID) -> dict[str, Any]:
        partner_id = principal.require_partner_role()
        row = tx.one("SELECT * FROM {p}claims WHERE claim_id = ?", (str(claim_id),))
        if row is None or row["partner_id"] != partner_id:
            raise NotFoundError("claim-not-found", f"no claim {claim_id}")
        if not principal.may_use_location(row["location_id"]):
            raise ForbiddenError(
                "location-not-allowed",
                f"you may not act for location {row['location_id']}",
                rule="R1",
            )
        return row

    # -- the Customers page (SPEC section 5) ---------------------------------------------

    def customers_tab(
        self,
        principal: Principal,
        engagement_id: str,
        tab: Tab,
        now: datetime,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page:
        partner_id = principal.require_partner_role()
        engagement = self._engagement(engagement_id)
        where, params = self._location_filter(principal)
        offset = _offset(cursor)
        scope = "partner_id = ? AND engagement_id = ?" + where
        args = [partner_id, engagement.id, *params]
        if tab == "ineligible" and engagement.accepts_only_msx:
            return Page([], None, MSX_ONLY_NOTE)
        with self.store.transaction() as tx:
            if tab == "completed":
                rows, next_cursor = _sql_page(
                    tx,
                    f"SELECT * FROM {{p}}claims WHERE {scope} AND live = 0 AND had_consent = 1 "
                    "ORDER BY updated_at DESC, claim_id",
                    args,
                    cursor,
                    limit,
                )
                items = [
                    {**claim_summary(r, now), "kind": "claim", "payout_usd": r["payout_usd"]}
                    for r in rows
                ]
                return Page(items, next_cursor)
            live_count = 0
            claims: list[dict[str, Any]] = []
            if tab == "eligible":
                counted = tx.one(
                    f"SELECT COUNT(*) AS n FROM {{p}}claims WHERE {scope} AND live = 1", args
                )
                live_count = int(counted["n"]) if counted else 0
                claims = [
                    {**claim_summary(r, now), "kind": "claim"}
                    for r in tx.rows(
                        f"SELECT * FROM {{p}}claims WHERE {scope} AND live = 1 "
                        "ORDER BY running_deadline, claim_id LIMIT ? OFFSET ?",
                        [*args, limit, offset],
                    )
                ]
            eligible: list[dict[str, Any]] = []
            ineligible: list[dict[str, Any]] = []
            if len(claims) < limit:
                eligible, ineligible = self._known_customers(tx, partner_id, engagement)
        if tab == "ineligible":
            return _offset_page(ineligible, cursor, limit)
        start = max(0, offset - live_count)
        items = claims + eligible[start : start + limit - len(claims)]
        more = offset + limit < live_count + len(eligible)
        return Page(items, _encode_cursor({"offset": offset + limit}) if more else None)

    def _known_customers(
        self, tx: Tx, partner_id: str, engagement: Engagement
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The partner's known customers without a live claim here: eligible, and not."""
        known = tx.rows(
            "SELECT * FROM {p}known_customers WHERE partner_id = ? "
            "ORDER BY friendly_name, customer_type, customer_value",
            [partner_id],
        )
        if not known:
            return [], []
        held = {
            r["eligibility_key"]: r["n"]
            for r in tx.rows(
                "SELECT eligibility_key, COUNT(*) AS n FROM {p}claims WHERE engagement_id = ? "
                "AND (live = 1 OR state = 'approved') GROUP BY eligibility_key",
                [engagement.id],
            )
        }
        busy = {
            (r["customer_type"], r["customer_value"])
            for r in tx.rows(
                "SELECT customer_type, customer_value FROM {p}claims WHERE partner_id = ? "
                "AND engagement_id = ? AND live = 1",
                [partner_id, engagement.id],
            )
        }
        return self._split_known(engagement, known, held, busy)

    def _split_known(
        self,
        engagement: Engagement,
        known: list[dict[str, Any]],
        held: dict[str, int],
        busy: set[tuple[str, str]],
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        eligible, ineligible = [], []
        for row in known:
            if (row["customer_type"], row["customer_value"]) in busy:
                continue  # shown as its live claim
            customer_id = CustomerId(type=IdType(row["customer_type"]), value=row["customer_value"])
            item = {
                "kind": "customer",
                "friendly_name": row["friendly_name"],
                "customer_id": {"type": customer_id.type.value, "value": customer_id.value},
            }
            try:
                resolution = resolve(self.catalog, customer_id)
            except LedgerError as refusal:
                ineligible.append(
                    {**item, "reasons": [refusal.slug], "rule": refusal.rule, "hint": None}
                )
                continue
            verdict = assess(engagement, resolution, held.get(resolution.subject.key, 0))
            if verdict.eligible:
                eligible.append({**item, "actions": ["Claim customer"]})
            else:
                ineligible.append(
                    {
                        **item,
                        "reasons": list(verdict.reasons),
                        "rule": verdict.rule,
                        "hint": verdict.hint,
                    }
                )
        return eligible, ineligible

    # -- claims ------------------------------------------------------------------------

    def claim_details(self, principal: Principal, claim_id: UUID, now: datetime) -> dict[str, Any]:
        with self.store.transaction() as tx:
            if principal.roles & {Role.REVIEWER, Role.AUDITOR}:
                row = tx.one("SELECT * FROM {p}claims WHERE claim_id = ?", (str(claim_id),))
                if row is None:
                    raise NotFoundError("claim-not-found", f"no claim {claim_id}")
            else:
                row = self._partner_claim_row(tx, principal, claim_id)
        state = ClaimState(row["state"])
        may_open_referral = Role.REFERRAL_ADMIN in principal.roles
        return {
            **claim_summary(row, now),
            "partner_id": row["partner_id"],
            "resolved_tenant_id": row["resolved_tenant_id"],
            "deadlines": json.loads(row["deadlines"]),
            "contacts": json.loads(row["contacts"]),
            "deal_size_usd": row["deal_size_usd"],
            "payout_model": row["payout_model"],
            "fixed_payout_usd": row["fixed_payout_usd"],
            "hours": row["hours"],
            "proposed_payout_usd": row["proposed_payout_usd"],
            "payout_usd": row["payout_usd"],
            "had_consent": bool(row["had_consent"]),
            "disputed": bool(row["disputed"]),
            "submissions": row["submissions"],
            "last_reason": row["last_reason"],
            "referral": None
            if row["referral_id"] is None
            else {
                "referral_id": row["referral_id"],
                "link": f"/v1/referrals/{row['referral_id']}",
                "co_sell": bool(row["co_sell"]),
                "may_open": may_open_referral,
            },
            "terminal": state.terminal,
        }

    def claim_list(
        self,
        principal: Principal,
        now: datetime,
        *,
        engagement_id: str | None = None,
        state: str | None = None,
        customer: str | None = None,
        sort: str = "-created_at",
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page:
        """The partner's claims, filtered and sorted, with a keyset cursor."""
        rows, next_cursor = self._claim_rows(
            principal, engagement_id, state, customer, sort, cursor, limit
        )
        return Page([claim_summary(r, now) for r in rows], next_cursor)

    def claim_list_csv(
        self,
        principal: Principal,
        *,
        engagement_id: str | None = None,
        state: str | None = None,
        customer: str | None = None,
        sort: str = "-created_at",
    ) -> str:
        """The same claims as the list, every page of them, as CSV."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        cursor: str | None = None
        while True:
            rows, cursor = self._claim_rows(
                principal, engagement_id, state, customer, sort, cursor, 500
            )
            writer.writerows({**r, "label": ClaimState(r["state"]).label} for r in rows)
            if cursor is None:
                return out.getvalue()

    def _claim_rows(
        self,
        principal: Principal,
        engagement_id: str | None,
        state: str | None,
        customer: str | None,
        sort: str,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[dict[str, Any]], str | None]:
        partner_id = principal.require_partner_role()
        descending = sort.startswith("-")
        key = sort.lstrip("-")
        if key not in SORTS:
            raise InvalidInputError(
                "invalid-sort", f"sort by one of {', '.join(sorted(SORTS))}", field="sort"
            )
        if state is not None and state not in {s.value for s in ClaimState}:
            raise InvalidInputError("invalid-state", f"no state {state!r}", field="state")
        where, params = self._location_filter(principal)
        sql = "SELECT * FROM {p}claims WHERE partner_id = ?" + where
        args: list[Any] = [partner_id, *params]
        if engagement_id:
            sql, args = sql + " AND engagement_id = ?", [*args, engagement_id]
        if state:
            sql, args = sql + " AND state = ?", [*args, state]
        if customer:
            needle = f"%{customer.lower()}%"
            sql += " AND (LOWER(friendly_name) LIKE ? OR customer_value LIKE ?)"
            args += [needle, needle]
        after = _keyset(cursor)
        if after is not None:
            op = "<" if descending else ">"
            sql += f" AND ({key} {op} ? OR ({key} = ? AND claim_id {op} ?))"
            args += [after[0], after[0], after[1]]
        order = "DESC" if descending else "ASC"
        sql += f" ORDER BY {key} {order}, claim_id {order} LIMIT ?"
        args.append(limit + 1)
        with self.store.transaction() as tx:
            rows = tx.rows(sql, args)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = (
            _encode_cursor({"v": rows[-1][key], "id": rows[-1]["claim_id"]}) if more else None
        )
        return rows, next_cursor

    def history(self, principal: Principal, claim_id: UUID) -> list[dict[str, Any]]:
        """Every event of the claim, in order, with time and actor: the audit trail."""
        with self.store.transaction() as tx:
            if Role.AUDITOR not in principal.roles:
                self._partner_claim_row(tx, principal, claim_id)
            rows = tx.rows(
                "SELECT * FROM {p}history WHERE claim_id = ? ORDER BY version", (str(claim_id),)
            )
        if not rows:
            raise NotFoundError("claim-not-found", f"no claim {claim_id}")
        return [
            {
                "version": r["version"],
                "event": r["event"],
                "occurred_at": r["occurred_at"],
                "actor": json.loads(r["actor"]),
                "data": json.loads(r["data"]),
            }
            for r in rows
        ]

    def review_queue(
        self, principal: Principal, now: datetime, cursor: str | None = None, limit: int = 50
    ) -> Page:
        """Claims waiting for a reviewer: submitted (oldest first), then under review."""
        principal.require_role(Role.REVIEWER)
        with self.store.transaction() as tx:
            rows, next_cursor = _sql_page(
                tx,
                "SELECT * FROM {p}claims WHERE state IN ('submitted', 'under_review') "
                "ORDER BY state DESC, updated_at, claim_id",
                [],
                cursor,
                limit,
            )
        items = [{**claim_summary(r, now), "partner_id": r["partner_id"]} for r in rows]
        return Page(items, next_cursor)

    # -- referrals and mail ------------------------------------------------------------

    def referral(self, principal: Principal, referral_id: UUID) -> dict[str, Any]:
        """A referral, for its partner's referral admins only (R41)."""
        principal.require_role(Role.REFERRAL_ADMIN)
        with self.store.transaction() as tx:
            row = tx.one("SELECT * FROM {p}referrals WHERE referral_id = ?", (str(referral_id),))
        if row is None or row["partner_id"] != principal.partner_id:
            raise NotFoundError("referral-not-found", f"no referral {referral_id}")
        return row

    def co_sell_referrals(self, principal: Principal) -> list[dict[str, Any]]:
        """Co-sell referrals, for sellers (R42)."""
        principal.require_role(Role.SELLER)
        with self.store.transaction() as tx:
            return tx.rows(
                "SELECT * FROM {p}referrals WHERE type = 'shared' ORDER BY updated_at DESC"
            )

    def outbox(self, claim_id: UUID | None = None) -> list[dict[str, Any]]:
        """The consent e-mails, newest last, with their delivery."""
        sql = (
            "SELECT o.*, d.channel, d.delivered_at FROM {p}outbox o "
            "LEFT JOIN mail_deliveries d ON d.email_id = o.email_id"
        )
        args: list[Any] = []
        if claim_id is not None:
            sql, args = sql + " WHERE o.claim_id = ?", [str(claim_id)]
        with self.store.transaction() as tx:
            return tx.rows(sql + " ORDER BY o.created_at, o.email_id", args)
