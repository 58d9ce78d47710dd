"""The Ledger application: the service layer. One short method per command.

Each command loads what it needs, lets the aggregate (which holds the rules) act, and returns
what it ``Changed``: its result and the aggregates to save. ``LedgerBase.run`` is the one step
that saves them, in one atomic save with the request's idempotency record; when a concurrent
writer got there first, the store refuses the save and ``run`` runs the command again on fresh
state, so its checks always see the latest facts (R16). Called on the ledger
(``ledger.submit(...)``), a command runs through ``run`` with no key. Decisions that need only
the catalog are made by ``ledger.domain.creation``; who may reach what is decided by
``ledger.domain.access``; loading, saving and the write-model queries are ``LedgerBase``'s; the
policies' commands ``PolicyCommands``'.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from uuid import UUID, uuid4

from ledger.aggregates.base import Actor, ActorKind
from ledger.aggregates.claim import Action, Claim, ClaimState
from ledger.aggregates.known import KnownCustomer
from ledger.aggregates.seat import Seat
from ledger.aggregates.values import AttachedDocument, Contacts, ProofDocument
from ledger.audit.tamper import AuditTables, UnverifiableStoreError
from ledger.domain import creation
from ledger.domain.access import Purpose
from ledger.domain.catalog import Catalog, Engagement, load_catalog
from ledger.domain.commands import Cancel, CreateClaims, Dispute, ProofInput, RequestConsent, Review
from ledger.domain.commands import Submit as SubmitCommand
from ledger.domain.errors import NotFoundError, RuleRefusedError
from ledger.domain.principal import Principal, Role
from ledger.service.ledger_base import Changed, Command, ConsentRequest, aware, check_version
from ledger.service.policy_commands import PolicyCommands
from ledger.service.settings import Settings, SettingsError
from ledger.store.personal import ERASED
from ledger.store.schema import schema_lock
from ledger.words.refusals import named

__all__ = ["ConsentRequest", "Ledger", "open_ledger"]


class Ledger(PolicyCommands):
    """Claims: creation, consent, submission, review, dispute, expiry; and their history."""

    name = "Ledger"

    # -- creation (R1-R19) ------------------------------------------------------------------

    @Command
    def create_claims(
        self, principal: Principal, command: CreateClaims, now: datetime
    ) -> Changed[list[UUID]]:
        """Add a customer or claim a known one: one claim per engagement, all or none (R11).

        Every check runs again on a retry: a concurrent save may have changed the facts."""
        now = aware(now)
        plan = self._plan(principal, command)
        seats = self._seats(plan, now)
        creation.check_eligible(plan, seats)
        claims = [self._new_claim(principal, plan, e, seats[e.id], now) for e in plan.engagements]
        return Changed([c.id for c in claims], (*claims, *seats.values()))

    def check_claims(self, principal: Principal, command: CreateClaims, now: datetime) -> None:
        """Every check ``create_claims`` makes, and nothing made: the page's wizard asks it
        before its review step (``create_claims`` checks it all again when it runs)."""
        plan = self._plan(principal, command)
        creation.check_eligible(plan, self._seats(plan, aware(now)))
        for engagement in plan.engagements:  # what each claim would record: R12's payout
            creation.claim_terms(self.catalog, plan, engagement)

    def _plan(self, principal: Principal, command: CreateClaims) -> creation.CreationPlan:
        plan = creation.plan_claims(self.catalog, principal, command)
        known_id = KnownCustomer.id_for(plan.partner_id, plan.customer_id)
        seat_ids = [Seat.id_for(e.id, plan.eligibility_key) for e in plan.engagements]
        self.read_many([known_id, *seat_ids])  # one round trip for what the command reads
        known = self.is_known_customer(plan.partner_id, plan.customer_id)
        creation.check_origin(command.origin, known)
        return plan

    def _seats(self, plan: creation.CreationPlan, now: datetime) -> dict[str, Seat]:
        return {e.id: self._seat(e.id, plan.eligibility_key, now) for e in plan.engagements}

    def _new_claim(
        self,
        principal: Principal,
        plan: creation.CreationPlan,
        engagement: Engagement,
        seat: Seat,
        now: datetime,
    ) -> Claim:
        """The engagement's claim, made, and held on its seat."""
        claim = Claim.create(
            claim_id=uuid4(),
            origin=plan.command.origin,
            now=now,
            actor=principal.actor,
            terms=creation.claim_terms(self.catalog, plan, engagement),
        )
        seat.hold(
            claim_id=claim.id,
            partner_id=plan.partner_id,
            limit=engagement.customer_claim_limit,
            now=now,
        )
        return claim

    # -- consent (R20-R25) ------------------------------------------------------------------

    @Command
    def request_consent(
        self,
        principal: Principal,
        claim_id: UUID,
        command: RequestConsent,
        now: datetime,
        expected_version: int | None = None,
    ) -> Changed[UUID]:
        """Send the consent e-mail; returns the id of the (single-use) link it carries."""
        now = aware(now)
        claim = self._scoped_claim(principal, claim_id, expected_version=expected_version)
        if Action.REQUEST_CONSENT in claim.allowed_actions:  # else the claim says why not
            refuse_erased(command.contacts or claim.contacts)
        link_id = uuid4()
        claim.request_consent(
            actor=principal.actor,
            now=now,
            deal_size_usd=command.deal_size_usd,
            contacts=command.contacts,
            disclaimer_accepted=command.disclaimer_accepted,
            link_id=link_id,
        )
        return self._changed_claim(claim, now, link_id)

    @Command
    def send_consent_reminder(
        self,
        principal: Principal,
        claim_id: UUID,
        now: datetime,
        expected_version: int | None = None,
    ) -> Changed[UUID]:
        """Resend the consent e-mail with a new link; the old link stops working (R24)."""
        now = aware(now)
        claim = self._scoped_claim(principal, claim_id, expected_version=expected_version)
        link_id = uuid4()
        claim.send_reminder(actor=principal.actor, now=now, link_id=link_id)
        return self._changed_claim(claim, now, link_id)

    @Command
    def answer_consent(
        self, claim_id: UUID, link_id: UUID, accept: bool, now: datetime
    ) -> Changed[ClaimState]:
        """The customer's answer through the link (R23, R24); the claim's state after it."""
        now = aware(now)
        claim = self._claim(claim_id)
        actor = Actor(kind=ActorKind.CUSTOMER, id=str(claim.contacts.customer.email))
        claim.answer_consent(actor=actor, now=now, link_id=link_id, accept=accept)
        known = None
        if accept and not self.is_known_customer(claim.partner_id, claim.terms.customer_id):
            known = KnownCustomer.recognise(
                partner_id=claim.partner_id,
                customer_id=claim.terms.customer_id,
                friendly_name=claim.terms.friendly_name,
                customer_name=claim.terms.customer_name,
                claim_id=claim.id,
                now=now,
            )
        return self._changed_claim(claim, now, claim.state, known)

    # -- submission, review, dispute (R30-R35) ----------------------------------------------

    @Command
    def submit(
        self,
        principal: Principal,
        claim_id: UUID,
        command: SubmitCommand,
        now: datetime,
        expected_version: int | None = None,
    ) -> Changed[int]:
        """Submit or resubmit with proof (R30)."""
        now = aware(now)
        claim = self._scoped_claim(principal, claim_id, expected_version=expected_version)
        proof = tuple(_proof_item(claim, i, item) for i, item in enumerate(command.proof))
        claim.submit(actor=principal.actor, now=now, proof=proof)
        return self._changed_claim(claim, now, claim.version)

    @Command
    def attach_document(
        self,
        principal: Principal,
        claim_id: UUID,
        document: AttachedDocument,
        now: datetime,
        expected_version: int | None = None,
    ) -> Changed[UUID]:
        """Record a proof document uploaded to the claim (its file is stored already)."""
        now = aware(now)
        claim = self._scoped_claim(principal, claim_id, expected_version=expected_version)
        claim.attach_document(actor=principal.actor, now=now, document=document)
        return self._changed_claim(claim, now, document.id)

    def may_attach(self, principal: Principal, claim_id: UUID) -> None:
        """Refuses (404, 403) when the principal may not upload to the claim: asked before
        a file is stored, so that a stranger's upload is never kept."""
        self._scoped_claim(principal, claim_id)

    def documents(self, principal: Principal, claim_id: UUID) -> tuple[AttachedDocument, ...]:
        """The claim's uploaded documents, in order, for whoever may read the claim."""
        return self._scoped_claim(principal, claim_id, Purpose.READ).documents

    def document(self, principal: Principal, claim_id: UUID, document_id: UUID) -> AttachedDocument:
        """The claim's uploaded document, for whoever may read the claim (404 otherwise)."""
        found = self._scoped_claim(principal, claim_id, Purpose.READ).document(document_id)
        if found is None:
            raise NotFoundError("document-not-found", params={"document": document_id})
        return found

    @Command
    def cancel(
        self,
        principal: Principal,
        claim_id: UUID,
        command: Cancel,
        now: datetime,
        expected_version: int | None = None,
    ) -> Changed[int]:
        """Cancel before the first submission (R31)."""
        now = aware(now)
        claim = self._scoped_claim(principal, claim_id, expected_version=expected_version)
        claim.cancel(actor=principal.actor, now=now, reason=command.reason)
        return self._changed_claim(claim, now, claim.version)

    @Command
    def dispute(
        self,
        principal: Principal,
        claim_id: UUID,
        command: Dispute,
        now: datetime,
        expected_version: int | None = None,
    ) -> Changed[int]:
        """Dispute a rejection, once, within dispute_days (R34, R35)."""
        now = aware(now)
        claim = self._scoped_claim(principal, claim_id, expected_version=expected_version)
        claim.dispute(actor=principal.actor, now=now, reason=command.reason)
        return self._changed_claim(claim, now, claim.version)

    @Command
    def review(
        self,
        principal: Principal,
        claim_id: UUID,
        command: Review,
        now: datetime,
        expected_version: int | None = None,
    ) -> Changed[int]:
        """A reviewer's action: start, request information, approve, reject (R32, R33)."""
        principal.require_role(Role.REVIEWER)
        claim = check_version(self._claim(claim_id), expected_version)
        now, actor, reason = aware(now), principal.actor, command.reason
        match command.action:
            case "start":
                claim.start_review(actor=actor, now=now, reason=reason)
            case "request_information":
                claim.request_information(actor=actor, now=now, comments=reason)
            case "approve":
                claim.approve(actor=actor, now=now)
            case "reject" | "reject_final":
                final = command.action == "reject_final"
                claim.reject(actor=actor, now=now, reason=reason, final=final)
        return self._changed_claim(claim, now, claim.version)


