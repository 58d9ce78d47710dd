"""Running a command: once per request, on the aggregates this process keeps (checked before
they decide anything), saved with its request's record in one transaction, and run again on
fresh state when a concurrent save won the race."""

from __future__ import annotations

import functools
import hashlib
import random
import time
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import BaseAggregate, DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import IntegrityError, Recording
from pydantic import TypeAdapter

from ledger.aggregates.base import Aggregate
from ledger.aggregates.request import IdempotentRequest
from ledger.domain.errors import ConflictError, InvalidInputError, LedgerError
from ledger.service.aggregate_cache import AggregateCache, AttemptReads
from ledger.service.group_commit import GroupCommit
from ledger.store.log import EventLog, Written
from ledger.store.stale import StaleReadError

P = ParamSpec("P")
T = TypeVar("T")
U = TypeVar("U")
A = TypeVar("A", bound=Aggregate)
L = TypeVar("L", bound="RunningCommands")
MAX_ATTEMPTS = 30
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class RequestKey:
    """The Idempotency-Key a command runs under: whose it is, the key ("": none, nothing is
    recorded) and the hash of the request it came with."""

    owner: str
    key: str
    request_hash: str


NO_KEY = RequestKey(owner="", key="", request_hash="")
"""No Idempotency-Key: the command runs as itself, and nothing is recorded."""


@dataclass(frozen=True)
class Changed(Generic[T]):
    """What a command did: its result, and the aggregates it changed (None: no change of that
    kind). It saves nothing: ``LedgerBase.run`` saves them."""

    result: T
    aggregates: tuple[Aggregate | None, ...] = ()


@dataclass(frozen=True)
class Done(Generic[T]):
    """What running a command came to: its result (the first run's, on a replay), whether it
    answered from its request's record, the version each aggregate reached in the command's
    save (the first run's, on a replay: what the answer shows, whatever happened since), and
    the log position that save reached (None: nothing saved now), which the same client's
    reads wait for."""

    result: T
    replayed: bool = False
    versions: Mapping[UUID, int] = field(default_factory=dict)
    position: int | None = None

    def answering(self, result: U) -> Done[U]:
        """The same outcome with another result: what an interface made of this one."""
        return Done(result, self.replayed, self.versions, self.position)


class Command(Generic[L, P, T]):
    """A command of the Ledger: the method it decorates loads what it needs, lets the
    aggregates act and returns what it ``Changed``, saving nothing. ``ledger.run(request,
    ledger.submit, ...)`` runs it once per request and saves; ``ledger.submit(...)`` is
    ``ledger.run(NO_KEY, ledger.submit, ...).result``: it saves, and answers the result."""

    def __init__(self, decide: Callable[Concatenate[L, P], Changed[T]]) -> None:
        self.decide = decide
        self.__name__ = decide.__name__
        self.__doc__ = decide.__doc__

    @functools.cached_property
    def result_type(self) -> TypeAdapter[T]:
        """How its result is kept in a request's record (the ``T`` of ``Changed[T]``)."""
        changed = typing.get_type_hints(self.decide)["return"]
        return TypeAdapter(typing.get_args(changed)[0])

    @typing.overload
    def __get__(self, ledger: None, owner: type[Any]) -> Command[L, P, T]: ...

    @typing.overload
    def __get__(self, ledger: L, owner: type[Any]) -> BoundCommand[P, T]: ...

    def __get__(self, ledger: L | None, owner: type[Any]) -> Command[L, P, T] | BoundCommand[P, T]:
        return self if ledger is None else BoundCommand(ledger, self)


