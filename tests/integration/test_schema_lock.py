"""The schema lock: taken again inside itself by the same thread, waited for by others."""

from __future__ import annotations

import threading

from ledger.service.settings import Settings
from ledger.store.schema import schema_lock


def test_the_schema_lock_is_taken_again_inside_itself_and_other_threads_wait(
    postgres_url: str,
) -> None:
    env = Settings(database_url=postgres_url).eventsourcing_env()
    order: list[str] = []
    waiting = threading.Event()

    def other() -> None:
        waiting.set()
        with schema_lock(env):
            order.append("other")

    with schema_lock(env), schema_lock(env):  # as open_ledger, then the key ring inside it
        thread = threading.Thread(target=other)
        thread.start()
        waiting.wait(timeout=10)
        thread.join(timeout=0.3)
        assert thread.is_alive()  # it waits for the outermost hold to end
        order.append("first")
    thread.join(timeout=10)
    assert order == ["first", "other"]
