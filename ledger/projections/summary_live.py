"""The programme at a glance, live: the figures of ``ledger.projections.figures`` from SQL
aggregates over the claims and history views, never a whole claim row (no contact is opened).

Three reads, scoped as the claim lists are (a partner's own claims at its locations; every
claim for reviewers and auditors; one engagement or all): claims counted by engagement, state
and payout; one row per claim of the history's milestones (the stages its events reached, its
first submission and decision, its last approval); and the few claims that need attention,
with only the columns shown. The first two depend only on the views, so they are kept per
scope and views position (``LiveFigures``); the third depends on the clock, and is read each
time.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger.aggregates.claim import ClaimState
from ledger.domain.principal import Principal, Role
from ledger.projections.base import parse_ts, ts
from ledger.projections.claim_queries import location_clause
from ledger.projections.figures import (
    ATTENTION_WITHIN,
    DECIDED,
    MILESTONE_EVENTS,
    STAGE_EVENTS,
    Attention,
    Summary,
    Tally,
    figures,
    month_of,
    needs_attention,
    pending_payout,
    review_days,
)
from ledger.projections.runner import views_position
from ledger.projections.store import Tx, ViewStore

S = ClaimState


def _listed(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


COUNTS = (
    "SELECT c.engagement_id AS engagement_id, c.state AS state, "
    f"CASE WHEN c.state = '{S.APPROVED.value}' THEN c.payout_usd END AS paid, "
    "CASE WHEN c.live = 1 THEN c.proposed_payout_usd END AS proposed, "
    "CASE WHEN c.live = 1 THEN c.fixed_payout_usd END AS fixed, COUNT(*) AS claims "
    "FROM {p}claims c{where} GROUP BY 1, 2, 3, 4, 5"
)
"""Claims by engagement and state, with the amounts the payouts add (SUM of text would be a
float in SQLite: the exact sums are made in Python, one amount per group)."""
_REACHED = ", ".join(
    f"MAX(CASE WHEN h.event = '{event}' THEN 1 ELSE 0 END) AS {stage}"
    for stage, event in STAGE_EVENTS.items()
)
MILESTONES = (
    "SELECT c.engagement_id AS engagement_id, c.state AS state, c.payout_usd AS payout_usd, "
    f"c.updated_at AS updated_at, {_REACHED}, "
    "MIN(CASE WHEN h.event = 'Submitted' THEN h.occurred_at END) AS first_submitted, "
    f"MIN(CASE WHEN h.event IN ({_listed(DECIDED)}) THEN h.occurred_at END) AS first_decided, "
    "MAX(CASE WHEN h.event = 'Approved' THEN h.occurred_at END) AS last_approved "
    "FROM {p}claims c LEFT JOIN {p}history h ON h.claim_id = c.claim_id "
    f"AND h.event IN ({_listed(MILESTONE_EVENTS)}){{where}} "
    "GROUP BY c.claim_id, c.engagement_id, c.state, c.payout_usd, c.updated_at"
)
"""Each claim's milestones from its events (the history's ``history_milestones`` index)."""
ATTENTION = (
    "SELECT c.claim_id AS claim_id, c.friendly_name AS friendly_name, "
    "c.engagement_id AS engagement_id, c.state AS state, c.running_deadline AS deadline "
    "FROM {p}claims c{where} AND c.live = 1 "
    f"AND (c.state = '{S.PARTNER_ACTION_REQUIRED.value}' OR c.running_deadline <= ?)"
)


def scope(principal: Principal, engagement_id: str | None) -> tuple[str, list[Any]]:
    """The claims the principal's figures count, as a WHERE clause on the claims view ``c``."""
    sql, params = " WHERE 1 = 1", []
    if not principal.roles & {Role.REVIEWER, Role.AUDITOR}:
        clause, locations = location_clause(principal)  # no other table has location_id
        sql, params = sql + " AND c.partner_id = ?" + clause, [principal.partner_id, *locations]
    if engagement_id is not None:
        sql, params = sql + " AND c.engagement_id = ?", [*params, engagement_id]
    return sql, params


