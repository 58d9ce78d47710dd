"""The Customers page of an engagement: the Eligible, Ineligible and Completed
tabs of one partner, from the claims view, the known customers and the current catalog.

Eligibility of a known customer is decided at query time from the live-or-approved counts of
the claims view and the current catalog, so that a catalog change shows without a replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ledger import access
from ledger.catalog import Catalog, Engagement
from ledger.customer_ids import CustomerId, IdType
from ledger.eligibility import assess, resolve
from ledger.errors import LedgerError
from ledger.principal import Principal
from ledger.projections.claim_queries import ClaimRow, location_clause
from ledger.projections.pages import next_offset, offset_of, offset_page, sql_page
from ledger.projections.store import Tx, ViewStore

Tab = Literal["eligible", "ineligible", "completed"]


@dataclass(frozen=True)
class KnownCustomerEntry:
    """A customer known to the partner (R15), eligible for the engagement or not (R9, R10)."""

    friendly_name: str
    customer_id: CustomerId
    eligible: bool
    reasons: tuple[str, ...] = ()
    rule: str | None = None
    hint: str | None = None


TabItem = ClaimRow | KnownCustomerEntry


@dataclass(frozen=True)
class CustomersTab:
    items: list[TabItem]
    next_cursor: str | None = None
    msx_only: bool = False
    """The engagement accepts only MSX opportunity ids: no customer is listed as ineligible."""


class CustomersPage:
    def __init__(self, store: ViewStore, catalog: Catalog) -> None:
        self.store = store
        self.catalog = catalog

    def tab(
        self,
        principal: Principal,
        engagement_id: str,
        tab: Tab,
        cursor: str | None = None,
        limit: int = 50,
    ) -> CustomersTab:
        partner_id = principal.require_partner_role()
        engagement = access.engagement(self.catalog, engagement_id)
        where, params = location_clause(principal)
        scope = "partner_id = ? AND engagement_id = ?" + where
        args = [partner_id, engagement.id, *params]
        offset_of(cursor)  # a bad cursor is refused on every tab
        if tab == "ineligible" and engagement.accepts_only_msx:
            return CustomersTab([], None, msx_only=True)
        with self.store.transaction() as tx:
            if tab == "completed":
                page = sql_page(
                    tx,
                    f"SELECT * FROM {{p}}claims WHERE {scope} AND live = 0 AND had_consent = 1 "
                    "ORDER BY updated_at DESC, claim_id",
                    args,
                    cursor,
                    limit,
                )
                return CustomersTab([ClaimRow.of(r) for r in page.items], page.next_cursor)
            if tab == "ineligible":
                _, ineligible = self._known_customers(tx, partner_id, engagement)
                paged = offset_page(ineligible, cursor, limit)
                return CustomersTab(list(paged.items), paged.next_cursor)
            return self._eligible(tx, scope, args, partner_id, engagement, cursor, limit)

    def _eligible(
        self,
        tx: Tx,
        scope: str,
        args: list[Any],
        partner_id: str,
        engagement: Engagement,
        cursor: str | None,
        limit: int,
    ) -> CustomersTab:
        """The live claims first (nearest deadline first), then the claimable customers."""
        offset = offset_of(cursor)
        counted = tx.one(f"SELECT COUNT(*) AS n FROM {{p}}claims WHERE {scope} AND live = 1", args)
        live_count = int(counted["n"]) if counted else 0
        claims: list[TabItem] = [
            ClaimRow.of(r)
            for r in tx.rows(
                f"SELECT * FROM {{p}}claims WHERE {scope} AND live = 1 "
                "ORDER BY running_deadline, claim_id LIMIT ? OFFSET ?",
                [*args, limit, offset],
            )
        ]
        eligible: list[KnownCustomerEntry] = []
        if len(claims) < limit:
            eligible, _ = self._known_customers(tx, partner_id, engagement)
        start = max(0, offset - live_count)
        items = claims + list(eligible[start : start + limit - len(claims)])
        more = offset + limit < live_count + len(eligible)
        return CustomersTab(items, next_offset(offset, limit, more))

    def _known_customers(
        self, tx: Tx, partner_id: str, engagement: Engagement
    ) -> tuple[list[KnownCustomerEntry], list[KnownCustomerEntry]]:
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
        entries = [
            self._assess(engagement, r, held)
            for r in known
            if (r["customer_type"], r["customer_value"]) not in busy  # shown as its live claim
        ]
        return [e for e in entries if e.eligible], [e for e in entries if not e.eligible]

    def _assess(
        self, engagement: Engagement, row: dict[str, Any], held: dict[str, int]
    ) -> KnownCustomerEntry:
        customer_id = CustomerId.model_construct(
            type=IdType(row["customer_type"]), value=row["customer_value"]
        )
        name = row["friendly_name"]
        try:
            resolution = resolve(self.catalog, customer_id)
        except LedgerError as refusal:
            return KnownCustomerEntry(name, customer_id, False, (refusal.slug,), refusal.rule)
        verdict = assess(engagement, resolution, held.get(resolution.subject.key, 0))
        return KnownCustomerEntry(
            name, customer_id, verdict.eligible, verdict.reasons, verdict.rule, verdict.hint
        )
