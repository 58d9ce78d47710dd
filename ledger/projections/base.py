"""Batch projections: many events folded in memory, written in one transaction."""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.projection import Projection

from ledger.domain.catalog import Catalog
from ledger.projections.store import Tx, ViewStore


def ts(moment: datetime) -> str:
    """A fixed-width UTC text time: sorts as it should in SQLite and PostgreSQL alike, its
    year always four digits (``strftime`` writes the year 999 as ``999``, which would sort
    after 2026)."""
    moment = moment.astimezone(UTC)
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S.%f}Z"


def parse_ts(text: str) -> datetime:
    """The time ``ts`` wrote (``fromisoformat``: some fifty times faster than ``strptime``)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


class BatchProjection(Projection[TrackingRecorder]):
    """A read model updated a page of events at a time; the runner tracks the position.

    Its ``view`` is the store's tracking recorder, as the library expects of a projection.
    """

    def __init__(self, store: ViewStore, catalog: Catalog) -> None:
        super().__init__(store.recorder)
        self.store = store
        self.catalog = catalog
        """The catalog the views that depend on it follow (the kept Customers tabs)."""

    @abstractmethod
    def process_batch(self, tx: Tx, events: Sequence[Any]) -> None:
        """Fold ``events`` (in log order) into the view, within the runner's transaction."""

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """One event in its own transaction (the library's interface; the runner batches)."""
        with self.store.transaction(commit=True) as tx:
            self.process_batch(tx, [domain_event])
            tx.track(tracking.application_name, tracking.notification_id)
