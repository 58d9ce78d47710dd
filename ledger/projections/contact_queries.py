"""The contacts a form can offer from what the claims view knows: the partner contact a user
gave on their last claim, and the customer contact of a known customer's last claim.

Contacts are personal data: the view keeps them sealed under each contact's key and a read
opens them, so an erased contact reads ``[erased]``; such a contact is never offered (an older
claim's, not erased, is). Only claims the principal may see are read (its partner, and its
locations for an incentives user, R1).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from ledger.aggregates.base import ActorKind
from ledger.aggregates.values import TRUSTED, Contact, Contacts
from ledger.domain.customer_ids import CustomerId
from ledger.domain.principal import Principal
from ledger.projections.base import dumps
from ledger.projections.claim_queries import like_literal, location_clause
from ledger.projections.store import ViewStore
from ledger.store.personal import ERASED

LOOKED_AT = 20
"""Claims read, newest first, for one contact that was not erased."""


def made_by(principal: Principal) -> str:
    """The start of the history's actor of an event the principal's user made: the view
    writes an actor as sorted, compact JSON, so it starts with its id and its kind."""
    return dumps({"id": principal.user_id, "kind": ActorKind.USER.value})[:-1] + ","


Side = Literal["customer", "partner"]


def _first_kept(rows: Iterable[dict[str, Any]], side: Side) -> Contact | None:
    """The contact on that side of the first row whose contact was not erased."""
    for row in rows:
        contacts = Contacts.model_validate_json(row["contacts"], context=TRUSTED)
        contact = contacts.customer if side == "customer" else contacts.partner
        if ERASED not in (contact.name, contact.email):
            return contact
    return None


class ContactQueries:
    def __init__(self, store: ViewStore) -> None:
        self.store = store

    def last_partner_contact(self, principal: Principal) -> Contact | None:
        """The partner contact on the newest claim the principal's user made, if any."""
        partner_id = principal.require_partner_role()
        scope, params = location_clause(principal)
        with self.store.transaction() as tx:
            rows = tx.rows(
                "SELECT c.contacts, h.actor FROM {p}claims c JOIN {p}history h "
                "ON h.claim_id = c.claim_id AND h.version = 1 "
                f"WHERE c.partner_id = ?{scope} "  # location_id: the history has none
                "AND h.actor LIKE ? ESCAPE '\\' "
                f"ORDER BY c.created_at DESC, c.claim_id DESC LIMIT {LOOKED_AT}",
                [partner_id, *params, like_literal(made_by(principal)) + "%"],
            )
        mine = made_by(principal)  # LIKE ignores case in SQLite; the actor's start does not
        return _first_kept((r for r in rows if r["actor"].startswith(mine)), "partner")

    def last_customer_contact(self, principal: Principal, customer: CustomerId) -> Contact | None:
        """The customer contact on the partner's newest claim of this customer id."""
        partner_id = principal.require_partner_role()
        scope, params = location_clause(principal)
        with self.store.transaction() as tx:
            rows = tx.rows(
                "SELECT contacts FROM {p}claims WHERE partner_id = ? AND customer_type = ? "
                f"AND customer_value = ?{scope} "
                f"ORDER BY created_at DESC, claim_id DESC LIMIT {LOOKED_AT}",
                [partner_id, customer.type.value, customer.value, *params],
            )
        return _first_kept(rows, "customer")
