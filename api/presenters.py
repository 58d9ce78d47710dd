"""Presentation: read-model rows as the API shows them (labels, links, text times, CSV)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from api.schemas import (
    AttentionOut,
    ClaimDetails,
    ClaimSummary,
    CommandOut,
    ContactsOut,
    CustomerIdOut,
    HistoryEntry,
    PayoutsOut,
    ProofOut,
    QueueItem,
    ReferralLink,
    ReferralOut,
    SummaryOut,
    TabItem,
)
from ledger.aggregates.claim import Action, ClaimState, action_label
from ledger.aggregates.values import usd_text
from ledger.domain import access
from ledger.domain.customer_ids import CustomerId
from ledger.domain.principal import Principal
from ledger.interface.exports import CSV_COLUMNS as CSV_COLUMNS
from ledger.interface.exports import claims_csv as claims_csv
from ledger.projections.base import ts
from ledger.projections.claim_queries import ClaimRow, HistoryRow
from ledger.projections.customers_page import KnownCustomerEntry
from ledger.projections.customers_page import TabItem as TabEntry
from ledger.projections.referral_queries import ReferralRow
from ledger.projections.summary import Summary

AS_OF_NOTE = (
    "As of {at}: the claims as they stood then, each folded from its events up to that time "
    "(no commands: nothing can be done in the past); the known customers are those "
    "recognised by then, listed with their eligibility by today's catalog and today's claim "
    "counts, not as they were then."
)
MSX_ONLY_NOTE = (
    "This engagement accepts only MSX opportunity ids: eligibility is decided per "
    "opportunity when a claim is made, so no customer is listed as ineligible."
)


def _text(moment: datetime | None) -> str | None:
    return None if moment is None else ts(moment)


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else usd_text(amount)


_PATHS = {
    Action.REQUEST_CONSENT: "consent-request",
    Action.SEND_CONSENT_REMINDER: "consent-reminder",
    Action.SUBMIT: "submission",
    Action.DISPUTE: "dispute",
    Action.CANCEL: "cancellation",
}
CLAIM_CUSTOMER = CommandOut(
    name="claim_customer", label="Claim customer", method="POST", href="/v1/claims"
)


def commands(row: ClaimRow, principal: Principal) -> list[CommandOut]:
    """What the principal may do to the claim now, by name, with its label and endpoint."""
    allowed = access.allowed_commands(principal, row.state, row.partner_id, row.location_id)
    return [_command(row.claim_id, row.state, action) for action in allowed]


def _command(claim_id: object, state: ClaimState, action: Action) -> CommandOut:
    path = _PATHS.get(action, "review")
    return CommandOut(
        name=action.value,
        label=action_label(state, action),
        method="POST",
        href=f"/v1/claims/{claim_id}/{path}",
    )


def _customer(customer_id: CustomerId) -> CustomerIdOut:
    return CustomerIdOut(type=customer_id.type.value, value=customer_id.value)


def summary_fields(
    row: ClaimRow, now: datetime, principal: Principal, past: bool = False
) -> dict[str, object]:
    """``past``: the claim as it stood at ``now``, a time gone by: nothing can be done there."""
    allowed = [] if past else commands(row, principal)
    return {
        "claim_id": row.claim_id,
        "engagement_id": row.engagement_id,
        "friendly_name": row.friendly_name,
        "partner_id": row.partner_id,
        "customer_name": row.customer_name,
        "customer_id": _customer(row.customer_id),
        "location_id": row.location_id,
        "origin": row.origin,
        "state": row.state.value,
        "label": row.state.label,
        "terminal": row.state.terminal,
        "actions": [c.label for c in allowed],
        "commands": allowed,
        "running_deadline": _text(row.running_deadline),
        "running_deadline_kind": None
        if row.running_deadline_kind is None
        else row.running_deadline_kind.value,
        "days_left": row.days_left(now),
        "created_at": ts(row.created_at),
        "updated_at": ts(row.updated_at),
        "version": row.version,
    }


def _proof(row: ClaimRow) -> list[ProofOut]:
    return [ProofOut(kind=p.kind, reference=p.reference) for p in row.proof]


def claim_summary(row: ClaimRow, now: datetime, principal: Principal) -> ClaimSummary:
    return ClaimSummary.model_validate(summary_fields(row, now, principal))


def queue_item(row: ClaimRow, now: datetime, principal: Principal) -> QueueItem:
    return QueueItem.model_validate(
        {**summary_fields(row, now, principal), "partner_id": row.partner_id, "proof": _proof(row)}
    )


def claim_details(
    row: ClaimRow, now: datetime, principal: Principal, as_of: datetime | None = None
) -> ClaimDetails:
    """The claim's details; ``as_of``: as it stood at that time (no commands, days left
    then)."""
    referral = None
    if row.referral_id is not None:
        referral = ReferralLink(
            referral_id=row.referral_id,
            link=f"/v1/referrals/{row.referral_id}",
            co_sell=row.co_sell,
            may_open=access.may_open_referrals(principal),
        )
    return ClaimDetails.model_validate(
        {
            **summary_fields(row, now if as_of is None else as_of, principal, as_of is not None),
            "partner_id": row.partner_id,
            "resolved_tenant_id": row.resolved_tenant_id,
            "deadlines": {kind.value: ts(at) for kind, at in row.deadlines.items()},
            "contacts": ContactsOut.model_validate(row.contacts.model_dump(mode="json")),
            "deal_size_usd": _money(row.deal_size_usd),
            "payout_model": row.payout_model.value,
            "fixed_payout_usd": _money(row.fixed_payout_usd),
            "hours": row.hours,
            "proposed_payout_usd": _money(row.proposed_payout_usd),
            "payout_usd": _money(row.payout_usd),
            "had_consent": row.had_consent,
            "disputed": row.disputed,
            "submissions": row.submissions,
            "last_reason": row.last_reason,
            "referral": referral,
            "proof": _proof(row),
            "consent_email": None if row.consent_email is None else row.consent_email.value,
            "as_of": None if as_of is None else ts(as_of),
        }
    )


def tab_item(
    item: TabEntry, now: datetime, principal: Principal, completed: bool, past: bool = False
) -> TabItem:
    """A tab's row; ``past``: the tab as it stood at ``now``, a time gone by (no commands)."""
    if isinstance(item, KnownCustomerEntry):
        base = {
            "kind": "customer",
            "friendly_name": item.friendly_name,
            "customer_name": item.customer_name,
        }
        if item.eligible and past:
            return TabItem.model_validate({**base, "customer_id": _customer(item.customer_id)})
        if item.eligible:
            return TabItem.model_validate(
                {
                    **base,
                    "customer_id": _customer(item.customer_id),
                    "actions": [CLAIM_CUSTOMER.label],
                    "commands": [CLAIM_CUSTOMER],
                }
            )
        return TabItem.model_validate(
            {
                **base,
                "customer_id": _customer(item.customer_id),
                "reasons": list(item.reasons),
                "rule": item.rule,
                "hint": None if item.hint is None else item.hint.say(),
            }
        )
    fields = {**summary_fields(item, now, principal, past), "kind": "claim"}
    if completed:
        fields["payout_usd"] = _money(item.payout_usd)
    return TabItem.model_validate(fields)


