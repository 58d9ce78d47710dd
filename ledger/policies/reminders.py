"""Deadline reminders: the partner contact is told ``LEDGER_REMINDER_DAYS`` (7) days before a
claim's running deadline (consent, submission, the partner's action after a review, dispute).

A reminder depends on the clock, not on an event, so the workers' deadline round records it,
with the ``now`` it is given (never the aggregate's clock): one row per running deadline in
``deadline_reminders``, a table beside the views that no replay rebuilds, its id derived from
the claim, the deadline's kind and its time. Recording it again changes nothing, so a restart
or a second process never makes a second one; a deadline that moves (a dispute starts a new
one) is another deadline, with a reminder of its own. A deadline already within the reminder
days when it starts is reminded of at the next round. The outbox sends them (and drops one
whose deadline no longer runs when its turn comes, as after the partner acted).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from ledger.aggregates.claim import GOVERNING_DEADLINE, ClaimState
from ledger.projections.base import ts
from ledger.projections.notices import REMINDER, reminder_id
from ledger.projections.runner import ViewRunner

_DUE = (
    "SELECT c.claim_id, c.state, c.running_deadline, c.contacts, c.friendly_name, "
    "c.engagement_id FROM {p}claims c WHERE c.live = 1 AND c.running_deadline > ? "
    "AND c.running_deadline <= ? AND NOT EXISTS (SELECT 1 FROM deadline_reminders r "
    "WHERE r.claim_id = c.claim_id AND r.expires_at = c.running_deadline)"
)
_INSERT = (
    "INSERT INTO deadline_reminders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)


def record_reminders(views: ViewRunner, now: datetime, reminder_days: int) -> int:
    """Record a reminder of each running deadline due within ``reminder_days`` of ``now``
    and not passed yet, once per deadline; how many were new. The claims view is brought
    up to date first (a lagging view only delays a reminder)."""
    views.catch_up()
    until = now + timedelta(days=reminder_days)
    with views.store.transaction(commit=True) as tx:  # contacts as stored: sealed
        due = tx.rows(_DUE, (ts(now), ts(until)))
        rows = []
        for claim in due:
            kind = GOVERNING_DEADLINE[ClaimState(claim["state"])]
            partner = json.loads(claim["contacts"])["partner"]
            rows.append(
                (
                    reminder_id(claim["claim_id"], kind.value, claim["running_deadline"]),
                    claim["claim_id"],
                    "",
                    REMINDER,
                    partner["email"],
                    claim["friendly_name"],
                    claim["engagement_id"],
                    claim["running_deadline"],
                    ts(now),
                    0,
                    claim["state"],
                )
            )
        tx.executemany(_INSERT, rows)
    return len(rows)
