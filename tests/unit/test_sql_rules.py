"""The rules the Customers page asks of SQL, tied to their Python definitions: the customer
key (``CustomerId.key``), the claims that hold a place under the claim limit (R10,
``eligibility.holds_place``) and the tabs' orders (``ClaimOrder``), each run in SQLite beside
the Python it restates."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import pytest

from ledger.aggregates.claim import ClaimState
from ledger.domain.customer_ids import CustomerId, IdType, key_sql
from ledger.domain.eligibility import holds_place
from ledger.projections.base import ts
from ledger.projections.customer_tabs import holding_sql
from ledger.projections.customers_page import COMPLETED_ORDER, LIVE_ORDER, ClaimOrder
from tests.factories import T0


@pytest.mark.parametrize(
    "customer_id",
    [
        CustomerId(type=IdType.TENANT_ID, value="0f8fad5b-d9cb-469f-a165-70867728950e"),
        CustomerId(type=IdType.DOMAIN, value="contoso.com"),
        CustomerId(type=IdType.MSX_OPPORTUNITY_ID, value="7-ABCDEFGH"),
    ],
)
def test_the_sql_key_is_the_customer_ids_key(customer_id: CustomerId) -> None:
    (found,) = sqlite3.connect(":memory:").execute(
        f"SELECT {key_sql('t', 'v')} FROM (SELECT ? AS t, ? AS v)",
        (customer_id.type.value, customer_id.value),
    )
    assert found == (customer_id.key,)


def test_the_sql_of_holding_claims_is_holds_place_for_every_state() -> None:
    """The claims view writes ``live`` as a state's not being terminal."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE claims (state TEXT, live INTEGER)")
    db.executemany(
        "INSERT INTO claims VALUES (?, ?)", [(s.value, int(not s.terminal)) for s in ClaimState]
    )
    for alias, sql in [
        ("", "SELECT state FROM claims WHERE {}"),
        ("c.", "SELECT state FROM claims c WHERE {}"),
    ]:
        found = {ClaimState(r[0]) for r in db.execute(sql.format(holding_sql(alias)))}
        assert found == {s for s in ClaimState if holds_place(s)}
    assert ClaimState.APPROVED in found and ClaimState.CANCELLED not in found


@dataclass(frozen=True)
class Row:
    claim_id: UUID
    running_deadline: datetime | None
    updated_at: datetime


def rows() -> list[Row]:
    """Ties on every column, missing deadlines, ids that sort otherwise than they were made."""
    ids = [UUID(int=(n * 7919) % 64) for n in range(12)]
    return [
        Row(
            ids[n],
            None if n % 4 == 0 else T0 + timedelta(days=n % 3),
            T0 + timedelta(hours=n % 2, minutes=n % 5),
        )
        for n in range(12)
    ]


@pytest.mark.parametrize("order", [LIVE_ORDER, COMPLETED_ORDER])
def test_a_tab_order_sorts_in_python_as_its_sql_does(order: ClaimOrder) -> None:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE claims (claim_id TEXT, running_deadline TEXT, updated_at TEXT)")
    given = rows()
    db.executemany(
        "INSERT INTO claims VALUES (?, ?, ?)",
        [
            (str(r.claim_id), r.running_deadline and ts(r.running_deadline), ts(r.updated_at))
            for r in given
        ],
    )
    in_sql = [UUID(r[0]) for r in db.execute(f"SELECT claim_id FROM claims ORDER BY {order.sql()}")]
    assert [r.claim_id for r in order.sorted(given)] == in_sql
    assert in_sql != [r.claim_id for r in given]
