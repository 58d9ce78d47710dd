"""The programme at a glance (SPEC 13): claims by state, the funnel, payouts, what needs the
partner's attention and time in review, computed once from claim rows and their review times.

Live, the rows come from the claims view and the times from the history view; as of a time
(reports), both come from replaying the claim events up to it. Either way one function,
``summarize``, makes the figures, so the page, the API and the report agree.
"""

from __future__ import annotations

import statistics
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger.aggregates.claim import Claim, ClaimState, fold
from ledger.domain.access import engagement
from ledger.domain.errors import ForbiddenError
from ledger.domain.principal import PARTNER_ROLES, Principal, Role
from ledger.projections.base import parse_ts
from ledger.projections.claim_queries import ClaimRow, location_clause
from ledger.projections.claims import row_of
from ledger.projections.store import ViewStore
from ledger.service.application import Ledger
from ledger.words.refusals import names

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


MILESTONE_EVENTS = ("ConsentRequested", "ConsentGiven", "Submitted", "Approved", "Rejected")
"""The events that mark a stage of the funnel or a time in review."""


@dataclass(frozen=True)
class Milestones:
    """When a claim first reached each stage its events mark (None: not reached), and when it
    was first decided (approved or rejected)."""

    consent_requested: datetime | None = None
    consent_received: datetime | None = None
    submitted: datetime | None = None
    decided: datetime | None = None
    approved: datetime | None = None

    def seen(self, event: str, at: datetime) -> Milestones:
        submitted = self.submitted or (at if event == "Submitted" else None)
        return Milestones(
            consent_requested=self.consent_requested or _at(event, "ConsentRequested", at),
            consent_received=self.consent_received or _at(event, "ConsentGiven", at),
            submitted=submitted,
            decided=self.decided or (at if event in DECIDED and submitted else None),
            approved=_at(event, "Approved", at) or self.approved,
        )

    def reached(self, stage: str) -> bool:
        """Whether the claim reached the funnel's ``stage`` (every claim was claimed or added)."""
        return stage == "claimed_or_added" or getattr(self, stage) is not None


def _at(event: str, wanted: str, at: datetime) -> datetime | None:
    return at if event == wanted else None


@dataclass(frozen=True)
class Attention:
    claim_id: UUID
    friendly_name: str
    engagement_id: str
    state: ClaimState
    deadline: datetime | None


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


def require_summary_access(principal: Principal) -> None:
    """Partner roles (their own claims), reviewers and auditors; 403 for anyone else."""
    allowed = PARTNER_ROLES | {Role.REVIEWER, Role.AUDITOR}
    if principal.is_partner_user or principal.roles & {Role.REVIEWER, Role.AUDITOR}:
        return
    raise ForbiddenError("role-required", params={"role": names(sorted(allowed), "or")})


def require_programme_access(principal: Principal) -> None:
    """Reviewers and auditors (the programme's figures, every partner); 403 for anyone else."""
    if not principal.roles & {Role.REVIEWER, Role.AUDITOR}:
        raise ForbiddenError(
            "role-required", params={"role": names([Role.REVIEWER, Role.AUDITOR], "or")}
        )


def in_scope(principal: Principal, row: ClaimRow) -> bool:
    """Whether the principal's figures count the claim: all claims for the programme's
    roles, the partner's own (at its locations) otherwise."""
    if principal.roles & {Role.REVIEWER, Role.AUDITOR}:
        return True
    return row.partner_id == principal.partner_id and principal.may_use_location(row.location_id)


