"""The partner's claim list (filters, sort, cursor, CSV), claim details, queue and lag."""

from __future__ import annotations

import csv
import io
from uuid import UUID

import pytest

from api import presenters
from ledger.domain.commands import Review
from ledger.domain.errors import ForbiddenError, InvalidInputError, NotFoundError
from ledger.projections.claim_queries import ClaimFilter
from ledger.runtime.bootstrap import ReadModels
from ledger.runtime.workers import Workers
from ledger.service.application import Ledger
from tests.factories import (
    ADMIN_A,
    ADMIN_B,
    LITWARE,
    NORTHWIND,
    REVIEWER,
    USER_A1,
    consent_request,
    create,
    days,
    proof,
)


def three_claims(ledger: Ledger) -> list[UUID]:
    ws, assess = ledger.create_claims(ADMIN_A, create(["E-WS", "E-AS"]), days(0))
    (north,) = ledger.create_claims(
        ADMIN_A,
        create(["E-AS"], value=NORTHWIND, name="Northwind", customer_email="it@northwind.com"),
        days(1),
    )
    ledger.request_consent(ADMIN_A, assess, consent_request(), days(2))
    other = create(["E-AS"], location="LOC-B1", value=LITWARE, customer_email="it@litware.com")
    ledger.create_claims(ADMIN_B, other, days(2))  # another partner's: never listed here
    return [ws, assess, north]


def test_claim_list_filters_sorts_and_pages(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels
) -> None:
    ws, assess, north = three_claims(stored_ledger)
    workers.views.catch_up()
    claims = read_models.claims

    def ids(**where: str) -> list[UUID]:
        return [row.claim_id for row in claims.search(ADMIN_A, ClaimFilter(**where)).items]

    everything = ids()
    assert everything[0] == north  # newest first
    assert set(everything[1:]) == {ws, assess}
    assert ids(engagement_id="E-WS") == [ws]
    assert ids(state="awaiting_consent") == [assess]
    assert ids(customer="north") == [north]
    by_name = claims.search(ADMIN_A, ClaimFilter(sort="friendly_name")).items
    assert [i.friendly_name for i in by_name] == ["Fabrikam", "Fabrikam", "Northwind"]

    seen: list[UUID] = []
    cursor = None
    while True:
        page = claims.search(ADMIN_A, ClaimFilter(sort="-updated_at"), cursor, limit=2)
        seen += [i.claim_id for i in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted({ws, assess, north})
    assert len(seen) == 3


def test_claim_list_refuses_bad_sorts_states_and_cursors(read_models: ReadModels) -> None:
    with pytest.raises(InvalidInputError):
        ClaimFilter(sort="password")
    with pytest.raises(InvalidInputError):
        ClaimFilter(state="lost")
    with pytest.raises(InvalidInputError):
        read_models.claims.search(ADMIN_A, ClaimFilter(), cursor="not-ours")


def test_claim_list_exports_csv(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels
) -> None:
    three_claims(stored_ledger)
    workers.views.catch_up()
    text = presenters.claims_csv(
        read_models.claims.every(ADMIN_A, ClaimFilter(engagement_id="E-AS"))
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert {r["friendly_name"] for r in rows} == {"Fabrikam", "Northwind"}
    assert {r["label"] for r in rows} == {"Awaiting customer consent response", "Customer claimed"}
    assert all(r["engagement_id"] == "E-AS" for r in rows)


def test_claim_details_and_scoping(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels
) -> None:
    ws, assess, _ = three_claims(stored_ledger)
    (a2,) = stored_ledger.create_claims(ADMIN_A, create(["E-A2"], location="LOC-A2"), days(1))
    workers.views.catch_up()
    row = read_models.claims.details(ADMIN_A, assess)
    details = presenters.claim_details(row, days(3), ADMIN_A)
    assert details.label == "Awaiting customer consent response"
    assert details.actions == ["Resend consent email", "Cancel"]
    assert details.deal_size_usd == "20000.00"
    assert details.contacts.customer.email == "cio@fabrikam.com"
    assert details.deadlines == {"consent": "2026-03-12T09:00:00.000000Z"}
    assert details.fixed_payout_usd == "2500.00"
    assert details.days_left == 7  # the assessment's 10 consent days
    with pytest.raises(NotFoundError):
        read_models.claims.details(ADMIN_B, ws)
    with pytest.raises(ForbiddenError):
        read_models.claims.details(USER_A1, a2)
    listed = {i.claim_id for i in read_models.claims.search(USER_A1, ClaimFilter()).items}
    assert listed != set()
    assert a2 not in listed


def test_review_queue_lists_claims_waiting_for_a_reviewer(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels
) -> None:
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(["E-AS"]), days(0))
    link = stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    stored_ledger.answer_consent(claim_id, link, True, days(1))
    workers.views.catch_up()
    assert read_models.claims.review_queue(REVIEWER).items == []
    stored_ledger.submit(ADMIN_A, claim_id, proof(["poe_document"]), days(2))
    workers.views.catch_up()
    (queued,) = read_models.claims.review_queue(REVIEWER).items
    assert (queued.claim_id, queued.partner_id) == (claim_id, "P-A")
    stored_ledger.review(REVIEWER, claim_id, Review(action="start"), days(3))
    stored_ledger.review(REVIEWER, claim_id, Review(action="approve"), days(3))
    workers.views.catch_up()
    assert read_models.claims.review_queue(REVIEWER).items == []
    with pytest.raises(ForbiddenError):
        read_models.claims.review_queue(ADMIN_A)


def test_lag_is_the_events_the_views_do_not_show_yet(
    stored_ledger: Ledger, workers: Workers
) -> None:
    assert workers.views.lag() == 0
    stored_ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    assert workers.views.lag() == 3  # the claim's event, and its seat's two
    workers.views.catch_up()
    assert workers.views.lag() == 0
