"""Group commit on both stores: the saves of commands that arrive while another is being
written go in one transaction, each answered with its own result and position; a group the
store refuses is written one save at a time, so one command's lost race fails no other."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from uuid import UUID

import pytest

from ledger.domain.commands import CreateClaims
from ledger.domain.errors import LedgerError
from ledger.service.application import Ledger, open_ledger
from ledger.service.running import NO_KEY, Done, RequestKey
from ledger.service.settings import Settings
from testkit.workload import PARTNER, bench_catalog, claim_body
from tests.factories import days

WAIT = 30.0


class HeldWrites:
    """The store's inserts, the first held until released: the commands that save meanwhile
    queue behind it. Notes the originators of each insert, refused or not."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.inserts: list[set[UUID]] = []
        self.entered, self.release = threading.Event(), threading.Event()
        self.raising: BaseException | None = None
        """Raised by every insert after the held one while set."""
        self._insert = ledger.recorder.insert_events

    def __call__(self, stored_events: Any, **kwargs: Any) -> Any:
        self.inserts.append({UUID(str(e.originator_id)) for e in stored_events})
        if len(self.inserts) == 1:
            self.entered.set()
            assert self.release.wait(WAIT)
        elif self.raising is not None:
            raise self.raising
        return self._insert(stored_events, **kwargs)

    def queued(self, count: int) -> None:
        """Wait until ``count`` saves wait behind the held one."""
        committer = self.ledger.committer
        assert committer is not None
        for _ in range(int(WAIT * 100)):
            if committer.waiting == count:
                return
            threading.Event().wait(0.01)
        raise AssertionError(f"{committer.waiting} saves queued, not {count}")


@pytest.fixture
def bench_ledger(settings: Settings) -> Iterator[Ledger]:
    ledger = open_ledger(settings.model_copy(update={"group_commit": "on"}), bench_catalog(20))
    try:
        yield ledger
    finally:
        ledger.close()