def _money(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _count(tallies: dict[str, Tally], rows: list[dict[str, Any]]) -> None:
    for row in rows:
        pending = pending_payout(_money(row["proposed"]), _money(row["fixed"]))
        tally = tallies.setdefault(row["engagement_id"], Tally())
        tally.count(S(row["state"]), int(row["claims"]), _money(row["paid"]), pending)


def _milestones(tallies: dict[str, Tally], rows: list[dict[str, Any]]) -> None:
    approved = S.APPROVED.value
    for row in rows:
        tally = tallies[row["engagement_id"]]
        for stage in STAGE_EVENTS:
            if row[stage]:
                tally.reached[stage] += 1
        submitted, decided = row["first_submitted"], row["first_decided"]
        if submitted is not None and decided is not None:
            tally.review_days.append(review_days(parse_ts(submitted), parse_ts(decided)))
        if row["state"] == approved:
            month = month_of(row["last_approved"] or row["updated_at"])
            tally.approved_in(month, _money(row["payout_usd"]))


def tallies(tx: Tx, principal: Principal, engagement_id: str | None) -> dict[str, Tally]:
    """What the claims in scope add up to, by engagement (those that have claims), without
    the claims that need attention."""
    where, params = scope(principal, engagement_id)
    found: dict[str, Tally] = {}
    _count(found, tx.rows(COUNTS.replace("{where}", where), params))
    _milestones(found, tx.rows(MILESTONES.replace("{where}", where), params))
    return found


def attention(
    tx: Tx, principal: Principal, engagement_id: str | None, now: datetime
) -> list[Attention]:
    """The claims in scope that need attention at ``now``, their displayed columns only."""
    where, params = scope(principal, engagement_id)
    rows = tx.rows(ATTENTION.replace("{where}", where), [*params, ts(now + ATTENTION_WITHIN)])
    found = []
    for row in rows:
        state, deadline = S(row["state"]), row["deadline"]
        moment = None if deadline is None else parse_ts(deadline)
        if needs_attention(state, moment, now):
            claim_id = UUID(row["claim_id"])
            found.append(
                Attention(claim_id, row["friendly_name"], row["engagement_id"], state, moment)
            )
    return found


Figures = tuple[Summary, dict[str, Summary]]
"""The figures of every claim in scope, and of each engagement that has claims."""


class LiveFigures:
    """The last few scopes' figures, kept while the views have not moved: a page asked for
    again reads only the views' position and the claims that need attention (which depend on
    the clock). A new position or generation (a replay's switch) makes every kept one stale."""

    def __init__(self, keep: int = 8) -> None:
        self._kept: OrderedDict[tuple[Any, ...], Figures] = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()

    def figures(
        self, store: ViewStore, principal: Principal, engagement_id: str | None, now: datetime
    ) -> Figures:
        """The figures the principal may see, live, with the claims that need attention."""
        generation = store.generation()
        # Read before the figures: they are then of this position or a later one, never older.
        position = views_position(store, generation)
        key = (*_scope_key(principal), engagement_id, generation, position)
        with store.transaction(generation, sealed=True) as tx:
            with self._lock:
                found = self._kept.get(key)
                if found is not None:
                    self._kept.move_to_end(key)
            if found is None:
                found = _summaries(tallies(tx, principal, engagement_id))
                self._keep_one(key, found)
            needing = attention(tx, principal, engagement_id, now)
        return _with_attention(found, needing)

    def _keep_one(self, key: tuple[Any, ...], found: Figures) -> None:
        with self._lock:
            self._kept[key] = found
            while len(self._kept) > self._keep:
                self._kept.popitem(last=False)


def _scope_key(principal: Principal) -> tuple[Any, ...]:
    if principal.roles & {Role.REVIEWER, Role.AUDITOR}:
        return ("programme",)
    return ("partner", principal.partner_id, tuple(location_clause(principal)[1]))


def _summaries(found: dict[str, Tally]) -> Figures:
    total = Tally().merged(found.values())
    return figures(total), {e: figures(found[e]) for e in sorted(found)}


def _with_attention(found: Figures, needing: list[Attention]) -> Figures:
    total, engagements = found
    total = dataclasses.replace(total, attention=figures(Tally(attention=needing)).attention)
    return total, {
        e: dataclasses.replace(s, attention=[a for a in total.attention if a.engagement_id == e])
        for e, s in engagements.items()
    }
