"""Every view, updated page by page while random commands run, equals a fresh replay."""

from __future__ import annotations

import tempfile
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.aggregates.claim import Claim
from ledger.application import Ledger, open_ledger
from ledger.bootstrap import bootstrap
from ledger.commands import Cancel, Dispute, Review
from ledger.errors import LedgerError
from ledger.settings import Settings
from tests.factories import (
    ADMIN_A,
    ADMIN_B,
    FABRIKAM,
    NORTHWIND,
    REVIEWER,
    consent_request,
    create,
    days,
    make_catalog,
    proof,
    view_snapshot,
)

CUSTOMERS = [(FABRIKAM, "cio@fabrikam.com"), (NORTHWIND, "it@northwind.com")]
PARTNERS = [(ADMIN_A, "LOC-A1"), (ADMIN_B, "LOC-B1")]
REVIEWS = ["start", "request_information", "approve", "reject", "reject_final"]

operation = st.one_of(
    st.tuples(
        st.just("create"), st.integers(0, 1), st.integers(0, 1), st.sampled_from(["E-WS", "E-AS"])
    ),
    st.tuples(
        st.sampled_from(["consent", "remind", "accept", "decline", "submit", "cancel", "dispute"]),
        st.integers(0, 9),
    ),
    st.tuples(st.just("review"), st.integers(0, 9), st.sampled_from(REVIEWS)),
    st.tuples(st.just("wait"), st.integers(1, 40)),
    st.tuples(st.just("views"), st.integers(1, 7)),
    st.just(("policies",)),
)


def play(
    ledger: Ledger,
    op: tuple[Any, ...],
    claims: list[tuple[UUID, Any]],
    links: dict[UUID, UUID],
    now: datetime,
) -> None:
    """One operation as a command of the Ledger (views and policies are the caller's)."""
    kind = op[0]
    if kind == "create":
        (customer, email), (principal, location) = CUSTOMERS[op[1]], PARTNERS[op[2]]
        command = create([op[3]], value=customer, customer_email=email, location=location)
        claims += [(c, principal) for c in ledger.create_claims(principal, command, now)]
    elif kind == "wait":  # the caller moved ``now`` on by the days waited
        ledger.expire_due(now)
    elif claims and kind not in {"views", "policies"}:
        claim_id, principal = claims[op[1] % len(claims)]
        if kind == "consent":
            links[claim_id] = ledger.request_consent(principal, claim_id, consent_request(), now)
        elif kind == "remind":
            links[claim_id] = ledger.send_consent_reminder(principal, claim_id, now)
        elif kind in {"accept", "decline"} and claim_id in links:
            ledger.answer_consent(claim_id, links[claim_id], kind == "accept", now)
        elif kind == "submit":
            ledger.submit(principal, claim_id, proof(), now)
        elif kind == "cancel":
            ledger.cancel(principal, claim_id, Cancel(), now)
        elif kind == "dispute":
            ledger.dispute(principal, claim_id, Dispute(reason="see"), now)
        elif kind == "review":
            ledger.review(REVIEWER, claim_id, Review(action=op[2], reason="r"), now)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, min_size=1, max_size=35))
def test_views_equal_a_replay(operations: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = Settings(database_url=f"sqlite:///{folder}/ledger.sqlite3")
        ledger = open_ledger(config, make_catalog())
        services = bootstrap(config, ledger=ledger)
        workers = services.workers
        claims: list[tuple[UUID, Any]] = []
        links: dict[UUID, UUID] = {}
        now = days(0)
        try:
            for op in operations:
                now += timedelta(hours=1)
                if op[0] == "wait":
                    now += timedelta(days=op[1])
                if op[0] == "views":
                    workers.views.page_size = op[1]
                    workers.views.process_page()
                elif op[0] == "policies":
                    workers.policies.catch_up()
                else:
                    with suppress(LedgerError):
                        play(ledger, op, claims, links, now)
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
