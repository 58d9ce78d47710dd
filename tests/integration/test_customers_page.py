"""The Customers page (SPEC section 5) and R25, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from api import presenters
from ledger.aggregates.seat import Seat
from ledger.domain import access
from ledger.domain.catalog import Catalog
from ledger.domain.commands import Cancel, Review
from ledger.domain.customer_ids import CustomerId, IdType
from ledger.domain.eligibility import assess, resolve
from ledger.domain.errors import InvalidInputError, NotFoundError
from ledger.projections import customers_page
from ledger.projections.claim_queries import ClaimFilter
from ledger.projections.customer_tabs import KeptTabs
from ledger.projections.customers_page import CustomersPage, KnownCustomerEntry, Tab
from ledger.runtime.bootstrap import ReadModels
from ledger.runtime.workers import Workers
from ledger.service.application import Ledger
from tests.factories import (
    ADMIN_A,
    ADMIN_B,
    ADMIN_C,
    CATALOG_DATA,
    CUSTOMER_EMAIL,
    CUSTOMER_NAME,
    FABRIKAM,
    LITWARE,
    NORTHWIND,
    REVIEWER,
    consent_request,
    consented_claim,
    create,
    days,
    guid,
    know,
    proof,
    read_kept_only,
)


@pytest.fixture(params=["kept", "known"])
def tab_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The tabs read from the kept tabs (the reads of every known customer would fail), or
    from the known customers (the kept tabs said not to follow the catalog, as after a
    catalog change before the workers sorted them anew)."""
    if request.param == "kept":
        read_kept_only(monkeypatch)
    else:
        monkeypatch.setattr(customers_page, "kept_digest", lambda *_: None)
    return str(request.param)


def tab(read_models: ReadModels, engagement: str, name: Tab, at: float = 2) -> list[dict[str, Any]]:
    """The tab's items as the API shows them."""
    page = read_models.customers.tab(ADMIN_A, engagement, name)
    return [
        presenters.tab_item(i, days(at), ADMIN_A, name == "completed").model_dump(mode="json")
        for i in page.items
    ]


def caught_up(workers: Workers, read_models: ReadModels) -> ReadModels:
    workers.views.catch_up()
    return read_models


def names(items: list[dict[str, Any]], kind: str) -> list[str]:
    return [i["friendly_name"] for i in items if i["kind"] == kind]


def test_eligible_tab_lists_known_eligible_customers_with_claim_action(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels, tab_path: str
) -> None:
    for tenant in (FABRIKAM, NORTHWIND):
        know(stored_ledger, tenant)
    items = tab(caught_up(workers, read_models), "E-WS", "eligible")
    assert names(items, "customer") == ["Fabrikam", "Northwind"]
    assert all(i["actions"] == ["Claim customer"] for i in items)
    assert {i["customer_id"]["value"] for i in items} == {FABRIKAM, NORTHWIND}


def test_eligible_tab_shows_live_claims_with_label_days_left_and_action(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels, tab_path: str
) -> None:
    know(stored_ledger, FABRIKAM)
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(["E-WS"], origin="claimed"), days(2))
    items = tab(caught_up(workers, read_models), "E-WS", "eligible", at=2.5)
    (claim,) = [i for i in items if i["kind"] == "claim"]
    assert claim["claim_id"] == str(claim_id)
    assert claim["label"] == "Customer claimed"
    assert claim["days_left"] == 30  # 29.5 days left, rounded up
    assert claim["actions"] == ["Send customer consent email", "Cancel"]
    assert names(items, "customer") == []  # shown as its claim, not twice


def test_ineligible_tab_gives_reasons_and_the_r9_hint(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels, tab_path: str
) -> None:
    for tenant in (NORTHWIND, LITWARE):
        know(stored_ledger, tenant)
    stored_ledger.create_claims(
        ADMIN_B,
        create(
            ["E-WS"], location="LOC-B1", value=NORTHWIND, customer_email=CUSTOMER_EMAIL[NORTHWIND]
        ),
        days(2),
    )
    items = {
        i["friendly_name"]: i for i in tab(caught_up(workers, read_models), "E-WS", "ineligible")
    }
    assert items["Northwind"]["reasons"] == ["claim-limit-reached"]
    assert items["Litware"]["reasons"] == ["criteria-not-met"]
    assert items["Litware"]["hint"] == (
        f"Tenant ID {LITWARE} is not on this engagement's list of eligible customers; "
        "the customer's TPID would qualify"
    )
    assert tab(caught_up(workers, read_models), "E-WS", "eligible") == []


def test_ineligible_tab_of_msx_only_engagements_is_empty_and_says_why(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels, tab_path: str
) -> None:
    know(stored_ledger, FABRIKAM)
    workers.views.catch_up()
    page = read_models.customers.tab(ADMIN_A, "E-VAR", "ineligible")
    assert (page.items, page.msx_only) == ([], True)


