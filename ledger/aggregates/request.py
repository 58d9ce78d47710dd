"""A request made with an Idempotency-Key: recorded in the same save as the command's events.

Its id follows from (owner, key), so a second save of the same request fails as any lost race
does; its event keeps what the command answered and the version each aggregate reached in that save,
so a retry after any crash answers the same, however the aggregates changed since.
"""

from __future__ import annotations

from datetime import datetime
from typing import Self
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import JsonValue

from ledger.aggregates.base import Aggregate

REQUEST_NAMESPACE = uuid5(NAMESPACE_URL, "https://claim-ledger.dev/idempotent-request")


class IdempotentRequest(Aggregate):
    """Created, once, by the command that first ran with its key."""

    class Done(Aggregate.Created):
        command: str
        request_hash: str
        result: JsonValue
        versions: dict[str, int] = {}
        """Aggregate id -> the version the command's save reached (empty in records made before
        it was kept)."""

    command: str
    request_hash: str
    result: JsonValue
    versions: dict[str, int]

    def __init__(
        self, command: str, request_hash: str, result: JsonValue, versions: dict[str, int]
    ) -> None:
        self.command = command
        self.request_hash = request_hash
        self.result = result
        self.versions = versions

    @staticmethod
    def id_for(owner: str, key: str) -> UUID:
        return uuid5(REQUEST_NAMESPACE, f"{len(owner)}:{owner}|{key}")

    @classmethod
    def done(
        cls,
        *,
        owner: str,
        key: str,
        command: str,
        request_hash: str,
        result: JsonValue,
        versions: dict[str, int],
        now: datetime,
    ) -> Self:
        return cls._create(
            cls.Done,
            id=cls.id_for(owner, key),
            timestamp=now,
            command=command,
            request_hash=request_hash,
            result=result,
            versions=versions,
        )
