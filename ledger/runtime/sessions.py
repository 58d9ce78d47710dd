"""The web page's sign-ins, kept in the database beside the views.

A browser holds a random session id, never the bearer token it signed in with; the table keeps
a digest of that id (a copy of the table signs nobody in), who it is and until when. Signing out
deletes the row, so a cookie copied before the sign-out is worth nothing after it, in every
process that serves the page. Failed sign-ins are counted per client address, so that a client
guessing tokens is slowed down (``SignIns.locked_for``).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from ledger.domain.principal import Principal, Role
from ledger.projections.store import ViewStore

FAILURE_WINDOW = timedelta(minutes=15)
FAILURES_ALLOWED = 5
"""A client with this many failed sign-ins within the window waits until the oldest leaves it."""


def digest(session_id: str) -> str:
    return hashlib.sha256(b"claim-ledger session\x00" + session_id.encode()).hexdigest()


def _principal_json(principal: Principal) -> str:
    return json.dumps(
        {
            "user": principal.user_id,
            "partner": principal.partner_id,
            "roles": sorted(r.value for r in principal.roles),
            "locations": sorted(principal.locations),
        }
    )


def _principal_of(text: str) -> Principal:
    data = json.loads(text)
    return Principal(
        user_id=data["user"],
        partner_id=data["partner"],
        roles=frozenset(Role(r) for r in data["roles"]),
        locations=frozenset(data["locations"]),
    )


@dataclass(frozen=True)
class SignedIn:
    """A live session: who, and until when."""

    principal: Principal
    expires_at: datetime


class SignIns:
    """Sessions and failed sign-ins, in the view store's database (not rebuilt by a replay)."""

    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def start(self, principal: Principal, expires_at: datetime, now: datetime) -> str:
        """A new session for ``principal`` until ``expires_at``: its id, for the cookie."""
        session_id = secrets.token_urlsafe(32)
        with self.store.transaction(commit=True) as tx:
            tx.execute("DELETE FROM web_sessions WHERE expires_at <= ?", (_seconds(now),))
            tx.execute(
                "INSERT INTO web_sessions (session_hash, principal, expires_at) VALUES (?, ?, ?)",
                (digest(session_id), _principal_json(principal), _seconds(expires_at)),
            )
        return session_id

    def find(self, session_id: str, now: datetime) -> SignedIn | None:
        """The session of that id, unless it ended (signed out or expired)."""
        with self.store.transaction(sealed=True) as tx:
            row = tx.one(
                "SELECT principal, expires_at FROM web_sessions "
                "WHERE session_hash = ? AND expires_at > ?",
                (digest(session_id), _seconds(now)),
            )
        if row is None:
            return None
        expires_at = datetime.fromtimestamp(int(row["expires_at"]), now.tzinfo)
        return SignedIn(_principal_of(str(row["principal"])), expires_at)

    def end(self, session_id: str) -> None:
        with self.store.transaction(commit=True) as tx:
            tx.execute("DELETE FROM web_sessions WHERE session_hash = ?", (digest(session_id),))

    def failed(self, client: str, now: datetime) -> None:
        """Count a failed sign-in from ``client`` (and forget the ones out of the window)."""
        with self.store.transaction(commit=True) as tx:
            tx.execute(
                "DELETE FROM sign_in_failures WHERE failed_at <= ?",
                (_seconds(now - FAILURE_WINDOW),),
            )
            tx.execute(
                "INSERT INTO sign_in_failures (client, failed_at) VALUES (?, ?)",
                (client, _seconds(now)),
            )

    def locked_for(self, client: str, now: datetime) -> timedelta | None:
        """How long ``client`` must wait before its next sign-in is read; None: not locked."""
        with self.store.transaction(sealed=True) as tx:
            rows = tx.rows(
                "SELECT failed_at FROM sign_in_failures WHERE client = ? AND failed_at > ? "
                "ORDER BY failed_at DESC",
                (client, _seconds(now - FAILURE_WINDOW)),
            )
        if len(rows) < FAILURES_ALLOWED:
            return None
        oldest_counted = int(rows[FAILURES_ALLOWED - 1]["failed_at"])
        until = datetime.fromtimestamp(oldest_counted, now.tzinfo) + FAILURE_WINDOW
        return max(until - now, timedelta(seconds=1))

    def succeeded(self, client: str) -> None:
        """A client that signed in starts counting its failures afresh."""
        with self.store.transaction(commit=True) as tx:
            tx.execute("DELETE FROM sign_in_failures WHERE client = ?", (client,))


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())
