"""The Customers tabs kept: for each partner, engagement and known customer, the tab it shows
on (Eligible, Ineligible, or none beside its live claim), so that a page of 50 reads about 50
rows however many known customers the partner has.

Which tab a known customer shows on depends on the catalog (the engagement's id types, list
and claim limit; the directory its id resolves through, ``Catalog.tabs_digest``) and on the
claims (a live claim of the partner here; every partner's claims holding a place under the
limit, R10). The claims view keeps these rows in the same transaction as the claims
(``ClaimViews``), for the engagements whose recorded digest is its own catalog's. An
engagement whose digest is another catalog's, or missing, is not kept by the claims view: the
workers rebuild it whole at the claims view's position (``ViewRunner.settle``), and until then
its pages read the known customers as they did before there were kept tabs
(``ledger.projections.customers_page``), so that a catalog change shows at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from ledger.aggregates.claim import ClaimState
from ledger.domain.catalog import Catalog, Engagement
from ledger.domain.customer_ids import CustomerId, IdType
from ledger.domain.eligibility import Resolution, assess, holds_place, resolve
from ledger.domain.errors import LedgerError
from ledger.projections.store import Tx, ViewStore

ELIGIBLE, INELIGIBLE, CLAIMED = "eligible", "ineligible", "claimed"
"""A kept tab: the customer is claimable here, or is not (and why is decided when shown), or
the partner has a live claim on it here (shown as that claim, on neither list)."""
UPSERT = (
    "(partner_id, engagement_id, customer_type, customer_value) DO UPDATE SET "
    "subject_key = excluded.subject_key, tab = excluded.tab"
)
log = logging.getLogger("ledger.views")
RESORT_SECONDS = 60.0
"""An engagement's kept tabs are sorted anew at most this often by one runner."""
CHUNK = 500
"""Known customers sorted per query (bound parameters per IN list)."""
Known = tuple[str, str, str, str, str | None]
"""A known customer: partner, id type, id value, friendly name, its tenant's name."""
Row = tuple[str, str, str, str, str, str | None]
"""A customer to sort for an engagement: partner, engagement, id type, id value, names."""


def holding_sql(alias: str = "") -> str:
    """SQL over the claims view (columns prefixed with ``alias``): the claims that hold a
    place under the claim limit, as ``eligibility.holds_place`` decides: the live ones, and
    the ended ones in a state that keeps its place."""
    kept = [s for s in ClaimState if s.terminal and holds_place(s)]
    return "(" + " OR ".join([f"{alias}live = 1", *(f"{alias}state = '{s}'" for s in kept)]) + ")"


def kept_digest(tx: Tx, engagement_id: str) -> str | None:
    """The catalog digest the engagement's kept tabs were sorted by (None: not kept)."""
    found = tx.one(
        "SELECT digest FROM {p}customer_tab_catalog WHERE engagement_id = ?", [engagement_id]
    )
    return None if found is None else str(found["digest"])


def _recorded(tx: Tx) -> dict[str, str]:
    """Each kept engagement's catalog digest."""
    rows = tx.rows("SELECT engagement_id, digest FROM {p}customer_tab_catalog")
    return {r["engagement_id"]: r["digest"] for r in rows}


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


