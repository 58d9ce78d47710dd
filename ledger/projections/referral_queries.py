"""Queries of the referrals view: for a partner's referral admins (R41) and sellers (R42)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger.domain.customer_ids import CustomerId, IdType
from ledger.domain.errors import NotFoundError
from ledger.domain.principal import Principal, Role
from ledger.projections.base import parse_ts
from ledger.projections.pages import Page, sql_page
from ledger.projections.store import ViewStore


@dataclass(frozen=True)
class ReferralRow:
    referral_id: UUID
    claim_id: UUID
    partner_id: str
    engagement_id: str
    customer_name: str
    customer_id: CustomerId
    tenant_id: str
    status: str
    substatus: str
    type: str
    qualification: str
    deal_value_usd: Decimal
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> ReferralRow:
        return cls(
            referral_id=UUID(row["referral_id"]),
            claim_id=UUID(row["claim_id"]),
            partner_id=row["partner_id"],
            engagement_id=row["engagement_id"],
            customer_name=row["customer_name"],
            customer_id=CustomerId.model_construct(
                type=IdType(row["customer_type"]), value=row["customer_value"]
            ),
            tenant_id=row["tenant_id"],
            status=row["status"],
            substatus=row["substatus"],
            type=row["type"],
            qualification=row["qualification"],
            deal_value_usd=Decimal(row["deal_value_usd"]),
            created_at=parse_ts(row["created_at"]),
            updated_at=parse_ts(row["updated_at"]),
        )


class ReferralQueries:
    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def referral(self, principal: Principal, referral_id: UUID) -> ReferralRow:
        """A referral, for its partner's referral admins only (R41)."""
        principal.require_role(Role.REFERRAL_ADMIN)
        with self.store.transaction() as tx:
            row = tx.one("SELECT * FROM {p}referrals WHERE referral_id = ?", (str(referral_id),))
        if row is None or row["partner_id"] != principal.partner_id:
            raise NotFoundError("referral-not-found", params={"referral": referral_id})
        return ReferralRow.of(row)

    def search(
        self,
        principal: Principal,
        status: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page[ReferralRow]:
        """The partner's referrals, newest first, for its referral admins (R41)."""
        principal.require_role(Role.REFERRAL_ADMIN)
        sql, args = "SELECT * FROM {p}referrals WHERE partner_id = ?", [principal.partner_id]
        if status is not None:
            sql, args = sql + " AND status = ?", [*args, status]
        with self.store.transaction() as tx:
            page = sql_page(tx, sql + " ORDER BY created_at DESC, referral_id", args, cursor, limit)
        return Page([ReferralRow.of(r) for r in page.items], page.next_cursor)

    def co_sell(self, principal: Principal) -> list[ReferralRow]:
        """Co-sell referrals, for sellers (R42)."""
        principal.require_role(Role.SELLER)
        with self.store.transaction() as tx:
            rows = tx.rows(
                "SELECT * FROM {p}referrals WHERE type = 'shared' ORDER BY updated_at DESC"
            )
        return [ReferralRow.of(r) for r in rows]
