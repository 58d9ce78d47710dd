"""Idempotency-Key on POST: the same key and body answer the first response again.

Kept in the database (``idempotency_keys``), so a replayed request is answered the same after
a restart; a key is taken before the command runs, so two concurrent requests with one key
never both run. A key whose request died while running is given up after ``abandoned_after``;
a retry then runs the command again, and the domain's own refusals (a second claim for the
same customer is 409) keep that safe.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from fastapi.responses import Response

from api.problems import from_ledger_error, problem
from ledger.clock import Clock
from ledger.errors import LedgerError
from ledger.projections.base import ts
from ledger.projections.store import ViewStore

MAX_KEY_LENGTH = 200
REPLAYED_HEADERS = ("etag", "location", "content-type")


class IdempotencyStore:
    def __init__(
        self,
        store: ViewStore,
        *,
        clock: Clock,
        abandoned_after: timedelta = timedelta(minutes=10),
    ) -> None:
        self.store = store
        self.clock = clock
        self.abandoned_after = abandoned_after

    def run(
        self,
        owner: str,
        key: str | None,
        fingerprint: str,
        command: Callable[[], Response],
    ) -> Response:
        """Run ``command`` once per (owner, key); answer repeats from the stored response."""
        if key is None:
            return self._safely(command)
        if not 1 <= len(key) <= MAX_KEY_LENGTH:
            return problem(
                422, "invalid-idempotency-key", "Invalid idempotency key",
                f"an Idempotency-Key has 1 to {MAX_KEY_LENGTH} characters",
                extra={"field": "Idempotency-Key"},
            )  # fmt: skip
        request_hash = hashlib.sha256(fingerprint.encode()).hexdigest()
        stored = self._take(owner, key, request_hash)
        if stored is not None:
            return self._repeat(stored, request_hash)
        try:
            response = self._safely(command)
        except BaseException:
            self._release(owner, key)
            raise
        if response.status_code >= 500:
            self._release(owner, key)
            return response
        self._record(owner, key, response)
        return response

    def _take(self, owner: str, key: str, request_hash: str) -> dict[str, object] | None:
        """Take the key for this request; the stored row instead when it was taken before."""
        now = self.clock()
        with self.store.transaction(commit=True) as tx:
            # A key still "running" long after its request began belongs to a request that
            # died (a crash, a kill): let the client's retry run it rather than 409 for ever.
            tx.execute(
                "DELETE FROM idempotency_keys WHERE owner = ? AND key = ? AND status = 0 "
                "AND created_at < ?",
                (owner, key, ts(now - self.abandoned_after)),
            )
            taken = tx.execute(
                "INSERT INTO idempotency_keys VALUES (?, ?, ?, 0, NULL, NULL, ?) "
                "ON CONFLICT DO NOTHING",
                (owner, key, request_hash, ts(now)),
            )
            if taken:
                return None
            return tx.one(
                "SELECT * FROM idempotency_keys WHERE owner = ? AND key = ?", (owner, key)
            )

    def _record(self, owner: str, key: str, response: Response) -> None:
        headers = {k: v for k, v in response.headers.items() if k in REPLAYED_HEADERS}
        with self.store.transaction(commit=True) as tx:
            tx.execute(
                "UPDATE idempotency_keys SET status = ?, body = ?, headers = ? "
                "WHERE owner = ? AND key = ?",
                (
                    response.status_code,
                    bytes(response.body).decode(),
                    json.dumps(headers),
                    owner,
                    key,
                ),
            )

    @staticmethod
    def _safely(command: Callable[[], Response]) -> Response:
        try:
            return command()
        except LedgerError as error:
            return from_ledger_error(error)

    @staticmethod
    def _repeat(stored: dict[str, object], request_hash: str) -> Response:
        if stored["request_hash"] != request_hash:
            return problem(
                422, "idempotency-key-reused", "Idempotency key reused",
                "this Idempotency-Key was used with another request body",
                extra={"field": "Idempotency-Key"},
            )  # fmt: skip
        if stored["status"] == 0:
            return problem(
                409, "idempotency-key-in-use", "Idempotency key in use",
                "a request with this Idempotency-Key is still running; retry shortly",
            )  # fmt: skip
        headers = json.loads(str(stored["headers"] or "{}"))
        response = Response(
            str(stored["body"] or ""), status_code=int(str(stored["status"])), headers=headers
        )
        response.headers["Idempotent-Replayed"] = "true"
        return response

    def _release(self, owner: str, key: str) -> None:
        with self.store.transaction(commit=True) as tx:
            tx.execute("DELETE FROM idempotency_keys WHERE owner = ? AND key = ?", (owner, key))
