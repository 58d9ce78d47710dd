"""`ledger serve` as processes on PostgreSQL with an SMTP server, at CI size (bench.chaos
runs the same at any size): kill -9 and restarts while clients retry with the same keys; two
servers on one database with different view page sizes; creates racing across them."""

from __future__ import annotations

import pytest

from testkit import chaos

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
MUST_BE_ZERO = (
    "lost",
    "doubled",
    "refused",
    "mismatched",
    "races_broken",
    "referrals_doubled",
    "unmailed",
    "view_differences",
    "chain_mismatches",
    "tracebacks",
)


def zeros(counts: dict[str, int]) -> dict[str, int]:
    return {name: counts[name] for name in MUST_BE_ZERO}


def test_kills_and_restarts_lose_nothing_and_double_nothing(postgres_server: str) -> None:
    counts = chaos.run(postgres_server, requests=300, clients=6, kills=5, progress=False)
    assert zeros(counts) == dict.fromkeys(MUST_BE_ZERO, 0), counts
    assert counts["kills"] == 5
    assert counts["connection_errors"] > 0  # the kills did interrupt requests
    assert counts["acknowledged"] >= 250 and counts["referrals"] > 0


def test_two_servers_on_one_database_apply_every_event_once(postgres_server: str) -> None:
    """Started at the same instant on a fresh database, with view pages of 7 and 50 events:
    the views equal a replay row for row, no traceback, one winner per race."""
    counts = chaos.run(
        postgres_server, requests=300, clients=6, kills=0, servers=2, rounds=5, racers=16,
        progress=False,
    )  # fmt: skip
    assert zeros(counts) == dict.fromkeys(MUST_BE_ZERO, 0), counts
