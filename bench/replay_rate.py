"""Replay rate of every read model against the raw read-and-decode rate, same run, PostgreSQL.

Run: ``.venv/bin/python -m bench.replay_rate [--events 200000]``. It starts a durable
throwaway PostgreSQL, writes claims whose lifecycles add up to the asked number of events
(through the aggregates, saved in batches), then measures:

- raw: reading every notification in pages and decoding it into a domain event;
- library: the same for as many events of the library's own kind (its default aggregate,
  mapper and transcoder) in another database of the same server: the goal's baseline;
- replay: ``ledger replay`` (the batched runner rebuilding every view into fresh tables),
  in-process and as an operator runs it, with the peak RSS of that process.

With ``--report-html`` instead (e.g. ``--events 1000000 --report-html``): it fills the store
the same way, then runs, through the installed CLI with the store's ``LEDGER_DATABASE_URL``
and ``LEDGER_SECRET_KEY`` as an operator would, ``ledger replay`` and then ``ledger report
--html FILE`` (which folds every claim from the events, no views), and prints each one's
wall-clock seconds (process start included) and peak RSS, and the ratio of the report's time
to the replay's, same run.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from ledger.aggregates.base import SYSTEM, Actor, ActorKind
from ledger.aggregates.claim import Claim, ClaimTerms
from ledger.aggregates.known import KnownCustomer
from ledger.aggregates.seat import Seat
from ledger.aggregates.values import Contacts, ProofDocument, ReferralTerms
from ledger.domain.catalog import ProofItem
from ledger.domain.customer_ids import CustomerId, IdType
from ledger.projections.runner import ViewRunner
from ledger.projections.store import ViewStore
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from testkit.pgcluster import create_database, throwaway_cluster
from testkit.views import T0
from testkit.workload import bench_catalog, tenant

USER = Actor(kind=ActorKind.USER, id="bench@partner.example", partner_id="P-BENCH")
EVENTS_PER_CLAIM = 11  # 7 claim events, 3 seat events, 1 known customer


def populate(ledger: Ledger, claims: int, batch: int = 200) -> int:
    engagement = ledger.catalog.engagement("E-BENCH")
    assert engagement is not None
    pending: list[object] = []
    for i in range(claims):
        now = T0 + timedelta(minutes=i)
        customer = CustomerId(type=IdType.TENANT_ID, value=tenant(i))
        contacts = Contacts.model_validate(
            {
                "customer": {"name": "C", "email": f"c@t{i}.example"},
                "partner": {"name": "P", "email": "p@bench.example"},
            }
        )
        claim = Claim.create(
            claim_id=uuid4(),
            origin="added",
            now=now,
            actor=USER,
            terms=ClaimTerms(
                partner_id="P-BENCH",
                location_id="LOC-1",
                engagement_id=engagement.id,
                friendly_name=f"Tenant {i}",
                customer_id=customer,
                eligibility_key=customer.key,
                resolved_tenant_id=customer.value,
                customer_name=f"Tenant {i} Ltd",
                tenant_mismatch_reason=None,
                contacts=contacts,
                payout_model=engagement.payout_model,
                fixed_payout_usd=engagement.fixed_payout_usd,
                hours=None,
                proposed_payout_usd=None,
                deadline_days=engagement.deadlines,
                required_proof=tuple(engagement.required_proof),
                referral_terms=ReferralTerms(enabled=False, min_deal_size_usd=Decimal("0")),
            ),
        )
        seat = Seat.open(engagement.id, customer.key, now)
        seat.hold(claim_id=claim.id, partner_id="P-BENCH", limit=1, now=now)
        link = uuid4()
        claim.request_consent(
            actor=USER, now=now, deal_size_usd=Decimal("1000.00"), contacts=None,
            disclaimer_accepted=True, link_id=uuid4(),
        )  # fmt: skip
        claim.send_reminder(actor=USER, now=now + timedelta(days=1), link_id=link)
        customer_actor = Actor(kind=ActorKind.CUSTOMER, id=f"c@t{i}.example")
        claim.answer_consent(
            actor=customer_actor, now=now + timedelta(days=2), link_id=link, accept=True
        )
        known = KnownCustomer.recognise(
            partner_id="P-BENCH", customer_id=customer, friendly_name=f"Tenant {i}",
            customer_name=f"Tenant {i} Ltd", claim_id=claim.id, now=now + timedelta(days=2),
        )  # fmt: skip
        proof = (ProofDocument(kind=ProofItem.INVOICE, reference="invoice.pdf"),)
        claim.submit(actor=USER, now=now + timedelta(days=10), proof=proof)
        claim.start_review(actor=SYSTEM, now=now + timedelta(days=11))
        claim.approve(actor=SYSTEM, now=now + timedelta(days=12))
        seat.approve(claim_id=claim.id, now=now + timedelta(days=12))
        pending += [claim, seat, known]
        if len(pending) >= batch * 3:
            ledger.save(*pending)  # type: ignore[arg-type]
            pending = []
    if pending:
        ledger.save(*pending)  # type: ignore[arg-type]
    return ledger.recorder.max_notification_id() or 0


def read_and_decode(ledger: Ledger, page_size: int = 2000) -> int:
    count = 0
    for page in ledger.notification_pages(page_size):
        for notification in page:
            ledger.mapper.to_domain_event(notification)
        count += len(page)
    return count


class Tally(Aggregate):
    """An aggregate of the library's own kind: its default events, mapper and transcoder."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    @event("Counted")
    def count_one(self, by: str, amount: int) -> None:
        self.count += amount


