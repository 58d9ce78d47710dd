"""Verification rate against reading the raw rows, same run, PostgreSQL.

Run: ``.venv/bin/python -m bench.verify_rate [--events 200000]``. It starts a durable
throwaway PostgreSQL, writes claims whose lifecycles add up to the asked number of events
(through the aggregates, saved in batches: ``bench.replay_rate.populate``), analyses the table
(as autovacuum would), digests the log (as the workers keep it), then measures:

- raw read: every stored row of the events table (all its columns, the hash included), read
  in pages of 2,000 by notification id;
- verify: ``ledger.audit.tamper.verify``, which reads the log in follower order with the hashes,
  recomputes every aggregate's chain and the running log digest, and compares them with the
  stored hashes and digest rows.
"""

from __future__ import annotations

import argparse

from bench.replay_rate import filled_store, timed
from ledger.audit.tamper import LogDigests, verify
from ledger.service.application import Ledger
from ledger.store.log import ConcurrentPostgresRecorder
from testkit.pgcluster import throwaway_cluster

PAGE = 2000


def raw_read(ledger: Ledger, page_size: int = PAGE) -> int:
    """Every row of the events table, a page at a time (keyset on the notification id)."""
    recorder = ledger.recorder
    assert isinstance(recorder, ConcurrentPostgresRecorder)
    sql = (
        "SELECT notification_id, originator_id, originator_version, topic, state, hash "
        f"FROM {recorder.events_table_name} WHERE notification_id > %s "
        "ORDER BY notification_id LIMIT %s"
    )
    count, after = 0, 0
    with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
        while True:
            cursor.execute(sql, (after, page_size), prepare=True)
            rows = cursor.fetchall()
            if not rows:
                return count
            states = [bytes(row["state"]) for row in rows]
            count += len(states)
            after = rows[-1]["notification_id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    with throwaway_cluster(durable=True) as server:
        _, ledger, events = filled_store(server, "verify", args.events)
        try:
            # As autovacuum does after a bulk load: without statistics the planner reads the
            # followers' pages (tx_id order) by a bitmap scan and a sort of the whole rest.
            with ledger.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
                conn.execute(f"ANALYZE {ledger.recorder.events_table_name}")  # type: ignore[attr-defined]
            digests = LogDigests.of(ledger)
            _, digest_seconds = timed(lambda: digests.extend().at)
            print(f"digesting the log: {events / digest_seconds:,.0f} events/s", flush=True)

            raw, raw_seconds = timed(lambda: raw_read(ledger))
            result = verify(ledger)
            if not result.ok:
                raise SystemExit(f"the log does not verify: {result.findings[0]}")
            verify_rate, raw_rate = result.events / result.seconds, raw / raw_seconds
            print(f"raw read:  {raw:,} rows, {raw_rate:,.0f} rows/s")
            print(f"verify:    {result.events:,} events, {verify_rate:,.0f} events/s")
            print(
                f"bench verify_rate events={result.events} verify_per_s={verify_rate:.0f} "
                f"raw_read_per_s={raw_rate:.0f} ratio_raw={verify_rate / raw_rate:.2f}"
            )
        finally:
            ledger.close()


if __name__ == "__main__":
    main()
