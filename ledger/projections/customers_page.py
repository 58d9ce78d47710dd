"""The Customers page of an engagement: the Eligible, Ineligible and Completed
tabs of one partner, from the claims view, the known customers and the current catalog.

The known customers of each tab are read from the kept tabs (``customer_tabs``) while they
follow this catalog, else assessed at query time from the live-or-approved counts of the claims
view and the current catalog, so that a catalog change shows without a replay. Either way each
customer shown is assessed against the catalog as it is shown (its reasons and hint).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Literal, TypeVar
from uuid import UUID

from ledger.aggregates.claim import Claim
from ledger.domain import access
from ledger.domain.catalog import Catalog, Engagement
from ledger.domain.customer_ids import CustomerId, IdType, key_sql
from ledger.domain.eligibility import Resolution, assess, is_own_subject, resolve
from ledger.domain.errors import LedgerError
from ledger.domain.principal import Principal
from ledger.projections.base import ts
from ledger.projections.claim_queries import ClaimRow, claim_at, location_clause
from ledger.projections.customer_tabs import ELIGIBLE, INELIGIBLE, holding_sql, kept_digest
from ledger.projections.pages import (
    after_cursor,
    after_of,
    bad_cursor,
    next_offset,
    offset_of,
    sql_page,
)
from ledger.projections.store import Tx, ViewStore
from ledger.words.refusals import Words

Tab = Literal["eligible", "ineligible", "completed"]
Names = tuple[str, str | None]
"""A known customer's friendly name (its first claim's) and its tenant's name, if recorded."""
R = TypeVar("R")


@dataclass(frozen=True)
class KnownCustomerEntry:
    """A customer known to the partner (R15), eligible for the engagement or not (R9, R10)."""

    friendly_name: str
    """The name the partner gave the first claim the customer consented on."""
    customer_id: CustomerId
    eligible: bool
    reasons: tuple[str, ...] = ()
    rule: str | None = None
    hint: Words | None = None
    """Why not, in words (``Eligibility.hint``)."""
    customer_name: str | None = None
    """The directory's name of the customer's tenant, as that claim recorded it (None: not
    recorded then, or no tenant owns the id: the customer id names the customer)."""


TabItem = ClaimRow | KnownCustomerEntry


@dataclass(frozen=True)
class CustomersTab:
    items: list[TabItem]
    next_cursor: str | None = None
    msx_only: bool = False
    """The engagement accepts only MSX opportunity ids: no customer is listed as ineligible."""


@dataclass(frozen=True)
class ClaimOrder:
    """An order of the claims, written once: as SQL over the claims view, and as a sort of
    the rows folded in Python (the tabs as of a time)."""

    columns: tuple[tuple[str, bool, bool], ...]
    """(a view column and ``ClaimRow`` field, descending, may be missing: then last)."""

    def sql(self) -> str:
        return ", ".join(
            column + (" DESC" if descending else "") + (" NULLS LAST" if nullable else "")
            for column, descending, nullable in self.columns
        )

    def sorted(self, rows: Iterable[R]) -> list[R]:
        """The rows in this order, each value compared as the view stores it."""
        ordered = list(rows)
        for column, descending, _ in reversed(self.columns):
            ordered.sort(key=partial(_stored, column, descending), reverse=descending)
        return ordered


def _stored(column: str, descending: bool, row: object) -> tuple[bool, str]:
    """A row's ``column`` as the view stores it, after a flag that sorts a missing one last."""
    value = getattr(row, column)
    text = "" if value is None else ts(value) if isinstance(value, datetime) else str(value)
    return (value is not None) is descending, text


LIVE_ORDER = ClaimOrder((("running_deadline", False, True), ("claim_id", False, False)))
"""The Eligible tab's live claims: the nearest deadline first, none last."""
COMPLETED_ORDER = ClaimOrder((("updated_at", True, False), ("claim_id", False, False)))
"""The Completed tab: the latest ended first."""
KNOWN_ORDER = ("friendly_name", "customer_type", "customer_value")
"""The known customers' order on the tabs, served by the ``known_customers_by_name`` index."""
MAX_CHUNK = 400
"""Known customers assessed per read while looking for a page (bound parameters per IN list)."""