class KeptTabs:
    """The kept tabs, read and written in one transaction of the claims view."""

    def __init__(self, tx: Tx, catalog: Catalog) -> None:
        self.tx, self.catalog = tx, catalog

    def kept(self) -> dict[str, Engagement]:
        """The catalog's engagements whose tabs are kept by it. A digest another catalog
        recorded is dropped: this transaction does not keep that engagement's rows, so
        nobody may read them until they are rebuilt. A store that knows no customer yet
        records every engagement's digest (it has no rows, which any catalog sorts alike)."""
        tx = self.tx
        recorded = _recorded(tx)
        mine = {e.id: self.catalog.tabs_digest(e.id) for e in self.catalog.engagements}
        other = sorted(e for e, digest in recorded.items() if mine.get(e) != digest)
        if other:
            tx.execute(
                f"DELETE FROM {{p}}customer_tab_catalog WHERE engagement_id IN ({_marks(other)})",
                other,
            )
        missing = [e for e in mine if e not in recorded]
        if missing and tx.one("SELECT 1 AS found FROM {p}known_customers LIMIT 1") is None:
            tx.insert_rows("customer_tab_catalog", [(e, mine[e]) for e in missing])
            recorded |= {e: mine[e] for e in missing}
        return {e.id: e for e in self.catalog.engagements if recorded.get(e.id) == mine[e.id]}

    def follow(
        self,
        engagements: dict[str, Engagement],
        known: Sequence[Known],
        claims: Sequence[dict[str, Any]],
    ) -> None:
        """Keep the tabs of ``engagements`` (``kept``) after a page of the claims view: the
        customers it recognised (one row per engagement), and those whose tab its claims
        (their rows in the view) may have moved."""
        if not engagements:
            return
        rows: list[Row] = [(p, e, t, v, f, n) for p, t, v, f, n in known for e in engagements]
        changed = [c for c in claims if c["engagement_id"] in engagements]
        for engagement_id in sorted({c["engagement_id"] for c in changed}):
            mine = [c for c in changed if c["engagement_id"] == engagement_id]
            rows += self._moved(engagement_id, mine)
        self._write(engagements, rows)

    def _moved(self, engagement_id: str, claims: Sequence[dict[str, Any]]) -> list[Row]:
        """The rows of the engagement whose tab these claims of it may move: every
        partner's customers whose subject is a claim's eligibility key (R10's count), and
        each claim's own customer (its live claim)."""
        keys = sorted({c["eligibility_key"] for c in claims})
        found: list[dict[str, Any]] = []
        for chunk in _chunks(keys):
            found += self.tx.rows(
                "SELECT * FROM {p}customer_tabs WHERE engagement_id = ? "
                f"AND subject_key IN ({_marks(chunk)})",
                [engagement_id, *chunk],
            )
        owners = sorted({(c["partner_id"], c["customer_type"]) for c in claims})
        for partner_id, id_type in owners:
            values = sorted(
                {c["customer_value"] for c in claims if (c["partner_id"], c["customer_type"])
                 == (partner_id, id_type)}
            )  # fmt: skip
            for chunk in _chunks(values):
                found += self.tx.rows(
                    "SELECT * FROM {p}customer_tabs WHERE partner_id = ? AND engagement_id = ? "
                    f"AND customer_type = ? AND customer_value IN ({_marks(chunk)})",
                    [partner_id, engagement_id, id_type, *chunk],
                )
        return [_row(r) for r in found]

    def rebuild(self, engagement: Engagement) -> int:
        """Sort every known customer of every partner for the engagement anew and record
        this catalog's digest for it; the customers sorted (0: its digest was already
        this catalog's, another runner rebuilt it first)."""
        digest = self.catalog.tabs_digest(engagement.id)
        if kept_digest(self.tx, engagement.id) == digest:
            return 0
        self.tx.execute("DELETE FROM {p}customer_tabs WHERE engagement_id = ?", [engagement.id])
        after, sorted_ = ("", "", ""), 0
        while True:
            known = self.tx.rows(
                "SELECT partner_id, customer_type, customer_value, friendly_name, customer_name "
                "FROM {p}known_customers WHERE (partner_id, customer_type, customer_value) "
                "> (?, ?, ?) ORDER BY partner_id, customer_type, customer_value LIMIT ?",
                [*after, CHUNK],
            )
            rows = [(k["partner_id"], engagement.id, *_names(k)) for k in known]
            self._write({engagement.id: engagement}, rows)
            sorted_ += len(rows)
            if len(known) < CHUNK:
                break
            last = known[-1]
            after = (last["partner_id"], last["customer_type"], last["customer_value"])
        self.tx.execute(
            "DELETE FROM {p}customer_tab_catalog WHERE engagement_id = ?", [engagement.id]
        )
        self.tx.insert_rows("customer_tab_catalog", [(engagement.id, digest)])
        return sorted_

    def _write(self, engagements: dict[str, Engagement], rows: Sequence[Row]) -> None:
        """Sort ``rows`` (each once) and write each with its tab."""
        unique = sorted({r[:4]: r for r in rows}.values())
        for chunk in _chunks(unique):
            self.tx.insert_rows("customer_tabs", self._sorted(engagements, chunk), UPSERT)

    def _sorted(
        self, engagements: dict[str, Engagement], rows: Sequence[Row]
    ) -> list[tuple[Any, ...]]:
        """Each row with its subject's key (None: the directory refuses its id) and tab."""
        resolved = [self._resolved(r[2], r[3]) for r in rows]
        subjects = [None if r is None else r.subject.key for r in resolved]
        held = _Counts(self.tx, rows, subjects)
        written = []
        for row, resolution in zip(rows, resolved, strict=True):
            partner_id, engagement_id, id_type, value = row[:4]
            if held.live(partner_id, engagement_id, id_type, value):
                tab = CLAIMED
            elif resolution is None:
                tab = INELIGIBLE
            else:
                count = held.count(engagement_id, resolution.subject.key)
                eligible = assess(engagements[engagement_id], resolution, count).eligible
                tab = ELIGIBLE if eligible else INELIGIBLE
            written.append((*row, None if resolution is None else resolution.subject.key, tab))
        return written

    def _resolved(self, id_type: str, value: str) -> Resolution | None:
        """The id as the directory resolves it; None when it refuses it (R6)."""
        try:
            return resolve(self.catalog, _customer(id_type, value))
        except LedgerError:
            return None