def _proof_item(claim: Claim, index: int, item: ProofInput) -> ProofDocument:
    """A submitted proof item: a reference, or an uploaded document of the claim of that
    kind (whose name and SHA-256 the submission records)."""
    if item.document_id is None:
        if item.reference is None:
            field = f"proof.{index}.reference"
            raise RuleRefusedError("proof-reference-missing", rule="R30", field=field)
        return ProofDocument(kind=item.kind, reference=item.reference)
    document = claim.document(item.document_id)
    if document is None or document.kind != item.kind:
        raise RuleRefusedError(
            "proof-document-unknown",
            rule="R30",
            field=f"proof.{index}.document_id",
            params={"kind": named(item.kind.value)},
        )
    return ProofDocument(
        kind=item.kind,
        reference=item.reference or document.name,
        document_id=document.id,
        sha256=document.sha256,
    )


def refuse_erased(contacts: Contacts) -> None:
    """R13: a consent e-mail goes to contacts that exist. One whose personal data was erased
    (``ledger forget``) reads ``[erased]``: the request must name a new contact."""
    for side, contact in (("customer", contacts.customer), ("partner", contacts.partner)):
        if ERASED in (contact.email, contact.name):
            raise RuleRefusedError("contact-erased", rule="R13", field=f"contacts.{side}.email")


def open_ledger(
    settings: Settings, catalog: Catalog | None = None, *, seal_contacts: bool = True
) -> Ledger:
    """The Ledger on the configured store, with the configured (or demo) catalog; contacts'
    names and addresses sealed (``seal_contacts=False`` only to measure what that costs)."""
    if settings.is_sqlite:  # a new SQLite file may name a folder that does not exist yet
        Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    env = settings.eventsourcing_env()
    with schema_lock(env):  # the library creates its tables as the application starts
        ledger = Ledger(
            catalog or load_catalog(settings.catalog),
            env=env,
            seal_contacts=seal_contacts,
            kept_aggregates=settings.kept_aggregates,
            group_commit=settings.groups_commits,
        )
    try:
        AuditTables(ledger.recorder)  # a store made before events carried hashes is refused
    except UnverifiableStoreError as error:
        ledger.close()
        raise SettingsError(str(error)) from None
    return ledger
