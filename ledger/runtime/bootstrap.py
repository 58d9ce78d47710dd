"""The composition root: every service built once from the settings, then passed down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ledger.domain.catalog import Catalog
from ledger.projections.claim_queries import STUCK_AFTER, ClaimQueries
from ledger.projections.contact_queries import ContactQueries
from ledger.projections.customers_page import CustomersPage
from ledger.projections.feed import Feed, Owners
from ledger.projections.referral_queries import ReferralQueries
from ledger.projections.store import ViewStore
from ledger.projections.summary import LiveFigures, Replays
from ledger.runtime.freshness import Freshness
from ledger.runtime.identity import BearerTokens
from ledger.runtime.replica import Replica, ReplicaViewStore
from ledger.runtime.sessions import SignIns
from ledger.runtime.verifications import Verifications
from ledger.runtime.workers import Workers
from ledger.service.application import Ledger, open_ledger
from ledger.service.clock import Clock, utc_now
from ledger.service.settings import Settings
from ledger.service.tokens import ConsentTokens
from ledger.store.documents import DocumentFolder
from ledger.store.outage import guard_all


@dataclass(frozen=True)
class ReadModels:
    """The queries of every read model, over one view store."""

    claims: ClaimQueries
    customers: CustomersPage
    referrals: ReferralQueries
    contacts: ContactQueries
    replays: Replays
    """The summary's replays as of a time, kept while the log has not moved."""
    live: LiveFigures
    """The summary's live figures per scope, kept while the views have not moved."""

    @classmethod
    def over(
        cls,
        store: ViewStore,
        catalog: Catalog,
        clock: Clock = utc_now,
        stuck_after: timedelta = STUCK_AFTER,
    ) -> ReadModels:
        return cls(
            ClaimQueries(store, catalog, clock, stuck_after),
            CustomersPage(store, catalog),
            ReferralQueries(store),
            ContactQueries(store),
            Replays(),
            LiveFigures(),
        )


@dataclass(frozen=True)
class Services:
    settings: Settings
    ledger: Ledger
    store: ViewStore
    workers: Workers
    read_models: ReadModels
    access_tokens: BearerTokens
    """The ledger's own tokens and, with LEDGER_OIDC_ISSUER, the identity provider's."""
    consent_tokens: ConsentTokens
    clock: Clock
    freshness: Freshness
    sign_ins: SignIns
    verifications: Verifications
    feed: Feed
    documents: DocumentFolder
    """Where uploaded proof documents are kept (LEDGER_DOCUMENTS_DIR)."""
    replica: Replica | None = None
    """The read replica the queries read (LEDGER_READ_DATABASE_URL), if any."""

    def close(self) -> None:
        self.workers.stop()
        if self.replica is not None:
            self.replica.close()
        self.store.close()
        self.ledger.close()


def bootstrap(
    settings: Settings,
    *,
    catalog: Catalog | None = None,
    clock: Clock = utc_now,
    ledger: Ledger | None = None,
) -> Services:
    """Open the store the settings name and wire the Ledger, its followers and the queries."""
    ledger = ledger or open_ledger(settings, catalog)
    store = ViewStore.open(settings.eventsourcing_env())
    guard_all((ledger.recorder, store.recorder), settings.database_timeout_seconds)
    consent_tokens = ConsentTokens(settings.signing_key())
    workers = Workers(ledger, store, consent_tokens, settings, clock)
    stuck_after = timedelta(seconds=settings.mail_retry_seconds)
    read_models = ReadModels.over(store, ledger.catalog, clock, stuck_after)
    replica = _replica(settings, ledger, store)
    replica_reads = None
    if replica is not None:
        replica_reads = (
            replica,
            ReadModels.over(replica.store, ledger.catalog, clock, stuck_after),
        )
    return Services(
        settings=settings,
        ledger=ledger,
        store=store,
        workers=workers,
        read_models=read_models,
        access_tokens=BearerTokens.configured(settings, clock),
        consent_tokens=consent_tokens,
        clock=clock,
        freshness=Freshness(workers.views, read_models, replica_reads),
        sign_ins=SignIns(store),
        verifications=Verifications(store),
        feed=Feed(ledger, Owners(ledger), settings.signing_key()),
        documents=DocumentFolder(settings.documents_directory(), settings.document_max_bytes),
        replica=replica,
    )


def _replica(settings: Settings, ledger: Ledger, primary: ViewStore) -> Replica | None:
    """The read replica LEDGER_READ_DATABASE_URL names, its views' contacts opened with the
    ledger's key ring, ``primary`` reading for it when it cannot be reached (None: no
    replica)."""
    env = settings.replica_env()
    if env is None:
        return None
    store = ReplicaViewStore.open(env)
    store.keyring = ledger.keyring
    store.primary = primary
    return Replica(store, settings.replica_wait_ms / 1000)