@dataclass(frozen=True)
class BoundCommand(Generic[P, T]):
    """A command of one ledger (``ledger.submit``): called, it runs with no key and saves."""

    ledger: RunningCommands
    command: Command[Any, P, T]

    @property
    def __name__(self) -> str:
        return self.command.__name__

    def decide(self, *args: P.args, **kwargs: P.kwargs) -> Changed[T]:
        """What the command would change now: nothing is saved."""
        return self.command.decide(self.ledger, *args, **kwargs)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run the command with no key: what it changed is saved; its result."""
        return self.ledger.run(NO_KEY, self, *args, **kwargs).result


class RunningCommands(Application[UUID]):
    """The store's side of running a command: the request it runs under, its attempts, the
    save of what it changed, and the loading of aggregates (kept copies in a command)."""

    aggregates: AggregateCache
    event_log: EventLog
    committer: GroupCommit | None
    """Writes the saves of commands that arrive together in one transaction (None: each
    command's save is its own)."""

    # -- running a command: the one step that saves ------------------------------------------

    def request_key(self, owner: str, key: str | None, fingerprint: str) -> RequestKey:
        """The request a command runs under: once per (owner, key), so that after any crash
        a retry with the same key and request answers what the first did, and a retry of a
        request that died before its save runs the command. No key: ``NO_KEY``'s kind."""
        if key is not None and not (1 <= len(key) <= MAX_KEY_LENGTH and key.isprintable()):
            raise InvalidInputError(
                "invalid-idempotency-key",
                field="Idempotency-Key",
                params={"max_length": MAX_KEY_LENGTH},
            )
        request_hash = hashlib.sha256(fingerprint.encode()).hexdigest()
        return RequestKey(owner=owner, key=key or "", request_hash=request_hash)

    def run(
        self,
        request: RequestKey,
        command: BoundCommand[P, T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Done[T]:
        """Run the command once per request and save what it changed, with the request's
        record, in one transaction; or answer what the record says, if it ran before.

        When a concurrent save won the race (the store refuses ours), it runs again on fresh
        state, so its checks always see the latest facts (R16)."""
        decide = functools.partial(command.decide, *args, **kwargs)
        for n in range(MAX_ATTEMPTS):
            try:
                return self._attempt(request, command.command, decide)
            except StaleReadError:
                continue  # no other writer to make way for: at once, on fresh reads
            except IntegrityError:
                time.sleep(random.uniform(0, 0.002 * 2 ** min(n, 6)))
        raise ConflictError("concurrent-update")

    def _attempt(
        self, request: RequestKey, command: Command[Any, Any, T], decide: Callable[[], Changed[T]]
    ) -> Done[T]:
        """One attempt on the aggregates this process keeps (``AggregateCache``); a refusal
        on kept copies is checked once more on fresh reads before it is answered."""
        with self.aggregates.attempt() as reads:
            try:
                return self._attempt_with(request, command, decide, reads)
            except LedgerError:
                if not reads.used_copies:
                    raise
                self.aggregates.drop(reads.copies)
        with self.aggregates.attempt(fresh=True) as reads:
            return self._attempt_with(request, command, decide, reads)

    def _attempt_with(
        self,
        request: RequestKey,
        command: Command[Any, Any, T],
        decide: Callable[[], Changed[T]],
        reads: AttemptReads,
    ) -> Done[T]:
        """The recorded answer if the request ran before; else run the command and save what
        it changed with the request's record.

        A refusal is checked against the record too: a twin request that committed after
        this one looked is what made it (the claim exists now, the state moved on)."""
        record = self._request_record(request, command.__name__)
        if record is None:
            try:
                changed = decide()
            except LedgerError:
                record = self._request_record(request, command.__name__)
                if record is None:
                    raise
            else:
                return self._save_changed(request, command, changed, reads)
        versions = {UUID(id_): version for id_, version in record.versions.items()}
        return Done(command.result_type.validate_python(record.result), True, versions)

    def _request_record(self, request: RequestKey, command: str) -> IdempotentRequest | None:
        """The record of this request's first run, if it ran; 422 when the key was used for
        another request. No key: no record."""
        if not request.key:
            return None
        events = tuple(self.events.get(IdempotentRequest.id_for(request.owner, request.key)))
        record = _fold(None, events) if events else None  # never a kept copy: the store's
        if not isinstance(record, IdempotentRequest):
            return None
        if (record.request_hash, record.command) != (
            request.request_hash,
            command,
        ):
            raise InvalidInputError("idempotency-key-reused", field="Idempotency-Key")
        return record

    def _save_changed(
        self,
        request: RequestKey,
        command: Command[Any, Any, T],
        changed: Changed[T],
        reads: AttemptReads,
    ) -> Done[T]:
        """Save what the command changed and the request's record (with the versions saved),
        in one transaction; the record's time is the command's ``now`` (that of its events).
        A command that changed nothing has nothing to record: a retry runs it again, as
        harmless as the first. Without a key, only the command's aggregates are saved."""
        aggregates = [a for a in changed.aggregates if a is not None and a.pending_events]
        versions = {aggregate.id: aggregate.version for aggregate in aggregates}
        self._check_copies(reads, versions)
        if not aggregates:
            return Done(changed.result)
        record = None
        if request.key:
            record = IdempotentRequest.done(
                owner=request.owner,
                key=request.key,
                command=command.__name__,
                request_hash=request.request_hash,
                result=command.result_type.dump_python(changed.result, mode="json"),
                versions={str(id_): version for id_, version in versions.items()},
                now=max(e.timestamp for a in aggregates for e in a.pending_events),
            )
        new_events = {a.id: tuple(a.pending_events) for a in aggregates}
        written, saved = Written(), [*aggregates, record] if record is not None else aggregates
        try:
            recordings = self._save_now(saved, written)
        except IntegrityError:  # a race lost, maybe on a kept copy another process moved on
            self.aggregates.drop([*reads.copies, *versions])
            raise
        self.aggregates.keep(new_events)
        last = max(r.notification.id for r in recordings)
        return Done(changed.result, False, versions, self.event_log.position_written(last, written))

    def _save_now(self, saved: list[Aggregate], written: Written) -> list[Recording[UUID]]:
        """A command's save: with those that arrive meanwhile (``committer``), or alone."""
        if self.committer is None:
            return self.save(*saved, written=written)
        return self.committer.save(saved, written)

    def _check_copies(self, reads: AttemptReads, saved: Mapping[UUID, int]) -> None:
        """No erasure came since the attempt began, and the kept copies the command decided
        on and does not save (the save checks those) are still what the store holds; else
        the attempt is lost as a race is (``IntegrityError``), to run again on fresh reads."""
        if self.aggregates.current(reads) and all(
            self._latest_version(id_) == version
            for id_, version in reads.unsaved_copies(saved).items()
        ):
            return
        self.aggregates.drop(reads.copies)
        raise StaleReadError("a kept copy is stale, or an erasure came meanwhile")

    def _latest_version(self, aggregate_id: UUID) -> int:
        latest = self.recorder.select_events(aggregate_id, desc=True, limit=1)
        return latest[0].originator_version if latest else 0

    def save(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        """The library's save, without its two ``isinstance`` checks against runtime
        protocols per aggregate (slow before Python 3.12); anything but an aggregate is
        collected as the library collects it."""
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, BaseAggregate):  # a plain class check
                processing.events.extend(obj.collect_events())
                processing.aggregates[obj.id] = obj
            elif obj is not None:
                processing.collect_events(obj)
        processing.saved_kwargs.update(kwargs)
        recordings = self._record(processing)
        self._recorded(processing, recordings)
        return recordings

    def _recorded(
        self, processing: ProcessingEvent[UUID], recordings: list[Recording[UUID]]
    ) -> None:
        """What the library's save does once the events are recorded."""
        self._take_snapshots(processing)
        self._notify(recordings)
        self.notify(processing.events)  # deprecated in the library, called as it does

    def group_commit(self) -> GroupCommit:
        """A writer of this ledger's saves in groups (``committer``)."""
        return GroupCommit(
            lambda *saved, **kwargs: self.save(*saved, **kwargs), self._record, self._recorded
        )

    # -- loading ----------------------------------------------------------------------------

    def find(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        """The aggregate with this id if it exists and is a ``kind``; else None. In a
        command, this process's kept copy if it has one (checked when the command saves)."""
        events = self.aggregates.take(aggregate_id)
        if events is None:
            events = tuple(self.events.get(aggregate_id))
            self.aggregates.read(aggregate_id, events)
        if not events:
            return None
        aggregate = _fold(None, events)
        return aggregate if isinstance(aggregate, kind) else None

    def read_many(self, ids: Iterable[UUID]) -> None:
        """Read, in one round trip where the store can (PostgreSQL), the aggregates the
        running command will ``find`` and has no copy of."""
        read_streams = getattr(self.recorder, "select_streams", None)
        unread = self.aggregates.unread(ids)
        if read_streams is None or len(unread) < 2:
            return
        streams = read_streams(unread)
        for id_ in unread:
            events = tuple(self.mapper.to_domain_event(s) for s in streams.get(id_, ()))
            self.aggregates.read(id_, events)


def _fold(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's projector without its per-event ``isinstance`` check against a runtime
    protocol (slow before Python 3.12: a tenth of a command's CPU); all our events mutate."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate
