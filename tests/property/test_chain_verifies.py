"""Whatever commands run (and the policies with them), the untouched log verifies, the stored
log digest is the one recomputed from the events, and every digest taken on the way still
proves the log up to where it was taken."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.audit.tamper import Digest, LogDigests, verify
from ledger.runtime.bootstrap import bootstrap
from ledger.service.application import open_ledger
from ledger.service.settings import Settings
from tests.factories import days, make_catalog
from tests.property.commands import Tally, create_op, operation

with_digests = st.one_of(operation, st.just(("digest",)), st.just(("workers",)))
operations = st.tuples(create_op, st.lists(with_digests, max_size=34)).map(
    lambda first_and_rest: [first_and_rest[0], *first_and_rest[1]]
)
"""Up to 35 operations, the first a create: the log is never empty."""


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_the_untouched_log_always_verifies(ops: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = Settings(database_url=f"sqlite:///{folder}/ledger.sqlite3")
        ledger = open_ledger(config, make_catalog())
        services = bootstrap(config, ledger=ledger)
        claims: list[tuple[UUID, Any]] = []
        links: dict[UUID, UUID] = {}
        taken: list[Digest] = []
        now = days(0)
        tally = Tally(ledger)
        try:
            for op in ops:
                now += timedelta(hours=1)
                if op[0] == "wait":
                    now += timedelta(days=op[1])
                if op[0] == "digest":
                    taken.append(LogDigests.of(ledger).extend())
                elif op[0] in {"workers", "policies"}:
                    services.workers.run_once(deadlines=False)
                else:
                    tally.play(op, claims, links, now)
            tally.done(claims)
            services.workers.policies.catch_up()  # the policies' own events are chained too
            result = verify(ledger, extend=False)
            assert result.ok, [str(f) for f in result.findings]
            assert result.events == ledger.event_log.behind(0) >= tally.succeeded > 0
            stored = LogDigests.of(ledger).extend()
            assert stored == result.digest
            for digest in taken:  # each taken after the first create: none of an empty log
                assert digest.at > 0, digest
                proved = verify(ledger, at=digest.at, expected=digest.digest, extend=False)
                assert proved.ok and proved.proof is not None and proved.proof.holds
        finally:
            services.close()
