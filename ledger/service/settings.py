"""Settings from LEDGER_* environment variables, and how they map to eventsourcing's env."""

from __future__ import annotations

import math
import os
import secrets
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(Exception):
    """A setting that cannot work: said at start-up, before anything runs."""


class Settings(BaseSettings):
    """Read once at start-up and passed down (SPEC section 10)."""

    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    database_url: str = "sqlite:///./ledger.sqlite3"
    catalog: Path | None = None
    secret_key: str | None = Field(default=None, min_length=32)
    public_url: str = "http://127.0.0.1:8000"
    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str | None = None
    mail_dir: Path | None = None
    mail_retry_seconds: float = Field(default=300.0, gt=0)
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    postgres_pool_size: int = Field(default=10, ge=1)
    kept_aggregates: int = Field(default=10_000, ge=0, le=1_000_000)
    """Aggregates each process keeps between commands (about 5 kB each; 0: none)."""
    group_commit: Literal["auto", "on", "off"] = "auto"
    """The saves of commands that arrive together in one process written in one transaction
    ("auto": on SQLite, whose writes take turns anyway; not on PostgreSQL, whose sessions
    write in parallel: measured slower there, docs/scaling.md)."""
    deadline_interval_seconds: float = Field(default=60.0, gt=0)
    reminder_days: int = Field(default=7, ge=1, le=365)
    """How many days before a running deadline the partner contact is reminded of it."""
    view_page_size: int = Field(default=2000, ge=1, le=100_000)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    """The largest request body read; a larger one is refused (413) before it is read."""
    documents_dir: Path | None = None
    """Where uploaded proof documents are kept, by their SHA-256 (docs/documents.md)."""
    document_max_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    """The largest proof document accepted (413 beyond)."""
    header_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    """How long a client may take to send a request's headers before its connection closes."""
    webhooks_allow_insecure: bool = False
    """Webhook targets over http://, or at loopback or private addresses (development, tests)."""
    webhooks_retry_hours: float = Field(default=24.0, gt=0)
    """How long a webhook delivery is retried (with backoff) before it is failed."""
    webhooks_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    """How long a receiver may take to connect, and to answer each read, per delivery."""
    webhooks_lease_seconds: float = Field(default=60.0, gt=0)
    """How long a sender holds a delivery it took; a worker killed meanwhile leaves the lease,
    and the delivery is sent again (same webhook-id) once it expires. Keep it longer than the
    timeout."""

    checkpoint_origin: str | None = None
    """The origin line of the log's checkpoints; by default the public URL's host + /ledger."""
    checkpoint_key: str | None = None
    """The checkpoints' Ed25519 signer key (PRIVATE+KEY+name+hash+key); by default one made
    once and kept beside a SQLite store (required on PostgreSQL)."""
    checkpoint_public: bool = False
    """GET /v1/audit/checkpoint and the consistency proofs without sign-in (outside witnesses)."""
    checkpoint_interval_seconds: float = Field(default=60.0, gt=0)
    """The workers sign a checkpoint when the tree grew, at most this often."""

    # -- the workers process beside the API (ledger serve --processes N; ledger.runtime.heartbeat)
    watch_workers_process: bool = False
    """/readyz and /metrics follow a ``ledger workers`` process's heartbeat (PostgreSQL);
    ``ledger serve --processes N`` sets it for its API processes. Set it for ``ledger serve
    --no-workers`` beside a ``ledger workers`` of your own."""
    workers_group: str | None = None
    """Whose workers process to watch: set by ``ledger serve --processes N`` (its own);
    unset, the most recently seen one."""
    workers_stale_seconds: float = Field(default=5.0, gt=0)
    """A workers process not heard from for this long is not running (/readyz 503)."""
    workers_restart_seconds: float = Field(default=0.5, gt=0, le=30)
    """The pause before ``ledger serve`` restarts a workers process that ended; doubled at
    each end that follows within a minute, up to 30 s."""

    # -- OpenID Connect: tokens and web sign-in from an identity provider ---------------------
    # (docs/identity-provider.md). Unset issuer: only the tokens of `ledger token` are accepted.
    oidc_issuer: str | None = None
    """The provider's issuer URL, exactly as its tokens' ``iss`` says it."""
    oidc_audience: str | None = None
    """The ``aud`` the API's bearer tokens must name (by default LEDGER_OIDC_CLIENT_ID)."""
    oidc_jwks_url: str | None = None
    """The provider's JWKS; by default the ``jwks_uri`` of its discovery document."""
    oidc_user_claim: str = "sub"
    oidc_roles_claim: str = "roles"
    """A claim name, or a dotted path into nested claims (``realm_access.roles``)."""
    oidc_partner_claim: str = "partner_id"
    oidc_locations_claim: str = "locations"
    oidc_leeway_seconds: float = Field(default=60.0, ge=0, le=600)
    """How far the provider's clock may be from the ledger's for ``exp`` and ``nbf``."""
    oidc_jwks_cache_seconds: float = Field(default=300.0, gt=0)
    oidc_jwks_refresh_seconds: float = Field(default=60.0, ge=0)
    """A token with an unknown key refreshes the JWKS at most once in this many seconds."""
    oidc_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    oidc_client_id: str | None = None
    """Set, the sign-in page offers the provider's sign-in (authorisation code with PKCE)."""
    oidc_client_secret: str | None = None
    oidc_provider_name: str | None = None
    """The provider's name on the sign-in button; by default its issuer's host."""
    oidc_scopes: str = "openid profile"

    def oidc_api_audience(self) -> str:
        """The audience of the API's bearer tokens: LEDGER_OIDC_AUDIENCE or the client id."""
        audience = self.oidc_audience or self.oidc_client_id
        if audience is None:
            raise SettingsError("LEDGER_OIDC_ISSUER needs LEDGER_OIDC_AUDIENCE (or _CLIENT_ID)")
        return audience

    # -- Poison events (docs/dead-letters.md) ----------------------------------------------
    dead_letter_retry_seconds: float = Field(default=1.0, gt=0, le=3600)
    """How long a view or a policy stopped at an event waits before its first new attempt;
    the wait doubles after each failed attempt."""
    dead_letter_max_retry_seconds: float = Field(default=300.0, gt=0, le=86_400)
    """The longest wait between two attempts of a stopped view or policy."""

    # Database outages (docs/rules.md: 503 database-unavailable)
    database_timeout_seconds: float = Field(default=5.0, ge=1, le=300)
    """How long a request waits for PostgreSQL (a connection from the pool, a new connection,
    an answer on a connection already open) before it is answered 503 with Retry-After."""

    # Read replicas (docs/replicas.md): the views read from a PostgreSQL streaming replica.
    read_database_url: str | None = None
    """A streaming replica of LEDGER_DATABASE_URL's PostgreSQL: queries read the views there."""
    replica_wait_ms: int = Field(default=200, ge=0, le=60_000)
    """How long a read after the reader's own write waits for the replica before it reads
    the primary instead."""

    @field_validator("read_database_url")
    @classmethod
    def _replica_of_postgres(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be postgresql://USER:PASS@HOST:PORT/DB (a streaming replica)")
        if str(info.data.get("database_url", "")).startswith("sqlite:///"):
            raise ValueError(
                "a read replica needs a PostgreSQL store, and LEDGER_DATABASE_URL names a "
                "SQLite file: unset LEDGER_READ_DATABASE_URL, or store the ledger in PostgreSQL"
            )
        return value

    def replica_env(self) -> dict[str, str] | None:
        """The eventsourcing environment of LEDGER_READ_DATABASE_URL (None: no replica)."""
        if self.read_database_url is None:
            return None
        replica = self.model_copy(update={"database_url": self.read_database_url})
        return {
            **replica.eventsourcing_env(),
            "CREATE_TABLE": "no",
            "POSTGRES_CONNECT_TIMEOUT": "1",
        }

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql://", "postgres://")):
            raise ValueError("must be sqlite:///PATH or postgresql://USER:PASS@HOST:PORT/DB")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:///")

    @property
    def groups_commits(self) -> bool:
        """Whether saves that arrive together are written in one transaction."""
        return self.group_commit == "on" or (self.group_commit == "auto" and self.is_sqlite)

    @property
    def database_shown(self) -> str:
        """LEDGER_DATABASE_URL as it may be printed or logged: without its password."""
        url = urlsplit(self.database_url)
        if url.password is None:
            return self.database_url
        user = f"{url.username}@" if url.username else ""
        host = f"[{url.hostname}]" if url.hostname and ":" in url.hostname else url.hostname or ""
        port = f":{url.port}" if url.port else ""
        return url._replace(netloc=f"{user}{host}{port}").geturl()

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database_url.removeprefix("sqlite:///"))

    def mail_directory(self) -> Path:
        """LEDGER_MAIL_DIR, or ``mail/`` beside the SQLite database (``./mail`` otherwise)."""
        if self.mail_dir is not None:
            return self.mail_dir
        return self.sqlite_path.parent / "mail" if self.is_sqlite else Path("mail")

    def documents_directory(self) -> Path:
        """LEDGER_DOCUMENTS_DIR, or ``documents/`` beside the SQLite database
        (``./documents`` otherwise)."""
        if self.documents_dir is not None:
            return self.documents_dir
        return self.sqlite_path.parent / "documents" if self.is_sqlite else Path("documents")

    def serving(self, host: str, port: int) -> Settings:
        """These settings for a service listening on ``host:port``: unless LEDGER_PUBLIC_URL
        is set, the links in e-mails point at that address (0.0.0.0 as 127.0.0.1)."""
        if "public_url" in self.model_fields_set:
            return self
        return self.model_copy(update={"public_url": f"http://{link_host(host)}:{port}"})

    def signing_key(self) -> str:
        """LEDGER_SECRET_KEY, or a random key kept in a file beside the SQLite database."""
        if self.secret_key:
            return self.secret_key
        if not self.is_sqlite:
            raise SettingsError("LEDGER_SECRET_KEY is required when the store is PostgreSQL")
        path = Path(self.database_url.removeprefix("sqlite:///") + ".key")
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as key_file:
                key_file.write(secrets.token_urlsafe(48))
        return path.read_text().strip()

    def eventsourcing_env(self) -> dict[str, str]:
        """The environment eventsourcing's persistence modules read."""
        if self.is_sqlite:
            path = self.database_url.removeprefix("sqlite:///")
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "APPLICATION_RECORDER_TOPIC": "ledger.store.chain:HashedSQLiteRecorder",
                "SQLITE_DBNAME": path,
                "SQLITE_LOCK_TIMEOUT": "30",
            }
        url = urlsplit(self.database_url)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": "ledger.store.log:ConcurrentPostgresRecorder",
            "POSTGRES_DBNAME": url.path.lstrip("/"),
            "POSTGRES_HOST": url.hostname or "localhost",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or ""),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_POOL_SIZE": str(self.postgres_pool_size),
            "POSTGRES_LOCK_TIMEOUT": "10",
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "10",
            "POSTGRES_CONNECT_TIMEOUT": str(math.ceil(self.database_timeout_seconds)),
        }


def link_host(host: str) -> str:
    """The host a link can use for a listening address (a wildcard means this machine)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
