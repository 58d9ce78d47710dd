"""The kept Customers tabs (ledger.projections.customer_tabs), on SQLite and PostgreSQL: a
catalog change shows on the next page read and is then sorted anew by the workers; the kept
tabs equal a rebuild and a replay; a store made before they were kept gets them."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ledger.domain.catalog import Catalog
from ledger.domain.commands import Cancel, Review
from ledger.projections.customer_tabs import kept_digest
from ledger.projections.customers_page import CustomersPage, KnownCustomerEntry
from ledger.projections.runner import ViewRunner
from ledger.projections.store import ViewStore
from ledger.runtime.workers import Workers
from ledger.service.application import Ledger, open_ledger
from ledger.service.settings import Settings
from tests.factories import (
    ADMIN_A,
    ADMIN_B,
    ADMIN_C,
    CATALOG_DATA,
    CUSTOMER_EMAIL,
    FABRIKAM,
    LITWARE,
    NORTHWIND,
    REVIEWER,
    consent_request,
    create,
    days,
    know,
    proof,
    read_kept_only,
)

Shown = tuple[list[str], dict[str, tuple[str, ...]]]
"""A partner's Eligible tab (its known customers' names) and Ineligible tab (name: reasons)."""


def shown(page: CustomersPage, engagement: str, partner: Any = ADMIN_A) -> Shown:
    def entries(tab: Any) -> list[KnownCustomerEntry]:
        items = page.tab(partner, engagement, tab).items
        return [i for i in items if isinstance(i, KnownCustomerEntry)]

    eligible = [e.friendly_name for e in entries("eligible")]
    return eligible, {e.friendly_name: e.reasons for e in entries("ineligible")}


def changed(change: str) -> Catalog:
    """The test catalog with one change to the workshop (E-WS)."""
    data = copy.deepcopy(CATALOG_DATA)
    (workshop,) = [e for e in data["engagements"] if e["id"] == "E-WS"]
    if change == "list":
        workshop["eligible_customers"]["tenant_id"] = [NORTHWIND, LITWARE]
    elif change == "limit":
        workshop["customer_claim_limit"] = 2
    elif change == "id types":
        workshop["allowed_id_types"] = ["tpid"]
        workshop["eligible_customers"] = {"tpid": ["333"]}
    elif change == "new engagement":
        data["engagements"].append({**copy.deepcopy(workshop), "id": "E-NEW", "name": "New"})
    return Catalog.model_validate(data)


BEFORE: Shown = (
    ["Fabrikam"],
    {"Litware": ("criteria-not-met",), "Northwind": ("claim-limit-reached",)},
)
AFTER: dict[str, Shown] = {
    "list": (
        ["Litware"], {"Fabrikam": ("criteria-not-met",), "Northwind": ("claim-limit-reached",)}
    ),
    "limit": (["Fabrikam", "Northwind"], {"Litware": ("criteria-not-met",)}),
    "id types": ([], dict.fromkeys(["Fabrikam", "Litware", "Northwind"], ("id-type-not-allowed",))),
}  # fmt: skip


@pytest.fixture
def known_three(stored_ledger: Ledger, workers: Workers) -> Ledger:
    """Partner A knows Fabrikam, Northwind and Litware; partner B's live workshop claim on
    Northwind holds its one place there (E-WS: limit 1)."""
    for tenant in (FABRIKAM, NORTHWIND, LITWARE):
        know(stored_ledger, tenant)
    command = create(
        ["E-WS"], value=NORTHWIND, location="LOC-B1", customer_email=CUSTOMER_EMAIL[NORTHWIND]
    )
    stored_ledger.create_claims(ADMIN_B, command, days(2))
    workers.views.catch_up()
    return stored_ledger


@pytest.fixture
def other_ledger(settings: Settings) -> Iterator[Callable[[Catalog], Ledger]]:
    """Another process's Ledger on the same store, with a catalog of its own."""
    opened: list[Ledger] = []

    def on(catalog: Catalog) -> Ledger:
        opened.append(open_ledger(settings, catalog))
        return opened[-1]

    yield on
    for ledger in opened:
        ledger.close()


def is_kept(store: ViewStore, catalog: Catalog, engagement: str) -> bool:
    with store.transaction() as tx:
        return kept_digest(tx, engagement) == catalog.tabs_digest(engagement)


@pytest.mark.parametrize("change", ["list", "limit", "id types"])
def test_a_catalog_change_shows_on_the_next_page_then_the_workers_sort_it_anew(
    known_three: Ledger,
    workers: Workers,
    other_ledger: Callable[[Catalog], Ledger],
    monkeypatch: pytest.MonkeyPatch,
    change: str,
) -> None:
    store, catalog, new = workers.store, known_three.catalog, changed(change)
    assert is_kept(store, catalog, "E-WS")
    assert shown(CustomersPage(store, catalog), "E-WS") == BEFORE
    # the next page read with the changed catalog shows it, before anything is sorted anew
    assert not is_kept(store, new, "E-WS")
    assert shown(CustomersPage(store, new), "E-WS") == AFTER[change]
    # the workers on the changed catalog sort the workshop's tabs anew, once
    runner = ViewRunner(other_ledger(new), store)
    assert runner.settle() == 3  # partner A's three known customers
    assert is_kept(store, new, "E-WS") and not is_kept(store, catalog, "E-WS")
    assert runner.settle() == 0
    assert ViewRunner(other_ledger(new), store).settle() == 0  # another process: kept already
    # a page on the old catalog reads every known customer, and shows its own catalog's tabs
    assert shown(CustomersPage(store, catalog), "E-WS") == BEFORE
    read_kept_only(monkeypatch)
    assert shown(CustomersPage(store, new), "E-WS") == AFTER[change]
    assert shown(CustomersPage(store, new), "E-AS") == ([], {})  # each a live claim there


