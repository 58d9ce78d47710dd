"""The commands the policies give (R40, R42, R50): idempotent, so a policy may run twice.

Each returns what it ``Changed``; calling it on the ledger saves that (``LedgerBase.run``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from uuid import UUID

from ledger.aggregates.base import SYSTEM, Actor
from ledger.aggregates.referral import Referral
from ledger.domain.customer_ids import IdType
from ledger.service.ledger_base import Changed, Command, LedgerBase, aware


class PolicyCommands(LedgerBase):
    """Referrals, co-sell upgrades and expiry, as the policies run them."""

    @Command
    def create_referral(
        self, claim_id: UUID, now: datetime, actor: Actor = SYSTEM
    ) -> Changed[UUID | None]:
        """The referral policy's command (R40): create the claim's referral once; its id."""
        now = aware(now)
        claim = self._claim(claim_id)
        if claim.referral_id is not None or not claim.qualifies_for_referral:
            return Changed(claim.referral_id)
        assert claim.deal_size_usd is not None and claim.terms.resolved_tenant_id is not None
        referral = Referral.open(
            actor=actor,
            now=now,
            claim_id=claim.id,
            partner_id=claim.partner_id,
            engagement_id=claim.engagement_id,
            customer_name=claim.terms.customer_name or claim.terms.friendly_name,
            customer_id=claim.terms.customer_id,
            tenant_id=claim.terms.resolved_tenant_id,
            deal_value_usd=claim.deal_size_usd,
        )
        if not claim.record_referral(actor=actor, now=now, referral_id=referral.id):
            return Changed(None)  # the claim ended before the policy ran: it never changes again
        return Changed(referral.id, (claim, referral))

    @Command
    def upgrade_to_co_sell(
        self, claim_id: UUID, now: datetime, actor: Actor = SYSTEM
    ) -> Changed[bool]:
        """The co-sell policy's command (R42): after consent, for managed customers, once."""
        now = aware(now)
        claim = self._claim(claim_id)
        referral = None if claim.referral_id is None else self.find(claim.referral_id, Referral)
        tenant_id = claim.terms.resolved_tenant_id
        tenant = self.catalog.directory.tenant_for(IdType.TENANT_ID, tenant_id or "")
        if referral is None or tenant is None or not tenant.managed:
            return Changed(False)
        if not claim.upgrade_to_co_sell(actor=actor, now=now):
            return Changed(False)
        referral.upgrade_to_co_sell(actor=actor, now=now)
        return Changed(True, (claim, referral))

    @Command
    def expire(self, claim_id: UUID, now: datetime) -> Changed[bool]:
        """Expire one claim if its running deadline has passed; idempotent (R50)."""
        now = aware(now)
        claim = self._claim(claim_id)
        if not claim.expire(now=now):
            return Changed(False)
        return self._changed_claim(claim, now, True)

    def expire_due(self, now: datetime, claim_ids: Iterator[UUID] | None = None) -> list[UUID]:
        """Expire every claim whose applicable deadline has passed at ``now`` (R50)."""
        candidates = self.claim_ids() if claim_ids is None else claim_ids
        return [claim_id for claim_id in candidates if self.expire(claim_id, now)]