def test_completed_tab_holds_terminal_claims_that_had_consent(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels
) -> None:
    approved = know(stored_ledger, FABRIKAM)
    stored_ledger.submit(ADMIN_A, approved, proof(["poe_document"]), days(2))
    stored_ledger.review(REVIEWER, approved, Review(action="start"), days(3))
    stored_ledger.review(REVIEWER, approved, Review(action="approve"), days(3))
    cancelled_after_consent = know(stored_ledger, NORTHWIND)
    stored_ledger.cancel(ADMIN_A, cancelled_after_consent, Cancel(), days(3))
    (declined,) = stored_ledger.create_claims(
        ADMIN_A, create(["E-AS"], value=LITWARE, customer_email=CUSTOMER_EMAIL[LITWARE]), days(3)
    )
    link = stored_ledger.request_consent(ADMIN_A, declined, consent_request(), days(3))
    stored_ledger.answer_consent(declined, link, False, days(4))
    completed = tab(caught_up(workers, read_models), "E-AS", "completed", at=5)
    assert {(i["claim_id"], i["label"]) for i in completed} == {
        (str(approved), "Approved"),
        (str(cancelled_after_consent), "Canceled"),
    }


@pytest.mark.parametrize("ending", ["declined", "consent expired", "cancelled before consent"])
def test_r25_a_claim_ending_without_consent_leaves_the_page(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels, ending: str, tab_path: str
) -> None:
    (claim_id,) = stored_ledger.create_claims(ADMIN_A, create(["E-WS"]), days(0))
    link = stored_ledger.request_consent(ADMIN_A, claim_id, consent_request(), days(1))
    assert [i["claim_id"] for i in tab(caught_up(workers, read_models), "E-WS", "eligible")] == [
        str(claim_id)
    ]
    if ending == "declined":
        stored_ledger.answer_consent(claim_id, link, False, days(2))
    elif ending == "consent expired":
        stored_ledger.expire_due(days(31))
    else:
        stored_ledger.cancel(ADMIN_A, claim_id, Cancel(), days(2))
    for name in ("eligible", "ineligible", "completed"):
        assert tab(caught_up(workers, read_models), "E-WS", name, at=40) == []
    # It stays in the claim list and in its history.
    listed = read_models.claims.search(ADMIN_A, ClaimFilter()).items
    assert [i.claim_id for i in listed] == [claim_id]
    assert len(read_models.claims.history(ADMIN_A, claim_id)) == 3


def test_a_catalog_change_shows_without_replay(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels
) -> None:
    know(stored_ledger, NORTHWIND)
    assert names(tab(caught_up(workers, read_models), "E-WS", "eligible"), "customer") == [
        "Northwind"
    ]
    changed = dict(CATALOG_DATA)
    changed["engagements"] = [
        {**e, "eligible_customers": {"tenant_id": [FABRIKAM]}} if e["id"] == "E-WS" else e
        for e in CATALOG_DATA["engagements"]
    ]
    changed_models = ReadModels.over(workers.store, Catalog.model_validate(changed))
    assert [
        (i["friendly_name"], i["reasons"]) for i in tab(changed_models, "E-WS", "ineligible")
    ] == [("Northwind", ["criteria-not-met"])]


def test_another_partners_page_does_not_show_this_partners_customers(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels, tab_path: str
) -> None:
    know(stored_ledger, FABRIKAM)
    workers.views.catch_up()
    for name in ("eligible", "ineligible", "completed"):
        assert read_models.customers.tab(ADMIN_B, "E-AS", name).items == []
    with pytest.raises(NotFoundError):
        read_models.customers.tab(ADMIN_A, "E-NOPE", "eligible")


