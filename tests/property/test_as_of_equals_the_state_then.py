"""The claim as of a time (SPEC 11) is the claim as it was then: for random commands on a clock
that moves forward by random amounts, the as-of read at each event's time (and between two
events, and before the first) equals the Claim aggregate at that version, with the days left
counted at that time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.aggregates.claim import Action, Claim
from ledger.audit.as_of import parse_as_of
from ledger.domain.commands import Cancel, Dispute, Review, parse
from ledger.domain.errors import InvalidTransitionError, LedgerError, NotFoundError
from ledger.domain.principal import Principal
from ledger.projections.claim_queries import ClaimQueries, ClaimRow
from ledger.runtime.bootstrap import Services, bootstrap
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from tests.conftest import Clock
from tests.factories import (
    AUDITOR,
    REVIEWER,
    consent_request,
    create,
    days,
    make_catalog,
    proof,
)
from tests.property.commands import CUSTOMERS, PARTNERS, REFUSALS

WEIGHTS = {Action.CANCEL: 1, Action.SEND_CONSENT_REMINDER: 1, Action.REJECT_FINAL: 1}
"""How often a step takes each action the claim's state allows, against 4 for the others:
the lifecycle mostly moves on."""
ZONES = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))

gap = st.one_of(  # between two operations: often minutes, sometimes days
    st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(hours=2)),
    st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=3)),
)
operation = st.tuples(
    st.integers(
        0, 19
    ),  # what: 0-2 create, 3-15 a step of a claim's lifecycle, 16-17 wait, policies
    st.integers(0, 9),  # the customer (create), or which claim (step)
    st.integers(0, 1),  # the partner (create)
    st.sampled_from(["E-WS", "E-AS"]),  # the engagement (create)
    st.integers(0, 99),  # which of the actions the claim's state allows (step)
    st.timedeltas(timedelta(days=1), timedelta(days=40)),  # how long (wait)
)
operations = st.tuples(
    operation.map(lambda op: (0, *op[1:])), st.lists(operation, min_size=9, max_size=39)
).map(lambda first_and_rest: [first_and_rest[0], *first_and_rest[1]])
"""10 to 40 operations, the first a create (which a fresh store cannot refuse)."""


def days_left_at(deadline: datetime, moment: datetime) -> int:
    """Whole days until ``deadline`` at ``moment``, a part of a day counting as one."""
    n = 0
    while moment + timedelta(days=n) < deadline:
        n += 1
    return n


def assert_is_the_aggregate_then(
    row: ClaimRow, claim: Claim, events: list[Claim.Event], moment: datetime
) -> None:
    """The as-of row shows the aggregate ``claim`` (the claim after ``events``) at ``moment``."""
    assert (row.claim_id, row.origin) == (claim.id, claim.origin)
    assert (row.partner_id, row.location_id, row.engagement_id) == (
        claim.partner_id,
        claim.terms.location_id,
        claim.engagement_id,
    )
    assert (row.friendly_name, row.customer_id, row.resolved_tenant_id) == (
        claim.terms.friendly_name,
        claim.terms.customer_id,
        claim.terms.resolved_tenant_id,
    )
    assert (row.payout_model, row.hours) == (claim.terms.payout_model, claim.terms.hours)
    assert (row.state, row.version) == (claim.state, claim.version)
    assert row.deadlines == claim.deadlines
    running = claim.running_deadline()
    assert (row.running_deadline_kind, row.running_deadline) == (running or (None, None))
    expected_days = None
    if running is not None and not claim.terminal:
        expected_days = days_left_at(running[1], moment)
    assert row.days_left(moment) == expected_days
    assert (row.payout_usd, row.deal_size_usd) == (claim.payout_usd, claim.deal_size_usd)
    assert (row.fixed_payout_usd, row.proposed_payout_usd) == (
        claim.terms.fixed_payout_usd,
        claim.terms.proposed_payout_usd,
    )
    assert row.contacts == claim.contacts
    assert (row.had_consent, row.submissions, row.disputed) == (
        claim.had_consent,
        claim.submissions,
        claim.disputed,
    )
    assert (row.referral_id, row.co_sell, row.proof) == (
        claim.referral_id,
        claim.co_sell,
        claim.proof,
    )
    assert (row.created_at, row.updated_at) == (events[0].timestamp, events[-1].timestamp)


def act(
    ledger: Ledger, claim_id: UUID, principal: Principal, action: Action, n: int, now: datetime
) -> None:
    """One action on the claim (refused if a deadline passed meanwhile, or a reason lacks)."""
    if action is Action.REQUEST_CONSENT:
        ledger.request_consent(principal, claim_id, consent_request(), now)
    elif action is Action.SEND_CONSENT_REMINDER:
        ledger.send_consent_reminder(principal, claim_id, now)
    elif action is Action.ANSWER_CONSENT:
        link = ledger.get_claim(AUDITOR, claim_id).consent_link_id
        assert link is not None
        ledger.answer_consent(claim_id, link, n % 3 != 0, now)
    elif action is Action.CANCEL:
        ledger.cancel(principal, claim_id, Cancel(reason="changed plans"), now)
    elif action is Action.SUBMIT:
        ledger.submit(principal, claim_id, proof(), now)
    elif action is Action.DISPUTE:
        ledger.dispute(principal, claim_id, Dispute(reason="see the proof"), now)
    else:
        review = parse(Review, {"action": action.value, "reason": "r"})
        ledger.review(REVIEWER, claim_id, review, now)


def run(
    services: Services, clock: Clock, operations: list[tuple[Any, ...]], gaps: st.DataObject
) -> list[UUID]:
    """Play the operations, each after its gap on the clock; the claims made, in order."""
    ledger, workers = services.ledger, services.workers
    claims: list[tuple[UUID, Any]] = []
    succeeded = 0
    clock.now = days(0)
    for n, op in enumerate(operations):
        clock.now += gaps.draw(gap)
        now = clock.now
        what, which, partner, engagement, choice, wait = op
        refusal: LedgerError | None = None
        try:
            if what <= 2:
                (customer, email), (principal, location) = CUSTOMERS[which % 2], PARTNERS[partner]
                command = create(
                    [engagement], value=customer, customer_email=email, location=location
                )
                claims += [(c, principal) for c in ledger.create_claims(principal, command, now)]
                succeeded += 1
            elif what <= 15 and claims:
                claim_id, principal = claims[which % len(claims)]
                allowed = ledger.get_claim(AUDITOR, claim_id).allowed_actions
                weighted = [a for a in allowed for _ in range(WEIGHTS.get(a, 4))]
                if weighted:
                    act(ledger, claim_id, principal, weighted[choice % len(weighted)], choice, now)
                    succeeded += 1
            elif what in {16, 17}:
                clock.now += wait
                ledger.expire_due(clock.now, iter([c for c, _ in claims]))
            elif what > 17:
                workers.policies.catch_up()
        except REFUSALS as refused:  # a deadline passed, or the customer's seats are taken
            refusal = refused
        # The first create cannot be refused, nor an action the claim's state allows.
        assert refusal is None or (n > 0 and not isinstance(refusal, InvalidTransitionError)), (
            op,
            refusal,
        )
    assert claims and succeeded >= 1
    clock.now += gaps.draw(gap)
    workers.policies.catch_up()  # the policies' events too, at the clock's time
    return [c for c, _ in claims]


def as_of(
    queries: ClaimQueries, events: list[Claim.Event], moment: datetime, zone: timezone
) -> ClaimRow:
    """The as-of read, given its time as ISO-8601 text in a time zone, as the API takes it."""
    at = parse_as_of(moment.astimezone(zone).isoformat(), days(10_000))
    assert at == moment
    return queries.as_of(AUDITOR, events, at)


@pytest.fixture(params=["sqlite", "postgres"])
def new_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[], Settings]:
    """Settings for a fresh, empty store of each kind: one per example, as the catalog's few
    customers hold few seats (R10)."""
    if request.param == "sqlite":
        return lambda: Settings(
            database_url=f"sqlite:///{tmp_path_factory.mktemp('as-of') / 'ledger.sqlite3'}"
        )
    fresh_database: Callable[[], str] = request.getfixturevalue("fresh_database")
    return lambda: Settings(
        database_url=fresh_database(),
        secret_key="a-test-signing-key-that-is-long-enough-for-hs256",
        mail_dir=tmp_path_factory.mktemp("mail"),
    )


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(operations=operations, data=st.data())
def test_the_claim_as_of_each_event_is_the_claim_after_it(
    new_store: Callable[[], Settings], operations: list[tuple[Any, ...]], data: st.DataObject
) -> None:
    config, clock = new_store(), Clock()
    services = bootstrap(config, ledger=open_ledger(config, make_catalog()), clock=clock)
    try:
        check(services, run(services, clock, operations, data), data)
    finally:
        services.close()


def check(services: Services, claims: list[UUID], data: st.DataObject) -> None:
    ledger, queries = services.ledger, services.read_models.claims
    services.workers.views.catch_up()
    assert claims
    for claim_id in claims:
        events = ledger.claim_events(claim_id)
        times = [e.timestamp for e in events]
        assert times == sorted(times)  # the clock only moves forward
        assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
        # A command's answer after the first n events (their facts folded with ``evolve``) is
        # the repository's aggregate at version n, for every version; and the view's stored
        # row (its facts kept between pages, evolved page by page) is the aggregate now.
        for n in range(1, len(events) + 1):
            then: object = ledger.repository.get(claim_id, version=n)
            assert isinstance(then, Claim)
            assert then.version == n
            folded = queries.folded(AUDITOR, events[:n])
            assert_is_the_aggregate_then(folded, then, events[:n], times[n - 1])
        latest: object = ledger.repository.get(claim_id)
        assert isinstance(latest, Claim)
        assert latest.version == len(events)
        stored = queries.details(AUDITOR, claim_id)
        assert_is_the_aggregate_then(stored, latest, events, times[-1])
        zone = data.draw(ZONES)
        with pytest.raises(NotFoundError):  # before the claim existed
            as_of(queries, events, times[0] - timedelta(microseconds=1), zone)
        for n, event in enumerate(events, start=1):
            # At an event's time: the claim right after it (and after any event recorded at
            # the very same time, as a policy's two are).
            at = max(v for v, t in enumerate(times, start=1) if t <= event.timestamp)
            claim: object = ledger.repository.get(claim_id, version=at)
            assert isinstance(claim, Claim)
            row = as_of(queries, events, event.timestamp, zone)
            assert_is_the_aggregate_then(row, claim, events[:at], event.timestamp)
            if n < len(events) and times[n] > event.timestamp:  # between this one and the next
                between = event.timestamp + (times[n] - event.timestamp) / 2
                if between > event.timestamp:
                    row = as_of(queries, events, between, zone)
                    assert_is_the_aggregate_then(row, claim, events[:at], between)
        now = as_of(queries, events, times[-1] + timedelta(days=1), zone)
        assert now == stored  # a time after the last event: the claim now
