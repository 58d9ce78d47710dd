"""What each ``ledger verify`` found, kept beside the views (a replay never rebuilds it): when
it ran, how many events it checked, and whether all matched; the audit page shows the last."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ledger.audit.tamper import Verification
from ledger.projections.base import parse_ts, ts
from ledger.projections.store import ViewStore


@dataclass(frozen=True)
class Verified:
    """One verification's outcome: ``ok`` when every hash and digest matched."""

    verified_at: datetime
    events: int
    aggregates: int
    ok: bool
    findings: int
    digest_at: int
    digest: str


class Verifications:
    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def record(self, result: Verification, now: datetime) -> Verified:
        """Keep what a verification found, at ``now``."""
        verified = Verified(
            verified_at=now,
            events=result.events,
            aggregates=result.aggregates,
            ok=result.ok,
            findings=len(result.findings) + result.unlisted,
            digest_at=result.digest.at,
            digest=result.digest.digest.hex(),
        )
        with self.store.transaction(commit=True) as tx:
            tx.execute(
                "INSERT INTO verifications (verified_at, events, aggregates, ok, findings, "
                "digest_at, digest) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    ts(now),
                    verified.events,
                    verified.aggregates,
                    int(verified.ok),
                    verified.findings,
                    verified.digest_at,
                    verified.digest,
                ),
            )
        return verified

    def last(self) -> Verified | None:
        """The latest verification, if any ran."""
        with self.store.transaction() as tx:
            row = tx.one("SELECT * FROM verifications ORDER BY verified_at DESC LIMIT 1", ())
        if row is None:
            return None
        return Verified(
            verified_at=parse_ts(row["verified_at"]),
            events=int(row["events"]),
            aggregates=int(row["aggregates"]),
            ok=bool(row["ok"]),
            findings=int(row["findings"]),
            digest_at=int(row["digest_at"]),
            digest=str(row["digest"]),
        )
