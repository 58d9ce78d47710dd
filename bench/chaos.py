"""An operator's bad day: `ledger serve` on PostgreSQL, killed and restarted while clients work.

Run: ``.venv/bin/python -m bench.chaos [--requests 3000] [--clients 6] [--kills 20]
[--servers 1] [--rounds 20] [--racers 16]``.

It starts a throwaway PostgreSQL cluster and an SMTP server, then ``--servers`` ``ledger
serve`` processes at the same instant on one fresh database (each with its own view page
size). ``--clients`` threads play whole claim flows (create, consent request, the customer's
answer through the link in the e-mail, submission, review start, approval), each POST with an
Idempotency-Key, retried with the same key on connection errors; some answered requests are
asked again. Meanwhile ``--kills`` times a random server gets SIGKILL and is restarted (the
clients make at least ``--requests`` requests, and go on until the last kill). Then
``--rounds`` rounds of ``--racers`` creates for one customer race across the servers (one
may win). Last, the checks, printed as counts that must all be 0:

- lost: an acknowledged command whose event is not in the store;
- doubled: a customer with two claims, an event a flow makes once found twice;
- refused: an answer other than 2xx to a flow's request (a retry refused for work done, a
  key still in use), or any 5xx;
- mismatched: a request asked again answered otherwise than the first time;
- races_broken: a race round without exactly one winner, or a loser without problem+json;
- referrals_doubled: a claim with two referrals;
- unmailed: a consent link never delivered to the SMTP server;
- view_differences: rows of the views that differ from a replay of the log;
- chain_mismatches: what ``ledger verify`` finds (the hash chains and the log digest kept by
  the workers while they were killed);
- tracebacks: tracebacks in the servers' logs.
"""

from __future__ import annotations

import argparse

from testkit.chaos import run
from testkit.pgcluster import throwaway_cluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=0)
    parser.add_argument("--racers", type=int, default=16)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with throwaway_cluster(durable=True) as server_url:
        counts = run(
            server_url,
            requests=args.requests,
            clients=args.clients,
            kills=args.kills,
            servers=args.servers,
            rounds=args.rounds,
            racers=args.racers,
            seed=args.seed,
        )
    print("bench chaos " + " ".join(f"{k}={v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