@pytest.fixture
def held(bench_ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> HeldWrites:
    held = HeldWrites(bench_ledger)
    monkeypatch.setattr(bench_ledger.recorder, "insert_events", held)
    return held


def create(ledger: Ledger, i: int, key: RequestKey | None = None) -> Done[list[UUID]]:
    body = CreateClaims.model_validate(claim_body(i))
    return ledger.run(key or NO_KEY, ledger.create_claims, PARTNER, body, days(0))


class Threads:
    """Commands run in threads; each one's outcome (a ``Done`` or the error it raised)."""

    def __init__(self) -> None:
        self.outcomes: dict[str, Any] = {}
        self._threads: list[threading.Thread] = []

    def start(self, name: str, work: Callable[[], Any]) -> None:
        def run() -> None:
            try:
                self.outcomes[name] = work()
            except BaseException as error:  # an interrupt too: the test looks at it
                self.outcomes[name] = error

        thread = threading.Thread(target=run)
        self._threads.append(thread)
        thread.start()

    def join(self) -> dict[str, Any]:
        for thread in self._threads:
            thread.join(WAIT)
            assert not thread.is_alive()
        return self.outcomes


def own_position(ledger: Ledger, done: Done[Any]) -> int:
    """The log position a follower has read every event of the command's save at."""
    page = ledger.event_log.page_after(0, 1000)
    return max(
        position
        for n, position in zip(page.notifications, page.positions, strict=True)
        if UUID(str(n.originator_id)) in done.versions
    )


def behind_a_held_write(
    ledger: Ledger,
    held: HeldWrites,
    queued: Mapping[str, Callable[[], Any]],
    raising: BaseException | None = None,
) -> dict[str, Any]:
    """The outcomes of a first command ("first"), whose write is held, and of the ``queued``
    ones, started meanwhile; the write is released once they all wait behind it (with every
    later insert raising ``raising``, if given)."""
    threads = Threads()
    threads.start("first", lambda: create(ledger, 0))
    assert held.entered.wait(WAIT)
    for name, work in queued.items():
        threads.start(name, work)
    held.queued(len(queued))
    held.raising = raising
    held.release.set()
    return threads.join()


def test_saves_that_arrive_together_are_written_in_one_transaction(
    bench_ledger: Ledger, held: HeldWrites
) -> None:
    queued = {f"queued {i}": functools.partial(create, bench_ledger, i) for i in (1, 2, 3)}
    outcomes = behind_a_held_write(bench_ledger, held, queued)

    assert len(held.inserts) == 2  # the held one, then the three queued in one transaction
    claims = {name: done.result[0] for name, done in outcomes.items()}
    assert len(set(claims.values())) == 4
    assert set(claims.values()) - held.inserts[0] == {claims[f"queued {i}"] for i in (1, 2, 3)}
    for name, done in outcomes.items():
        assert isinstance(done, Done) and not done.replayed
        assert done.position == own_position(bench_ledger, done)
        tenant = bench_ledger.get_claim(PARTNER, claims[name]).terms.customer_id.value
        expected = claim_body(0 if name == "first" else int(name.split()[1]))
        assert tenant == expected["customer_id"]["value"]  # its own result
    committer = bench_ledger.committer
    assert committer is not None
    assert (committer.stats.saves, committer.stats.transactions) == (4, 2)
    assert committer.stats.largest == 3 and committer.stats.groups_refused == 0


def test_a_save_that_loses_a_race_in_its_group_fails_no_other(
    bench_ledger: Ledger, held: HeldWrites
) -> None:
    rival = functools.partial(create, bench_ledger, 5)  # the same customer twice
    queued = {
        "rival 1": rival,
        "rival 2": rival,
        "other": functools.partial(create, bench_ledger, 6),
    }
    outcomes = behind_a_held_write(bench_ledger, held, queued)

    committer = bench_ledger.committer
    assert committer is not None and committer.stats.groups_refused == 1
    assert len(held.inserts[1]) > len(held.inserts[2])  # the refused group, then one at a time
    assert isinstance(outcomes["first"], Done) and isinstance(outcomes["other"], Done)
    rivals = [outcomes["rival 1"], outcomes["rival 2"]]
    (won,) = [o for o in rivals if isinstance(o, Done)]
    (lost,) = [o for o in rivals if not isinstance(o, Done)]
    assert isinstance(lost, LedgerError)  # the loser ran again and was refused (R14)
    assert lost.slug in {"claim-already-exists", "claim-limit-reached"}
    made = list(bench_ledger.claim_ids())
    assert sorted(made) == sorted(o.result[0] for o in (outcomes["first"], won, outcomes["other"]))


def test_twin_requests_in_one_group_answer_the_same(bench_ledger: Ledger, held: HeldWrites) -> None:
    key = bench_ledger.request_key("P-BENCH", "twin-1", "the same request")
    twin = functools.partial(create, bench_ledger, 7, key)
    outcomes = behind_a_held_write(bench_ledger, held, {"twin 1": twin, "twin 2": twin})

    twins = [outcomes["twin 1"], outcomes["twin 2"]]
    assert all(isinstance(t, Done) for t in twins)
    assert twins[0].result == twins[1].result
    assert sorted(t.replayed for t in twins) == [False, True]
    assert len(list(bench_ledger.claim_ids())) == 2


def test_a_command_alone_is_written_at_once(bench_ledger: Ledger, held: HeldWrites) -> None:
    held.release.set()
    for i in range(3):
        create(bench_ledger, i)
    committer = bench_ledger.committer
    assert committer is not None
    assert (committer.stats.saves, committer.stats.transactions, committer.stats.largest) == (
        3,
        3,
        1,
    )


def test_an_interrupted_group_leaves_no_command_waiting(
    bench_ledger: Ledger, held: HeldWrites
) -> None:
    queued = {f"queued {i}": functools.partial(create, bench_ledger, i) for i in (1, 2)}
    # the group's write is interrupted; no thread is left waiting for it (all are joined)
    outcomes = behind_a_held_write(bench_ledger, held, queued, raising=KeyboardInterrupt())

    assert isinstance(outcomes["first"], Done)
    assert isinstance(outcomes["queued 1"], KeyboardInterrupt)
    assert isinstance(outcomes["queued 2"], KeyboardInterrupt)
    held.raising = None
    assert create(bench_ledger, 3).result  # the next command is written
    assert len(list(bench_ledger.claim_ids())) == 2


@pytest.mark.parametrize(
    ("setting", "on_sqlite", "on_postgres"),
    [("auto", True, False), ("on", True, True), ("off", False, False)],
)
def test_group_commit_is_on_where_it_pays_unless_set(
    settings: Settings, setting: str, on_sqlite: bool, on_postgres: bool
) -> None:
    """SQLite's writes take turns anyway; PostgreSQL's sessions write in parallel, and
    grouping measured slower there (``bench.command_rate``)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("LEDGER_GROUP_COMMIT", setting)
        env.setenv("LEDGER_DATABASE_URL", settings.database_url)
        ledger = open_ledger(Settings(), bench_catalog(5))
    try:
        expected = on_sqlite if settings.is_sqlite else on_postgres
        assert (ledger.committer is not None) == expected
        assert create(ledger, 0).position is not None
    finally:
        ledger.close()
