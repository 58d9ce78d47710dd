"""SPEC 12: the customer is named as the directory names it. A claim records the name of its
customer's tenant when it is made (``Claim.Created`` version 2), a known customer keeps the
name its first claim recorded (``KnownCustomer.Recognised`` version 2), and events stored
before either recorded it read with the name not recorded (None)."""

from __future__ import annotations

import copy
import json
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from ledger.aggregates.claim import Claim
from ledger.aggregates.known import KnownCustomer
from ledger.domain.catalog import Catalog
from ledger.domain.customer_ids import CustomerId, IdType
from ledger.service.application import Ledger
from ledger.store.persistence import JsonTranscoder, PydanticMapper
from tests.factories import (
    ADMIN_A,
    CATALOG_DATA,
    FABRIKAM,
    LITWARE,
    consent_request,
    create,
    days,
)


def mapper() -> PydanticMapper:
    return PydanticMapper(transcoder=JsonTranscoder())


def made(ledger: Ledger, engagement: str, id_type: str, value: str, **extra: Any) -> Claim:
    (claim_id,) = ledger.create_claims(
        ADMIN_A,
        create([engagement], id_type=id_type, value=value, name="Friendly name", **extra),
        days(0),
    )
    return ledger.get_claim(ADMIN_A, claim_id)


@pytest.mark.parametrize(
    ("engagement", "id_type", "value", "name", "extra"),
    [
        ("E-WS", "tenant_id", FABRIKAM, "Fabrikam", {}),
        ("E-AS", "domain", "litware.com", "Litware", {"customer_email": "it@litware.com"}),
        ("E-WS", "tpid", "333", "Litware", {}),
        ("E-VAR", "msx_opportunity_id", "7-LARGE00001", "Northwind", {"hours": 10}),
    ],
    ids=["tenant id", "domain", "tpid", "msx opportunity: its tenant"],
)
def test_a_claim_records_the_directorys_name_of_its_customers_tenant(
    ledger: Ledger, engagement: str, id_type: str, value: str, name: str, extra: dict[str, Any]
) -> None:
    claim = made(ledger, engagement, id_type, value, **extra)
    assert claim.terms.customer_name == name
    assert claim.terms.friendly_name == "Friendly name"  # the claim's own name, apart


def test_an_id_no_tenant_owns_records_no_name() -> None:
    data = copy.deepcopy(CATALOG_DATA)
    data["engagements"][3]["eligible_customers"]["tpid"].append("999")  # E-TPID, no tenant
    ledger = Ledger(Catalog.model_validate(data), env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    claim = made(ledger, "E-TPID", "tpid", "999")
    assert claim.terms.customer_name is None and claim.terms.resolved_tenant_id is None


def test_the_name_is_stored_in_the_first_event_at_version_2(ledger: Ledger) -> None:
    claim = made(ledger, "E-WS", "tenant_id", FABRIKAM)
    (created,) = [e for e in ledger.claim_events(claim.id) if isinstance(e, Claim.Created)]
    state = json.loads(mapper().to_stored_event(created).state)
    assert state["customer_name"] == "Fabrikam" and state["class_version"] == 2


def test_a_claim_stored_before_names_were_recorded_reads_with_none(ledger: Ledger) -> None:
    claim = made(ledger, "E-WS", "tenant_id", FABRIKAM)
    created = ledger.claim_events(claim.id)[0]
    record = mapper().to_stored_event(created)
    state = json.loads(record.state)
    del state["customer_name"], state["class_version"]  # as version 1 stored it
    old = StoredEvent(record.originator_id, 1, record.topic, json.dumps(state).encode())
    event = mapper().to_domain_event(old)
    assert isinstance(event, Claim.Added) and event.customer_name is None
    assert event.friendly_name == "Friendly name"


def test_a_known_customer_keeps_the_name_its_first_claim_recorded(ledger: Ledger) -> None:
    claim = made(ledger, "E-WS", "tenant_id", FABRIKAM)
    link = ledger.request_consent(ADMIN_A, claim.id, consent_request(), days(0.5))
    ledger.answer_consent(claim.id, link, True, days(1))
    known_id = KnownCustomer.id_for("P-A", CustomerId(type=IdType.TENANT_ID, value=FABRIKAM))
    (recognised,) = ledger.events.get(known_id)
    assert isinstance(recognised, KnownCustomer.Recognised)
    assert (recognised.customer_name, recognised.friendly_name) == ("Fabrikam", "Friendly name")
    assert json.loads(mapper().to_stored_event(recognised).state)["class_version"] == 2


def test_a_known_customer_stored_before_names_were_recorded_reads_with_none() -> None:
    state = {  # as version 1 stored it
        "timestamp": "2026-03-02T09:00:00Z",
        "originator_topic": "ledger.aggregates.known:KnownCustomer",
        "partner_id": "P-A",
        "customer_id": {"type": "tenant_id", "value": LITWARE},
        "friendly_name": "Litware",
        "first_claim_id": str(uuid4()),
    }
    topic = "ledger.aggregates.known:KnownCustomer.Recognised"
    event = mapper().to_domain_event(StoredEvent(uuid4(), 1, topic, json.dumps(state).encode()))
    assert isinstance(event, KnownCustomer.Recognised)
    assert (event.friendly_name, event.customer_name) == ("Litware", None)
