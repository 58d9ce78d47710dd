"""Storing pydantic events: pydantic dumps to JSON types and rebuilds typed fields.

Like the library's own mapper, the JSON bytes are compressed and then encrypted on the way in
when the application's env names a compressor (``COMPRESSOR_TOPIC``) or a cipher
(``CIPHER_TOPIC``, ``CIPHER_KEY``), and decrypted and then decompressed on the way out; the
application gets the mapper from the library's factory, which reads those settings.

Events that changed shape are versioned as the library's are (docs/events.md): an event class
at ``class_version`` N > 1 is stored with ``"class_version": N`` at the end of its state (a
version-1 event is stored exactly as before, byte for byte), and an event stored at an older
version goes through the class's ``upcast_vK_vK+1`` static methods, in order, on its decoded
state before the model is built. Upcasting changes what is read, never what is stored: the
hash chain covers the stored bytes.
"""

from __future__ import annotations

import json
from typing import Any, cast
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
    Transcoding,
)
from eventsourcing.utils import get_topic, resolve_topic
from pydantic import BaseModel
from pydantic_core import PydanticSerializationError, from_json

from ledger.aggregates.base import upcaster_name
from ledger.aggregates.values import SEAL, TRUSTED
from ledger.store.outage import unreachable
from ledger.store.personal import JSON_MARK, KeyRing

JSON_MARK_BYTES = JSON_MARK.encode()
CLASS_VERSION = "class_version"


def upcast(event_class: type[Any], state: dict[str, Any]) -> None:
    """Bring a decoded stored state up to ``event_class``'s ``class_version``, in place: each
    upcaster from the version it was stored at (1 when it names none) to the current one."""
    current = getattr(event_class, CLASS_VERSION, 1)
    stored = state.pop(CLASS_VERSION, 1)
    if type(stored) is not int or not 1 <= stored <= current:
        raise ValueError(
            f"it was stored at class_version {stored!r}, which {event_class.__qualname__} "
            f"(at version {current}) cannot read: written by newer code?"
        )
    for version in range(stored, current):
        getattr(event_class, upcaster_name(version))(state)


class JsonTranscoder(Transcoder):
    """Plain JSON: pydantic has already turned every value into a JSON type."""

    def encode(self, obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()

    def decode(self, data: bytes) -> Any:
        return from_json(data)  # pydantic-core's parser: the same values, three times faster

    def register(self, transcoding: Transcoding) -> None:
        raise NotImplementedError("events are pydantic models; no transcodings are needed")


class PydanticMapper(Mapper[UUID]):
    """Pydantic events as JSON; encode, compress, encrypt in; decrypt, decompress, decode out.

    With a ``keyring``, contacts' names and addresses are sealed under each contact's key on
    the way in, and opened on the way out (``[erased]`` once the key is gone) unless the
    reader asks for them ``sealed`` (the views keep them sealed, and open them when read).
    """

    keyring: KeyRing | None = None

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        state = self._dump(cast(BaseModel, domain_event))
        class_version = getattr(type(domain_event), CLASS_VERSION, 1)
        if class_version > 1:  # version 1 is stored without it, as it always was
            state[CLASS_VERSION] = class_version
        stored_state = self.transcoder.encode(state)
        if self.compressor:
            stored_state = self.compressor.compress(stored_state)
        if self.cipher:
            stored_state = self.cipher.encrypt(stored_state)
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=get_topic(type(domain_event)),
            state=stored_state,
        )

    def _dump(self, event: BaseModel) -> dict[str, Any]:
        """The event's state as JSON types, its contacts sealed; a seal that failed (the
        database out of reach) raised as itself, not as pydantic's words for it."""
        try:
            return event.model_dump(
                mode="json",
                exclude={"originator_id", "originator_version"},
                context=None if self.keyring is None else {SEAL: self.keyring},
            )
        except PydanticSerializationError:
            failure = None if self.keyring is None else self.keyring.take_failure()
            if failure is None:
                raise
            raise failure  # noqa: B904 (its own cause is the database's error)

    def to_domain_event(
        self, stored_event: StoredEvent, *, sealed: bool = False
    ) -> DomainEventProtocol[UUID]:
        stored_state = stored_event.state
        event_class = cast(type[BaseModel], resolve_topic(stored_event.topic))
        try:
            if self.cipher:
                stored_state = self.cipher.decrypt(stored_state)
            if self.compressor:
                stored_state = self.compressor.decompress(stored_state)
            if not sealed and self.keyring is not None and JSON_MARK_BYTES in stored_state:
                stored_state = self.keyring.open_text(stored_state.decode()).encode()
            state = self.transcoder.decode(stored_state)
            upcast(event_class, state)
        except Exception as error:
            if unreachable(error):  # not the event's fault: the database is out of reach
                raise
            raise MapperDeserialisationError(
                f"cannot read the state of stored event {stored_event.topic!r} of "
                f"{stored_event.originator_id} version {stored_event.originator_version}: {error}"
            ) from error
        event = event_class.model_validate(
            {
                **state,
                "originator_id": stored_event.originator_id,
                "originator_version": stored_event.originator_version,
            },
            context=TRUSTED,  # ours: the costly checks ran when the command made the event
        )
        return cast(DomainEventProtocol[UUID], event)
