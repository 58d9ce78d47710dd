"""Make the golden log: ``.venv/bin/python -m tests.golden.make_golden [--database-url URL]
[--out FOLDER]``.

Plays a scenario through the Ledger's commands and its policies (tests/factories.py's catalog
and principals, on a fixed clock) that stores at least one event of every type the Ledger
writes, then writes, into ``tests/golden/`` unless ``--out`` names another folder:

- ``events.json``: every stored event as stored (topic, originator id and version, the state's
  bytes as text, its chained hash), grouped by the save that stored them, in log order;
- ``keys.json``: the contact keys the names and addresses in them are sealed under, and the
  erasures (TEST keys, made for this log only);
- ``catalog.json``: the catalog the claims were made under;
- ``views.json``: what the views show once the log is replayed into a fresh store with the
  current code (``golden.what_the_views_show``).

``--views`` rewrites ``views.json`` alone, from the committed log: for a change to what the
views show that is meant (review its diff). It never touches the events or the keys.

Ids, contact keys and their nonces come from a seeded generator, so that the same code makes
the same bytes on SQLite (the default: a file in a temporary folder) and on PostgreSQL.

Do not run it to "fix" a failing golden-log test: a committed golden entry is a record of what
was stored and is never rewritten (docs/events.md). Run it to add the entries of a NEW event
type: add a step that stores it to ``play`` below, run it into another folder (``--out``), and
append the new type's entries to the committed files.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock
from uuid import NAMESPACE_URL, UUID, uuid5

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from ledger.aggregates.base import SYSTEM
from ledger.aggregates.webhook import WebhookSubscription
from ledger.domain.commands import Cancel, Dispute, Review, parse
from ledger.runtime import erasure
from ledger.runtime.bootstrap import Services, bootstrap
from ledger.service import application
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from ledger.store import personal
from tests.factories import (
    ADMIN_A,
    AUDITOR,
    CATALOG_DATA,
    LITWARE,
    NORTHWIND,
    REVIEWER,
    consent_request,
    create,
    days,
    make_catalog,
    proof,
)
from tests.golden import golden

SEED = "claim-ledger golden log"


@contextmanager
def deterministic() -> Iterator[None]:
    """Claim, link and key ids, contact keys and nonces from a seeded generator; the keys'
    ``created_at`` fixed."""
    rng = random.Random(SEED)
    count = iter(range(1, 1_000_000))

    def uuid4() -> UUID:
        return uuid5(NAMESPACE_URL, f"{SEED}/{next(count)}")

    class SeededAESGCM:
        def __new__(cls, key: bytes) -> Any:
            return AESGCM(key)

        @staticmethod
        def generate_key(bit_length: int) -> bytes:
            return rng.randbytes(bit_length // 8)

    fixed = time.struct_time((2026, 3, 2, 9, 0, 0, 0, 61, 0))
    clock = SimpleNamespace(
        strftime=time.strftime, gmtime=lambda: fixed, monotonic=time.monotonic, sleep=time.sleep
    )
    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(application, "uuid4", uuid4))
        stack.enter_context(mock.patch.object(personal, "uuid4", uuid4))
        stack.enter_context(mock.patch.object(personal, "AESGCM", SeededAESGCM))
        stack.enter_context(
            mock.patch.object(personal, "os", SimpleNamespace(urandom=rng.randbytes))
        )
        stack.enter_context(mock.patch.object(personal, "time", clock))
        yield


class Recorded:
    """The events of each save, as the recorder was given them."""

    def __init__(self, ledger: Ledger) -> None:
        self.saves: list[list[StoredEvent]] = []
        insert = ledger.recorder.insert_events

        def recording(stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
            ids = insert(stored_events, **kwargs)
            self.saves.append(list(stored_events))
            return ids

        ledger.recorder.insert_events = recording  # type: ignore[method-assign]


class Clock:
    def __init__(self) -> None:
        self.now = days(0)

    def __call__(self) -> Any:
        return self.now


def settle(services: Services, clock: Clock, day: float) -> None:
    """The workers' round at ``day``: views, policies (referral, co-sell), e-mails."""
    clock.now = days(day)
    services.workers.run_once(deadlines=False)


def play(services: Services, clock: Clock) -> None:
    """Every event type: claims through consent, review, dispute, approval, decline,
    cancellation (under an Idempotency-Key), expiry; referral and co-sell; an erasure."""
    ledger = services.ledger
    (a,) = ledger.create_claims(
        ADMIN_A, create(["E-WS"], customer_email="cio@fabrikam.com"), days(0)
    )
    (b,) = ledger.create_claims(
        ADMIN_A,
        create(["E-AS"], value=NORTHWIND, name="Northwind", customer_email="it@northwind.com"),
        days(0),
    )
    (c,) = ledger.create_claims(
        ADMIN_A,
        create(["E-AS"], value=LITWARE, name="Litware", customer_email="it@litware.com"),
        days(0),
    )
    variable = create(
        ["E-VAR"], id_type="msx_opportunity_id", value="7-SMALL00001", name="Fabrikam AI", hours=10
    )
    ledger.create_claims(ADMIN_A, variable, days(0))
    ledger.request_consent(ADMIN_A, a, consent_request(), days(0.5))
    settle(services, clock, 0.5)  # the referral (R40)
    link = ledger.send_consent_reminder(ADMIN_A, a, days(0.6))
    ledger.answer_consent(a, link, True, days(1))
    settle(services, clock, 1)  # the co-sell upgrade (R42)
    declined = ledger.request_consent(ADMIN_A, b, consent_request("500.00"), days(1))
    ledger.answer_consent(b, declined, False, days(1.5))
    request = ledger.request_key(ADMIN_A.user_id, "golden-cancel", f"cancel {c}")
    cancel = parse(Cancel, {"reason": "duplicate"})
    ledger.run(request, ledger.cancel, ADMIN_A, c, cancel, days(1.6))
    ledger.create_claims(ADMIN_A, create(["E-AS"], origin="claimed"), days(2))  # a known one
    review(ledger, a)
    ledger.expire_due(days(12.5))  # the known one's consent deadline (10 days) passed
    settle(services, clock, 13)
    forget(services, "it@northwind.com", 13)
    webhook(ledger, 14)


