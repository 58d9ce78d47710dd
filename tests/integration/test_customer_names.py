"""SPEC 12 on the read side: the views hold the customer's name (its tenant's, as the claim
recorded it) beside its id; the claim list finds a claim by it as well as by the claim's
name and the customer id; the CSV and the Customers tabs carry it; a claim that recorded no
name shows its id alone; and a database whose views were made before the names were kept
gets the columns when it is opened."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from uuid import UUID

import pytest

from api import presenters
from ledger.domain.eligibility import Resolution
from ledger.projections.claim_queries import ClaimFilter
from ledger.projections.customers_page import KnownCustomerEntry
from ledger.runtime.bootstrap import ReadModels, Services, bootstrap
from ledger.runtime.workers import Workers
from ledger.service.application import Ledger
from ledger.service.settings import Settings
from ledger.store.schema import SCHEMA_VERSION
from tests.conftest import Clock
from tests.factories import (
    ADMIN_A,
    FABRIKAM,
    NORTHWIND,
    consent_request,
    consented_claim,
    create,
    days,
)


def pilot_for_the_north(ledger: Ledger) -> UUID:
    """A Northwind claim whose friendly name says nothing of Northwind."""
    (claim_id,) = ledger.create_claims(
        ADMIN_A,
        create(["E-AS"], value=NORTHWIND, name="Pilot up north", customer_email="it@northwind.com"),
        days(0),
    )
    return claim_id


def found(read_models: ReadModels, customer: str) -> list[UUID]:
    page = read_models.claims.search(ADMIN_A, ClaimFilter(customer=customer))
    return [row.claim_id for row in page.items]


def test_the_claim_list_finds_a_claim_by_its_customers_name_its_own_name_or_the_id(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels
) -> None:
    north = pilot_for_the_north(stored_ledger)
    (fabrikam,) = stored_ledger.create_claims(ADMIN_A, create(["E-WS"], name="Lakes"), days(0))
    workers.views.catch_up()
    (row,) = read_models.claims.search(ADMIN_A, ClaimFilter(customer="northwind")).items
    assert (row.claim_id, row.customer_name, row.friendly_name) == (
        north,
        "Northwind",
        "Pilot up north",
    )
    assert found(read_models, "NORTHW") == [north]  # the tenant's name, in any case
    assert found(read_models, "up north") == [north]  # the claim's name
    assert found(read_models, NORTHWIND[:8]) == [north]  # the customer id
    assert found(read_models, "fabrikam") == [fabrikam]
    assert found(read_models, "lakes") == [fabrikam]
    assert found(read_models, "north%") == []  # LIKE's wildcards are themselves


def test_the_csv_names_the_customer_beside_the_claims_name(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels
) -> None:
    pilot_for_the_north(stored_ledger)
    workers.views.catch_up()
    text = presenters.claims_csv(read_models.claims.every(ADMIN_A, ClaimFilter()))
    (row,) = csv.DictReader(io.StringIO(text))
    assert (row["friendly_name"], row["customer_name"]) == ("Pilot up north", "Northwind")
    assert (row["customer_type"], row["customer_value"]) == ("tenant_id", NORTHWIND)


def test_the_customers_tabs_and_the_api_name_the_customer(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels
) -> None:
    consented_claim(stored_ledger, engagements=["E-AS"], name="First engagement")  # known now
    north = pilot_for_the_north(stored_ledger)
    workers.views.catch_up()
    items = read_models.customers.tab(ADMIN_A, "E-WS", "eligible").items
    (known,) = [i for i in items if isinstance(i, KnownCustomerEntry)]
    assert (known.customer_name, known.friendly_name) == ("Fabrikam", "First engagement")
    shown = presenters.tab_item(known, days(1), ADMIN_A, False)
    assert (shown.customer_name, shown.friendly_name) == ("Fabrikam", "First engagement")
    (claim,) = [
        i
        for i in read_models.customers.tab(ADMIN_A, "E-AS", "eligible").items
        if getattr(i, "claim_id", None) == north
    ]
    api = presenters.tab_item(claim, days(1), ADMIN_A, False)
    assert (api.claim_id, api.customer_name, api.friendly_name) == (
        north,
        "Northwind",
        "Pilot up north",
    )
    details = presenters.claim_details(read_models.claims.details(ADMIN_A, north), days(1), ADMIN_A)
    assert details.customer_name == "Northwind"


def test_a_claim_that_recorded_no_name_is_named_by_its_id(
    stored_ledger: Ledger,
    workers: Workers,
    read_models: ReadModels,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As a claim made before names were recorded reads (its first event's version 1)."""
    monkeypatch.setattr(Resolution, "customer_name", property(lambda self: None))
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(["E-WS"], name="Lakes"), days(0))
    stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    workers.views.catch_up()
    row = read_models.claims.details(ADMIN_A, claim_id)
    assert row.customer_name is None and row.customer_id.value == FABRIKAM
    assert found(read_models, "fabrikam") == []  # the name was never recorded
    assert found(read_models, FABRIKAM) == [claim_id]
    text = presenters.claims_csv(read_models.claims.every(ADMIN_A, ClaimFilter()))
    (csv_row,) = csv.DictReader(io.StringIO(text))
    assert csv_row["customer_name"] == "" and csv_row["customer_value"] == FABRIKAM
    (email,) = workers.mailer.outbox(claim_id)
    assert workers.mailer.facts(email).customer == FABRIKAM  # never the friendly name


@pytest.fixture
def reopened(
    settings: Settings, stored_ledger: Ledger, clock: Clock
) -> Iterator[tuple[Services, UUID]]:
    """Views whose tables were made before schema version 2 (no customer names), holding one
    claim's row, opened again by this release; and that claim's id."""
    (old,) = stored_ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    first = bootstrap(settings, ledger=stored_ledger, clock=clock)
    first.workers.views.catch_up()
    with first.store.transaction(commit=True) as tx:  # as the earlier release made them
        for table in ("claims", "known_customers"):
            tx.execute(f"ALTER TABLE {{p}}{table} DROP COLUMN customer_name")
        tx.execute("UPDATE view_state SET value = '1' WHERE key = 'schema_version'")
    first.workers.stop()
    first.store.close()
    again = bootstrap(settings, ledger=stored_ledger, clock=clock)
    yield again, old
    again.workers.stop()
    again.store.close()


def test_views_made_before_names_get_the_columns_when_opened(
    reopened: tuple[Services, UUID],
) -> None:
    services, old = reopened
    with services.store.transaction() as tx:
        version = tx.one("SELECT value FROM view_state WHERE key = 'schema_version'")
        (row,) = tx.rows("SELECT * FROM {p}claims")
    assert version == {"value": str(SCHEMA_VERSION)}
    assert row["customer_name"] is None  # what the events of an earlier release recorded
    ledger = services.ledger
    north = pilot_for_the_north(ledger)
    link = ledger.request_consent(ADMIN_A, north, consent_request(), days(1))
    ledger.answer_consent(north, link, True, days(2))
    services.workers.views.catch_up()  # rows of the new shape go into the altered tables
    claims = services.read_models.claims
    assert claims.details(ADMIN_A, north).customer_name == "Northwind"
    assert claims.details(ADMIN_A, old).customer_name is None
    known = services.read_models.customers.tab(ADMIN_A, "E-WS", "eligible").items
    assert [i.customer_name for i in known if isinstance(i, KnownCustomerEntry)] == ["Northwind"]
