"""The golden log (tests/golden/, docs/events.md): events stored by earlier code, of every type
the Ledger writes, must still verify, read and replay with the current code, on both stores.

A change to an event's shape without a ``class_version`` and an upcaster fails here: the stored
events no longer decode into their classes, or the views they replay into differ.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.utils import get_topic, resolve_topic

from ledger.audit.tamper import verify
from ledger.runtime.bootstrap import Services, bootstrap
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from tests.golden import golden


@pytest.fixture(scope="module")
def saves() -> list[list[golden.GoldenEvent]]:
    return golden.golden_saves()


@pytest.fixture
def loaded(settings: Settings) -> Iterator[Services]:
    """A fresh store of each kind holding the golden log as it was stored, and its services
    on the golden clock (views not yet caught up)."""
    ledger = open_ledger(settings, golden.golden_catalog())
    services = bootstrap(settings, ledger=ledger, clock=lambda: golden.NOW)
    golden.load_golden(ledger)
    yield services
    services.close()


def test_every_event_type_the_ledger_writes_has_golden_entries(
    saves: list[list[golden.GoldenEvent]],
) -> None:
    """A new event type needs its golden entries (tests/golden/make_golden.py)."""
    stored = {event.stored.topic for save in saves for event in save}
    classes = golden.written_event_classes()
    assert len(classes) >= 25
    missing = sorted(get_topic(c) for c in classes if get_topic(c) not in stored)
    assert not missing, f"no golden entry for {missing}: see docs/events.md"


def test_the_golden_log_is_stored_as_committed_and_verifies(
    loaded: Services, saves: list[list[golden.GoldenEvent]]
) -> None:
    ledger = loaded.ledger
    committed = [event for save in saves for event in save]
    page = ledger.event_log.page_after(0, 10_000, hashes=True)
    assert [(n.originator_id, n.originator_version, n.topic) for n in page.notifications] == [
        (e.stored.originator_id, e.stored.originator_version, e.stored.topic) for e in committed
    ]
    assert [bytes(n.state) for n in page.notifications] == [e.stored.state for e in committed]
    assert list(page.hashes) == [e.hash for e in committed], "a committed entry was rewritten"
    result = verify(ledger)
    assert result.ok, [str(finding) for finding in result.findings]
    assert result.events == len(committed)


def decode_failures(ledger: Ledger, sealed: bool) -> list[str]:
    """Each golden event that does not read back into the class its topic names."""
    failures = []
    for notification in ledger.event_log.page_after(0, 10_000).notifications:
        where = f"{notification.topic} v{notification.originator_version}"
        try:
            event: Any = (
                ledger.sealed_event(notification)
                if sealed
                else ledger.mapper.to_domain_event(notification)
            )
        except Exception as error:
            failures.append(f"{where}: {type(error).__name__}: {error}")
            continue
        if type(event) is not resolve_topic(notification.topic):
            failures.append(f"{where}: read as {type(event).__qualname__}")
    return failures


@pytest.mark.parametrize("sealed", [False, True], ids=["opened", "sealed"])
def test_every_golden_event_reads_into_its_current_class(loaded: Services, sealed: bool) -> None:
    failures = decode_failures(loaded.ledger, sealed)
    assert not failures, (
        "stored events no longer read with the current code; an event's shape changed "
        "without class_version and an upcaster (docs/events.md):\n" + "\n".join(failures)
    )


def test_every_golden_aggregate_folds_from_its_events(
    loaded: Services, saves: list[list[golden.GoldenEvent]]
) -> None:
    ids = {event.stored.originator_id for save in saves for event in save}
    for originator_id in ids:
        aggregate: Any = loaded.ledger.repository.get(UUID(str(originator_id)))
        assert aggregate.version == max(
            e.stored.originator_version
            for save in saves
            for e in save
            if e.stored.originator_id == originator_id
        )


def differences(shown: dict[str, Any], expected: dict[str, Any]) -> str:
    """The views that differ, each as a short unified diff of its JSON."""
    parts = []
    for part in ("tables", "reads"):
        for name in sorted(set(shown[part]) | set(expected[part])):
            was, now = expected[part].get(name), shown[part].get(name)
            if was != now:
                lines = difflib.unified_diff(
                    json.dumps(was, indent=1, sort_keys=True).splitlines(),
                    json.dumps(now, indent=1, sort_keys=True).splitlines(),
                    f"views.json {part}/{name}",
                    "replayed now",
                    n=1,
                    lineterm="",
                )
                parts.append("\n".join(list(lines)[:30]))
    return "\n".join(parts)


def test_the_golden_log_replays_into_the_committed_views(loaded: Services) -> None:
    loaded.workers.views.catch_up()
    found = differences(golden.what_the_views_show(loaded), golden.read_json(golden.VIEWS))
    assert not found, (
        "the golden log replays into other views. If that change is meant (a new field shown "
        "in the history, say), rewrite tests/golden/views.json with "
        "`python -m tests.golden.make_golden --views` and review its diff (docs/events.md):\n"
        + found
    )
