"""``Ledger.run``, the one step that saves a command: what it saved, in one transaction with
the request's record, and what it answers (on both stores)."""

from __future__ import annotations

import pytest

from ledger.aggregates.claim import Claim
from ledger.aggregates.request import IdempotentRequest
from ledger.aggregates.seat import Seat
from ledger.domain.commands import Cancel
from ledger.domain.errors import ConflictError
from ledger.service import running
from ledger.service.application import Ledger
from ledger.service.ledger_base import NO_KEY
from tests.factories import ADMIN_A, create, days


def stored_events(ledger: Ledger) -> int:
    return sum(len(page) for page in ledger.notification_pages())


def test_a_command_without_a_key_saves_what_it_changed_and_records_nothing(
    stored_ledger: Ledger,
) -> None:
    ledger = stored_ledger
    (claim_id,) = ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    claim = ledger.find(claim_id, Claim)
    assert claim is not None and claim.version == 1
    seat = ledger.find(Seat.id_for("E-WS", claim.terms.eligibility_key), Seat)
    assert seat is not None and seat.count == 1
    done = ledger.run(NO_KEY, ledger.cancel, ADMIN_A, claim_id, Cancel(), days(1))
    assert (done.result, done.replayed) == (2, False)
    assert done.versions == {claim_id: 2, seat.id: seat.version + 1}  # the seat it freed
    assert done.position == ledger.event_log.last_written()  # what the client's reads wait for
    reloaded = ledger.find(claim_id, Claim)
    assert reloaded is not None and (reloaded.version, reloaded.state.value) == (2, "cancelled")
    topics = {n.topic for page in ledger.notification_pages() for n in page}
    assert not any("IdempotentRequest" in topic for topic in topics)


def test_a_command_under_a_key_saves_its_events_with_its_record_and_a_replay_saves_nothing(
    stored_ledger: Ledger,
) -> None:
    ledger = stored_ledger
    request = ledger.request_key(ADMIN_A.user_id, "key-1", "create E-WS")
    done = ledger.run(request, ledger.create_claims, ADMIN_A, create(["E-WS"]), days(0))
    (claim_id,) = done.result
    assert not done.replayed and done.position == ledger.event_log.last_written()
    record = ledger.find(IdempotentRequest.id_for(ADMIN_A.user_id, "key-1"), IdempotentRequest)
    assert record is not None and record.command == "create_claims"
    assert record.versions == {str(id_): version for id_, version in done.versions.items()}
    assert done.versions[claim_id] == 1 and ledger.find(claim_id, Claim) is not None
    events = stored_events(ledger)
    again = ledger.run(request, ledger.create_claims, ADMIN_A, create(["E-WS"]), days(5))
    assert (again.result, again.replayed, again.versions) == (done.result, True, done.versions)
    assert again.position is None and stored_events(ledger) == events


def test_the_events_of_a_command_are_not_saved_when_its_record_is_not(
    stored_ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One transaction: a record that cannot be stored (its id taken, as by a twin request
    that committed first) takes the command's events down with it."""
    ledger = stored_ledger
    claim_id, other = ledger.create_claims(ADMIN_A, create(["E-WS", "E-AS"]), days(0))
    monkeypatch.setattr(IdempotentRequest, "id_for", staticmethod(lambda owner, key: other))
    monkeypatch.setattr(running, "MAX_ATTEMPTS", 2)  # each attempt's save is refused
    events = stored_events(ledger)
    request = ledger.request_key(ADMIN_A.user_id, "key-2", "cancel")
    with pytest.raises(ConflictError):
        ledger.run(request, ledger.cancel, ADMIN_A, claim_id, Cancel(), days(1))
    assert stored_events(ledger) == events
    claim = ledger.find(claim_id, Claim)
    assert claim is not None and claim.version == 1  # not cancelled