class CustomersPage:
    """The tabs read a page's worth of rows, not every claim or known customer of the partner:
    live and completed claims are paged in SQL in their index's order; known customers are read
    in name order from their kept tab. While the engagement's kept tabs do not follow this
    catalog, they are read from the known customers in chunks and assessed until the page is
    full (then its cost grows with the known customers skipped on the way: those with a live
    claim here or on the other tab)."""

    def __init__(self, store: ViewStore, catalog: Catalog) -> None:
        self.store = store
        self.catalog = catalog

    def tab(
        self,
        principal: Principal,
        engagement_id: str,
        tab: Tab,
        cursor: str | None = None,
        limit: int = 50,
    ) -> CustomersTab:
        partner_id = principal.require_partner_role()
        engagement = access.engagement(self.catalog, engagement_id)
        where, params = location_clause(principal)
        scope = "partner_id = ? AND engagement_id = ?" + where
        args = [partner_id, engagement.id, *params]
        after = _after(tab, cursor)
        if _msx_only(engagement, tab):
            return CustomersTab([], None, msx_only=True)
        with self.store.transaction() as tx:
            if tab == "completed":
                page = sql_page(
                    tx,
                    f"SELECT * FROM {{p}}claims WHERE {scope} AND live = 0 AND had_consent = 1 "
                    f"ORDER BY {COMPLETED_ORDER.sql()}",
                    args,
                    cursor,
                    limit,
                )
                return CustomersTab([ClaimRow.of(r) for r in page.items], page.next_cursor)
            kept = kept_digest(tx, engagement.id) == self.catalog.tabs_digest(engagement.id)
            known = _Known(self, tx, partner_id, engagement, tab == "eligible", kept=kept)
            if tab == "eligible" and after is None:
                return self._live_then_known(tx, scope, args, known, offset_of(cursor), limit)
            return known.page_after(after or (), limit)

    def tab_as_of(
        self,
        principal: Principal,
        events_of: Callable[[UUID], Sequence[Claim.Event]],
        engagement_id: str,
        tab: Tab,
        moment: datetime,
        partner_id: str | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> CustomersTab:
        """The tab as it stood at ``moment``: the claims the view holds that were made by
        then, each folded from its events (``events_of``: the write model's) up to
        ``moment``; the known customers recognised by then, assessed by today's catalog and
        today's claim counts. Every such claim is read (auditors' reads are rare), then paged
        with the tab's cursors. An auditor names the partner; a partner role reads its own."""
        partner, every_location = access.partner_as_of(principal, partner_id)
        engagement = access.engagement(self.catalog, engagement_id)
        where = ("", []) if every_location else location_clause(principal)
        after = _after(tab, cursor)
        if _msx_only(engagement, tab):
            return CustomersTab([], None, msx_only=True)
        claims = self._claims_as_of(partner, engagement, where, events_of, moment)
        if tab == "completed":
            done = COMPLETED_ORDER.sorted(r for r in claims if r.state.terminal and r.had_consent)
            offset = offset_of(cursor)
            more = len(done) > offset + limit
            return CustomersTab(
                list(done[offset : offset + limit]), next_offset(offset, limit, more)
            )
        live = LIVE_ORDER.sorted(r for r in claims if not r.state.terminal)
        held = frozenset(r.customer_id.key for r in live)
        with self.store.transaction() as tx:
            as_of = (ts(moment), held)
            known = _Known(self, tx, partner, engagement, tab == "eligible", as_of)
            if tab == "eligible" and after is None:
                offset = offset_of(cursor)
                return claims_then_known(live[offset : offset + limit + 1], known, offset, limit)
            return known.page_after(after or (), limit)

    def _claims_as_of(
        self,
        partner: str,
        engagement: Engagement,
        where: tuple[str, list[Any]],
        events_of: Callable[[UUID], Sequence[Claim.Event]],
        moment: datetime,
    ) -> list[ClaimRow]:
        """The partner's claims on the engagement made by ``moment`` (in the locations
        ``where`` allows), each as it stood then."""
        with self.store.transaction() as tx:
            made = tx.rows(
                "SELECT claim_id FROM {p}claims WHERE partner_id = ? AND engagement_id = ?"
                f"{where[0]} AND created_at <= ? ORDER BY claim_id",
                [partner, engagement.id, *where[1], ts(moment)],
            )
        folded = (claim_at(events_of(UUID(r["claim_id"])), moment) for r in made)
        return [row for row in folded if row is not None]

    def _live_then_known(
        self, tx: Tx, scope: str, args: list[Any], known: _Known, offset: int, limit: int
    ) -> CustomersTab:
        """The Eligible tab: the live claims first (nearest deadline first, none last), then
        the claimable known customers; its cursor is an offset among the claims, then a key."""
        rows = tx.rows(
            f"SELECT * FROM {{p}}claims WHERE {scope} AND live = 1 "
            f"ORDER BY {LIVE_ORDER.sql()} LIMIT ? OFFSET ?",
            [*args, limit + 1, offset],
        )
        return claims_then_known([ClaimRow.of(r) for r in rows], known, offset, limit)


def _after(tab: Tab, cursor: str | None) -> tuple[str, ...] | None:
    """The known customer a cursor continues after (None: an offset cursor, or none); a
    bad cursor is refused on every tab."""
    after = after_of(cursor)
    if after is None or tab == "completed":
        offset_of(cursor)
    return after


def _msx_only(engagement: Engagement, tab: Tab) -> bool:
    """Whether the tab is the Ineligible one of an engagement that takes only MSX
    opportunity ids, which lists no customer."""
    return tab == "ineligible" and engagement.accepts_only_msx


def claims_then_known(
    found: list[ClaimRow], known: _Known, offset: int, limit: int
) -> CustomersTab:
    """The Eligible tab's page from ``found``, its live claims from ``offset`` on (up to
    ``limit + 1`` of them), then the claimable known customers."""
    claims: list[TabItem] = list(found[:limit])
    if len(found) > limit:
        return CustomersTab(claims, next_offset(offset, limit, True))
    room = limit - len(claims)
    customers = known.after((), room + 1)
    if len(customers) <= room:
        return CustomersTab(claims + list(customers), None)
    if room == 0:  # the claims filled the page exactly: the customers start on the next
        return CustomersTab(claims, after_cursor(()))
    return CustomersTab(claims + list(customers[:room]), _next(customers, room))


def _among(column: str, values: Iterable[str]) -> tuple[str, list[str]]:
    """SQL that ``column`` is one of ``values`` (false for none), and its parameters."""
    found = list(values)
    return (f"{column} IN ({', '.join('?' * len(found))})" if found else "1 = 0"), found


def _key(entry: KnownCustomerEntry) -> tuple[str, str, str]:
    return entry.friendly_name, entry.customer_id.type.value, entry.customer_id.value


def _next(found: list[KnownCustomerEntry], limit: int) -> str | None:
    """The cursor after a page of ``limit`` entries, when ``found`` holds one more."""
    return after_cursor(_key(found[limit - 1])) if len(found) > limit else None


class _Known:
    """The partner's known customers without a live claim on the engagement, eligible for it
    or not (one of the two, as asked), in name order."""

    def __init__(
        self,
        page: CustomersPage,
        tx: Tx,
        partner_id: str,
        engagement: Engagement,
        eligible: bool,
        as_of: tuple[str, frozenset[str]] | None = None,
        *,
        kept: bool = False,
    ) -> None:
        self.page, self.tx, self.partner_id = page, tx, partner_id
        self.engagement, self.eligible = engagement, eligible
        self.as_of = as_of
        """For a tab as of a time: the time (as the views write times), and the keys of the
        customers with a live claim here then; None for the tab as it is now."""
        self.kept = kept
        """Whether the engagement's kept tabs follow this catalog: then the tab's customers
        are read from them (about a page's worth of rows), else every known customer is."""

    def page_after(self, key: tuple[str, ...], limit: int) -> CustomersTab:
        """A tab's page of them after ``key``, with the cursor to the next."""
        found = self.after(key, limit + 1)
        return CustomersTab(list(found[:limit]), _next(found, limit))

    def after(self, key: tuple[str, ...], count: int) -> list[KnownCustomerEntry]:
        """Up to ``count`` of them after ``key`` (from the first with ``()``)."""
        if key and len(key) != len(KNOWN_ORDER):
            raise bad_cursor()
        found: list[KnownCustomerEntry] = []
        table, where, args = self._source()
        # A kept tab's rows are all shown: read just as many; else some more, to skip some
        chunk = min(count if table == "customer_tabs" else max(count, 10), MAX_CHUNK)
        order = ", ".join(f"k.{column}" for column in KNOWN_ORDER)
        while len(found) < count:
            later = f" AND ({order}) > (?, ?, ?)" if key else ""
            rows = self.tx.rows(
                f"SELECT k.* FROM {{p}}{table} k WHERE k.partner_id = ?{later}{where} "
                f"ORDER BY {order} LIMIT ?",
                [self.partner_id, *key, *args, chunk],
            )
            found += [e for e in self._assessed(rows) if self._shown(e)]
            if len(rows) < chunk:
                break
            key = tuple(rows[-1][column] for column in KNOWN_ORDER)
            chunk = min(chunk * 2, MAX_CHUNK)
        return found[:count]

    def _shown(self, entry: KnownCustomerEntry) -> bool:
        if entry.eligible is not self.eligible:
            return False
        return self.as_of is None or entry.customer_id.key not in self.as_of[1]

    def _source(self) -> tuple[str, str, list[Any]]:
        """Where the customers are read from: the kept tab (each customer read is on it:
        one assessed as a check, since the tabs are kept with the claims it counts), or
        the known customers, as much ruled out in SQL as can be (``_prefilter``)."""
        if self.kept and self.as_of is None:
            tab = ELIGIBLE if self.eligible else INELIGIBLE
            return (
                "customer_tabs",
                " AND k.engagement_id = ? AND k.tab = ?",
                [self.engagement.id, tab],
            )
        return "known_customers", *self._prefilter()

    def _prefilter(self) -> tuple[str, list[Any]]:
        """What SQL can rule out before the catalog is asked: a live claim here (the customer
        shows as its claim), and for the Eligible tab an id type the engagement does not take
        or, for an id that is its own subject (R7: all but domains), the claim limit reached.
        As of a time: a customer recognised later (the live claims then are ``_shown``'s)."""
        engagement = self.engagement
        where = (
            " AND NOT EXISTS (SELECT 1 FROM {p}claims c WHERE c.partner_id = k.partner_id "
            "AND c.customer_type = k.customer_type AND c.customer_value = k.customer_value "
            "AND c.engagement_id = ? AND c.live = 1)"
        )
        args: list[Any] = [engagement.id]
        if self.as_of is not None:
            where, args = " AND k.recognised_at <= ?", [self.as_of[0]]
        if self.eligible:
            allowed, allowed_args = _among("k.customer_type", engagement.allowed_id_types)
            others, others_args = _among(
                "k.customer_type", [t for t in IdType if not is_own_subject(t)]
            )
            where += (
                f" AND {allowed} AND ({others} OR (SELECT COUNT(*) FROM {{p}}claims c "
                "WHERE c.engagement_id = ? "
                f"AND c.eligibility_key = {key_sql('k.customer_type', 'k.customer_value')} "
                f"AND {holding_sql('c.')}) < ?)"
            )
            args += [*allowed_args, *others_args, engagement.id]
            args.append(engagement.customer_claim_limit)  # below it: not limit_reached (R10)
        return where, args

    def _assessed(self, rows: list[dict[str, Any]]) -> list[KnownCustomerEntry]:
        if not rows:
            return []
        engagement = self.engagement
        resolved: list[tuple[Names, CustomerId, Resolution | LedgerError]] = []
        for row in rows:
            customer_id = CustomerId.model_construct(
                type=IdType(row["customer_type"]), value=row["customer_value"]
            )
            try:
                outcome: Resolution | LedgerError = resolve(self.page.catalog, customer_id)
            except LedgerError as refusal:
                outcome = refusal
            names = (row["friendly_name"], row["customer_name"])
            resolved.append((names, customer_id, outcome))
        keys = sorted({r.subject.key for *_, r in resolved if isinstance(r, Resolution)})
        held: dict[str, int] = {}
        if keys:
            marks = ", ".join("?" * len(keys))
            held = {
                r["eligibility_key"]: int(r["n"])
                for r in self.tx.rows(
                    "SELECT eligibility_key, COUNT(*) AS n FROM {p}claims "
                    f"WHERE engagement_id = ? AND eligibility_key IN ({marks}) "
                    f"AND {holding_sql()} GROUP BY eligibility_key",
                    [engagement.id, *keys],
                )
            }
        return [_entry(engagement, *r, held) for r in resolved]


def _entry(
    engagement: Engagement,
    names: Names,
    customer_id: CustomerId,
    outcome: Resolution | LedgerError,
    held: dict[str, int],
) -> KnownCustomerEntry:
    """A known customer assessed for the engagement (R9, R10), or refused by the directory."""
    name, customer_name = names
    if isinstance(outcome, LedgerError):
        return KnownCustomerEntry(
            name, customer_id, False, (outcome.slug,), outcome.rule, customer_name=customer_name
        )
    verdict = assess(engagement, outcome, held.get(outcome.subject.key, 0))
    return KnownCustomerEntry(
        name,
        customer_id,
        verdict.eligible,
        verdict.reasons,
        verdict.rule,
        verdict.hint,
        customer_name,
    )
