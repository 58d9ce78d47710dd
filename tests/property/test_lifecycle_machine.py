"""The Ledger driven by random commands from three partners, beside a simple model.

The model restates SPEC section 3 and the limits R10/R14/R15 directly; after every step the
ledger's claims must equal the model's, the invariants must hold on the ledger itself, and
every row of the claims view, brought up to date, must show its Claim aggregate as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    rule,
)

from ledger.aggregates.claim import Claim, ClaimState, DeadlineKind
from ledger.aggregates.values import Contacts
from ledger.domain.commands import Cancel, Dispute, Review
from ledger.domain.errors import LedgerError
from ledger.domain.principal import Principal
from ledger.policies.runner import PolicyRunner
from ledger.projections.runner import ViewRunner
from ledger.projections.store import ViewStore
from ledger.service.application import Ledger
from tests.factories import (
    ADMIN_A,
    ADMIN_B,
    ADMIN_C,
    FABRIKAM,
    NORTHWIND,
    REVIEWER,
    T0,
    consent_request,
    create,
    popo_ledger,
    proof,
)

S = ClaimState
K = DeadlineKind
PARTNERS = {"P-A": (ADMIN_A, "LOC-A1"), "P-B": (ADMIN_B, "LOC-B1"), "P-C": (ADMIN_C, "LOC-C1")}
ENGAGEMENTS = {"E-WS": ("P-A", "P-B"), "E-AS": ("P-A", "P-B", "P-C")}
CUSTOMERS = {FABRIKAM: "it@fabrikam.com", NORTHWIND: "it@northwind.com"}
LIMIT = {"E-WS": 1, "E-AS": 2}
DAYS = {"E-WS": (30, 90, 120, 30), "E-AS": (10, 20, 40, 15)}
RUNNING = {
    S.CUSTOMER_CLAIMED: K.CONSENT,
    S.AWAITING_CONSENT: K.CONSENT,
    S.CONSENT_RECEIVED: K.SUBMISSION,
    S.PARTNER_ACTION_REQUIRED: K.POST_SUBMISSION,
    S.REJECTED: K.DISPUTE,
    S.DISPUTED: K.DISPUTE,
}
EXPIRES_TO = {
    K.CONSENT: S.CONSENT_EXPIRED,
    K.SUBMISSION: S.NOT_SUBMITTED_EXPIRED,
    K.POST_SUBMISSION: S.POST_SUBMISSION_EXPIRED,
    K.DISPUTE: S.DISPUTED_EXPIRED,
}
REVIEW_MOVES = {
    ("start", S.SUBMITTED): S.UNDER_REVIEW,
    ("request_information", S.UNDER_REVIEW): S.PARTNER_ACTION_REQUIRED,
    ("approve", S.UNDER_REVIEW): S.APPROVED,
    ("reject", S.UNDER_REVIEW): S.REJECTED,
    ("reject_final", S.UNDER_REVIEW): S.REJECTED_FINAL,
}


@dataclass
class ModelClaim:
    partner: str
    engagement: str
    customer: str
    state: S
    deadlines: dict[K, datetime]
    link: UUID | None = None
    disputed: bool = False

    @property
    def live(self) -> bool:
        return not self.state.terminal

    def running(self) -> datetime | None:
        kind = RUNNING.get(self.state)
        return None if kind is None else self.deadlines[kind]

    def in_time(self, now: datetime) -> bool:
        deadline = self.running()
        return deadline is None or now < deadline


@dataclass
class Model:
    claims: dict[UUID, ModelClaim] = field(default_factory=dict)
    known: set[tuple[str, str]] = field(default_factory=set)

    def holders(self, engagement: str, customer: str) -> list[ModelClaim]:
        return [
            c
            for c in self.claims.values()
            if (c.engagement, c.customer) == (engagement, customer)
            and (c.live or c.state is S.APPROVED)
        ]


class LedgerMachine(RuleBasedStateMachine):
    claims = Bundle("claims")

    @initialize()
    def start(self) -> None:
        self.ledger: Ledger = popo_ledger()
        self.model = Model()
        self.now = T0
        self.terminal_versions: dict[UUID, int] = {}
        self.seen_deadlines: dict[UUID, dict[K, datetime]] = {}
        self.seen_disputed: dict[UUID, bool] = {}
        # The views beside the in-memory ledger, in an in-memory SQLite database.
        self.store = ViewStore.open(
            {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"}
        )
        self.views = ViewRunner(self.ledger, self.store, page_size=7)
        self.policies = PolicyRunner(self.ledger, self.store, clock=lambda: self.now)

    def teardown(self) -> None:
        if hasattr(self, "store"):
            self.store.close()

    def principal(self, claim_id: UUID) -> Principal:
        return PARTNERS[self.model.claims[claim_id].partner][0]

    def attempt(self, expected: bool, command: Callable[[], object]) -> bool:
        """Run the command; it must succeed exactly when the model says it may."""
        refusal: LedgerError | None = None
        try:
            command()
        except LedgerError as error:
            refusal = error
        assert (refusal is None) == expected, f"model allows: {expected}; ledger: {refusal}"
        return refusal is None

    # -- rules --------------------------------------------------------------------------

    @rule(
        target=claims,
        data=st.data(),
        engagement=st.sampled_from(sorted(ENGAGEMENTS)),
        customer=st.sampled_from(sorted(CUSTOMERS)),
    )
    def create_claim(self, data: st.DataObject, engagement: str, customer: str) -> object:
        partner = data.draw(st.sampled_from(ENGAGEMENTS[engagement]))
        principal, location = PARTNERS[partner]
        known = (partner, customer) in self.model.known
        holders = self.model.holders(engagement, customer)
        allowed = (
            not any(c.partner == partner and c.live for c in holders)
            and len(holders) < LIMIT[engagement]
        )
        command = create(
            [engagement],
            origin="claimed" if known else "added",
            value=customer,
            location=location,
            customer_email=CUSTOMERS[customer],
        )
        made: list[UUID] = []
        self.attempt(
            allowed, lambda: made.extend(self.ledger.create_claims(principal, command, self.now))
        )
        if not made:
            return multiple()
        consent_days = DAYS[engagement][0]
        self.model.claims[made[0]] = ModelClaim(
            partner,
            engagement,
            customer,
            S.CUSTOMER_CLAIMED,
            {K.CONSENT: self.now + timedelta(days=consent_days)},
        )
        return made[0]

    @rule(claim_id=claims)
    def request_consent(self, claim_id: UUID) -> None:
        claim = self.model.claims[claim_id]
        allowed = claim.state is S.CUSTOMER_CLAIMED and claim.in_time(self.now)
        links: list[UUID] = []
        command = consent_request()
        self.attempt(
            allowed,
            lambda: links.append(
                self.ledger.request_consent(self.principal(claim_id), claim_id, command, self.now)
            ),
        )
        if links:
            claim.state, claim.link = S.AWAITING_CONSENT, links[0]

    @rule(claim_id=claims)
    def send_reminder(self, claim_id: UUID) -> None:
        claim = self.model.claims[claim_id]
        allowed = claim.state is S.AWAITING_CONSENT and claim.in_time(self.now)
        links: list[UUID] = []
        self.attempt(
            allowed,
            lambda: links.append(
                self.ledger.send_consent_reminder(self.principal(claim_id), claim_id, self.now)
            ),
        )
        if links:
            claim.link = links[0]

    @rule(
        claim_id=claims,
        accept=st.sampled_from([True, True, False]),
        stale_link=st.sampled_from([False, False, True]),
    )
    def answer_consent(self, claim_id: UUID, accept: bool, stale_link: bool) -> None:
        claim = self.model.claims[claim_id]
        link = uuid4() if stale_link or claim.link is None else claim.link
        allowed = (
            claim.state is S.AWAITING_CONSENT and link == claim.link and claim.in_time(self.now)
        )
        if self.attempt(
            allowed, lambda: self.ledger.answer_consent(claim_id, link, accept, self.now)
        ):
            if not accept:
                claim.state = S.CONSENT_DECLINED
                return
            _, submission, review, _ = DAYS[claim.engagement]
            claim.state = S.CONSENT_RECEIVED
            claim.deadlines[K.SUBMISSION] = self.now + timedelta(days=submission)
            claim.deadlines[K.POST_SUBMISSION] = self.now + timedelta(days=review)
            self.model.known.add((claim.partner, claim.customer))

    @rule(claim_id=claims)
    def submit(self, claim_id: UUID) -> None:
        claim = self.model.claims[claim_id]
        allowed = claim.state in {
            S.CONSENT_RECEIVED,
            S.PARTNER_ACTION_REQUIRED,
            S.DISPUTED,
        } and claim.in_time(self.now)
        if self.attempt(
            allowed,
            lambda: self.ledger.submit(self.principal(claim_id), claim_id, proof(), self.now),
        ):
            claim.state = S.SUBMITTED

    @rule(claim_id=claims, roll=st.integers(0, 3))
    def cancel(self, claim_id: UUID, roll: int) -> None:
        if roll:  # cancel one time in four, so that claims live long enough to go far
            return
        claim = self.model.claims[claim_id]
        allowed = claim.state in {
            S.CUSTOMER_CLAIMED,
            S.AWAITING_CONSENT,
            S.CONSENT_RECEIVED,
        } and claim.in_time(self.now)
        if self.attempt(
            allowed,
            lambda: self.ledger.cancel(self.principal(claim_id), claim_id, Cancel(), self.now),
        ):
            claim.state = S.CANCELLED

    @rule(
        claim_id=claims,
        action=st.sampled_from(
            ["start", "request_information", "approve", "reject", "reject_final"]
        ),
    )
    def review(self, claim_id: UUID, action: str) -> None:
        claim = self.model.claims[claim_id]
        target = REVIEW_MOVES.get((action, claim.state))
        command = Review.model_validate({"action": action, "reason": "because"})
        if not self.attempt(
            target is not None,
            lambda: self.ledger.review(REVIEWER, claim_id, command, self.now),
        ):
            return
        assert target is not None
        if target is S.REJECTED:
            if claim.disputed:
                target = S.REJECTED_FINAL
            else:
                claim.deadlines[K.DISPUTE] = self.now + timedelta(days=DAYS[claim.engagement][3])
        claim.state = target

    @rule(claim_id=claims)
    def dispute(self, claim_id: UUID) -> None:
        claim = self.model.claims[claim_id]
        allowed = claim.state is S.REJECTED and claim.in_time(self.now)
        if self.attempt(
            allowed,
            lambda: self.ledger.dispute(self.principal(claim_id), claim_id, Dispute(), self.now),
        ):
            reset = self.now + timedelta(days=DAYS[claim.engagement][3])
            claim.state, claim.disputed = S.DISPUTED, True
            claim.deadlines[K.POST_SUBMISSION] = claim.deadlines[K.DISPUTE] = reset

    @rule(claim_id=claims, verdict=st.sampled_from(["reject", "approve", "request_information"]))
    def progress(self, claim_id: UUID, verdict: str) -> None:
        """The claim's natural next step, so that long lifecycles are reached often."""
        state = self.model.claims[claim_id].state
        if state is S.CUSTOMER_CLAIMED:
            self.request_consent(claim_id)
        elif state is S.AWAITING_CONSENT:
            self.answer_consent(claim_id, accept=True, stale_link=False)
        elif state in {S.CONSENT_RECEIVED, S.PARTNER_ACTION_REQUIRED, S.DISPUTED}:
            self.submit(claim_id)
        elif state is S.SUBMITTED:
            self.review(claim_id, "start")
        elif state is S.UNDER_REVIEW:
            self.review(claim_id, verdict)
        elif state is S.REJECTED:
            self.dispute(claim_id)

    @rule(verdict=st.sampled_from(["reject", "reject", "approve"]))
    def progress_oldest(self, verdict: str) -> None:
        """The next step of the oldest live claim: long lifecycles, reached often."""
        live = [c for c, m in self.model.claims.items() if m.live]
        if live:
            self.progress(live[0], verdict)

    @rule(hours=st.integers(min_value=1, max_value=24 * 12))
    def advance_clock(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @rule()
    def expire_due(self) -> None:
        expected = set()
        for claim_id, claim in self.model.claims.items():
            deadline = claim.running()
            if deadline is not None and self.now >= deadline:
                expected.add(claim_id)
                kind = RUNNING[claim.state]
                claim.state = EXPIRES_TO[kind]
        assert set(self.ledger.expire_due(self.now)) == expected
        assert self.ledger.expire_due(self.now) == []

    @rule()
    def run_policies(self) -> None:
        """Referrals (R40) and co-sell upgrades (R42): events that do not move the state."""
        self.policies.catch_up()

    @rule(claim_id=consumes(claims))
    def forget(self, claim_id: UUID) -> None:
        """Drop a claim from the bundle so that the others get more attention."""

    # -- invariants ---------------------------------------------------------------------

    def ledger_claims(self) -> list[Claim]:
        return [self.ledger.get_claim(REVIEWER, c) for c in self.ledger.claim_ids()]

    @invariant()
    def ledger_matches_model(self) -> None:
        for claim in self.ledger_claims():
            assert claim.state is self.model.claims[claim.id].state, claim.id

    @invariant()
    def limits_hold(self) -> None:
        held: dict[tuple[str, str], int] = {}
        live: dict[tuple[str, str, str], int] = {}
        for claim in self.ledger_claims():
            key = claim.terms.eligibility_key
            if claim.live or claim.state is S.APPROVED:
                held[(claim.engagement_id, key)] = held.get((claim.engagement_id, key), 0) + 1
            if claim.live:
                triple = (claim.partner_id, claim.engagement_id, key)
                live[triple] = live.get(triple, 0) + 1
        assert all(n <= LIMIT[engagement] for (engagement, _), n in held.items())
        assert all(n <= 1 for n in live.values())

    @invariant()
    def terminal_claims_never_change(self) -> None:
        for claim in self.ledger_claims():
            if claim.id in self.terminal_versions:
                assert claim.version == self.terminal_versions[claim.id]
            elif claim.terminal:
                self.terminal_versions[claim.id] = claim.version

    @invariant()
    def deadlines_move_only_by_a_dispute(self) -> None:
        for claim in self.ledger_claims():
            before = self.seen_deadlines.get(claim.id, {})
            newly_disputed = claim.disputed and not self.seen_disputed.get(claim.id, False)
            for kind, at in before.items():
                if claim.deadlines[kind] != at:
                    assert newly_disputed and kind in {K.POST_SUBMISSION, K.DISPUTE}
            self.seen_deadlines[claim.id] = dict(claim.deadlines)
            self.seen_disputed[claim.id] = claim.disputed

    @invariant()
    def views_show_the_claims(self) -> None:
        self.views.catch_up()
        with self.store.transaction() as tx:
            rows = tx.rows("SELECT * FROM {p}claims ORDER BY created_at, claim_id")
        assert sorted(row["claim_id"] for row in rows) == sorted(str(c) for c in self.model.claims)
        for row in rows:
            claim: object = self.ledger.repository.get(UUID(row["claim_id"]))
            assert isinstance(claim, Claim)
            shown = {**row, "deadlines": json.loads(row["deadlines"])}
            shown["contacts"] = Contacts.model_validate_json(row["contacts"])
            del shown["last_reason"]  # the aggregate does not keep it
            assert shown == expected_row(claim), row["claim_id"]


def text_time(moment: datetime) -> str:
    """A time as the views store it: UTC, microseconds, a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def text_money(amount: object) -> str | None:
    return None if amount is None else str(amount)


def expected_row(claim: Claim) -> dict[str, Any]:
    """What the claims view must show of the claim, read off the aggregate."""
    terms = claim.terms
    running = claim.running_deadline()
    return {
        "claim_id": str(claim.id),
        "partner_id": claim.partner_id,
        "location_id": terms.location_id,
        "engagement_id": claim.engagement_id,
        "friendly_name": terms.friendly_name,
        "customer_name": terms.customer_name,
        "customer_type": terms.customer_id.type.value,
        "customer_value": terms.customer_id.value,
        "eligibility_key": terms.eligibility_key,
        "resolved_tenant_id": terms.resolved_tenant_id,
        "origin": claim.origin,
        "state": claim.state.value,
        "live": 1 if claim.live else 0,
        "had_consent": 1 if claim.had_consent else 0,
        "version": claim.version,
        "created_at": text_time(claim.created_on),
        "updated_at": text_time(claim.modified_on),
        "running_deadline_kind": None if running is None else running[0].value,
        "running_deadline": None if running is None else text_time(running[1]),
        "deadlines": {kind.value: text_time(at) for kind, at in claim.deadlines.items()},
        "deal_size_usd": text_money(claim.deal_size_usd),
        "payout_model": terms.payout_model.value,
        "fixed_payout_usd": text_money(terms.fixed_payout_usd),
        "proposed_payout_usd": text_money(terms.proposed_payout_usd),
        "hours": terms.hours,
        "payout_usd": text_money(claim.payout_usd),
        "contacts": claim.contacts,
        "referral_id": None if claim.referral_id is None else str(claim.referral_id),
        "co_sell": 1 if claim.co_sell else 0,
        "disputed": 1 if claim.disputed else 0,
        "submissions": claim.submissions,
    }


LedgerMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_lifecycle_and_limits = LedgerMachine.TestCase
