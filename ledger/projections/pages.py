"""Pages of a read model: opaque cursors and the one way to read a page with SQL."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ledger.errors import InvalidInputError
from ledger.projections.store import Tx

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def _bad_cursor() -> InvalidInputError:
    return InvalidInputError("invalid-cursor", "the cursor is not one we gave", field="cursor")


def encode_cursor(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        raise _bad_cursor() from None
    if not isinstance(data, dict):
        raise _bad_cursor()
    return data


def offset_of(cursor: str | None) -> int:
    """Where an offset cursor starts (0 without one)."""
    data = _decode_cursor(cursor)
    offset = data.get("offset", 0)
    if not (type(offset) is int and offset >= 0 and set(data) <= {"offset"}):
        raise _bad_cursor()
    return int(offset)


def next_offset(offset: int, limit: int, more: bool) -> str | None:
    return encode_cursor({"offset": offset + limit}) if more else None


def keyset_of(cursor: str | None) -> tuple[str | int, str] | None:
    """The (sort value, claim id) a keyset cursor continues after (None without one)."""
    after = _decode_cursor(cursor)
    if not after:
        return None
    value, claim_id = after.get("v"), after.get("id")
    if not isinstance(value, str | int) or not isinstance(claim_id, str):
        raise _bad_cursor()
    return value, claim_id


def keyset_cursor(value: str | int, claim_id: str) -> str:
    return encode_cursor({"v": value, "id": claim_id})


def offset_page(items: list[T], cursor: str | None, limit: int) -> Page[T]:
    """A page of a list already in memory."""
    offset = offset_of(cursor)
    return Page(
        items[offset : offset + limit], next_offset(offset, limit, offset + limit < len(items))
    )


def sql_page(
    tx: Tx, sql: str, args: list[Any], cursor: str | None, limit: int
) -> Page[dict[str, Any]]:
    """One page of an ordered query, read with LIMIT and OFFSET."""
    offset = offset_of(cursor)
    rows = tx.rows(sql + " LIMIT ? OFFSET ?", [*args, limit + 1, offset])
    return Page(rows[:limit], next_offset(offset, limit, len(rows) > limit))
