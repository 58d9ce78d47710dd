"""Read-your-writes without slowing anyone else: a client's read waits for its own writes.

A command answers from the write model and says the log position its save reached
(``Ledger-Position``). A later read waits until the views include the position it names
(``Ledger-Position`` header or ``?after=``) or, without one, the last position a write of the
same user reached in this process; meanwhile it applies the missing events itself. Reads of
users with nothing pending never wait.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from ledger.domain.errors import InvalidInputError
from ledger.projections.runner import ViewRunner

MAX_USERS = 10_000
"""Users whose last write position is remembered (the least recent are forgotten)."""


class Freshness:
    def __init__(self, views: ViewRunner) -> None:
        self.views = views
        self._lock = threading.Lock()
        self._written: OrderedDict[str, int] = OrderedDict()

    def wrote(self, user: str, position: int) -> None:
        """A write of ``user`` reached ``position``."""
        with self._lock:
            self._written[user] = max(position, self._written.get(user, 0))
            self._written.move_to_end(user)
            while len(self._written) > MAX_USERS:
                self._written.popitem(last=False)

    def read(self, user: str, after: int | None = None) -> None:
        """Before ``user`` reads the views: bring them up to ``after`` (refused if no write
        reached it) or to the user's own last write."""
        if after is not None and after > self.views.ledger.event_log.last_written():
            raise InvalidInputError("invalid-position", field="after", params={"position": after})
        with self._lock:
            own = self._written.get(user, 0)
        needed = max(after or 0, own)
        if not needed:
            return
        if self.views.position() < needed:
            self.views.catch_up(until=needed)
        if own and self.views.position() >= own:
            self._seen(user, own)

    def _seen(self, user: str, position: int) -> None:
        """The views show ``user``'s writes up to ``position``: its reads need not look at the
        views' position again until it writes anew (a read stays one dictionary lookup)."""
        with self._lock:
            if self._written.get(user) == position:
                del self._written[user]
