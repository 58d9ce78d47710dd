"""Read-your-writes without slowing anyone else: a client's read waits for its own writes.

A command answers from the write model and says the log position its save reached
(``Ledger-Position``). A later read waits until the views include the position it names
(``Ledger-Position`` header or ``?after=``) or, without one, the last position a write of the
same user reached in this process; meanwhile it applies the missing events itself. Reads of
users with nothing pending never wait.

With a read replica (``ledger.runtime.replica``), a read answers from the replica's views once
they show that position (waiting a bounded time for them), and otherwise from the primary's as
above: ``read`` says which read models answer.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from ledger.domain.errors import InvalidInputError
from ledger.projections.runner import ViewRunner
from ledger.runtime.replica import Replica

if TYPE_CHECKING:
    from ledger.runtime.bootstrap import ReadModels

MAX_USERS = 10_000
"""Users whose last write position is remembered (the least recent are forgotten)."""


class Freshness:
    def __init__(
        self,
        views: ViewRunner,
        primary: ReadModels,
        replica: tuple[Replica, ReadModels] | None = None,
    ) -> None:
        self.views = views
        self.primary = primary
        """The read models over the primary's views."""
        self.replica = replica
        """The replica and the read models over its views (None: no replica)."""
        self._lock = threading.Lock()
        self._written: OrderedDict[str, int] = OrderedDict()

    def wrote(self, user: str, position: int) -> None:
        """A write of ``user`` reached ``position``."""
        with self._lock:
            self._written[user] = max(position, self._written.get(user, 0))
            self._written.move_to_end(user)
            while len(self._written) > MAX_USERS:
                self._written.popitem(last=False)

    def read(self, user: str, after: int | None = None) -> ReadModels:
        """The read models ``user`` reads, once they show ``after`` (refused if no write
        reached it) and the user's own last write: the replica's if it shows them in time,
        else the primary's, brought up to them."""
        if after is not None and after > self.views.ledger.event_log.last_written():
            raise InvalidInputError("invalid-position", field="after", params={"position": after})
        with self._lock:
            own = self._written.get(user, 0)
        needed = max(after or 0, own)
        if self.replica is not None and self.replica[0].serves(needed, lambda: self._up_to(needed)):
            if own:
                self._seen(user, own)
            return self.replica[1]
        if not needed:
            return self.primary
        self._up_to(needed)
        if own and self.views.position() >= own:
            self._seen(user, own)
        return self.primary

    def _up_to(self, needed: int) -> None:
        """The primary's views include ``needed``: this read applies what the workers have
        not yet."""
        if self.views.position() < needed:
            self.views.catch_up(until=needed)

    def _seen(self, user: str, position: int) -> None:
        """The views show ``user``'s writes up to ``position``: its reads need not look at the
        views' position again until it writes anew (a read stays one dictionary lookup)."""
        with self._lock:
            if self._written.get(user) == position:
                del self._written[user]