class TabResorting:
    """The workers' side of the kept tabs: each engagement whose recorded digest is not
    this catalog's (the catalog changed, the engagement is new to it, the store was made
    before the tabs were kept) is sorted anew whole, one engagement a transaction, under the
    claims view's lock (as a page of it is applied: at its position). One runner does it at
    most once a minute an engagement: two processes on two catalogs (while a change rolls
    out) would otherwise take turns."""

    def __init__(self, store: ViewStore, catalog: Catalog) -> None:
        self.store, self.catalog = store, catalog
        self._sorted_at: dict[str, float] = {}

    def settle(self, generation: int, claims_view: str) -> int:
        """Sort anew what is due in ``generation``, whose claims view tracks its position
        as ``claims_view``; the customers sorted."""
        with self.store.transaction(generation) as tx:
            recorded = _recorded(tx)
        now, sorted_ = time.monotonic(), 0
        for engagement in self.catalog.engagements:
            if recorded.get(engagement.id) == self.catalog.tabs_digest(engagement.id):
                continue
            if now - self._sorted_at.get(engagement.id, -RESORT_SECONDS) < RESORT_SECONDS:
                continue
            self._sorted_at[engagement.id] = now
            started = time.perf_counter()
            with self.store.transaction(generation, commit=True) as tx:
                tx.position(claims_view)  # its lock: no page of it is applied meanwhile
                done = KeptTabs(tx, self.catalog).rebuild(engagement)
            sorted_ += done
            log.info(
                "the Customers tabs of %s were sorted anew for the catalog: %d known "
                "customers in %.1f s",
                engagement.id,
                done,
                time.perf_counter() - started,
            )
        return sorted_


class _Counts:
    """What the claims view says of some rows' customers: which have a live claim of their
    partner on the engagement, and how many claims hold a place under each subject's limit."""

    def __init__(self, tx: Tx, rows: Sequence[Row], subjects: Sequence[str | None]) -> None:
        self._live: set[tuple[str, str, str, str]] = set()
        self._held: dict[tuple[str, str], int] = {}
        owners = sorted({(r[0], r[1], r[2]) for r in rows})
        for partner_id, engagement_id, id_type in owners:
            values = sorted({r[3] for r in rows if r[:3] == (partner_id, engagement_id, id_type)})
            self._read_live(tx, (partner_id, engagement_id, id_type), values)
        for engagement_id in sorted({r[1] for r in rows}):
            keys = sorted(
                {s for r, s in zip(rows, subjects, strict=True) if s and r[1] == engagement_id}
            )
            self._read_held(tx, engagement_id, keys)

    def _read_live(self, tx: Tx, owner: tuple[str, str, str], values: Sequence[str]) -> None:
        """Which of ``values`` (ids of one type) the partner has a live claim on here."""
        partner_id, engagement_id, id_type = owner
        found = tx.rows(
            "SELECT customer_value FROM {p}claims WHERE partner_id = ? AND customer_type = ? "
            f"AND customer_value IN ({_marks(values)}) AND engagement_id = ? AND live = 1",
            [partner_id, id_type, *values, engagement_id],
        )
        self._live |= {(*owner, r["customer_value"]) for r in found}

    def _read_held(self, tx: Tx, engagement_id: str, keys: Sequence[str]) -> None:
        """How many claims of any partner hold a place under each subject's limit (R10)."""
        if not keys:
            return
        for row in tx.rows(
            "SELECT eligibility_key, COUNT(*) AS n FROM {p}claims WHERE engagement_id = ? "
            f"AND eligibility_key IN ({_marks(keys)}) AND {holding_sql()} "
            "GROUP BY eligibility_key",
            [engagement_id, *keys],
        ):
            self._held[(engagement_id, row["eligibility_key"])] = int(row["n"])

    def live(self, partner_id: str, engagement_id: str, id_type: str, value: str) -> bool:
        return (partner_id, engagement_id, id_type, value) in self._live

    def count(self, engagement_id: str, subject: str) -> int:
        return self._held.get((engagement_id, subject), 0)


def _customer(id_type: str, value: str) -> CustomerId:
    return CustomerId.model_construct(type=IdType(id_type), value=value)


def _names(row: dict[str, Any]) -> tuple[str, str, str, str | None]:
    return row["customer_type"], row["customer_value"], row["friendly_name"], row["customer_name"]


def _row(found: dict[str, Any]) -> Row:
    return (found["partner_id"], found["engagement_id"], *_names(found))
