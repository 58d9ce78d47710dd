"""What one insert of a save costs on PostgreSQL, by the way it is sent: the floor under a
command's store path.

Run: ``.venv/bin/python -m bench.statement_floor [--statements N]``. On a durable throwaway
cluster, a table with the events table's columns, key and defaults gets ``N`` inserts of two
event rows each (one statement, autocommitted, prepared, returning each row's id and
transaction, as the ledger's save), sent four ways in turn (the order turns each round):
through a new psycopg cursor with dict rows (the library's way), a new cursor with tuple rows,
one cursor kept for the connection with tuple rows (``ledger.store.log.command_cursor``), and
libpq's own blocking call (``pgconn.exec_prepared``, no cursor at all). Each line prints this
process's CPU per statement (user and system, microseconds; the median of the rounds) and
the server's, and ``ratio_to_kept`` against the kept cursor of the same rounds.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.rows import dict_row, tuple_row

from bench import command_rate
from testkit.pgcluster import create_database, throwaway_cluster

TABLE = (
    "CREATE TABLE floor_events (originator_id uuid NOT NULL, originator_version bigint NOT NULL, "
    "topic text, state bytea, notification_id bigserial UNIQUE, "
    "tx_id xid8 NOT NULL DEFAULT pg_current_xact_id(), hash bytea, "
    "PRIMARY KEY (originator_id, originator_version))"
)
INSERT = (
    "INSERT INTO floor_events (originator_id, originator_version, topic, state, hash) "
    "VALUES (%s, %s, %s, %s, %s), (%s, %s, %s, %s, %s) "
    "RETURNING notification_id, tx_id::text::bigint AS tx"
)
TOPIC = "ledger.aggregates.claim:Claim.Created"
STATE, HASH = b"x" * 400, b"h" * 32


def senders(connection: psycopg.Connection[Any]) -> dict[str, Callable[[], object]]:
    """The four ways of sending the insert, each a call that sends one and reads its rows."""
    kept = connection.cursor(row_factory=tuple_row)
    numbered = INSERT
    for n in range(1, 11):
        numbered = numbered.replace("%s", f"${n}", 1)
    connection.pgconn.prepare(b"floor_insert", numbered.encode(), [2950, 20, 25, 17, 17] * 2)

    def params() -> tuple[Any, ...]:
        u = uuid.uuid4()
        return (u, 1, TOPIC, STATE, HASH, u, 2, TOPIC, STATE, HASH)

    def new_cursor(factory: Any) -> Callable[[], object]:
        def send() -> object:
            with connection.cursor(row_factory=factory) as cursor:
                cursor.execute(INSERT, params(), prepare=True)
                return cursor.fetchall()

        return send

    def kept_cursor() -> object:
        kept.execute(INSERT, params(), prepare=True)
        return kept.fetchall()

    def libpq() -> object:
        u, topic = uuid.uuid4().bytes, TOPIC.encode()
        values = [u, b"1", topic, STATE, HASH, u, b"2", topic, STATE, HASH]
        result = connection.pgconn.exec_prepared(b"floor_insert", values, [1, 0, 0, 1, 1] * 2)
        return [result.get_value(i, 0) for i in range(result.ntuples)]

    return {
        "new cursor, dict rows": new_cursor(dict_row),
        "new cursor, tuple rows": new_cursor(tuple_row),
        "kept cursor, tuple rows": kept_cursor,
        "libpq exec_prepared": libpq,
    }


def measure(send: Callable[[], object], statements: int) -> tuple[float, float, float]:
    """Microseconds per statement: this process's user and system CPU, and the server's."""
    before, server = resource.getrusage(resource.RUSAGE_SELF), command_rate.server_cpu()
    for _ in range(statements):
        send()
    after = resource.getrusage(resource.RUSAGE_SELF)
    return (
        1e6 * (after.ru_utime - before.ru_utime) / statements,
        1e6 * (after.ru_stime - before.ru_stime) / statements,
        1e6 * (command_rate.server_cpu() - server) / statements,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--statements", type=int, default=2000, help="per way and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with throwaway_cluster(durable=True) as server:
        command_rate._server_pid = command_rate.find_server(server)
        url = create_database(server)
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(TABLE)
            ways = senders(connection)
            for send in ways.values():  # warm: prepared statements, first-use costs
                measure(send, 100)
            figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in ways}
            names = list(ways)
            for r in range(args.rounds):
                for name in names[r % len(names) :] + names[: r % len(names)]:
                    figures[name].append(measure(ways[name], args.statements))
    report(figures)


def report(figures: dict[str, list[tuple[float, float, float]]]) -> None:
    kept = figures["kept cursor, tuple rows"]
    for name, rounds in figures.items():
        ratios = [(u + s) / (ku + ks) for (u, s, _), (ku, ks, _) in zip(rounds, kept, strict=True)]
        user, system, server = (statistics.median(f[i] for f in rounds) for i in range(3))
        print(
            f"bench statement_floor way={name.replace(' ', '_').replace(',', '')} "
            f"python_user_us={user:.0f} python_system_us={system:.0f} server_us={server:.0f} "
            f"ratio_to_kept={statistics.median(ratios):.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
