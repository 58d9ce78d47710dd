"""The log as followers read it on PostgreSQL: commit order, whole transactions, no gaps
passed over while writers append concurrently (no table lock)."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent

from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from ledger.store.log import ConcurrentPostgresRecorder
from testkit import gap_torture

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_ledger(postgres_url: str) -> Iterator[Ledger]:
    ledger = open_ledger(Settings(database_url=postgres_url))
    yield ledger
    ledger.close()


def event(originator: object, version: int) -> StoredEvent:
    return StoredEvent(originator, version, "test:Event", b"{}")  # type: ignore[arg-type]


def test_a_transaction_still_open_holds_back_the_later_ones(
    pg_ledger: Ledger, postgres_url: str
) -> None:
    """An insert that took its id first but commits last is not passed over: followers see
    nothing newer than the oldest open transaction, then everything in commit order."""
    early, late = uuid4(), uuid4()
    with psycopg.connect(postgres_url) as open_tx:
        open_tx.execute(
            "INSERT INTO ledger_events (originator_id, originator_version, topic, state) "
            "VALUES (%s, 1, 'test:Event', '{}')",
            (early,),
        )  # its transaction stays open
        pg_ledger.recorder.insert_events([event(late, 1)])
        by_id = pg_ledger.recorder.select_notifications(0, 100, inclusive_of_start=False)
        assert [n.originator_id for n in by_id] == [late]  # a reader by id would move past
        assert by_id[0].id == 2  # ... id 1, which is still to commit
        assert not pg_ledger.event_log.page_after(0, 100).notifications
        assert pg_ledger.event_log.head() == 0
        assert pg_ledger.event_log.behind(0) == 1  # counted, not yet readable
        open_tx.commit()
    page = pg_ledger.event_log.page_after(0, 100)
    assert [n.originator_id for n in page.notifications] == [early, late]
    assert page.position == pg_ledger.event_log.head()
    assert not pg_ledger.event_log.page_after(page.position, 100).notifications


def test_a_page_holds_whole_transactions(pg_ledger: Ledger) -> None:
    recorder = pg_ledger.recorder
    assert isinstance(recorder, ConcurrentPostgresRecorder)
    big, small = uuid4(), uuid4()
    recorder.insert_events([event(big, v) for v in range(1, 6)])  # one transaction of 5
    recorder.insert_events([event(small, 1)])
    first = pg_ledger.event_log.page_after(0, 3)  # longer than the page: whole, alone
    assert [n.originator_version for n in first.notifications] == [1, 2, 3, 4, 5]
    assert len(set(first.positions)) == 1 and first.position == first.positions[0]
    rest = pg_ledger.event_log.page_after(first.position, 3)
    assert [n.originator_id for n in rest.notifications] == [small]
    assert len(pg_ledger.event_log.page_after(0, 6).notifications) == 6
    assert len(pg_ledger.event_log.page_after(0, 5).notifications) == 5  # the first, whole
    assert pg_ledger.event_log.behind(first.position) == 1


@pytest.mark.slow
def test_gap_torture(postgres_server: str) -> None:
    """16 writers with random commit delays and aborts, 2 followers, 20 runs: each follower
    sees every committed event once, each originator's in version order."""
    for _ in range(20):
        result = gap_torture.run(postgres_server)
        assert (result.missed, result.doubled, result.out_of_order) == (0, 0, 0), result
        assert result.committed >= 16 * 25  # each writer committed 25 transactions


@pytest.mark.slow
def test_gap_torture_finds_the_gaps_of_reading_by_id(postgres_server: str) -> None:
    """The torture is real: followers reading by notification id pass over events."""
    results = [gap_torture.run(postgres_server, naive=True) for _ in range(3)]
    assert sum(r.missed for r in results) > 0
