"""The golden log (docs/events.md): stored events of every type the Ledger writes, committed
as they were stored, with the contact keys they are sealed under (test keys) and what the
views show once they are replayed.

``make_golden.py`` writes these files; ``tests/integration/test_golden_log.py`` loads them
into a fresh store of each kind and reads them with the current code.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import inspect
import json
import pkgutil
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, get_args
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from pydantic import BaseModel

import ledger.aggregates
from ledger.aggregates.base import Aggregate, DomainEvent
from ledger.domain.catalog import Catalog
from ledger.domain.principal import Principal, Role
from ledger.projections.claim_queries import ClaimFilter
from ledger.projections.customers_page import Tab
from ledger.projections.store import VIEW_TABLES
from ledger.runtime.bootstrap import Services
from ledger.service.application import Ledger
from ledger.store.schema import placeholders
from tests.factories import ADMIN_A, REVIEWER, SELLER

HERE = Path(__file__).parent
EVENTS = "events.json"
KEYS = "keys.json"
CATALOG = "catalog.json"
VIEWS = "views.json"
NOW = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
"""The clock of the reads the views are compared by (days left, stuck e-mails)."""
REFERRALS_A = Principal("rae@a.example", "P-A", frozenset({Role.REFERRAL_ADMIN}))


# -- every event type the Ledger writes -----------------------------------------------------


def _aggregates() -> Iterator[type[Aggregate]]:
    for module in pkgutil.iter_modules(ledger.aggregates.__path__):
        importlib.import_module(f"ledger.aggregates.{module.name}")
    found: list[type[Aggregate]] = [Aggregate]
    while found:
        cls = found.pop()
        found.extend(cls.__subclasses__())
        if cls is not Aggregate and cls.__module__.startswith("ledger."):
            yield cls


def written_event_classes() -> list[type[DomainEvent]]:
    """The event classes of every aggregate of ``ledger.aggregates`` that events are stored
    as: those its class body defines (not the ones the library adds), less the ones others
    of them extend (``Claim.Event``, ``Claim.Created``)."""
    classes: set[type[DomainEvent]] = set()
    for aggregate in _aggregates():
        defined = re.findall(r"^    class (\w+)\(", inspect.getsource(aggregate), re.MULTILINE)
        classes |= {
            event
            for name in defined
            if isinstance(event := getattr(aggregate, name), type)
            and issubclass(event, DomainEvent)
        }
    bases = {base for cls in classes for base in cls.__mro__[1:]}
    return sorted(classes - bases, key=get_topic)


# -- the files ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GoldenEvent:
    stored: StoredEvent
    hash: bytes

    def as_json(self) -> dict[str, Any]:
        return {
            "topic": self.stored.topic,
            "originator_id": str(self.stored.originator_id),
            "originator_version": self.stored.originator_version,
            "state": self.stored.state.decode(),
            "hash": self.hash.hex(),
        }

    @classmethod
    def of(cls, data: dict[str, Any]) -> GoldenEvent:
        stored = StoredEvent(
            originator_id=UUID(data["originator_id"]),
            originator_version=data["originator_version"],
            topic=data["topic"],
            state=data["state"].encode(),
        )
        return cls(stored, bytes.fromhex(data["hash"]))


def read_json(name: str, folder: Path = HERE) -> Any:
    return json.loads((folder / name).read_text(encoding="utf-8"))


def write_json(name: str, data: Any, folder: Path = HERE) -> None:
    text = json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True)
    (folder / name).write_text(text + "\n", encoding="utf-8")


def golden_saves(folder: Path = HERE) -> list[list[GoldenEvent]]:
    """The golden log's saves, in log order, each the events one transaction stored."""
    return [[GoldenEvent.of(e) for e in save] for save in read_json(EVENTS, folder)["saves"]]


def golden_catalog(folder: Path = HERE) -> Catalog:
    return Catalog.model_validate(read_json(CATALOG, folder))


