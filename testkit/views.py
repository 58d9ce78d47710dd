"""The moment the tests and benchmarks start at, and every view's rows as a snapshot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ledger.projections.store import VIEW_TABLES
from ledger.runtime.workers import Workers

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def view_snapshot(workers: Workers) -> dict[str, list[dict[str, Any]]]:
    """Every view table of the active generation, row for row."""
    with workers.store.transaction() as tx:
        return {name: tx.rows(f"SELECT * FROM {{p}}{name} ORDER BY 1, 2") for name in VIEW_TABLES}
