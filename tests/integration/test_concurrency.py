"""R16 on PostgreSQL: 16 threads of two partners race to claim one customer, 20 times over."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from uuid import UUID

import pytest

from ledger.domain.errors import LedgerError
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from tests.factories import ADMIN_A, ADMIN_B, REVIEWER, create, days, make_catalog

THREADS = 16
ROUNDS = 20
LIMITS = {"E-WS": 1, "E-AS": 2}


def race(ledger: Ledger, engagement: str) -> tuple[list[UUID], list[LedgerError]]:
    barrier = threading.Barrier(THREADS)
    made: list[UUID] = []
    refused: list[LedgerError] = []
    unexpected: list[BaseException] = []
    lock = threading.Lock()

    def work(i: int) -> None:
        principal, location = (ADMIN_A, "LOC-A1") if i % 2 == 0 else (ADMIN_B, "LOC-B1")
        barrier.wait()
        try:
            ids = ledger.create_claims(principal, create([engagement], location=location), days(0))
        except LedgerError as error:
            with lock:
                refused.append(error)
        except BaseException as error:
            with lock:
                unexpected.append(error)
        else:
            with lock:
                made.extend(ids)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert unexpected == []
    return made, refused


def race_every_engagement(ledger: Ledger) -> Counter[str]:
    """The race on each engagement of ``LIMITS``, checked; how many of each refusal."""
    outcomes: Counter[str] = Counter()
    for engagement, limit in LIMITS.items():
        made, refused = race(ledger, engagement)
        # Each partner may hold one live claim (R14), all partners `limit` (R10).
        assert len(made) == min(limit, 2), (engagement, made, refused)
        assert len(made) + len(refused) == THREADS
        partners = {ledger.get_claim(REVIEWER, c).partner_id for c in made}
        assert len(partners) == len(made)
        for error in refused:
            assert error.slug in {"claim-limit-reached", "claim-already-exists"}, error
            assert error.rule in {"R10", "R14"}
            outcomes[error.slug] += 1
        stored = [ledger.get_claim(REVIEWER, c) for c in ledger.claim_ids()]
        live = [c for c in stored if c.engagement_id == engagement and c.live]
        assert len(live) == len(made)
        assert len([c for c in stored if c.engagement_id == engagement]) == len(made)
    return outcomes


@pytest.mark.postgres
@pytest.mark.slow
def test_r16_the_claim_limit_holds_under_concurrency(
    fresh_database: Callable[[], str],
) -> None:
    outcomes: Counter[str] = Counter()
    for _ in range(ROUNDS):
        settings = Settings(database_url=fresh_database(), postgres_pool_size=20)
        ledger = open_ledger(settings, make_catalog())
        try:
            outcomes += race_every_engagement(ledger)
        finally:
            ledger.close()
    assert outcomes["claim-limit-reached"] + outcomes["claim-already-exists"] == ROUNDS * (
        2 * THREADS - 3
    )


@pytest.mark.slow
@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_r16_the_claim_limit_holds_with_group_commit(
    store: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The same race with the saves grouped (on by default for SQLite, forced on PostgreSQL):
    a group holding two rivals for one seat is refused and written one save at a time."""
    largest = refused_groups = 0
    for n in range(5):
        if store == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('race')}/race-{n}.sqlite3"
        else:
            url = request.getfixturevalue("fresh_database")()
        settings = Settings(database_url=url, postgres_pool_size=20, group_commit="on")
        ledger = open_ledger(settings, make_catalog())
        try:
            race_every_engagement(ledger)
            assert ledger.committer is not None
            largest = max(largest, ledger.committer.stats.largest)
            refused_groups += ledger.committer.stats.groups_refused
        finally:
            ledger.close()
    assert largest > 1 and refused_groups > 0  # rivals were grouped, and written one by one
