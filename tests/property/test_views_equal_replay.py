"""Every view, updated page by page while random commands run, equals a fresh replay."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, example, given, settings

from ledger.aggregates.claim import Claim
from ledger.runtime.bootstrap import bootstrap
from ledger.service.application import open_ledger
from ledger.service.settings import Settings
from tests.factories import days, make_catalog, view_snapshot
from tests.property.commands import Tally, operations


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
@example(  # the customer consented on one engagement: on another it is claimed, not added (R15)
    [("create", 0, 0, "E-WS"), ("consent", 0), ("accept", 0), ("create", 0, 0, "E-AS")]
)
def test_views_equal_a_replay(ops: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = Settings(database_url=f"sqlite:///{folder}/ledger.sqlite3")
        ledger = open_ledger(config, make_catalog())
        services = bootstrap(config, ledger=ledger)
        workers = services.workers
        claims: list[tuple[UUID, Any]] = []
        links: dict[UUID, UUID] = {}
        now = days(0)
        tally = Tally(ledger)
        try:
            for op in ops:
                now += timedelta(hours=1)
                if op[0] == "wait":
                    now += timedelta(days=op[1])
                if op[0] == "views":
                    workers.views.page_size = op[1]
                    workers.views.process_page()
                elif op[0] == "policies":
                    workers.policies.catch_up()
                else:
                    tally.play(op, claims, links, now)
            tally.done(claims)
            workers.policies.catch_up()
            workers.views.page_size = 3
            workers.views.catch_up()
            live = view_snapshot(workers)
            workers.views.page_size = 1000
            workers.views.replay()
            assert view_snapshot(workers) == live
            assert len(live["claims"]) == len(claims)
            queries = services.read_models.claims
            for claim_id, principal in claims:  # a command's answer, from the write model
                events = [e for e in ledger.events.get(claim_id) if isinstance(e, Claim.Event)]
                assert queries.folded(principal, events) == queries.details(principal, claim_id)
        finally:
            services.close()
