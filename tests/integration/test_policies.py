"""Policies and the runner: referrals, co-sell, deadlines, exactly-once under failure, replay."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from api import presenters
from ledger.aggregates.claim import Claim, ClaimState
from ledger.domain.commands import Review
from ledger.domain.errors import NotFoundError
from ledger.domain.principal import Principal, Role
from ledger.policies.runner import PolicyRunner
from ledger.projections.base import BatchProjection
from ledger.projections.runner import ViewRunner
from ledger.projections.store import Tx
from ledger.runtime.bootstrap import ReadModels
from ledger.runtime.workers import Workers
from ledger.service.application import Ledger
from ledger.service.ledger_base import NO_KEY
from tests.conftest import Clock
from tests.factories import (
    ADMIN_A,
    NORTHWIND,
    REVIEWER,
    SELLER,
    consent_request,
    consented_claim,
    create,
    days,
    proof,
    view_snapshot,
)

REFERRAL_ADMIN_A = Principal("ria@a.example", "P-A", frozenset({Role.REFERRAL_ADMIN}))
REFERRAL_ADMIN_B = Principal("rib@b.example", "P-B", frozenset({Role.REFERRAL_ADMIN}))


def claim_events(ledger: Ledger, claim_id: UUID) -> list[str]:
    return [type(e).__name__ for e in ledger.history(ADMIN_A, claim_id)]


def test_r40_the_referral_policy_creates_one_referral_however_often_it_runs(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels
) -> None:
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    stored_ledger.request_consent(ADMIN_A, claim_id, consent_request("5000.00"), days(1))
    workers.run_once()
    # Run the policy again from the start, as after a lost tracking record.
    again = PolicyRunner(stored_ledger, workers.store)
    with workers.store.transaction(commit=True) as tx:
        table = "views_tracking" if workers.store.is_postgres else "tracking"
        tx.execute(f"DELETE FROM {table} WHERE application_name LIKE 'policy:%'")
    assert again.catch_up() >= 1
    workers.run_once()
    assert claim_events(stored_ledger, claim_id).count("ReferralCreated") == 1
    row = read_models.claims.details(ADMIN_A, claim_id)
    details = presenters.claim_details(row, days(2), ADMIN_A)
    assert details.referral is not None
    referral_id = details.referral.referral_id
    assert details.referral.link == f"/v1/referrals/{referral_id}"
    assert details.referral.may_open is False  # R41: only referral admins open it
    referral = read_models.referrals.referral(REFERRAL_ADMIN_A, referral_id)
    assert (referral.status, referral.type, referral.deal_value_usd) == (
        "new",
        "independent",
        Decimal("5000.00"),
    )
    assert referral.customer_id.value and referral.created_at <= referral.updated_at
    with pytest.raises(NotFoundError):
        read_models.referrals.referral(REFERRAL_ADMIN_B, referral_id)


def test_r42_co_sell_only_for_managed_customers_and_only_after_consent(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels
) -> None:
    managed = consented_claim(stored_ledger)  # Fabrikam has a field seller
    unmanaged = consented_claim(
        stored_ledger, engagements=["E-WS"], value=NORTHWIND, customer_email="it@northwind.com"
    )
    workers.run_once()
    assert "UpgradedToCoSell" in claim_events(stored_ledger, managed)
    assert "ReferralCreated" in claim_events(stored_ledger, unmanaged)
    assert "UpgradedToCoSell" not in claim_events(stored_ledger, unmanaged)
    co_sell = read_models.referrals.co_sell(SELLER)
    assert [r.claim_id for r in co_sell] == [managed]
    assert (co_sell[0].type, co_sell[0].qualification) == ("shared", "sales_qualified")


def test_r42_no_co_sell_before_consent(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels
) -> None:
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    link = stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    workers.run_once()
    assert claim_events(stored_ledger, claim_id)[-1] == "ReferralCreated"
    assert read_models.referrals.co_sell(SELLER) == []
    stored_ledger.answer_consent(claim_id, link, True, days(2))
    workers.run_once()
    assert claim_events(stored_ledger, claim_id)[-1] == "UpgradedToCoSell"


def test_r50_the_deadline_policy_expires_due_claims_from_the_view(
    stored_ledger: Ledger, workers: Workers, clock: Clock
) -> None:
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    clock.now = days(29)
    workers.run_once()  # the first round applies the deadlines
    assert stored_ledger.get_claim(ADMIN_A, claim_id).state is ClaimState.CUSTOMER_CLAIMED
    clock.now = days(30)
    workers.run_once()  # within the interval (60 s): not yet
    assert stored_ledger.get_claim(ADMIN_A, claim_id).state is ClaimState.CUSTOMER_CLAIMED
    workers.run_once(deadlines=True)  # as when the interval has passed
    workers.run_once(deadlines=True)
    assert stored_ledger.get_claim(ADMIN_A, claim_id).state is ClaimState.CONSENT_EXPIRED
    assert claim_events(stored_ledger, claim_id).count("Expired") == 1


def test_views_are_exactly_once_when_interrupted_between_effect_and_tracking(
    stored_ledger: Ledger, workers: Workers, monkeypatch: pytest.MonkeyPatch
) -> None:
    consented_claim(stored_ledger)
    original = Tx.track

    def crash(self: Tx, name: str, position: int) -> None:
        original(self, name, position)
        raise RuntimeError("power cut before commit")

    monkeypatch.setattr(Tx, "track", crash)
    with pytest.raises(RuntimeError):
        workers.views.catch_up()
    monkeypatch.setattr(Tx, "track", original)
    assert workers.views.position() == 0
    workers.views.catch_up()
    workers.views.catch_up()
    live = view_snapshot(workers)
    workers.views.replay()
    assert view_snapshot(workers) == live
    assert len(live["history"]) == 3


def test_policies_are_exactly_once_when_interrupted_between_effect_and_tracking(
    stored_ledger: Ledger, workers: Workers, monkeypatch: pytest.MonkeyPatch
) -> None:
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    original = Tx.track

    def crash(self: Tx, name: str, position: int) -> None:
        if name.startswith("policy:"):
            raise RuntimeError("stopped after the command, before its tracking")
        original(self, name, position)

    monkeypatch.setattr(Tx, "track", crash)
    with pytest.raises(RuntimeError):
        workers.policies.catch_up()
    monkeypatch.setattr(Tx, "track", original)
    workers.run_once()
    assert claim_events(stored_ledger, claim_id).count("ReferralCreated") == 1
    assert len(view_snapshot(workers)["referrals"]) == 1


@pytest.mark.parametrize("page_sizes", [(1, 1), (1, 3)], ids=["same-pages", "other-pages"])
def test_two_runners_racing_apply_each_event_once(
    stored_ledger: Ledger,
    workers: Workers,
    monkeypatch: pytest.MonkeyPatch,
    page_sizes: tuple[int, int],
) -> None:
    """Two runners (as of two processes: each its own lock) race from the same position with
    pages of the same or of other lengths; what commits holds every event of the log once."""
    ids = stored_ledger.create_claims(ADMIN_A, create(["E-WS", "E-AS"]), days(0))
    for claim_id in ids:
        stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
        stored_ledger.send_consent_reminder(ADMIN_A, claim_id, days(2))
    rivals = [ViewRunner(stored_ledger, workers.store, page_size=n) for n in page_sizes]
    store = workers.store
    # Each rival's first transaction waits for the other's: both start from the same page.
    start_together = threading.Barrier(len(rivals), timeout=10)
    started: set[int] = set()
    folding: dict[Tx, list[tuple[str, UUID, int]]] = {}
    folded: list[tuple[str, UUID, int]] = []  # every event a projection folded
    committed: list[tuple[str, UUID, int]] = []  # and those of transactions that committed
    rolled_back: list[int] = []  # the page transactions that did not commit
    original_transaction = store.transaction

    @contextmanager
    def observed(generation: int | None = None, *, commit: bool = False) -> Iterator[Tx]:
        if threading.get_ident() not in started:
            started.add(threading.get_ident())
            start_together.wait()
        with original_transaction(generation, commit=commit) as tx:
            folding[tx] = []
            try:
                yield tx
            except BaseException:
                rolled_back.append(1)
                raise
            finally:
                mine = folding.pop(tx)
                folded.extend(mine)
        if commit:  # only reached when the transaction committed
            committed.extend(mine)

    def counting(projection: BatchProjection) -> Callable[[Tx, Sequence[Any]], None]:
        process_batch = projection.process_batch

        def process(tx: Tx, events: Sequence[Any]) -> None:
            process_batch(tx, events)
            folding[tx] += [
                (projection.name, e.originator_id, e.originator_version) for e in events
            ]

        return process

    monkeypatch.setattr(store, "transaction", observed)
    for rival in rivals:
        for projection in rival.projections:
            monkeypatch.setattr(projection, "process_batch", counting(projection))
    threads = [threading.Thread(target=r.catch_up) for r in rivals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.undo()

    head = stored_ledger.recorder.max_notification_id() or 0
    log = [
        (n.originator_id, n.originator_version)
        for n in stored_ledger.recorder.select_notifications(0, head, inclusive_of_start=False)
    ]
    assert len(log) == head
    expected = Counter((p.name, *event) for p in workers.views.projections for event in log)
    assert Counter(committed) == expected  # each event, each projection: exactly once
    assert rolled_back  # the runners did collide, and one rolled back
    assert workers.views.catch_up() == 0  # the rivals left nothing to do
    with workers.store.transaction() as tx:
        rows = {r["claim_id"]: r for r in tx.rows("SELECT * FROM {p}claims")}
        history = tx.rows("SELECT claim_id, version, event FROM {p}history ORDER BY 1, 2")
    assert sorted(rows) == sorted(str(c) for c in ids)
    expected_history = []
    for claim_id in ids:
        claim: object = stored_ledger.repository.get(claim_id)
        assert isinstance(claim, Claim)
        row = rows[str(claim_id)]
        assert (row["state"], row["version"]) == (claim.state.value, claim.version)
        assert row["deal_size_usd"] == str(claim.deal_size_usd)
        expected_history += [
            {"claim_id": str(claim_id), "version": e.originator_version, "event": type(e).__name__}
            for e in stored_ledger.events.get(claim_id)
        ]
    assert history == sorted(expected_history, key=lambda h: (h["claim_id"], h["version"]))


def test_read_your_writes(stored_ledger: Ledger, workers: Workers, read_models: ReadModels) -> None:
    workers.start()
    try:
        ledger = stored_ledger
        done = ledger.run(NO_KEY, ledger.create_claims, ADMIN_A, create(["E-WS"]), days(0))
        (claim_id,), head = done.result, done.position  # the log position the save reached
        assert head is not None and workers.views.wait(head, timeout=10)
        assert read_models.claims.details(ADMIN_A, claim_id).state == "customer_claimed"
    finally:
        workers.stop()
    assert not workers.views.wait(head + 1000, timeout=0.05)


def test_replay_builds_new_tables_while_queries_read_the_old_ones(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels
) -> None:
    claim_id = consented_claim(stored_ledger)
    stored_ledger.submit(ADMIN_A, claim_id, proof(), days(2))
    stored_ledger.review(REVIEWER, claim_id, Review(action="start"), days(3))
    workers.run_once()
    before = view_snapshot(workers)
    generation = workers.store.generation()
    seen_during: list[str] = []

    def progress(position: int, head: int) -> None:
        seen_during.append(read_models.claims.details(ADMIN_A, claim_id).state)

    workers.views.page_size = 2
    workers.views.replay(progress)
    assert workers.store.generation() == generation + 1
    assert seen_during and set(seen_during) == {"under_review"}
    assert view_snapshot(workers) == before
    queue = read_models.claims.review_queue(REVIEWER).items
    assert [i.claim_id for i in queue] == [claim_id]
    events = [h.event for h in read_models.claims.history(ADMIN_A, claim_id)]
    assert events == claim_events(stored_ledger, claim_id)
    assert Claim.ReviewStarted.__name__ in events


def test_the_worker_thread_survives_a_failed_round(
    stored_ledger: Ledger,
    workers: Workers,
    read_models: ReadModels,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rounds: list[str] = []
    original = workers.run_once

    def flaky() -> int:
        if not rounds:
            rounds.append("failed")
            raise RuntimeError("the store went away for a moment")
        rounds.append("ok")
        return original()

    monkeypatch.setattr(workers, "run_once", flaky)
    ledger = stored_ledger
    done = ledger.run(NO_KEY, ledger.create_claims, ADMIN_A, create(["E-WS"]), days(0))
    (claim_id,), head = done.result, done.position  # the log position the save reached
    thread = threading.Thread(target=workers.run, kwargs={"retry_seconds": 0.01})
    thread.start()
    try:
        assert head is not None and workers.views.wait(head, timeout=10)
    finally:
        workers.stop()
        thread.join(timeout=10)
    assert rounds[0] == "failed" and "ok" in rounds
    assert read_models.claims.details(ADMIN_A, claim_id).version == 1
