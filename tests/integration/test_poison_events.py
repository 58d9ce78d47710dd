"""Poison events: a view or a policy that fails on one event stops alone, just before it, with
a dead letter that /readyz, /metrics and `ledger dead-letters` name; the others go on; it is
retried with backoff, keeps its dead letter across a restart, and after the fix and
`ledger dead-letters retry` the views equal a replay. On SQLite and PostgreSQL.

The failure is injected into one projection (or one policy) object of the process under
test: the rest of the ledger, the store, the HTTP app and the `ledger` process are real."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from ledger.aggregates.claim import Claim
from ledger.domain.access import AccessTokens
from ledger.domain.catalog import load_catalog
from ledger.policies.runner import Policy
from ledger.projections.dead_letters import DeadLetters
from ledger.projections.runner import ReplayStoppedError, ViewRunner, tracking_name
from ledger.projections.store import Tx, ViewStore
from ledger.runtime.bootstrap import bootstrap
from ledger.service.application import open_ledger
from ledger.service.clock import utc_now
from ledger.service.settings import Settings
from testkit.chaos import SECRET, chaos_catalog
from testkit.pgcluster import create_database, free_port
from testkit.serving import until, wait_healthy
from testkit.workload import PARTNER, claim_body
from tests.api.client import Api, make_api
from tests.conftest import CHECKPOINT_KEY, Clock
from tests.factories import (
    ADMIN_A,
    CATALOG_DATA,
    consent_request,
    consented_claim,
    create,
    days,
    make_catalog,
    view_snapshot,
)

FAULT = "cannot fold a consent request"


@pytest.fixture
def api(settings: Settings, clock: Clock) -> Iterator[Api]:
    yield from make_api(settings, clock)


def poison_claims_view(views: ViewRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fault injection: the claims view raises on every consent request."""
    claims = next(p for p in views.projections if p.name == "claims")
    fold = claims.process_batch

    def failing(tx: Tx, events: Sequence[Any]) -> None:
        if any(isinstance(event, Claim.ConsentRequested) for event in events):
            raise ValueError(FAULT)
        fold(tx, events)

    monkeypatch.setattr(claims, "process_batch", failing)


