"""Random commands for the property tests, and a tally that checks each one's outcome: a
command either succeeds and writes events, or is refused as the claim's state or a rule
refuses it and writes none. Any other error is a bug and fails the test."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from hypothesis import event, target
from hypothesis import strategies as st

from ledger.domain.commands import Cancel, Dispute, Review
from ledger.domain.customer_ids import CustomerId, IdType
from ledger.domain.errors import ConflictError, LedgerError, RuleRefusedError
from ledger.service.application import Ledger
from tests.factories import (
    ADMIN_A,
    ADMIN_B,
    FABRIKAM,
    NORTHWIND,
    REVIEWER,
    consent_request,
    create,
    proof,
)

CUSTOMERS = [(FABRIKAM, "cio@fabrikam.com"), (NORTHWIND, "it@northwind.com")]
PARTNERS = [(ADMIN_A, "LOC-A1"), (ADMIN_B, "LOC-B1")]
REVIEWS = ["start", "request_information", "approve", "reject", "reject_final"]

REFUSALS = (ConflictError, RuleRefusedError)
"""What a random command may meet: the claim's state does not allow it (or the customer's
seats are taken), or a rule refuses it. Not found, forbidden, invalid input or a stale
version would be a bug here (every command names its own claim, as its own partner)."""

create_op = st.tuples(
    st.just("create"), st.integers(0, 1), st.integers(0, 1), st.sampled_from(["E-WS", "E-AS"])
)
operation = st.one_of(
    create_op,
    st.tuples(
        st.sampled_from(["consent", "remind", "accept", "decline", "submit", "cancel", "dispute"]),
        st.integers(0, 9),
    ),
    st.tuples(st.just("review"), st.integers(0, 9), st.sampled_from(REVIEWS)),
    st.tuples(st.just("wait"), st.integers(1, 40)),
    st.tuples(st.just("views"), st.integers(1, 7)),
    st.just(("policies",)),
)
operations = st.tuples(create_op, st.lists(operation, max_size=34)).map(
    lambda first_and_rest: [first_and_rest[0], *first_and_rest[1]]
)
"""Up to 35 operations, the first a create (which a fresh store cannot refuse)."""


def play(
    ledger: Ledger,
    op: tuple[Any, ...],
    claims: list[tuple[UUID, Any]],
    links: dict[UUID, UUID],
    now: datetime,
) -> str | None:
    """One operation as a command of the Ledger (views and policies are the caller's): the
    command's name, or None when the operation had nothing to act on."""
    kind = op[0]
    if kind == "create":
        (customer, email), (principal, location) = CUSTOMERS[op[1]], PARTNERS[op[2]]
        command = create([op[3]], value=customer, customer_email=email, location=location)
        claims += [(c, principal) for c in ledger.create_claims(principal, command, now)]
    elif kind == "wait":  # the caller moved ``now`` on by the days waited
        ledger.expire_due(now)
    elif not claims or kind in {"views", "policies"}:
        return None
    else:
        claim_id, principal = claims[op[1] % len(claims)]
        if kind == "consent":
            links[claim_id] = ledger.request_consent(principal, claim_id, consent_request(), now)
        elif kind == "remind":
            links[claim_id] = ledger.send_consent_reminder(principal, claim_id, now)
        elif kind in {"accept", "decline"}:
            if claim_id not in links:
                return None
            ledger.answer_consent(claim_id, links[claim_id], kind == "accept", now)
        elif kind == "submit":
            ledger.submit(principal, claim_id, proof(), now)
        elif kind == "cancel":
            ledger.cancel(principal, claim_id, Cancel(), now)
        elif kind == "dispute":
            ledger.dispute(principal, claim_id, Dispute(reason="see"), now)
        elif kind == "review":
            ledger.review(REVIEWER, claim_id, Review(action=op[2], reason="r"), now)
        else:
            raise AssertionError(f"unknown operation {op}")
    return str(kind)


@dataclass
class Tally:
    """The outcome of each command of one run, checked as it comes."""

    ledger: Ledger
    succeeded: int = 0
    refused: int = 0
    seats: set[tuple[int, str]] = field(default_factory=set)
    """(customer, engagement) asked for so far: the first ask for each cannot be refused."""

    def play(
        self,
        op: tuple[Any, ...],
        claims: list[tuple[UUID, Any]],
        links: dict[UUID, UUID],
        now: datetime,
    ) -> None:
        before = self.ledger.event_log.head()
        first_ask = op[0] == "create" and (op[1], op[3]) not in self.seats
        if op[0] == "create":
            self.seats.add((op[1], op[3]))
        refusal: LedgerError | None = None
        ran: str | None = None
        try:
            ran = play(self.ledger, op, claims, links, now)
        except REFUSALS as refused:
            refusal = refused
        if refusal is not None:
            if first_ask and refusal.slug == "customer-already-known":  # R15: consented before,
                first_ask = not self.known(op)  # on another engagement: claim it, not add it
            assert not first_ask, f"the first claim of a customer was refused: {refusal}"
            assert self.ledger.event_log.head() == before, f"{op} was refused yet wrote events"
            self.refused += 1
            event(f"refused: {op[0]} ({refusal.slug})")
            return
        if ran is None or ran == "wait":  # nothing to act on; or no deadline was due
            return
        assert self.ledger.event_log.head() > before, f"{op} succeeded yet wrote no event"
        self.succeeded += 1
        event(f"succeeded: {ran}")

    def known(self, op: tuple[Any, ...]) -> bool:
        """Whether the create's customer is known to its partner (consented to it before)."""
        (customer, _), (principal, _) = CUSTOMERS[op[1]], PARTNERS[op[2]]
        found = CustomerId(type=IdType.TENANT_ID, value=customer)
        return self.ledger.is_known_customer(principal.partner_id, found)

    def done(self, claims: list[tuple[UUID, Any]]) -> None:
        """At the end of a run: some commands succeeded (the first create at least)."""
        assert claims, "no claim was made"
        assert self.succeeded >= len(self.seats) >= 1, (self.succeeded, self.seats)
        target(float(self.succeeded), label="commands that succeeded")