def library_events(server: str, events: int, batch: int = 200) -> Application[Any]:
    """``events`` events of the library's default kind, in a database of their own."""
    env = Settings(database_url=create_database(server, "library")).eventsourcing_env()
    env.pop("APPLICATION_RECORDER_TOPIC", None)
    app: Application[Any] = Application(env=env)
    pending: list[Tally] = []
    for i in range(events // 10):
        tally = Tally(name=f"tally {i}")
        for _ in range(9):
            tally.count_one(by="bench@partner.example", amount=1)
        pending.append(tally)
        if len(pending) >= batch:
            app.save(*pending)
            pending = []
    if pending:
        app.save(*pending)
    return app


def library_read_and_decode(app: Application[Any], page_size: int = 2000) -> int:
    count, position = 0, 0
    while page := app.recorder.select_notifications(position, page_size, inclusive_of_start=False):
        for notification in page:
            app.mapper.to_domain_event(notification)
        count, position = count + len(page), page[-1].id
    return count


def timed(run: Callable[[], int]) -> tuple[int, float]:
    """What ``run`` counted, and the seconds it took."""
    started = time.perf_counter()
    count = run()
    return int(count), time.perf_counter() - started


def filled_store(server: str, name: str, events: int) -> tuple[Settings, Ledger, int]:
    """A new durable database on ``server`` holding claim lifecycles that add up to about
    ``events`` events, written through the aggregates: its settings, its Ledger (open), and
    the events written."""
    claims = max(1, events // EVENTS_PER_CLAIM)
    settings = Settings(
        database_url=create_database(server, name),
        secret_key="bench-signing-key-long-enough-for-hs256-xx",
    )
    ledger = open_ledger(settings, bench_catalog(claims))
    print(f"writing {claims:,} claim lifecycles ...", flush=True)
    written, seconds = timed(lambda: populate(ledger, claims))
    print(f"  {written:,} events in {seconds:.1f} s", flush=True)
    return settings, ledger, written


def operator_env(settings: Settings) -> dict[str, str]:
    """The environment an operator gives the CLI for the store: its LEDGER_* settings."""
    return {
        **os.environ,
        "LEDGER_DATABASE_URL": settings.database_url,
        "LEDGER_SECRET_KEY": settings.secret_key or "",
        "COLUMNS": "120",
    }


def cli_run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``ledger ARGS`` (the installed command, as an operator runs it; its output to
    /dev/null): its wall-clock seconds and peak RSS in MB."""
    installed = Path(sys.executable).with_name("ledger")
    command = [str(installed)] if installed.exists() else [sys.executable, "-m", "cli"]
    started = time.perf_counter()
    process = subprocess.Popen([*command, *args], env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    assert process.returncode == 0, (args, process.returncode)
    return seconds, usage.ru_maxrss / 1024


def report_html(events: int) -> None:
    """``--report-html``: ``ledger report --html FILE`` against ``ledger replay`` of the same
    store, both run by the CLI one after the other, in the same run."""
    with throwaway_cluster(durable=True) as server, tempfile.TemporaryDirectory() as folder:
        settings, ledger, written = filled_store(server, "report", events)
        ledger.close()
        env = operator_env(settings)
        replay_s, replay_mb = cli_run(["replay"], env)
        html = Path(folder) / "report.html"
        report_s, report_mb = cli_run(["report", "--html", str(html)], env)
        size_kb = html.stat().st_size / 1024
        print(
            f"bench replay_rate events={written} replay_s={replay_s:.1f} "
            f"report_html_s={report_s:.1f} ratio_report_to_replay={report_s / replay_s:.2f} "
            f"replay_peak_rss_mb={replay_mb:.0f} report_peak_rss_mb={report_mb:.0f} "
            f"report_html_kb={size_kb:.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument(
        "--report-html",
        action="store_true",
        help="instead: `ledger report --html` against `ledger replay`, same store",
    )
    args = parser.parse_args()
    if args.report_html:
        report_html(args.events)
        return
    with throwaway_cluster(durable=True) as server:
        settings, ledger, events = filled_store(server, "replay", args.events)

        library = library_events(server, events)
        raw, raw_seconds = timed(lambda: read_and_decode(ledger))
        decoded, library_seconds = timed(lambda: library_read_and_decode(library))
        library.close()
        runner = ViewRunner(ledger, ViewStore.open(settings.eventsourcing_env()))
        replayed, replay_seconds = timed(runner.replay)
        raw_rate, replay_rate = raw / raw_seconds, replayed / replay_seconds
        library_rate = decoded / library_seconds
        print(f"raw read-and-decode: {raw:,} events, {raw_rate:,.0f} events/s")
        print(f"library's events:    {decoded:,} events, {library_rate:,.0f} events/s")
        print(f"replay (all views):  {replayed:,} events, {replay_rate:,.0f} events/s")

        env = operator_env(settings)
        print("`ledger replay` as an operator runs it:", flush=True)
        subprocess.run([sys.executable, "-m", "cli", "replay"], env=env, check=True)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        ledger.close()
        print(
            f"bench replay_rate events={replayed} replay_per_s={replay_rate:.0f} "
            f"ours_decode_per_s={raw_rate:.0f} library_decode_per_s={library_rate:.0f} "
            f"ratio_library_decode={replay_rate / library_rate:.2f} peak_rss_mb={peak_mb:.0f}"
        )


if __name__ == "__main__":
    main()