def needs_attention(row: ClaimRow, now: datetime) -> bool:
    if row.state.terminal:
        return False
    if row.state is S.PARTNER_ACTION_REQUIRED:
        return True
    return row.running_deadline is not None and row.running_deadline <= now + ATTENTION_WITHIN


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (None without values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def _review_figures(summary: Summary, times: Iterable[Milestones]) -> None:
    days = [
        (t.decided - t.submitted).total_seconds() / 86400
        for t in times
        if t.submitted is not None and t.decided is not None
    ]
    summary.review_days_median = round(statistics.median(days), 1) if days else None
    p90 = percentile(days, 0.9)
    summary.review_days_p90 = None if p90 is None else round(p90, 1)


def summarize(rows: Iterable[ClaimRow], times: dict[UUID, Milestones], now: datetime) -> Summary:
    """Every figure of the programme at a glance, from the rows in scope."""
    summary, counted = Summary(), list(rows)
    summary.total_claims = len(counted)
    for state in S:
        found = sum(1 for r in counted if r.state is state)
        if found:
            summary.claims_by_state[state.value] = found
    reached = [times.get(r.claim_id, Milestones()) for r in counted]
    summary.funnel = {k: sum(1 for m in reached if m.reached(k)) for k in FUNNEL}
    summary.drop_outs = {k: sum(1 for r in counted if r.state in s) for k, s in DROP_OUTS}
    for row in counted:
        if row.state is S.APPROVED:
            summary.approved_usd += row.payout_usd or ZERO
            month = times.get(row.claim_id, Milestones()).approved or row.updated_at
            key = month.strftime("%Y-%m")
            summary.approved_by_month[key] = summary.approved_by_month.get(key, ZERO) + (
                row.payout_usd or ZERO
            )
        elif not row.state.terminal:
            summary.pending_usd += row.proposed_payout_usd or row.fixed_payout_usd or ZERO
    summary.approved_by_month = dict(sorted(summary.approved_by_month.items()))
    decided = [r for r in counted if r.state in DROP_OUTS[-1][1] | {S.APPROVED}]
    approved = sum(1 for r in decided if r.state is S.APPROVED)
    summary.approval_rate = round(approved / len(decided), 3) if decided else None
    _review_figures(summary, (times[r.claim_id] for r in counted if r.claim_id in times))
    late = datetime.max.replace(tzinfo=now.tzinfo)
    attention = sorted(
        (r for r in counted if needs_attention(r, now)),
        key=lambda r: (r.running_deadline or late, str(r.claim_id)),
    )
    summary.attention = [
        Attention(r.claim_id, r.friendly_name, r.engagement_id, r.state, r.running_deadline)
        for r in attention
    ]
    return summary


def live_inputs(
    store: ViewStore, principal: Principal, engagement_id: str | None
) -> tuple[list[ClaimRow], dict[UUID, Milestones]]:
    """The rows in scope from the claims view, and their review times from the history."""
    require_summary_access(principal)
    sql, params = "FROM {p}claims WHERE 1 = 1", []
    if not principal.roles & {Role.REVIEWER, Role.AUDITOR}:
        clause, locations = location_clause(principal)
        sql, params = sql + " AND partner_id = ?" + clause, [principal.partner_id, *locations]
    if engagement_id is not None:
        sql, params = sql + " AND engagement_id = ?", [*params, engagement_id]
    # Sealed: the figures use no contact, so none is opened (that cost most of the time); and
    # the rows are built after the transaction, which PostgreSQL ends after 10 s idle in it.
    with store.transaction(sealed=True) as tx:
        found = tx.rows("SELECT * " + sql, params)
        events = tx.rows(
            "SELECT claim_id, event, occurred_at FROM {p}history "
            f"WHERE event IN ({', '.join(repr(e) for e in MILESTONE_EVENTS)}) "
            f"AND claim_id IN (SELECT claim_id {sql}) ORDER BY claim_id, version",
            params,
        )
    rows = [ClaimRow.of(r) for r in found]
    return rows, _times_of(events, {str(r.claim_id) for r in rows})


def _times_of(events: list[dict[str, Any]], wanted: set[str]) -> dict[UUID, Milestones]:
    times: dict[UUID, Milestones] = {}
    for event in events:
        if event["claim_id"] in wanted:
            claim_id = UUID(event["claim_id"])
            at = parse_ts(event["occurred_at"])
            times[claim_id] = times.get(claim_id, Milestones()).seen(event["event"], at)
    return times


def replayed_inputs(
    ledger: Ledger,
    until: datetime,
    progress: Callable[[int, int], None] | None = None,
    page_size: int = 5000,
) -> tuple[list[ClaimRow], dict[UUID, Milestones]]:
    """Every claim as it stood at ``until``, folded from its events up to then (no views), and
    the review times of those events."""
    events: dict[UUID, list[Claim.Event]] = {}
    total, done = ledger.event_log.behind(0), 0
    for page in ledger.notification_pages(page_size):
        for notification in page:
            event = ledger.mapper.to_domain_event(notification)
            if isinstance(event, Claim.Event) and event.timestamp <= until:
                events.setdefault(event.originator_id, []).append(event)
        done += len(page)
        if progress is not None:
            progress(done, max(total, done))
    rows = [ClaimRow.of(row_of(fold(e))) for e in events.values()]
    times: dict[UUID, Milestones] = {}
    for claim_id, claim_events in events.items():
        for event in claim_events:
            seen = times.get(claim_id, Milestones())
            times[claim_id] = seen.seen(type(event).__name__, event.timestamp)
    return rows, times


Inputs = tuple[list[ClaimRow], dict[UUID, Milestones]]


class Replays:
    """The last few replays up to a time, kept while the log has not moved: figures as of a
    past time are asked for again and again (the page, then the API, then a filter), and each
    replay reads the whole log. A new event (its position) makes every kept replay stale."""

    def __init__(self, keep: int = 4) -> None:
        self._kept: OrderedDict[tuple[datetime, int], Inputs] = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()

    def inputs(self, ledger: Ledger, until: datetime) -> Inputs:
        key = (until, ledger.event_log.last_written())
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        found = replayed_inputs(ledger, until)
        with self._lock:
            self._kept[key] = found
            while len(self._kept) > self._keep:
                self._kept.popitem(last=False)
        return found


def scoped(
    principal: Principal, rows: Iterable[ClaimRow], engagement_id: str | None
) -> list[ClaimRow]:
    """The replayed rows the principal's figures count (as ``live_inputs`` selects them)."""
    require_summary_access(principal)
    return [
        r
        for r in rows
        if in_scope(principal, r) and (engagement_id is None or r.engagement_id == engagement_id)
    ]


def summary_of(
    store: ViewStore,
    ledger: Ledger,
    replays: Replays,
    principal: Principal,
    engagement_id: str | None,
    now: datetime,
    as_of: datetime | None = None,
) -> Summary:
    """The figures the principal may see: live from the views, or as of a time from the
    events up to it (with the deadlines within a week of that time). An engagement the
    catalog does not have is 404."""
    if engagement_id is not None:
        engagement(ledger.catalog, engagement_id)
    if as_of is None:
        rows, times = live_inputs(store, principal, engagement_id)
        return summarize(rows, times, now)
    require_summary_access(principal)
    rows, times = replays.inputs(ledger, as_of)
    return summarize(scoped(principal, rows, engagement_id), times, as_of)


def by_engagement(
    rows: Sequence[ClaimRow], times: dict[UUID, Milestones], now: datetime
) -> dict[str, Summary]:
    """The figures of each engagement that has claims, by engagement id."""
    engagements = sorted({r.engagement_id for r in rows})
    return {
        e: summarize([r for r in rows if r.engagement_id == e], times, now) for e in engagements
    }