def test_tabs_paginate_with_a_cursor(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels, tab_path: str
) -> None:
    for tenant in (FABRIKAM, NORTHWIND, LITWARE):
        know(stored_ledger, tenant)
    workers.views.catch_up()
    seen: list[str] = []
    cursor = None
    while True:
        page = read_models.customers.tab(ADMIN_A, "E-AS", "eligible", cursor, 2)
        assert len(page.items) <= 2
        seen += [str(getattr(i, "claim_id", i.friendly_name)) for i in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == len(set(seen)) == 3


def walk(page: CustomersPage, name: Tab, limit: int) -> list[str]:
    """Every item of a tab, page after page: claim ids and customers' names."""
    seen: list[str] = []
    cursor = None
    while True:
        tab = page.tab(ADMIN_A, "E-WS", name, cursor, limit)
        assert len(tab.items) <= limit
        assert tab.items or cursor is None  # a cursor never leads to an empty page
        seen += [str(getattr(i, "claim_id", i.friendly_name)) for i in tab.items]
        if tab.next_cursor is None:
            return seen
        cursor = tab.next_cursor


def spy_on_assessed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many known customers each read of a tab's page assessed, one count a read."""
    counts: list[int] = []
    assessed = customers_page._Known._assessed

    def counting(known: Any, rows: list[dict[str, Any]]) -> list[KnownCustomerEntry]:
        counts.append(len(rows))
        return assessed(known, rows)

    monkeypatch.setattr(customers_page._Known, "_assessed", counting)
    return counts


def test_tabs_read_known_customers_in_chunks_and_lose_none_between_pages(
    stored_ledger: Ledger,
    workers: Workers,
    read_models: ReadModels,
    monkeypatch: pytest.MonkeyPatch,
    tab_path: str,
) -> None:
    """Eligible and ineligible known customers interleave in name order; each tab finds its
    own across chunk and page boundaries, in order, skipping those with a live claim. From
    the kept tabs (sorted by the changed catalog), a page reads no more customers than it
    shows, and one more to know whether a next page follows."""
    for tenant in (FABRIKAM, NORTHWIND, LITWARE):
        know(stored_ledger, tenant)
    claim = create(["E-WS"], origin="claimed")
    (live,) = stored_ledger.create_claims(ADMIN_A, claim, days(2))  # Fabrikam: busy
    workers.views.catch_up()
    data = copy.deepcopy(CATALOG_DATA)
    (workshop,) = [e for e in data["engagements"] if e["id"] == "E-WS"]
    workshop["eligible_customers"]["tenant_id"] += [guid(f"listed-{n}") for n in range(30)]
    page = CustomersPage(read_models.customers.store, Catalog.model_validate(data))
    kinds = [("tenant_id", "listed-{}"), ("tenant_id", "unlisted-{}"), ("domain", "x{}.example")]
    known_at = "2026-03-02T09:00:00+00:00"
    extra = [
        ("P-A", kind, guid(value.format(n)) if kind == "tenant_id" else value.format(n))
        for n in range(30)
        for kind, value in [kinds[n % 3]]
    ]
    rows = [(*r, f"K{n:02}", str(live), known_at, None) for n, r in enumerate(extra)]
    with page.store.transaction(commit=True) as tx:  # known customers as the view holds them
        tx.insert_rows("known_customers", rows)
        if tab_path == "kept":  # as the workers sort them for the changed catalog
            assert KeptTabs(tx, page.catalog).rebuild(access.engagement(page.catalog, "E-WS"))
    eligible = ["Northwind"] + [f"K{n:02}" for n in range(0, 30, 3)]
    ineligible = [f"K{n:02}" for n in range(30) if n % 3] + ["Litware"]
    monkeypatch.setattr("ledger.projections.customers_page.MAX_CHUNK", 4)
    assessed = spy_on_assessed(monkeypatch)
    for limit in (1, 2, 3, 7, 50):
        assert walk(page, "eligible", limit) == [str(live), *sorted(eligible)]
        assert walk(page, "ineligible", limit) == sorted(ineligible)
    assert max(assessed) <= (50 + 1 if tab_path == "kept" else 4)
    assessed.clear()
    page.tab(ADMIN_A, "E-WS", "ineligible", None, 2)
    assert sum(assessed) == 3 if tab_path == "kept" else sum(assessed) >= 3
    items = page.tab(ADMIN_A, "E-WS", "ineligible").items
    reasons = {e.friendly_name: e.reasons for e in items if isinstance(e, KnownCustomerEntry)}
    assert reasons["K01"] == ("criteria-not-met",)
    assert reasons["K02"] == ("domain-not-resolved",)


@pytest.mark.parametrize(
    "cursor", ["eyJhZnRlciI6IDF9", "eyJhZnRlciI6IFsiYSJdfQ", "eyJhZnRlciI6IFtdLCAieCI6IDF9"]
)
def test_a_cursor_that_is_not_ours_is_refused(read_models: ReadModels, cursor: str) -> None:
    for name in ("eligible", "ineligible", "completed"):
        with pytest.raises(InvalidInputError):
            read_models.customers.tab(ADMIN_A, "E-WS", name, cursor)


def test_live_claims_without_a_running_deadline_come_after_those_with_one(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels, tab_path: str
) -> None:
    """Nearest deadline first (SPEC 5) on both stores: a claim under no deadline (submitted)
    after one whose consent deadline runs, whatever each store's order of NULLs."""
    submitted = consented_claim(
        stored_ledger, engagements=["E-AS"], value=FABRIKAM, customer_email=CUSTOMER_EMAIL[FABRIKAM]
    )
    stored_ledger.submit(ADMIN_A, submitted, proof(["poe_document"]), days(2))
    (waiting,) = stored_ledger.create_claims(
        ADMIN_A,
        create(
            ["E-AS"], value=NORTHWIND, name="Northwind", customer_email=CUSTOMER_EMAIL[NORTHWIND]
        ),
        days(2),
    )
    workers.views.catch_up()
    page = read_models.customers.tab(ADMIN_A, "E-AS", "eligible")
    ids = [getattr(i, "claim_id", None) for i in page.items]
    assert ids[:2] == [waiting, submitted]


def test_r10_each_known_customer_is_on_the_tab_assess_gives_for_its_seat(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels, tab_path: str
) -> None:
    """The page's SQL (what it rules out, and the counts it gives ``assess``) agrees with
    ``eligibility.assess`` on the seat's count (E-AS: limit 2): Fabrikam held by A's
    approved claim and B's live one (2), Northwind by B's (1), Litware by C's after B's
    ended (1)."""
    approved = know(stored_ledger, FABRIKAM)
    stored_ledger.submit(ADMIN_A, approved, proof(["poe_document"]), days(2))
    stored_ledger.review(REVIEWER, approved, Review(action="start"), days(2))
    stored_ledger.review(REVIEWER, approved, Review(action="approve"), days(2))
    for tenant in (NORTHWIND, LITWARE):
        stored_ledger.cancel(ADMIN_A, know(stored_ledger, tenant), Cancel(), days(2))
    for partner, tenant, location in [
        (ADMIN_B, FABRIKAM, "LOC-B1"),
        (ADMIN_B, NORTHWIND, "LOC-B1"),
        (ADMIN_B, LITWARE, "LOC-B1"),
        (ADMIN_C, LITWARE, "LOC-C1"),
    ]:
        command = create(
            ["E-AS"], value=tenant, location=location, customer_email=CUSTOMER_EMAIL[tenant]
        )
        (made,) = stored_ledger.create_claims(partner, command, days(3))
        if (partner, tenant) == (ADMIN_B, LITWARE):
            stored_ledger.cancel(ADMIN_B, made, Cancel(), days(3))
    models = caught_up(workers, read_models)
    shown = {
        name: {
            e.friendly_name: e.reasons
            for e in models.customers.tab(ADMIN_A, "E-AS", name).items
            if isinstance(e, KnownCustomerEntry)
        }
        for name in ("eligible", "ineligible")
    }
    engagement = access.engagement(models.customers.catalog, "E-AS")
    counts = {}
    for tenant in (FABRIKAM, NORTHWIND, LITWARE):
        customer_id = CustomerId(type=IdType.TENANT_ID, value=tenant)
        seat = stored_ledger.find(Seat.id_for("E-AS", customer_id.key), Seat)
        counts[CUSTOMER_NAME[tenant]] = 0 if seat is None else seat.count
        verdict = assess(
            engagement,
            resolve(models.customers.catalog, customer_id),
            counts[CUSTOMER_NAME[tenant]],
        )
        tab_name = "eligible" if verdict.eligible else "ineligible"
        assert shown[tab_name].pop(CUSTOMER_NAME[tenant]) == verdict.reasons
    assert shown == {"eligible": {}, "ineligible": {}}
    assert counts == {"Fabrikam": 2, "Northwind": 1, "Litware": 1}


def test_the_tabs_as_of_now_list_the_claims_in_the_order_of_the_tabs(
    stored_ledger: Ledger, workers: Workers, read_models: ReadModels
) -> None:
    """One order for the tabs read from the view and for the tabs folded as of a time: live
    claims with and without a running deadline, and completed ones ended together."""
    submitted = know(stored_ledger, FABRIKAM)
    stored_ledger.submit(ADMIN_A, submitted, proof(["poe_document"]), days(2))
    for tenant in (NORTHWIND, LITWARE):
        ended = know(stored_ledger, tenant)  # a first claim, ended with its consent
        stored_ledger.cancel(ADMIN_A, ended, Cancel(), days(3))
    for tenant in (NORTHWIND, LITWARE):
        command = create(
            ["E-AS"],
            origin="claimed",
            value=tenant,
            name=CUSTOMER_NAME[tenant],
            customer_email=CUSTOMER_EMAIL[tenant],
        )
        stored_ledger.create_claims(ADMIN_A, command, days(5 if tenant == NORTHWIND else 4))
    models = caught_up(workers, read_models)
    for name in ("eligible", "completed"):
        now = models.customers.tab(ADMIN_A, "E-AS", name)
        then = models.customers.tab_as_of(
            ADMIN_A, stored_ledger.claim_events, "E-AS", name, days(6)
        )
        listed = [getattr(i, "claim_id", i.friendly_name) for i in now.items]
        assert [getattr(i, "claim_id", i.friendly_name) for i in then.items] == listed
        assert len(listed) == (3 if name == "eligible" else 2)
