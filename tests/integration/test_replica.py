"""Read replicas: a real primary and a streaming replica (``pg_basebackup -R``) started here,
the app over HTTP with LEDGER_READ_DATABASE_URL naming the replica and its workers running.

Reads are served by the replica (replay paused there, a claim written on the primary does not
show until it is resumed); a user's read after their own write shows it (the read waits for the
replica); with replay paused the read falls back to the primary after LEDGER_REPLICA_WAIT_MS and
/metrics counts it; resumed, reads go to the replica again.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli.main import app as ledger_cli
from cli.site import create_app
from ledger.domain.access import AccessTokens
from ledger.domain.commands import RequestConsent
from ledger.domain.principal import Principal
from ledger.projections import store as view_store
from ledger.runtime import replica as replica_module
from ledger.runtime.bootstrap import Services
from ledger.service.clock import utc_now
from ledger.service.settings import Settings
from ledger.store.outage import OUTAGE_ERRORS
from testkit.pgcluster import create_database, free_port
from testkit.pgreplica import Pair, await_replayed, pause_replay, primary_and_replica, resume_replay
from testkit.workload import PARTNER, bench_catalog, claim_body
from tests.api.client import Api
from tests.conftest import CHECKPOINT_KEY
from tests.web.client import sign_in_with
from tests.web.test_claims import action_form

WAIT_MS = 30_000
"""Long enough that the replica shows a write in time however loaded the machine is: a test
that expects no fallback does not depend on how fast the replica is."""
SHORT_WAIT_MS = 300
OTHER = Principal("other", PARTNER.partner_id, PARTNER.roles)
"""Another user of the same partner: sees PARTNER's claims, and PARTNER sees theirs."""
CUSTOMERS = itertools.count()


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    with primary_and_replica() as started:
        yield started


@pytest.fixture
def api(pair: Pair, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Api]:
    """The app on a fresh database of the primary, reading the views on the replica (waiting
    for it WAIT_MS, or the milliseconds the test's parameter says)."""
    url = create_database(pair.primary)
    await_replayed(pair.primary, pair.replica)  # the new database exists on the replica too
    settings = Settings(
        database_url=url,
        read_database_url=pair.on_replica(url),
        replica_wait_ms=getattr(request, "param", WAIT_MS),
        secret_key="a-test-signing-key-that-is-long-enough-for-hs256",
        mail_dir=tmp_path / "mail",
        documents_dir=tmp_path / "documents",
        checkpoint_key=CHECKPOINT_KEY,
    )
    app = create_app(settings, catalog=bench_catalog(200), run_workers=True)
    with TestClient(app, raise_server_exceptions=True) as client:
        await_replayed(pair.primary, pair.replica)  # the tables the app made on the primary
        yield Api(app, client, settings)


def write_claim(api: Api, principal: Principal, customer: int | None = None) -> tuple[str, int]:
    """A new claim of ``principal``'s: its id and the log position the write reached."""
    number = next(CUSTOMERS) if customer is None else customer
    response = api.post("/v1/claims", claim_body(number), principal)
    assert response.status_code == 201, response.text
    return str(response.json()["claims"][0]["claim_id"]), int(response.headers["Ledger-Position"])


def listed(api: Api, principal: Principal) -> set[str]:
    """The claim ids ``principal`` sees in the claims list (no position named)."""
    response = api.get("/v1/claims?limit=500", principal, settle=False)
    assert response.status_code == 200, response.text
    return {item["claim_id"] for item in response.json()["items"]}


def primary_shows(services: Services, position: int) -> None:
    """Until the primary's views (the workers) include ``position``."""
    deadline = time.monotonic() + 30
    while services.workers.views.position() < position:
        assert time.monotonic() < deadline, "the workers did not apply the write"
        time.sleep(0.01)


def metric(api: Api, name: str) -> float:
    text = api.client.get("/metrics").text
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} is not in /metrics"
    return float(found.group(1))


FALLBACKS = 'ledger_replica_fallbacks_total{reason="wait"}'


def test_reads_are_served_by_the_replica(api: Api, pair: Pair) -> None:
    """With replay paused on the replica, another user's claim shows on the primary's views
    but not in the list: the list is read on the replica. Resumed, it shows."""
    url = api.settings.read_database_url
    assert url is not None
    before = listed(api, PARTNER)
    pause_replay(url)
    try:
        claim, position = write_claim(api, OTHER)
        primary_shows(api.services, position)
        assert api.services.read_models.claims.details(PARTNER, UUID(claim))
        assert claim not in listed(api, PARTNER)
    finally:
        resume_replay(url)
    await_replayed(pair.primary, pair.replica)
    assert listed(api, PARTNER) == before | {claim}
    assert metric(api, "ledger_replica_reads_total") >= 3
    assert metric(api, FALLBACKS) == 0


