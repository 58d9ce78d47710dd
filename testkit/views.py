"""The moment the tests and benchmarks start at, and every view's rows as a snapshot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ledger.projections.store import VIEW_TABLES, columns
from ledger.runtime.workers import Workers

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def view_snapshot(workers: Workers) -> dict[str, list[dict[str, Any]]]:
    """Every view table of the active generation, row for row."""
    with workers.store.transaction() as tx:
        return {
            name: tx.rows(f"SELECT * FROM {{p}}{name} ORDER BY {_every_column(name)}")
            for name in VIEW_TABLES
        }


def _every_column(table: str) -> str:
    """An order by every column of the table: one order of its rows on every store."""
    return ", ".join(str(n) for n in range(1, len(columns(table)) + 1))
