"""Copying a store's events into a new, empty store of the current layout.

A store made by an earlier release may lack what this one writes with every event (the hash
chain, the transaction id, the contacts sealed under their own keys). Its events are read in
the order they were written (by notification id: within a claim, versions ascend), decoded,
encoded again by the new store's mapper (so contacts are sealed there) and inserted in pages
through the new store's recorder (which chains the hashes). The views are then rebuilt in
the new store from its events (``ledger replay``, or any worker at start).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresDatastore

from ledger.domain.catalog import Catalog
from ledger.service.application import Ledger
from ledger.service.settings import Settings
from ledger.store.log import stored_event

PAGE = 1000


def open_source(settings: Settings, catalog: Catalog) -> Ledger:
    """The old store, read as it is: the library's own recorder, which creates nothing in
    its events table and reads it by notification id; contacts decoded as they were stored."""
    env = {**settings.eventsourcing_env(), "CREATE_TABLE": "false"}
    env.pop("APPLICATION_RECORDER_TOPIC")
    return Ledger(catalog, env=env, seal_contacts=False)


def stored_events(source: Ledger, page: int = PAGE) -> Iterator[list[StoredEvent]]:
    """Every stored event of ``source`` in notification id order, a page at a time, read with
    plain SQL (whatever columns the table has besides these)."""
    recorder: Any = source.recorder
    datastore = recorder.datastore
    postgres = isinstance(datastore, PostgresDatastore)
    table = (
        f'"{datastore.schema}"."{recorder.events_table_name}"'
        if postgres
        else recorder.events_table_name
    )
    mark = "%s" if postgres else "?"
    key = "notification_id" if postgres else "rowid"  # SQLite's notification id is the rowid
    sql = (
        f"SELECT {key} AS n, originator_id, originator_version, topic, state FROM {table} "
        f"WHERE {key} > {mark} ORDER BY {key} LIMIT {mark}"
    )
    after = 0
    while True:
        with datastore.transaction(commit=False) as cursor:
            cursor.execute(sql, (after, page))
            rows = list(cursor.fetchall())
        if not rows:
            return
        yield [stored_event(row) for row in rows]
        after = rows[-1]["n"]


def copy_events(
    source: Ledger, target: Ledger, progress: Callable[[int, int], None] | None = None
) -> int:
    """Copy every event of ``source`` into the empty ``target``; the number copied."""
    if target.recorder.max_notification_id():
        raise ValueError("the target store already holds events: copy into an empty one")
    total = source.recorder.max_notification_id() or 0
    copied = 0
    for page in stored_events(source):
        events = [source.mapper.to_domain_event(stored) for stored in page]
        target.recorder.insert_events([target.mapper.to_stored_event(e) for e in events])
        copied += len(page)
        if progress is not None:
            progress(copied, max(total, copied))
    return copied
