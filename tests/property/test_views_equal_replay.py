"""Every view, updated page by page while random commands run, equals a fresh replay."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from typing import Any
from unittest import mock
from uuid import UUID

from hypothesis import HealthCheck, example, given, settings

from ledger.aggregates.claim import Claim
from ledger.projections import customers_page
from ledger.runtime.bootstrap import Services, bootstrap
from ledger.service.application import open_ledger
from ledger.service.settings import Settings
from tests.factories import days, make_catalog, view_snapshot
from tests.property.commands import PARTNERS, Tally, operations

KNOWN_TO_A_ON_E_WS = [("create", 0, 0, "E-WS"), ("consent", 0), ("accept", 0)]
KNOWN_TO_B_ON_E_AS = [("create", 0, 1, "E-AS"), ("consent", 0), ("accept", 0)]


def tabs(services: Services) -> dict[tuple[str, str, str], list[str]]:
    """Every partner's tabs of every engagement, as names and claim ids."""
    page, shown = services.read_models.customers, {}
    for partner, _ in PARTNERS:
        for engagement in page.catalog.engagements:
            for tab in ("eligible", "ineligible"):
                items = page.tab(partner, engagement.id, tab, limit=500).items
                shown[(partner.user_id, engagement.id, tab)] = [
                    str(getattr(i, "claim_id", None) or i.friendly_name) for i in items
                ]
    return shown


def assert_kept_tabs_are_every_customer_sorted_anew(
    services: Services, live: dict[str, list[dict[str, Any]]]
) -> None:
    """The kept Customers tabs equal what sorting every known customer anew gives, and the
    pages read from them equal the pages that assess every known customer."""
    store = services.workers.store
    with store.transaction(commit=True) as tx:
        tx.execute("DELETE FROM {p}customer_tabs")
        tx.execute("DELETE FROM {p}customer_tab_catalog")
    services.workers.views.settle()
    assert view_snapshot(services.workers) == live
    kept = tabs(services)
    with mock.patch.object(customers_page, "kept_digest", return_value=None):
        assert tabs(services) == kept


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
@example(  # the customer consented on one engagement: on another it is claimed, not added (R15)
    [("create", 0, 0, "E-WS"), ("consent", 0), ("accept", 0), ("create", 0, 0, "E-AS")]
)
@example(  # a claim ended after its customer was known: the tab shows the customer again
    [*KNOWN_TO_A_ON_E_WS, ("views", 7), ("views", 7), ("cancel", 0)]
)
@example(  # A's claim takes the customer's one place: it leaves B's Eligible tab (R10)
    [*KNOWN_TO_B_ON_E_AS, ("views", 7), ("views", 7), ("create", 0, 0, "E-WS")]
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
            assert_kept_tabs_are_every_customer_sorted_anew(services, live)
            assert len(live["claims"]) == len(claims)
            queries = services.read_models.claims
            for claim_id, principal in claims:  # a command's answer, from the write model
                events = [e for e in ledger.events.get(claim_id) if isinstance(e, Claim.Event)]
                assert queries.folded(principal, events) == queries.details(principal, claim_id)
        finally:
            services.close()
