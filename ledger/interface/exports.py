"""Exports both the API and the page offer: the claim list as CSV, a claim's history as JSON
Lines."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from ledger.aggregates.values import usd_text
from ledger.projections.base import ts
from ledger.projections.claim_queries import ClaimRow, HistoryRow
from ledger.service.csv_cells import csv_text

CSV_COLUMNS = [
    "claim_id", "engagement_id", "friendly_name", "customer_name", "customer_type",
    "customer_value", "state", "label", "origin", "partner_id", "location_id", "created_at",
    "updated_at", "running_deadline", "deal_size_usd", "payout_usd", "referral_id",
]  # fmt: skip
"""``friendly_name`` names the claim; ``customer_name`` is the directory's name of the
customer's tenant (empty when the claim recorded none: the customer id names it)."""


def claims_csv(rows: Iterable[ClaimRow]) -> str:
    """The claim list as CSV, one row per claim, the columns of ``CSV_COLUMNS``."""
    return csv_text(CSV_COLUMNS, (_csv_row(row) for row in rows))


JSONL = "application/jsonl"


def history_jsonl(rows: Iterable[HistoryRow]) -> str:
    """A claim's history as JSON Lines: one object per event, in order, with the fields
    ``ledger history --json`` prints (version, event, occurred_at, actor, data)."""
    return "".join(
        json.dumps(
            {
                "version": row.version,
                "event": row.event,
                "occurred_at": row.occurred_at.isoformat(),
                "actor": row.actor,
                "data": row.data,
            }
        )
        + "\n"
        for row in rows
    )


def _csv_row(row: ClaimRow) -> list[object]:
    return [
        row.claim_id, row.engagement_id, row.friendly_name, row.customer_name or "",
        row.customer_id.type.value, row.customer_id.value, row.state.value, row.state.label,
        row.origin, row.partner_id,
        row.location_id, ts(row.created_at), ts(row.updated_at),
        _text(row.running_deadline), _money(row.deal_size_usd), _money(row.payout_usd),
        row.referral_id or "",
    ]  # fmt: skip


def _text(moment: datetime | None) -> str:
    return "" if moment is None else ts(moment)


def _money(amount: Decimal | None) -> str:
    return "" if amount is None else usd_text(amount)