def test_the_tabs_of_an_engagement_new_to_the_catalog_are_sorted_by_the_workers(
    known_three: Ledger,
    workers: Workers,
    other_ledger: Callable[[Catalog], Ledger],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    new = changed("new engagement")
    newer = other_ledger(new)
    runner = ViewRunner(newer, workers.store)
    know(newer, FABRIKAM, ADMIN_C, "LOC-C1")  # a page of events on the new catalog
    runner.catch_up()
    assert not is_kept(workers.store, new, "E-NEW")  # known customers it has not sorted
    assert is_kept(workers.store, new, "E-WS")
    expected = (["Fabrikam", "Northwind"], {"Litware": ("criteria-not-met",)})
    assert shown(CustomersPage(workers.store, new), "E-NEW") == expected
    assert runner.settle() == 4  # partner A's three, partner C's one
    read_kept_only(monkeypatch)
    assert shown(CustomersPage(workers.store, new), "E-NEW") == expected
    assert shown(CustomersPage(workers.store, new), "E-NEW", ADMIN_C) == (["Fabrikam"], {})
    assert shown(CustomersPage(workers.store, new), "E-AS", ADMIN_C) == ([], {})  # its claim


def test_an_engagement_that_left_the_catalog_is_not_kept_by_a_runner_without_it(
    known_three: Ledger, workers: Workers, other_ledger: Callable[[Catalog], Ledger]
) -> None:
    data = copy.deepcopy(CATALOG_DATA)
    data["engagements"] = [e for e in data["engagements"] if e["id"] != "E-TPID"]
    without = other_ledger(Catalog.model_validate(data))
    know(without, LITWARE, ADMIN_C, "LOC-C1")
    ViewRunner(without, workers.store).catch_up()  # its page of the claims view
    with workers.store.transaction() as tx:
        assert kept_digest(tx, "E-TPID") is None  # its rows missed that page: not to be read
        assert kept_digest(tx, "E-WS") is not None
    assert shown(CustomersPage(workers.store, known_three.catalog), "E-TPID") == (
        [],
        dict.fromkeys(["Fabrikam", "Litware", "Northwind"], ("criteria-not-met",)),
    )
    workers.run_once()  # the workers on the full catalog sort it anew
    assert is_kept(workers.store, known_three.catalog, "E-TPID")


def kept_rows(store: ViewStore, generation: int | None = None) -> list[dict[str, Any]]:
    with store.transaction(generation) as tx:
        return tx.rows(
            "SELECT * FROM {p}customer_tabs ORDER BY partner_id, engagement_id, "
            "customer_type, customer_value"
        )


def busy_programme(ledger: Ledger) -> None:
    """Three partners' customers in every state that moves a tab: known, claimed, declined,
    approved (holding its place for good), cancelled (freeing it), on several engagements,
    some of them at their claim limit."""
    for tenant in (FABRIKAM, NORTHWIND, LITWARE):
        know(ledger, tenant)
    approved = know(ledger, FABRIKAM, ADMIN_B, "LOC-B1")
    ledger.submit(ADMIN_B, approved, proof(["poe_document"]), days(2))
    ledger.review(REVIEWER, approved, Review(action="start"), days(2))
    ledger.review(REVIEWER, approved, Review(action="approve"), days(2))
    ledger.cancel(ADMIN_C, know(ledger, LITWARE, ADMIN_C, "LOC-C1"), Cancel(), days(3))
    (live,) = ledger.create_claims(
        ADMIN_A, create(["E-WS"], value=FABRIKAM, origin="claimed"), days(3)
    )
    (declined,) = ledger.create_claims(
        ADMIN_A,
        create(["E-A2"], value=FABRIKAM, location="LOC-A2", origin="claimed"),
        days(3),
    )
    link = ledger.request_consent(ADMIN_A, declined, consent_request(), days(3))
    ledger.answer_consent(declined, link, False, days(4))
    command = create(
        ["E-WS"], value=NORTHWIND, location="LOC-B1", customer_email=CUSTOMER_EMAIL[NORTHWIND]
    )
    ledger.create_claims(ADMIN_B, command, days(4))
    ledger.cancel(ADMIN_A, live, Cancel(), days(5))


def every_page(page: CustomersPage, catalog: Catalog) -> dict[tuple[str, str], Shown]:
    """What every partner's tabs show, by (partner, engagement)."""
    partners = (ADMIN_A, ADMIN_B, ADMIN_C)
    return {(p.user_id, e.id): shown(page, e.id, p) for p in partners for e in catalog.engagements}


def test_the_kept_tabs_equal_a_rebuild_and_a_replay(
    stored_ledger: Ledger, workers: Workers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kept a few events at a time (pages of 3), the tabs are what sorting every known
    customer anew gives, and what a replay of the log builds."""
    busy_programme(stored_ledger)
    ViewRunner(stored_ledger, workers.store, page_size=3).catch_up()
    kept = kept_rows(workers.store)
    assert {r["tab"] for r in kept} == {"eligible", "ineligible", "claimed"}
    assert len(kept) == 5 * 5  # five engagements, five known customers (A: 3, B: 1, C: 1)
    page = CustomersPage(workers.store, stored_ledger.catalog)
    pages = every_page(page, stored_ledger.catalog)
    workers.views.replay()
    assert kept_rows(workers.store) == kept
    with workers.store.transaction(commit=True) as tx:
        tx.execute("DELETE FROM {p}customer_tab_catalog")
    assert ViewRunner(stored_ledger, workers.store).settle() == 5 * 5
    assert kept_rows(workers.store) == kept
    read_kept_only(monkeypatch)
    assert every_page(page, stored_ledger.catalog) == pages


def test_a_store_made_before_the_tabs_were_kept_gets_them_from_the_workers(
    stored_ledger: Ledger, workers: Workers, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy_programme(stored_ledger)
    workers.views.catch_up()
    kept = kept_rows(workers.store)
    page = CustomersPage(workers.store, stored_ledger.catalog)
    before = {e.id: shown(page, e.id) for e in stored_ledger.catalog.engagements}
    with workers.store.transaction(commit=True) as tx:  # as an earlier release left it
        tx.execute("DELETE FROM {p}customer_tabs")
        tx.execute("DELETE FROM {p}customer_tab_catalog")
    know(stored_ledger, NORTHWIND, ADMIN_C, "LOC-C1")
    workers.views.catch_up()  # a page of events: nothing kept without the whole store sorted
    assert kept_rows(workers.store) == []
    assert {e.id: shown(page, e.id) for e in stored_ledger.catalog.engagements} == before
    workers.run_once()
    after = kept_rows(workers.store)
    new = [r for r in after if (r["partner_id"], r["customer_value"]) == ("P-C", NORTHWIND)]
    assert len(new) == 5  # partner C's new known customer, on each engagement
    assert [r for r in after if r not in new] == kept
    read_kept_only(monkeypatch)
    assert {e.id: shown(page, e.id) for e in stored_ledger.catalog.engagements} == before