def webhook(ledger: Ledger, day: float) -> None:
    """A webhook subscribed, disabled after failing, enabled again, deleted (its salt fixed:
    the service draws it at random)."""
    made = WebhookSubscription.subscribe(
        subscription_id=UUID("00000000-0000-4000-8000-00000000b00c"),
        partner_id="P-A",
        url="https://hooks.example/ledger",
        events=("Approved",),
        salt="golden-salt",
        actor=ADMIN_A.actor,
        now=days(day),
    )
    ledger.save(made)
    made.disable(failing_since=days(day), actor=SYSTEM, now=days(day + 1))
    ledger.save(made)
    made.enable(actor=ADMIN_A.actor, now=days(day + 2))
    ledger.save(made)
    made.delete(actor=ADMIN_A.actor, now=days(day + 3))
    ledger.save(made)


def forget(services: Services, email: str, day: float) -> None:
    """Erase a contact (its key is deleted: its name and address read ``[erased]``)."""
    views, mail = services.workers.views, services.settings.mail_directory()
    erasure.forget(services.ledger, views, mail, AUDITOR, email, days(day))
    services.workers.run_once(deadlines=False)


def review(ledger: Ledger, claim_id: UUID) -> None:
    """Submitted, information requested, resubmitted, rejected, disputed, approved."""
    steps: list[tuple[float, str, str | None]] = [
        (3, "start", None),
        (4, "request_information", "the invoice is unreadable"),
        (6, "start", None),
        (7, "reject", "the survey is unsigned"),
        (10, "start", None),
        (11, "approve", None),
    ]
    ledger.submit(ADMIN_A, claim_id, proof(), days(2))
    for day, action, reason in steps:
        ledger.review(
            REVIEWER, claim_id, parse(Review, {"action": action, "reason": reason}), days(day)
        )
        if action == "request_information":
            ledger.submit(ADMIN_A, claim_id, proof(), days(5))
        if action == "reject":
            ledger.dispute(
                ADMIN_A, claim_id, parse(Dispute, {"reason": "signed one attached"}), days(8)
            )
            ledger.submit(ADMIN_A, claim_id, proof(), days(9))


def settings_for(database_url: str | None, folder: Path) -> Settings:
    return Settings(
        database_url=database_url or f"sqlite:///{folder / 'golden.sqlite3'}",
        secret_key="a-test-signing-key-that-is-long-enough-for-hs256",
        mail_dir=folder / "mail",
    )


def make(settings: Settings, out: Path, scratch: Path) -> None:
    """Play the scenario on the store ``settings`` names (empty), write the golden files
    (the log is replayed in a SQLite file in ``scratch``)."""
    clock = Clock()
    with deterministic():
        ledger = open_ledger(settings, make_catalog())
        recorded = Recorded(ledger)
        services = bootstrap(settings, ledger=ledger, clock=clock)
        try:
            play(services, clock)
            live_views = golden.view_tables(services)
            keys = golden.dump_keys(ledger)
            page = ledger.event_log.page_after(0, 10_000, hashes=True)
        finally:
            services.close()
    stored = [e for save in recorded.saves for e in save]
    assert [(n.originator_id, n.originator_version) for n in page.notifications] == [
        (e.originator_id, e.originator_version) for e in stored
    ], "the saves were recorded in log order"
    hashes = iter(page.hashes)
    saves = [
        [golden.GoldenEvent(e, next(hashes) or b"").as_json() for e in s] for s in recorded.saves
    ]
    written = {e["topic"] for save in saves for e in save}
    missing = [c for c in golden.written_event_classes() if get_topic(c) not in written]
    assert not missing, f"the scenario stores no {missing}: add a step to play()"
    out.mkdir(parents=True, exist_ok=True)
    golden.write_json(golden.EVENTS, {"saves": saves}, out)
    golden.write_json(golden.KEYS, keys, out)
    golden.write_json(golden.CATALOG, CATALOG_DATA, out)
    golden.write_json(golden.VIEWS, replayed(settings_for(None, scratch / "replay"), out), out)
    assert golden.plain(live_views) == golden.read_json(golden.VIEWS, out)["tables"], (
        "the views replayed from the golden log differ from the ones kept live"
    )


def replayed(settings: Settings, folder: Path) -> dict[str, Any]:
    """What the views show once the golden log in ``folder`` is replayed into a new store."""
    ledger = open_ledger(settings, golden.golden_catalog(folder))
    services = bootstrap(settings, ledger=ledger, clock=lambda: golden.NOW)
    try:
        golden.load_golden(ledger, folder)
        services.workers.views.catch_up()
        return golden.what_the_views_show(services)
    finally:
        services.close()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--database-url", help="an EMPTY store (default: a new SQLite file)")
    parser.add_argument("--out", type=Path, default=golden.HERE, help="where the files go")
    parser.add_argument(
        "--views",
        action="store_true",
        help="rewrite views.json only, from the committed log replayed with the current code",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        if args.views:
            shown = replayed(settings_for(None, Path(folder)), args.out)
            golden.write_json(golden.VIEWS, shown, args.out)
        else:
            make(settings_for(args.database_url, Path(folder)), args.out, Path(folder))
    print(f"golden {'views' if args.views else 'log'} written to {args.out}")


if __name__ == "__main__":
    main()
