"""The programme's figures (SPEC 13), each defined once: what a set of claims adds up to (a
``Tally``) and the figures made from it (``Summary``). The live path fills the tally with SQL
aggregates over the views (``ledger.projections.summary_live``), the as-of path claim by claim
from replayed rows (``ledger.projections.summary``); ``figures`` makes the same numbers of
either."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from ledger.aggregates.claim import ClaimState

S = ClaimState
ATTENTION_WITHIN = timedelta(days=7)
ZERO = Decimal("0")
FUNNEL: tuple[str, ...] = (
    "claimed_or_added",
    "consent_requested",
    "consent_received",
    "submitted",
    "approved",
)
"""The stages in order; a claim counts in every stage its events reached, whatever happened
to it later (a claim cancelled after consent counts as consent received)."""
STAGE_EVENTS: dict[str, str] = {
    "consent_requested": "ConsentRequested",
    "consent_received": "ConsentGiven",
    "submitted": "Submitted",
    "approved": "Approved",
}
"""The event that marks each stage after the first (every claim was claimed or added)."""
DROP_OUTS: tuple[tuple[str, frozenset[ClaimState]], ...] = (
    ("declined", frozenset({S.CONSENT_DECLINED})),
    (
        "expired",
        frozenset({S.CONSENT_EXPIRED, S.NOT_SUBMITTED_EXPIRED})
        | {S.POST_SUBMISSION_EXPIRED, S.DISPUTED_EXPIRED},
    ),
    ("cancelled", frozenset({S.CANCELLED})),
    ("rejected", frozenset({S.REJECTED, S.DISPUTED, S.REJECTED_FINAL})),
)
DECIDED = ("Approved", "Rejected")
"""The events that decide a review: time in review runs from a claim's first Submitted to its
first decision."""
MILESTONE_EVENTS = ("ConsentRequested", "ConsentGiven", "Submitted", *DECIDED)
"""The events that mark a stage of the funnel or a time in review."""
LATE = datetime.max.replace(tzinfo=UTC)


def month_of(moment: str) -> str:
    """The month (``2026-03``) of a time as the views write it (``ledger.projections.base.ts``)."""
    return moment[:7]


def pending_payout(proposed: Decimal | None, fixed: Decimal | None) -> Decimal:
    """What a claim still open would pay: its proposed payout, else its fixed one."""
    return proposed or fixed or ZERO


def review_days(submitted: datetime, decided: datetime) -> float:
    return (decided - submitted).total_seconds() / 86400


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (None without values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def approval_rate(states: Counter[ClaimState]) -> float | None:
    """Approved claims over decided ones (approved or dropped out as rejected)."""
    approved = states[S.APPROVED]
    decided = approved + sum(states[s] for s in DROP_OUTS[-1][1])
    return round(approved / decided, 3) if decided else None


def needs_attention(state: ClaimState, deadline: datetime | None, now: datetime) -> bool:
    """A claim still open that asks for the partner, or whose deadline is within a week."""
    if state.terminal:
        return False
    if state is S.PARTNER_ACTION_REQUIRED:
        return True
    return deadline is not None and deadline <= now + ATTENTION_WITHIN


@dataclass(frozen=True)
class Attention:
    claim_id: UUID
    friendly_name: str
    engagement_id: str
    state: ClaimState
    deadline: datetime | None


@dataclass
class Tally:
    """What the figures of a set of claims are made from, added up."""

    states: Counter[ClaimState] = field(default_factory=Counter)
    reached: Counter[str] = field(default_factory=Counter)
    """Claims whose events reached each stage after the first (``STAGE_EVENTS``)."""
    approved_usd: Decimal = ZERO
    pending_usd: Decimal = ZERO
    approved_by_month: dict[str, Decimal] = field(default_factory=dict)
    review_days: list[float] = field(default_factory=list)
    attention: list[Attention] = field(default_factory=list)

    def count(self, state: ClaimState, claims: int, paid: Decimal | None, pending: Decimal) -> None:
        """``claims`` claims in ``state``: what each was paid (approved) or would pay (open)."""
        self.states[state] += claims
        if state is S.APPROVED:
            self.approved_usd += (paid or ZERO) * claims
        elif not state.terminal:
            self.pending_usd += pending * claims

    def approved_in(self, month: str, paid: Decimal | None, claims: int = 1) -> None:
        """``claims`` claims approved in ``month`` (of their last Approved event), each paid."""
        before = self.approved_by_month.get(month, ZERO)
        self.approved_by_month[month] = before + (paid or ZERO) * claims

    def merged(self, others: Iterable[Tally]) -> Tally:
        """This tally and ``others`` added up."""
        total = Tally()
        for one in (self, *others):
            total.states.update(one.states)
            total.reached.update(one.reached)
            total.approved_usd += one.approved_usd
            total.pending_usd += one.pending_usd
            for month, usd in one.approved_by_month.items():
                total.approved_in(month, usd)
            total.review_days += one.review_days
            total.attention += one.attention
        return total


@dataclass
class Summary:
    total_claims: int = 0
    claims_by_state: dict[str, int] = field(default_factory=dict)
    funnel: dict[str, int] = field(default_factory=dict)
    drop_outs: dict[str, int] = field(default_factory=dict)
    approved_usd: Decimal = ZERO
    pending_usd: Decimal = ZERO
    attention: list[Attention] = field(default_factory=list)
    approval_rate: float | None = None
    review_days_median: float | None = None
    review_days_p90: float | None = None
    approved_by_month: dict[str, Decimal] = field(default_factory=dict)


def figures(tally: Tally) -> Summary:
    """Every figure of the programme at a glance, from what the claims in scope add up to."""
    total = sum(tally.states.values())
    days = tally.review_days
    p90 = percentile(days, 0.9)
    return Summary(
        total_claims=total,
        claims_by_state={s.value: tally.states[s] for s in S if tally.states[s]},
        funnel={k: total if k == FUNNEL[0] else tally.reached[k] for k in FUNNEL},
        drop_outs={k: sum(tally.states[s] for s in states) for k, states in DROP_OUTS},
        approved_usd=tally.approved_usd,
        pending_usd=tally.pending_usd,
        attention=sorted(tally.attention, key=lambda a: (a.deadline or LATE, str(a.claim_id))),
        approval_rate=approval_rate(tally.states),
        review_days_median=round(statistics.median(days), 1) if days else None,
        review_days_p90=None if p90 is None else round(p90, 1),
        approved_by_month=dict(sorted(tally.approved_by_month.items())),
    )
