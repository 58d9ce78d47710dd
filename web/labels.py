"""Words the domain gives in English that the page shows translated: marked for extraction.

The state labels and action labels come from ``ledger.aggregates.claim``; the page looks them
up in its catalogs by their English text, and this list is what ``pybabel extract`` finds
(``tests/unit/test_labels.py`` holds it to the aggregate's labels and to the catalogs).
"""

from __future__ import annotations

from ledger.aggregates.claim import ClaimState
from ledger.words import refusals
from ledger.words.i18n import N_

STATE_LABELS = [
    N_("Customer claimed"),
    N_("Awaiting customer consent response"),
    N_("Customer consent received"),
    N_("Customer consent declined"),
    N_("Customer consent expired"),
    N_("Canceled"),
    N_("Not submitted expired"),
    N_("Submitted"),
    N_("Under review"),
    N_("Partner action required"),
    N_("Post submission expired"),
    N_("Approved"),
    N_("Rejected"),
    N_("Disputed"),
    N_("Disputed expired"),
    N_("Rejected final"),
]
ACTION_LABELS = [
    N_("Send customer consent email"),
    N_("Resend consent email"),
    N_("Cancel"),
    N_("Dispute"),
    N_("Start review"),
    N_("Request information"),
    N_("Approve"),
    N_("Reject"),
    N_("Reject final"),
    N_("Submit claim"),
    N_("Update proof and resubmit"),
    N_("Update proof and submit"),
    N_("Claim customer"),
]
REASONS = refusals.REASONS
"""Why a known customer is ineligible (R5, R9, R10), in words (``ledger.words.refusals``)."""
ID_TYPES = {
    "domain": N_("Domain name"),
    "tenant_id": N_("Tenant ID"),
    "tpid": N_("TPID (top parent ID)"),
    "azure_subscription_id": N_("Azure subscription ID"),
    "msx_opportunity_id": N_("MSX opportunity ID"),
}
"""The five customer id types (R4), as the page names them."""
KINDS = {
    "assessment": N_("Assessment"),
    "workshop": N_("Workshop"),
    "project_xs": N_("Project (XS)"),
    "project_s": N_("Project (S)"),
    "project_m": N_("Project (M)"),
    "project_l": N_("Project (L)"),
}
"""The kinds of engagement, as the page names them."""
FUNNEL_LABELS = {
    "claimed_or_added": N_("Claimed or added"),
    "consent_requested": N_("Consent requested"),
    "consent_received": N_("Consent received"),
    "submitted": N_("Submitted for review"),
    "approved": N_("Approved for payout"),
}
"""The dashboard's stages (``ledger.projections.figures.FUNNEL``), in order."""
DROP_OUT_LABELS = {
    "declined": N_("Declined by the customer"),
    "expired": N_("Expired"),
    "cancelled": N_("Cancelled by the partner"),
    "rejected": N_("Rejected by a reviewer"),
}


def state_label(state: str) -> str:
    """The English label of a state's value (``approved``: Approved), for the catalogs."""
    return ClaimState(state).label
