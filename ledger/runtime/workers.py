"""Projections and policies, running together: in the service, or alone (`ledger workers`)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ledger.audit.tamper import LogDigests, UnverifiableStoreError
from ledger.policies.consent_email import ConsentMailer
from ledger.policies.deadlines import expire_due
from ledger.policies.reminders import record_reminders
from ledger.policies.runner import PolicyRunner
from ledger.projections.dead_letters import Backoff
from ledger.projections.runner import ViewRunner
from ledger.projections.store import ViewStore
from ledger.runtime.checkpointing import Publisher
from ledger.runtime.webhook_worker import WebhookWorker
from ledger.service.application import Ledger
from ledger.service.clock import Clock, utc_now
from ledger.service.settings import Settings, SettingsError
from ledger.service.tokens import ConsentTokens
from ledger.store.outage import unreachable

log = logging.getLogger("ledger.workers")
DIGEST_RETRY_SECONDS = 60.0
DIGEST_EVENTS_PER_ROUND = 10_000
"""A backlog is digested this much a round, so that the views' next page is not held up."""
MAIL_RESCAN_SECONDS = 5.0
"""How often the outbox is searched while the views have not moved (for e-mails a stopped
worker left 'sending' or an SMTP server refused): searching it reads every e-mail ever
written, too much to do in every idle round."""


@dataclass
class Workers:
    """Everything that follows the log: views, policies, e-mails, deadlines, and the
    running log digest."""

    ledger: Ledger
    store: ViewStore
    tokens: ConsentTokens
    settings: Settings
    clock: Clock = utc_now

    def __post_init__(self) -> None:
        backoff = Backoff(
            self.settings.dead_letter_retry_seconds, self.settings.dead_letter_max_retry_seconds
        )
        self.views = ViewRunner(
            self.ledger,
            self.store,
            page_size=self.settings.view_page_size,
            clock=self.clock,
            backoff=backoff,
        )
        self.policies = PolicyRunner(
            self.ledger, self.store, clock=self.clock, dead_letters=self.views.dead_letters
        )
        self.mailer = ConsentMailer(self.store, self.settings, self.ledger.catalog, self.tokens)
        self.webhooks = WebhookWorker(self.ledger, self.store, self.settings, self.clock)
        """Webhooks follow the log in a thread of their own (started and stopped with ``run``)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_deadline_run = 0.0
        self.digests: LogDigests | None = None  # made at the first round (if the store hashes)
        self._next_digest = 0.0  # at least once a second, and after each round with work
        self._digest_blocked_until = 0.0  # after a failure
        self.checkpoints: Publisher | None = None  # made at the first round (hashed stores)
        self._checkpoints_blocked_until = 0.0
        self._mail_position = -1  # the views' position when the outbox was last searched
        self._next_mail_search = datetime.min.replace(tzinfo=UTC)

    def run_once(self, deadlines: bool | None = None) -> int:
        """One round: views, policies, views again, the kept Customers tabs a catalog change
        calls to sort anew, e-mails, and the deadlines and their
        reminders when their schedule says so (``deadlines`` True or False decides
        instead)."""
        work = self.views.catch_up()
        work += self.policies.catch_up()
        work += self.views.catch_up()
        work += self.views.settle()
        work += self.deliver_mail()
        if deadlines is None:
            since = time.monotonic() - self._last_deadline_run
            deadlines = since >= self.settings.deadline_interval_seconds
        if deadlines:
            self._last_deadline_run = time.monotonic()
            work += len(expire_due(self.ledger, self.views, self.clock()))
            reminders = record_reminders(self.views, self.clock(), self.settings.reminder_days)
            if reminders:  # e-mails beside the views: the next round looks for them
                self._mail_position = -1
            work += reminders
        now = time.monotonic()
        if now >= self._digest_blocked_until and (work or now >= self._next_digest):
            self.digest_log()
            if now >= self._checkpoints_blocked_until:
                self.checkpoint_log()
        return work

    def deliver_mail(self) -> int:
        """Send the pending e-mails when the views moved (new e-mails may be there), when the
        last round could not send one, or when a stuck one may be due (every
        ``MAIL_RESCAN_SECONDS`` of the clock); the e-mails sent."""
        position, now = self.views.position(), self.clock()
        unchanged = position == self._mail_position and not self.mailer.released
        if unchanged and now < self._next_mail_search:
            return 0
        self._mail_position = position
        self._next_mail_search = now + timedelta(seconds=MAIL_RESCAN_SECONDS)
        return self.mailer.deliver_pending(now)

    def digest_log(self) -> None:
        """Extend the running log digest towards the log's head (``ledger.audit.tamper``), a bounded
        part of it a round; a failure is logged and retried a minute later, never in the way
        of the views."""
        try:
            if self.digests is None:
                self.digests = LogDigests.of(self.ledger)
            self.digests.extend(max_events=DIGEST_EVENTS_PER_ROUND)
            behind = not self.digests.caught_up  # a backlog: the next round goes on with it
            self._next_digest = time.monotonic() + (0.0 if behind else 1.0)
        except UnverifiableStoreError as error:
            log.warning("the log digest is not kept: %s", error)
            self._digest_blocked_until = float("inf")
        except Exception as error:
            if not unreachable(error):  # a lost database: said once (ledger.store.outage)
                log.exception(
                    "extending the log digest failed; retrying in %s s", DIGEST_RETRY_SECONDS
                )
            self._digest_blocked_until = time.monotonic() + DIGEST_RETRY_SECONDS

    def checkpoint_log(self) -> None:
        """Extend the log's Merkle tree and sign a checkpoint when it grew and the interval
        passed (``ledger.runtime.checkpointing``); a failure is logged and retried a minute
        later, a store or settings that cannot have checkpoints said once."""
        try:
            if self.checkpoints is None:
                self.checkpoints = Publisher(self.ledger, self.settings)
            self.checkpoints.round(self.clock())
            if not self.checkpoints.caught_up:
                self._next_digest = time.monotonic()  # a backlog: the next round goes on
        except (UnverifiableStoreError, SettingsError) as error:
            log.warning("no checkpoints of the log are signed: %s", error)
            self._checkpoints_blocked_until = float("inf")
        except Exception as error:
            if not unreachable(error):  # a lost database: said once (ledger.store.outage)
                log.exception("signing a checkpoint failed; retrying in %s s", DIGEST_RETRY_SECONDS)
            self._checkpoints_blocked_until = time.monotonic() + DIGEST_RETRY_SECONDS

    def run(self, poll_seconds: float = 0.05, retry_seconds: float = 1.0) -> None:
        self.webhooks.start()
        try:
            self._follow(poll_seconds, retry_seconds)
        finally:
            self.webhooks.stop()

    def _follow(self, poll_seconds: float, retry_seconds: float) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception as error:  # keep following the log; the failed page is retried
                if not unreachable(error):  # a lost database: said once (ledger.store.outage)
                    log.exception("worker round failed; retrying in %s s", retry_seconds)
                self._stop.wait(retry_seconds)
                continue
            if not busy:
                self._stop.wait(poll_seconds)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="ledger-workers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def running(self) -> bool:
        """Whether the thread ``start`` made still follows the log (``/readyz`` asks)."""
        return self._thread is not None and self._thread.is_alive()
