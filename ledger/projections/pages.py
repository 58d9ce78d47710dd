"""Pages of a read model: opaque cursors and the one way to read a page with SQL."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ledger.domain.errors import InvalidInputError
from ledger.projections.store import Tx

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def bad_cursor() -> InvalidInputError:
    return InvalidInputError("invalid-cursor", field="cursor")


def encode_cursor(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> dict[str, Any]:
    if not cursor:
        return {}
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        raise bad_cursor() from None
    if not isinstance(data, dict):
        raise bad_cursor()
    return data


def offset_of(cursor: str | None) -> int:
    """Where an offset cursor starts (0 without one)."""
    data = _decode_cursor(cursor)
    offset = data.get("offset", 0)
    if not (type(offset) is int and offset >= 0 and set(data) <= {"offset"}):
        raise bad_cursor()
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
        raise bad_cursor()
    return value, claim_id


def keyset_cursor(value: str | int, claim_id: str) -> str:
    return encode_cursor({"v": value, "id": claim_id})


def after_of(cursor: str | None) -> tuple[str, ...] | None:
    """The sort key a multi-column keyset cursor continues after (``()``: from the start);
    None when the cursor is not such a cursor (or there is none)."""
    data = _decode_cursor(cursor)
    if "after" not in data:
        return None
    after = data["after"]
    if set(data) != {"after"} or not (
        isinstance(after, list) and all(isinstance(v, str) for v in after)
    ):
        raise bad_cursor()
    return tuple(after)


def after_cursor(key: tuple[str, ...]) -> str:
    return encode_cursor({"after": list(key)})


def sql_page(
    tx: Tx, sql: str, args: list[Any], cursor: str | None, limit: int
) -> Page[dict[str, Any]]:
    """One page of an ordered query, read with LIMIT and OFFSET."""
    offset = offset_of(cursor)
    rows = tx.rows(sql + " LIMIT ? OFFSET ?", [*args, limit + 1, offset])
    return Page(rows[:limit], next_offset(offset, limit, len(rows) > limit))