def test_a_users_read_after_their_write_shows_it(api: Api) -> None:
    for _ in range(5):
        claim, _ = write_claim(api, OTHER)
        assert claim in listed(api, OTHER)  # the same process remembers the user's write
    claim, position = write_claim(api, PARTNER)
    headers = {"Ledger-Position": str(position)}  # as another process would be told
    response = api.get("/v1/claims?limit=500", OTHER, settle=False, headers=headers)
    assert claim in {item["claim_id"] for item in response.json()["items"]}
    assert metric(api, FALLBACKS) == 0


@pytest.mark.parametrize("api", [SHORT_WAIT_MS], indirect=True)
def test_a_paused_replica_falls_back_to_the_primary(api: Api, pair: Pair) -> None:
    """Replay paused: the user's read waits LEDGER_REPLICA_WAIT_MS, then reads the primary
    (it shows the write), counted; resumed, the user's reads go to the replica again."""
    url = api.settings.read_database_url
    assert url is not None
    pause_replay(url)
    try:
        claim, _ = write_claim(api, OTHER)
        assert claim in listed(api, OTHER)
        assert metric(api, FALLBACKS) == 1
        ready = api.client.get("/readyz").json()["checks"]
        assert ready["replica"] == "ok" and ready["replica_lag_events"] > 0
    finally:
        resume_replay(url)
    reads = metric(api, "ledger_replica_reads_total")
    claim, position = write_claim(api, OTHER)
    primary_shows(api.services, position)
    await_replayed(pair.primary, pair.replica)  # the replica shows it: no wait, no fallback
    assert claim in listed(api, OTHER)
    assert metric(api, FALLBACKS) == 1
    assert metric(api, "ledger_replica_reads_total") == reads + 1


def end_replica_backends(api: Api) -> int:
    """End every client backend of the app's database on the replica; how many."""
    url = api.settings.read_database_url
    assert url is not None
    with psycopg.connect(url, autocommit=True) as admin:
        return len(
            admin.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend'"
            ).fetchall()
        )


def test_replica_connections_ended_while_idle_are_replaced(api: Api) -> None:
    """The replica's backends ended (an administrator, ``idle_session_timeout``): the next
    reads are still the replica's, on new connections, never a 503."""
    claim, _ = write_claim(api, PARTNER)
    assert claim in listed(api, PARTNER)
    reads = metric(api, "ledger_replica_reads_total")
    assert end_replica_backends(api) > 0
    for _ in range(3):
        assert claim in listed(api, PARTNER)  # 200, or listed() fails
    assert metric(api, "ledger_replica_reads_total") == reads + 3
    assert metric(api, 'ledger_replica_fallbacks_total{reason="unreachable"}') == 0


