"""The programme at a glance (SPEC 13): claims by state, the funnel, payouts, what needs the
partner's attention and time in review.

Live, the figures are SQL aggregates over the claims and history views
(``ledger.projections.summary_live``); as of a time (reports), they are added up claim by claim
from replaying the claim events up to it (here). Either way ``ledger.projections.figures``
defines each figure once, from a ``Tally``, so the page, the API and the report agree.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from ledger.aggregates.claim import Claim, fold
from ledger.domain.access import engagement
from ledger.domain.errors import ForbiddenError
from ledger.domain.principal import PARTNER_ROLES, Principal, Role
from ledger.projections.base import ts
from ledger.projections.claim_queries import ClaimRow
from ledger.projections.claims import row_of
from ledger.projections.figures import (
    DECIDED,
    FUNNEL,
    STAGE_EVENTS,
    Attention,
    S,
    Summary,
    Tally,
    figures,
    month_of,
    needs_attention,
    pending_payout,
    review_days,
)
from ledger.projections.store import ViewStore
from ledger.projections.summary_live import LiveFigures
from ledger.service.application import Ledger
from ledger.words.refusals import names

__all__ = ["LiveFigures", "Summary"]  # where the rest of the app finds them


@dataclass(frozen=True)
class Milestones:
    """When a claim's events first reached each stage they mark (None: not reached), first
    decided it (approved or rejected) and last approved it: as the live figures read them
    from the history (``ledger.projections.summary_live.MILESTONES``)."""

    consent_requested: datetime | None = None
    consent_received: datetime | None = None
    submitted: datetime | None = None
    decided: datetime | None = None
    approved: datetime | None = None

    def seen(self, event: str, at: datetime) -> Milestones:
        return Milestones(
            consent_requested=_first(self.consent_requested, event, "ConsentRequested", at),
            consent_received=_first(self.consent_received, event, "ConsentGiven", at),
            submitted=_first(self.submitted, event, "Submitted", at),
            decided=_first(self.decided, event, event if event in DECIDED else "", at),
            approved=max(self.approved or at, at) if event == "Approved" else self.approved,
        )

    def reached(self, stage: str) -> bool:
        """Whether the claim reached the funnel's ``stage`` (every claim was claimed or added)."""
        return stage == FUNNEL[0] or getattr(self, stage) is not None


def _first(seen: datetime | None, event: str, wanted: str, at: datetime) -> datetime | None:
    if event != wanted:
        return seen
    return at if seen is None else min(seen, at)


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


def tally_of(rows: Iterable[ClaimRow], times: dict[UUID, Milestones], now: datetime) -> Tally:
    """What the rows add up to, claim by claim (the live figures add up the same in SQL)."""
    tally = Tally()
    for row in rows:
        seen = times.get(row.claim_id, Milestones())
        pending = pending_payout(row.proposed_payout_usd, row.fixed_payout_usd)
        tally.count(row.state, 1, row.payout_usd, pending)
        tally.reached.update(stage for stage in STAGE_EVENTS if seen.reached(stage))
        if seen.submitted is not None and seen.decided is not None:
            tally.review_days.append(review_days(seen.submitted, seen.decided))
        if row.state is S.APPROVED:
            tally.approved_in(month_of(ts(seen.approved or row.updated_at)), row.payout_usd)
        if needs_attention(row.state, row.running_deadline, now):
            tally.attention.append(
                Attention(
                    row.claim_id,
                    row.friendly_name,
                    row.engagement_id,
                    row.state,
                    row.running_deadline,
                )
            )
    return tally


def summarize(rows: Iterable[ClaimRow], times: dict[UUID, Milestones], now: datetime) -> Summary:
    """Every figure of the programme at a glance, from the (replayed) rows in scope."""
    return figures(tally_of(rows, times, now))


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
    """The replayed rows the principal's figures count (as ``summary_live.scope`` selects
    them)."""
    require_summary_access(principal)
    return [
        r
        for r in rows
        if in_scope(principal, r) and (engagement_id is None or r.engagement_id == engagement_id)
    ]


def summary_of(
    store: ViewStore,
    ledger: Ledger,
    caches: tuple[LiveFigures, Replays],
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
    require_summary_access(principal)
    live, replays = caches
    if as_of is None:
        return live.figures(store, principal, engagement_id, now)[0]
    rows, times = replays.inputs(ledger, as_of)
    return summarize(scoped(principal, rows, engagement_id), times, as_of)


def by_engagement(
    rows: Sequence[ClaimRow], times: dict[UUID, Milestones], now: datetime
) -> dict[str, Summary]:
    """The figures of each engagement that has claims, by engagement id (replayed rows)."""
    engagements = sorted({r.engagement_id for r in rows})
    return {
        e: summarize([r for r in rows if r.engagement_id == e], times, now) for e in engagements
    }