def history_entry(row: HistoryRow) -> HistoryEntry:
    return HistoryEntry(
        version=row.version,
        event=row.event,
        occurred_at=ts(row.occurred_at),
        actor=row.actor,
        data=row.data,
    )


def referral(row: ReferralRow) -> ReferralOut:
    return ReferralOut(
        referral_id=row.referral_id,
        claim_id=row.claim_id,
        partner_id=row.partner_id,
        engagement_id=row.engagement_id,
        customer_name=row.customer_name,
        customer_type=row.customer_id.type.value,
        customer_value=row.customer_id.value,
        tenant_id=row.tenant_id,
        status=row.status,
        substatus=row.substatus,
        type=row.type,
        qualification=row.qualification,
        deal_value_usd=usd_text(row.deal_value_usd),
        created_at=ts(row.created_at),
        updated_at=ts(row.updated_at),
    )


def summary(found: Summary, as_of: datetime | None) -> SummaryOut:
    """The programme's figures as the API answers them."""
    return SummaryOut(
        total_claims=found.total_claims,
        claims_by_state=found.claims_by_state,
        funnel=found.funnel,
        drop_outs=found.drop_outs,
        payouts_usd=PayoutsOut(approved=found.approved_usd, pending=found.pending_usd),
        attention_required=[
            AttentionOut(
                claim_id=a.claim_id,
                friendly_name=a.friendly_name,
                engagement_id=a.engagement_id,
                state=a.state.value,
                deadline=None if a.deadline is None else a.deadline.isoformat(),
                link=f"/v1/claims/{a.claim_id}",
            )
            for a in found.attention
        ],
        approval_rate=found.approval_rate,
        review_days_median=found.review_days_median,
        review_days_p90=found.review_days_p90,
        payouts_approved_by_month=found.approved_by_month,
        as_of=None if as_of is None else as_of.isoformat(),
    )
