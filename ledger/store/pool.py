"""The PostgreSQL connection pool hands out the idle connection returned last.

psycopg_pool keeps its idle connections first in, first out: a writer that runs one statement
at a time is handed each of the pool's connections in turn, so every statement runs in a
backend that has not run anything since the pool went round, its caches cold. Handed the
connection it just gave back, a writer keeps one warm backend; four writers keep four. The
server then spends about a fifth less CPU per command (``bench.cpu_ratio``; docs/scaling.md,
the fifth round). The pool's other behaviour (its size, its checks, its waiting callers, the
lifetime of a connection) is unchanged: only the end of the queue a connection is taken from
differs.
"""

from __future__ import annotations

from collections import deque
from typing import Any, TypeVar

from psycopg_pool import ConnectionPool

__all__ = ["MostRecentFirst", "reuse_warm_connections"]

T = TypeVar("T")


class MostRecentFirst(deque[T]):
    """A pool's idle connections, taken from the end they were returned to.

    psycopg_pool takes an idle connection with ``popleft`` and returns it with ``append``;
    here ``popleft`` takes the one appended last (``tests/integration/test_connection_pool.py``
    holds the pool to that). The pool also shrinks with ``popleft`` (a connection beyond its
    minimum, idle a while): it then closes the one returned last rather than the first, an
    idle connection either way."""

    def popleft(self) -> T:
        return self.pop()


def reuse_warm_connections(pool: ConnectionPool[Any]) -> None:
    """Make ``pool`` hand out its most recently returned idle connection first."""
    with pool._lock:  # the pool's own lock over its idle connections
        if not isinstance(pool._pool, MostRecentFirst):
            pool._pool = MostRecentFirst(pool._pool)
