"""Webhooks, in a thread of their own: record deliveries from the log, then send the due ones.

A receiver that is slow or hangs holds this thread up to the request timeout, never the
views, the policies or the e-mails (``ledger.runtime.workers``).
"""

from __future__ import annotations

import logging
import threading

from ledger.policies.webhook_deliveries import DeliveryRecorder
from ledger.policies.webhook_sender import WebhookSender
from ledger.policies.webhooks import Webhooks
from ledger.projections.feed import Feed, Owners
from ledger.projections.store import ViewStore
from ledger.service.application import Ledger
from ledger.service.clock import Clock, utc_now
from ledger.service.settings import Settings
from ledger.store.outage import unreachable

log = logging.getLogger("ledger.webhooks")


class WebhookWorker:
    """The webhooks' follower and sender, and the subscriptions the API and the page use."""

    def __init__(
        self, ledger: Ledger, store: ViewStore, settings: Settings, clock: Clock = utc_now
    ) -> None:
        feed = Feed(ledger, Owners(ledger), settings.signing_key())
        self.clock = clock
        self.recorder = DeliveryRecorder(ledger, store, feed)
        self.sender = WebhookSender(ledger, store, feed, settings, clock)
        self.subscriptions = Webhooks(ledger, store, self.recorder, settings)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """Record the deliveries of new events, then send every due one once."""
        return self.recorder.catch_up() + self.sender.deliver_due(self.clock())

    def run(self, poll_seconds: float = 0.05, retry_seconds: float = 1.0) -> None:
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception as error:  # keep following the log; the round is tried again
                if not unreachable(error):  # a lost database: said once (ledger.store.outage)
                    log.exception("webhook round failed; retrying in %s s", retry_seconds)
                self._stop.wait(retry_seconds)
                continue
            if not busy:
                self._stop.wait(poll_seconds)

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self.run, name="ledger-webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.sender.close()
