"""Gap torture: concurrent appends with random commit delays and aborts, followers reading.

The campaign itself, which ``bench/gap_torture.py`` runs and explains (its options and checks)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.persistence import DataError, StoredEvent
from psycopg.rows import tuple_row

from ledger.service.application import open_ledger
from ledger.service.settings import Settings
from ledger.store.log import ConcurrentPostgresRecorder, LogPage
from testkit.pgcluster import create_database

_chance = threading.local()


class TorturedRecorder(ConcurrentPostgresRecorder):
    """Holds each insert's transaction open a random while, and aborts one in ten (the
    recorder's insert is one statement that commits at once: here it runs in a transaction
    held open after it, to widen the window in which ids commit out of order)."""

    def _insert_in_one_statement(self, stored_events: Any, **kwargs: Any) -> Sequence[int] | None:
        with (
            self.datastore.get_connection() as conn,
            conn.transaction(),
            conn.cursor(row_factory=tuple_row) as curs,
        ):
            self._insert_stored_events(curs, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(curs, stored_events, **kwargs)

    def _insert_stored_events(self, curs: Any, stored_events: Any, **kwargs: Any) -> None:
        super()._insert_stored_events(curs, stored_events, **kwargs)
        chance: random.Random = _chance.random
        time.sleep(chance.uniform(0, 0.004))
        if chance.random() < 0.1:  # a failing statement: the transaction rolls back
            curs.execute("SELECT 1 / 0")


@dataclass
class Result:
    committed: int
    missed: int
    doubled: int
    out_of_order: int


def run(server_url: str, writers: int = 16, events: int = 25, *, naive: bool = False) -> Result:
    """One run on a fresh database of the server; what the worse of 2 followers saw."""
    url = create_database(server_url)
    ledger = open_ledger(Settings(database_url=url))
    try:
        recorder = ledger.recorder
        assert isinstance(recorder, ConcurrentPostgresRecorder)
        recorder.__class__ = TorturedRecorder
        done = threading.Event()

        def write(w: int) -> None:
            _chance.random = random.Random(w)
            originators = [uuid4() for _ in range(3)]
            versions = dict.fromkeys(originators, 0)
            written = 0
            while written < events:
                originator = _chance.random.choice(originators)
                batch = [
                    StoredEvent(originator, versions[originator] + k + 1, "torture:Event", b"{}")
                    for k in range(_chance.random.randint(1, 3))
                ]
                try:
                    recorder.insert_events(batch)
                except DataError:
                    continue  # aborted: nothing of it was committed
                versions[originator] += len(batch)
                written += 1

        seen: list[list[tuple[UUID, int, int]]] = [[], []]

        def follow(f: int) -> None:
            position = 0
            while True:
                finished = done.is_set()
                if naive:
                    page = recorder.select_notifications(position, 50, inclusive_of_start=False)
                    read = LogPage(page, [n.id for n in page], page[-1].id if page else position)
                else:
                    read = ledger.event_log.page_after(position, 50)
                seen[f] += [
                    (UUID(str(n.originator_id)), n.originator_version, n.id)
                    for n in read.notifications
                ]
                position = read.position
                if finished and not read.notifications:
                    return
                if not read.notifications:
                    time.sleep(0.001)

        threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
        followers = [threading.Thread(target=follow, args=(f,)) for f in range(2)]
        for thread in [*threads, *followers]:
            thread.start()
        for thread in threads:
            thread.join()
        done.set()
        for thread in followers:
            thread.join()
        committed = {
            n.id
            for page in ledger.notification_pages(1000)
            for n in page
            if n.topic == "torture:Event"
        }
        results = []
        for view in seen:
            ids = Counter(i for _, _, i in view)
            last: dict[UUID, int] = {}
            out_of_order = 0
            for originator, version, _ in view:
                if version != last.get(originator, 0) + 1:
                    out_of_order += 1
                last[originator] = version
            results.append(
                Result(
                    committed=len(committed),
                    missed=len(committed - set(ids)),
                    doubled=sum(1 for n in ids.values() if n > 1),
                    out_of_order=out_of_order,
                )
            )
        return max(results, key=lambda r: (r.missed, r.doubled, r.out_of_order))
    finally:
        ledger.close()
