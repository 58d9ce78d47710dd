"""A process that only sends webhooks (``python -m testkit.webhook_worker``): the settings
from the environment, as ``ledger workers`` reads them; the kill -9 test kills it mid-delivery."""

from __future__ import annotations

from ledger.projections.store import ViewStore
from ledger.runtime.webhook_worker import WebhookWorker
from ledger.service.application import open_ledger
from ledger.service.settings import Settings


def main() -> None:
    settings = Settings()
    ledger = open_ledger(settings)
    store = ViewStore.open(settings.eventsourcing_env())
    worker = WebhookWorker(ledger, store, settings)
    print("sending webhooks", flush=True)
    worker.run()


if __name__ == "__main__":
    main()