def test_a_replica_lost_as_reads_go_to_it_sends_them_to_the_primary(
    api: Api, pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replica goes (its connections ended, new ones refused) after it was looked at:
    a read with nothing pending, sent to it without looking again, finds it gone and reads
    the primary, and so do the next, without waiting for the next look at the replica; none
    is answered 503."""
    monkeypatch.setattr(replica_module, "PROBE_SECONDS", 600.0)  # no look again meanwhile
    monkeypatch.setattr(view_store, "GENERATION_TTL_SECONDS", 600.0)  # the generation kept
    claim, position = write_claim(api, PARTNER)
    primary_shows(api.services, position)
    await_replayed(pair.primary, pair.replica)
    assert claim in listed(api, OTHER)  # OTHER wrote nothing: the replica, looked at now
    replica = api.services.replica
    assert replica is not None
    pool: Any = replica.store.postgres.datastore.pool
    assert isinstance(pool.kwargs, dict)
    pool.kwargs["port"] = free_port()  # nothing listens there: new connections are refused
    assert end_replica_backends(api) > 0
    for _ in range(3):
        assert claim in listed(api, OTHER)
    assert metric(api, 'ledger_replica_fallbacks_total{reason="unreachable"}') >= 1
    assert api.client.get("/readyz").json()["checks"]["replica"].startswith("unreachable")
    with pytest.raises(OUTAGE_ERRORS):  # its position is the replica's, never the primary's
        replica.position()


def test_the_replica_is_never_written(api: Api, pair: Pair) -> None:
    """A replica store refuses a write; opening one made nothing (the replica would refuse)."""
    replica = api.services.replica
    assert replica is not None
    with pytest.raises(RuntimeError, match="read-only"), replica.store.transaction(commit=True):
        pass


def test_a_sqlite_store_with_a_replica_is_a_settings_error(tmp_path: Path) -> None:
    """Every command (here ``ledger outbox``) refuses to start, says which setting and what to
    do, exit code 2."""
    env = {
        "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
        "LEDGER_READ_DATABASE_URL": "postgresql://ledger@127.0.0.1:5432/ledger",
        "COLUMNS": "2000",
    }
    refused = CliRunner().invoke(ledger_cli, ["outbox"], env=env, color=False)
    assert refused.exit_code == 2
    said = " ".join(refused.output.split())
    assert (
        "settings error LEDGER_READ_DATABASE_URL: a read replica needs a PostgreSQL store" in said
    )
    assert "unset LEDGER_READ_DATABASE_URL, or store the ledger in PostgreSQL" in said
    assert not (tmp_path / "ledger.sqlite3").exists()


def test_the_pages_read_the_replica(api: Api, pair: Pair) -> None:
    """The Customers tab, signed in on the web page, is read on the replica too."""
    url = api.settings.read_database_url
    assert url is not None
    token = AccessTokens(api.settings.signing_key()).mint(PARTNER, timedelta(hours=1), utc_now())
    sign_in_with(api.client, token)
    tab = "/engagements/E-BENCH/customers?tab=eligible"
    pause_replay(url)
    try:
        _, position = write_claim(api, OTHER, customer=150)
        primary_shows(api.services, position)
        page = api.client.get(tab)
        assert page.status_code == 200 and "T150" not in page.text
    finally:
        resume_replay(url)
    await_replayed(pair.primary, pair.replica)
    assert "T150" in api.client.get(tab).text


def test_an_unreachable_replica_sends_the_reads_to_the_primary(pair: Pair, tmp_path: Path) -> None:
    """LEDGER_READ_DATABASE_URL at a port nothing listens on: the reads are answered (by the
    primary), counted as fallbacks, and /readyz stays ready and says it."""
    url = create_database(pair.primary)
    settings = Settings(
        database_url=url,
        read_database_url=f"postgresql://ledger@127.0.0.1:{free_port()}/ledger",
        secret_key="a-test-signing-key-that-is-long-enough-for-hs256",
        mail_dir=tmp_path / "mail",
        documents_dir=tmp_path / "documents",
        checkpoint_key=CHECKPOINT_KEY,
    )
    app = create_app(settings, catalog=bench_catalog(200), run_workers=True)
    with TestClient(app, raise_server_exceptions=True) as client:
        api = Api(app, client, settings)
        claim, _ = write_claim(api, PARTNER)
        assert claim in listed(api, PARTNER)
        assert claim in listed(api, PARTNER)
        assert metric(api, 'ledger_replica_fallbacks_total{reason="unreachable"}') == 2
        assert metric(api, "ledger_replica_reads_total") == 0
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"]["replica"] == "unreachable: reading the primary"


def test_a_stale_form_is_answered_with_the_claim_as_the_primary_has_it(
    api: Api, pair: Pair
) -> None:
    """A form posted with a version the claim has passed is refused (412) with the claim as
    it is now: the primary's views, just caught up; the paused replica still has the claim
    as the form saw it, so its reminder form would be as stale as the one refused."""
    url = api.settings.read_database_url
    assert url is not None
    token = AccessTokens(api.settings.signing_key()).mint(PARTNER, timedelta(hours=1), utc_now())
    sign_in_with(api.client, token)
    ledger = api.services.ledger
    claim, _ = write_claim(api, PARTNER)
    consent = RequestConsent.model_validate({"deal_size_usd": "10.00", "disclaimer_accepted": True})
    ledger.request_consent(PARTNER, UUID(claim), consent, utc_now())
    api.services.workers.views.catch_up()
    await_replayed(pair.primary, pair.replica)
    stale = action_form(api.client.get(f"/claims/{claim}").text, "send_consent_reminder")
    pause_replay(url)
    try:
        ledger.send_consent_reminder(OTHER, UUID(claim), utc_now())  # meanwhile, elsewhere
        answer = api.client.post(
            f"/claims/{claim}/consent-reminder",
            content=urlencode(stale.data()),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 412, answer.text
        fresh = action_form(answer.text, "send_consent_reminder")
        assert int(fresh.value("version")) == int(stale.value("version")) + 1
    finally:
        resume_replay(url)