# -- the contact keys -----------------------------------------------------------------------


def _rows(ledger: Ledger, sql: str) -> list[dict[str, Any]]:
    with ledger.keyring.datastore.transaction(commit=False) as cursor:
        cursor.execute(sql)
        return [dict(row) for row in cursor.fetchall()]


def _insert(ledger: Ledger, sql: str, params: tuple[Any, ...]) -> None:
    with ledger.keyring.datastore.transaction(commit=True) as cursor:
        cursor.execute(placeholders(sql, ledger.keyring.is_postgres), params)


def dump_keys(ledger: Ledger) -> dict[str, list[dict[str, str]]]:
    """The contact keys (test keys!) and the erasures, as the key ring stores them."""
    keys = _rows(ledger, "SELECT * FROM contact_keys ORDER BY key_id")
    erasures = _rows(ledger, "SELECT * FROM contact_erasures ORDER BY key_id")
    for key in keys:
        key["secret"] = base64.b64encode(bytes(key["secret"])).decode()
    return {"contact_keys": keys, "contact_erasures": erasures}


def restore_keys(ledger: Ledger, keys: dict[str, list[dict[str, str]]]) -> None:
    for key in keys["contact_keys"]:
        _insert(
            ledger,
            "INSERT INTO contact_keys (key_id, lookup, secret, created_at) VALUES (?, ?, ?, ?)",
            (key["key_id"], key["lookup"], base64.b64decode(key["secret"]), key["created_at"]),
        )
    for erasure in keys["contact_erasures"]:
        _insert(
            ledger,
            "INSERT INTO contact_erasures (key_id, erased_at) VALUES (?, ?)",
            (erasure["key_id"], erasure["erased_at"]),
        )


def load_golden(ledger: Ledger, folder: Path = HERE) -> list[list[GoldenEvent]]:
    """Store the golden log in the ledger's (empty) store as it was stored: its keys, then
    each save's events, as they are, in one insert each (the recorder chains their hashes)."""
    restore_keys(ledger, read_json(KEYS, folder))
    saves = golden_saves(folder)
    for save in saves:
        ledger.recorder.insert_events([event.stored for event in save])
    return saves


# -- what the views show --------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A read's answer as JSON types."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    return value


def view_tables(services: Services) -> dict[str, list[dict[str, Any]]]:
    """Every view table's rows (contacts opened), in a store-independent order."""
    with services.store.transaction() as tx:
        tables = {name: tx.rows(f"SELECT * FROM {{p}}{name}") for name in VIEW_TABLES}
    return {name: sorted(rows, key=dumps) for name, rows in tables.items()}


def dumps(row: Any) -> str:
    return json.dumps(plain(row), sort_keys=True)


def reads(services: Services) -> dict[str, Any]:
    """What the read models answer: the claims list, each claim's details and history, the
    Customers tabs, the review queue, the referrals and the co-sell list."""
    models = services.read_models
    claims = list(models.claims.every(ADMIN_A, ClaimFilter()))
    tabs = {
        f"{engagement.id}/{tab}": models.customers.tab(ADMIN_A, engagement.id, tab, limit=100)
        for engagement in services.ledger.catalog.engagements
        for tab in get_args(Tab)
    }
    answers: dict[str, Any] = plain(
        {
            "claims": claims,
            "details": {
                str(c.claim_id): models.claims.details(ADMIN_A, c.claim_id) for c in claims
            },
            "history": {
                str(c.claim_id): models.claims.history(ADMIN_A, c.claim_id) for c in claims
            },
            "customers_tabs": tabs,
            "review_queue": models.claims.review_queue(REVIEWER, limit=100),
            "referrals": models.referrals.search(REFERRALS_A, limit=100),
            "co_sell": models.referrals.co_sell(SELLER),
        }
    )
    return answers


def what_the_views_show(services: Services) -> dict[str, Any]:
    return {"tables": plain(view_tables(services)), "reads": reads(services)}
