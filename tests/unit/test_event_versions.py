"""Event versioning (docs/events.md): ``class_version`` and ``upcast_vN_vN+1`` static methods,
as the eventsourcing library has them, applied by our mapper to the decoded stored state
before the pydantic model is built; the stored bytes are never changed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent
from eventsourcing.utils import get_topic

from ledger.aggregates.base import DomainEvent
from ledger.aggregates.seat import Seat
from ledger.store.persistence import JsonTranscoder, PydanticMapper

ID = UUID("12345678-1234-5678-1234-567812345678")
WHEN = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
V1_STATE = {"timestamp": "2026-03-02T09:00:00Z", "name": "Fabrikam"}
"""What a version-1 event stored: a ``name`` that later versions call ``title``."""


class Labelled(DomainEvent):
    """Version 2: ``name`` was renamed ``title``."""

    class_version = 2
    title: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["title"] = state.pop("name")


STEPS: list[str] = []


class Badge(DomainEvent):
    """Version 3: ``name`` renamed ``title`` (v2), then a required ``language`` (v3)."""

    class_version = 3
    title: str
    language: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        STEPS.append("v1->v2")
        state["title"] = state.pop("name")

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        STEPS.append("v2->v3")
        state["language"] = "pt-BR" if state["title"].endswith("Ltda") else "en"


def mapper() -> PydanticMapper:
    return PydanticMapper(transcoder=JsonTranscoder())


def stored(event_class: type[DomainEvent], state: dict[str, Any]) -> StoredEvent:
    encoded = json.dumps(state, separators=(",", ":")).encode()
    return StoredEvent(ID, 1, get_topic(event_class), encoded)


def test_a_stored_v1_state_reads_as_the_v2_class_through_its_upcaster() -> None:
    event = mapper().to_domain_event(stored(Labelled, V1_STATE))
    assert event == Labelled(
        originator_id=ID, originator_version=1, timestamp=WHEN, title="Fabrikam"
    )


def test_a_stored_v1_state_of_a_v3_class_goes_through_both_upcasters_in_order() -> None:
    STEPS.clear()
    event = mapper().to_domain_event(stored(Badge, {**V1_STATE, "name": "Fabrikam Ltda"}))
    assert STEPS == ["v1->v2", "v2->v3"]
    assert isinstance(event, Badge)
    assert (event.title, event.language) == ("Fabrikam Ltda", "pt-BR")


def test_a_stored_v2_state_goes_through_the_later_upcasters_only() -> None:
    STEPS.clear()
    state = {"timestamp": V1_STATE["timestamp"], "title": "Fabrikam", "class_version": 2}
    event = mapper().to_domain_event(stored(Badge, state))
    assert STEPS == ["v2->v3"]
    assert isinstance(event, Badge) and event.language == "en"


def test_an_event_above_version_1_is_stored_with_its_version_and_reads_back_unchanged() -> None:
    event = Badge(originator_id=ID, originator_version=1, timestamp=WHEN, title="T", language="en")
    record = mapper().to_stored_event(event)
    assert json.loads(record.state)["class_version"] == 3
    STEPS.clear()
    assert mapper().to_domain_event(record) == event
    assert STEPS == []


def test_a_version_1_event_is_stored_as_it_always_was() -> None:
    """No ``class_version`` in the state: existing logs and their hash chains are unchanged."""
    seat = Seat.open("E-WS", "tenant_id:x", WHEN)
    (event,) = seat.collect_events()
    assert isinstance(event, Seat.Opened)
    record = mapper().to_stored_event(event)
    dumped = event.model_dump(mode="json", exclude={"originator_id", "originator_version"})
    assert record.state == json.dumps(dumped, separators=(",", ":"), ensure_ascii=False).encode()
    assert b"class_version" not in record.state


def test_a_state_from_a_newer_version_is_refused_by_name() -> None:
    state = {"timestamp": V1_STATE["timestamp"], "title": "T", "class_version": 3}
    with pytest.raises(MapperDeserialisationError, match="class_version 3"):
        mapper().to_domain_event(stored(Labelled, state))


def test_a_class_without_an_upcaster_for_each_step_is_refused_when_defined() -> None:
    with pytest.raises(TypeError, match=r"lacks upcast_v2_v3\(state: dict\)"):

        class Missing(DomainEvent):
            class_version = 3

            @staticmethod
            def upcast_v1_v2(state: dict[str, Any]) -> None:
                pass

    with pytest.raises(TypeError, match="lacks upcast_v1_v2"):

        class NoneAtAll(DomainEvent):
            class_version = 2


def test_an_upcaster_beyond_the_class_version_is_refused_when_defined() -> None:
    """An upcaster added without raising ``class_version``: it would never run."""
    with pytest.raises(TypeError, match="raise class_version to 3"):

        class Forgotten(Labelled):
            @staticmethod
            def upcast_v2_v3(state: dict[str, Any]) -> None:
                pass


class Special(Labelled):
    """Inherits ``Labelled``'s version and upcaster."""


def test_a_subclass_inherits_its_bases_version_and_upcasters() -> None:
    assert Special.class_version == 2
    event = mapper().to_domain_event(stored(Special, V1_STATE))
    assert isinstance(event, Special) and event.title == "Fabrikam"