def ledger_cli(
    settings: Settings, *args: str, cwd: Path, catalog: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`ledger ARGS` on the store (with ``catalog``: the workers' own, as an operator runs
    it: the kept Customers tabs are sorted by the catalog of the process that applies a
    page)."""
    env = {**os.environ, "LEDGER_DATABASE_URL": settings.database_url, "COLUMNS": "400"}
    if catalog is not None:
        env["LEDGER_CATALOG"] = str(catalog)
    for name, value in (
        ("LEDGER_SECRET_KEY", settings.secret_key),
        ("LEDGER_CHECKPOINT_KEY", settings.checkpoint_key),
    ):
        if value:
            env[name] = value
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def view_position(views: ViewRunner, name: str) -> int:
    return views.store.position(tracking_name(views.store.generation(), name))


def warnings_of(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "ledger.dead_letters" and r.levelno == level
    ]


def test_a_view_failing_on_one_event_stops_alone_until_fixed_and_retried(
    api: Api,
    clock: Clock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="ledger.dead_letters")
    ledger, workers = api.services.ledger, api.services.workers
    poison_claims_view(workers.views, monkeypatch)
    (claim_id,) = ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    (later,) = ledger.create_claims(ADMIN_A, create(["E-AS"]), days(1))
    workers.run_once()
    workers.run_once()

    # The claims view stopped just before the consent request; the directory view and the
    # policies went on past it (the referral policy's referral is in the directory view).
    head = workers.views.head()
    assert view_position(workers.views, "directory") == head
    assert workers.views.position() == view_position(workers.views, "claims") < head
    rows = {r["claim_id"]: r for r in view_snapshot(workers)["claims"]}
    assert rows[str(claim_id)]["version"] == 1 and str(later) not in rows
    assert [r["claim_id"] for r in view_snapshot(workers)["referrals"]] == [str(claim_id)]
    assert workers.policies.catch_up() == 0

    (stuck,) = workers.views.stuck()
    assert (stuck.kind, stuck.name) == ("view", "claims")
    assert stuck.event_type == "Claim.ConsentRequested"
    assert stuck.claim_id == str(claim_id) and FAULT in stuck.error and stuck.attempts == 1
    assert stuck.position > workers.views.position()

    # Retried with backoff: not before its time, then again (a debug line, not a warning).
    workers.run_once()
    assert workers.views.stuck()[0].attempts == 1
    clock.now += timedelta(seconds=1.5)
    workers.run_once()
    assert workers.views.stuck()[0].attempts == 2
    assert len(warnings_of(caplog, logging.WARNING)) == 1

    ready = api.client.get("/readyz")
    assert ready.status_code == 503
    detail = ready.json()["detail"]
    assert "the claims view" in detail and f"event {stuck.position}" in detail
    assert "ConsentRequested" in detail and FAULT in detail and "dead-letters retry" in detail
    assert ready.json()["stopped"][0]["claim_id"] == str(claim_id)
    metrics = api.client.get("/metrics").text
    labels = 'event_type="Claim.ConsentRequested",kind="view",name="claims"'
    series = f"ledger_stopped_at_position{{{labels}}}"
    assert f"{series} {float(stuck.position)}" in metrics
    assert "ledger_stopped_followers 1.0" in metrics

    # A restart of the workers keeps the dead letter, and the (unfixed) view stays stopped.
    restarted = bootstrap(api.settings, catalog=make_catalog(), clock=clock)
    try:
        poison_claims_view(restarted.workers.views, monkeypatch)
        restarted.workers.run_once()
        assert [(d.name, d.position) for d in restarted.workers.views.stuck()] == [
            ("claims", stuck.position)
        ]
    finally:
        restarted.close()

    listed = ledger_cli(api.settings, "dead-letters", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    said = " ".join(listed.stdout.split())
    assert "claims view" in said and f"{stuck.position} Claim.ConsentRequested" in said
    assert str(claim_id) in said and FAULT in said

    # The fix: the `ledger` process's claims view has no fault. Its retry catches up.
    catalog = tmp_path / "catalog.json"  # the API's and its workers' catalog
    catalog.write_text(json.dumps(CATALOG_DATA))
    retry = ("dead-letters", "retry", "--name", "claims")
    retried = ledger_cli(api.settings, *retry, cwd=tmp_path, catalog=catalog)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    assert f"the claims view got past event {stuck.position}" in retried.stdout
    monkeypatch.undo()
    assert workers.views.dead_letters.all(fresh=True) == []
    assert api.client.get("/readyz").status_code == 200
    assert "ledger_stopped_followers 0.0" in api.client.get("/metrics").text
    live = view_snapshot(workers)
    assert {r["claim_id"] for r in live["claims"]} == {str(claim_id), str(later)}
    workers.views.replay()
    assert view_snapshot(workers) == live


def test_a_view_recovers_in_its_own_worker_and_says_so_once(
    api: Api, clock: Clock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ledger.dead_letters")
    ledger, workers = api.services.ledger, api.services.workers
    consented_claim(ledger)
    with monkeypatch.context() as fault:
        poison_claims_view(workers.views, fault)
        workers.run_once()
        assert [d.name for d in workers.views.stuck()] == ["claims"]
    clock.now += timedelta(seconds=1.5)  # the next attempt is due: the fix is in
    workers.run_once()
    assert workers.views.stuck() == []
    assert workers.views.position() == workers.views.head()
    (recovered,) = warnings_of(caplog, logging.INFO)
    assert "the claims view got past event" in recovered
    live = view_snapshot(workers)
    workers.views.replay()
    assert view_snapshot(workers) == live


def test_a_policy_failing_on_one_event_stops_alone_until_retried(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, workers = api.services.ledger, api.services.workers
    co_sell: Policy = next(p for p in workers.policies.policies if p.name == "co_sell")

    def failing(*_: Any) -> None:
        raise RuntimeError("the co-sell upgrade is broken")

    monkeypatch.setattr(co_sell, "handle", failing)
    claim_id = consented_claim(ledger)
    workers.run_once()
    assert workers.views.position() == workers.views.head()  # the views went on
    (referral,) = view_snapshot(workers)["referrals"]  # and the referral policy
    assert referral["type"] == "independent"
    (stuck,) = workers.views.stuck()
    assert (stuck.kind, stuck.name, stuck.event_type) == ("policy", "co_sell", "Claim.ConsentGiven")
    assert stuck.claim_id == str(claim_id)
    ready = api.client.get("/readyz")
    assert ready.status_code == 503 and "the co_sell policy" in ready.json()["detail"]

    monkeypatch.undo()
    assert [d.name for d in workers.views.retry_now("co_sell")] == ["co_sell"]
    workers.run_once()
    assert workers.views.stuck() == []
    (referral,) = view_snapshot(workers)["referrals"]
    assert referral["type"] == "shared"


def test_a_replay_that_meets_a_poison_event_does_not_switch(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, workers = api.services.ledger, api.services.workers
    consented_claim(ledger)
    workers.run_once()
    before, generation = view_snapshot(workers), workers.store.generation()
    poison_claims_view(workers.views, monkeypatch)
    with pytest.raises(ReplayStoppedError, match="the claims view is stopped at event"):
        workers.views.replay()
    assert workers.store.generation() == generation
    assert view_snapshot(workers) == before
    assert workers.views.dead_letters.all(fresh=True) == []


def test_a_store_of_the_previous_release_starts_each_view_at_its_one_position(
    api: Api,
) -> None:
    """Before, every view was tracked under one name: each starts there, nothing twice."""
    ledger, workers = api.services.ledger, api.services.workers
    consented_claim(ledger)
    workers.run_once()
    before, head = view_snapshot(workers), workers.views.head()
    generation = workers.store.generation()
    table = "views_tracking" if workers.store.is_postgres else "tracking"
    with workers.store.transaction(commit=True) as tx:
        tx.execute(f"DELETE FROM {table} WHERE application_name LIKE 'views@%'")
        tx.track(tracking_name(generation), head)
    upgraded = ViewRunner(ledger, workers.store)
    assert view_position(upgraded, "claims") == view_position(upgraded, "directory") == head
    assert upgraded.catch_up() == 0
    assert view_snapshot(workers) == before


def test_a_replay_after_the_fix_leaves_nothing_stopped(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, workers = api.services.ledger, api.services.workers
    consented_claim(ledger)
    with monkeypatch.context() as fault:
        poison_claims_view(workers.views, fault)
        workers.run_once()
        assert [d.name for d in workers.views.stuck()] == ["claims"]
    workers.views.replay()  # fixed: the new generation's views all reach the head
    assert workers.views.position() == workers.views.head()
    assert workers.views.dead_letters.all(fresh=True) == []
    assert workers.views.retry_now() == []
    assert api.client.get("/readyz").status_code == 200


def test_an_event_that_cannot_be_decoded_stops_its_followers_at_it_and_no_others(
    api: Api, clock: Clock
) -> None:
    """A stored consent request this release cannot read: both views and the referral policy
    (which follows consent requests) stop at it, saying so; the co-sell policy goes on."""
    ledger, workers = api.services.ledger, api.services.workers
    (first,) = ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    bad = StoredEvent(uuid4(), 1, get_topic(Claim.ConsentRequested), b"not an event")
    ledger.recorder.insert_events([bad])
    bad_position = workers.views.head()
    consented = consented_claim(ledger, engagements=["E-AS"])
    workers.run_once()
    clock.now += timedelta(seconds=1.5)
    workers.run_once()

    stopped = {(d.kind, d.name): d for d in workers.views.stuck()}
    assert set(stopped) == {("view", "claims"), ("view", "directory"), ("policy", "referral")}
    for letter in stopped.values():
        assert (letter.position, letter.event_type) == (bad_position, "Claim.ConsentRequested")
        assert letter.claim_id == str(bad.originator_id)
    assert stopped[("view", "claims")].attempts == 2
    assert workers.views.position() == bad_position - 1
    rows = {r["claim_id"] for r in view_snapshot(workers)["claims"]}
    assert rows == {str(first)}  # nothing after the event was skipped to
    # The co-sell policy went on past it, to the consent given after it.
    assert workers.store.position("policy:co_sell") > bad_position
    assert "ConsentGiven" in [type(e).__name__ for e in ledger.events.get(consented)]
    detail = api.client.get("/readyz").json()["detail"]
    assert "the directory view" in detail and "the referral policy" in detail


@pytest.mark.postgres
@pytest.mark.slow
def test_ledger_serve_names_an_unreadable_event_once_and_goes_on(
    postgres_server: str, tmp_path: Path
) -> None:
    """Real processes: `ledger serve --processes 2` (two API processes and the workers
    process) over a store holding an event no follower can read. Over HTTP, /readyz names the
    views stopped at it; claims made after it are served; the workers' log says it once per
    process, not once per attempt; `ledger dead-letters` lists it."""
    settings = Settings(
        database_url=create_database(postgres_server),
        secret_key=SECRET,
        checkpoint_key=CHECKPOINT_KEY,
    )
    store = open_ledger(settings, load_catalog(chaos_catalog(tmp_path, 5)))
    store.recorder.insert_events(
        [StoredEvent(uuid4(), 1, get_topic(Claim.ConsentRequested), b"not an event")]
    )
    store.close()
    env = {
        **os.environ,
        "LEDGER_DATABASE_URL": settings.database_url,
        "LEDGER_SECRET_KEY": SECRET,
        "LEDGER_CHECKPOINT_KEY": CHECKPOINT_KEY,
        "LEDGER_CATALOG": str(tmp_path / "catalog.json"),
        "LEDGER_DEAD_LETTER_RETRY_SECONDS": "0.1",
        "LEDGER_DEAD_LETTER_MAX_RETRY_SECONDS": "0.2",
    }
    port, log = free_port(), tmp_path / "serve.log"
    with log.open("wb") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--port", str(port), "--processes", "2"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, serve, log.read_text, seconds=60)
        token = AccessTokens(settings.signing_key()).mint(PARTNER, timedelta(hours=1), utc_now())
        with httpx.Client(base_url=url, timeout=30) as client:
            made = client.post(
                "/v1/claims", json=claim_body(1), headers={"Authorization": f"Bearer {token}"}
            )
            assert made.status_code == 201, made.text

            def stopped() -> dict[str, Any] | None:
                ready = client.get("/readyz")  # (503 too before the workers' first beat)
                said = ready.json() if ready.status_code == 503 else {}
                return said if said.get("stopped") else None

            problem = until(stopped, seconds=60)
        assert "the claims view is stopped at event" in problem["detail"]
        assert "Claim.ConsentRequested" in problem["detail"]
        assert "cannot read the state of stored event" in problem["detail"]
        names = {(s["kind"], s["name"]) for s in problem["stopped"]}
        assert {("view", "claims"), ("view", "directory")} <= names
        views = ViewStore.open(settings.eventsourcing_env())
        try:
            letters = DeadLetters(views)
            until(lambda: min(d.attempts for d in letters.all(fresh=True)) >= 5, seconds=60)
        finally:
            views.close()
        listed = ledger_cli(settings, "dead-letters", cwd=tmp_path)
        assert "claims view" in listed.stdout and "Claim.ConsentRequested" in listed.stdout
        retried = ledger_cli(settings, "dead-letters", "retry", cwd=tmp_path)
        assert retried.returncode == 1 and "the claims view failed again" in retried.stdout
    finally:
        serve.terminate()
        serve.wait(timeout=30)
    said = log.read_text()
    lines = [line for line in said.splitlines() if "the claims view stopped at event" in line]
    assert 1 <= len(lines) <= 3, said  # once per process at most, not once per attempt
    assert "worker round failed" not in said, said
