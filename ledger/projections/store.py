"""Where the read models live: tables beside the events, in the same database.

The view store is an eventsourcing tracking recorder (SQLite or PostgreSQL) that also creates
our view tables, so that a view row and the tracking position commit in one transaction.
View tables carry a generation prefix (``v1_claims``): a replay builds the next generation
while queries keep reading the active one, then switches in one transaction.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol, cast

from eventsourcing.persistence import InfrastructureFactory, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteCursor, SQLiteTrackingRecorder
from eventsourcing.utils import Environment

from ledger.store.personal import KeyRing
from ledger.store.pool import reuse_warm_connections
from ledger.store.schema import SCHEMA_VERSION, missing, placeholders, schema_lock

VIEW_TABLES: dict[str, str] = {
    "claims": """
        claim_id TEXT PRIMARY KEY, partner_id TEXT NOT NULL, location_id TEXT NOT NULL,
        engagement_id TEXT NOT NULL, friendly_name TEXT NOT NULL, customer_type TEXT NOT NULL,
        customer_value TEXT NOT NULL, eligibility_key TEXT NOT NULL, resolved_tenant_id TEXT,
        origin TEXT NOT NULL, state TEXT NOT NULL, live INTEGER NOT NULL,
        had_consent INTEGER NOT NULL, version INTEGER NOT NULL, created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL, running_deadline_kind TEXT, running_deadline TEXT,
        deadlines TEXT NOT NULL, deal_size_usd TEXT, payout_model TEXT NOT NULL,
        fixed_payout_usd TEXT, proposed_payout_usd TEXT, hours INTEGER, payout_usd TEXT,
        contacts TEXT NOT NULL, referral_id TEXT, co_sell INTEGER NOT NULL,
        disputed INTEGER NOT NULL, submissions INTEGER NOT NULL, last_reason TEXT,
        customer_name TEXT
    """,
    "known_customers": """
        partner_id TEXT NOT NULL, customer_type TEXT NOT NULL, customer_value TEXT NOT NULL,
        friendly_name TEXT NOT NULL, first_claim_id TEXT NOT NULL, recognised_at TEXT NOT NULL,
        customer_name TEXT,
        PRIMARY KEY (partner_id, customer_type, customer_value)
    """,
    # The Customers tabs kept (ledger.projections.customer_tabs): the tab each known customer
    # of a partner shows on for each engagement, and the catalog digest each engagement's
    # tabs were sorted by.
    "customer_tabs": """
        partner_id TEXT NOT NULL, engagement_id TEXT NOT NULL, customer_type TEXT NOT NULL,
        customer_value TEXT NOT NULL, friendly_name TEXT NOT NULL, customer_name TEXT,
        subject_key TEXT, tab TEXT NOT NULL,
        PRIMARY KEY (partner_id, engagement_id, customer_type, customer_value)
    """,
    "customer_tab_catalog": "engagement_id TEXT PRIMARY KEY, digest TEXT NOT NULL",
    "history": """
        claim_id TEXT NOT NULL, version INTEGER NOT NULL, event TEXT NOT NULL,
        occurred_at TEXT NOT NULL, actor TEXT NOT NULL, data TEXT NOT NULL,
        PRIMARY KEY (claim_id, version)
    """,
    "referrals": """
        referral_id TEXT PRIMARY KEY, claim_id TEXT NOT NULL, partner_id TEXT NOT NULL,
        engagement_id TEXT NOT NULL, customer_name TEXT NOT NULL, customer_type TEXT NOT NULL,
        customer_value TEXT NOT NULL, tenant_id TEXT NOT NULL, status TEXT NOT NULL,
        substatus TEXT NOT NULL, type TEXT NOT NULL, qualification TEXT NOT NULL,
        deal_value_usd TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
    """,
    "outbox": """
        email_id TEXT PRIMARY KEY, claim_id TEXT NOT NULL, link_id TEXT NOT NULL,
        kind TEXT NOT NULL, recipient TEXT NOT NULL, customer_name TEXT NOT NULL,
        engagement_id TEXT NOT NULL, expires_at TEXT NOT NULL, created_at TEXT NOT NULL,
        superseded INTEGER NOT NULL, detail TEXT
    """,
}
FOLD_TABLES: dict[str, str] = {
    "claim_facts": "claim_id TEXT PRIMARY KEY, facts TEXT NOT NULL",
}
"""The views' memory between pages, not views (no query reads them): each claim's facts as
JSON (``ledger.aggregates.claim.ClaimFacts``), so that a page folds a claim's next events
without reading its earlier ones again. Contacts in them are sealed, as in the events."""
VIEW_INDEXES = [
    "CREATE INDEX IF NOT EXISTS {p}claims_page ON {p}claims (partner_id, engagement_id, live)",
    # The Customers tabs' orders, so that a page of 50 reads 50 rows, not every claim:
    "CREATE INDEX IF NOT EXISTS {p}claims_eligible_tab ON {p}claims "
    "(partner_id, engagement_id, live, running_deadline, claim_id)",
    "CREATE INDEX IF NOT EXISTS {p}claims_completed_tab ON {p}claims "
    "(partner_id, engagement_id, live, updated_at DESC, claim_id)",
    "CREATE INDEX IF NOT EXISTS {p}claims_due ON {p}claims (live, running_deadline)",
    # A partner's open claims by deadline: the programme's attention list (summary_live)
    "CREATE INDEX IF NOT EXISTS {p}claims_attention ON {p}claims "
    "(partner_id, live, running_deadline)",
    "CREATE INDEX IF NOT EXISTS {p}claims_key ON {p}claims (engagement_id, eligibility_key)",
    "CREATE INDEX IF NOT EXISTS {p}claims_state ON {p}claims (state, updated_at)",
    "CREATE INDEX IF NOT EXISTS {p}claims_customer ON {p}claims "
    "(partner_id, customer_type, customer_value, engagement_id)",
    # A user's newest claims first (the contacts a form offers: ledger.projections.contact_queries)
    "CREATE INDEX IF NOT EXISTS {p}claims_newest ON {p}claims (partner_id, created_at)",
    "CREATE INDEX IF NOT EXISTS {p}outbox_claim ON {p}outbox (claim_id)",
    # Each claim's milestones for the programme's figures (ledger.projections.summary_live),
    # read from the index alone; made on open in a store made before it, as every index here.
    "CREATE INDEX IF NOT EXISTS {p}history_milestones ON {p}history (claim_id, event, occurred_at)",
    "CREATE INDEX IF NOT EXISTS {p}known_customers_by_name ON {p}known_customers "
    "(partner_id, friendly_name, customer_type, customer_value)",
    # A page of a kept tab in name order; the customers whose subject's claims changed
    "CREATE INDEX IF NOT EXISTS {p}customer_tabs_page ON {p}customer_tabs "
    "(partner_id, engagement_id, tab, friendly_name, customer_type, customer_value)",
    "CREATE INDEX IF NOT EXISTS {p}customer_tabs_subject ON {p}customer_tabs "
    "(engagement_id, subject_key)",
]
# Added to mail_deliveries after it was first made: where a file went, the links' base.
DELIVERY_COLUMNS = ("file_name", "public_url")
ADDED_VIEW_COLUMNS: dict[str, tuple[str, ...]] = {
    "claims": ("customer_name",),
    "known_customers": ("customer_name",),
    "outbox": ("detail",),
}
"""Columns added to view tables after they were first made (schema version 2: the tenant's
name of the customer). Each is nullable and the last of its table (rows are inserted by
position), so that the active generation of a database made before gets it by ``ALTER
TABLE``: its rows hold what a replay would write, None, as the events they came from
recorded no name; the next replay builds the tables whole. Schema version 3: the outbox's
``detail`` (the reviewer's words of a partner notification, or the deadline it is about)."""
# Not rebuilt by a replay: what the world already saw.
STATE_TABLES = [
    "CREATE TABLE IF NOT EXISTS view_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS mail_deliveries ("
    "email_id TEXT PRIMARY KEY, channel TEXT NOT NULL, delivered_at TEXT NOT NULL, "
    "file_name TEXT, public_url TEXT)",
    # The web page's sign-ins (ledger.sessions): a digest of each session id, never the id.
    "CREATE TABLE IF NOT EXISTS web_sessions (session_hash TEXT PRIMARY KEY, "
    "principal TEXT NOT NULL, expires_at BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS web_sessions_expiry ON web_sessions (expires_at)",
    "CREATE TABLE IF NOT EXISTS sign_in_failures (client TEXT NOT NULL, failed_at BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sign_in_failures_client ON sign_in_failures (client, failed_at)",
    # The partner contacts' deadline reminders (ledger.policies.reminders): the outbox's
    # columns, recorded once per deadline by the reminder round (the clock, not an event).
    "CREATE TABLE IF NOT EXISTS deadline_reminders ("
    "email_id TEXT PRIMARY KEY, claim_id TEXT NOT NULL, link_id TEXT NOT NULL, "
    "kind TEXT NOT NULL, recipient TEXT NOT NULL, customer_name TEXT NOT NULL, "
    "engagement_id TEXT NOT NULL, expires_at TEXT NOT NULL, created_at TEXT NOT NULL, "
    "superseded INTEGER NOT NULL, detail TEXT)",
    "CREATE INDEX IF NOT EXISTS deadline_reminders_claim ON deadline_reminders "
    "(claim_id, expires_at)",
    # What each `ledger verify` found (ledger.runtime.verifications): the audit page's last.
    "CREATE TABLE IF NOT EXISTS verifications (verified_at TEXT NOT NULL, "
    "events BIGINT NOT NULL, aggregates BIGINT NOT NULL, ok INTEGER NOT NULL, "
    "findings BIGINT NOT NULL, digest_at BIGINT NOT NULL, digest TEXT NOT NULL)",
    # Webhooks (ledger.policies.webhooks): the subscriptions as their events left them, and
    # one delivery per (subscription, event), written with the follower's position.
    "CREATE TABLE IF NOT EXISTS webhook_subscriptions (subscription_id TEXT PRIMARY KEY, "
    "partner_id TEXT NOT NULL, url TEXT NOT NULL, events TEXT NOT NULL, salt TEXT NOT NULL, "
    "created_at TEXT NOT NULL, created_by TEXT NOT NULL, status TEXT NOT NULL, "
    "disabled_at TEXT, failing_since TEXT, last_delivery_at TEXT, last_code BIGINT)",
    "CREATE INDEX IF NOT EXISTS webhook_subscriptions_partner "
    "ON webhook_subscriptions (partner_id, created_at)",
    "CREATE TABLE IF NOT EXISTS webhook_deliveries (delivery_id TEXT PRIMARY KEY, "
    "subscription_id TEXT NOT NULL, notification_id BIGINT NOT NULL, position BIGINT NOT NULL, "
    "event_id TEXT NOT NULL, claim_id TEXT NOT NULL, type TEXT NOT NULL, status TEXT NOT NULL, "
    "attempts BIGINT NOT NULL, last_code BIGINT, last_error TEXT, created_at TEXT NOT NULL, "
    "first_attempt_at TEXT, next_attempt_at TEXT NOT NULL, delivered_at TEXT)",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_due "
    "ON webhook_deliveries (status, next_attempt_at)",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_order "
    "ON webhook_deliveries (subscription_id, claim_id, position, notification_id)",
    # A view or a policy stopped at an event it cannot handle (ledger.projections.dead_letters):
    # one row per stopped follower, by its tracking name.
    "CREATE TABLE IF NOT EXISTS dead_letters (follower TEXT PRIMARY KEY, kind TEXT NOT NULL, "
    "name TEXT NOT NULL, generation BIGINT NOT NULL, position BIGINT NOT NULL, "
    "notification_id BIGINT NOT NULL, event_id TEXT NOT NULL, event_type TEXT NOT NULL, "
    "claim_id TEXT, error TEXT NOT NULL, first_failed_at TEXT NOT NULL, "
    "last_failed_at TEXT NOT NULL, attempts BIGINT NOT NULL, next_retry_at TEXT NOT NULL)",
]


def columns(table: str) -> list[tuple[str, str]]:
    """The (name, SQL type) of each column of a view table, in order."""
    ddl = re.sub(r"PRIMARY KEY \([^)]*\)", "", {**VIEW_TABLES, **FOLD_TABLES}[table])
    parts = [part.split() for part in ddl.split(",")]
    return [(p[0], p[1]) for p in parts if p]


PG_TYPES = {"TEXT": "text", "INTEGER": "bigint"}


GENERATION_TTL_SECONDS = 1.0


def prefix(generation: int) -> str:
    return f"v{generation}_"


def view_ddl(generation: int) -> list[str]:
    p = prefix(generation)
    every = {**VIEW_TABLES, **FOLD_TABLES}
    tables = [f"CREATE TABLE IF NOT EXISTS {p}{name} ({cols})" for name, cols in every.items()]
    return tables + [index.format(p=p) for index in VIEW_INDEXES]


class DbCursor(Protocol):
    def execute(self, statement: Any, params: Any = ...) -> Any: ...
    def executemany(self, statement: Any, params: Any) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> Any: ...
    @property
    def rowcount(self) -> int: ...


class Tx:
    """A transaction on the view store, in our SQL dialect: ``?`` params, ``{p}`` prefix."""

    def __init__(
        self, store: ViewStore, cursor: DbCursor, generation: int, opener: KeyRing | None = None
    ) -> None:
        self.store = store
        self.cursor = cursor
        self.generation = generation
        self.opener = opener
        """Set on reads: the contacts' sealed strings in the rows come back opened."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed."""
        self.cursor.execute(self.store.dialect(sql, self.generation), params)
        return int(self.cursor.rowcount)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.cursor.executemany(self.store.dialect(sql, self.generation), rows)

    def insert_rows(
        self, table: str, rows: Sequence[Sequence[Any]], conflict: str = "DO NOTHING"
    ) -> None:
        """Insert many rows with multi-row VALUES statements: few round trips per page."""
        if not rows:
            return
        if self.store.is_postgres:
            # One statement, one array per column: no per-row parsing on either side.
            # Binary parameters (%b): arrays are sent without text escaping.
            arrays = ", ".join(f"%b::{PG_TYPES[kind]}[]" for _, kind in columns(table))
            sql = (
                f"INSERT INTO {prefix(self.generation)}{table} SELECT * FROM unnest({arrays}) "
                f"ON CONFLICT {conflict}"
            )
            self.cursor.execute(sql, [list(column) for column in zip(*rows, strict=True)])
            return
        width = len(rows[0])
        group = "(" + ", ".join("?" for _ in range(width)) + ")"
        per_statement = max(1, 30000 // width)  # under SQLite's and PostgreSQL's limits
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            sql = (
                f"INSERT INTO {{p}}{table} VALUES {', '.join(group for _ in chunk)} "
                f"ON CONFLICT {conflict}"
            )
            self.execute(sql, [value for row in chunk for value in row])

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        self.execute(sql, params)
        return [self._opened(row) for row in self.cursor.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        self.execute(sql, params)
        row = self.cursor.fetchone()
        return None if row is None else self._opened(row)

    def _opened(self, row: Any) -> dict[str, Any]:
        values = dict(row)
        if self.opener is not None:
            for column, value in values.items():
                if isinstance(value, str) and "sealed:" in value:
                    values[column] = self.opener.open_text(value)
        return values

    def position(self, name: str) -> int:
        """The tracked position of ``name`` as this transaction sees it, held until it ends:
        on PostgreSQL under a transaction-scoped advisory lock of that name; on SQLite the
        transaction already holds the write lock (see ``ViewStore.transaction``)."""
        recorder = self.store.recorder
        if isinstance(recorder, PostgresTrackingRecorder):
            self.cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))
            found = recorder._max_tracking_id(name, self.cursor)  # type: ignore[arg-type]
        else:
            self.cursor.execute(recorder.select_max_tracking_id_statement, [name])
            found = self.cursor.fetchone()[0]
        return int(found or 0)

    def track(self, name: str, position: int) -> None:
        self.store.recorder._insert_tracking(self.cursor, Tracking(name, position))  # type: ignore[arg-type]


class ViewStore:
    """The tracking recorder of the read models, with generations and our dialect."""

    keyring: KeyRing | None = None
    """The contacts' keys (the views keep names and addresses sealed, as the events do)."""
    notifications_since: str | None = None
    """When this store began to notify partner contacts (None: from its first event)."""

    def __init__(self, recorder: SQLiteTrackingRecorder | PostgresTrackingRecorder) -> None:
        self.recorder = recorder
        self.is_postgres = isinstance(recorder, PostgresTrackingRecorder)
        if isinstance(recorder, PostgresTrackingRecorder):
            reuse_warm_connections(recorder.datastore.pool)
        self._generation = (-GENERATION_TTL_SECONDS, 0)
        with self.recorder.datastore.transaction(commit=True) as cursor:
            for statement in missing(cursor, STATE_TABLES, self.is_postgres):
                cursor.execute(statement)
            self._add_columns(cursor, "mail_deliveries", DELIVERY_COLUMNS)
            self._note_notifications_since(cursor)
            cursor.execute(
                "INSERT INTO view_state VALUES ('generation', '1') ON CONFLICT DO NOTHING"
            )
            cursor.execute(
                f"INSERT INTO view_state VALUES ('schema_version', '{SCHEMA_VERSION}') "
                "ON CONFLICT DO NOTHING"
            )
        self.create_generation(self.generation())
        self._upgrade_views(self.generation())

    def _note_notifications_since(self, cursor: Any) -> None:
        """On a store made before the partner notifications (schema version 1 or 2), note
        when they began (``notifications_since``): the outbox never mails the partner about
        an event older than that, even when a replay folds it again. A fresh store mails
        every event's."""
        cursor.execute("SELECT value FROM view_state WHERE key = 'schema_version'")
        found = cursor.fetchone()
        if found is not None and int(found["value"]) < 3:
            now = datetime.now(UTC)
            since = f"{now.year:04d}-{now:%m-%dT%H:%M:%S.%f}Z"  # as the views write times
            cursor.execute(
                placeholders(
                    "INSERT INTO view_state VALUES ('notifications_since', ?) "
                    "ON CONFLICT DO NOTHING",
                    self.is_postgres,
                ),
                (since,),
            )
        cursor.execute("SELECT value FROM view_state WHERE key = 'notifications_since'")
        row = cursor.fetchone()
        self.notifications_since = None if row is None else str(row["value"])

    def _add_columns(self, cursor: Any, table: str, added: Sequence[str]) -> None:
        """Add the nullable text columns ``added`` that ``table`` lacks: a table made by an
        earlier release (mail_deliveries before e-mails were written to files, the views
        before schema version 2)."""
        if self.is_postgres:
            cursor.execute(
                "SELECT column_name AS name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = %s",
                (table,),
            )
        else:
            cursor.execute("SELECT name FROM pragma_table_info(?)", (table,))
        present = {row["name"] for row in cursor.fetchall()}
        exists = "IF NOT EXISTS " if self.is_postgres else ""
        for column in added:
            if column not in present:
                cursor.execute(f"ALTER TABLE {table} ADD COLUMN {exists}{column} TEXT")

    def _upgrade_views(self, generation: int) -> None:
        """Bring the active generation's view tables to ``SCHEMA_VERSION`` (the columns of
        ``ADDED_VIEW_COLUMNS``) and record the version."""
        with self.transaction(generation, commit=True) as tx:
            for table, added in ADDED_VIEW_COLUMNS.items():
                self._add_columns(tx.cursor, prefix(generation) + table, added)
            version = str(SCHEMA_VERSION)
            tx.execute(
                "UPDATE view_state SET value = ? WHERE key = 'schema_version' AND value <> ?",
                (version, version),
            )

    @classmethod
    def open(cls, env: Mapping[str, str]) -> ViewStore:
        """The view store in the same database as the events ``env`` points at."""
        factory = InfrastructureFactory.construct(Environment("Views", dict(env)))
        is_postgres = env.get("PERSISTENCE_MODULE") == "eventsourcing.postgres"
        recorder_class = PostgresTrackingRecorder if is_postgres else SQLiteTrackingRecorder
        with schema_lock(env):  # our tables and the tracking table, one process at a time
            recorder = factory.tracking_recorder(recorder_class)
            assert isinstance(recorder, SQLiteTrackingRecorder | PostgresTrackingRecorder)
            return cls(recorder)

    def dialect(self, sql: str, generation: int) -> str:
        return placeholders(sql.replace("{p}", prefix(generation)), self.is_postgres)

    @contextmanager
    def transaction(
        self, generation: int | None = None, *, commit: bool = False, sealed: bool = False
    ) -> Iterator[Tx]:
        """A transaction on the views; a read (not ``commit``, not ``sealed``) opens the
        contacts' sealed strings, a write sees them as stored."""
        gen = self.generation() if generation is None else generation
        with self.recorder.datastore.transaction(commit=commit) as cursor:
            raw = cursor.sqlite_cursor if isinstance(cursor, SQLiteCursor) else cursor
            if commit and not self.is_postgres:
                # Take SQLite's write lock first (waiting for it if need be): a transaction that
                # reads and then writes would otherwise fail at once while another one writes.
                raw.execute("UPDATE view_state SET value = value WHERE key = 'generation'")
            opener = None if commit or sealed else self.keyring
            yield Tx(self, cast(DbCursor, raw), gen, opener)

    def generation(self) -> int:
        """The generation queries read; another process's switch shows within a second."""
        read_at, generation = self._generation
        if time.monotonic() - read_at < GENERATION_TTL_SECONDS:
            return generation
        with self.recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                self.dialect("SELECT value FROM view_state WHERE key = ?", 0), ("generation",)
            )
            row = cursor.fetchone()
        generation = 1 if row is None else int(row["value"])
        self._generation = (time.monotonic(), generation)
        return generation

    def create_generation(self, generation: int) -> None:
        with self.transaction(generation, commit=True) as tx:
            for statement in missing(tx.cursor, view_ddl(generation), self.is_postgres):
                tx.execute(statement)

    def switch_to(self, generation: int) -> None:
        """Make ``generation`` the one queries read, then drop the ones before the previous.

        The previous generation stays until the next replay, so that a query or a runner that
        started on it just before the switch finishes on tables that still exist.
        """
        with self.transaction(generation, commit=True) as tx:
            tx.execute(
                "UPDATE view_state SET value = ? WHERE key = 'generation'", (str(generation),)
            )
        self._generation = (time.monotonic(), generation)
        for old in range(max(1, generation - 6), generation - 1):
            with self.transaction(old, commit=True) as tx:
                for name in [*VIEW_TABLES, *FOLD_TABLES]:
                    tx.execute(f"DROP TABLE IF EXISTS {{p}}{name}")

    def position(self, name: str) -> int:
        return self.recorder.max_tracking_id(name) or 0

    def close(self) -> None:
        self.recorder.datastore.close()
